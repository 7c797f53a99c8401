"""README.md's "Permissions" table is the one generated from the declarations (tools/permissions_table.py)."""

from __future__ import annotations

from tools.permissions_table import END, ROOT, START, declarations, render


def test_readme_holds_the_generated_permissions_table() -> None:
    readme = (ROOT / "README.md").read_text()
    assert START in readme and END in readme, f"README.md needs a Permissions section with {START} and {END}"
    current = readme.split(START, 1)[1].split(END, 1)[0].strip()
    assert current == render().strip(), (
        "README.md's Permissions table does not match lambdas/*/permissions.py: run "
        "`python -m tools.permissions_table` and paste its output between the markers"
    )


def test_the_table_lists_every_declared_action() -> None:
    table = render()
    grants = list(declarations())
    assert grants
    for package, _, grant in grants:
        for action in grant["actions"]:
            assert f"`{action}`" in table, f"{package}: {action}"
