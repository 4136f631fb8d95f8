"""The pipeline's tables: source state, items, issues, variants and the send ledger.

Changing a table means adding an Alembic revision in pipeline/migrations/versions.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from .types import UTCDateTime

# Explicit constraint names so Alembic migrations are identical on every backend.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

source_state = Table(
    "source_state",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("last_attempt_at", UTCDateTime),
    Column("last_success_at", UTCDateTime),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("last_error", Text),
)

items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(200), nullable=False),
    Column("guid", String(1000), nullable=False),
    Column("section", String(20), nullable=False),
    Column("title", Text, nullable=False),
    Column("link", Text),
    Column("canonical_url", Text),
    Column("summary_html", Text, nullable=False, default=""),
    Column("authors", JSON, nullable=False, default=list),
    Column("journal", Text),
    Column("doi", String(300)),
    Column("pmid", String(20)),
    Column("published_at", UTCDateTime),
    Column("event_start", UTCDateTime),
    Column("event_end", UTCDateTime),
    Column("event_all_day", Boolean, nullable=False, default=False),
    Column("event_timezone", String(64)),
    Column("event_location", Text),
    Column("event_series", String(1000)),
    Column("event_recurrence", Text),
    Column("topics", JSON, nullable=False, default=list),
    Column("content_hash", String(64), nullable=False),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("source", "guid", name="uq_items_source_guid"),
    Index("ix_items_doi", "doi"),
    Index("ix_items_pmid", "pmid"),
    Index("ix_items_first_seen_at", "first_seen_at"),
    Index("ix_items_event_start", "event_start"),
)

issues = Table(
    "issues",
    metadata,
    Column("id", String(20), primary_key=True),  # the period, e.g. "2026-W48"
    Column("number", Integer, nullable=False, unique=True),
    Column("period_start", UTCDateTime, nullable=False),
    Column("period_end", UTCDateTime, nullable=False),
    # draft|approved|sending|sent|skipped|cancelled (an editor's Cancel: also the flag
    # that tells a running send to stop for good; see ScheduleMixin.cancel_send)
    Column("status", String(12), nullable=False),
    Column("editor_note", Text, nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("approved_at", UTCDateTime),
    Column("approved_by", Text),
    Column("sent_at", UTCDateTime),
    # Who is sending this issue now ("host:pid") and when it last made progress: a second
    # process must not send the same batches (see store.ledger.acquire_send_lock).
    Column("send_lock", Text),
    Column("send_heartbeat", UTCDateTime),
    # Editors' changes that are not positions: {"dropped": [ids], "pinned": [ids]}.
    Column("overrides", JSON, nullable=False, default=dict),
    # What was approved: sha256 of every variant (subject, HTML, text) and those texts,
    # kept after a later edit returns the issue to draft so the page can show the diff.
    Column("approved_hash", String(64)),
    Column("approved_content", JSON),
    # The editors' timeline: "Send now" / "Send at ..." moves the issue's slot; "Pause"
    # stops its send between batches until "Resume" (pipeline/timeline.py reads both).
    Column("send_at", UTCDateTime),
    Column("paused_at", UTCDateTime),
    Column("paused_by", Text),
    # Editors' content for this issue (pipeline/content_edits.py): the lead story shown on
    # top of every variant, the sections' order, and the subject and preheader written
    # by an editor instead of the configured ones (None: not overridden).
    Column("lead_item_id", Integer),
    Column("section_order", JSON),
    Column("subject", Text),
    Column("preheader", Text),
    # An editor hid the issue from the public archive (pipeline/publish): its public
    # copy stays in public_issues, shown again when they show it.
    Column("archive_hidden", Boolean, nullable=False, default=False, server_default=false()),
)

issue_items = Table(
    "issue_items",
    metadata,
    Column("issue_id", String(20), ForeignKey("issues.id", ondelete="CASCADE"), primary_key=True),
    Column("item_id", Integer, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("section", String(20), nullable=False),
    Column("position", Integer, nullable=False),
    # New items make an issue worth sending; carried-over events only remind.
    Column("is_new", Boolean, nullable=False, default=True),
    # An editor's headline and teaser (Markdown) for this issue; the item's own (the
    # feed's) stay untouched in `items`. None: the feed's; "" teaser: none shown.
    Column("title", Text),
    Column("teaser", Text),
)

# Items an editor added by hand to one issue (a president's message, a job, a sponsor's
# block). The item itself is a row in `items` with source EDITOR_SOURCE, so dropping,
# pinning and moving it work as for any other; this row holds what only they have.
editor_items = Table(
    "editor_items",
    metadata,
    Column("item_id", Integer, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("issue_id", String(20), ForeignKey("issues.id", ondelete="CASCADE"),
           nullable=False),
    Column("image_url", Text),  # https only
    Column("image_alt", Text),
    Column("sponsored", Boolean, nullable=False, default=False),  # labelled "Sponsored"
    Column("added_by", String(320), nullable=False),
    Column("added_at", UTCDateTime, nullable=False),
    Index("ix_editor_items_issue_id", "issue_id"),
)

variants = Table(
    "variants",
    metadata,
    Column("issue_id", String(20), ForeignKey("issues.id", ondelete="CASCADE"), primary_key=True),
    Column("segment", String(100), primary_key=True),
    Column("subject", Text, nullable=False),
    Column("html", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("rendered_at", UTCDateTime, nullable=False),
)

# The send ledger: a batch and its recipients are written before the batch is handed to
# the backend, and its state after, so a crash can always be resumed without resending.
send_batches = Table(
    "send_batches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("issue_id", String(20), ForeignKey("issues.id", ondelete="CASCADE"), nullable=False),
    Column("segment", String(100), nullable=False),
    Column("seq", Integer, nullable=False),
    # pending -> in_flight -> accepted | failed | unknown (request made, no answer: held
    # for the operator) | split (413: its recipients moved to two new batches);
    # pending -> cancelled (an editor cancelled the send: never sent)
    Column("state", String(12), nullable=False),
    Column("size", Integer, nullable=False),
    Column("message_id", Text),
    Column("error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("issue_id", "segment", "seq", name="uq_send_batches_issue_segment_seq"),
    # The batches of an issue not (yet) accepted, found without reading the others.
    Index("ix_send_batches_issue_state", "issue_id", "state"),
)

# Running totals of batch sizes per issue and segment, changed in the transaction that
# records a batch, resizes it or moves it into or out of 'accepted' (store.send_totals):
# the admin's send progress reads a row per segment, not a thousand batches per issue.
# accepted: recipients in accepted batches; not_accepted: in batches of any other state
# but split (a split batch's recipients are counted in its two halves).
send_totals = Table(
    "send_totals",
    metadata,
    Column("issue_id", String(20), ForeignKey("issues.id", ondelete="CASCADE"), primary_key=True),
    Column("segment", String(100), primary_key=True),
    Column("accepted", Integer, nullable=False),
    Column("not_accepted", Integer, nullable=False),
)

send_recipients = Table(
    "send_recipients",
    metadata,
    Column("issue_id", String(20), ForeignKey("issues.id", ondelete="CASCADE"), primary_key=True),
    # Primary key on (issue, address): the database itself refuses a second copy.
    Column("email_key", String(320), primary_key=True),
    Column("email", String(320), nullable=False),
    Column("first_name", Text, nullable=False, default=""),
    Column("subscriber_id", Integer, nullable=False),
    Column("segment", String(100), nullable=False),
    Column("batch_id", Integer, ForeignKey("send_batches.id", ondelete="CASCADE"), nullable=False),
    # queued: waiting in its batch, or (batch-level backends) sent with it once the
    # batch is accepted (see ledger.OUTCOME); sent: accepted by the provider (per-
    # recipient backends); skipped: unsubscribed or suppressed after the batch was
    # recorded (checked right before it goes); failed, unknown: per-recipient outcomes;
    # cancelled: not sent, the editors cancelled the send (recorded then, if need be).
    Column("state", String(12), nullable=False, server_default="queued"),
    Column("note", Text),
    Index("ix_send_recipients_batch_id", "batch_id"),
    # The admin's counts: recipients not simply queued (skipped, failed, held, sent one
    # by one) found without reading an issue's million queued ones (see send_progress).
    Index("ix_send_recipients_issue_state", "issue_id", "state", "batch_id"),
)

# Checks before approval (pipeline.checks): each link's answer, kept per issue and URL
# so a re-render asks only the new ones; each variant's SpamAssassin score, with the
# hash of the variant it scored (an edit makes it stale).
issue_checks = Table(
    "issue_checks",
    metadata,
    Column("issue_id", String(20), ForeignKey("issues.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(8), primary_key=True),  # link | spam
    Column("target", String(2000), primary_key=True),  # the URL, or the segment
    Column("verdict", String(12), nullable=False),
    Column("status", Integer),  # a link's HTTP status
    Column("score", Float),  # a variant's spam score
    Column("detail", Text, nullable=False, default=""),
    Column("content_hash", String(64)),
    Column("checked_at", UTCDateTime, nullable=False),
)

editors = Table(
    "editors",
    metadata,
    Column("email", String(320), primary_key=True),  # lower-cased
    Column("password_hash", Text, nullable=False),  # argon2id
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_login_at", UTCDateTime),
)

# Signed-in editors: the cookie carries a random session id, this table its hash (a copy
# of the database opens no session). Signing out deletes the row, so a cookie saved
# before is worth nothing; expired rows go at the next sign-in.
editor_sessions = Table(
    "editor_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),  # sha256 of the cookie's session id
    Column("editor", String(320), ForeignKey("editors.email", ondelete="CASCADE"),
           nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_editor_sessions_expires_at", "expires_at"),
)

# SendGrid event webhook: one row per event id, so a retried or duplicated POST changes
# nothing (SendGrid retries for 24 hours). Addresses are kept only as their hash.
mail_events = Table(
    "mail_events",
    metadata,
    Column("event_id", String(100), primary_key=True),  # sg_event_id
    Column("event", String(30), nullable=False),
    Column("issue_id", String(20)),
    Column("segment", String(100)),
    Column("email_hash", String(64), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    # With the hash: the admin's counts (unique opens too) come from the index alone.
    Index("ix_mail_events_issue_segment_hash", "issue_id", "segment", "event", "email_hash"),
)

# Running counts of mail_events per issue, segment and event, written in the transaction
# that stores the events (store.events.record_events): the issue's page reads a few rows
# instead of counting its 1.6 million events (a second per view at 1M recipients).
# `recipients`: how many different people had the event (kept for open and click); a
# person counts once, at their first such event (found through the index above).
event_counts = Table(
    "event_counts",
    metadata,
    Column("issue_id", String(20), primary_key=True),  # no foreign key, as mail_events
    Column("segment", String(100), primary_key=True),  # "" for events without one
    Column("event", String(30), primary_key=True),
    Column("total", Integer, nullable=False),
    Column("recipients", Integer, nullable=False),
)

# The scheduler's actions (draft, remind, send, hold, late: pipeline/timeline.py), one row
# per action key ("send:2026-W49"). Claiming the row is the lease: whoever inserts it, or
# takes it over once `lease_until` has passed and it is not done, performs the action, so
# two schedulers on two hosts perform it once. `done_at` set: performed, never again.
schedule_actions = Table(
    "schedule_actions",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("owner", Text),  # "host:pid" performing it now, None once released or done
    Column("claimed_at", UTCDateTime, nullable=False),
    Column("lease_until", UTCDateTime, nullable=False),  # renewed while performing
    Column("done_at", UTCDateTime),
    Column("outcome", Text),  # what happened, one line (shown by `insights status`)
    Column("attempts", Integer, nullable=False, default=0),
)

# Who did what to an issue, when: editors' actions in the admin and the CLI, and the
# scheduler's. Shown on the issue's page.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(320), nullable=False),  # an editor's address, or "scheduler"
    Column("issue_id", String(20)),
    Column("action", String(40), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Index("ix_audit_log_issue_id", "issue_id"),
)

# The public copy of each sent issue (pipeline/publish/snapshot.py): what the archive's
# pages, feeds and static export show, so nothing public is rendered from a draft.
# `updated_at` moves only when `content_hash` does (a feed's "updated").
public_issues = Table(
    "public_issues",
    metadata,
    Column("issue_id", String(20), ForeignKey("issues.id", ondelete="CASCADE"),
           primary_key=True),
    Column("number", Integer, nullable=False),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("body_html", Text, nullable=False),
    Column("image_url", Text),
    # Each item the copy shows, in its order (publish.model.PublicItem, times left out).
    Column("items", JSON, nullable=False, default=list),
    Column("published_at", UTCDateTime, nullable=False),  # the issue's sent_at
    Column("updated_at", UTCDateTime, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Index("ix_public_issues_published_at", "published_at"),
)

# Which bytes of each feed the WebSub hub was last told of (by their ETag): a publish
# pings the hub only for a feed whose bytes changed.
feed_pings = Table(
    "feed_pings",
    metadata,
    Column("path", String(200), primary_key=True),  # "/archive/feed.xml"
    Column("etag", String(100), nullable=False),
    Column("pinged_at", UTCDateTime, nullable=False),
)
