"""The declared response actions (lambdas/<package>/action.py), as infra reads them at synth."""

from __future__ import annotations

from common.action import Action, Switch, actions, by_package

__all__ = ["Action", "Switch", "actions", "by_package", "switches"]


def switches() -> tuple[Switch, ...]:
    """Every declared action's switches, once each (by cdk.json key)."""
    found: dict[str, Switch] = {}
    for action in actions():
        for switch in action.switches:
            found.setdefault(switch.context, switch)
    return tuple(found.values())
