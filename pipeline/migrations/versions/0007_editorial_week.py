"""the editorial week: issues' own send time and pause, the scheduler's leases, the audit log

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

import pipeline.store.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_UTC = pipeline.store.types.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("issues") as batch:
        batch.add_column(sa.Column("send_at", _UTC(timezone=True), nullable=True))
        batch.add_column(sa.Column("paused_at", _UTC(timezone=True), nullable=True))
        batch.add_column(sa.Column("paused_by", sa.Text(), nullable=True))
    op.create_table(
        "schedule_actions",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("owner", sa.Text(), nullable=True),
        sa.Column("claimed_at", _UTC(timezone=True), nullable=False),
        sa.Column("lease_until", _UTC(timezone=True), nullable=False),
        sa.Column("done_at", _UTC(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_schedule_actions")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", _UTC(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("issue_id", sa.String(length=20), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_issue_id", "audit_log", ["issue_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_issue_id", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("schedule_actions")
    with op.batch_alter_table("issues") as batch:
        batch.drop_column("paused_by")
        batch.drop_column("paused_at")
        batch.drop_column("send_at")
