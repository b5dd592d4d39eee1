"""Whether a moderation action on a message may be asked of its platform (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

PLATFORM_NAMES = {"facebook": "Facebook", "instagram": "Instagram"}


@dataclass(frozen=True, slots=True)
class Target:
    """The message a lead wants moderated, as far as the decision needs it."""

    platform: str
    kind: str
    direction: str
    erased: bool
    last_done: str | None  # the latest action the platform confirmed (None: none yet)


def refusal(
    action: str, target: Target, supported: Mapping[str, Sequence[str]], kinds: Sequence[str]
) -> str | None:
    """Why ``action`` cannot be asked for this message (a sentence for the lead), or None.

    ``supported``: the actions each platform's connector carries out; ``kinds``: the kinds
    of message they apply to.
    """
    name = PLATFORM_NAMES.get(target.platform, target.platform.capitalize())
    if action not in supported.get(target.platform, ()):
        return f"{name} does not let Écoute {action} messages."
    if target.direction != "in":
        return "Only a customer's message can be moderated, not the brand's own."
    if target.kind not in kinds:
        return f"Only comments can be moderated: this is a {target.kind}."
    if target.erased:
        return "The message was erased."
    if target.last_done == "delete":
        return f"The comment was deleted on {name} already."
    return None


def allowed_actions(
    target: Target, supported: Mapping[str, Sequence[str]], kinds: Sequence[str]
) -> list[str]:
    """The actions a lead may ask for this message now (what the desk offers)."""
    return [
        action
        for action in supported.get(target.platform, ())
        if refusal(action, target, supported, kinds) is None
    ]
