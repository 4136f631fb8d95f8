"""issues.send_lock / send_heartbeat: one sending process per issue at a time

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

import pipeline.store.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("issues") as batch:
        batch.add_column(sa.Column("send_lock", sa.Text(), nullable=True))
        batch.add_column(sa.Column("send_heartbeat",
                                   pipeline.store.types.UTCDateTime(timezone=True),
                                   nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("issues") as batch:
        batch.drop_column("send_heartbeat")
        batch.drop_column("send_lock")
