"""`make lint` (mypy) catches a misspelt boto3 operation or parameter: `common.aws.client()` returns
typed clients (types-boto3 stubs, dev only) through typing overloads.

The probe below is checked by mypy as `make lint` checks the product; it must report each mistake.
"""

from __future__ import annotations

from pathlib import Path

from mypy import api

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
from common.aws import client

reveal_type(client("iam"))
client("iam").update_access_key(UserName="u", AccessKeyID="AKIA", Status="Inactive")
client("ec2", "eu-west-1").describe_instance(InstanceIds=["i-1"])
client("iam").update_access_key(UserName="u", AccessKeyId="AKIA", Status="Inactive")
"""


def test_mypy_reports_a_misspelt_parameter_and_operation(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    out, err, status = api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--no-incremental",
            str(probe),
        ]
    )
    assert status == 1, out + err
    assert 'Revealed type is "types_boto3_iam.client.IAMClient"' in out, out
    assert 'Unexpected keyword argument "AccessKeyID" for "update_access_key"' in out, out
    assert '"EC2Client" has no attribute "describe_instance"' in out, out
    assert "probe.py:7" not in out, out  # the correct call passes
