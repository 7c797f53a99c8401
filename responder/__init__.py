"""Operator commands for a deployed responder: `python -m responder try|release ...`.

They run on the operator's machine with the operator's credentials, never in Lambda. They reuse
the Lambda packages' constants and parsers (the quarantine policy name, the original-groups tag,
the incident record's key), so the commands and the response can never disagree on a name.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from botocore.exceptions import (
    ClientError,
    CredentialRetrievalError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    SSOError,
    TokenRetrievalError,
)

LAMBDAS_DIR = Path(__file__).resolve().parent.parent / "lambdas"
if str(LAMBDAS_DIR) not in sys.path:
    sys.path.insert(0, str(LAMBDAS_DIR))

HOME_STACK = "CredentialResponder"

# AWS answers these when the request's credentials themselves are the problem (expired, unknown, a
# wrong secret), whatever the command asked.
REFUSED_CREDENTIALS = {
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "AuthFailure",
    "InvalidAccessKeyId",
}
SET_CREDENTIALS = (
    "  export AWS_PROFILE=NAME        a profile made with `aws configure` or `aws configure sso`\n"
    "  aws sso login --profile NAME   an IAM Identity Center (SSO) profile whose session expired\n"
    "  export AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... (and AWS_SESSION_TOKEN=... for temporary keys)\n"
    "then `aws sts get-caller-identity` shows the identity the command will use"
)


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    """The deployed stack's outputs (StateMachineArn, TopicArn, IncidentTableName, ...)."""
    (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def credentials_problem(exc: BaseException, profile: str | None = None) -> str | None:
    """What is wrong with the operator's AWS credentials and how to set them, when `exc` says
    that credentials are the problem; None for any other error."""
    name = profile or "NAME"
    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials found: the command runs with yours; set them with one of\n" + SET_CREDENTIALS
    if isinstance(exc, PartialCredentialsError):
        return (
            f"incomplete AWS credentials ({exc}): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY together, "
            "or unset both and use a profile; one of\n" + SET_CREDENTIALS
        )
    if isinstance(exc, ProfileNotFound):
        missing = exc.kwargs.get("profile", name)
        return (
            f"no AWS profile '{missing}' (AWS_PROFILE names it): `aws configure list-profiles` lists yours; "
            f"`aws configure --profile {missing}` or `aws configure sso --profile {missing}` creates it"
        )
    if isinstance(exc, SSOError | TokenRetrievalError):
        return (
            f"the SSO session of profile {name} has expired or was never started ({exc}): "
            f"run `aws sso login --profile {name}`"
        )
    if isinstance(exc, CredentialRetrievalError):
        return f"AWS credentials could not be read ({exc}); set them with one of\n" + SET_CREDENTIALS
    if isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in REFUSED_CREDENTIALS:
        return (
            f"AWS refused your credentials ({exc.response['Error'].get('Code')}: "
            f"{exc.response['Error'].get('Message', '')}): they have expired or are not valid; "
            "get fresh ones with one of\n" + SET_CREDENTIALS
        )
    return None
