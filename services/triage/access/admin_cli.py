"""``python -m services.triage create-admin | sign-in-link``: a team's way in from the command
line, printed as JSON.

``create-admin`` makes a workspace and its first admin (or, given an existing workspace,
adds or restores an admin: the way back in for a team that lost its admins), with a password
read from standard input or a one-time link to set one. ``sign-in-link`` prints one-time
links that sign active users straight in (demos, support); each replaces the user's unused
one. Links point at ``--url``, else ``TRIAGE_PUBLIC_URL``, else http://127.0.0.1:<port>.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from services.infra.db import create_engine
from services.triage.access import accounts, team
from services.triage.access.http_security import MIN_PASSWORD
from services.triage.settings import TriageSettings

COMMANDS = ("create-admin", "sign-in-link")


def add_commands(commands: Any) -> None:
    """The two sub-commands, on ``python -m services.triage``'s sub-parsers."""
    admin = commands.add_parser(
        "create-admin",
        help="create a workspace and its admin, with a password (stdin) or a one-time link",
    )
    admin.add_argument("--workspace-name", required=True)
    admin.add_argument(
        "--workspace-id", type=uuid.UUID, default=None, help="an existing workspace, or its id"
    )
    admin.add_argument("--email", required=True)
    admin.add_argument("--display-name", default="")
    admin.add_argument(
        "--password-stdin",
        action="store_true",
        help=f"read the password (at least {MIN_PASSWORD} characters) from standard input",
    )
    admin.add_argument("--url", default=None, help="the desk's address, for the link")
    link = commands.add_parser(
        "sign-in-link", help="one-time links that sign active users in (demos, support)"
    )
    link.add_argument("--workspace", type=uuid.UUID, required=True)
    link.add_argument("--email", action="append", required=True, help="repeat for several")
    link.add_argument("--hours", type=float, default=1.0, help="how long each link works")
    link.add_argument("--url", default=None, help="the desk's address, for the links")


def desk_url(settings: TriageSettings, given: str | None) -> str:
    return given or settings.public_url or f"http://127.0.0.1:{settings.port}"


def read_password() -> str:
    """The password on standard input (its last newline dropped), or SystemExit 2."""
    password = sys.stdin.readline().removesuffix("\n")
    if len(password) < MIN_PASSWORD:
        raise SystemExit(f"the password on stdin needs at least {MIN_PASSWORD} characters")
    return password


async def run(args: argparse.Namespace, settings: TriageSettings) -> dict[str, Any]:
    """Run one of ``COMMANDS``; what to print."""
    password = read_password() if getattr(args, "password_stdin", False) else None
    engine = create_engine(settings.direct_url(), 1)
    now = datetime.now(UTC)
    url = desk_url(settings, args.url)
    try:
        async with engine.begin() as conn:
            if args.command == "create-admin":
                made = await team.create_admin(
                    conn,
                    args.workspace_name,
                    args.email,
                    args.display_name,
                    now,
                    workspace_id=args.workspace_id,
                    password=password,
                )
                return _admin(made, url)
            found = []
            for email in args.email:
                issued = await team.sign_in_link(
                    conn, args.workspace, email, now, timedelta(hours=args.hours)
                )
                found.append(_link(issued, url))
            return {"links": found}
    except accounts.NoSuchUser as exc:
        raise SystemExit(f"{args.command}: no active user {exc} in that workspace") from None
    finally:
        await engine.dispose()


def _link(issued: team.Issued, url: str) -> dict[str, Any]:
    return {
        "email": issued.email,
        "role": issued.role,
        "link": issued.link.url(url),
        "expires_at": issued.link.expires_at.isoformat(),
    }


def _admin(made: team.Admin, url: str) -> dict[str, Any]:
    found: dict[str, Any] = {"workspace_id": str(made.workspace_id), "user_id": str(made.user_id)}
    if made.issued is not None:
        found |= _link(made.issued, url)
    return found
