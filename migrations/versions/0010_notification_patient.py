"""notification: a message about a patient rather than a visit (sign-in links, waitlist offers)

A message names its booking (confirmations, reminders, changes) or, for messages that are
about no visit yet, its patient; each kind's own table (a sign-in link, a waitlist offer)
points at the notification that carries it.

Revision ID: 0010_notification_patient
Revises: 0009_series
Create Date: 2026-12-06 20:05:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_notification_patient"
down_revision: str | None = "0009_series"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.alter_column("booking_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("patient_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_notification_patient_id_patient"), "patient", ["patient_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_notification_patient_id"), ["patient_id"])
        batch_op.create_check_constraint(
            batch_op.f("ck_notification_has_subject"),
            "booking_id IS NOT NULL OR patient_id IS NOT NULL",
        )


def downgrade() -> None:
    op.execute("DELETE FROM notification WHERE booking_id IS NULL")
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_notification_has_subject"), type_="check")
        batch_op.drop_index(batch_op.f("ix_notification_patient_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_notification_patient_id_patient"), type_="foreignkey"
        )
        batch_op.drop_column("patient_id")
        batch_op.alter_column("booking_id", existing_type=sa.Integer(), nullable=False)
