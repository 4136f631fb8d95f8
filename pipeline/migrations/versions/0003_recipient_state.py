"""send_recipients.state: queued | sent | skipped (per-recipient outcome in a batch)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("send_recipients") as batch:
        batch.add_column(sa.Column("state", sa.String(12), nullable=False,
                                   server_default="queued"))
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("send_recipients") as batch:
        batch.drop_column("note")
        batch.drop_column("state")
