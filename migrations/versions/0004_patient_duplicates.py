"""probable duplicate patients, patient merges, expiring idempotency records

- ``patient.probable_duplicate_of_id``: an online booking makes its own patient record and
  points at the record it matched on e-mail and date of birth, for staff to merge.
- ``patient.merged_into_id``: the record a merge folded this one into.
- ``idempotency_record.expires_at``: records are replayed for a limited time, then purged.
  Records written before this revision held manage links and session tokens in plain text;
  they are deleted here rather than kept (a retry of such a request runs again).

Revision ID: 0004_patient_duplicates
Revises: 0003_booking_indexes
Create Date: 2026-12-06 02:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import scheduler.db

revision: str = "0004_patient_duplicates"
down_revision: str | None = "0003_booking_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.add_column(sa.Column("probable_duplicate_of_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_patient_probable_duplicate_of_id"),
            ["probable_duplicate_of_id"],
            unique=False,
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_patient_probable_duplicate_of_id_patient"),
            "patient",
            ["probable_duplicate_of_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_patient_merged_into_id_patient"), "patient", ["merged_into_id"], ["id"]
        )

    op.execute("DELETE FROM idempotency_record")
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("expires_at", scheduler.db.UTCDateTime(timezone=True), nullable=False)
        )
        batch_op.create_index(
            batch_op.f("ix_idempotency_record_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_record_expires_at"))
        batch_op.drop_column("expires_at")

    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_patient_merged_into_id_patient"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_patient_probable_duplicate_of_id_patient"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_patient_probable_duplicate_of_id"))
        batch_op.drop_column("merged_into_id")
        batch_op.drop_column("probable_duplicate_of_id")
