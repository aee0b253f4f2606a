"""notification outbox: messages to patients, their manage links, reminder opt-outs

- ``notification``: one row per message, written with the booking change that causes it;
  ``ix_notification_status_due_at`` serves the worker's claim of due queued messages.
- ``notification_link``: hashes of the manage-link tokens carried by messages.
- ``reminder_opt_out``: patients who asked for no more reminders.

Revision ID: 0007_notifications
Revises: 0005_credentials_changed
Create Date: 2026-12-06 02:03:14.937428+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import scheduler.db

revision: str = "0007_notifications"
down_revision: str | None = "0005_credentials_changed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reminder_opt_out",
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("created_at", scheduler.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_reminder_opt_out_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_reminder_opt_out")),
    )
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("due_at", scheduler.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("message_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("lease_until", scheduler.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("sent_at", scheduler.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", scheduler.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", scheduler.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('queued', 'sent', 'failed', 'withdrawn')",
            name=op.f("ck_notification_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["booking.id"], name=op.f("fk_notification_booking_id_booking")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
        sa.UniqueConstraint("message_id", name=op.f("uq_notification_message_id")),
    )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notification_booking_id"), ["booking_id"], unique=False
        )
        batch_op.create_index("ix_notification_status_due_at", ["status", "due_at"], unique=False)

    op.create_table(
        "notification_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=True),
        sa.Column("expires_at", scheduler.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", scheduler.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["booking.id"], name=op.f("fk_notification_link_booking_id_booking")
        ),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notification.id"],
            name=op.f("fk_notification_link_notification_id_notification"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_link")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_notification_link_token_hash")),
    )
    with op.batch_alter_table("notification_link", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notification_link_booking_id"), ["booking_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("notification_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_link_booking_id"))

    op.drop_table("notification_link")
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_status_due_at")
        batch_op.drop_index(batch_op.f("ix_notification_booking_id"))

    op.drop_table("notification")
    op.drop_table("reminder_opt_out")
