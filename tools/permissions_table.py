"""The "Permissions" table of docs/permissions.md, generated from the declarations in lambdas/*/permissions.py.

    python -m tools.permissions_table     # prints the Markdown that goes between the markers

tests/infra/test_permissions_table.py fails when docs/permissions.md holds anything else, and the least-privilege
test checks that the declarations match both the code and the deployed roles.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "permissions.md"
LAMBDAS = ROOT / "lambdas"
START, END = "<!-- permissions:start -->", "<!-- permissions:end -->"
KINDS = {"GRANTS": "", "INDIRECT_GRANTS": "(made by AWS for the function) ", "DENIES": "(explicit Deny) "}
FOOTER = (
    "Placeholders: `{region}` is `*` (a function acts in whichever region the incident is in); the others "
    "are this deployment's partition, account and resources. Every function also writes its own log group "
    "(`logs:CreateLogStream`, `logs:PutLogEvents`) and its X-Ray traces (`xray:PutTraceSegments`, "
    "`xray:PutTelemetryRecords`, which accept no resource scope)."
)


def residual_risks() -> Iterator[tuple[str, str, str]]:
    """(package, action, the risk IAM cannot fence) for every RESIDUAL a declaration states."""
    for path in sorted(LAMBDAS.glob("*/permissions.py")):
        spec = importlib.util.spec_from_file_location(f"_residual_{path.parent.name}", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for action, risk in getattr(module, "RESIDUAL", {}).items():
            yield path.parent.name, action, risk


def declarations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(package, "GRANTS" or "INDIRECT_GRANTS", grant) for every declared grant, in a stable order."""
    if str(LAMBDAS) not in sys.path:
        sys.path.insert(0, str(LAMBDAS))  # a declaration may name another's (record.permissions): data too
    for path in sorted(LAMBDAS.glob("*/permissions.py")):
        spec = importlib.util.spec_from_file_location(f"_declared_{path.parent.name}", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)  # plain data: no imports of the function's code (other declarations only)
        for kind in KINDS:
            for grant in getattr(module, kind, ()):
                yield path.parent.name, kind, grant


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _text(text: str) -> str:
    """Prose: `<incident_id>` would otherwise vanish as an HTML tag."""
    return _cell(text).replace("<", "&lt;").replace(">", "&gt;")


def _code(values: list[str]) -> str:
    return "<br>".join(f"`{_cell(value)}`" for value in values)


def _conditions(conditions: dict[str, dict[str, Any]] | None) -> str:
    parts = []
    for operator, pairs in (conditions or {}).items():
        for key, value in pairs.items():
            values = ", ".join(f"`{_cell(str(item))}`" for item in (value if isinstance(value, list) else [value]))
            parts.append(f"{operator} `{_cell(key)}`: {values}")
    return "<br>".join(parts)


def render() -> str:
    rows = [
        "| Function (package) | Actions | Resources | Condition | Why |",
        "| --- | --- | --- | --- | --- |",
    ]
    for package, kind, grant in declarations():
        function = f"`{package}`" + (f" (`{grant['handler'].rsplit('.', 1)[1]}`)" if "handler" in grant else "")
        rows.append(
            " | ".join(
                [
                    f"| {function}",
                    _code(list(grant["actions"])),
                    _code(list(grant["resources"])),
                    _conditions(grant.get("conditions")),
                    _text(KINDS[kind] + grant["why"]) + " |",
                ]
            )
        )
    risks = [
        "",
        "What IAM offers no condition for, and so stays possible if a function's code were taken over (the code "
        "never does it; each is the residual risk of that grant):",
        "",
        "| Function (package) | Action | Residual risk |",
        "| --- | --- | --- |",
        *(f"| `{package}` | `{action}` | {_text(risk)} |" for package, action, risk in residual_risks()),
    ]
    return "\n".join([*rows, "", FOOTER, *risks])


if __name__ == "__main__":
    print(render())
