"""editor sessions on the server, so signing out ends a session for good

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

import pipeline.store.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "editor_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("editor", sa.String(length=320), nullable=False),
        sa.Column("created_at", pipeline.store.types.UTCDateTime(timezone=True),
                  nullable=False),
        sa.Column("expires_at", pipeline.store.types.UTCDateTime(timezone=True),
                  nullable=False),
        sa.ForeignKeyConstraint(["editor"], ["editors.email"], ondelete="CASCADE",
                                name=op.f("fk_editor_sessions_editor_editors")),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_editor_sessions")),
    )
    op.create_index("ix_editor_sessions_expires_at", "editor_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_editor_sessions_expires_at", table_name="editor_sessions")
    op.drop_table("editor_sessions")
