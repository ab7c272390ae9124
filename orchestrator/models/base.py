"""The shared metadata of every table, with a naming convention for constraints.

Named constraints let Alembic alter them on SQLite (batch mode) and PostgreSQL alike.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from orchestrator.models.types import BigId, UTCDateTime

__all__ = ["id_field", "metadata", "utc_field"]

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = SQLModel.metadata


def id_field() -> Any:
    """A 64-bit auto-increment primary key."""
    return Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))


def utc_field(*, nullable: bool = False, index: bool = False) -> Any:
    """An aware UTC instant column."""
    return Field(
        default=None if nullable else ...,
        sa_column=Column(UTCDateTime(), nullable=nullable, index=index),
    )
