"""One exception tree for the whole project.

Library code raises these; the CLI turns them into one clear line and an exit code.
Foreign exceptions are converted at the boundary with ``raise ... from e``.
"""

from __future__ import annotations


class InsightsError(Exception):
    """Base of every error this project raises on purpose."""

    exit_code = 1


class ConfigError(InsightsError):
    """config.toml is missing, unreadable or invalid."""

    exit_code = 2


class UnknownName(InsightsError):
    """A name given on the command line (a list, a segment) that config.toml lacks."""

    exit_code = 2


class SourceError(InsightsError):
    """One source could not be fetched or parsed. Never stops the run."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"source {source!r}: {message}")
        self.source = source
        self.reason = message


class StoreError(InsightsError):
    """The database could not be reached, migrated or written."""


class StoreUnavailable(StoreError):
    """The database is locked by another process or cannot be reached: nothing is wrong
    with the request, and the same one later may well work. Raised at the store boundary
    (pipeline.store.db) in place of the driver's error, whose text carries SQL."""

    retry_after = 30  # seconds, for the web app's Retry-After


class RenderError(InsightsError):
    """A template failed to render; the message names the template and line."""


class DeliveryError(InsightsError):
    """A delivery backend refused or failed to send."""


class AudienceError(InsightsError):
    """Subscribers, lists, imports or consent went wrong."""


class WebhookRejected(InsightsError):
    """A webhook request was refused (bad signature, stale, malformed); nothing changed.
    `status_code` is the HTTP answer: SendGrid retries anything but a 2xx."""

    def __init__(self, message: str, status_code: int = 403) -> None:
        super().__init__(message)
        self.status_code = status_code



# -- delivery outcomes a backend reports for one batch -------------------------------------

class BatchRejected(DeliveryError):
    """The provider refused this batch (HTTP 400): retrying the same request cannot help."""


class BatchTooLarge(DeliveryError):
    """The provider refused the batch's size (HTTP 413): split it and send the halves."""


class RateLimited(DeliveryError):
    """Too many requests (HTTP 429): wait `retry_after` seconds and send again."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TransientFailure(DeliveryError):
    """Nothing was delivered (5xx, connection refused): safe to send again later."""


class OutcomeUnknown(DeliveryError):
    """The request went out and no answer came back: it may or may not have been sent.
    Never resent without the operator's decision (`insights send --resolve-unknown`)."""


class SendStopped(DeliveryError):
    """A per-recipient backend stopped between two messages because the send was asked
    to stop (SIGINT/SIGTERM): nothing is in flight."""


class AuthFailed(DeliveryError):
    """The provider refused our credentials (HTTP 401/403): stop the whole send."""

    exit_code = 3
