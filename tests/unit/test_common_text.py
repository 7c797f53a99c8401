"""common.text.cut: what a channel cannot hold whole is cut at a word boundary, and says so."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from common.text import IN_RECORD, cut

WORDS = st.lists(st.text(alphabet="abcdefghij", min_size=1, max_size=12), min_size=1, max_size=80).map(" ".join)


def test_text_that_fits_is_unchanged() -> None:
    assert cut("the second look-up", 18) == "the second look-up"


def test_a_cut_falls_between_words_and_ends_with_the_marker() -> None:
    text = "CloudTrail delivers events up to 15 minutes late: the second look-up, after that lag, acts on it"
    assert cut(text, 60) == "CloudTrail delivers events up to 15 minutes late: the…"
    assert cut(text, 90, IN_RECORD) == "CloudTrail delivers events up to 15" + IN_RECORD


def test_one_token_longer_than_half_the_room_is_cut_inside() -> None:
    arn = "arn:aws:iam::123456789012:role/" + "r" * 80
    assert cut(f"role {arn} was revoked", 40) == f"role {arn}"[:39] + "…"


@given(WORDS, st.integers(min_value=2, max_value=400))
def test_every_cut_fits_and_keeps_whole_words(text: str, limit: int) -> None:
    result = cut(text, limit)
    assert len(result) <= limit
    if result != text:
        kept = result.removesuffix("…")
        assert text.startswith(kept)
        # Words of at most 12 characters: the room is never given up for one, so the cut is between words.
        if limit > 30:
            assert text[len(kept)] == " "
