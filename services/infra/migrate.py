"""Alembic, driven from code: each service upgrades its own branch (inbox, triage, events).

Migrations run as their own step (``python -m services.<svc> migrate``, a Kubernetes Job),
never at service start-up.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

SERVICES = Path(__file__).resolve().parent.parent
VERSION_LOCATIONS = (
    SERVICES / "infra" / "alembic" / "versions",
    SERVICES / "inbox" / "migrations",
    SERVICES / "triage" / "migrations",
)


def alembic_config(database_url: str) -> Config:
    """An Alembic config for this repository's migrations against ``database_url``."""
    config = Config()
    config.set_main_option("script_location", str(SERVICES / "infra" / "alembic"))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", ":".join(str(p) for p in VERSION_LOCATIONS))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, target: str = "heads") -> None:
    """Apply migrations up to ``target`` (``inbox@head``, ``triage@head`` or ``heads``)."""
    command.upgrade(alembic_config(database_url), target)


def migrate_command(database_url: str, branch: str, *, check: bool) -> int:
    """A service's ``migrate`` command: upgrade ``branch`` to its head; with ``check``, apply
    nothing and exit 0 when it is current, 3 when revisions are pending."""
    if check:
        return 0 if is_current(database_url, branch) else 3
    upgrade(database_url, f"{branch}@head")
    return 0


def is_current(database_url: str, branch: str) -> bool:
    """Whether ``branch`` (inbox, triage, events) is at its newest revision in the database.

    Deployments wait on this in an init container, so a rollout starts only after the
    migration Job has finished.
    """
    import asyncio

    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from services.infra.db import create_engine

    script = ScriptDirectory.from_config(alembic_config(database_url))
    wanted = {r.revision for r in script.get_revisions(f"{branch}@head") if r is not None}

    async def current() -> set[str]:
        engine = create_engine(database_url, 1)
        try:
            async with engine.connect() as conn:
                heads = await conn.run_sync(
                    lambda sync: MigrationContext.configure(sync).get_current_heads()
                )
        finally:
            await engine.dispose()
        return set(heads)

    return wanted <= asyncio.run(current())
