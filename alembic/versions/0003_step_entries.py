"""Step entries: how many journeys entered each step of a campaign.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "step_entry",
        sa.Column("campaign_id", BIGID, autoincrement=False, nullable=False),
        sa.Column("step_id", sa.String(length=100), nullable=False),
        sa.Column("entered", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_step_entry_campaign_id_campaign")
        ),
        sa.PrimaryKeyConstraint("campaign_id", "step_id", name=op.f("pk_step_entry")),
    )


def downgrade() -> None:
    op.drop_table("step_entry")
