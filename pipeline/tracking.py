"""Tracking parameters in links: other people's removed when an item is gathered, ours
(utm_source, utm_medium, utm_campaign) added when an issue is rendered. Pure.

Removal happens once, at gather, so the stored link, its canonical URL (dedup across
feeds) and every page that shows it are clean. Adding happens per issue, at render,
because the campaign is the issue.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from urllib.parse import unquote_plus, urlencode, urlsplit, urlunsplit

# Removed from links to any site: analytics and ad-click identifiers, which never
# change what page a link opens.
DEFAULT_STRIP_PARAMS = (
    "utm_*", "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid",
    "twclid", "igshid", "mc_cid", "mc_eid", "_hsenc", "_hsmi", "__hssc", "__hstc", "__hsfp",
    "hsctatracking", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_conv", "vero_id",
    "_ga", "_gl", "wickedid", "rb_clickid", "s_cid",
)
# Removed only on these hosts (and their subdomains): names like "v" or "ff" mean the page
# itself elsewhere (YouTube's watch?v=ID). PubMed's RSS links carry fc, ff and v.
DEFAULT_STRIP_PARAMS_BY_HOST: Mapping[str, tuple[str, ...]] = {
    "pubmed.ncbi.nlm.nih.gov": ("fc", "ff", "v"),
    "ncbi.nlm.nih.gov": ("fc", "ff", "v"),
}
CAMPAIGN_PARAMS = ("utm_source", "utm_medium", "utm_campaign")


@dataclass(frozen=True)
class StripRules:
    """Which query parameters are tracking: names or shell patterns ("utm_*"), lower case."""

    everywhere: tuple[str, ...] = DEFAULT_STRIP_PARAMS
    by_host: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: dict(DEFAULT_STRIP_PARAMS_BY_HOST))

    def patterns_for(self, host: str) -> tuple[str, ...]:
        host = host.lower().rstrip(".")
        scoped = [p for h, names in self.by_host.items()
                  if host == h or host.endswith("." + h) for p in names]
        return (*self.everywhere, *scoped)


DEFAULT_STRIP_RULES = StripRules()


def strip_tracking(url: str, rules: StripRules = DEFAULT_STRIP_RULES) -> str:
    """`url` without its tracking parameters; the others stay as they were written, in
    their order. A URL that does not parse is returned unchanged."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return url
    if not parts.query:
        return url
    patterns = rules.patterns_for(host)
    kept = [q for q in parts.query.split("&") if q and not _matches(_name(q), patterns)]
    return urlunsplit(parts._replace(query="&".join(kept)))


def _name(pair: str) -> str:
    return unquote_plus(pair.partition("=")[0]).strip().lower()


def _matches(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatchcase(name, p.lower()) for p in patterns)


@dataclass(frozen=True)
class Campaign:
    """Our own tags, added to links to other sites: where the reader came from."""

    source: str  # the newsletter ("io-insights")
    medium: str  # "email"
    campaign: str  # the issue ("2026-W48")
    own_host: str = ""  # our app's links (view in browser, calendar files) stay untagged

    def tag(self, url: str | None) -> str | None:
        """`url` with utm_source, utm_medium and utm_campaign (replacing any it had);
        links to our own host, and anything but http(s), unchanged."""
        if not url:
            return url
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
        except ValueError:
            return url
        if parts.scheme not in ("http", "https") or not host or host == self.own_host.lower():
            return url
        kept = [q for q in parts.query.split("&") if q and _name(q) not in CAMPAIGN_PARAMS]
        ours = urlencode({"utm_source": self.source, "utm_medium": self.medium,
                          "utm_campaign": self.campaign})
        return urlunsplit(parts._replace(query="&".join([*kept, ours])))


def slug(text: str) -> str:
    """'IO Insights' -> 'io-insights' (a utm_source value readable in any analytics)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "newsletter"
