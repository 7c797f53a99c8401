"""docs/operations.md §2 documents every key the configuration reads, and nothing else; the response actions'
switches are the rows tools/config_table.py generates from their declarations."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from infra.config import REPLACED_KEYS, ResponderConfig
from tools import config_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def read_keys() -> set[str]:
    """Every key ResponderConfig.from_context asks for."""
    asked: set[str] = set()

    def get(key: str) -> Any:
        asked.add(key)
        return None

    ResponderConfig.from_context(get, default_region="us-east-1")
    return asked - set(REPLACED_KEYS)  # asked for only to be refused by name


def documented_keys() -> set[str]:
    section = DOC.read_text().split("## 2. Configuration", 1)[1].split("\n## 3.", 1)[0]
    return set(re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE))


def test_the_declared_switches_rows_are_generated() -> None:
    assert config_table.documented() == config_table.rows(), "run: python -m tools.config_table (docs/operations.md)"


def test_every_configuration_key_is_documented_and_nothing_else() -> None:
    keys, documented = read_keys(), documented_keys()
    assert keys - documented == set(), "read by infra/config.py but not in docs/operations.md §2"
    assert documented - keys == set(), "in docs/operations.md §2 but not read by infra/config.py"
