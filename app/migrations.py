"""Running the Alembic migrations from code (`kizuna migrate`, the tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

__all__ = ["alembic_config", "migrate"]


def _project_root() -> Path:
    """Where `alembic.ini` and `alembic/` are: beside the packages (a checkout), else the
    working directory (an installed wheel, as in the container image)."""
    checkout = Path(__file__).resolve().parent.parent
    return checkout if (checkout / "alembic.ini").is_file() else Path.cwd()


def alembic_config(database_url: str) -> Config:
    """Alembic's configuration for the database at `database_url`."""
    root = _project_root()
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "alembic"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logging"] = False
    return config


def migrate(database_url: str, revision: str = "head") -> None:
    """Bring the database at `database_url` up to `revision`."""
    command.upgrade(alembic_config(database_url), revision)
