"""staff credentials change instant; feed token rotation chain

- ``user_account.credentials_changed_at``: set whenever a user's password, role, provider
  link or active flag changes; access tokens and sessions issued before it are refused.
- ``feed_token.replaced_by_id``: the token a rotation issued in place of this one, so that
  revoking a token by its original id revokes the URL the subscriber holds now.

Revision ID: 0005_credentials_changed
Revises: 0004_patient_duplicates
Create Date: 2026-12-06 02:20:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import scheduler.db

revision: str = "0005_credentials_changed"
down_revision: str | None = "0004_patient_duplicates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "credentials_changed_at", scheduler.db.UTCDateTime(timezone=True), nullable=True
            )
        )

    with op.batch_alter_table("feed_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("replaced_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_feed_token_replaced_by_id_feed_token"),
            "feed_token",
            ["replaced_by_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("feed_token", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_feed_token_replaced_by_id_feed_token"), type_="foreignkey"
        )
        batch_op.drop_column("replaced_by_id")

    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("credentials_changed_at")
