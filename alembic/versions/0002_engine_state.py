"""Engine state on enrollments and touches; schedule runs.

Claims hold row locks for their transaction, so enrollments need no lease columns; they
count step entries and decisions instead, and say when they wait for an event.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "schedule_run",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("campaign_id", BIGID, nullable=False),
        sa.Column("fire_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enrolled", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_schedule_run_campaign_id_campaign")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_run")),
        sa.UniqueConstraint(
            "campaign_id", "fire_time", name=op.f("uq_schedule_run_campaign_id_fire_time")
        ),
    )
    with op.batch_alter_table("enrollment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("step_seq", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("attempt", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column(
                "awaiting_event", sa.Boolean(), server_default=sa.text("false"), nullable=False
            )
        )
        batch_op.drop_column("variant")
        batch_op.drop_column("lease_owner")
        batch_op.drop_column("lease_until")
        batch_op.create_index(
            "uq_enrollment_running",
            ["campaign_id", "contact_id"],
            unique=True,
            sqlite_where=sa.text("state IN ('active', 'paused')"),
            postgresql_where=sa.text("state IN ('active', 'paused')"),
        )

    with op.batch_alter_table("touch", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_touch_enrollment_id", ["enrollment_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("touch", schema=None) as batch_op:
        batch_op.drop_index("ix_touch_enrollment_id")
        batch_op.drop_column("retry_at")

    with op.batch_alter_table("enrollment", schema=None) as batch_op:
        batch_op.drop_index("uq_enrollment_running")
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("lease_owner", sa.VARCHAR(length=100), nullable=True))
        batch_op.add_column(sa.Column("variant", sa.VARCHAR(length=100), nullable=True))
        batch_op.drop_column("awaiting_event")
        batch_op.drop_column("attempt")
        batch_op.drop_column("step_seq")

    op.drop_table("schedule_run")
