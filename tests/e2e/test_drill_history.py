"""The drill's account histories (drill/history.py, drill/replay.py, drill/sources.py): records at their own times,
made by the principal that made them, with the effects applied to the simulated account and read back.

Most tests stage a history in a simulated account without running the workflow (each module fixture stages once
and keeps what the tests read), so they are quick; what the response makes of these histories is
test_faults_history.py.
"""

from __future__ import annotations

import ipaddress
import json
import re
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from drill.account import SimulatedAccount
from drill.cloudtrail_fake import parse_time
from drill.history import HistoryError, parse_history
from drill.observe import observe
from drill.scenario import install_cloudtrail, load_cloudtrail
from drill.sources import AZURE
from drill.staging import stage
from drill.state import apply_account_state, load_account_state
from drill.timeline import exposure_moment

pytestmark = [pytest.mark.drill, pytest.mark.xdist_group("drill-events")]
EVENTS = Path(__file__).resolve().parent.parent / "events"
CI_KEY_EVENT = EVENTS / "crafted" / "health_ci_key_exposed.json"
EXFIL = EVENTS / "guardduty_exfil_outside_realistic.json"
CLOUDTRAIL = EVENTS / "cloudtrail"
EVERYTHING = CLOUDTRAIL / "every_principal_and_effect.json"


def call(at: str, by: str, name: str, source: str = "kali", **extra: Any) -> dict[str, Any]:
    return {"at": at, "by": by, "from": source, "call": name, **extra}


def _snapshot(account: SimulatedAccount, staged: Any, factory: Any) -> dict[str, Any]:
    """What the tests read, taken while the simulated account is open."""
    iam = account.client("iam")
    users = {u["UserName"]: u for u in iam.list_users()["Users"]}
    roles = {r["RoleName"]: r for r in iam.list_roles()["Roles"]}
    return {
        "records": list(factory.records),
        "factory": factory,
        "mapping": dict(staged.mapping),
        "notes": list(staged.notes),
        "exposure": exposure_moment(staged.event),
        "users": users,
        "roles": roles,
        "observed": observe(account, staged),
        "owner": staged.users[0],
        "last_used": {
            key: iam.get_access_key_last_used(AccessKeyId=key)["AccessKeyLastUsed"]
            for key in (staged.access_key_ids[0], staged.mapping["AKIAOWNEROLDKEY00001"])
        }
        if "AKIAOWNEROLDKEY00001" in staged.mapping
        else {},
    }


@pytest.fixture(scope="module")
def everything(synthesized) -> dict[str, Any]:
    history = load_cloudtrail(EVERYTHING)
    with SimulatedAccount(synthesized) as account:
        staged = stage(account, json.loads(CI_KEY_EVENT.read_text()))
        factory = install_cloudtrail(account, staged, history)
        return _snapshot(account, staged, factory)


def records_named(snapshot: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [r for r in snapshot["records"] if r["eventName"] == name]


def one(snapshot: dict[str, Any], event_name: str, **request: Any) -> dict[str, Any]:
    (found,) = [
        r
        for r in records_named(snapshot, event_name)
        if all((r.get("requestParameters") or {}).get(k) == v for k, v in request.items())
    ]
    return found


# -- times ------------------------------------------------------------------------------------------------------------


def test_records_keep_their_place_in_time(everything) -> None:
    exposure = everything["exposure"]
    assert exposure == datetime(2026, 11, 19, 9, 12, 40, tzinfo=UTC)  # the event's startTime
    created = one(everything, "CreateRole", roleName="app")
    assert parse_time(created["eventTime"]) == exposure - timedelta(days=3)
    assert parse_time(one(everything, "CreateUser", userName="bd")["eventTime"]) == exposure + timedelta(minutes=3)
    times = [parse_time(r["eventTime"]) for r in everything["records"]]
    assert times == sorted(times)


def test_lookup_events_returns_the_records_before_the_exposure_in_their_window(everything) -> None:
    exposure = everything["exposure"]
    trail = everything["factory"]("us-east-1")
    owner_key = everything["records"][0]["userIdentity"]["accessKeyId"]
    before = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": owner_key}],
        StartTime=exposure - timedelta(days=7),
        EndTime=exposure,
    )["Events"]
    assert [e["EventName"] for e in before] == ["CreateRole"]
    assert before[0]["EventTime"] == exposure - timedelta(days=3)
    after = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": owner_key}], StartTime=exposure
    )["Events"]
    assert "CreateRole" not in {e["EventName"] for e in after} and "UpdateUser" in {e["EventName"] for e in after}


def test_the_account_existed_before_its_history(everything) -> None:
    owner = everything["observed"]["users"][everything["owner"]]
    assert parse_time(owner["created"]) == everything["exposure"] - timedelta(days=180)  # the default `created`
    assert parse_time(everything["observed"]["roles"]["deploy"]["created"]) == everything["exposure"] - timedelta(
        days=300
    )
    bd = everything["observed"]["users"]["aws-support-sync"]
    assert parse_time(bd["created"]) == everything["exposure"] + timedelta(minutes=3)


# -- principals -------------------------------------------------------------------------------------------------------


def test_an_iam_user_key_is_written_with_the_users_real_id(everything) -> None:
    owner = everything["users"][everything["owner"]]
    identity = one(everything, "CreateRole", roleName="app")["userIdentity"]
    assert identity == {
        "type": "IAMUser",
        "principalId": owner["UserId"],
        "arn": owner["Arn"],
        "accountId": "123456789012",
        "accessKeyId": everything["mapping"]["AKIA3UBBJ2K3TCIKEY01"],
        "userName": owner["UserName"],
    }
    assert re.fullmatch(r"AIDA[A-Z0-9]{17}", identity["principalId"])
    alice = records_named(everything, "ListRoles")[0]["userIdentity"]
    assert alice["userName"] == "alice" and alice["accessKeyId"] == everything["mapping"]["AKIAALICEKEY00000001"]


def test_assume_role_mints_a_session_written_as_cloudtrail_writes_it(everything) -> None:
    deploy = everything["roles"]["deploy"]
    assume = one(everything, "AssumeRole", roleSessionName="s1")
    session_key = assume["responseElements"]["credentials"]["accessKeyId"]
    assert re.fullmatch(r"ASIA[A-Z0-9]{16}", session_key) and everything["mapping"]["session:first"] == session_key
    assert assume["responseElements"]["assumedRoleUser"] == {
        "assumedRoleId": f"{deploy['RoleId']}:s1",
        "arn": "arn:aws:sts::123456789012:assumed-role/deploy/s1",
    }
    assert assume["resources"] == [{"accountId": "123456789012", "type": "AWS::IAM::Role", "ARN": deploy["Arn"]}]
    assert assume["readOnly"] is True and assume["eventSource"] == "sts.amazonaws.com"
    chained = one(everything, "AssumeRole", roleSessionName="s2")["userIdentity"]
    assert chained == {
        "type": "AssumedRole",
        "principalId": f"{deploy['RoleId']}:s1",
        "arn": "arn:aws:sts::123456789012:assumed-role/deploy/s1",
        "accountId": "123456789012",
        "accessKeyId": session_key,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": deploy["RoleId"],
                "arn": deploy["Arn"],
                "accountId": "123456789012",
                "userName": "deploy",
            },
            "webIdFederationData": {},
            "attributes": {"creationDate": assume["eventTime"], "mfaAuthenticated": "false"},
        },
    }


def test_a_role_chain_writes_the_second_roles_session(everything) -> None:
    admin = everything["roles"]["org-admin"]
    identity = one(everything, "CreateUser", userName="bd")["userIdentity"]
    assert identity["principalId"] == f"{admin['RoleId']}:s2"
    assert identity["arn"] == "arn:aws:sts::123456789012:assumed-role/org-admin/s2"
    assert identity["accessKeyId"] == everything["mapping"]["session:chained"] != everything["mapping"]["session:first"]


def test_lookup_by_resource_name_finds_the_assume_role_records(everything) -> None:
    trail = everything["factory"]("us-east-1")
    arn = everything["roles"]["org-admin"]["Arn"]
    found = trail.lookup_events(LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": arn}])["Events"]
    assert [e["EventName"] for e in found] == ["AssumeRole"]
    assert found[0]["AccessKeyId"] == everything["mapping"]["session:first"]


def test_session_token_and_federation_sessions(everything) -> None:
    owner = everything["users"][everything["owner"]]
    token = records_named(everything, "ListUsers")[0]["userIdentity"]
    assert token["type"] == "IAMUser" and token["principalId"] == owner["UserId"]
    assert token["accessKeyId"] == everything["mapping"]["session:token"] and token["accessKeyId"].startswith("ASIA")
    assert token["sessionContext"]["attributes"]["mfaAuthenticated"] == "false"
    federated = records_named(everything, "ListBuckets")[0]["userIdentity"]
    assert federated["type"] == "FederatedUser"
    assert federated["principalId"] == "123456789012:fed-ops"
    assert federated["arn"] == "arn:aws:sts::123456789012:federated-user/fed-ops"
    assert federated["sessionContext"]["sessionIssuer"]["principalId"] == owner["UserId"]
    minted = one(everything, "GetFederationToken", name="fed-ops")["responseElements"]
    assert minted["federatedUser"]["federatedUserId"] == "123456789012:fed-ops"
    assert minted["credentials"]["accessKeyId"] == federated["accessKeyId"]


def test_an_aws_service_and_the_session_it_made(everything) -> None:
    assume = one(everything, "AssumeRole", roleSessionName="AWSCloudFormation")
    assert assume["userIdentity"] == {"type": "AWSService", "invokedBy": "cloudformation.amazonaws.com"}
    assert assume["sourceIPAddress"] == assume["userAgent"] == "cloudformation.amazonaws.com"
    created = one(everything, "CreateRole", roleName="stack-fn-role")
    assert created["userIdentity"]["invokedBy"] == "cloudformation.amazonaws.com"
    assert created["userIdentity"]["arn"].endswith(":assumed-role/cfn-exec/AWSCloudFormation")
    assert "tlsDetails" not in created


def test_keys_made_in_the_history_make_calls_and_a_renamed_user_is_written_by_its_new_name(everything) -> None:
    made = everything["mapping"]["bd-key"]
    created = one(everything, "CreateAccessKey", userName="bd")
    assert created["responseElements"]["accessKey"]["accessKeyId"] == made
    assert created["responseElements"]["accessKey"]["createDate"] == "Nov 19, 2026 9:15:50 AM"
    before = records_named(everything, "UpdateLoginProfile")[0]["userIdentity"]  # bd-key, before the rename
    after = records_named(everything, "GetCallerIdentity")[0]["userIdentity"]  # bd-key, after it
    assert before["userName"] == "bd" and after["userName"] == "aws-support-sync"
    assert after["principalId"] == before["principalId"] == everything["mapping"]["user:bd"]
    assert everything["mapping"]["user:aws-support-sync"] == everything["mapping"]["user:bd"]


def test_the_reactivated_old_key_makes_calls_and_its_last_use_is_the_historys(everything) -> None:
    old = everything["mapping"]["AKIAOWNEROLDKEY00001"]
    (made,) = [r for r in records_named(everything, "GetCallerIdentity") if r["userIdentity"]["accessKeyId"] == old]
    assert parse_time(made["eventTime"]) == everything["exposure"] + timedelta(minutes=9)
    used = everything["last_used"][old]
    assert used["LastUsedDate"] == everything["exposure"] + timedelta(minutes=9)
    assert used["ServiceName"] == "sts"


# -- effects ----------------------------------------------------------------------------------------------------------


def test_every_effect_is_applied_and_read_back(everything) -> None:
    observed = everything["observed"]
    bd = observed["users"]["aws-support-sync"]  # created, then renamed: same id, keys, policies, password
    assert "bd" not in observed["users"]
    assert bd["id"] == everything["mapping"]["user:bd"]
    assert bd["access_keys"] == {everything["mapping"]["bd-key"]: "Active"}
    assert bd["attached_policies"] == ["AdministratorAccess"]
    assert bd["inline_policies"] == {"inline-admin": ["Allow * on *"]}
    assert bd["login_profile"] is True
    assert list(bd["ssh_public_keys"].values()) == ["Active"]
    (credential,) = bd["service_specific_credentials"].values()
    assert credential == {"service": "codecommit.amazonaws.com", "status": "Active"}
    assert list(bd["signing_certificates"].values()) == ["Active"]
    assert observed["users"]["alice"]["login_profile"] is True
    role = observed["roles"]["bd-role"]
    assert role["attached_policies"] == ["AdministratorAccess"]
    assert role["inline_policies"] == {"more": ["Allow iam:* on *"]}
    assert role["trust_principals"] == ["AWS arn:aws:iam::666666666666:root"]
    assert observed["roles"]["payments-prod"]["trust_principals"] == ["AWS arn:aws:iam::666666666666:root"]
    owner_keys = observed["users"][everything["owner"]]["access_keys"]
    assert owner_keys[everything["mapping"]["AKIAOWNEROLDKEY00001"]] == "Active"  # UpdateAccessKey
    assert "stack-fn-role" in observed["roles"]


def test_a_failed_call_has_no_effect(everything) -> None:
    refused = one(everything, "CreateUser", userName="refused")
    assert refused["errorCode"] == "AccessDenied" and refused["responseElements"] is None
    assert "refused" not in everything["observed"]["users"]


def test_response_elements_carry_the_minted_ids(everything) -> None:
    bd_id = everything["mapping"]["user:bd"]
    assert one(everything, "CreateUser", userName="bd")["responseElements"]["user"]["userId"] == bd_id
    role = one(everything, "CreateRole", roleName="bd-role")["responseElements"]["role"]
    assert role["roleId"] == everything["roles"]["bd-role"]["RoleId"]
    observed = everything["observed"]["users"]["aws-support-sync"]
    ssc = one(everything, "CreateServiceSpecificCredential")["responseElements"]["serviceSpecificCredential"]
    assert ssc["serviceSpecificCredentialId"] in observed["service_specific_credentials"]
    assert "servicePassword" not in ssc
    ssh = one(everything, "UploadSSHPublicKey")["responseElements"]["sSHPublicKey"]
    assert ssh["sSHPublicKeyId"] in observed["ssh_public_keys"]
    certificate = one(everything, "UploadSigningCertificate")["responseElements"]["certificate"]
    assert certificate["certificateId"] in observed["signing_certificates"]
    assert "secretAccessKey" not in one(everything, "CreateAccessKey", userName="bd")["responseElements"]["accessKey"]


# -- sources ----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def routine(synthesized) -> dict[str, Any]:
    with SimulatedAccount(synthesized) as account:
        staged = stage(account, json.loads(CI_KEY_EVENT.read_text()))
        factory = install_cloudtrail(account, staged, load_cloudtrail(CLOUDTRAIL / "owner_history.json"))
        return _snapshot(account, staged, factory)


def test_hosted_ci_calls_come_from_a_new_azure_address_with_cli_agents_naming_the_command(routine) -> None:
    ci = [r for r in routine["records"] if "exec-env/GitHubActions" in r["userAgent"]]
    assert len(ci) > 20
    addresses = [ipaddress.ip_address(r["sourceIPAddress"]) for r in ci]
    assert len(set(addresses)) == len(addresses)
    assert all(any(a in ipaddress.ip_network(n) for n in AZURE) for a in addresses)
    for record in ci:
        command = re.search(r" md/command#([\w-]+)\.([\w-]+)$", record["userAgent"])
        assert command and command.group(1) == record["eventSource"].split(".")[0]
    assert one(routine, "CreateRole", roleName="orders-worker")["userAgent"].endswith(" md/command#iam.create-role")


def test_the_probe_comes_from_a_script_the_key_never_used(routine) -> None:
    probe = records_named(routine, "ListAttachedUserPolicies")[0]
    assert probe["userAgent"] == "python-requests/2.32.3"
    assert probe["requestParameters"] == {"userName": routine["owner"]}
    owners = {r["sourceIPAddress"] for r in routine["records"] if r["userAgent"] != probe["userAgent"]}
    assert probe["sourceIPAddress"] not in owners


def test_the_same_scenario_gives_the_same_addresses(synthesized, routine) -> None:
    with SimulatedAccount(synthesized) as account:
        staged = stage(account, json.loads(CI_KEY_EVENT.read_text()))
        again = install_cloudtrail(account, staged, load_cloudtrail(CLOUDTRAIL / "owner_history.json")).records
    assert [r["sourceIPAddress"] for r in again] == [r["sourceIPAddress"] for r in routine["records"]]
    assert [r["eventID"] for r in again] == [r["eventID"] for r in routine["records"]]


@pytest.fixture(scope="module")
def workload(synthesized) -> dict[str, Any]:
    event = json.loads(EXFIL.read_text())
    with SimulatedAccount(synthesized, account_id="111122223333") as account:
        staged = stage(account, event)
        factory = install_cloudtrail(account, staged, load_cloudtrail(CLOUDTRAIL / "instance_workload.json"))
        ec2 = account.client("ec2", staged.region)
        snapshot = _snapshot(account, staged, factory)
        snapshot["endpoints"] = ec2.describe_vpc_endpoints()["VpcEndpoints"]
        snapshot["instance"] = ec2.describe_instances(InstanceIds=staged.instances)["Reservations"][0]["Instances"][0]
        snapshot["event"] = staged.event
        return snapshot


def test_the_instance_session_is_the_workloads_and_the_thiefs(workload) -> None:
    detail = workload["event"]["detail"]
    instance = workload["instance"]["InstanceId"]
    role = workload["roles"]["web-app-role"]
    sessions = [r["userIdentity"] for r in workload["records"]]
    assert {s["arn"] for s in sessions} == {f"arn:aws:sts::111122223333:assumed-role/web-app-role/{instance}"}
    assert {s["principalId"] for s in sessions} == {f"{role['RoleId']}:{instance}"}
    assert all(s["sessionContext"]["ec2RoleDelivery"] == "2.0" for s in sessions)
    after = [r for r in workload["records"] if parse_time(r["eventTime"]) >= workload["exposure"]]
    stolen = detail["resource"]["accessKeyDetails"]["accessKeyId"]
    assert {r["userIdentity"]["accessKeyId"] for r in after} == {stolen}
    thief = {r["sourceIPAddress"] for r in after if r["eventName"] in ("CreateUser", "CreateAccessKey")}
    assert thief == {detail["service"]["action"]["awsApiCallAction"]["remoteIpDetails"]["ipAddressV4"]}
    # Days earlier the workload held earlier sessions of the same instance: other keys, same session name.
    earlier = {r["userIdentity"]["accessKeyId"] for r in workload["records"] if r not in after}
    assert len(earlier) == 3 and stolen not in earlier


def test_the_workload_calls_from_the_instances_addresses_and_its_vpc_endpoint(workload) -> None:
    interface = workload["event"]["detail"]["resource"]["instanceDetails"]["networkInterfaces"][0]
    (endpoint,) = workload["endpoints"]
    assert endpoint["VpcId"] == workload["instance"]["VpcId"]
    assert endpoint["ServiceName"] == "com.amazonaws.ap-northeast-1.sts"
    sts = [r for r in workload["records"] if r["eventName"] == "GetCallerIdentity" and "vpcEndpointId" in r]
    assert sts and all(r["sourceIPAddress"] == interface["privateIpAddress"] for r in sts)
    assert all(r["vpcEndpointId"] == endpoint["VpcEndpointId"] for r in sts)
    assert all(r["awsRegion"] == "ap-northeast-1" for r in sts)
    own = one(workload, "CreateRole", roleName="lambda-exec-release-43")
    assert own["sourceIPAddress"] == interface["publicIp"] and own["awsRegion"] == "us-east-1"
    assert own["userAgent"].startswith("APN/1.0 HashiCorp/1.0 Terraform/") and own["userAgent"].endswith(
        "api/iam#1.37.2"
    )


# -- the account file's history and AWS Config ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def break_glass(synthesized) -> dict[str, Any]:
    state = load_account_state(EVENTS / "accounts" / "break_glass.json")
    with SimulatedAccount(synthesized, account_id="123456789012") as account:
        base = apply_account_state(account, state)
        staged = stage(account, json.loads(CI_KEY_EVENT.read_text()), base=base)
        factory = install_cloudtrail(account, staged, state.history())
        config = account.client("config")
        role_id = account.client("iam").get_role(RoleName="break-glass")["Role"]["RoleId"]
        rewrite = parse_time(
            one({"records": factory.records}, "UpdateAssumeRolePolicy", roleName="break-glass")["eventTime"]
        )
        answers = {
            "before": config.get_resource_config_history(
                resourceType="AWS::IAM::Role",
                resourceId=role_id,
                laterTime=rewrite - timedelta(seconds=1),
                chronologicalOrder="Reverse",
                limit=1,
            )["configurationItems"],
            "all": config.get_resource_config_history(resourceType="AWS::IAM::Role", resourceId=role_id)[
                "configurationItems"
            ],
        }
        other = account.client("iam").get_role(RoleName="payments-api-task")["Role"]["RoleId"]
        try:
            config.get_resource_config_history(resourceType="AWS::IAM::Role", resourceId=other)
            answers["undeclared"] = "answered"
        except ClientError as exc:
            answers["undeclared"] = exc.response["Error"]["Code"]
        return {"records": factory.records, "answers": answers, "rewrite": rewrite}


def test_an_account_file_holds_its_history_by_reference(break_glass) -> None:
    assert len(break_glass["records"]) > 20  # its own and the routine it includes
    assert (
        one(break_glass, "UpdateAssumeRolePolicy", roleName="break-glass")["userIdentity"]["userName"] == "ci-deployer"
    )


def test_config_answers_with_the_recorded_trust_before_a_rewrite(break_glass) -> None:
    (item,) = break_glass["answers"]["before"]
    assert item["configurationItemCaptureTime"] < break_glass["rewrite"]
    configuration = json.loads(item["configuration"])
    document = json.loads(urllib.parse.unquote(configuration["assumeRolePolicyDocument"]))
    assert [s["Principal"] for s in document["Statement"]] == [{"AWS": "arn:aws:iam::123456789012:root"}]
    newest, oldest = break_glass["answers"]["all"]  # newest first; the rewrite was recorded too
    assert "666666666666" in newest["configuration"] and newest["configurationItemCaptureTime"] > break_glass["rewrite"]
    assert oldest["configurationItemCaptureTime"] == item["configurationItemCaptureTime"]


def test_config_knows_nothing_of_a_role_no_file_says_it_records(break_glass) -> None:
    assert break_glass["answers"]["undeclared"] == "ResourceNotDiscoveredException"


# -- what a scenario may not say --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("history", "message"),
    [
        ({"history": [call("yesterday", "exposed", "ListUsers")]}, "neither a time relative to the exposure"),
        ({"history": [{"at": "+1m", "by": "exposed", "call": "ListUsers"}]}, "says where it came from"),
        ({"history": [call("+1m", "exposed", "ListUsers", session="s")]}, "'session' names the session"),
        ({"history": [call("+1m", "exposed", "ListUsers")], "colour": "red"}, "colour: Extra inputs"),
        ({"include": ["no_such_file.json"]}, "include no_such_file.json"),
    ],
)
def test_a_bad_scenario_is_a_clear_error(history, message) -> None:
    with pytest.raises(HistoryError, match=re.escape(message)):
        parse_history(history, base=CLOUDTRAIL, origin="bad")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (call("+1m", "stolen", "ListUsers"), "'by': 'stolen' is no credential of the account"),
        (call("+1m", "exposed", "ListUsers", "nowhere"), "source 'nowhere' is neither declared"),
        (call("+1m", "exposed", "ListUsers", "instance"), "takes its address from the event"),
        (
            call("+1m", "exposed", "UpdateAssumeRolePolicy", request={"roleName": "ghost", "policyDocument": {}}),
            "IAM refused it (NoSuchEntity",
        ),
        (call("+1m", "exposed", "AssumeRole", request={"roleArn": "arn:aws:iam::123456789012:role/ghost"}), "no role"),
    ],
)
def test_a_scenario_that_contradicts_the_account_stops_the_staging_naming_the_entry(
    synthesized, entry, message
) -> None:
    history = parse_history({"history": [entry]}, base=CLOUDTRAIL, origin="contradiction")
    with SimulatedAccount(synthesized) as account:
        staged = stage(account, json.loads(CI_KEY_EVENT.read_text()))
        with pytest.raises(HistoryError, match=re.escape(message)) as raised:
            install_cloudtrail(account, staged, history)
    assert f"contradiction: history[0] {entry['call']} at +1m" in str(raised.value)


def test_the_documented_example_stages_as_it_says(synthesized) -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "drill.md").read_text()
    example = text.split("<!-- the example: tests/e2e/test_drill_history.py stages it -->\n```json\n", 1)[1]
    history = parse_history(json.loads(example.split("\n```", 1)[0]), base=CLOUDTRAIL, origin="docs/drill.md")
    with SimulatedAccount(synthesized) as account:
        staged = stage(account, json.loads(CI_KEY_EVENT.read_text()))
        records = install_cloudtrail(account, staged, history).records
        made = observe(account, staged)["users"]["svc-metrics"]
    assert [r["eventName"] for r in records] == [
        "CreateRole",
        "GetCallerIdentity",
        "AssumeRole",
        "CreateUser",
        "AttachUserPolicy",
        "CreateAccessKey",
        "ListUsers",
    ]
    assert records[3]["userIdentity"]["arn"].endswith(":assumed-role/deploy/aws-go-sdk-1763544300")
    assert records[-1]["userIdentity"]["userName"] == "svc-metrics" and records[-1]["errorCode"] == "AccessDenied"
    assert made["attached_policies"] == ["AdministratorAccess"] and list(made["access_keys"].values()) == ["Active"]


def test_a_public_record_placed_in_time_keeps_its_source_and_becomes_the_keys(everything) -> None:
    placed = next(r for r in everything["records"] if r["userAgent"].startswith("stratus-red-team_"))
    assert placed["eventID"] == "e544d47e-6d75-45cf-a8a9-7e90d5f7d38d"  # its own, unique in the history
    assert placed["sourceIPAddress"] == "253.234.5.234" and placed["eventName"] == "GetCallerIdentity"
    assert parse_time(placed["eventTime"]) == everything["exposure"] + timedelta(minutes=9, seconds=30)
    assert placed["userIdentity"]["accessKeyId"] == everything["mapping"]["AKIA3UBBJ2K3TCIKEY01"]
    assert placed["recipientAccountId"] == "123456789012" and placed["awsRegion"] == "us-east-1"
    assert placed["tlsDetails"]["clientProvidedHostHeader"] == "sts.us-east-1.amazonaws.com"
