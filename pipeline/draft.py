"""A period's issue: composed from what is new (compose.py decides) and stored as a draft.

The weekly job, `insights preview` and the scheduler's draft step (editorial.py) start an
issue here.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from .compose import compose_issue, period_for
from .config import Config
from .models import Issue, IssueContent, Period
from .store.store import Store

# The weekly job's logger: operators read and filter the supersede warning under this name.
log = logging.getLogger("insights.job")


def compose_new(config: Config, store: Store,
                now: datetime) -> tuple[IssueContent | None, datetime]:
    """What is new at `now` (None when nothing is), and the window's start."""
    # What no sent issue carried, back to max_age_days: entries left out of a full issue
    # (or published just before the last one was built) get their turn.
    since = now - timedelta(days=config.compose.max_age_days)
    content = compose_issue(
        store.unissued_items(("news", "research"), since),
        store.upcoming_events(now, now + timedelta(days=config.compose.horizon_days)),
        store.issued_item_ids(),
        config.compose.max_items_per_section,
    )
    return content, since


def store_draft(store: Store, period: Period, content: IssueContent, now: datetime) -> Issue:
    """Store `content` as `period`'s draft; older unsent issues are superseded by it."""
    issue = store.create_issue(period.id, period.start, period.end, content.sections,
                               content.new_item_ids, now)
    for stale in store.supersede_unsent(issue.number, now):
        log.warning("issue %s was never sent and is superseded by %s (which carries its "
                    "items): marked skipped", stale, issue.id)
    return issue


def build_issue(config: Config, store: Store, now: datetime) -> tuple[Issue | None, datetime]:
    """Compose and store this period's issue from what is new; None when nothing is.

    Returns the window start too, for the report.
    """
    content, since = compose_new(config, store, now)
    if content is None:
        return None, since
    return store_draft(store, period_for(now, config.newsletter.tz), content, now), since
