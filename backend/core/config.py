"""Typed settings, read once from the environment (prefix ``SCLIC_``) or a ``.env`` file.

``DATABASE_URL`` and ``REDIS_URL`` keep their conventional unprefixed names. Without them the
platform runs embedded: SQLite in the data folder and tasks executed in-process.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCLIC_", env_file=".env", extra="ignore")

    data_dir: Path = REPO_ROOT / "data"
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "SCLIC_DATABASE_URL")
    )
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "SCLIC_REDIS_URL")
    )
    weights_dir: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    demo_mode: bool = False
    demo_password: str = "demo"
    session_max_age_s: int = 14 * 24 * 3600
    cookie_secure: bool = False
    tile_size: int = 256
    # Preparation (paper, section 3.1): sides cut to multiples of 16, longest side at most 2304.
    prepare_multiple: int = 16
    prepare_max_side: int = 2304
    max_image_pixels: int = 200_000_000
    max_upload_bytes: int = 512 * 1024 * 1024
    # Seconds before Redis hands an unacknowledged task to another worker.
    task_visibility_timeout_s: int = 1800
    # How often a worker looks for tasks whose worker died, to hand them out again.
    task_restore_interval_s: int = 30
    task_max_retries: int = 5
    # A job found running on a live worker (a message delivered again) is looked at again after
    # this many seconds: done by then, or free to take over if that worker died.
    task_busy_recheck_s: int = Field(default=60, ge=1)
    # A worker refreshes the heartbeat of the job or ingest run it works on this often; one
    # whose heartbeat is older than ``task_stale_after_s`` is taken as its worker gone (killed,
    # or its host away), so the next delivery takes it over and the ingest page offers a resume.
    # Hosts' clocks must agree to well within the second figure.
    task_heartbeat_s: float = Field(default=30.0, gt=0)
    task_stale_after_s: float = Field(default=120.0, gt=0)
    # Each worker writes which codecs it can run at start and then this often; a report older
    # than ``worker_report_stale_s`` counts as its worker gone (killed, or its host away): a
    # killed worker shows as gone on the codec page at most that long after it was killed.
    worker_report_interval_s: float = Field(default=60.0, gt=0)
    worker_report_stale_s: float = Field(default=90.0, gt=0)
    codec_device: str | None = None  # "cpu" or "cuda"; default: cuda when present
    # Jobs per codec-worker message. More than 1 pays off on a GPU, not on a CPU.
    codec_batch: int = Field(default=1, ge=1, le=64)
    # Images of a message per model pass (0: all of one codec, setting and size in one pass).
    # With several passes a message's reads and stores run beside the model.
    codec_model_batch: int = Field(default=0, ge=0, le=64)

    @property
    def embedded(self) -> bool:
        """True when no PostgreSQL is configured: SQLite and in-process tasks."""
        return self.database_url is None

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            url = self.database_url
            # psycopg 3 is the driver; accept the plain scheme users usually paste.
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url[len("postgresql://") :]
            elif url.startswith("postgres://"):
                url = "postgresql+psycopg://" + url[len("postgres://") :]
            return url
        return f"sqlite:///{self.data_dir / 'sclic.sqlite3'}"

    @property
    def store_dir(self) -> Path:
        """Image files: originals, prepared sources, reconstructions (blind-named)."""
        return self.data_dir / "store"

    @property
    def tile_cache_dir(self) -> Path:
        return self.data_dir / "tiles"

    @property
    def effective_weights_dir(self) -> Path:
        return self.weights_dir or self.data_dir / "weights"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The one settings object; ``get_settings.cache_clear()`` re-reads the environment."""
    return Settings()
