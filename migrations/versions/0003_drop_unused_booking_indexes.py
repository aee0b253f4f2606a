"""drop two booking indexes that no query uses

- ``ix_booking_status``: a status matches most bookings, so no query is better off with it,
  and without planner statistics SQLite chose it anyway for the slot search, walking every
  active booking of the clinic's history (benchmarks finding 9).
- ``ix_booking_ical_uid``: nothing looks bookings up by calendar UID.

Every booking written maintains each of its indexes; these two only cost.

Revision ID: 0003_booking_indexes
Revises: 0002_feeds
Create Date: 2026-12-02 21:10:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003_booking_indexes"
down_revision: str | None = "0002_feeds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_booking_status"))
        batch_op.drop_index(batch_op.f("ix_booking_ical_uid"))


def downgrade() -> None:
    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_booking_ical_uid"), ["ical_uid"], unique=False)
        batch_op.create_index(batch_op.f("ix_booking_status"), ["status"], unique=False)
