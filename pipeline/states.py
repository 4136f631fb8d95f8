"""Every state the pipeline records, in one place. StrEnums: each member is its stored
string ("in_flight" == BatchState.IN_FLIGHT), so the database, the reports and older
rows all read the same."""

from __future__ import annotations

from enum import StrEnum


class IssueStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    SENDING = "sending"
    SENT = "sent"
    SKIPPED = "skipped"  # superseded by a newer issue, or an editor skipped the week
    CANCELLED = "cancelled"  # an editor cancelled its send: the rest never goes


class BatchState(StrEnum):
    """pending -> in_flight -> accepted | failed | unknown | split; pending -> cancelled."""

    PENDING = "pending"  # recorded, not sent (or waiting to retry: the provider took nothing)
    IN_FLIGHT = "in_flight"  # its request is going out
    ACCEPTED = "accepted"  # the provider took it
    FAILED = "failed"  # refused for good (400), or some recipients refused (SMTP)
    UNKNOWN = "unknown"  # the request went out and no answer came back: held
    SPLIT = "split"  # 413: its recipients moved to two new batches
    CANCELLED = "cancelled"  # an editor cancelled the send before it went: never sent


class RecipientState(StrEnum):
    QUEUED = "queued"  # waiting in its batch (batch-level backends: sent with it)
    IN_FLIGHT = "in_flight"  # per-recipient backends: the message going out
    SENT = "sent"
    SKIPPED = "skipped"  # left or was suppressed after the batch was recorded
    FAILED = "failed"
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"  # not sent: an editor cancelled the send first


class RunStatus(StrEnum):
    """How a run or `insights send` ended (RunReport.status)."""

    SENT = "sent"
    SKIPPED = "skipped"
    ALREADY_SENT = "already-sent"
    AWAITING_APPROVAL = "awaiting-approval"
    INCOMPLETE = "incomplete"
    TOO_EARLY = "too-early"
