"""Feed HTML is hostile: only an email-safe allowlist reaches the rendered issue."""

from __future__ import annotations

import pytest

from pipeline.gather.feeds import parse_feed
from pipeline.gather.sanitize import clean_html, safe_url

HOSTILE = [
    '<script>alert(1)</script><p>ok</p>',
    '<p onclick="steal()">ok</p>',
    '<a href="javascript:alert(1)">ok</a>',
    '<img src=x onerror=alert(1)>ok',
    '<p style="background:url(https://evil.example.com/t.gif)">ok</p>',
    '<iframe src="https://evil.example.com"></iframe>ok',
    '<link rel="stylesheet" href="https://evil.example.com/x.css">ok',
    '<a href="data:text/html;base64,PHNjcmlwdD4=">ok</a>',
]


@pytest.mark.parametrize("fragment", HOSTILE)
def test_nothing_active_survives(fragment):
    cleaned = clean_html(fragment).lower()
    for bad in ("<script", "onclick", "onerror", "javascript:", "style=", "<iframe",
                "<link", "data:"):
        assert bad not in cleaned
    assert "ok" in cleaned


def test_only_http_links_survive():
    assert safe_url("https://example.org/a") == "https://example.org/a"
    assert safe_url("javascript:alert(1)") is None
    assert safe_url("/relative") is None
    assert safe_url('https://x.org/"><script>') is None


def test_plain_text_descriptions_are_escaped():
    feed = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
    <entry><id>1</id><title>Ablation &amp; you</title><link href="https://example.org/1"/>
    <summary type="text">&lt;b&gt;not bold&lt;/b&gt; &amp; safe</summary></entry></feed>"""
    [item], warnings = parse_feed("t", "news", feed)
    assert warnings == []
    assert item.title == "Ablation & you"
    assert item.summary_html == "<p>&lt;b&gt;not bold&lt;/b&gt; &amp; safe</p>"
