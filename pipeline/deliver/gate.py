"""The pre-send gate: an issue that lacks what the law or the mailbox providers require
is refused before anything goes out, with the reason. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from ..config import Config
from ..models import RenderedVariant
from ..render.placeholders import PLACEHOLDERS, rendered_before_markers

# Gmail clips a message's HTML beyond this: the footer (and its unsubscribe link) hides.
GMAIL_CLIP_BYTES = 102 * 1024


def check_issue(config: Config, variants: Sequence[RenderedVariant]) -> list[str]:
    problems = []
    nl = config.newsletter
    if not nl.from_email:
        problems.append("no from address (newsletter.from_email)")
    if not nl.base_url.startswith("https://"):
        problems.append(f"List-Unsubscribe needs an https URL; newsletter.base_url is "
                        f"{nl.base_url!r}")
    if not variants:
        problems.append("no rendered variants")
    address = " ".join(nl.postal_address.split())
    for v in variants:
        where = f"variant {v.segment!r}"
        if not v.text.strip():
            problems.append(f"{where}: no plain-text part")
        if address not in " ".join(v.html.split()) or address not in " ".join(v.text.split()):
            problems.append(f"{where}: the postal address is missing from the email")
        unsubscribe = f'href="{PLACEHOLDERS["unsubscribe_url"]}"'
        if unsubscribe not in v.html or PLACEHOLDERS["unsubscribe_url"] not in v.text:
            problems.append(f"{where}: no visible unsubscribe link" + (
                " (rendered by an older version: re-render it with `insights preview`, "
                "and approve it again)" if rendered_before_markers(v.html) else ""))
        if v.html_bytes > GMAIL_CLIP_BYTES:
            problems.append(f"{where}: {v.html_bytes // 1024} KB of HTML, over "
                            "Gmail's 102 KB clipping limit (the footer would be hidden)")
    return problems
