"""Cutting text that a channel cannot hold whole, without cutting its words.

Reasoning (why a step did what it did, why an outcome) is kept whole wherever it is stored; a
channel with a limit (a Slack block, an SNS message, a timeline entry) shows it cut at a word
boundary and ended by a marker that says where the rest is. Only a token longer than half the
room (an ARN, a URL, a run of one character) is cut inside itself.
"""

from __future__ import annotations

# What every cut the report and the record make ends with, so that a reader knows there is more.
IN_RECORD = " […cut here: the full text is in the incident record]"


def cut(text: str, limit: int, marker: str = "…") -> str:
    """`text` when it fits in `limit` characters; otherwise its longest prefix that ends at a word
    boundary and fits with `marker`, followed by `marker`."""
    if len(text) <= limit:
        return text
    room = limit - len(marker)
    if room <= 0:
        return marker[:limit]
    head = text[: room + 1]  # one more: a space right after the room ends a whole word
    boundary = head.rfind(" ")
    # A boundary that would give up more than half the room sits before one long token (an ARN, a
    # URL): that token is cut instead.
    kept = head[:boundary] if boundary > room // 2 else text[:room]
    return kept.rstrip() + marker
