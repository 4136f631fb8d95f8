"""running counts for the admin: mail events per issue and segment (event_counts),
counted once from the stored events here and kept by every webhook since

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_counts",
        sa.Column("issue_id", sa.String(length=20), nullable=False),
        sa.Column("segment", sa.String(length=100), nullable=False),
        sa.Column("event", sa.String(length=30), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("issue_id", "segment", "event", name=op.f("pk_event_counts")),
    )
    # What store.events counts as it goes: every event of an issue, and for opens and
    # clicks the different people (the names as in store.events.UNIQUE_COUNTED).
    op.execute(
        "INSERT INTO event_counts (issue_id, segment, event, total, recipients) "
        "SELECT issue_id, COALESCE(segment, ''), event, COUNT(*), "
        "CASE WHEN event IN ('open', 'click') THEN COUNT(DISTINCT email_hash) ELSE 0 END "
        "FROM mail_events WHERE issue_id IS NOT NULL "
        "GROUP BY issue_id, COALESCE(segment, ''), event")


def downgrade() -> None:
    op.drop_table("event_counts")
