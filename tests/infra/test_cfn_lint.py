"""cfn-lint on every synthesized template: no errors and no warnings (informational findings aside)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cfnlint.api import lint_file

pytestmark = pytest.mark.xdist_group("infra")


def findings(template: Path) -> list[str]:
    return [
        f"{match.rule.id} {template.name}:{match.linenumber}: {match.message}"
        for match in lint_file(template)
        if not match.rule.id.startswith("I")
    ]


def test_templates_have_no_cfn_lint_errors_or_warnings(synthesized) -> None:
    templates = sorted(Path(synthesized.outdir).glob("*.template.json"))
    assert templates, f"no template in {synthesized.outdir}"
    found = [finding for template in templates for finding in findings(template)]
    assert not found, "cfn-lint:\n  " + "\n  ".join(found)


def test_cfn_lint_reports_a_broken_template(tmp_path: Path) -> None:
    """The check above can fail: an unknown property is an error, a redundant DependsOn a warning."""
    template = tmp_path / "Broken.template.json"
    template.write_text("""{"Resources": {
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"NoSuchProperty": 1}},
        "Policy": {"Type": "AWS::SQS::QueuePolicy", "DependsOn": ["Queue"], "Properties": {
            "Queues": [{"Ref": "Queue"}], "PolicyDocument": {"Version": "2012-10-17", "Statement": []}}}}}""")
    assert {finding[0] for finding in findings(template)} == {"E", "W"}
