"""What the editors are told, and when: the notices as records, and each notice's email as
a pure function of the notice and what the store says of its issue (`IssueSummary`).

The email says what happened, what happens next and by when (in the newsletter's zone
and in UTC), and links to the issue's admin page. Feed titles and source errors are
untrusted: they reach the templates as plain strings (escaped there), never a header.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from .models import SECTION_TITLES, Issue

Tone = Literal["ready", "warning", "alert", "done", "info"]
HEADLINES_PER_SECTION = 5
LINKS_LISTED = 10  # in the draft's notice; "Check links" on its page shows every one
ERROR_CHARS = 300


@dataclass(frozen=True)
class LinkCheck:
    """The new draft's links, asked as it was made (`[checks] at_draft`): warnings for
    the editors, never a block."""

    links: int  # links to check in its variants
    failed: Sequence[tuple[str, str]] = ()  # (url, its answer: "404", "unreachable: ...")
    not_asked: int = 0  # not begun in time (slow sites): "Check links" asks them
    error: str = ""  # the check itself failed (the draft stands): why


@dataclass(frozen=True)
class DraftReady:
    """The draft is made: review and approve it before the slot."""

    issue: Issue | str  # the Issue, or its id
    slot: datetime
    deadline: datetime
    failed: Sequence[tuple[str, str]] = ()  # (source, error): sources that failed this gather
    links: LinkCheck | None = None  # None: not checked at draft time


@dataclass(frozen=True)
class NothingNew:
    """No issue this week: nothing new (or only events, see compose.events_only_issues)."""

    period: str
    slot: datetime
    why: str  # a sentence
    short: str = ""  # the why in a few words, for the subject line ("nothing new")


@dataclass(frozen=True)
class DraftHeld:
    """A required source failed: no draft until it answers or an editor drafts anyway."""

    period: str
    slot: datetime
    failed: Sequence[tuple[str, str]]  # (source, error)


@dataclass(frozen=True)
class Reminder:
    """The slot is near and the draft is not approved."""

    issue: Issue | str
    slot: datetime
    deadline: datetime


@dataclass(frozen=True)
class HeldAtSlot:
    """Not approved at the slot: held; approved by the deadline it goes at the next tick."""

    issue: Issue | str
    slot: datetime
    deadline: datetime


@dataclass(frozen=True)
class PastDeadline:
    """Unsent past its deadline: never sent automatically ("Send now" in the admin)."""

    issue: Issue | str
    deadline: datetime
    approved: bool


@dataclass(frozen=True)
class Sent:
    """It went."""

    issue: Issue | str
    delivered: int
    report_message: str = ""


Notice = DraftReady | NothingNew | DraftHeld | Reminder | HeldAtSlot | PastDeadline | Sent


def notice_issue_id(notice: Notice) -> str:
    """The id of the issue (the period) the notice is about."""
    if isinstance(notice, NothingNew | DraftHeld):
        return notice.period
    return _id(notice.issue)


def _id(issue: Issue | str) -> str:
    return issue if isinstance(issue, str) else issue.id


def notice_kind(notice: Notice) -> str:
    """'draft-ready', 'held-at-slot'...: for logs, the audit log and a header filters read."""
    name = type(notice).__name__
    return "".join("-" + c.lower() if c.isupper() else c for c in name).lstrip("-")


# -- what the store says of the issue (read by editorial.py) -------------------------


@dataclass(frozen=True)
class SegmentLine:
    segment: str
    recipients: int
    items: int
    subject: str


@dataclass(frozen=True)
class IssueSummary:
    issue: Issue
    counts: dict[str, int]  # items per section
    headlines: dict[str, list[str]]  # the first titles per section (untrusted text)
    segments: list[SegmentLine]
    problems: list[str]  # the pre-send gate's verdict: empty when it may go
    # What changed since its last approval, in editors' words (approval.approval_summary):
    # empty when it was never approved, or is approved as it stands.
    changed: list[str] = field(default_factory=list)


# -- the email -----------------------------------------------------------------------


@dataclass(frozen=True)
class Fact:
    label: str
    value: str


@dataclass(frozen=True)
class NoticeView:
    """Everything the notice templates show; the same for every editor."""

    kind: str
    subject: str
    preview: str  # the inbox's preview line
    tone: Tone
    heading: str
    paragraphs: list[str]
    facts: list[Fact]
    next_steps: list[str]
    url: str
    button: str
    summary: IssueSummary | None = None
    failed: list[tuple[str, str]] = field(default_factory=list)
    section_titles: dict[str, str] = field(default_factory=lambda: dict(SECTION_TITLES))


@dataclass(frozen=True)
class Newsroom:
    """What of the config a notice needs."""

    name: str
    base_url: str
    tz: ZoneInfo
    approval_required: bool


def when(moment: datetime, tz: ZoneInfo) -> str:
    """'Mon 30 Nov 07:00 CST (13:00 UTC)'; the UTC date too when it differs."""
    local, utc = moment.astimezone(tz), moment.astimezone(UTC)
    same_day = local.date() == utc.date()
    utc_text = f"{utc:%H:%M}" if same_day else f"{utc:%a %d %b %H:%M}"
    return f"{local:%a %d %b %H:%M %Z} ({utc_text} UTC)"


def short_when(moment: datetime, tz: ZoneInfo) -> str:
    """'Mon 30 Nov 07:00 CST': for subject lines."""
    return f"{moment.astimezone(tz):%a %d %b %H:%M %Z}"


def week_of(moment: datetime, tz: ZoneInfo) -> str:
    """'the week of Mon 30 Nov 2026', the week `moment` falls in."""
    from .compose import period_for

    return f"the week of {period_for(moment, tz).start:%a %d %b %Y}"


def editors_told(editors: int) -> str:
    """"2 editors told", or how to have someone to tell: for the tick's lines."""
    return ("no editor to tell (add one: `insights editors add EMAIL`)" if not editors
            else f"{editors} editor{'s' if editors != 1 else ''} told")


def one_line(text: str, limit: int = ERROR_CHARS) -> str:
    """Untrusted text as one line of bounded length (a source's error, a title)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _issue_name(room: Newsroom, summary: IssueSummary | None, issue_id: str) -> str:
    return f"{room.name} no. {summary.issue.number}" if summary else f"{room.name} {issue_id}"


_NOUNS = {"news": ("news item", "news items"), "research": ("research paper", "research papers"),
          "events": ("event", "events")}


def _contents(summary: IssueSummary | None) -> str:
    """'8 news items, 5 papers and 1 event'."""
    if summary is None:
        return ""
    parts = [f"{n} {_NOUNS.get(s, (s, s))[n != 1]}" for s, n in summary.counts.items() if n]
    if not parts:
        return "no items"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _problems_line(summary: IssueSummary | None) -> str | None:
    if summary is None or not summary.problems:
        return None
    n = len(summary.problems)
    return (f"The pre-send check found {n} problem{'s' if n > 1 else ''}: it will not go "
            "until fixed (see below).")


def links_sentence(links: LinkCheck) -> str | None:
    """"2 links did not answer: https://... (404), https://... (unreachable: ...)." or
    "Every link answered (42 checked)."; None when the issue has no link to check."""
    again = "\"Check links\" on its page"
    if links.error:
        return (f"The links could not be checked ({one_line(links.error, 200)}); {again} "
                "asks them.")
    if not links.links:
        return None
    if not links.failed and not links.not_asked:
        return f"Every link answered ({links.links} checked)."
    parts = []
    if links.failed:
        n = len(links.failed)
        listed = ", ".join(f"{one_line(url, 200)} ({one_line(answer, 100)})"
                           for url, answer in links.failed[:LINKS_LISTED])
        more = f" and {n - LINKS_LISTED} more" if n > LINKS_LISTED else ""
        parts.append(f"{n} link{'s' if n != 1 else ''} did not answer: {listed}{more}. A "
                     "warning, not a block.")
    else:
        parts.append(f"Every link asked answered ({links.links - links.not_asked} of "
                     f"{links.links}).")
    if links.not_asked:
        parts.append(f"{links.not_asked} were not asked in time (slow sites); {again} "
                     "asks them.")
    return " ".join(parts)


def _changed_line(name: str, summary: IssueSummary | None) -> str | None:
    """An issue approved and then changed is not "not approved by anybody": say what
    changed since (its titles are untrusted: the templates escape them)."""
    if summary is None or not summary.changed:
        return None
    return (f"{name} was approved, then changed, so the approval no longer holds. What "
            f"changed: {'; '.join(summary.changed)}.")


def notice_view(room: Newsroom, notice: Notice, summary: IssueSummary | None) -> NoticeView:
    """The notice's email, as data. Pure."""
    tz = room.tz
    issue_id = notice_issue_id(notice)
    url = f"{room.base_url}/admin/issues/{issue_id}"
    name = _issue_name(room, summary, issue_id)
    kind = notice_kind(notice)
    match notice:
        case DraftReady(slot=slot, deadline=deadline, failed=failed, links=links):
            problems = _problems_line(summary)
            checked = links_sentence(links) if links is not None else None
            if room.approval_required:
                steps = [f"Review it and approve it before {when(slot, tz)}: it goes at "
                         "that slot.",
                         f"Not approved by then, it is held; approved by {when(deadline, tz)} "
                         "it goes at the next scheduler tick after the approval.",
                         "After that it is not sent automatically."]
            else:
                steps = [f"It goes as it stands at {when(slot, tz)} unless an editor "
                         "skips it or changes it.",
                         "Approval is optional for this newsletter."]
            subject = (f"{name} is ready for review: send {short_when(slot, tz)}"
                       if not problems else
                       f"{name} needs attention before it can go: send "
                       f"{short_when(slot, tz)}")
            return NoticeView(
                kind, subject, f"{_contents(summary)}. Send {when(slot, tz)}.",
                "warning" if problems else "ready", f"{name} is ready for review",
                [f"The draft for {week_of(slot, tz)} is made: {_contents(summary)}."]
                + ([problems] if problems else [])
                + ([checked] if checked else [])
                + ([f"{len(failed)} source(s) failed while gathering; their news is "
                    "missing from this draft."] if failed else []),
                [Fact("Approve by (the send slot)" if room.approval_required else
                      "Send slot", when(slot, tz)),
                 Fact("Late approvals until" if room.approval_required else
                      "Latest start", when(deadline, tz))],
                steps, url, "Review and approve" if room.approval_required else "Review",
                summary, [(s, one_line(e)) for s, e in failed])
        case Reminder(slot=slot, deadline=deadline):
            return NoticeView(
                kind, f"Reminder: {name} is not approved; send {short_when(slot, tz)}",
                f"Approve it before {when(slot, tz)}.", "warning",
                f"{name} is waiting for approval",
                ([f"Nobody has approved {name} yet, and its send slot is {when(slot, tz)}."]
                 if not (changed := _changed_line(name, summary)) else
                 [changed, f"Its send slot is {when(slot, tz)}."])
                + ([p] if (p := _problems_line(summary)) else []),
                [Fact("Approve by (the send slot)", when(slot, tz)),
                 Fact("Late approvals until", when(deadline, tz))],
                [f"Approve it before {when(slot, tz)} and it goes at that slot.",
                 f"Not approved by then, it is held; approved by {when(deadline, tz)} it "
                 "goes at the next scheduler tick after the approval.",
                 "To skip this week instead, use \"Skip this week\" on its page."],
                url, "Review and approve", summary)
        case HeldAtSlot(slot=slot, deadline=deadline):
            return NoticeView(
                kind, f"{name} is held: not approved; approve by "
                      f"{short_when(deadline, tz)} to send",
                f"Approve by {when(deadline, tz)} or it is not sent.", "alert",
                f"{name} is held",
                [f"Its send slot was {when(slot, tz)} and nobody had approved it: nothing "
                 "was sent."] if not (changed := _changed_line(name, summary)) else
                [f"Its send slot was {when(slot, tz)}: nothing was sent.", changed],
                [Fact("Approve by", when(deadline, tz)),
                 Fact("Send slot (missed)", when(slot, tz))],
                [f"Approve it by {when(deadline, tz)}: it goes at the next scheduler tick "
                 "(within minutes).",
                 "After the deadline it is never sent automatically: \"Send now\" on its "
                 "page is the only way.",
                 "Or skip this week with \"Skip this week\"."],
                url, "Review and approve", summary)
        case PastDeadline(deadline=deadline, approved=approved):
            why = ("It was approved, but its send did not start by the deadline (was the "
                   "scheduler down?)." if approved else
                   "Nobody approved it by the deadline.")
            return NoticeView(
                kind, f"{name} was not sent: past its deadline {short_when(deadline, tz)}",
                "It will not be sent automatically.", "alert", f"{name} was not sent",
                [why, "It will not be sent automatically: readers would get it too late."],
                [Fact("Deadline (passed)", when(deadline, tz))],
                ["To send it anyway, press \"Send now\" on its page.",
                 "Otherwise nothing is needed: next week's draft carries its items."],
                url, "Open the issue", summary)
        case Sent(delivered=delivered, report_message=message):
            return NoticeView(
                kind, f"{name} went out to {delivered:,} recipients",
                f"Delivered to {delivered:,} recipients.", "done", f"{name} went out",
                [f"It was delivered to {delivered:,} recipients."]
                + ([one_line(message, 1000)] if message else []),
                [], [], url, "See the issue", summary)
        case NothingNew(slot=slot, why=why, short=short):
            return NoticeView(
                kind, f"{room.name}: no issue for {week_of(slot, tz)}: "
                      f"{one_line(short or why, 60)}",
                f"The week of {week_of(slot, tz)} will be skipped.", "info",
                f"No issue for {week_of(slot, tz)}",
                [f"{one_line(why, 1000)}, so {week_of(slot, tz)} will be skipped: nothing "
                 f"goes out at {when(slot, tz)}."],
                [Fact("Send slot (skipped)", when(slot, tz))],
                ["Nothing is needed. What arrives before next week's draft goes in next "
                 "week's issue."],
                f"{room.base_url}/admin/issues", "Open the issues", None)
        case DraftHeld(slot=slot, failed=failed):
            names = ", ".join(s for s, _ in failed)
            return NoticeView(
                kind, f"{room.name}: the draft for {week_of(slot, tz)} is held: "
                      f"{one_line(names, 80)} failed",
                "A required source failed; no draft yet.", "alert",
                f"The draft for {week_of(slot, tz)} is held",
                ["A source marked required failed, so no issue was composed without it."],
                [Fact("Send slot", when(slot, tz))],
                ["The draft is tried again every hour; once the source answers it is made "
                 "and you are told.",
                 "To draft it now without the source, run `insights draft --anyway` (or "
                 "\"Draft anyway\" in the admin)."],
                f"{room.base_url}/admin/issues", "Open the issues", None,
                [(s, one_line(e)) for s, e in failed])
    raise AssertionError(notice)


def headlines(sections: dict[str, list[str]], limit: int = HEADLINES_PER_SECTION
              ) -> dict[str, list[str]]:
    return {s: [one_line(t, 160) for t in titles[:limit]] for s, titles in sections.items()}
