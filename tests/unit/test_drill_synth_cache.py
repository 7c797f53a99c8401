"""The synthesized configurations `make test` shares between its processes (drill/template.py, DRILL_SYNTH_CACHE):
a kept assembly is taken only for the same app files, context, environment and libraries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drill import template


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    repository = tmp_path / "repo"
    (repository / "infra").mkdir(parents=True)
    (repository / "lambdas" / "common").mkdir(parents=True)
    (repository / "app.py").write_text("app\n")
    (repository / "cdk.json").write_text(json.dumps({"context": {}}))
    (repository / "infra" / "stack.py").write_text("stack\n")
    (repository / "lambdas" / "common" / "aws.py").write_text("clients\n")
    monkeypatch.setattr(template, "REPOSITORY", repository)
    monkeypatch.setenv(template.SYNTH_CACHE, str(tmp_path / "cache"))
    monkeypatch.delenv("CDK_DEFAULT_ACCOUNT", raising=False)
    return repository


def test_no_cache_is_kept_unless_make_test_names_one(app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(template.SYNTH_CACHE)
    assert template._kept_assembly({}) is None


def test_the_same_inputs_name_the_same_assembly_and_any_change_another(app: Path, monkeypatch) -> None:
    first = template._kept_assembly({"dryRun": False})
    assert template._kept_assembly({"dryRun": False}) == first
    assert template._kept_assembly({"dryRun": True}) != first

    (app / "lambdas" / "common" / "aws.py").write_text("clients, changed\n")
    changed_code = template._kept_assembly({"dryRun": False})
    (app / "infra" / "new.py").write_text("a new construct\n")
    new_file = template._kept_assembly({"dryRun": False})
    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", "111122223333")
    other_account = template._kept_assembly({"dryRun": False})
    assert len({first, changed_code, new_file, other_account}) == 4

    (app / "lambdas" / "common" / "__pycache__").mkdir()
    (app / "lambdas" / "common" / "__pycache__" / "aws.cpython-311.pyc").write_bytes(b"compiled")
    assert template._kept_assembly({"dryRun": False}) == other_account  # compiled files are not inputs


def test_a_kept_assembly_is_whole_and_the_first_of_two_stands(app: Path, tmp_path: Path) -> None:
    kept = template._kept_assembly({})
    assert kept is not None
    for content in ("first", "second"):
        outdir = tmp_path / content
        outdir.mkdir()
        (outdir / f"{template.STACK_NAME}.template.json").write_text(json.dumps({"by": content}))
        (outdir / "asset.abc").mkdir()
        (outdir / "asset.abc" / "handler.py").write_text(content)
        template._keep_assembly(outdir, kept)

    assert json.loads((kept / f"{template.STACK_NAME}.template.json").read_text()) == {"by": "first"}
    assert (kept / "asset.abc" / "handler.py").read_text() == "first"
    assert [entry.name for entry in kept.parent.iterdir()] == [kept.name]  # no partial copy left behind
