"""Undo user_credentials' step: the credential recorded in the step's data set Active again, and read back. Only
a credential the step set Inactive has data (one already Inactive was never touched, and stays so)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from common.release import Clients, ReleaseError, Reversal, Undo, data
from user_credentials.actions import BY_NAME, STEP, set_status, status_of


def reversals(step: Mapping[str, Any], clients: Clients) -> Undo:
    recorded = data(step)
    kind = BY_NAME.get(str(recorded.get("kind") or ""))
    user, credential_id = str(recorded.get("user") or ""), str(recorded.get("id") or "")
    if step["name"] != STEP:
        return Undo()
    iam = clients["iam"]

    def run() -> str:
        if kind is None or not user or not credential_id:
            raise ReleaseError(f"its record names no credential (data: {dict(recorded)})")
        set_status(iam, kind, user, credential_id, "Active")
        now = status_of(iam, kind, user, credential_id)
        if now != "Active":
            raise ReleaseError(f"read back: IAM lists {kind.name} {credential_id} of {user} {now or 'no more'}")
        return f"{kind.name} {credential_id} of {user}: Active (read back)"

    target = credential_id or str(step.get("target", "?"))
    return Undo(
        reversals=[Reversal(STEP, target, f"set {recorded.get('kind')} {credential_id} of user {user} Active", run)]
    )
