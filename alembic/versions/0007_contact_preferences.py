"""The contact's own preferences, and the log of their changes.

`contact.preferences` holds what the contact chose (channels on or off with an optional
cap per week or month, and topics); NULL while it chose nothing. `preference_log` keeps
every change, append-only like the consent log: what changed, from what to what, where it
came from (`preference_center`, `api`, `call`), the proof, and the touch it came through.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.add_column(sa.Column("preferences", JSON, nullable=True))
    op.create_table(
        "preference_log",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("contact_id", BIGID, nullable=False),
        sa.Column("item", sa.String(length=64), nullable=False),
        sa.Column("old", JSON, nullable=True),
        sa.Column("new", JSON, nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("evidence", JSON, server_default=sa.text("'{}'"), nullable=False),
        sa.Column("touch_id", BIGID, nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contact.id"], name=op.f("fk_preference_log_contact_id_contact")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_preference_log")),
    )
    with op.batch_alter_table("preference_log", schema=None) as batch_op:
        batch_op.create_index(
            "ix_preference_log_contact_recorded", ["contact_id", "recorded_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("preference_log", schema=None) as batch_op:
        batch_op.drop_index("ix_preference_log_contact_recorded")
    op.drop_table("preference_log")
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_column("preferences")
