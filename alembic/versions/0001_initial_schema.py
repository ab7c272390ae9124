"""Initial schema: every concept of the product.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 64-bit keys (SQLite auto-increments only INTEGER PRIMARY KEY) and JSONB on PostgreSQL.
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "api_key",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_key_key_hash")),
    )
    op.create_table(
        "campaign",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign")),
    )
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_campaign_status"), ["status"], unique=False)

    op.create_table(
        "contact",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("address", JSON, nullable=True),
        sa.Column("social", JSON, server_default=sa.text("'{}'"), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("locale", sa.String(length=35), nullable=True),
        sa.Column("paused_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attributes", JSON, server_default=sa.text("'{}'"), nullable=False),
        sa.Column("consent", JSON, server_default=sa.text("'{}'"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact")),
        sa.UniqueConstraint("external_id", name=op.f("uq_contact_external_id")),
    )
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.create_index("ix_contact_email", ["email"], unique=False)
        batch_op.create_index("ix_contact_phone", ["phone"], unique=False)

    op.create_table(
        "installation_value",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_installation_value")),
    )
    op.create_table(
        "policy_version",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("document", JSON, nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_policy_version")),
    )
    op.create_table(
        "campaign_version",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("campaign_id", BIGID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_campaign_version_campaign_id_campaign")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_version")),
        sa.UniqueConstraint(
            "campaign_id", "version", name=op.f("uq_campaign_version_campaign_id_version")
        ),
    )
    op.create_table(
        "consent_log",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("contact_id", BIGID, nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("evidence", JSON, server_default=sa.text("'{}'"), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contact.id"], name=op.f("fk_consent_log_contact_id_contact")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_log")),
    )
    with op.batch_alter_table("consent_log", schema=None) as batch_op:
        batch_op.create_index(
            "ix_consent_log_contact_recorded", ["contact_id", "recorded_at"], unique=False
        )

    op.create_table(
        "enrollment",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("campaign_id", BIGID, nullable=False),
        sa.Column("campaign_version", sa.Integer(), nullable=False),
        sa.Column("contact_id", BIGID, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("step_id", sa.String(length=100), nullable=True),
        sa.Column("step_entered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_action_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("variant", sa.String(length=100), nullable=True),
        sa.Column("exit_reason", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_enrollment_campaign_id_campaign")
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contact.id"], name=op.f("fk_enrollment_contact_id_contact")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollment")),
    )
    with op.batch_alter_table("enrollment", schema=None) as batch_op:
        batch_op.create_index(
            "ix_enrollment_campaign_state", ["campaign_id", "state"], unique=False
        )
        batch_op.create_index("ix_enrollment_contact_id", ["contact_id"], unique=False)
        batch_op.create_index(
            "ix_enrollment_due",
            ["next_action_at"],
            unique=False,
            sqlite_where=sa.text("state = 'active'"),
            postgresql_where=sa.text("state = 'active'"),
        )

    op.create_table(
        "suppression",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("address_hash", sa.String(length=64), nullable=True),
        sa.Column("contact_id", BIGID, nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contact.id"], name=op.f("fk_suppression_contact_id_contact")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppression")),
    )
    with op.batch_alter_table("suppression", schema=None) as batch_op:
        batch_op.create_index("ix_suppression_contact_id", ["contact_id"], unique=False)
        batch_op.create_index(
            "uq_suppression_channel_address_hash",
            ["channel", "address_hash"],
            unique=True,
            sqlite_where=sa.text("address_hash IS NOT NULL"),
            postgresql_where=sa.text("address_hash IS NOT NULL"),
        )
        batch_op.create_index(
            "uq_suppression_channel_contact_id",
            ["channel", "contact_id"],
            unique=True,
            sqlite_where=sa.text("contact_id IS NOT NULL"),
            postgresql_where=sa.text("contact_id IS NOT NULL"),
        )

    op.create_table(
        "touch",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("contact_id", BIGID, nullable=False),
        sa.Column("enrollment_id", BIGID, nullable=True),
        sa.Column("campaign_id", BIGID, nullable=True),
        sa.Column("campaign_version", sa.Integer(), nullable=True),
        sa.Column("step_id", sa.String(length=100), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("rule", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("policy_version", sa.Integer(), nullable=True),
        sa.Column("defer_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("content", JSON, nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column("worker", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=64), nullable=True),
        sa.Column("outcome_data", JSON, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_touch_campaign_id_campaign")
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contact.id"], name=op.f("fk_touch_contact_id_contact")
        ),
        sa.ForeignKeyConstraint(
            ["enrollment_id"], ["enrollment.id"], name=op.f("fk_touch_enrollment_id_enrollment")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_touch")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_touch_idempotency_key")),
    )
    with op.batch_alter_table("touch", schema=None) as batch_op:
        batch_op.create_index("ix_touch_campaign_step", ["campaign_id", "step_id"], unique=False)
        batch_op.create_index(
            "ix_touch_channel_status_created", ["channel", "status", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_touch_contact_created", ["contact_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_touch_message_id", ["message_id"], unique=False)

    op.create_table(
        "event",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("contact_id", BIGID, nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("dedupe_key", sa.String(length=255), nullable=False),
        sa.Column("touch_id", BIGID, nullable=True),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contact.id"], name=op.f("fk_event_contact_id_contact")
        ),
        sa.ForeignKeyConstraint(["touch_id"], ["touch.id"], name=op.f("fk_event_touch_id_touch")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_event_dedupe_key")),
    )
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.create_index(
            "ix_event_contact_occurred", ["contact_id", "occurred_at"], unique=False
        )
        batch_op.create_index("ix_event_touch_id", ["touch_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index("ix_event_touch_id")
        batch_op.drop_index("ix_event_contact_occurred")

    op.drop_table("event")
    with op.batch_alter_table("touch", schema=None) as batch_op:
        batch_op.drop_index("ix_touch_message_id")
        batch_op.drop_index("ix_touch_contact_created")
        batch_op.drop_index("ix_touch_channel_status_created")
        batch_op.drop_index("ix_touch_campaign_step")

    op.drop_table("touch")
    with op.batch_alter_table("suppression", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_suppression_channel_contact_id",
            sqlite_where=sa.text("contact_id IS NOT NULL"),
            postgresql_where=sa.text("contact_id IS NOT NULL"),
        )
        batch_op.drop_index(
            "uq_suppression_channel_address_hash",
            sqlite_where=sa.text("address_hash IS NOT NULL"),
            postgresql_where=sa.text("address_hash IS NOT NULL"),
        )
        batch_op.drop_index("ix_suppression_contact_id")

    op.drop_table("suppression")
    with op.batch_alter_table("enrollment", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_enrollment_due",
            sqlite_where=sa.text("state = 'active'"),
            postgresql_where=sa.text("state = 'active'"),
        )
        batch_op.drop_index("ix_enrollment_contact_id")
        batch_op.drop_index("ix_enrollment_campaign_state")

    op.drop_table("enrollment")
    with op.batch_alter_table("consent_log", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_log_contact_recorded")

    op.drop_table("consent_log")
    op.drop_table("campaign_version")
    op.drop_table("policy_version")
    op.drop_table("installation_value")
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_phone")
        batch_op.drop_index("ix_contact_email")

    op.drop_table("contact")
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaign_status"))

    op.drop_table("campaign")
    op.drop_table("api_key")
