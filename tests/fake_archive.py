"""An in-memory PublicArchive (pipeline/publish/model.py) over hand-built public
issues, for the pages' tests: what the store's public copies would give, visible ones
only and newest first, with the calls counted (a cached page costs one version query)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from pipeline.publish.model import PublicIssue, PublicItem, item_anchor

FIRST_SENT = datetime(2025, 1, 6, 13, 0, tzinfo=UTC)  # a Monday, 07:00 in Chicago
# Text an attacker could get into a headline or a subject: markup, both quotes, an
# ampersand and what would close a <title> or an attribute.
HOSTILE = '<script>alert("x")</script> "Quoted" & \'apos\' </title><b>bold</b>'
SECTIONS = ("news", "research", "events")


def public_item(item_id: int, issue_id: str, sent: datetime, title: str | None = None,
                section: str = "news") -> PublicItem:
    return PublicItem(id=item_id, issue_id=issue_id, section=section,
                      title=title or f"Headline {item_id}",
                      link=f"https://journal.example.org/articles/{item_id}",
                      summary=f"What item {item_id} found, in two sentences. It matters.",
                      published=sent, updated=sent)


def public_issue(number: int, *, title: str | None = None, summary: str | None = None,
                 image_url: str | None = None, items: int = 6, sent: datetime | None = None,
                 item_title: str | None = None) -> PublicIssue:
    """Issue `number`, sent `number - 1` weeks after FIRST_SENT unless `sent` says."""
    sent = sent or FIRST_SENT + timedelta(weeks=number - 1)
    issue_id = f"{sent:%G-W%V}"
    carried = tuple(public_item(number * 100 + i, issue_id, sent,
                                item_title if i == 0 else None, SECTIONS[i % 3])
                    for i in range(items))
    return PublicIssue(
        id=issue_id, number=number, title=title or f"IO Insights no. {number}: the week in review",
        summary=summary if summary is not None else
        f"Issue {number}: ablation outcomes, a new embolisation trial and the meetings ahead.",
        published=sent, updated=sent, body_html=body_of(carried), image_url=image_url,
        items=carried)


def body_of(items: tuple[PublicItem, ...]) -> str:
    """Markup shaped like the public copy's article: a heading per section, an anchor
    per item (model.item_anchor), escaped text."""
    from markupsafe import escape

    parts = []
    for section in SECTIONS:
        carried = [i for i in items if i.section == section]
        if not carried:
            continue
        parts.append(f'<section id="{section}"><h2>{section.title()}</h2>')
        for item in carried:
            parts.append(f'<article id="{item_anchor(item.id)}"><h3><a href="{escape(item.link)}">'
                         f"{escape(item.title)}</a></h3><p>{escape(item.summary)}</p></article>")
        parts.append("</section>")
    return "\n".join(parts)


@dataclass
class FakeArchive:
    issues: dict[str, PublicIssue] = field(default_factory=dict)
    hidden: set[str] = field(default_factory=set)
    calls: Counter[str] = field(default_factory=Counter)

    @classmethod
    def of(cls, count: int, **kwargs: object) -> FakeArchive:
        archive = cls()
        archive.add(*(public_issue(n, **kwargs) for n in range(1, count + 1)))  # type: ignore[arg-type]
        return archive

    def add(self, *issues: PublicIssue) -> None:
        for issue in issues:
            self.issues[issue.id] = issue

    def edit(self, issue_id: str, **changes: object) -> None:
        """A copy edited: its content and its `updated` change (as the store's do)."""
        issue = self.issues[issue_id]
        self.issues[issue_id] = replace(issue, updated=issue.updated + timedelta(hours=1),
                                        **changes)  # type: ignore[arg-type]

    def _visible(self) -> list[PublicIssue]:
        return sorted((i for i in self.issues.values() if i.id not in self.hidden),
                      key=lambda i: i.published, reverse=True)

    def public_issues(self, limit: int, offset: int = 0) -> list[PublicIssue]:
        self.calls["public_issues"] += 1
        return self._visible()[offset:offset + limit]

    def public_issue(self, issue_id: str) -> PublicIssue | None:
        self.calls["public_issue"] += 1
        issue = self.issues.get(issue_id)
        return issue if issue is not None and issue_id not in self.hidden else None

    def public_issue_list(self) -> list[PublicIssue]:
        self.calls["public_issue_list"] += 1
        return [replace(i, body_html="", items=()) for i in self._visible()]

    def public_issue_count(self) -> int:
        self.calls["public_issue_count"] += 1
        return len(self._visible())

    def public_items(self, limit: int) -> list[PublicItem]:
        self.calls["public_items"] += 1
        return [item for issue in self._visible() for item in issue.items][:limit]

    def archive_version(self) -> str:
        """As the store's: the count, the latest change and the hidden set."""
        self.calls["archive_version"] += 1
        visible = self._visible()
        newest = max((i.updated for i in visible), default=None)
        return f"{len(visible)}:{newest}:{','.join(sorted(self.hidden))}"
