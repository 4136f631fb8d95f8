"""editors' content: items added by hand, per-issue headlines and teasers, a lead story,
sponsored blocks, the issue's section order, subject and preheader

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

import pipeline.store.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_UTC = pipeline.store.types.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("issue_items") as batch:
        batch.add_column(sa.Column("title", sa.Text(), nullable=True))
        batch.add_column(sa.Column("teaser", sa.Text(), nullable=True))
    with op.batch_alter_table("issues") as batch:
        batch.add_column(sa.Column("lead_item_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("section_order", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("subject", sa.Text(), nullable=True))
        batch.add_column(sa.Column("preheader", sa.Text(), nullable=True))
    op.create_table(
        "editor_items",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.String(length=20), nullable=False),
        sa.Column("image_url", sa.Text(), nullable=True),
        sa.Column("image_alt", sa.Text(), nullable=True),
        sa.Column("sponsored", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("added_by", sa.String(length=320), nullable=False),
        sa.Column("added_at", _UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"],
                                name=op.f("fk_editor_items_item_id_items"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["issue_id"], ["issues.id"],
                                name=op.f("fk_editor_items_issue_id_issues"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_editor_items")),
    )
    op.create_index("ix_editor_items_issue_id", "editor_items", ["issue_id"])


def downgrade() -> None:
    op.drop_index("ix_editor_items_issue_id", table_name="editor_items")
    op.drop_table("editor_items")
    with op.batch_alter_table("issues") as batch:
        batch.drop_column("preheader")
        batch.drop_column("subject")
        batch.drop_column("section_order")
        batch.drop_column("lead_item_id")
    with op.batch_alter_table("issue_items") as batch:
        batch.drop_column("teaser")
        batch.drop_column("title")
