"""Every rule that held a touch, and the indexes of the touch list.

`also_held` keeps the rules besides the binding `rule` that held a blocked or deferred
touch, with their own free times; touches decided before this revision have none. The
indexes serve `GET /v1/touches` newest first (all touches, a campaign's, a binding rule's)
and the stats' count of the rules that held a touch without binding it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
DECIDED = sa.text("rule IS NOT NULL")
HELD_ALSO = sa.text("also_held IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("touch", schema=None) as batch_op:
        batch_op.add_column(sa.Column("also_held", JSON, nullable=True))
        batch_op.create_index("ix_touch_created", ["created_at"], unique=False)
        batch_op.create_index(
            "ix_touch_campaign_created", ["campaign_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_touch_rule_created",
            ["rule", "created_at"],
            unique=False,
            sqlite_where=DECIDED,
            postgresql_where=DECIDED,
        )
        batch_op.create_index(
            "ix_touch_campaign_also_held",
            ["campaign_id"],
            unique=False,
            sqlite_where=HELD_ALSO,
            postgresql_where=HELD_ALSO,
        )


def downgrade() -> None:
    with op.batch_alter_table("touch", schema=None) as batch_op:
        batch_op.drop_index("ix_touch_campaign_also_held")
        batch_op.drop_index("ix_touch_rule_created")
        batch_op.drop_index("ix_touch_campaign_created")
        batch_op.drop_index("ix_touch_created")
        batch_op.drop_column("also_held")
