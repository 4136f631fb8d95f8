"""The embeddable sign-up form (/subscribe/embed): compact, posting to /subscribe with
the same honeypot and limits, and frameable by `[syndication] embed_origins` only, as
are the answers to its POST; every other page stays frameable by us alone."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from pipeline.config import load_config
from pipeline.errors import ConfigError

from .helpers import edit_config, use_store
from .test_web_public import ETHAN, KEY, Site, add_list, open_site

ORIGINS = ["https://society.example", "https://www.partner.example:8443"]
FRAMED = "frame-ancestors 'self' https://society.example https://www.partner.example:8443;"
OURS_ONLY = "frame-ancestors 'self';"
THANKS = "Check your inbox"


def set_origins(project: Path, origins: list[str]) -> None:
    """`[syndication] embed_origins` written into the project's config.toml."""
    edit_config(project, "[syndication]\n",
                f"[syndication]\nembed_origins = {json.dumps(origins)}\n")


@pytest.fixture
def web_project(project: Path, store_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("INSIGHTS_SECRET_KEY", KEY)
    use_store(project, store_url)
    return project


@pytest.fixture
def site(web_project: Path) -> Iterator[Site]:
    set_origins(web_project, ORIGINS)
    opened = open_site(web_project)
    yield opened
    opened.store.close()


def policy(response) -> str:
    [csp] = response.headers.get_list("content-security-policy")  # exactly one
    return csp


def frame_ancestors(response) -> str:
    found = re.search(r"frame-ancestors [^;]*;", policy(response))
    assert found, policy(response)
    return found.group(0)


def compact(response) -> bool:
    """The embed layout: no header bar, no card, no script."""
    html = response.text
    assert "<script" not in html.lower()
    return "<header>" not in html and 'class="card"' not in html


def test_the_embed_form_may_be_framed_by_the_configured_origins_exactly(site):
    page = site.client.get("/subscribe/embed")
    assert page.status_code == 200 and compact(page)
    assert frame_ancestors(page) == FRAMED
    # the rest of the policy is every page's: no script, forms post only to us
    assert policy(page).replace(FRAMED, OURS_ONLY) == \
        policy(site.client.get("/subscribe"))
    assert "script-src 'none'" in policy(page) and "form-action 'self'" in policy(page)
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "set-cookie" not in page.headers
    assert len(page.content) < 6000  # a frame's worth


def test_every_other_page_is_framed_by_us_alone(site):
    token = site.tokens.manage(ETHAN)
    for path in ("/subscribe", "/subscribe?embed=1", "/manage", f"/u/{token}", f"/p/{token}",
                 "/admin/login", "/no/such/page", "/static/io-insights-logo.svg",
                 "/subscribe/embed/"):
        answer = site.client.get(path, follow_redirects=False)
        assert frame_ancestors(answer) == OURS_ONLY, path
    plain = site.client.post("/subscribe", data={"email": "plain@example.org",
                                                 "list": "members"})
    assert THANKS in plain.text and not compact(plain) and frame_ancestors(plain) == OURS_ONLY


def test_without_embed_origins_nobody_else_may_frame_it(web_project):
    opened = open_site(web_project)  # the shipped [syndication]: no embed_origins
    try:
        assert frame_ancestors(opened.client.get("/subscribe/embed")) == OURS_ONLY
    finally:
        opened.store.close()
    set_origins(web_project, [])
    opened = open_site(web_project, seeded=False)
    try:
        assert frame_ancestors(opened.client.get("/subscribe/embed")) == OURS_ONLY
    finally:
        opened.store.close()


def test_origins_are_written_as_a_browser_names_them_each_once(web_project):
    set_origins(web_project, ["https://Society.Example/", "https://society.example",
                              "https://www.partner.example:8443", "https://ok.example:443"])
    opened = open_site(web_project)
    try:
        assert frame_ancestors(opened.client.get("/subscribe/embed")) == (
            "frame-ancestors 'self' https://society.example https://www.partner.example:8443"
            " https://ok.example;")
    finally:
        opened.store.close()


@pytest.mark.parametrize(("value", "says"), [
    ("https://evil.example; script-src *", "[1] 'https://evil.example; script-src *' is not an origin"),
    ("http://plain.example", "[1] 'http://plain.example' is not an https origin"),
    ("http://127.0.0.1:8000", "[1] 'http://127.0.0.1:8000' is not an https origin"),
    ("https://x.example/path", "[1] 'https://x.example/path' has a path"),
    ("'unsafe-inline'", "[1] \"'unsafe-inline'\" is not an origin"),
    ("*", "[1] '*' is not an origin"),
])
def test_a_value_that_is_not_an_https_origin_is_refused_by_the_config(web_project, value, says):
    """Refused where it is written, naming it: it never reaches a header."""
    set_origins(web_project, ["https://ok.example/", value])
    with pytest.raises(ConfigError) as refused:
        load_config(web_project / "config.toml")
    assert f"syndication.embed_origins: {says}" in str(refused.value)


def test_the_embed_form_posts_to_subscribe_with_the_honeypot(site):
    html = site.client.get("/subscribe/embed").text
    # the one sign-up form macro's markup (it has a class besides)
    assert re.search(r'<form method="post" action="/subscribe\?embed=1"[ >]', html)
    assert '<input type="hidden" name="embed" value="1">' in html
    assert 'name="website"' in html and 'class="hp"' in html
    assert 'name="email"' in html and 'name="name"' in html and 'name="interest"' in html


def embed_post(site: Site, **data: str | list[str]):
    return site.client.post("/subscribe?embed=1", data={"embed": "1", **data})


def test_signing_up_through_the_embed_form_answers_in_the_frame(site):
    answer = embed_post(site, email="Framed.Reader@Example.org", name="Framed Reader",
                        list="members", interest=["liver"], website="")
    assert answer.status_code == 200 and THANKS in answer.text and compact(answer)
    assert frame_ancestors(answer) == FRAMED
    person = site.audience.get("framed.reader@example.org")
    assert person.lists == {"members": "unconfirmed"} and person.name == "Framed Reader"
    assert person.attributes == {"interests": ["liver"]}
    [sent] = site.transactional()
    assert sent["To"].addresses[0].addr_spec.casefold() == "framed.reader@example.org"
    # the form's field alone says so too (a site that copied the form without the query)
    bare = site.client.post("/subscribe", data={"embed": "1", "email": "bare@example.org",
                                                "list": "members"})
    assert THANKS in bare.text and compact(bare) and frame_ancestors(bare) == FRAMED


def test_the_honeypot_works_through_the_embed_form(site):
    answer = embed_post(site, email="bot@example.org", list="members",
                        website="https://spam.example")
    assert answer.status_code == 200 and THANKS in answer.text and compact(answer)
    assert frame_ancestors(answer) == FRAMED
    assert site.audience.get("bot@example.org") is None and site.transactional() == []


def test_a_refused_address_comes_back_compact_with_what_was_typed(site):
    answer = embed_post(site, email="not an address", name="<b>X</b>", list="members")
    assert answer.status_code == 400 and compact(answer)
    assert "Please enter a valid email address" in answer.text
    assert 'value="not an address"' in answer.text and "<b>X</b>" not in answer.text
    assert '<input type="hidden" name="embed" value="1">' in answer.text  # still embedded
    assert frame_ancestors(answer) == FRAMED


def test_the_rate_limits_apply_through_the_embed_form(site):
    for n in range(5):
        assert embed_post(site, email=f"r{n}@example.org", list="members").status_code == 200
    refused = embed_post(site, email="r5@example.org", list="members")
    assert refused.status_code == 429 and "Too many sign-ups" in refused.text
    assert compact(refused) and frame_ancestors(refused) == FRAMED
    assert site.audience.get("r5@example.org") is None
    # and the one limit counts both forms: the full page is refused as well
    full = site.client.post("/subscribe", data={"email": "r6@example.org", "list": "members"})
    assert full.status_code == 429 and not compact(full) and frame_ancestors(full) == OURS_ONLY


def test_the_per_address_limit_applies_through_the_embed_form(site):
    target, sent = "flooded@example.org", []
    for n in range(6):  # each from another network: only the address's limit is met
        network = TestClient(site.client.app, base_url="https://testserver",
                             client=(f"203.0.113.{n}", 50000))
        answer = network.post("/subscribe?embed=1", data={"embed": "1", "email": target,
                                                          "list": "members"})
        assert answer.status_code == 200 and THANKS in answer.text and compact(answer)
        assert frame_ancestors(answer) == FRAMED
        sent.append(len(site.transactional()))
    assert sent[4] > 0 and sent[5] == sent[4]  # the sixth asking mailed nobody


def test_the_embed_form_offers_each_list(web_project):
    add_list(web_project, "trainees", "IO Insights for trainees", True)
    set_origins(web_project, ORIGINS)
    opened = open_site(web_project)
    try:
        html = opened.client.get("/subscribe/embed").text
        assert html.count('type="radio" name="list"') == 2
        assert "IO Insights for trainees" in html
    finally:
        opened.store.close()
