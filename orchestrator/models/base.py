"""The shared metadata of every table, with a naming convention for constraints.

Named constraints let Alembic alter them on SQLite (batch mode) and PostgreSQL alike.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, String, text
from sqlmodel import Field, SQLModel

from orchestrator.models.types import BigId, Json, UTCDateTime

__all__ = ["id_field", "metadata", "object_field", "text_field", "utc_field"]

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


# The fields below describe their column without a `Column` object, which only one table
# may own: a base class of several models (`ContactBase`) can declare them too.


def utc_field(*, nullable: bool = False, index: bool = False) -> Any:
    """An aware UTC instant column."""
    return Field(
        default=None if nullable else ...,
        sa_type=UTCDateTime(),
        nullable=nullable,
        index=index,
    )


def text_field(length: int, **kwargs: Any) -> Any:
    """A string of at most `length` characters: in the models' validation and in the column."""
    return Field(max_length=length, sa_type=String(length), **kwargs)


def object_field(**kwargs: Any) -> Any:
    """A JSON object column that is never NULL: `{}` unless set, in Python and in SQL."""
    return Field(
        default_factory=dict,
        sa_type=Json,
        nullable=False,
        sa_column_kwargs={"server_default": text("'{}'")},
        **kwargs,
    )
