"""A fault every fake can switch on: the post is made, then its answer is held.

A slow or lost answer after the platform acted is what makes a sender unsure whether its
post exists; a test kills (or times out) the sender while the answer is held.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


@dataclass
class HeldAnswers:
    remaining: int = 0
    seconds: float = 0.0
    holding: int = 0  # answers held right now

    def arm(self, seconds: float, count: int = 1) -> None:
        """The next ``count`` answers wait ``seconds`` before they leave."""
        self.remaining, self.seconds = count, seconds

    async def hold(self) -> None:
        """Called after the post is made: waits if armed."""
        if self.remaining <= 0:
            return
        self.remaining -= 1
        self.holding += 1
        try:
            await asyncio.sleep(self.seconds)
        finally:
            self.holding -= 1


class HoldsAnswers:
    """What a fake's state offers tests to hold its post answers (``held_answers`` is the
    state's own ``HeldAnswers``, awaited by its post handler)."""

    held_answers: HeldAnswers

    def hold_post_answers(self, seconds: float, count: int = 1) -> None:
        """The next ``count`` posts are made, then their answers are held ``seconds``: a slow
        or lost answer, so a client can die (or time out) after the post exists."""
        self.held_answers.arm(seconds, count)

    @property
    def posts_held(self) -> int:
        """Posts made whose answer is held right now."""
        return self.held_answers.holding
