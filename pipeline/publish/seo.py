"""What search engines read: /sitemap.xml (sitemaps.org 0.9) and /robots.txt. Pure: the
same public copies give the same bytes (see feeds.py on why that matters)."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from .feeds import last_change, newest_first, rfc3339, xml_bytes, xml_safe
from .model import (
    ARCHIVE,
    ISSUES_PER_PAGE,
    PublicIssue,
    Site,
    archive_page_path,
    issue_path,
)

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
SITEMAP = "/sitemap.xml"

# Paths no crawler has business with. The token paths (/u/, /p/, /confirm/) are a
# subscriber's own links, which only reach a crawler when someone shares them; the
# per-segment email copies (/issues/) would compete with the archive's public copy;
# the embedded form is the landing page's form again. robots.txt is a request, not a
# lock: the admin pages also say noindex and ask for a login.
PRIVATE_PREFIXES = (
    "/admin",
    "/u/",
    "/p/",
    "/confirm/",
    "/webhooks/",
    "/issues/",
    "/subscribe/embed",
)


def sitemap(site: Site, issues: Sequence[PublicIssue],
            extra_paths: Sequence[str] = ("/", ARCHIVE)) -> bytes:
    """Every public page: `extra_paths` (the landing page and the archive's first page),
    the archive's further pages and each public issue's page with its lastmod.

    `issues` is every public issue (not a feed's 20). A landing or archive page changes
    whenever an issue is added or edited (its list moves along), so its lastmod is the
    newest change of any. One file holds 50,000 URLs: a thousand years of weekly issues."""
    newest = rfc3339(last_change([i.updated for i in issues]))
    pages = max(1, math.ceil(len(issues) / ISSUES_PER_PAGE))
    listed = dict.fromkeys([*extra_paths, *(archive_page_path(n) for n in range(2, pages + 1))])
    urlset = ET.Element("urlset", {"xmlns": SITEMAP_NS})
    for path in listed:
        _url(urlset, site.url(path), newest if issues else None)
    for issue in newest_first(issues):
        _url(urlset, site.url(issue_path(issue.id)), rfc3339(issue.updated))
    return xml_bytes(urlset)


def _url(urlset: ET.Element, loc: str, lastmod: str | None) -> None:
    url = ET.SubElement(urlset, "url")
    ET.SubElement(url, "loc").text = xml_safe(loc)
    if lastmod:
        ET.SubElement(url, "lastmod").text = lastmod


def robots(site: Site) -> bytes:
    """Crawl the public pages and feeds, not a subscriber's links nor the admin."""
    lines = ["User-agent: *", "Allow: /"]
    lines += [f"Disallow: {prefix}" for prefix in PRIVATE_PREFIXES]
    lines += ["", f"Sitemap: {site.url(SITEMAP)}"]
    return ("\n".join(lines) + "\n").encode()
