"""Whether a moderation action on a message may be asked of its platform (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

PLATFORM_NAMES = {"facebook": "Facebook", "instagram": "Instagram"}


def refusal(
    action: str,
    *,
    platform: str,
    kind: str,
    direction: str,
    erased: bool,
    last_done: str | None,
    supported: Mapping[str, Sequence[str]],
    kinds: Sequence[str],
) -> str | None:
    """Why ``action`` cannot be asked for this message (a sentence for the lead), or None.

    ``supported``: the actions each platform's connector carries out; ``kinds``: the kinds
    of message they apply to; ``last_done``: the message's latest confirmed action.
    """
    name = PLATFORM_NAMES.get(platform, platform.capitalize())
    if action not in supported.get(platform, ()):
        return f"{name} does not let Écoute {action} messages."
    if direction != "in":
        return "Only a customer's message can be moderated, not the brand's own."
    if kind not in kinds:
        return f"Only comments can be moderated: this is a {kind}."
    if erased:
        return "The message was erased."
    if last_done == "delete":
        return f"The comment was deleted on {name} already."
    return None


def allowed_actions(
    *,
    platform: str,
    kind: str,
    direction: str,
    erased: bool,
    last_done: str | None,
    supported: Mapping[str, Sequence[str]],
    kinds: Sequence[str],
) -> list[str]:
    """The actions a lead may ask for this message now (what the desk offers)."""
    return [
        action
        for action in supported.get(platform, ())
        if refusal(
            action,
            platform=platform,
            kind=kind,
            direction=direction,
            erased=erased,
            last_done=last_done,
            supported=supported,
            kinds=kinds,
        )
        is None
    ]
