"""``python -m services.inbox serve | worker | migrate | create-token``."""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid

from services.inbox.ingest.store import SCOPES
from services.inbox.settings import InboxSettings
from services.infra import logs
from services.infra.serve import add_service_commands, serve_or_work

TOKEN_PREFIXES = {"ingest": "eci", "channels": "ecc"}
"""A leaked token's kind at a glance."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.inbox", description="Écoute inbox: the edge to the platforms."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    add_service_commands(
        commands,
        serve="serve the ingest API (INBOX_PORT, default 8080)",
        worker="only poll channels and deliver replies (probes and metrics on INBOX_PORT)",
        migrate="apply the inbox's database migrations",
    )
    token = commands.add_parser(
        "create-token",
        aliases=["create-ingest-token"],
        help="create an inbox token for a workspace; prints it",
    )
    token.add_argument("--workspace", required=True, type=uuid.UUID)
    token.add_argument(
        "--scope",
        choices=SCOPES,
        default="ingest",
        help="ingest: a producer's (POST /v1/ingest); channels: a workspace admin's "
        "(/v1/channels: connect platform accounts). Default %(default)s",
    )
    token.add_argument("--name", default=None, help="a label (default: the scope)")
    token.add_argument(
        "--token", default=None, help="use this token instead of a random one (demo and scripts)"
    )
    args = parser.parse_args(argv)

    settings = InboxSettings()
    logs.configure("inbox", settings.log_level)
    url = settings.direct_url()  # migrations and one-shot commands: never through a pooler
    if args.command == "migrate":
        from services.infra.migrate import migrate_command

        return migrate_command(url, "inbox", check=args.check)
    if args.command in ("create-token", "create-ingest-token"):
        name = args.name or args.scope
        print(asyncio.run(_create_token(url, args.workspace, name, args.scope, args.token)))
        return 0
    from services.inbox.app import create_app

    return serve_or_work(args.command, settings, create_app, "run_workers")


async def _create_token(
    url: str, workspace: uuid.UUID, name: str, scope: str, token: str | None
) -> str:
    from services.inbox.ingest.store import create_ingest_token
    from services.infra.auth import new_token
    from services.infra.db import create_engine

    token = token or new_token(TOKEN_PREFIXES[scope])
    engine = create_engine(url, 1)
    try:
        async with engine.begin() as conn:
            await create_ingest_token(conn, workspace, token, name, scope)
    finally:
        await engine.dispose()
    return token


if __name__ == "__main__":
    sys.exit(main())
