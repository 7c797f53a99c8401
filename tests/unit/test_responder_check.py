"""`python -m responder check` against the simulated account (moto): pass and fail of each check.

What moto (5.2.5) cannot represent, and what stands in for it here:
- iam:SimulatePrincipalPolicy is not implemented: `Simulator` decides (denying what a test names)
  and records each question, so the tests assert what is asked (role, action, representative ARN,
  the statement's condition keys as context). The real IAM evaluation is only in AWS.
- CloudFormation: moto cannot deploy the synthesized stack (assets, the SSM-resolved layer), so
  `Stack` answers DescribeStacks/ListStackResources for resources created in moto directly.
- Lambda Invoke needs Docker in moto: the twin's invocation runs `common.probe.handler`
  in-process. Its EC2 calls reach moto, which answers DryRun with DryRunOperation (allowed); a
  DryRun denial (UnauthorizedOperation) cannot happen in moto, which evaluates no IAM.
- An e-mail subscription pending confirmation: moto confirms every subscription at once; the
  pending answer is given by a stand-in SNS client.
- Public /aws/service/... SSM parameters cannot be created in moto (reserved): the stack's
  PowertoolsLayerParameter output names a parameter the test creates.
- GuardDuty ListFilters is not implemented (CreateFilter and GetFilter are): `GuardDuty` answers
  it from moto's own store of the detector's filters; every other call is moto's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from common import probe
from responder import check
from responder.__main__ import main

REGION = "eu-west-1"
EVENT = Path(__file__).resolve().parents[1] / "events" / "health_exposed_key_classic.json"
ACCOUNT = "123456789012"
STACK = "CredentialResponder"
ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["iam:UpdateAccessKey", "iam:ListAccessKeys"],
            "Resource": f"arn:aws:iam::{ACCOUNT}:user/*",
        },
        {
            "Effect": "Allow",
            "Action": "ec2:CreateTags",
            "Resource": f"arn:aws:ec2:*:{ACCOUNT}:security-group/*",
            "Condition": {"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"}},
        },
        {
            "Effect": "Allow",
            "Action": "ec2:CreateTags",
            "Resource": f"arn:aws:ec2:*:{ACCOUNT}:instance/*",
            "Condition": {"ForAllValues:StringLike": {"aws:TagKeys": ["credential-responder:original-sgs"]}},
        },
        {"Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": "*"},
    ],
}


class Simulator:
    """Stands in for iam:SimulatePrincipalPolicy (moto has none); everything else is moto's IAM."""

    def __init__(self, iam: Any, deny: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.iam, self.deny, self.asked = iam, deny, []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.iam, name)

    def simulate_principal_policy(self, **kwargs: Any) -> dict[str, Any]:
        self.asked.append(kwargs)
        (action,) = kwargs["ActionNames"]
        decision = "explicitDeny" if action in self.deny else "allowed"
        detail = {"AllowedByOrganizations": action not in self.deny}
        return {
            "EvaluationResults": [
                {"EvalActionName": action, "EvalDecision": decision, "OrganizationsDecisionDetail": detail}
            ]
        }


class Stack:
    """Stands in for CloudFormation's view of the deployed stack (moto cannot deploy it)."""

    def __init__(self, outputs: dict[str, str], resources: list[tuple[str, str]]) -> None:
        self.outputs, self.resources = outputs, resources

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        if not StackName.startswith(STACK) or StackName != STACK:
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "ValidationError", "Message": "does not exist"}}, "DescribeStacks")
        return {
            "Stacks": [
                {
                    "StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/x",
                    "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in self.outputs.items()],
                }
            ]
        }

    def get_paginator(self, name: str) -> Any:
        assert name == "list_stack_resources"
        resources = self.resources

        class Pages:
            def paginate(self, StackName: str) -> list[dict[str, Any]]:
                return [
                    {"StackResourceSummaries": [{"ResourceType": t, "PhysicalResourceId": p} for t, p in resources]}
                ]

        return Pages()


@pytest.fixture
def deployed(aws) -> dict[str, Any]:
    """A healthy deployment, made of moto resources."""
    iam = boto3.client("iam")
    role = iam.create_role(
        RoleName="ContainKeyRole",
        Path="/credential-responder/",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ]
            }
        ),
    )["Role"]
    iam.put_role_policy(RoleName="ContainKeyRole", PolicyName="Default", PolicyDocument=json.dumps(ROLE_POLICY))
    lam = boto3.client("lambda", REGION)
    layer = lam.publish_layer_version(LayerName="powertools", Content={"ZipFile": b"PK\x05\x06" + b"\0" * 18})
    secretsmanager = boto3.client("secretsmanager", REGION)
    secretsmanager.create_secret(Name="responder/slack", SecretString="https://hooks.slack.com/services/x")
    lam.create_function(
        FunctionName="ContainKey",
        Runtime="python3.12",
        Role=role["Arn"],
        Handler="contain_key.handler.handler",
        Code={"ZipFile": b"PK\x05\x06" + b"\0" * 18},
        Layers=[layer["LayerVersionArn"]],
        Environment={"Variables": {"DRY_RUN": "false", "SLACK_SECRET_NAME": "responder/slack"}},
    )
    sns = boto3.client("sns", REGION)
    topic = sns.create_topic(Name="reports")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="secops@example.com")
    cloudwatch = boto3.client("cloudwatch", REGION)
    cloudwatch.put_metric_alarm(
        AlarmName="ExecutionsFailed",
        MetricName="ExecutionsFailed",
        Namespace="AWS/States",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        AlarmDescription="A response ended failed",
    )
    cloudwatch.set_alarm_state(AlarmName="ExecutionsFailed", StateValue="OK", StateReason="test")
    queue = boto3.client("sqs", REGION).create_queue(QueueName="dead-letters")["QueueUrl"]
    boto3.client("ssm", REGION).put_parameter(Name="/test/powertools", Value=layer["LayerVersionArn"], Type="String")
    boto3.client("ssm", "us-east-1").put_parameter(Name="/test/powertools", Value="arn", Type="String")
    for region in (REGION, "us-east-1"):
        boto3.client("guardduty", region).create_detector(Enable=True)
    cloudtrail = boto3.client("cloudtrail", REGION)
    boto3.client("s3", "us-east-1").create_bucket(Bucket="trail-bucket")
    cloudtrail.create_trail(Name="main", S3BucketName="trail-bucket", IsMultiRegionTrail=True)
    cloudtrail.start_logging(Name="main")
    outputs = {
        "StateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:x",
        "TopicArn": topic,
        "IncidentTableName": "incidents",
        "CoveredRegions": f"{REGION},us-east-1",
        "PowertoolsLayerParameter": "/test/powertools",
        "DeadLetterQueueUrl": queue,
    }
    us_east_queue = boto3.client("sqs", "us-east-1").create_queue(QueueName="fwd-dead-letters")["QueueUrl"]
    stacks = {
        REGION: Stack(
            outputs, [("AWS::Lambda::Function", "ContainKey"), ("AWS::CloudWatch::Alarm", "ExecutionsFailed")]
        ),
        "us-east-1": ForwarderStack(us_east_queue),
    }
    return {"stacks": stacks, "iam": Simulator(iam), "queue": queue}


class ForwarderStack(Stack):
    def __init__(self, queue: str) -> None:
        super().__init__({"DeadLetterQueueUrl": queue}, [])

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        assert StackName == f"{STACK}Forwarder-us-east-1"
        return {
            "Stacks": [
                {
                    "StackId": "x",
                    "Outputs": [{"OutputKey": "DeadLetterQueueUrl", "OutputValue": self.outputs["DeadLetterQueueUrl"]}],
                }
            ]
        }


class GuardDuty:
    """moto's GuardDuty, with ListFilters answered from moto's store (moto 5.2.5 has no ListFilters)."""

    def __init__(self, region: str) -> None:
        self.region, self.client = region, boto3.client("guardduty", region_name=region)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def get_paginator(self, name: str) -> Any:
        if name != "list_filters":
            return self.client.get_paginator(name)
        from moto.guardduty.models import guardduty_backends

        detectors = guardduty_backends[ACCOUNT][self.region].detectors

        class Pages:
            def paginate(self, DetectorId: str) -> list[dict[str, Any]]:
                return [{"FilterNames": sorted(detectors[DetectorId].filters)}]

        return Pages()


def factory(deployed: dict[str, Any], **overrides: Any) -> Any:
    def client(service: str, region: str | None = None) -> Any:
        if service in overrides:
            return overrides[service]
        if service == "cloudformation":
            return deployed["stacks"][region or REGION]
        if service == "iam":
            return deployed["iam"]
        if service == "guardduty":
            return GuardDuty(region or REGION)
        return boto3.client(service, region_name=region or REGION)

    return client


def by_name(checks: list[check.Check]) -> dict[str, check.Check]:
    return {c.name: c for c in checks}


def run(deployed: dict[str, Any], **overrides: Any) -> dict[str, check.Check]:
    return by_name(check.run_checks(factory(deployed, **overrides), region=REGION, probe=False))


def test_a_healthy_deployment_passes_every_check(deployed) -> None:
    results = run(deployed)
    assert {name: c.status for name, c in results.items()} == {
        "stack": "PASS",
        "permissions ContainKey": "PASS",
        "layer": "PASS",
        f"layer {REGION}": "PASS",
        "layer us-east-1": "PASS",
        "slack": "PASS",
        f"guardduty {REGION}": "PASS",
        "guardduty us-east-1": "PASS",
        f"suppression {REGION}": "PASS",
        "suppression us-east-1": "PASS",
        "health": "PASS",
        "cloudtrail": "PASS",
        "subscriptions": "PASS",
        "alarms": "PASS",
        "dead-letters DeadLetterQueueUrl": "PASS",
        "dead-letters CredentialResponderForwarder-us-east-1": "PASS",
    }, {n: (c.status, c.detail) for n, c in results.items()}


def test_permissions_ask_iam_for_each_mutating_action_on_a_representative_target_with_its_conditions(deployed) -> None:
    run(deployed)
    asked = [(q["ActionNames"][0], q["ResourceArns"][0], q.get("ContextEntries", [])) for q in deployed["iam"].asked]
    role = f"arn:aws:iam::{ACCOUNT}:role/credential-responder/ContainKeyRole"
    assert all(q["PolicySourceArn"] == role for q in deployed["iam"].asked[:-1])
    assert ("iam:UpdateAccessKey", f"arn:aws:iam::{ACCOUNT}:user/credential-responder-check", []) in asked
    assert (
        "ec2:CreateTags",
        f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/credential-responder-check",
        [
            {
                "ContextKeyName": "ec2:CreateAction",
                "ContextKeyValues": ["CreateSecurityGroup"],
                "ContextKeyType": "string",
            }
        ],
    ) in asked
    assert (
        "ec2:CreateTags",
        f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/credential-responder-check",
        [
            {
                "ContextKeyName": "aws:TagKeys",
                "ContextKeyValues": ["credential-responder:original-sgs"],
                "ContextKeyType": "stringList",
            }
        ],
    ) in asked
    # Reads and plumbing are not asked; the last question is the Slack secret's.
    assert not any(a.startswith(("iam:List", "logs:")) for a, _, _ in asked)
    assert asked[-1][0] == "secretsmanager:GetSecretValue"


def test_a_denied_action_fails_with_the_scp_named(deployed) -> None:
    deployed["iam"].deny = {"iam:UpdateAccessKey"}
    result = run(deployed)["permissions ContainKey"]
    assert result.status == "FAIL"
    assert "iam:UpdateAccessKey" in result.detail and "denied by an SCP" in result.detail
    assert result.fix


def test_guardduty_off_in_a_covered_region_fails_with_the_command(deployed) -> None:
    guardduty = boto3.client("guardduty", "us-east-1")
    for detector in guardduty.list_detectors()["DetectorIds"]:
        guardduty.update_detector(DetectorId=detector, Enable=False)
    result = run(deployed)["guardduty us-east-1"]
    assert result.status == "FAIL"
    assert result.fix == "aws guardduty create-detector --region us-east-1 --enable"


OUTSIDE = "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS"
INSIDE = "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.InsideAWS"


def suppress(region: str, name: str, criterion: dict[str, Any], action: str = "ARCHIVE") -> str:
    guardduty = boto3.client("guardduty", region)
    (detector,) = guardduty.list_detectors()["DetectorIds"]
    guardduty.create_filter(
        DetectorId=detector, Name=name, Action=action, Rank=1, FindingCriteria={"Criterion": criterion}
    )
    return detector


def test_a_suppression_rule_that_archives_some_stolen_credential_findings_warns_with_its_criteria(
    deployed, monkeypatch, capsys
) -> None:
    suppress(REGION, "ci-runners", {"type": {"Eq": [INSIDE]}, "resource.instanceDetails.tags.value": {"Eq": ["ci"]}})
    results = run(deployed)
    assert f"suppression {REGION}" not in results
    result = results[f"suppression {REGION} ci-runners"]
    assert result.status == "WARN"
    assert f"suppression rule ci-runners archives {INSIDE} findings when resource.instanceDetails.tags.value is ci" in (
        result.detail
    )
    assert "never reach EventBridge" in result.detail
    assert results["suppression us-east-1"].status == "PASS"
    # A warning does not fail the command.
    monkeypatch.setattr(check, "run_checks", lambda client, **kw: list(results.values()))
    assert main(["check", "--region", REGION, "--no-probe"]) == 0
    assert "ci-runners archives" in capsys.readouterr().out


def test_a_suppression_rule_that_archives_every_finding_of_a_type_fails_with_the_command(deployed) -> None:
    detector = suppress("us-east-1", "quiet-exfil", {"type": {"Eq": [OUTSIDE, "Recon:EC2/PortProbeUnprotectedPort"]}})
    result = run(deployed)["suppression us-east-1 quiet-exfil"]
    assert result.status == "FAIL"
    assert result.detail.startswith(f"suppression rule quiet-exfil archives every {OUTSIDE} finding:")
    assert "PortProbe" not in result.detail  # not a type the responder answers
    command = f"aws guardduty update-filter --region us-east-1 --detector-id {detector} --filter-name quiet-exfil"
    assert result.fix.endswith(f"{command} --action NOOP")


def test_filters_that_hide_nothing_the_responder_answers_pass(deployed) -> None:
    suppress(REGION, "saved-view", {"type": {"Eq": [OUTSIDE]}}, action="NOOP")
    suppress(REGION, "port-probes", {"type": {"Eq": ["Recon:EC2/PortProbeUnprotectedPort"]}})
    suppress(REGION, "low-severity", {"severity": {"Lt": 4}})
    suppress(REGION, "sandbox-account", {"accountId": {"Eq": ["999999999999"]}})
    result = run(deployed)[f"suppression {REGION}"]
    assert result.status == "PASS"
    assert result.detail.startswith("4 filter(s) read")


@pytest.mark.parametrize(
    ("criterion", "entirely", "partly", "when"),
    [
        # A rule without a type criterion archives every type that meets the others.
        ({"severity": {"Gte": 1}}, [OUTSIDE, INSIDE], [], ""),
        ({"severity": {"Lt": 7}}, [], [OUTSIDE, INSIDE], "severity < 7"),
        ({"type": {"Neq": [OUTSIDE]}, "accountId": {"Eq": [ACCOUNT]}}, [INSIDE], [], ""),
        (
            {"type": {"Matches": ["UnauthorizedAccess:IAMUser/*"]}, "region": {"Neq": ["eu-central-1"]}},
            [OUTSIDE, INSIDE],
            [],
            "",
        ),
        (
            {
                "type": {"Eq": [OUTSIDE]},
                "service.action.awsApiCallAction.remoteIpDetails.ipAddressV4": {"Neq": ["1.2.3.4"]},
            },
            [],
            [OUTSIDE],
            "service.action.awsApiCallAction.remoteIpDetails.ipAddressV4 is not 1.2.3.4",
        ),
        ({"type": {"NotMatches": ["*OutsideAWS", "*InsideAWS"]}, "severity": {"Gte": 9}}, [], [], None),
        ({"type": {"Eq": [OUTSIDE]}, "region": {"Eq": ["eu-central-1"]}}, [], [], None),
    ],
)
def test_what_a_suppression_rule_hides(
    criterion: dict[str, Any], entirely: list[str], partly: list[str], when: str | None
) -> None:
    rule = {"Name": "r", "Action": "ARCHIVE", "FindingCriteria": {"Criterion": criterion}}
    hidden = check.suppression(rule, account=ACCOUNT, region=REGION)
    if when is None:
        assert hidden is None or not ({OUTSIDE, INSIDE} & {*hidden.entirely, *hidden.partly}), hidden
        return
    assert hidden is not None
    assert {OUTSIDE, INSIDE} & set(hidden.entirely) == set(entirely)
    assert {OUTSIDE, INSIDE} & set(hidden.partly) == set(partly)
    assert hidden.when == when


def test_a_filter_the_operator_may_not_read_fails_with_the_permission_named(deployed) -> None:
    class Denied(GuardDuty):
        def get_paginator(self, name: str) -> Any:
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "ListFilters")

    result = run(deployed, guardduty=Denied(REGION))["suppression"]
    assert result.status == "FAIL"
    assert "operator" in result.fix


def test_us_east_1_not_covered_fails_health(deployed) -> None:
    deployed["stacks"][REGION].outputs["CoveredRegions"] = REGION
    results = run(deployed)
    assert results["health"].status == "FAIL"
    assert "us-east-1" in results["health"].fix


def test_no_trail_logging_fails(deployed) -> None:
    boto3.client("cloudtrail", REGION).stop_logging(Name="main")
    assert run(deployed)["cloudtrail"].status == "FAIL"


def test_a_pending_subscription_fails(deployed) -> None:
    class Pending:  # moto confirms every subscription at once
        def get_paginator(self, name: str) -> Any:
            class Pages:
                def paginate(self, TopicArn: str) -> list[dict[str, Any]]:
                    return [
                        {
                            "Subscriptions": [
                                {
                                    "Protocol": "email",
                                    "Endpoint": "a@example.com",
                                    "SubscriptionArn": "PendingConfirmation",
                                }
                            ]
                        }
                    ]

            return Pages()

    result = run(deployed, sns=Pending())["subscriptions"]
    assert result.status == "FAIL" and "a@example.com" in result.detail


def test_an_alarm_in_alarm_fails_and_insufficient_data_warns(deployed) -> None:
    cloudwatch = boto3.client("cloudwatch", REGION)
    cloudwatch.set_alarm_state(AlarmName="ExecutionsFailed", StateValue="ALARM", StateReason="test")
    assert run(deployed)["alarm ExecutionsFailed"].status == "FAIL"
    cloudwatch.set_alarm_state(AlarmName="ExecutionsFailed", StateValue="INSUFFICIENT_DATA", StateReason="test")
    assert run(deployed)["alarm ExecutionsFailed"].status == "WARN"


def test_a_message_in_a_dead_letter_queue_fails(deployed) -> None:
    boto3.client("sqs", REGION).send_message(QueueUrl=deployed["queue"], MessageBody="{}")
    assert run(deployed)["dead-letters DeadLetterQueueUrl"].status == "FAIL"


def test_a_missing_slack_secret_or_layer_fails(deployed) -> None:
    boto3.client("secretsmanager", REGION).delete_secret(SecretId="responder/slack", ForceDeleteWithoutRecovery=True)
    lam = boto3.client("lambda", REGION)
    lam.delete_layer_version(LayerName="powertools", VersionNumber=1)
    boto3.client("ssm", "us-east-1").delete_parameter(Name="/test/powertools")
    results = run(deployed)
    assert results["slack"].status == "FAIL" and "create-secret" in results["slack"].fix
    assert results["layer"].status == "FAIL"
    assert results["layer us-east-1"].status == "FAIL"


def test_the_probe_imports_the_handler_and_dry_runs_ec2_in_the_simulated_account(deployed, monkeypatch) -> None:
    ec2 = boto3.client("ec2", REGION)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)
    invoked = []

    def twin(lambda_client: Any, function: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
        invoked.append(event)
        return probe.handler(event, None)  # moto's Lambda invoke needs Docker

    monkeypatch.setattr(check, "invoke_twin", twin)
    functions = [
        {"FunctionName": "PreserveEvidence", "Handler": "preserve_evidence.handler.handler"},
        {"FunctionName": "Broken", "Handler": "no_such_package.handler.handler"},
    ]
    results = by_name(check._probe(factory(deployed), functions, REGION))
    assert results["probe PreserveEvidence"].status == "PASS", results["probe PreserveEvidence"].detail
    assert [call["operation"] for call in invoked[0]["ec2"]] == ["modify_instance_attribute", "create_image"]
    assert results["probe Broken"].status == "FAIL" and "does not import" in results["probe Broken"].detail
    # Nothing changed: no image was made, termination protection is still off.
    assert not ec2.describe_images(Owners=["self"])["Images"]


def test_the_probe_refuses_anything_but_a_check_event() -> None:
    with pytest.raises(ValueError, match="check"):
        probe.handler({"detail": {}}, None)


def test_the_cli_prints_the_table_and_fails_on_a_failed_check(deployed, monkeypatch, capsys) -> None:
    boto3.client("cloudtrail", REGION).stop_logging(Name="main")
    monkeypatch.setattr(
        check, "run_checks", lambda client, **kw: [check.Check("cloudtrail", "FAIL", "no trail", "create one")]
    )
    assert main(["check", "--region", REGION, "--no-probe"]) == 1
    out = capsys.readouterr().out
    assert "cloudtrail  FAIL    no trail" in out and "fix:" in out and "1 of 1 checks FAILED" in out


def test_check_help_documents_every_check(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    out = capsys.readouterr().out
    for name in (
        "permissions",
        "probe",
        "layer",
        "slack",
        "guardduty",
        "suppression",
        "health",
        "cloudtrail",
        "subscriptions",
        "alarms",
        "dead-letters",
    ):
        assert f"  {name} " in out, name


def test_commands_take_the_region_from_aws_region(monkeypatch, capsys) -> None:
    """boto3 reads AWS_DEFAULT_REGION only; the commands also honour AWS_REGION, as the AWS CLI does."""
    seen = {}

    def fake_checks(client: Any, *, stack_name: str, region: str, probe: bool) -> list[check.Check]:
        seen["region"] = region
        return [check.Check("stack", "PASS", "ok")]

    monkeypatch.setattr(check, "run_checks", fake_checks)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_REGION", "ap-southeast-2")
    assert main(["check"]) == 0
    assert seen["region"] == "ap-southeast-2"
    assert main(["check", "--region", "eu-north-1"]) == 0
    assert seen["region"] == "eu-north-1"


@pytest.mark.parametrize(
    "command",
    [["check"], ["release", "123456789012:guardduty:abc"], ["try", str(EVENT)]],
)
def test_without_any_region_the_commands_say_how_to_give_one(monkeypatch, capsys, command: list[str]) -> None:
    for key in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    assert main(command) == 2
    err = capsys.readouterr().err
    assert "--region" in err and "AWS_REGION" in err and "You must specify a region" not in err
