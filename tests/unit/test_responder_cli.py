"""`python -m responder` and `make check|try|release` as an operator meets them, with no AWS set up:
each error says what is wrong and how to fix it, in one message without a traceback, and exits
with the documented code (responder/__main__.py's docstring).

The subprocesses run offline: every AWS_* variable removed, the config and credentials files
empty, the instance metadata service off, HOME a temporary directory (no SSO cache).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

import responder.__main__ as cli
from responder.release import Reversal

ROOT = Path(__file__).resolve().parents[2]
EVENT = "tests/events/health_exposed_key_classic.json"
REGION = "eu-west-1"
INCIDENT = "123456789012:guardduty:60c5c8a1e3b34f0e9d2a7b6c5d4e3f21"
HOW_TO_SET = ("AWS_PROFILE", "aws configure", "aws sso login", "AWS_ACCESS_KEY_ID", "aws sts get-caller-identity")


@pytest.fixture
def offline(tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    for name in ("config", "credentials"):
        (tmp_path / name).write_text("")
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        HOME=str(tmp_path),
    )
    for key in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(key, None)
    return env


def responder(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "responder", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


# This virtualenv taken as it is (the Makefile's SETUP=): the tests run in it, so it is set up, and
# make never reinstalls into it, nor runs a stand-in PY for that.
MAKE_SETTINGS = [f"VENV={sys.prefix}", "SETUP="]


def make(env: dict[str, str], target: str, args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    """`make TARGET ARGS="..."` as the README writes it, in this virtualenv."""
    command = ["make", "--no-print-directory", target, f"ARGS={args}", *MAKE_SETTINGS]
    command += [f"{key}={value}" for key, value in variables.items()]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--region", REGION, "--no-probe"],
        ["try", EVENT, "--region", REGION],
        ["release", INCIDENT, "--region", REGION],
    ],
)
def test_without_credentials_each_command_says_how_to_set_them(offline: dict[str, str], args: list[str]) -> None:
    result = responder(offline, *args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("no AWS credentials found"), result.stderr
    for hint in HOW_TO_SET:
        assert hint in result.stderr, hint
    assert "Traceback" not in result.stderr and not result.stdout


def test_a_profile_that_does_not_exist_is_named_with_how_to_create_it(offline: dict[str, str]) -> None:
    result = responder({**offline, "AWS_PROFILE": "incident-response"}, "check", "--region", REGION)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "no AWS profile 'incident-response' (AWS_PROFILE names it): `aws configure list-profiles` lists yours; "
        "`aws configure --profile incident-response` or `aws configure sso --profile incident-response` creates it"
    ]


def test_half_a_key_in_the_environment_says_which_half_is_missing(offline: dict[str, str]) -> None:
    result = responder({**offline, "AWS_ACCESS_KEY_ID": "AKIAEXAMPLEEXAMPLE12"}, "check", "--region", REGION)
    assert result.returncode == 2
    assert result.stderr.startswith("incomplete AWS credentials (Partial credentials found in env, missing: ")
    assert "AWS_SECRET_ACCESS_KEY" in result.stderr.splitlines()[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [["check"], ["try", EVENT], ["release", INCIDENT]])
def test_without_a_region_each_command_says_how_to_give_one(offline: dict[str, str], args: list[str]) -> None:
    result = responder(offline, *args)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [cli.NO_REGION]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "no such file (give an event file's path, e.g. tests/events/health_exposed_key_classic.json)"),
        ("directory", "a directory, not an event file (give one .json file, e.g. "),
        ("", "empty; an event file holds one JSON object (an EventBridge event)"),
        ("source: aws.health\n", "not JSON (Expecting value at line 1, column 1)"),
        ('{"source": "aws.health",}', "not JSON (Expecting property name enclosed in double quotes at line 1, column"),
        ("[1, 2]", "not an EventBridge event (a JSON object)"),
        ('{"hello": "world"}', "not an EventBridge event (needs source, detail-type and detail)"),
    ],
)
def test_try_with_a_bad_file_says_in_one_line_what_is_wrong_with_it(
    offline: dict[str, str], tmp_path: Path, content: str | None, problem: str
) -> None:
    path = tmp_path / "event.json"
    if content == "directory":
        path.mkdir()
    elif content is not None:
        path.write_text(content)
    # Checked before the region and the credentials: neither is set here.
    result = responder(offline, "try", str(path))
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"{path}: {problem}"), line
    assert not result.stdout


def test_release_refuses_a_placeholder_for_an_incident_id(offline: dict[str, str]) -> None:
    result = responder(offline, "release", "123456789012:guardduty:<finding id>", "--region", REGION)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "not an incident id: '123456789012:guardduty:<finding id>'; give the report's Incident id, "
        "ACCOUNT:guardduty:FINDING_ID or ACCOUNT:health:EVENT_ID"
    ]


# --- through make: make exits 2 for any failure; its last line carries the command's own code ---------


def test_make_try_with_a_bad_file_prints_the_one_line_and_exits_2(offline: dict[str, str]) -> None:
    result = make(offline, "try", "tests/events/no_such_event.json --region eu-west-1")
    assert result.returncode == 2
    message, make_line = result.stderr.splitlines()
    assert message == (
        "tests/events/no_such_event.json: no such file (give an event file's path, e.g. "
        "tests/events/health_exposed_key_classic.json)"
    )
    assert re.fullmatch(r"make: \*\*\* \[Makefile:\d+: try\] Error 2", make_line), make_line
    assert not result.stdout


def test_make_check_without_credentials_says_how_to_set_them(offline: dict[str, str]) -> None:
    result = make(offline, "check", f"--region {REGION}")
    assert result.returncode == 2
    assert result.stderr.startswith("no AWS credentials found")
    assert all(hint in result.stderr for hint in HOW_TO_SET)
    assert re.search(r"^make: \*\*\* \[Makefile:\d+: check\] Error 2$", result.stderr, re.MULTILINE)


@pytest.mark.parametrize("target", ["check", "try", "release"])
def test_make_names_the_commands_own_exit_code_in_its_last_line(offline: dict[str, str], target: str) -> None:
    """make's own exit status is 2 for any failed recipe (GNU make: 0, 1 only with -q, 2); the
    command's code (1: a check failed, the execution failed, a reversal failed) is in make's line.
    A stand-in interpreter exits 1 as the command would, without AWS."""
    stand_in = f"{sys.executable} -c 'raise SystemExit(1)'"
    result = make(offline, target, "x", PY=stand_in)
    assert result.returncode == 2
    assert re.search(rf"^make: \*\*\* \[Makefile:\d+: {target}\] Error 1$", result.stderr, re.MULTILINE), result.stderr


# --- errors AWS answers (in process, the clients stubbed) -------------------------------------------


def test_expired_credentials_say_to_get_fresh_ones(monkeypatch, capsys) -> None:
    def expired(*args: Any, **kwargs: Any) -> Any:
        error = {"Code": "ExpiredToken", "Message": "The security token included in the request is expired"}
        raise ClientError({"Error": error}, "DescribeStacks")

    monkeypatch.setattr(cli.deployment, "run_checks", expired)
    assert cli.main(["check", "--region", REGION]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "AWS refused your credentials (ExpiredToken: The security token included in the request is expired)"
    )
    assert all(hint in err for hint in HOW_TO_SET)


def test_a_stack_that_is_not_there_names_region_and_stack(monkeypatch, capsys) -> None:
    def missing(*args: Any, **kwargs: Any) -> Any:
        error = {"Code": "ValidationError", "Message": "Stack with id CredentialResponder does not exist"}
        raise ClientError({"Error": error}, "DescribeStacks")

    monkeypatch.setattr(cli.deployment, "run_checks", missing)
    assert cli.main(["check", "--region", "ap-south-1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("no stack CredentialResponder in ap-south-1")
    assert "--region" in err and "--stack" in err


def test_release_without_a_terminal_stops_before_the_first_reversal(monkeypatch, capsys) -> None:
    made = []
    reversal = Reversal("deactivate-access-key", "AKIA", "re-activate access key AKIA", lambda: made.append(1) or "")
    monkeypatch.setattr(cli, "stack_outputs", lambda cloudformation, stack: {"IncidentTableName": "incidents"})
    monkeypatch.setattr(cli, "resolve", lambda dynamodb, table, incident: (incident, {"region": REGION, "steps": []}))
    monkeypatch.setattr(cli, "plan", lambda steps, **clients: ([reversal], []))

    def closed(prompt: str) -> str:
        raise EOFError

    assert cli.main(["release", INCIDENT, "--region", REGION], ask=closed) == 2
    assert not made
    assert "pass --yes" in capsys.readouterr().err


def documented_make_commands() -> list[str]:
    """Every `make check|try|release ...` of README.md and docs/*.md, as written there."""
    found = set()
    for doc in (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))):
        for match in re.finditer(r"make (?:check|try|release)(?: ARGS=(?:\"[^\"]*\"|'[^']*'))?", doc.read_text()):
            found.add(match.group(0))
    return sorted(found)


@pytest.mark.parametrize("command", documented_make_commands())
def test_each_documented_make_command_is_a_shell_command_when_copied(offline: dict[str, str], command: str) -> None:
    """As pasted into a shell, and as make then hands the recipe to bash (a `<placeholder>` in ARGS
    is a redirection there, and a syntax error)."""
    argv = shlex.split(command)
    recipe = subprocess.run(
        [*argv, "--no-print-directory", "-n", *MAKE_SETTINGS], cwd=ROOT, env=offline, capture_output=True, text=True
    )
    assert recipe.returncode == 0, recipe.stderr
    (line,) = [line for line in recipe.stdout.splitlines() if " -m responder " in line]
    parsed = subprocess.run(["bash", "-n", "-c", line], capture_output=True, text=True)
    assert parsed.returncode == 0, f"{command}: make runs `{line}`: {parsed.stderr}"


@pytest.mark.parametrize("command", ["check", "try", "release"])
def test_each_commands_help_states_its_exit_codes(command: str, capsys) -> None:
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert re.search(r"Exit code 0: .+; 1: .+; 2: .+", text), text
