"""the web app: editors, issue overrides and approved content, SendGrid events

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

import pipeline.store.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("issues") as batch:
        batch.add_column(sa.Column("overrides", sa.JSON(), nullable=False,
                                   server_default="{}"))
        batch.add_column(sa.Column("approved_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("approved_content", sa.JSON(), nullable=True))
    op.create_table(
        "editors",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("created_at", pipeline.store.types.UTCDateTime(timezone=True),
                  nullable=False),
        sa.Column("last_login_at", pipeline.store.types.UTCDateTime(timezone=True),
                  nullable=True),
        sa.PrimaryKeyConstraint("email", name=op.f("pk_editors")),
    )
    op.create_table(
        "mail_events",
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("event", sa.String(length=30), nullable=False),
        sa.Column("issue_id", sa.String(length=20), nullable=True),
        sa.Column("segment", sa.String(length=100), nullable=True),
        sa.Column("email_hash", sa.String(length=64), nullable=False),
        sa.Column("at", pipeline.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", pipeline.store.types.UTCDateTime(timezone=True),
                  nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_mail_events")),
    )
    op.create_index("ix_mail_events_issue_segment", "mail_events",
                    ["issue_id", "segment", "event"])


def downgrade() -> None:
    op.drop_index("ix_mail_events_issue_segment", table_name="mail_events")
    op.drop_table("mail_events")
    op.drop_table("editors")
    with op.batch_alter_table("issues") as batch:
        batch.drop_column("approved_content")
        batch.drop_column("approved_hash")
        batch.drop_column("overrides")
