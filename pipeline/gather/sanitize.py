"""Make feed HTML safe for an email: an allowlist, http(s)/mailto links only, no styles.

Feed content is hostile until proven otherwise; feedparser's own sanitiser is a first
pass, nh3 (ammonia) is the one we trust.
"""

from __future__ import annotations

import html
import re

import nh3

# Headings stay: a structured abstract may label its sections with them ("<h4>Results</h4>"),
# and the teaser needs to know where a section starts (see render/teasers.py).
ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "cite", "code", "em", "h1", "h2", "h3", "h4", "h5",
    "h6", "i", "li", "ol", "p", "pre", "q", "s", "small", "strong", "sub", "sup", "u", "ul",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}}
URL_SCHEMES = {"http", "https", "mailto"}
_SPACES = re.compile(r"\s+")


def clean_html(fragment: str) -> str:
    """Sanitise an HTML fragment to the email-safe allowlist."""
    return nh3.clean(
        fragment,
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style", "iframe", "object", "embed", "noscript", "svg",
                            "math", "template"},
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    ).strip()


def text_to_html(text: str) -> str:
    """Plain text from a feed, escaped (feedparser leaves text/plain untouched)."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    return "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)


_BLOCK = re.compile(r"<(?:/?(?:p|div|li|ul|ol|h[1-6]|blockquote|tr|table)\b[^>]*|br\s*/?)>",
                    re.IGNORECASE)


def html_to_text(fragment: str) -> str:
    """The visible text of a fragment, whitespace collapsed (for summaries, subjects).
    Block boundaries become spaces, so "<p>a</p><p>b</p>" reads "a b", not "ab"."""
    spaced = _BLOCK.sub(lambda m: " " + m.group(0) + " ", fragment)
    stripped = nh3.clean(spaced, tags=set(), clean_content_tags={"script", "style"})
    return _SPACES.sub(" ", html.unescape(stripped)).strip()


def plain(value: str | None) -> str:
    """A title or name from a feed: markup removed, entities decoded, one line."""
    return html_to_text(value or "")


def safe_url(url: str | None) -> str | None:
    """Keep only absolute http(s) URLs: a link anywhere else has no place in an email."""
    if not url:
        return None
    url = url.strip()
    if re.match(r"^https?://[^\s/$.?#][^\s]*$", url, re.IGNORECASE) and not re.search(
        r"[\x00-\x1f\"<>\\]", url
    ):
        return url
    return None
