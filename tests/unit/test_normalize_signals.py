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
from report.next_steps import left_for_a_person
from report.outcome import CONSOLE_STEP, Outcome, collect_steps, decide
from report.render import render_email, summary

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
    # Whoever held the key: the account-level holds are said even when nothing was contained.
    verdict = decide("accepted", "r", [])
    texts = " ".join(action.text for action in left_for_a_person(dumped, verdict))
    assert "RunInstances" in texts and "Support case" in texts
    links = [action.link for action in left_for_a_person(dumped, verdict) if action.link]
    assert any("support.console.aws.amazon.com" in link.url for link in links)
    # AWS's quarantine policy is said once an IAM user holds the key (not for the root user, or a console sign-in).
    dumped["affected_keys"][0]["user_name"] = "ci-deployer"
    dumped["user_names"] = ["ci-deployer"]
    texts = " ".join(action.text for action in left_for_a_person(dumped, verdict))
    assert "AWSCompromisedKeyQuarantineV3" in texts and "AWS_RISK_IAM_QUARANTINE" in texts


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


# -- items 1 and 6: AttackSequence:IAM/CompromisedCredentials --------------------------------

USER_KEY = "crafted/guardduty_attack_sequence_iam_user_key.json"
ASSUMED_ROLE = "crafted/guardduty_attack_sequence_iam_assumed_role.json"
PUBLISHED = "crafted/guardduty_attack_sequence_iam_published_no_principal.json"


def sequence_of(event: dict) -> dict:
    return event["detail"]["service"]["detection"]["sequence"]


def verdict_of(incident) -> tuple[dict, object]:
    dumped = incident.model_dump(mode="json")
    state = {"intake": {"status": "accepted", "reason": "r", "incident": dumped}, "results": {}, "failures": {}}
    return dumped, decide("accepted", "r", collect_steps(state))


def test_the_rule_matches_the_credential_attack_sequence() -> None:
    assert "AttackSequence:IAM/CompromisedCredentials" in GUARDDUTY_PATTERN["detail"]["type"]


def test_a_sequence_naming_a_users_key_is_an_exposed_key_incident() -> None:
    intake = normalize(load(USER_KEY))
    assert intake.status == IntakeStatus.ACCEPTED, intake.reason
    incident = intake.incident
    assert incident is not None and incident.kind == Kind.EXPOSED_ACCESS_KEY
    assert incident.access_key_ids == ["AKIA3UBBJ2K3TLEAKED1"] and incident.user_names == ["ci-deployer"]
    assert incident.report_only is None and incident.unresolved == []
    assert incident.finding_id == "a1b2c3d4e5f60718293a4b5c6d7e8f90"


def test_the_key_may_come_from_an_access_key_resource_alone() -> None:
    event = load(USER_KEY)
    sequence_of(event)["actors"] = []
    incident = normalize(event).incident
    assert incident is not None and incident.access_key_ids == ["AKIA3UBBJ2K3TLEAKED1"]
    assert incident.user_names == ["ci-deployer"]


def test_a_sequence_naming_an_assumed_role_session_revokes_the_role() -> None:
    incident = normalize(load(ASSUMED_ROLE)).incident
    assert incident is not None and incident.kind == Kind.INSTANCE_CREDENTIAL_EXFILTRATION
    assert incident.role_name == "web-app-role"
    assert incident.principal_id == "AROA987654321EXAMPLE:i-0f8e7d6c5b4a39281"
    # The session name looks like an instance id, but nothing structured says it is one: no guess.
    assert incident.instance_id is None


def test_the_published_body_without_a_structured_principal_fails_without_a_guess() -> None:
    intake = normalize(load(PUBLISHED))
    assert intake.status == IntakeStatus.ACCEPTED, intake.reason
    incident = intake.incident
    assert incident is not None and incident.kind == Kind.ATTACK_SEQUENCE
    assert incident.report_only and incident.affected_keys == [] and incident.role_name is None
    # The free text names john_doe and account 111122223333: neither becomes a target.
    assert "john_doe" not in incident.model_dump_json()
    assert "111122223333" not in incident.model_dump_json()
    dumped, verdict = verdict_of(incident)
    assert verdict.outcome == Outcome.FAILED
    (attention,) = verdict.attention
    assert "GuardDuty console" in attention["manual"]
    email = render_email(dumped, verdict, [])
    assert email["subject"].startswith("[FAILED] Attack sequence AttackSequence:IAM/CompromisedCredentials")


def test_another_accounts_principal_and_root_are_failed_steps_with_the_reason() -> None:
    event = load(USER_KEY)
    actor = sequence_of(event)["actors"][0]
    sequence_of(event)["resources"] = []
    root = {"id": "USER:root", "user": {"name": "root", "uid": "123456789012", "type": "Root"}}
    foreign = {
        "id": "USER:other",
        "user": {"name": "ops", "uid": "AIDAOTHER", "type": "IAMUser", "account": {"uid": "210987654321"}},
    }
    sequence_of(event)["actors"] = [actor, root, foreign]
    incident = normalize(event).incident
    assert incident is not None and incident.access_key_ids == ["AKIA3UBBJ2K3TLEAKED1"]
    assert len(incident.unresolved) == 2
    assert any("root user" in reason for reason in incident.unresolved)
    assert any("210987654321" in reason for reason in incident.unresolved)
    _, verdict = verdict_of(incident)
    failed = [s for s in verdict.steps if s["name"] == "contain-sequence-principal"]
    assert len(failed) == 2 and all(s["status"] == "failed" and s["manual"] for s in failed)
    assert verdict.outcome == Outcome.FAILED  # no containment ran in this unit test


def test_only_root_is_report_only() -> None:
    event = load(USER_KEY)
    sequence_of(event)["actors"] = [{"id": "USER:root", "user": {"name": "root", "type": "Root"}}]
    sequence_of(event)["resources"] = []
    incident = normalize(event).incident
    assert incident is not None and incident.kind == Kind.ATTACK_SEQUENCE and incident.report_only


def test_a_user_named_without_a_key_id_is_not_guessed() -> None:
    event = load(USER_KEY)
    del sequence_of(event)["actors"][0]["user"]["credentialUid"]
    sequence_of(event)["resources"] = []
    incident = normalize(event).incident
    assert incident is not None and incident.report_only and incident.affected_keys == []
    assert "no access key id" in incident.unresolved[0]


def test_more_actors_than_the_setting_are_only_reported() -> None:
    event = load(USER_KEY)
    sequence_of(event)["resources"] = []
    actors = []
    for index in range(4):
        key = f"AKIA3UBBJ2K3TLEAKE{index:02d}"
        actors.append(
            {"id": f"USER:{index}", "user": {"name": f"user-{index}", "type": "IAMUser", "credentialUid": key}}
        )
    sequence_of(event)["actors"] = actors
    incident = normalize(event).incident
    assert incident is not None and len(incident.access_key_ids) == 4
    assert incident.report_only and "attackSequenceMaxActors=3" in incident.report_only
    incident = normalize(event, attack_sequence_max_actors=4).incident
    assert incident is not None and incident.report_only is None
    two = normalize(load(USER_KEY), attack_sequence_max_actors=1).incident
    assert two is not None and two.report_only is None


def test_sample_and_archived_sequences_are_ignored() -> None:
    event = load(USER_KEY)
    event["detail"]["service"]["additionalInfo"] = {"sample": True, "type": "default", "value": '{"sample":true}'}
    assert normalize(event).reason.startswith("sample-finding")
    event = load(USER_KEY)
    event["detail"]["service"]["archived"] = True
    assert normalize(event).reason.startswith("archived-finding")


def test_hostile_names_in_a_sequence_are_not_targets() -> None:
    event = load(USER_KEY)
    sequence_of(event)["actors"][0]["user"]["name"] = "<!channel> $(id)"
    sequence_of(event)["resources"] = []
    incident = normalize(event).incident
    assert incident is not None and incident.affected_keys == []
    assert "<" not in incident.unresolved[0] and "$(" not in incident.unresolved[0]


def test_attack_sequence_max_actors_is_validated_naming_its_key() -> None:
    import pytest

    from infra.config import ConfigError, ResponderConfig

    assert ResponderConfig().attack_sequence_max_actors == 3
    with pytest.raises(ConfigError, match="attackSequenceMaxActors"):
        ResponderConfig.from_context({"attackSequenceMaxActors": 0}.get)


# -- issue 23: the attacker's whole reach from an attack sequence ---------------------------------------------


def _sequence_with(**change: object) -> dict:
    event = load("crafted/guardduty_attack_sequence_iam_user_key.json")
    sequence = event["detail"]["service"]["detection"]["sequence"]
    for key, value in change.items():
        sequence[key] = value
    return event


def test_two_keys_of_one_user_are_two_credentials() -> None:
    event = load("crafted/guardduty_attack_sequence_iam_user_key.json")
    sequence = event["detail"]["service"]["detection"]["sequence"]
    second = copy.deepcopy(sequence["resources"][0])
    second["uid"] = second["name"] = "AKIA3UBBJ2K3TSECOND2"
    sequence["resources"].append(second)

    incident = normalize(event, accept_samples=True).incident

    assert incident is not None and incident.kind == Kind.EXPOSED_ACCESS_KEY
    assert incident.access_key_ids == ["AKIA3UBBJ2K3TLEAKED1", "AKIA3UBBJ2K3TSECOND2"]
    assert incident.user_names == ["ci-deployer"]


def test_a_role_beside_keys_is_deferred_to_the_roles_containment_and_followed_by_the_reach() -> None:
    from investigate.seeds import seeds_of

    event = load("crafted/guardduty_attack_sequence_iam_user_key.json")
    sequence = event["detail"]["service"]["detection"]["sequence"]
    sequence["actors"].append(
        {
            "id": "ROLE",
            "user": {
                "name": "deploy-role",
                "uid": "AROAEXAMPLE:s",
                "type": "AssumedRole",
                "credentialUid": "ASIA3UBBJ2K3TSESSION",
                "account": {"uid": "123456789012"},
            },
        }
    )

    incident = normalize(event, accept_samples=True).incident

    assert incident is not None and incident.access_key_ids == ["AKIA3UBBJ2K3TLEAKED1"]
    assert [u.split(": ", 1)[1] for u in incident.unresolved] == [
        "role deploy-role (keys contained first; revoke its sessions by hand)"
    ]
    assert [seed.id for seed in seeds_of(incident) if seed.kind == "role"] == ["deploy-role"]


def test_the_sequences_endpoints_are_the_attackers_addresses() -> None:
    incident = normalize(load("crafted/guardduty_attack_sequence_iam_user_key.json"), accept_samples=True).incident
    assert incident is not None and incident.attacker_ips == ["198.51.100.77"]
    forged = _sequence_with(endpoints=[{"ip": "<!channel> $(id)"}, {"ip": "203.0.113.9"}])
    incident = normalize(forged, accept_samples=True).incident
    assert incident is not None and incident.attacker_ips == ["203.0.113.9"]
