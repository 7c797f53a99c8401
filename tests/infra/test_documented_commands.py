"""The docs' commands, run as written: a README command that fails is a failing test.

- Every `make deploy ARGS=...` line of README.md and docs/*.md is run as `make synth`
  with the same ARGS, exactly as written (the e-mails, the Slack secret, the regions), through the
  Makefile and the pinned CDK CLI (`npm ci` on first use), so cdk-nag runs as at deploy; cfn-lint
  then reads every template it wrote.
- Every line of a code block marked `offline` (```` ```sh offline ````) is run as written, from
  the repository root; a line with `--json` must print only JSON.
- The fault drills and the burst (`make drill ARGS="--fault all"`, `--burst 100`) are not run here:
  tests/e2e runs each fault scenario and the burst.

When the tests run in a virtualenv other than the checkout's own `.venv` (a developer's shared
one, or a `.venv` symlink to it), make is told to use it as it is (`VENV=... SETUP=`, see the
Makefile); on a clean clone `make test` has made `.venv` and the commands run unchanged.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.infra.test_cfn_lint import findings

pytestmark = pytest.mark.xdist_group("synth")

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\S*)(.*)$")


def code_blocks(path: Path) -> list[tuple[str, list[str]]]:
    """(info string, command lines) of each fenced block; continuation lines joined."""
    blocks, info, lines = [], None, []
    for line in path.read_text().splitlines():
        fence = FENCE.match(line.strip())
        if fence and info is None:
            info, lines = (fence.group(1) + fence.group(2)).strip(), []
        elif line.strip() == "```" and info is not None:
            blocks.append((info, _commands(lines)))
            info = None
        elif info is not None:
            lines.append(line)
    return blocks


def _commands(lines: list[str]) -> list[str]:
    commands = []
    for line in "\n".join(lines).replace("\\\n", " ").splitlines():
        text = line.strip()
        if text and not text.startswith("#"):
            commands.append(re.sub(r"\s+#\s.*$", "", text))  # a trailing "# comment"
    return commands


def deploy_commands() -> list[tuple[str, str]]:
    return [
        (path.name, command)
        for path in DOCS
        for _, commands in code_blocks(path)
        for command in commands
        if command.startswith("make deploy ARGS=")
    ]


def offline_commands() -> list[tuple[str, str]]:
    return [
        (path.name, command)
        for path in DOCS
        for info, commands in code_blocks(path)
        if "offline" in info.split()
        for command in commands
    ]


def own_venv() -> bool:
    """Whether the suite runs in this checkout's own `.venv` (made by `make setup`, as on CI)."""
    venv = ROOT / ".venv"
    return not venv.is_symlink() and Path(sys.prefix).resolve() == venv.resolve()


def environment() -> dict[str, str]:
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    for key in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(key, None)
    if not own_venv():
        env.update({"VENV": sys.prefix, "SETUP": ""})
    # `.venv/bin/python` as the docs write it, when the suite's virtualenv lives elsewhere.
    env["PATH"] = f"{Path(sys.prefix) / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def run(command: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    if not own_venv():
        command = command.replace(".venv/bin/python", f"{sys.prefix}/bin/python")
    return subprocess.run(
        ["bash", "-c", command], cwd=ROOT, env=environment(), capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module", autouse=True)
def pinned_cdk_cli() -> None:
    """The CLI the documented commands run, installed once before them (a fresh clone has none):
    a registry hiccup during that one install must not read as a broken README command."""
    for _ in range(3):
        result = run("make node_modules/.stamp", timeout=600)
        if result.returncode == 0:
            return
        time.sleep(5)
    pytest.fail(f"could not install the pinned CDK CLI (npm ci):\n{result.stderr[-3000:]}")


def test_the_docs_have_the_commands_this_module_runs() -> None:
    deploys = deploy_commands()
    readme = [command for name, command in deploys if name == "README.md"]
    assert readme and "notificationEmails" in readme[0] and "slackWebhookSecretName" in readme[0], readme
    assert len(deploys) >= 3
    assert any("--json" in command for _, command in offline_commands())


@pytest.mark.parametrize(("doc", "command"), deploy_commands())
def test_every_documented_deploy_configuration_synthesizes_clean(doc: str, command: str, tmp_path: Path) -> None:
    # Into a directory of its own (OUT, see the Makefile): nothing else can lock it or leave templates in it.
    synth = "make synth " + command.removeprefix("make deploy ") + f" OUT={tmp_path}"
    result = run(synth)
    assert result.returncode == 0, f"{doc}: `{synth}` failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    templates = sorted(tmp_path.glob("*.template.json"))
    assert templates, (
        f"{doc}: `{synth}` wrote no template; it wrote {sorted(p.name for p in tmp_path.iterdir())}\n"
        f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    found = [finding for template in templates for finding in findings(template)]
    assert not found, "cfn-lint:\n  " + "\n  ".join(found)


@pytest.mark.parametrize(("doc", "command"), offline_commands())
def test_every_offline_command_runs_as_written(doc: str, command: str) -> None:
    result = run(command)
    assert result.returncode == 0, f"{doc}: `{command}` failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert result.stdout.strip()
    if "--json" in command:
        json.loads(result.stdout)  # nothing but the JSON: no make echo, no EMF line, no log line
    assert "Traceback" not in result.stderr


def test_a_missing_event_file_is_a_usage_error_not_a_traceback() -> None:
    result = run('make drill ARGS="tests/events/no_such_event.json"')
    assert result.returncode != 0
    assert "no such file: tests/events/no_such_event.json" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_webhook_url_given_as_the_secret_name_fails_without_printing_it(tmp_path: Path) -> None:
    secret_part = "XyZsecretPART123"
    result = run(
        f'make synth OUT={tmp_path} ARGS="-c slackWebhookSecretName=https://hooks.slack.com/services/T0/B0/{secret_part}"'
    )
    assert result.returncode != 0
    assert "slackWebhookSecretName" in result.stdout + result.stderr
    assert secret_part not in result.stdout + result.stderr
