"""Per-recipient placeholders, and the rule that only the template may place them.

A variant is rendered once and filled per recipient at delivery (SendGrid substitutions,
SMTP, the outbox, test sends, the web version). Whatever string delivery substitutes is
a capability: the text that carries it receives each reader's address and signed
unsubscribe link. So the markers are strings no reader would type (`%%io:email%%`), and
every value a template outputs that is not a `Placeholder` has any marker made inert
(see `inert`): feed text, ICS fields, the editor's note, names, later editor input.
A feed that writes `%email%` or `%unsubscribe_url%` keeps that as literal text.
"""

from __future__ import annotations

import re

KEYS = ("first_name", "first_name_html", "unsubscribe_url", "preferences_url", "email")
_PREFIX = "%%io:"


class Placeholder(str):
    """A marker put in by the template (through `links`): the only strings whose
    markers survive rendering."""

    __slots__ = ()


def marker(key: str) -> Placeholder:
    return Placeholder(f"{_PREFIX}{key}%%")


# Filled per recipient by delivery; first_name is for the text part, first_name_html
# (the same name, HTML-escaped) for the HTML part.
PLACEHOLDERS: dict[str, Placeholder] = {key: marker(key) for key in KEYS}
# Templates written before the markers changed say `%first_name%`: the template source
# is ours, so those still mean the placeholder (see render.LegacyPlaceholders).
LEGACY = {f"%{key}%": PLACEHOLDERS[key] for key in KEYS}
ANY_MARKER = re.compile(re.escape(_PREFIX) + r"(?:" + "|".join(KEYS) + r")%%")


def inert(text: str) -> str:
    """`text` with no marker left in it: each `%%io:` gets a space (`%% io:`), so it
    reads the same and is substituted by nobody. (No new marker can form: the space
    sits inside every place one could start.)"""
    if _PREFIX not in text:  # the common case, and cheap
        return text
    return text.replace(_PREFIX, "%% io:")


def fill(text: str, values: dict[str, str]) -> str:
    """Each marker in `text` replaced by its value, in one pass: a value (a subscriber's
    name, say) is never searched for markers in turn."""
    if _PREFIX not in text:
        return text
    return ANY_MARKER.sub(lambda m: values.get(m.group(0), m.group(0)), text)


def rendered_before_markers(html: str) -> bool:
    """A variant rendered by a version before these markers (its unsubscribe link is
    the old `%unsubscribe_url%`): delivery would leave it unfilled."""
    return 'href="%unsubscribe_url%"' in html and PLACEHOLDERS["unsubscribe_url"] not in html
