"""``python -m services.triage serve | worker | migrate | create-workspace``."""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid

import orjson

from services.infra import logs
from services.triage.settings import TriageSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.triage", description="Écoute triage: the agents' desk."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="serve the agent API and UI (TRIAGE_PORT, default 8081)")
    commands.add_parser(
        "worker",
        help="only consume events and raise SLA transitions (probes and metrics on TRIAGE_PORT)",
    )
    migrate = commands.add_parser("migrate", help="apply triage's database migrations")
    migrate.add_argument(
        "--check",
        action="store_true",
        help="apply nothing; exit 0 if up to date, 3 if migrations are pending",
    )
    workspace = commands.add_parser(
        "create-workspace", help="create a workspace with one user and an API token (JSON out)"
    )
    workspace.add_argument("--name", required=True)
    workspace.add_argument("--id", type=uuid.UUID, default=None)
    workspace.add_argument("--email", required=True)
    workspace.add_argument("--role", choices=("agent", "lead", "admin"), default="agent")
    workspace.add_argument(
        "--token", default=None, help="use this API token instead of a random one (demo, scripts)"
    )
    args = parser.parse_args(argv)

    settings = TriageSettings()
    logs.configure("triage", settings.log_level)
    url = settings.database_url.get_secret_value()
    if args.command == "migrate":
        from services.infra.migrate import upgrade

        if args.check:
            from services.infra.migrate import is_current

            return 0 if is_current(url, "triage") else 3
        upgrade(url, "triage@head")
        return 0
    if args.command == "create-workspace":
        result = asyncio.run(_create_workspace(url, args))
        print(orjson.dumps(result).decode())
        return 0
    from services.infra.serve import run
    from services.triage.app import create_app

    worker = args.command == "worker"
    if worker:
        settings = settings.model_copy(update={"run_consumer": True})
    run(create_app(settings, api=not worker), settings.host, settings.port)
    return 0


async def _create_workspace(url: str, args: argparse.Namespace) -> dict[str, str]:
    from services.infra.auth import new_token
    from services.infra.db import create_engine
    from services.triage.store import create_api_token, create_user, create_workspace

    token = args.token or new_token("eca")
    engine = create_engine(url, 1)
    try:
        async with engine.begin() as conn:
            workspace_id = await create_workspace(conn, args.name, args.id)
            user_id = await create_user(conn, workspace_id, args.email, args.email, args.role)
            await create_api_token(conn, workspace_id, user_id, token, "cli")
    finally:
        await engine.dispose()
    return {"workspace_id": str(workspace_id), "user_id": str(user_id), "token": token}


if __name__ == "__main__":
    sys.exit(main())
