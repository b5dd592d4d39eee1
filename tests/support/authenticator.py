"""An authenticator app for tests: computes TOTP codes from the key the desk shows, with the
same module the server uses (checked against RFC 6238's vectors in the unit tests).

A step accepted once is refused afterwards, so each call gives a code for a step later than
the last one given: the current step, then the next (the server allows one step of drift),
then it waits for the clock.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from services.triage.domain.two_factor import (
    STEP_SECONDS,
    code_at_step,
    secret_from_text,
    step_at,
)


@dataclass
class Authenticator:
    key: str  # the manual key, as shown
    last_step: int | None = None

    async def code(self) -> str:
        while True:
            current = step_at(datetime.now(UTC))
            step = current if self.last_step is None else max(current, self.last_step + 1)
            if step <= current + 1:
                self.last_step = step
                return code_at_step(secret_from_text(self.key), step)
            await asyncio.sleep(STEP_SECONDS - time.time() % STEP_SECONDS + 0.05)

    def wrong_code(self) -> str:
        """Six digits that are none of the codes the server would accept now."""
        secret = secret_from_text(self.key)
        current = step_at(datetime.now(UTC))
        valid = {code_at_step(secret, s) for s in range(current - 2, current + 3)}
        return next(c for c in (f"{n:06d}" for n in range(1000)) if c not in valid)
