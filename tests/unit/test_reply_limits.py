"""A reply's length as each platform counts it (the rule both the API and the composer use)."""

from __future__ import annotations

import pytest

from services.triage.desk.reply_limits import check, graphemes, limit_for, measure

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"
FLAG = "\U0001f1eb\U0001f1f7"
THUMB = "\U0001f44d\U0001f3fd"


@pytest.mark.parametrize(
    ("text", "unit", "length"),
    [
        ("a" * 250 + " https://example.com/" + "p" * 200 + ".", "x", 250 + 1 + 23 + 1),
        ("see acme.com/help and www.acme.fr", "x", len("see ") + 23 + len(" and ") + 23),
        ("write to ana@acme.com", "x", len("write to ana@acme.com")),
        ("日本", "x", 4),  # CJK weighs 2
        (f"{FAMILY}{FLAG}{THUMB}", "x", 6),  # an emoji sequence weighs 2
        ("cafe\u0301", "x", 4),  # NFC: é is one code point
        (f"{FAMILY}{FLAG}{THUMB}e\u0301", "graphemes", 4),
        ("@bob@mastodon.social thanks, https://a.example/x", "mastodon", len("@bob thanks, ") + 23),
        ("é" * 10, "bytes", 20),
        ("é" * 10, "characters", 10),
    ],
)
def test_each_platform_counts_its_own_way(text: str, unit: str, length: int) -> None:
    assert measure(text, unit) == length  # type: ignore[arg-type]


def test_graphemes_keep_joined_emoji_flags_and_marks_whole() -> None:
    assert graphemes(f"a{FAMILY}{FLAG}{FLAG}e\u0301") == ["a", FAMILY, FLAG, FLAG, "e\u0301"]


def test_the_limits_follow_the_platform_and_whether_the_reply_is_private() -> None:
    assert check("x" * 280, "x", "mention").over is False
    assert check("x" * 281, "x", "reply").over is True
    assert check("x" * 281, "x", "dm").over is False  # a direct message may be 10,000
    assert limit_for("bluesky", "mention").maximum == 300  # type: ignore[union-attr]
    assert limit_for("instagram", "dm").unit == "bytes"  # type: ignore[union-attr]
    assert limit_for("other", "mention") is None
    assert check("y" * 5000, "other", "mention").over is False
