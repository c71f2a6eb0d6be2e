"""Run Alembic from code (``sclic db upgrade``, the demo, tests)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from backend.core.config import REPO_ROOT


def alembic_config() -> Config:
    cfg = Config(str(REPO_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    return cfg


def upgrade_head() -> None:
    command.upgrade(alembic_config(), "head")
