"""The rows of docs/operations.md §2 for the declared response actions' switches, generated from their
declarations (lambdas/<package>/action.py: each Switch's key, default and meaning).

    python -m tools.config_table     # prints the Markdown that goes between the markers

tests/infra/test_config_table.py fails when docs/operations.md holds anything else there, and when the table
misses a key the configuration reads (or lists one it does not).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "operations.md"
START, END = "<!-- declared-switches:start -->", "<!-- declared-switches:end -->"


def rows() -> str:
    sys.path.insert(0, str(ROOT))
    from infra.actions import actions

    lines = ["| Key | Default | Meaning | Validation |", "|---|---|---|---|"]
    for action in actions():
        for switch in action.switches:
            default = "true" if switch.default else "false"
            lines.append(
                f"| `{switch.context}` | `{default}` | {switch.meaning} ({action.state}; dry-run alone: "
                f"`dryRunActions` `{switch.dry_run}`) | `true`/`false` |"
            )
    return "\n".join(lines)


def documented() -> str:
    text = DOC.read_text()
    return text[text.index(START) + len(START) : text.index(END)].strip("\n")


if __name__ == "__main__":
    print(rows())
