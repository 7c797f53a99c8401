"""common.cutoff: what counts as a cut-off when read back, shared by the user and the role revokes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from common.cutoff import condition_value, cutoff_at, cutoff_of, deny_older_sessions, later_cutoff
from common.policies import read_inline_policy

T = "2026-12-01T10:00:00Z"
AT_T = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def test_a_cut_off_rounds_up_so_that_every_session_issued_so_far_is_before_it():
    assert cutoff_at(datetime(2026, 12, 1, 9, 59, 59, 1, tzinfo=UTC)) == T
    assert cutoff_at(AT_T) == T


def test_reads_the_cut_off_of_a_deny_on_every_action_written_by_hand_in_any_case():
    policy = {
        "Statement": {
            "Effect": "Deny",
            "Action": ["*"],
            "Resource": "*",
            "Condition": {"dateLessThan": {"AWS:TokenIssueTime": [T]}},
        }
    }
    assert cutoff_of(policy) == AT_T


def test_a_deny_on_some_actions_only_is_no_cut_off():
    narrow = deny_older_sessions(T)
    narrow["Statement"][0]["Action"] = "s3:*"
    assert cutoff_of(narrow) is None
    allow = deny_older_sessions(T)
    allow["Statement"][0]["Effect"] = "Allow"
    assert cutoff_of(allow) is None
    assert cutoff_of(None) is None
    assert condition_value({"Statement": ["not a statement"]}, "DateLessThan", "aws:TokenIssueTime") is None


def test_a_deny_narrowed_by_another_condition_or_to_some_resources_is_no_cut_off():
    """An attacker who can write the policy first must not make a weaker deny pass for the cut-off
    (the step would then say already done while the old sessions still work from elsewhere)."""
    from_one_ip = deny_older_sessions(T)
    from_one_ip["Statement"][0]["Condition"]["IpAddress"] = {"aws:SourceIp": "203.0.113.7/32"}
    assert cutoff_of(from_one_ip) is None
    with_mfa_only = deny_older_sessions(T)
    with_mfa_only["Statement"][0]["Condition"]["DateLessThan"]["aws:MultiFactorAuthPresent"] = "false"
    assert cutoff_of(with_mfa_only) is None
    one_bucket = deny_older_sessions(T)
    one_bucket["Statement"][0]["Resource"] = "arn:aws:s3:::logs/*"
    assert cutoff_of(one_bucket) is None
    no_condition = deny_older_sessions(T)
    del no_condition["Statement"][0]["Condition"]
    assert cutoff_of(no_condition) is None


def test_the_session_deny_is_read_only_when_it_is_the_statement_s_one_condition():
    session = "AROAEXAMPLE:i-0123456789abcdef0"
    deny = {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {}}]}
    deny["Statement"][0]["Condition"] = {"StringEquals": {"aws:userid": session}}
    assert condition_value(deny, "StringEquals", "aws:userid") == session
    deny["Statement"][0]["Condition"]["StringEquals"]["aws:SourceVpc"] = "vpc-1"
    assert condition_value(deny, "StringEquals", "aws:userid") is None


def test_an_unreadable_time_is_no_cut_off():
    assert cutoff_of(deny_older_sessions("yesterday")) is None


def test_a_later_cut_off_in_the_same_policy_stands_an_earlier_or_another_one_does_not():
    build = deny_older_sessions
    later = deny_older_sessions("2026-12-01T10:05:00Z")
    assert later_cutoff(later, AT_T, build) == "2026-12-01T10:05:00Z"
    assert later_cutoff(deny_older_sessions(T), AT_T, build) == T  # at not_before counts
    assert later_cutoff(deny_older_sessions("2026-12-01T09:59:59Z"), AT_T, build) is None
    with_sid = deny_older_sessions("2026-12-01T10:05:00Z", sid="SomeoneElses")
    assert later_cutoff(with_sid, AT_T, build) is None  # not the policy this function writes
    assert later_cutoff(None, AT_T, build) is None


def _raises(code: str):
    def get() -> dict:
        raise ClientError({"Error": {"Code": code, "Message": "m"}}, "GetRolePolicy")

    return get


def test_an_inline_policy_iam_says_is_not_there_reads_as_none_and_any_other_error_raises() -> None:
    assert read_inline_policy(_raises("NoSuchEntity")) is None
    with pytest.raises(ClientError):
        read_inline_policy(_raises("AccessDenied"))
    document = deny_older_sessions("2026-12-01T00:00:00Z")
    assert read_inline_policy(lambda: {"PolicyDocument": document}) == document
    # A client that hands back the JSON text rather than the decoded document.
    assert read_inline_policy(lambda: {"PolicyDocument": json.dumps(document)}) == document
