"""The audience's tables. Emails are unique case-insensitively through `email_key`."""

from __future__ import annotations

from sqlalchemy import JSON, Column, ForeignKey, Integer, String, Table, Text

from pipeline.store.schema import metadata
from pipeline.store.types import UTCDateTime

subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False),
    Column("email_key", String(320), nullable=False, unique=True),
    # sha256 of email_key: joins against the suppression list without exposing addresses.
    # No index of its own: lookups go the other way, through suppressions' primary key.
    Column("email_hash", String(64), nullable=False),
    Column("name", Text, nullable=False, default=""),
    Column("attributes", JSON, nullable=False, default=dict),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

memberships = Table(
    "memberships",
    metadata,
    Column(
        "subscriber_id",
        Integer,
        ForeignKey("subscribers.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("list_name", String(100), primary_key=True),
    Column("status", String(12), nullable=False),  # unconfirmed|confirmed|unsubscribed
    Column("changed_at", UTCDateTime, nullable=False),
    # The consent this membership rests on: where it came from, when, from which IP.
    Column("consent_source", Text, nullable=False, server_default=""),
    Column("consent_at", UTCDateTime),
    Column("consent_ip", String(64)),
    # No (list, status) index: sends read memberships per subscriber (the primary key),
    # and every extra index slows a large import. Counts come from list_members.
)

# How many memberships each list has in each status, changed in the transaction of every
# membership written, changed or deleted (subscribers/members.py): the admin's "would go
# to" reads a row, where counting a million memberships took 0.2 s per view.
list_members = Table(
    "list_members",
    metadata,
    Column("list_name", String(100), primary_key=True),
    Column("status", String(12), primary_key=True),
    Column("members", Integer, nullable=False),
)

consent_events = Table(
    "consent_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "subscriber_id", Integer, ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False
    ),
    Column("list_name", String(100), nullable=False),
    Column("action", String(20), nullable=False),  # subscribed|confirmed|unsubscribed|imported
    Column("source", Text, nullable=False),
    Column("ip", String(64)),
    Column("at", UTCDateTime, nullable=False),
)

# Keyed by a hash of the lower-cased address, so `forget` can erase the address itself
# and still guarantee the person is never mailed again.
suppressions = Table(
    "suppressions",
    metadata,
    Column("email_hash", String(64), primary_key=True),
    Column("reason", String(20), nullable=False),  # unsubscribed|bounce|complaint|manual|forgotten
    Column("note", Text, nullable=False, default=""),
    Column("at", UTCDateTime, nullable=False),
)
