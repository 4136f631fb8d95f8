"""The email itself: variants, citations, the editor's note, size, spam score, screenshots."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.errors import RenderError
from pipeline.models import Item
from pipeline.render import render_variant
from pipeline.render.citations import author_line, cite_name
from pipeline.render.context import editor_note_html, summary_text
from pipeline.variants import Overrides, VariantSpec, plan_variant

from .helpers import first_run

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def item(i, section="research", topics=(), start=None):
    return Item(source="s", guid=str(i), section=section, title=f"Item {i}", id=i,
                topics=tuple(topics), event_start=start)


SECTIONS = {
    "news": (item(1, "news"), item(2, "news", ["liver"]), item(3, "news")),
    "research": (item(4), item(5, topics=["lung"]), item(6, topics=["liver", "lung"]), item(7)),
    "events": (item(8, "events", ["liver"], NOW), item(9, "events", [], NOW.replace(day=24))),
}


def ids(planned):
    return {k: [i.id for i in v] for k, v in planned.items()}


def test_default_variant_keeps_everything_in_order():
    assert ids(plan_variant(SECTIONS, VariantSpec())) == {
        "news": [1, 2, 3], "research": [4, 5, 6, 7], "events": [8, 9]}


def test_preferred_topics_come_first_but_events_stay_in_date_order():
    planned = plan_variant(SECTIONS, VariantSpec(prefer_topics=frozenset({"liver"})))
    assert ids(planned) == {"news": [2, 1, 3], "research": [6, 4, 5, 7], "events": [8, 9]}


def test_section_order_caps_and_editor_overrides():
    spec = VariantSpec(order=("events", "research"), max_items=2,
                       prefer_topics=frozenset({"lung"}))
    planned = plan_variant(SECTIONS, spec, Overrides(dropped=frozenset({5}), pinned=(7,)))
    assert list(planned) == ["events", "research"]
    assert ids(planned) == {"events": [8, 9], "research": [7, 6]}


@pytest.mark.parametrize("name,expected", [
    ("Jane A. Smith", "Smith JA"), ("Smith, Jane", "Smith J"), ("Smith JA", "Smith JA"),
    ("Jean-Luc Picard", "Picard JL"), ("Élodie Marchand", "Marchand É"), ("Plato", "Plato"),
])
def test_citation_names(name, expected):
    assert cite_name(name) == expected


def test_author_line_uses_et_al_after_two():
    assert author_line(["Jane Smith", "Kim Lee", "Ana Silva"]) == "Smith J, Lee K, et al."
    assert author_line(["Jane Smith", "Kim Lee"]) == "Smith J, Lee K"


def test_editor_note_markdown_is_rendered_safely():
    html = editor_note_html("**Welcome** to [our meeting](https://example.org/m)!\n\n"
                            "<script>alert(1)</script> [x](javascript:alert(1)) "
                            "<img src=x onerror=alert(1)>")
    assert "<strong>Welcome</strong>" in html
    assert 'href="https://example.org/m"' in html
    # Raw HTML in the Markdown is shown as text, never as markup; the javascript: link is
    # not made a link.
    assert "<script" not in html and "<img" not in html and 'href="javascript' not in html
    assert "&lt;script&gt;" in html


def test_pubmed_citation_is_dropped_from_the_summary():
    research = Item(source="s", guid="1", section="research", title="t",
                    summary_html="<p>J Vasc Interv Radiol. 2026 Nov 20. doi: 10.5555/x. "
                                 "Online ahead of print.</p><p><b>ABSTRACT</b></p>"
                                 "<p><b>PURPOSE:</b> To compare ablation.</p>")
    assert summary_text(research) == "PURPOSE: To compare ablation."


def test_template_error_names_template_and_line(tmp_path):
    (tmp_path / "issue.mjml.j2").write_text("<mjml>\n<mj-body>\n{{ nope.nothing }}\n</mj-body>")
    (tmp_path / "issue.txt.j2").write_text("x")
    with pytest.raises(RenderError, match=r"issue\.mjml\.j2:3: 'nope' is undefined"):
        render_variant(tmp_path, "general", {"subject": "s"})
    (tmp_path / "issue.mjml.j2").write_text("<mjml>\n{% if %}\n</mjml>")
    with pytest.raises(RenderError, match=r"issue\.mjml\.j2:2: template syntax error"):
        render_variant(Path(str(tmp_path)), "other", {"subject": "s"})


@pytest.fixture(scope="module")
def outbox(tmp_path_factory):
    from .helpers import copy_project

    project = copy_project(tmp_path_factory.mktemp("email"))
    _config, report = first_run(project)
    return project, report


def test_example_issue_has_17_items_and_fits_the_size_budget(outbox):
    _project, report = outbox
    general = next(s for s in report.segments if s.segment == "general")
    assert general.items >= 17
    for seg in report.segments:
        assert seg.html_bytes <= 80 * 1024, seg
        assert seg.html_bytes < 102 * 1024  # Gmail clips above this


def test_html_basics_for_mail_clients(outbox):
    project, report = outbox
    html = (project / "outbox" / report.issue_id / "general.html").read_text()
    assert re.search(r'<html[^>]* lang="en"', html)
    assert "<title>IO Insights no. 1" in html
    assert 'alt="Interventional Oncology Society"' in html and 'height="48"' in html
    assert 'name="color-scheme"' in html
    links = re.findall(r'href="([^"]+)"', html)
    assert links and all(u.startswith(("https://", "%")) for u in links), [
        u for u in links if not u.startswith(("https://", "%"))]
    assert 'style="' in html.split("<body", 1)[1]  # CSS inlined onto elements


@pytest.mark.skipif(not shutil.which("spamassassin"), reason="spamassassin not installed "
                    "(CI installs Debian's package)")
def test_spamassassin_scores_the_message_at_most_1(outbox):
    project, report = outbox
    for segment in ("general", "liver"):
        eml = (project / "outbox" / report.issue_id / f"{segment}.eml").read_bytes()
        result = subprocess.run(["spamassassin", "-L", "-t"], input=eml, capture_output=True,
                                timeout=120)
        status = re.search(rb"X-Spam-Status: \w+, score=(-?[\d.]+)", result.stdout)
        assert status, result.stderr[-500:]
        score = float(status.group(1))
        assert score <= 1.0, result.stdout.split(b"Content analysis details")[-1].decode()


@pytest.mark.skipif(not shutil.which("chromium"), reason="chromium not installed "
                    "(CI installs Debian's package)")
def test_png_screenshots_at_phone_and_desktop_width(project, tmp_path):
    import sys

    from PIL import Image, ImageStat

    result = subprocess.run([sys.executable, "-m", "pipeline", "--config",
                             str(project / "config.toml"), "preview", "--segment", "trainees",
                             "--out", str(tmp_path / "p"), "--png", "--now", "2026-11-23T08:00"],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    pngs = sorted((tmp_path / "p").glob("*.png"))
    assert [p.name.rsplit("-", 1)[1] for p in pngs] == ["375.png", "600.png"], result.stderr
    for png in pngs:
        image = Image.open(png).convert("L")
        assert image.size[0] in (375, 600) and image.size[1] > 2000
        assert ImageStat.Stat(image).stddev[0] > 20  # not blank: text on a background
