"""Task leases bound to the API key that claimed them.

A task claimed before this revision has no key: no key may act on it, and it goes back to
the queue when its lease runs out. Keys are revoked, never deleted, so the reference holds.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("touch", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by_key_id", BIGID, nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_touch_claimed_by_key_id_api_key"), "api_key", ["claimed_by_key_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("touch", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_touch_claimed_by_key_id_api_key"), type_="foreignkey")
        batch_op.drop_column("claimed_by_key_id")
