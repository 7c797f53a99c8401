"""Operator commands for a deployed responder: `python -m responder try|release ...`.

They run on the operator's machine with the operator's credentials, never in Lambda. They reuse
the Lambda packages' constants and parsers (the quarantine policy name, the original-groups tag,
the incident record's key), so the commands and the response can never disagree on a name.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

LAMBDAS_DIR = Path(__file__).resolve().parent.parent / "lambdas"
if str(LAMBDAS_DIR) not in sys.path:
    sys.path.insert(0, str(LAMBDAS_DIR))

HOME_STACK = "CredentialResponder"


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    """The deployed stack's outputs (StateMachineArn, TopicArn, IncidentTableName, ...)."""
    (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
