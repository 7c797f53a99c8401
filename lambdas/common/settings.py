"""Settings from environment variables, read at call time so that tests and redeploys change them."""

from __future__ import annotations

import os

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_str(name: str, default: str = "") -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def env_bool(name: str, default: bool = False) -> bool:
    """true/false (also 1/0, yes/no, on/off); unset, empty or unrecognised gives `default`."""
    value = os.environ.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return default


def dry_run(switch: str) -> bool:
    """Whether an action only says what it would do: DRY_RUN (every action) or its own switch (DRY_RUN_...)."""
    return env_bool("DRY_RUN") or env_bool(switch)


def env_list(name: str) -> list[str]:
    """A comma-separated list, blanks dropped."""
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]
