"""``python -m services.triage reseal-two-factor`` (or ``python -m
services.triage.access.reseal_two_factor``): seal every TOTP secret with the current key
(``TRIAGE_TWO_FACTOR_KEY``), so that the old keys (``TRIAGE_TWO_FACTOR_OLD_KEYS``) can be
dropped once it reports no row left behind.

Rows are read in batches in key order, each batch locked and rewritten in one transaction
(a sign-in of the same user waits for it, milliseconds). It prints its counts as JSON:
``resealed``, ``already_current`` and ``unreadable`` with the workspace and user ids of
each unreadable row (never a secret); the exit status is 1 if any row is unreadable, 2 if
no key is configured or a key is malformed. Running it again is harmless.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from dataclasses import dataclass, field

import orjson
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.infra import logs
from services.infra.db import create_engine
from services.infra.secretbox import SecretBox, SecretBoxError
from services.triage.access import store, two_factor
from services.triage.settings import TriageSettings

DEFAULT_BATCH = 500


@dataclass
class Counts:
    resealed: int = 0
    already_current: int = 0
    unreadable: list[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=list)

    def report(self) -> dict[str, object]:
        return {
            "resealed": self.resealed,
            "already_current": self.already_current,
            "unreadable": len(self.unreadable),
            "unreadable_rows": [
                {"workspace_id": str(ws), "user_id": str(user)} for ws, user in self.unreadable
            ],
        }


async def reseal_all(
    engine: AsyncEngine, box: SecretBox, batch_size: int = DEFAULT_BATCH
) -> Counts:
    """Re-seal every row of ``triage.two_factor`` that is not sealed with the current key."""
    counts = Counts()
    after = (uuid.UUID(int=0), uuid.UUID(int=0))
    while True:
        async with engine.begin() as conn:
            rows = await store.lock_secrets_after(conn, after, batch_size)
            for row in rows:
                sealed = bytes(row.secret)
                try:
                    opened = two_factor.unseal(box, row.workspace_id, row.user_id, sealed)
                except SecretBoxError:
                    counts.unreadable.append((row.workspace_id, row.user_id))
                    continue
                if await two_factor.reseal(
                    conn, box, row.workspace_id, row.user_id, opened, sealed
                ):
                    counts.resealed += 1
                else:
                    counts.already_current += 1
        if len(rows) < batch_size:
            return counts
        after = (rows[-1].workspace_id, rows[-1].user_id)


DESCRIPTION = "Seal every TOTP secret with TRIAGE_TWO_FACTOR_KEY (after a key rotation)."


def positive_int(value: str) -> int:
    size = int(value)
    if size < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return size


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options, on its own parser or on ``python -m services.triage``'s."""
    parser.add_argument(
        "--batch-size", type=positive_int, default=DEFAULT_BATCH, help="rows per transaction"
    )


def run(batch_size: int) -> int:
    """Read the settings, reseal every row, print the counts; the exit status."""
    try:
        settings = TriageSettings()
    except ValidationError as exc:
        print(f"reseal-two-factor: {exc}", file=sys.stderr)
        return 2
    logs.configure("triage", settings.log_level)
    box = settings.two_factor_box()
    if box is None:
        print("reseal-two-factor: TRIAGE_TWO_FACTOR_KEY is not set", file=sys.stderr)
        return 2
    counts = asyncio.run(_run(settings.direct_url(), box, batch_size))
    print(orjson.dumps(counts.report()).decode())
    return 1 if counts.unreadable else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.triage.access.reseal_two_factor", description=DESCRIPTION
    )
    add_arguments(parser)
    return run(parser.parse_args(argv).batch_size)


async def _run(url: str, box: SecretBox, batch_size: int) -> Counts:
    engine = create_engine(url, 1)
    try:
        return await reseal_all(engine, box, batch_size)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
