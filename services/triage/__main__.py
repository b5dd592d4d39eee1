"""``python -m services.triage serve | worker | migrate | create-workspace | create-admin |
sign-in-link | eval | train | export-corrections | reseal-two-factor``."""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from pathlib import Path

import orjson

from services.infra import logs
from services.infra.serve import add_service_commands, serve_or_work
from services.triage.access import admin_cli, reseal_two_factor
from services.triage.settings import TriageSettings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m services.triage", description="Écoute triage: the agents' desk."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    add_service_commands(
        commands,
        serve="serve the agent API and UI (TRIAGE_PORT, default 8081)",
        worker="only consume events and raise SLA transitions (probes and metrics on TRIAGE_PORT)",
        migrate="apply triage's database migrations",
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
    workspace.add_argument(
        "--password-stdin", action="store_true", help="set the user's password from stdin"
    )
    admin_cli.add_commands(commands)
    evaluate = commands.add_parser(
        "eval",
        help="measure triage on a labelled CSV (id,text,needs_answer[,lang,intent,abuse,parent];"
        " a non-empty parent = the brand's post the row replies to)",
    )
    evaluate.add_argument("--data", type=Path, required=True, help="the labelled CSV file")
    evaluate.add_argument(
        "--model", type=Path, default=None, help="model directory (default: the committed one)"
    )
    train = commands.add_parser(
        "train", help="train the triage model from the labelled data; write it and its card"
    )
    train.add_argument(
        "--data", type=Path, default=None, help="shared data folder (default: ../shared/data)"
    )
    train.add_argument(
        "--out", type=Path, default=None, help="model directory (default: the committed one)"
    )
    train.add_argument(
        "--card", type=Path, default=None, help="model card (default: docs/model_card.md)"
    )
    train.add_argument(
        "--no-measure",
        action="store_true",
        help="skip the cross-validated measurements (and the card): minutes faster",
    )
    export = commands.add_parser(
        "export-corrections", help="write agents' corrections as training labels (CSV)"
    )
    export.add_argument("--out", type=Path, required=True)
    export.add_argument("--workspace", type=uuid.UUID, default=None, help="one workspace only")
    reseal = commands.add_parser(
        "reseal-two-factor", help="seal every TOTP secret with the current key (after a rotation)"
    )
    reseal_two_factor.add_arguments(reseal)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    if args.command == "eval":
        return _eval(args.data, args.model)
    if args.command == "train":
        return _train(args)
    if args.command == "reseal-two-factor":  # reads its own settings: a bad key exits 2
        return reseal_two_factor.run(args.batch_size)

    settings = TriageSettings()
    logs.configure("triage", settings.log_level)
    url = settings.direct_url()  # migrations and one-shot commands: never through a pooler
    if args.command == "migrate":
        from services.infra.migrate import migrate_command

        return migrate_command(url, "triage", check=args.check)
    if args.command == "export-corrections":
        count = asyncio.run(_export_corrections(url, args.out, args.workspace))
        print(orjson.dumps({"corrections": count, "out": str(args.out)}).decode())
        return 0
    if args.command == "create-workspace":
        result = asyncio.run(_create_workspace(url, args))
        print(orjson.dumps(result).decode())
        return 0
    if args.command in admin_cli.COMMANDS:
        print(orjson.dumps(asyncio.run(admin_cli.run(args, settings))).decode())
        return 0
    from services.triage.app import create_app

    return serve_or_work(args.command, settings, create_app, "run_consumer")


async def _create_workspace(url: str, args: argparse.Namespace) -> dict[str, str]:
    from services.infra.auth import new_token
    from services.infra.db import create_engine
    from services.triage.access.accounts import set_password
    from services.triage.access.store import create_api_token, create_user, create_workspace

    token = args.token or new_token("eca")
    password = admin_cli.read_password() if args.password_stdin else None
    engine = create_engine(url, 1)
    try:
        async with engine.begin() as conn:
            workspace_id = await create_workspace(conn, args.name, args.id)
            user_id = await create_user(conn, workspace_id, args.email, args.email, args.role)
            await create_api_token(conn, workspace_id, user_id, token, "cli")
            if password is not None:
                await set_password(conn, workspace_id, user_id, password)
    finally:
        await engine.dispose()
    return {"workspace_id": str(workspace_id), "user_id": str(user_id), "token": token}


def _eval(path: Path, model_dir: Path | None) -> int:
    from services.triage.domain.model import load
    from services.triage.domain.triage import Triage, default_triage
    from services.triage.training.evaluate import evaluate_file

    triage = Triage(load(model_dir)) if model_dir else default_triage()
    try:
        result = evaluate_file(path, triage)
    except (OSError, ValueError) as exc:
        print(f"eval: {exc}", file=sys.stderr)
        return 2
    print(orjson.dumps(result).decode())
    return 0


def _train(args: argparse.Namespace) -> int:
    from services.triage.domain.model import DEFAULT_DIRECTORY

    try:
        from services.triage.training import data, run
    except ImportError as exc:  # scikit-learn is in the train extra only
        print(f"train: {exc}; install the train extra: pip install -e '.[train]'", file=sys.stderr)
        return 2
    if not (args.data or data.SHARED_DATA).exists():
        print(f"train: no shared data at {args.data or data.SHARED_DATA}", file=sys.stderr)
        return 2
    out = args.out or DEFAULT_DIRECTORY
    meta = run.train_command(
        args.data or data.SHARED_DATA,
        out,
        args.card or data.REPO / "docs" / "model_card.md",
        measure=not args.no_measure,
    )
    print(orjson.dumps({"version": meta["version"], "out": str(out)}).decode())
    return 0


async def _export_corrections(url: str, out: Path, workspace: uuid.UUID | None) -> int:
    from services.infra.db import create_engine
    from services.triage.desk.corrections import export, write_csv

    engine = create_engine(url, 1)
    try:
        async with engine.connect() as conn:
            rows = await export(conn, workspace)
    finally:
        await engine.dispose()
    return write_csv(rows, out)


if __name__ == "__main__":
    sys.exit(main())
