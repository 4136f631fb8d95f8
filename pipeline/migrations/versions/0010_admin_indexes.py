"""checks before approval (issue_checks), and the indexes the admin's counts use

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

import pipeline.store.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_mail_events_issue_segment", table_name="mail_events")
    op.create_index("ix_mail_events_issue_segment_hash", "mail_events",
                    ["issue_id", "segment", "event", "email_hash"])
    op.create_index("ix_send_recipients_issue_state", "send_recipients",
                    ["issue_id", "state", "batch_id"])
    op.create_table(
        "issue_checks",
        sa.Column("issue_id", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("target", sa.String(length=2000), nullable=False),
        sa.Column("verdict", sa.String(length=12), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.Column("checked_at", pipeline.store.types.UTCDateTime(timezone=True),
                  nullable=False),
        sa.ForeignKeyConstraint(["issue_id"], ["issues.id"], ondelete="CASCADE",
                                name=op.f("fk_issue_checks_issue_id_issues")),
        sa.PrimaryKeyConstraint("issue_id", "kind", "target", name=op.f("pk_issue_checks")),
    )


def downgrade() -> None:
    op.drop_table("issue_checks")
    op.drop_index("ix_send_recipients_issue_state", table_name="send_recipients")
    op.drop_index("ix_mail_events_issue_segment_hash", table_name="mail_events")
    op.create_index("ix_mail_events_issue_segment", "mail_events",
                    ["issue_id", "segment", "event"])
