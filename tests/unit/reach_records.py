"""CloudTrail records as the reach tests need them: any principal, realistic sources. (Shapes as CloudTrail
writes them: userIdentity by type, responseElements of the calls that mint or create.)"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

ACCOUNT = "123456789012"
EXPOSED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
KEY = "AKIAEXPOSEDKEY000001"
OWNER = "ci-deployer"
OWNER_ID = "AIDAOWNERUSER0000001"
CLI = (
    "aws-cli/2.22.9 md/awscrt#0.23.4 ua/2.1 os/linux#6.8.0-1017-azure md/arch#x86_64 lang/python#3.12.6 "
    "md/pyimpl#CPython exec-env/GitHubActions cfg/retry-mode#standard md/installer#exe md/prompt#off "
    "md/command#{command}"
)
BOTO3 = (
    "Boto3/1.35.36 md/Botocore#1.35.36 ua/2.0 os/linux#5.15 md/arch#x86_64 lang/python#3.12.3 m/{metrics} "
    "Botocore/1.35.36"
)
GO = "aws-sdk-go-v2/1.30.3 ua/2.1 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/iam#1.34.3"
CI_NET = "198.51.100.{}"
ATTACKER_IP = "185.220.101.47"
_ids = itertools.count(1)


def at(**delta: float) -> str:
    return (EXPOSED + timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def cli(command: str) -> str:
    return CLI.format(command=command)


def user_identity(key: str = KEY, user: str = OWNER, user_id: str = OWNER_ID) -> dict[str, Any]:
    return {
        "type": "IAMUser",
        "principalId": user_id,
        "arn": f"arn:aws:iam::{ACCOUNT}:user/{user}",
        "accountId": ACCOUNT,
        "accessKeyId": key,
        "userName": user,
    }


def session_identity(key: str, role: str, session: str, role_id: str = "AROAROLEID0000000001") -> dict[str, Any]:
    return {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session}",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}",
        "accountId": ACCOUNT,
        "accessKeyId": key,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role_id,
                "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}",
                "accountId": ACCOUNT,
                "userName": role,
            },
            "attributes": {"creationDate": "2026-11-20T12:00:00Z", "mfaAuthenticated": "false"},
        },
    }


def record(
    name: str,
    when: str,
    *,
    identity: dict[str, Any] | None = None,
    ip: str = ATTACKER_IP,
    agent: str = GO,
    request: dict[str, Any] | None = None,
    response: dict[str, Any] | None = None,
    error: str | None = None,
    source: str = "iam.amazonaws.com",
    resources: list[dict[str, Any]] | None = None,
    vpc_endpoint: str | None = None,
) -> dict[str, Any]:
    event_id = f"00000000-0000-0000-0000-{next(_ids):012d}"
    made: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": identity or user_identity(),
        "eventTime": when,
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": ip,
        "userAgent": agent,
        "requestParameters": request,
        "responseElements": response,
        "eventID": event_id,
        "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT,
    }
    if error:
        made["errorCode"] = error
    if resources:
        made["resources"] = resources
    if vpc_endpoint:
        made["vpcEndpointId"] = vpc_endpoint
    return made


def as_event(made: dict[str, Any]) -> dict[str, Any]:
    """A raw record as a LookupEvents entry, as investigate.lookup keeps it (EventTime ISO)."""
    return {
        "EventId": made["eventID"],
        "EventName": made["eventName"],
        "EventTime": made["eventTime"],
        "CloudTrailEvent": json.dumps(made),
    }


def trust(*principals: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": list(principals)}, "Action": "sts:AssumeRole"}],
        }
    )


def service_trust(service: str = "lambda.amazonaws.com") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )
