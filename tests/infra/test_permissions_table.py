"""docs/permissions.md's table is the one generated from the declarations (tools/permissions_table.py)."""

from __future__ import annotations

from tools.permissions_table import DOC, END, START, declarations, render


def test_the_permissions_page_holds_the_generated_table() -> None:
    page = DOC.read_text()
    assert START in page and END in page, f"{DOC.name} needs the generated table between {START} and {END}"
    current = page.split(START, 1)[1].split(END, 1)[0].strip()
    assert current == render().strip(), (
        "docs/permissions.md's table does not match lambdas/*/permissions.py: run "
        "`python -m tools.permissions_table` and paste its output between the markers"
    )


def test_the_table_lists_every_declared_action() -> None:
    table = render()
    grants = list(declarations())
    assert grants
    for package, _, grant in grants:
        for action in grant["actions"]:
            assert f"`{action}`" in table, f"{package}: {action}"
