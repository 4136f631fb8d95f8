"""the public archive: issues an editor hid from it, the public copy of each sent issue,
and which feed bytes the WebSub hub was last told of

Revision ID: 0012
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

import pipeline.store.types

# 0011 (event counts) is made on another branch; whichever merges second points this
# at the other's revision so the chain stays one line.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_UTC = pipeline.store.types.UTCDateTime


def upgrade() -> None:
    # In place on every backend (SQLite's ADD COLUMN takes a constant default): batch
    # mode copied `issues` on SQLite, and dropping the old table cascaded into the
    # sends' batches and recipients.
    op.add_column("issues", sa.Column("archive_hidden", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    op.create_table(
        "public_issues",
        sa.Column("issue_id", sa.String(length=20), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("image_url", sa.Text(), nullable=True),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("published_at", _UTC(timezone=True), nullable=False),
        sa.Column("updated_at", _UTC(timezone=True), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["issue_id"], ["issues.id"], ondelete="CASCADE",
                                name=op.f("fk_public_issues_issue_id_issues")),
        sa.PrimaryKeyConstraint("issue_id", name=op.f("pk_public_issues")),
    )
    op.create_index("ix_public_issues_published_at", "public_issues", ["published_at"])
    op.create_table(
        "feed_pings",
        sa.Column("path", sa.String(length=200), nullable=False),
        sa.Column("etag", sa.String(length=100), nullable=False),
        sa.Column("pinged_at", _UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("path", name=op.f("pk_feed_pings")),
    )


def downgrade() -> None:
    op.drop_table("feed_pings")
    op.drop_index("ix_public_issues_published_at", table_name="public_issues")
    op.drop_table("public_issues")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite (>= 3.35) drops the column in place: batch mode would copy the table,
        # and dropping the old `issues` cascades into every table keyed on it (the
        # send's batches, its recipients): a downgrade must not lose the sends.
        op.execute("ALTER TABLE issues DROP COLUMN archive_hidden")
    else:
        op.drop_column("issues", "archive_hidden")
