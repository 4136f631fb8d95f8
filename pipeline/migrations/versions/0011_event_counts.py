"""running counts for the admin, counted here from what is stored and kept since by
the writes they count: mail events per issue and segment (event_counts, the webhook),
batch sizes per issue and segment (send_totals, the send ledger), members per list and
status (list_members, the audience)

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
    op.create_index("ix_send_batches_issue_state", "send_batches", ["issue_id", "state"])
    op.create_table(
        "send_totals",
        sa.Column("issue_id", sa.String(length=20), nullable=False),
        sa.Column("segment", sa.String(length=100), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("not_accepted", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["issue_id"], ["issues.id"], ondelete="CASCADE",
                                name=op.f("fk_send_totals_issue_id_issues")),
        sa.PrimaryKeyConstraint("issue_id", "segment", name=op.f("pk_send_totals")),
    )
    # As store.send_totals counts: a split batch's recipients are in its halves.
    op.execute(
        "INSERT INTO send_totals (issue_id, segment, accepted, not_accepted) "
        "SELECT issue_id, segment, "
        "SUM(CASE WHEN state = 'accepted' THEN size ELSE 0 END), "
        "SUM(CASE WHEN state IN ('accepted', 'split') THEN 0 ELSE size END) "
        "FROM send_batches GROUP BY issue_id, segment")
    op.create_table(
        "list_members",
        sa.Column("list_name", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("list_name", "status", name=op.f("pk_list_members")),
    )
    op.execute("INSERT INTO list_members (list_name, status, members) "
               "SELECT list_name, status, COUNT(*) FROM memberships GROUP BY list_name, status")


def downgrade() -> None:
    op.drop_table("list_members")
    op.drop_table("send_totals")
    op.drop_index("ix_send_batches_issue_state", table_name="send_batches")
    op.drop_table("event_counts")
