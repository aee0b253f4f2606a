"""indexes for calendar feeds

- ``ix_booking_provider_feed`` / ``ix_booking_location_feed``: a feed's bookings are those of
  one owner that end after the window starts (the last 30 days and the future, however long
  the history), and the feed's validator only counts and sums their versions and ids, so it
  reads the index alone instead of every booking row.
- ``ix_booking_rescheduled_from_id``: "has this cancelled booking been replaced?" was a scan
  of the whole booking table per cancelled booking in the window.
- ``ix_patient_updated_at``: the validator looks up the patients changed since yesterday.

Revision ID: 0002_feeds
Revises: 0001
Create Date: 2026-12-02 15:30:02.331401+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002_feeds"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FEED_COLUMNS = ["end_at", "start_at", "version", "id"]


def upgrade() -> None:
    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.create_index(
            "ix_booking_location_feed", ["location_id", *_FEED_COLUMNS], unique=False
        )
        batch_op.create_index(
            "ix_booking_provider_feed", ["provider_id", *_FEED_COLUMNS], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_booking_rescheduled_from_id"), ["rescheduled_from_id"], unique=False
        )

    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patient_updated_at"), ["updated_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patient_updated_at"))

    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_booking_rescheduled_from_id"))
        batch_op.drop_index("ix_booking_provider_feed")
        batch_op.drop_index("ix_booking_location_feed")
