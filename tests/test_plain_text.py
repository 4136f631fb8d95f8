"""The text part reads well: the note's Markdown as plain text, and no URL broken by a
line break anywhere in it."""

from __future__ import annotations

import re

import pytest

from pipeline.render.plain import markdown_to_text, wordwrap, wrap_lines

LONG = ("https://www.example.org/meeting/2027/register?utm_source=insights&utm_medium=email"
        "&utm_campaign=2026-w48")

NOTES = [
    ("", ""),
    ("   \n", ""),
    ("Welcome to the **December** issue, *colleagues*.",
     "Welcome to the December issue, colleagues."),
    # links: numbered, listed after their paragraph; one number per address
    ("See [the programme](https://x.org/p) and [register](https://x.org/r).\n\n"
     "Again: [the programme](https://x.org/p).",
     "See the programme [1] and register [2].\n[1] https://x.org/p\n[2] https://x.org/r\n\n"
     "Again: the programme [1]."),
    # a link that is its own text needs no reference; a javascript: one is not a link
    ("Write to <https://x.org/contact> or [x](javascript:alert(1)).",
     "Write to https://x.org/contact or [x](javascript:alert(1))."),
    ("Mail [the editors](mailto:ed@x.org).", "Mail the editors [1].\n[1] mailto:ed@x.org"),
    # lists stay "- " lines, wrapped under their text; references after the whole list
    ("Three things:\n\n- abstracts close on **15 Dec** ([submit](https://x.org/a))\n"
     "- volunteers wanted for the Patient Education Committee, who meet monthly online\n"
     "- `code` stays",
     "Three things:\n\n- abstracts close on 15 Dec (submit [1])\n"
     "- volunteers wanted for the Patient Education Committee, who meet monthly\n"
     "  online\n- code stays\n[1] https://x.org/a"),
    ("1. first\n2. second\n   - nested", "1. first\n2. second\n   - nested"),
    ("> A quote\n> that goes on.", "> A quote that goes on."),
    ("# Heading\n\nText  \nafter a hard break", "Heading\n\nText\nafter a hard break"),
    ("Quotes \"straight\" -- as the HTML part", "Quotes \"straight\" -- as the HTML part"),
    ("<b>raw</b> html stays text", "<b>raw</b> html stays text"),
    ("![the logo](https://x.org/l.png) alt text", "the logo alt text"),
    ("---", "* * *"),
    ("```\nline one\n```", "    line one"),
]


@pytest.mark.parametrize(("markdown", "expected"), NOTES)
def test_markdown_to_text(markdown, expected):
    assert markdown_to_text(markdown) == expected


def test_a_long_link_is_a_reference_on_its_own_line_and_the_marker_stays_with_its_word():
    text = markdown_to_text(f"Our president writes about the plans for [the 2027 annual "
                            f"meeting]({LONG}) in Boston, and about the year ahead.")
    assert text == ("Our president writes about the plans for the 2027 annual meeting [1] in\n"
                    "Boston, and about the year ahead.\n"
                    f"[1] {LONG}")
    assert all(len(line) <= 76 for line in text.splitlines() if "://" not in line)


def test_wrapping_never_splits_a_url_or_a_hyphenated_word():
    text = f"Read the statement at {LONG} before the board's non-small-cell session."
    lines = wrap_lines(text, 40)
    assert LONG in lines and "non-small-cell" in " ".join(lines).split()
    assert wordwrap(text, 40, wrapstring="\n  ").split("\n  ")[1] == LONG
    assert wordwrap("one\ntwo three", 5) == "one\ntwo\nthree"  # lines kept, as Jinja's


def test_urls_in_every_text_part_are_whole(tmp_path):
    """Every address in the text part is one the HTML part links to (or a placeholder's):
    a line break inside one would leave a fragment that is neither."""
    from .helpers import copy_project, first_run, require_approval

    project = copy_project(tmp_path)
    require_approval(project)
    config, report = first_run(project)  # a draft, so the note can change
    note = (f"Welcome! Read **the president's letter** ([here]({LONG})).\n\n"
            "- [Volunteer](https://www.example.org/volunteer)\n- No link")
    from pipeline.editing import edit_note
    from pipeline.store.store import Store

    store = Store.open(config.store_url)
    try:
        edit_note(config, store, report.issue_id, note, report.now)
        variants = store.get_variants(report.issue_id)
    finally:
        store.close()
    for variant in variants:
        assert "the president's letter ([here] [1])" not in variant.text
        assert "Read the president's letter (here [1])." in variant.text
        assert f"[1] {LONG}" in variant.text and "- Volunteer [2]" in variant.text
        html_links = {m.replace("&amp;", "&") for m in re.findall(r'href="([^"]+)"',
                                                                   variant.html)}
        for url in re.findall(r"(?:https?|mailto):\S+", variant.text):
            assert url in html_links or "%%" in url, url
