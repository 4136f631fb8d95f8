"""Previews for editors: the current draft's variants written to a folder."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from subscribers.tokens import Tokens, secret_key

from .compose import period_for
from .config import Config
from .deliver.message import personal_values
from .draft import build_issue
from .errors import InsightsError, UnknownName
from .gather import gather
from .models import Issue
from .render.issue import variants_of
from .render.placeholders import fill
from .store.store import Store


def current_issue(config: Config, store: Store, now: datetime) -> Issue:
    """The newest unsent issue, or this period's issue composed now as a draft."""
    issue = store.latest_open_issue()
    if issue is not None:
        return issue
    period = period_for(now, config.newsletter.tz)
    if store.get_issue(period.id) is not None:
        raise InsightsError(f"this period's issue {period.id} is already sent; "
                            "nothing to preview (use --now for a later period)")
    gather(config, store, now)
    issue, since = build_issue(config, store, now)
    if issue is None:
        raise InsightsError(f"nothing new since {since:%Y-%m-%d}: no issue to preview")
    return issue


def write_preview(config: Config, out_dir: Path, segments: Sequence[str],
                  now: datetime) -> list[Path]:
    unknown = [s for s in segments if s not in config.variant_names]
    if unknown:
        raise UnknownName(f"unknown segment {unknown[0]!r}; known: "
                            f"{', '.join(config.variant_names)}")
    store = Store.open(config.store_url)
    try:
        issue = current_issue(config, store, now)
        variants = variants_of(config, store, issue)
    finally:
        store.close()
    # Editors see the email as a reader would: placeholders filled for a sample reader.
    sample = personal_values(config, Tokens(secret_key(required=False)),
                             "reader@example.org", "Alex", test=True)
    written = []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for v in variants:
            if segments and v.segment not in segments:
                continue
            for suffix, body in ((".html", fill(v.html, sample.values)),
                                 (".txt", fill(v.text, sample.values))):
                path = out_dir / f"{issue.id}-{v.segment}{suffix}"
                path.write_text(body, encoding="utf-8")
                written.append(path)
    except OSError as e:
        raise InsightsError(f"cannot write previews to {out_dir}: {e.strerror}") from e
    return written
