"""The brand that survives images off (issue 17): the app serves the logo the emails
show (/static/), the masthead's logo keeps its size and a legible alt text when images
are blocked, and the emails never declare a dark mode they only half style."""

from __future__ import annotations

import io
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image
from starlette.testclient import TestClient

from pipeline.config import load_config
from pipeline.deliver.transactional import confirmation_message
from pipeline.models import Issue
from pipeline.render import render_variant
from pipeline.render.context import Readership, build_context
from pipeline.store.store import Store
from pipeline.web import create_app
from subscribers.tokens import Tokens

from .helpers import ROOT, edit_config

KEY = "brand-tests-key-0123456789abcdef"  # 32 characters
LOGO = ROOT / "examples" / "static" / "io-insights-logo.png"
NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


@pytest.fixture
def client(project, monkeypatch):
    monkeypatch.setenv("INSIGHTS_SECRET_KEY", KEY)
    (project / "config.toml.secret").write_text("outside the static folder")
    config = load_config(project / "config.toml")
    store = Store.open(f"sqlite:///{project / 'insights.db'}")
    with TestClient(create_app(config, store=store)) as c:
        yield c
    store.close()


def emails(project: Path) -> dict[str, str]:
    """The HTML of a weekly issue (no items needed for its masthead) and of the
    confirmation email, rendered from the project's templates."""
    config = load_config(project / "config.toml")
    issue = Issue("2026-W48", 1, NOW, NOW, "draft")
    context = build_context(config, issue, {}, Readership("general", "", ["Members"]))
    weekly = render_variant(config.resolve(config.render.templates), "general", context)
    confirm = confirmation_message(config, Tokens(KEY), "ana@example.org", "members", NOW)
    return {"issue": weekly.html, "confirm": confirm.get_body(("html",)).get_content()}


# --- the logo, served --------------------------------------------------------------


def test_the_bundled_logo_is_a_small_crisp_png_beside_its_svg():
    png = Image.open(io.BytesIO(LOGO.read_bytes()))
    svg = LOGO.with_suffix(".svg").read_text()
    assert png.format == "PNG" and png.mode == "RGBA"  # transparent, on the navy masthead
    assert png.size == (400, 96)  # twice the 200x48 the masthead shows it at
    assert 'width="200" height="48"' in svg
    assert LOGO.stat().st_size < 20 * 1024


def test_static_serves_the_logo_with_its_type_and_cache_headers(client):
    r = client.get("/static/io-insights-logo.png")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/png"
    assert r.headers["cache-control"] == "public, max-age=86400"
    assert r.headers["etag"] and r.headers["last-modified"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.content == LOGO.read_bytes()

    again = client.get("/static/io-insights-logo.png", headers={"if-none-match": r.headers["etag"]})
    assert again.status_code == 304 and again.headers["cache-control"] == "public, max-age=86400"

    svg = client.get("/static/io-insights-logo.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")


@pytest.mark.parametrize("path", [
    "/static/../config.toml",
    "/static/%2e%2e/config.toml",
    "/static/..%2fconfig.toml",
    "/static/..%2f..%2fconfig.toml",
    "/static/%2e%2e%2f%2e%2e%2fconfig.toml",
    "/static//etc/passwd",
    "/static/../../config.toml.secret",
    "/static/nothing-here.png",
    "/static/",
])
def test_static_refuses_paths_outside_its_folder(client, path):
    r = client.get(path)
    assert r.status_code == 404, path
    assert "base_url" not in r.text and "root:" not in r.text
    assert "outside the static folder" not in r.text
    assert "cache-control" not in r.headers


def test_static_does_not_follow_a_link_out_of_its_folder(project, client):
    (project / "examples" / "static" / "config.png").symlink_to(project / "config.toml")
    assert client.get("/static/config.png").status_code == 404


def test_a_missing_static_folder_still_starts_the_app(project, monkeypatch):
    shutil.rmtree(project / "examples" / "static")
    monkeypatch.setenv("INSIGHTS_SECRET_KEY", KEY)
    config = load_config(project / "config.toml")
    store = Store.open(f"sqlite:///{project / 'insights.db'}")
    with TestClient(create_app(config, store=store)) as c:
        assert c.get("/static/io-insights-logo.png").status_code == 404
    store.close()


def test_logo_url_may_be_a_path_on_base_url(project):
    config = load_config(project / "config.toml")
    assert config.newsletter.logo_url == "https://news.example.org/static/io-insights-logo.png"
    edit_config(project, 'base_url = "https://news.example.org"',
                'base_url = "https://io.example.net/news/"')
    config = load_config(project / "config.toml")
    assert config.newsletter.logo_url == "https://io.example.net/news/static/io-insights-logo.png"


# --- the masthead with images off -------------------------------------------------


def logo_img(html: str) -> str:
    imgs = re.findall(r"<img\b[^>]*>", html)
    assert len(imgs) == 1, imgs
    return imgs[0]


@pytest.mark.parametrize("kind", ["issue", "confirm"])
def test_the_logo_keeps_its_size_and_a_legible_alt_text(project, kind):
    img = logo_img(emails(project)[kind])
    assert 'src="https://news.example.org/static/io-insights-logo.png"' in img
    assert 'width="200"' in img and 'height="48"' in img
    assert 'alt="Interventional Oncology Society"' in img
    # Clients that block images draw the alt text with the img's own style: white,
    # bold and sans-serif on the navy masthead, not the default black serif.
    style = dict(decl.split(":", 1) for decl in
                 re.search(r'style="([^"]*)"', img)[1].replace(" ", "").split(";") if decl)
    assert style["color"] == "#ffffff"
    assert style["font-weight"] == "bold"
    assert style["font-size"] == "14px"
    assert style["font-family"].startswith("Helvetica")
    # ... and the masthead it sits on is the navy that white was chosen for.
    assert "background-color:#0b3c5d" in html_without_spaces(emails(project)[kind])


def html_without_spaces(html: str) -> str:
    return re.sub(r"\s+", "", html)


def test_without_a_logo_alt_the_society_names_the_logo(project):
    edit_config(project, 'logo_alt = "Interventional Oncology Society"\n', "")
    edit_config(project, 'society = "Interventional Oncology Society"', 'society = "IO Society"')
    assert 'alt="IO Society"' in logo_img(emails(project)["issue"])


def test_without_a_logo_the_masthead_is_the_name_alone(project):
    edit_config(project, 'logo_url = "/static/io-insights-logo.png"', "")
    for html in emails(project).values():
        assert "<img" not in html and "IO Insights" in html


# --- dark mode: the whole card, or not declared ------------------------------------

DARK_QUERY = re.compile(r"@media[^{]*prefers-color-scheme\s*:\s*dark[^{]*\{(.*?)\}\s*\}", re.S)


def dark_mode_problems(html: str) -> list[str]:
    """What is wrong with `html`'s dark mode: a scheme declared 'dark' (meta or CSS)
    needs rules that restyle the card's background and its text; without them it
    must not be declared."""
    head = html.split("<body", 1)[0]
    declared = re.findall(r'color-scheme"\s+content="([^"]*)"|color-scheme\s*:\s*([^;}"]*)', head)
    says_dark = any("dark" in (a or b) for a, b in declared)
    rules = " ".join(DARK_QUERY.findall(head))
    restyles = ("background" in rules) and re.search(r"(?<![-\w])color\s*:", rules)
    problems = []
    if (says_dark or rules) and not restyles:
        problems.append("dark declared, but the card's background and text are not restyled")
    if rules and not says_dark:
        problems.append("dark rules without a declared dark scheme")
    return problems


def test_dark_mode_problems_spots_a_half_dark_email():
    half = ('<head><meta name="color-scheme" content="light dark"><style>@media '
            "(prefers-color-scheme: dark) { .bg { background: #111 !important; } }</style>"
            "</head><body>")
    whole = half.replace("#111 !important;", "#111 !important; } .t { color: #eee !important;")
    assert dark_mode_problems(half)
    assert dark_mode_problems(whole) == []
    assert dark_mode_problems('<head><meta name="color-scheme" content="light only"></head>') == []


@pytest.mark.parametrize("kind", ["issue", "confirm"])
def test_dark_mode_is_whole_or_not_declared(project, kind):
    html = emails(project)[kind]
    assert dark_mode_problems(html) == []
    # Today: light only, so clients that honour it (Apple Mail) keep the one palette.
    assert '<meta name="color-scheme" content="light only">' in html


# --- in a browser that blocks images -----------------------------------------------


def test_with_images_blocked_the_alt_text_shows_white_in_the_logos_box(project, tmp_path):
    chromium = shutil.which("chromium")
    if not chromium:
        pytest.skip("needs Debian's chromium")
    from playwright.sync_api import sync_playwright

    from pipeline.screenshots import CHROMIUM_ARGS

    page_file = tmp_path / "issue.html"
    page_file.write_text(emails(project)["issue"])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            for width in (600, 375):
                page = browser.new_page(viewport={"width": width, "height": 600})
                page.route("**/*", lambda route: route.continue_()
                           if route.request.url.startswith("file:") else route.abort())
                page.goto(page_file.as_uri(), wait_until="load")
                img = page.locator("img")
                assert img.evaluate("i => i.complete && i.naturalWidth") == 0  # blocked
                box = img.bounding_box()
                assert (box["width"], box["height"]) == (200, 48)  # the layout holds
                assert img.evaluate("i => getComputedStyle(i).color") == "rgb(255, 255, 255)"
                page.close()
        finally:
            browser.close()


def test_a_logo_url_neither_absolute_nor_a_path_says_both_forms(project):
    from pipeline.errors import ConfigError

    edit_config(project, 'logo_url = "/static/io-insights-logo.png"', 'logo_url = "static/logo.png"')
    with pytest.raises(ConfigError, match="or a path on base_url such as /static/logo.png"):
        load_config(project / "config.toml")
