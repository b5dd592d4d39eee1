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
