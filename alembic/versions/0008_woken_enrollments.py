"""A small index of the enrollments waiting for an event, for the dispatcher's first look.

A click or a call outcome makes its waiting enrollment due at once; the dispatcher takes
those before the enrollments that are due by time (a newsletter's thousands), so a
reaction does not queue behind a blast.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WAITING = "state = 'active' AND awaiting_event"


def upgrade() -> None:
    op.create_index(
        "ix_enrollment_waiting_due",
        "enrollment",
        ["next_action_at"],
        unique=False,
        sqlite_where=sa.text(_WAITING),
        postgresql_where=sa.text(_WAITING),
    )


def downgrade() -> None:
    op.drop_index("ix_enrollment_waiting_due", table_name="enrollment")
