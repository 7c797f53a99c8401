"""Every credential signal (issue 17): the Health console-compromise code, the affiliated
InsideAWS setting, GuardDuty attack sequences. The normalizer and the report's verdict."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from incident import codes
from incident.model import IntakeStatus, Kind
from incident.normalize import normalize
from infra.detection import GUARDDUTY_PATTERN, HEALTH_PATTERN
from report.outcome import CONSOLE_STEP, Outcome, collect_steps, decide
from report.render import next_steps, render_email, summary

EVENTS = Path(__file__).resolve().parent.parent / "events"


def load(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


# -- item 4: Health AWS_RISK_ACCOUNT_CONSOLE_COMPROMISE ---------------------------------------


def test_the_rule_and_the_normalizer_share_one_list_of_codes() -> None:
    assert HEALTH_PATTERN["detail"]["eventTypeCode"] == list(codes.HEALTH_CREDENTIAL_CODES)
    assert "AWS_RISK_ACCOUNT_CONSOLE_COMPROMISE" in HEALTH_PATTERN["detail"]["eventTypeCode"]
    assert GUARDDUTY_PATTERN["detail"]["type"] == list(codes.GUARDDUTY_FINDING_TYPES)


def test_console_compromise_is_an_incident_without_keys() -> None:
    intake = normalize(load("crafted/health_console_compromise.json"))
    assert intake.status == IntakeStatus.ACCEPTED, intake.reason
    incident = intake.incident
    assert incident is not None
    assert incident.kind == Kind.CONSOLE_COMPROMISE
    assert incident.affected_keys == []
    assert incident.account == "123456789012"
    assert incident.incident_id == "123456789012:health:cc7e1f0a9b3d4c5e6f708192a3b4c5d6e7f8091a2b3"


def test_console_compromise_with_a_forged_communication_id_is_ignored_naming_the_field() -> None:
    event = load("crafted/health_console_compromise.json")
    event["detail"]["communicationId"] = "<!channel> $(id)"
    intake = normalize(event)
    assert intake.status == IntakeStatus.IGNORED
    assert "detail.communicationId" in intake.reason and "<" not in intake.reason


def _console_verdict():
    incident = normalize(load("crafted/health_console_compromise.json")).incident
    assert incident is not None
    dumped = incident.model_dump(mode="json")
    state = {"intake": {"status": "accepted", "reason": "r", "incident": dumped}, "results": {}, "failures": {}}
    return dumped, decide("accepted", "r", collect_steps(state))


def test_console_compromise_fails_with_the_root_account_steps() -> None:
    incident, verdict = _console_verdict()
    assert verdict.outcome == Outcome.FAILED
    (attention,) = verdict.attention
    assert attention["name"] == CONSOLE_STEP and attention["status"] == "skipped" and attention["containment"]
    manual = attention["manual"]
    for needed in ("Sign in as the root user", "Change the root password", "MFA", "Support case"):
        assert needed in manual
    email = render_email(incident, verdict, [])
    assert email["subject"].startswith("[FAILED] Console credentials compromised in 123456789012")
    assert "Sign in as the root user of account 123456789012" in email["text"]
    assert "Stolen instance credentials" not in email["text"] and "role ?" not in email["text"]
    assert summary(incident) == "Console credentials compromised"


def test_every_exposed_key_report_says_what_aws_may_already_have_done() -> None:
    incident = normalize(load("health_exposed_key_classic.json"), accept_samples=True).incident
    assert incident is not None
    dumped = incident.model_dump(mode="json")
    verdict = decide("accepted", "r", [])
    texts = " ".join(step.text for step in next_steps(dumped, verdict))
    assert "AWSCompromisedKeyQuarantineV3" in texts and "AWS_RISK_IAM_QUARANTINE" in texts
    assert "RunInstances" in texts and "Support case" in texts
    links = [step.link for step in next_steps(dumped, verdict) if step.link]
    assert any("support.console.aws.amazon.com" in link.url for link in links)


def test_an_exposed_key_code_is_not_mistaken_for_console_compromise() -> None:
    event = copy.deepcopy(load("crafted/health_console_compromise.json"))
    event["detail"]["eventTypeCode"] = "AWS_RISK_CREDENTIALS_EXPOSED"
    intake = normalize(event)
    # The account id in affectedEntities is no key: an exposed-key event without a key is invalid.
    assert intake.status == IntakeStatus.IGNORED and "access key id" in intake.reason


# -- item 5: ...InsideAWS from an affiliated account -------------------------------------------

AFFILIATED = "crafted/guardduty_exfil_inside_affiliated.json"


def test_affiliated_inside_aws_is_contained_by_default_and_says_why() -> None:
    incident = normalize(load(AFFILIATED)).incident
    assert incident is not None
    assert incident.report_only is None
    assert incident.decision is not None
    assert incident.decision.startswith("affiliatedInsideAws=contain")
    assert "444455556666" in incident.decision


def test_affiliated_inside_aws_notify_reports_only() -> None:
    incident = normalize(load(AFFILIATED), affiliated_inside_aws="notify").incident
    assert incident is not None
    assert incident.report_only and incident.report_only.startswith("affiliatedInsideAws=notify")
    dumped = incident.model_dump(mode="json")
    state = {"intake": {"status": "accepted", "reason": "r", "incident": dumped}, "results": {}, "failures": {}}
    verdict = decide("accepted", "r", collect_steps(state))
    assert verdict.outcome == Outcome.FAILED
    assert verdict.reason.startswith("containment skipped: affiliatedInsideAws=notify")
    (attention,) = verdict.attention
    assert "Revoke active sessions" in attention["manual"]
    assert "Decision:" in render_email(dumped, verdict, [])["text"]


def test_an_unaffiliated_or_outside_finding_ignores_the_setting() -> None:
    event = load(AFFILIATED)
    event["detail"]["service"]["action"]["awsApiCallAction"]["remoteAccountDetails"]["affiliated"] = False
    incident = normalize(event, affiliated_inside_aws="notify").incident
    assert incident is not None and incident.report_only is None and incident.decision is None
    outside = load(AFFILIATED)
    outside["detail"]["type"] = "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS"
    incident = normalize(outside, affiliated_inside_aws="notify").incident
    assert incident is not None and incident.report_only is None


def test_affiliated_setting_is_validated_naming_its_key() -> None:
    import pytest

    from infra.config import ConfigError, ResponderConfig

    assert ResponderConfig().affiliated_inside_aws == "contain"
    assert ResponderConfig.from_context({"affiliatedInsideAws": "notify"}.get).affiliated_inside_aws == "notify"
    with pytest.raises(ConfigError, match="affiliatedInsideAws"):
        ResponderConfig.from_context({"affiliatedInsideAws": "ignore"}.get)
