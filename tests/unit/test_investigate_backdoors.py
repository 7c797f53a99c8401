"""What the reach holds, as a person opens it in the console: each item with its verdict and a link."""

from __future__ import annotations

from investigate.backdoors import console_host, created_entities
from reach.graph import Item, Kind
from reach.judge import Judgement, Verdict

ATTACKER = Judgement(Verdict.ATTACKER, "unexplained-source", "...")
OWNER = Judgement(Verdict.OWNER, "before-window", "...")


def test_created_entities_have_console_links_and_verdicts() -> None:
    items = [
        Item(Kind.USER, "AIDA1", "user a b", ATTACKER, 1, user="a b", names=["a b"]),
        Item(Kind.ROLE, "r", "role r", OWNER, 1, role="r"),
        Item(Kind.ACCESS_KEY, "AKIA1", "key", ATTACKER, 1, user="a b"),
        Item(Kind.SESSION, "ASIA1", "session", ATTACKER, 1, role="deploy"),
        Item(Kind.GRANT, "g", "grant", ATTACKER, 1),
    ]
    assert created_entities(items, "eu-west-1") == [
        {
            "type": "iam-user",
            "verdict": "attacker",
            "name": "a b",
            "console": "https://console.aws.amazon.com/iam/home#/users/details/a%20b",
        },
        {
            "type": "iam-role",
            "verdict": "owner",
            "name": "r",
            "console": "https://console.aws.amazon.com/iam/home#/roles/details/r",
        },
        {
            "type": "access-key",
            "verdict": "attacker",
            "user": "a b",
            "id": "AKIA1",
            "console": "https://console.aws.amazon.com/iam/home#/users/details/a%20b?section=security_credentials",
        },
        {"type": "session", "verdict": "attacker", "access_key_id": "ASIA1", "role": "deploy"},
    ]


def test_console_host_per_partition() -> None:
    assert [console_host(r) for r in ("us-east-1", "us-gov-west-1", "cn-north-1")] == [
        "console.aws.amazon.com",
        "console.amazonaws-us-gov.com",
        "console.amazonaws.cn",
    ]
