"""events: the series an occurrence belongs to and its repeat rule, so an issue lists a
recurring event once ("Monthly, next: ...")

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("event_series", sa.String(length=1000), nullable=True))
        batch.add_column(sa.Column("event_recurrence", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.drop_column("event_recurrence")
        batch.drop_column("event_series")
