"""waitlist: entries ("call me if something opens") and the offers the worker makes

Revision ID: 0011_waitlist
Revises: 0010_notification_patient
Create Date: 2026-12-06 20:10:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import scheduler.db

revision: str = "0011_waitlist"
down_revision: str | None = "0010_notification_patient"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "waitlist_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("appointment_type_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("earliest_date", sa.Date(), nullable=False),
        sa.Column("latest_date", sa.Date(), nullable=False),
        sa.Column("earliest_time", sa.Time(), nullable=False),
        sa.Column("latest_time", sa.Time(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=True),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", scheduler.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", scheduler.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('waiting', 'offered', 'booked', 'expired', 'cancelled')",
            name=op.f("ck_waitlist_entry_status_valid"),
        ),
        sa.CheckConstraint(
            "latest_date >= earliest_date", name=op.f("ck_waitlist_entry_date_window")
        ),
        sa.CheckConstraint(
            "latest_time > earliest_time", name=op.f("ck_waitlist_entry_time_window")
        ),
        sa.ForeignKeyConstraint(
            ["appointment_type_id"],
            ["appointment_type.id"],
            name=op.f("fk_waitlist_entry_appointment_type_id_appointment_type"),
        ),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["booking.id"], name=op.f("fk_waitlist_entry_booking_id_booking")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_waitlist_entry_created_by_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["location.id"], name=op.f("fk_waitlist_entry_location_id_location")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_waitlist_entry_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["provider.id"], name=op.f("fk_waitlist_entry_provider_id_provider")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist_entry")),
    )
    with op.batch_alter_table("waitlist_entry", schema=None) as batch_op:
        batch_op.create_index(
            "ix_waitlist_entry_queue",
            ["location_id", "appointment_type_id", "status", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_waitlist_entry_patient_id"), ["patient_id"], unique=False
        )
    op.create_table(
        "waitlist_offer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("hold_id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=True),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("start_at", scheduler.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("end_at", scheduler.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", scheduler.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=True),
        sa.Column("responded_at", scheduler.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", scheduler.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", scheduler.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('offered', 'accepted', 'passed', 'expired')",
            name=op.f("ck_waitlist_offer_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["booking.id"], name=op.f("fk_waitlist_offer_booking_id_booking")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["waitlist_entry.id"],
            name=op.f("fk_waitlist_offer_entry_id_waitlist_entry"),
        ),
        sa.ForeignKeyConstraint(
            ["hold_id"], ["hold.id"], name=op.f("fk_waitlist_offer_hold_id_hold")
        ),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notification.id"],
            name=op.f("fk_waitlist_offer_notification_id_notification"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist_offer")),
        sa.UniqueConstraint("hold_id", name=op.f("uq_waitlist_offer_hold_id")),
        sa.UniqueConstraint("notification_id", name=op.f("uq_waitlist_offer_notification_id")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_waitlist_offer_token_hash")),
    )
    with op.batch_alter_table("waitlist_offer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_waitlist_offer_entry_id"), ["entry_id"], unique=False)
        batch_op.create_index(
            "ix_waitlist_offer_status_expires_at", ["status", "expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("waitlist_offer", schema=None) as batch_op:
        batch_op.drop_index("ix_waitlist_offer_status_expires_at")
        batch_op.drop_index(batch_op.f("ix_waitlist_offer_entry_id"))
    op.drop_table("waitlist_offer")
    op.execute("DELETE FROM notification WHERE kind = 'waitlist_offer'")
    with op.batch_alter_table("waitlist_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_waitlist_entry_patient_id"))
        batch_op.drop_index("ix_waitlist_entry_queue")
    op.drop_table("waitlist_entry")
