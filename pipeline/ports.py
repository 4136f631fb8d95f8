"""What the stages use of storage and of the audience, as narrow typed interfaces.

The send, the renderer, sign-up and the web app's public pages are typed with these
rather than with the classes behind them (subscribers.store.Audience and
pipeline.store.store.Store, both handed out by the Store), so each says what it needs,
and a test may hand it any object that has those methods. Store.audience() is the one
place the pipeline makes the subscriber Audience.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from .publish.model import PublicArchive, PublicIssue

if TYPE_CHECKING:  # types only: subscribers/ is a leaf that itself imports the pipeline's models
    from subscribers.model import Subscriber
    from subscribers.resolve import Prepare
    from subscribers.segments import Rule

    from .models import Issue, Item, ItemEdit, Recipient, RenderedVariant


class Recipients(Protocol):
    """What a send reads of the audience: who gets which variant, and who left since."""

    def resolve(self, lists: Sequence[str], segments: Sequence[tuple[str, Rule]],
                default_segment: str | None, *,
                parallel_from: int | None = ...,
                id_range: tuple[int | None, int | None] | None = ...,
                share: float = ...,
                prepare: Prepare | None = ...) -> Iterator[Recipient]: ...

    def split_ids(self, parts: int) -> list[tuple[int | None, int | None]]: ...

    def count(self, list_name: str | None = ..., status: str = ...) -> int: ...

    def no_longer_eligible(self, subscriber_ids: Sequence[int],
                           lists: Sequence[str]) -> set[int]: ...


class Consent(Protocol):
    """What sign-up, the links in our emails and the webhooks read and change of the
    audience: one person's subscriptions and suppression."""

    def get(self, email: str) -> Subscriber | None: ...

    def suppression_reason(self, email: str) -> str | None: ...

    def add(self, email: str, list_name: str, *, status: str, source: str, now: datetime,
            name: str = ..., attributes: dict[str, Any] | None = ...,
            ip: str | None = ...) -> tuple[Subscriber, str]: ...

    def sign_up(self, email: str, list_name: str, *, source: str, now: datetime,
                name: str = ..., attributes: dict[str, Any] | None = ...,
                ip: str | None = ...) -> str: ...

    def confirm(self, email: str, list_name: str, *, source: str, now: datetime,
                ip: str | None = ...) -> bool: ...

    def unsubscribe(self, email: str, list_name: str | None, *, source: str,
                    now: datetime, ip: str | None = ...) -> bool: ...

    def update_profile(self, email: str, *, name: str | None, attributes: dict[str, Any],
                       now: datetime) -> bool: ...

    def suppress(self, email: str, reason: str, note: str, now: datetime) -> None: ...


class IssueSections(Protocol):
    """What an issue's content is made of: its sections and the editors' content."""

    def issue_sections(self, issue_id: str) -> dict[str, list[Item]]: ...

    def issue_edits(self, issue_id: str) -> dict[int, ItemEdit]: ...


class IssueVariants(IssueSections, Protocol):
    """What rendering reads and writes of the store: an issue's sections and variants."""

    def get_variants(self, issue_id: str) -> list[RenderedVariant]: ...

    def save_variants(self, issue_id: str, rendered: Sequence[RenderedVariant],
                      now: datetime) -> None: ...


class PublishedIssues(Protocol):
    """What the public web version and calendar links read of the store."""

    def get_issue(self, issue_id: str) -> Issue | None: ...

    def get_variants(self, issue_id: str) -> list[RenderedVariant]: ...

    def item_in_issue(self, item_id: int, statuses: Sequence[str]) -> bool: ...

    def get_item(self, item_id: int) -> Item | None: ...


class Archive(PublicArchive, IssueSections, Protocol):
    """What publishing (pipeline/publish/workflow.py) reads and writes of the store,
    beside the public side's PublicArchive (pipeline/publish/model.py): the sent
    issues and their public copies, who hid which, and which feeds the hub was told of."""

    def get_issue(self, issue_id: str) -> Issue | None: ...

    def save_public_issue(self, issue: PublicIssue, content_hash: str) -> bool: ...

    def unpublished_sent_issue_ids(self) -> list[str]: ...

    def sent_issue_ids(self) -> list[str]: ...

    def set_archive_hidden(self, issue_id: str, hidden: bool, by: str,
                           now: datetime) -> bool: ...

    def feed_etags(self) -> dict[str, str]: ...

    def record_feed_ping(self, path: str, etag: str, now: datetime) -> None: ...
