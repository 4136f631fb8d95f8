"""subscribers.email_hash; consent (source, time, ip) on each membership; no
(list, status) index on memberships (it slowed large imports and no query needs it)

Revision ID: 0002
Revises: 0001
"""

import hashlib

import sqlalchemy as sa
from alembic import op

import pipeline.store.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(sa.Column("email_hash", sa.String(64), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, email_key FROM subscribers")).all()
    for row_id, key in rows:
        conn.execute(sa.text("UPDATE subscribers SET email_hash = :h WHERE id = :i"),
                     {"h": hashlib.sha256(key.encode("utf-8")).hexdigest(), "i": row_id})
    with op.batch_alter_table("subscribers") as batch:
        batch.alter_column("email_hash", existing_type=sa.String(64), nullable=False)
    with op.batch_alter_table("memberships") as batch:
        batch.drop_index("ix_memberships_list_name_status")
        batch.add_column(sa.Column("consent_source", sa.Text(), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("consent_at", pipeline.store.types.UTCDateTime(timezone=True),
                                   nullable=True))
        batch.add_column(sa.Column("consent_ip", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("memberships") as batch:
        batch.drop_column("consent_ip")
        batch.drop_column("consent_at")
        batch.drop_column("consent_source")
        batch.create_index("ix_memberships_list_name_status", ["list_name", "status"])
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("email_hash")
