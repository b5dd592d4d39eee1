"""Which moderation actions a lead may ask of a message's platform, and why not (pure)."""

from __future__ import annotations

import pytest

from services.infra.platforms import MODERATED_KINDS, MODERATION, NO_MODERATION, PLATFORMS
from services.triage.domain.moderation import Target, allowed_actions, refusal


def target(**changes: object) -> Target:
    values: dict[str, object] = {
        "platform": "facebook",
        "kind": "comment",
        "direction": "in",
        "erased": False,
        "last_done": None,
    }
    values.update(changes)
    return Target(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("action", "changes", "why"),
    [
        ("hide", {}, None),
        ("delete", {"platform": "instagram", "kind": "reply"}, None),
        ("unhide", {"last_done": "hide"}, None),
        ("hide", {"platform": "x", "kind": "mention"}, "X does not let Écoute hide messages."),
        (
            "hide",
            {"platform": "messenger", "kind": "dm"},
            "Messenger does not let Écoute hide messages.",
        ),
        (
            "hide",
            {"direction": "out"},
            "Only a customer's message can be moderated, not the brand's own.",
        ),
        (
            "hide",
            {"platform": "instagram", "kind": "mention"},
            "Only comments can be moderated: this is a mention.",
        ),
        ("hide", {"erased": True}, "The message was erased."),
        ("hide", {"platform": "threads", "kind": "reply"}, None),
        (  # Threads deletes only the brand's own posts
            "delete",
            {"platform": "threads", "kind": "reply"},
            "Threads does not let Écoute delete messages.",
        ),
        (
            "hide",
            {"platform": "threads", "kind": "mention"},
            "Only comments can be moderated: this is a mention.",
        ),
        ("hide", {"last_done": "delete"}, "The comment was deleted on Facebook already."),
    ],
)
def test_refusals_say_why(action: str, changes: dict[str, object], why: str | None) -> None:
    assert refusal(action, target(**changes), MODERATION, MODERATED_KINDS) == why


def test_the_desk_offers_every_action_until_the_comment_is_deleted() -> None:
    assert allowed_actions(target(), MODERATION, MODERATED_KINDS) == ["hide", "unhide", "delete"]
    assert allowed_actions(target(last_done="delete"), MODERATION, MODERATED_KINDS) == []
    assert allowed_actions(target(platform="bluesky"), MODERATION, MODERATED_KINDS) == []


def test_every_platform_either_moderates_or_says_why_not() -> None:
    assert set(MODERATION) | set(NO_MODERATION) == set(PLATFORMS)
    assert not set(MODERATION) & set(NO_MODERATION)
