"""Research items as the email shows them: teasers in whole sentences, cited authors that
keep their particles, one name per journal, links without tracking parameters (and with
ours when [links] utm is on). Fixtures: tests/data/research/ (feed + expected values)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.config import Links, load_config
from pipeline.errors import ConfigError
from pipeline.gather.feeds import parse_feed
from pipeline.models import Issue, Item, canonical_url
from pipeline.render.citations import abbreviates, cite_name, journal_names
from pipeline.render.context import Readership, build_context, issue_journals, item_view
from pipeline.render.sentences import fit_sentences, split_sentences
from pipeline.render.teasers import research_teaser
from pipeline.tracking import Campaign, StripRules, strip_tracking

from .conftest import ROOT

DATA = Path(__file__).parent / "data" / "research"
CAMPAIGN = Campaign("io-insights", "email", "2026-W48", own_host="news.example.org")
TZ = load_config(ROOT / "config.toml").newsletter.tz


@pytest.fixture(scope="module")
def fixtures() -> tuple[dict[str, Item], dict[str, str], dict[str, dict[str, str]]]:
    config = load_config(ROOT / "config.toml")
    items, warnings = parse_feed("fixtures", "research", (DATA / "research.rss").read_bytes(),
                                 strip=config.links.strip_rules)
    assert not warnings
    expected = json.loads((DATA / "research.expected.json").read_text())
    assert {i.guid for i in items} == set(expected)
    return {i.guid: i for i in items}, issue_journals(config, items), expected


GUIDS = sorted(json.loads((DATA / "research.expected.json").read_text()))


@pytest.mark.parametrize("guid", GUIDS)
def test_fixture_teaser_citation_and_link(fixtures, guid):
    items, journals, expected = fixtures
    want = expected[guid]
    view = item_view(items[guid], TZ, "https://news.example.org", None, journals)
    assert view["summary"] == want["teaser"]
    assert view["authors"] == want["authors"]
    assert view["journal"] == want["journal"]
    assert view["link"] == want["link"]
    tagged = item_view(items[guid], TZ, "https://news.example.org", CAMPAIGN, journals)
    assert tagged["link"] == want["link_with_utm"]


def test_stored_summary_stays_the_sanitised_original(fixtures):
    items, _, _ = fixtures
    item = items["pubmed:40000001"]
    assert "PURPOSE:" in item.summary_html and "PMID:" in item.summary_html


@pytest.mark.parametrize("text,sentences", [
    ("Survival was 14.6 vs. 8.9 months. It held.", ["Survival was 14.6 vs. 8.9 months.",
                                                    "It held."]),
    ("As Smith et al. showed (Fig. 2), P = .03 held. Next one.",
     ["As Smith et al. showed (Fig. 2), P = .03 held.", "Next one."]),
    ("Imaging, e.g. CT, i.e. not MRI. Done.", ["Imaging, e.g. CT, i.e. not MRI.", "Done."]),
    ("Benjamin A. Hartley led it. 71% went on.", ["Benjamin A. Hartley led it.", "71% went on."]),
    ("Was it safe? Yes (n = 58). “Quoted” start.", ["Was it safe?", "Yes (n = 58).",
                                                    "“Quoted” start."]),
    ("Mean 2.5 cm. no new sentence here", ["Mean 2.5 cm. no new sentence here"]),
    ("", []),
])
def test_sentence_boundaries_know_abbreviations_and_decimals(text, sentences):
    assert split_sentences(text) == sentences


def test_fit_sentences_keeps_whole_sentences_within_the_budget():
    sentences = ["One two three.", "Four five six.", "Seven eight nine."]
    assert fit_sentences(sentences, 30) == "One two three. Four five six."
    assert fit_sentences(sentences, 100, most=1) == "One two three."
    # A first sentence longer than the budget stays whole up to twice the budget...
    assert fit_sentences(["x" * 15 + " y."], 10) == "x" * 15 + " y."
    # ... and only beyond that is cut, at a word.
    assert fit_sentences(["aaa bbb ccc ddd eee fff ggg."], 10) == "aaa bbb…"


@pytest.mark.parametrize("summary,teaser", [
    # The conclusion wins over the results, wherever it is.
    ("<p>CONCLUSION: Better. RESULTS: 5 of 9.</p>", "Better."),
    ("<p><strong>Results</strong>: It worked.</p>", "It worked."),
    # "TACE:" is an acronym, not a label; an unknown label counts only in capitals.
    ("<p>TACE: a review of 12 trials. It helps.</p>", "TACE: a review of 12 trials. It helps."),
    ("<p>SECONDARY ENDPOINTS: none. CONCLUSIONS: Fine.</p>", "Fine."),
    # A plain-text feed's label alone on its line.
    ("<p>RESULTS<br>Nine of ten responded.</p>", "Nine of ten responded."),
    ("<p>No label here: the colon is prose. Second.</p>",
     "No label here: the colon is prose. Second."),
    ("<p>Conclusions: Safe.</p><p>© 2026 The Authors. Published by Example.</p>", "Safe."),
    ("", ""),
])
def test_research_teaser(summary, teaser):
    assert research_teaser(summary) == teaser


@pytest.mark.parametrize("name,cited", [
    ("Pieter van den Berg", "van den Berg P"), ("Maria de la Cruz", "de la Cruz M"),
    ("Miriam Okafor-Lindqvist", "Okafor-Lindqvist M"), ("Berg, Pieter van den", "van den Berg P"),
    ("de la Cruz, Maria", "de la Cruz M"), ("van den Berg P", "van den Berg P"),
    ("Ludwig von Beethoven", "von Beethoven L"), ("Carlos Da Silva", "Da Silva C"),
    ("Nguyen Van An", "An NV"), ("John Smith Jr.", "Smith J Jr"), ("Smith, John, Jr.", "Smith J Jr"),
    ("Mei Lin Goh", "Goh ML"), ("IO Society Writing Committee", "IO Society Writing Committee"),
])
def test_citation_names_keep_particles(name, cited):
    assert cite_name(name) == cited


def test_one_name_per_journal():
    names = ["J Interv Oncol Res", "Journal of Interventional Oncology Research", "Radiology",
             "J. Vasc. Interv. Radiol.", "J Clin Oncol", None]
    shown = journal_names(names, {"J Vasc Interv Radiol":
                                  "Journal of Vascular and Interventional Radiology"})
    assert shown == {
        "J Interv Oncol Res": "Journal of Interventional Oncology Research",
        "Journal of Interventional Oncology Research": "Journal of Interventional Oncology Research",
        "Radiology": "Radiology",
        "J. Vasc. Interv. Radiol.": "Journal of Vascular and Interventional Radiology",
        "J Clin Oncol": "J Clin Oncol",  # no full title known: as the feed gives it
    }
    assert abbreviates("Natl Med J", "National Medical Journal")
    assert not abbreviates("J Interv Oncol", "Journal of Interventional Oncology Research")
    assert not abbreviates("Radiology", "Radiology")


def test_every_variant_names_a_journal_alike(fixtures):
    """A variant without the journal's own feed still shows the full title found in the
    issue: the names come from the whole issue, not the variant."""
    config = load_config(ROOT / "config.toml")
    pubmed = Item("pubmed", "p1", "research", "t", journal="J Interv Oncol Res")
    toc = Item("toc", "t1", "research", "u", journal="Journal of Interventional Oncology Research")
    journals = issue_journals(config, [pubmed, toc])
    issue = Issue("2026-W48", 1, datetime(2026, 11, 23, tzinfo=UTC),
                  datetime(2026, 11, 30, tzinfo=UTC), "draft")
    context = build_context(config, issue, {"research": [pubmed]},
                            Readership("lung", "", ["Members"]), journals)
    assert context["sections"][0]["items"][0]["journal"] == toc.journal


@pytest.mark.parametrize("url,clean", [
    ("https://pubmed.ncbi.nlm.nih.gov/1/?utm_source=x&fc=1&ff=2&v=2.18", "https://pubmed.ncbi.nlm.nih.gov/1/"),
    ("https://www.youtube.com/watch?v=abc&fbclid=1", "https://www.youtube.com/watch?v=abc"),
    ("https://a.example/p?id=7&UTM_Campaign=x&gclid=y#top", "https://a.example/p?id=7#top"),
    ("https://a.example/p?q=a%20b&mc_eid=1&x=1", "https://a.example/p?q=a%20b&x=1"),
    ("https://a.example/p", "https://a.example/p"),
    ("https://[broken/p?utm_source=x", "https://[broken/p?utm_source=x"),
])
def test_strip_tracking(url, clean):
    assert strip_tracking(url) == clean


def test_host_rules_cover_subdomains_only_of_their_host():
    rules = StripRules(("utm_*",), {"example.net": ("v",)})
    assert strip_tracking("https://pubmed.example.net/1?v=2", rules) == "https://pubmed.example.net/1"
    assert strip_tracking("https://notexample.net/1?v=2", rules) == "https://notexample.net/1?v=2"


def test_canonical_url_of_a_stripped_link_is_the_tracked_links():
    """Dedup across feeds compares canonical URLs: stripping at gather must not make the
    same page two pages."""
    tracked = "https://www.journal.example/a/1/?utm_source=x&fbclid=y"
    assert canonical_url(strip_tracking(tracked)) == canonical_url(tracked)


def test_campaign_tags_only_links_to_other_sites():
    assert CAMPAIGN.tag("https://news.example.org/issues/1") == "https://news.example.org/issues/1"
    assert CAMPAIGN.tag("mailto:a@example.org") == "mailto:a@example.org"
    assert CAMPAIGN.tag(None) is None
    assert CAMPAIGN.tag("https://x.example/p?utm_source=old&a=1") == (
        "https://x.example/p?a=1&utm_source=io-insights&utm_medium=email&utm_campaign=2026-W48")


def test_links_config_validates_parameter_names(tmp_path):
    assert Links(strip_params=["UTM_*"]).strip_params == ["utm_*"]
    text = (ROOT / "config.toml").read_text().replace("utm = false",
                                                      'utm = false\nstrip_params = ["a=b"]')
    (tmp_path / "config.toml").write_text(text)
    with pytest.raises(ConfigError, match="strip_params"):
        load_config(tmp_path / "config.toml")


def test_utm_on_tags_item_links_but_not_our_own(tmp_path):
    text = (ROOT / "config.toml").read_text().replace("utm = false", "utm = true")
    (tmp_path / "config.toml").write_text(text)
    config = load_config(tmp_path / "config.toml")
    item = Item("s", "g", "news", "t", link="https://www.example.org/news/1")
    issue = Issue("2026-W48", 48, datetime(2026, 11, 23, tzinfo=UTC),
                  datetime(2026, 11, 30, tzinfo=UTC), "draft")
    context = build_context(config, issue, {"news": [item]}, Readership("general", "", []))
    assert context["sections"][0]["items"][0]["link"] == (
        "https://www.example.org/news/1?utm_source=io-insights&utm_medium=email"
        "&utm_campaign=2026-W48")
    assert "utm_" not in context["links"]["view_in_browser"]
