"""How public pages are served: ETag, Last-Modified and the conditional GET (304), as
tables; and the origins that may frame the embeddable sign-up form."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from pipeline.publish.http import conditional, embed_origin, etag_of, http_date, page_response
from pipeline.publish.model import Page

BODY = b"<feed>one</feed>"
TAG = '"' + hashlib.sha256(BODY).hexdigest() + '"'
MODIFIED = datetime(2026, 11, 30, 7, 0, 0, 250_000, tzinfo=UTC)  # a fraction of a second
PAGE = Page(BODY, "application/atom+xml", MODIFIED)
AT = "Mon, 30 Nov 2026 07:00:00 GMT"


def test_the_etag_is_the_quoted_sha256_of_the_bytes():
    assert etag_of(BODY) == TAG
    assert etag_of(b"") == '"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"'


def test_http_dates_are_imf_fixdate_in_gmt():
    assert http_date(MODIFIED) == AT
    assert http_date(datetime(2026, 11, 30, 8, 0, tzinfo=UTC).astimezone()) == \
        "Mon, 30 Nov 2026 08:00:00 GMT"
    assert http_date(datetime(2026, 1, 5, 9, 3, 7)) == "Mon, 05 Jan 2026 09:03:07 GMT"  # naive: UTC


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 200),
    ({"if-none-match": TAG}, 304),
    ({"if-none-match": f"W/{TAG}"}, 304),  # weak comparison
    ({"if-none-match": f'"other", {TAG}'}, 304),
    ({"if-none-match": f'"other",W/{TAG} , "third"'}, 304),
    ({"if-none-match": f", ,{TAG},"}, 304),  # empty list elements are allowed
    ({"if-none-match": "*"}, 304),
    ({"if-none-match": " * "}, 304),
    ({"if-none-match": '"other"'}, 200),
    ({"if-none-match": TAG[1:-1]}, 200),  # unquoted: not an entity-tag
    ({"if-none-match": f"{TAG} junk"}, 200),
    ({"if-none-match": f'*, {TAG}'}, 200),  # "*" stands alone or not at all
    ({"if-none-match": ""}, 200),
    ({"If-None-Match": TAG}, 304),  # any case
    # If-None-Match wins: a stale tag is a change even when the date says otherwise
    ({"if-none-match": '"stale"', "if-modified-since": AT}, 200),
    ({"if-none-match": TAG, "if-modified-since": "Thu, 01 Jan 1970 00:00:00 GMT"}, 304),
    ({"if-modified-since": AT}, 304),  # the same second, though the page has a fraction
    ({"if-modified-since": "Mon, 30 Nov 2026 07:00:01 GMT"}, 304),
    ({"if-modified-since": "Mon, 30 Nov 2026 06:59:59 GMT"}, 200),
    ({"if-modified-since": "Mon, 30 Nov 2026 08:00:00 +0100"}, 304),
    # the obsolete forms a recipient must still read (RFC 9110 §5.6.7)
    ({"if-modified-since": "Monday, 30-Nov-26 07:00:00 GMT"}, 304),
    ({"if-modified-since": "Mon Nov 30 07:00:00 2026"}, 304),
    ({"if-modified-since": "Mon Nov 30 06:00:00 2026"}, 200),
    ({"if-modified-since": "yesterday"}, 200),
    ({"if-modified-since": ""}, 200),
])
def test_conditional_get(headers, status):
    assert conditional(headers, PAGE) == status


def test_a_page_without_a_date_is_matched_by_its_etag_only():
    undated = Page(BODY, "text/plain")
    assert conditional({"if-modified-since": AT}, undated) == 200
    assert conditional({"if-none-match": TAG}, undated) == 304


def client(page: Page) -> TestClient:
    async def serve(request):
        return page_response(request, page)

    return TestClient(Starlette(routes=[Route("/feed.xml", serve, methods=["GET", "POST"])]))


def test_a_page_is_served_with_its_validators_and_a_304_has_no_body():
    c = client(PAGE)
    full = c.get("/feed.xml")
    assert full.status_code == 200 and full.content == BODY
    assert full.headers["etag"] == TAG and full.headers["last-modified"] == AT
    assert full.headers["cache-control"] == "public, max-age=300"
    assert full.headers["content-type"] == "application/atom+xml"

    for asked in ({"if-none-match": full.headers["etag"]},
                  {"if-modified-since": full.headers["last-modified"]}):
        again = c.get("/feed.xml", headers=asked)
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == TAG and again.headers["last-modified"] == AT
        assert again.headers["cache-control"] == "public, max-age=300"
        assert "content-length" not in again.headers and "content-type" not in again.headers

    assert c.head("/feed.xml", headers={"if-none-match": TAG}).status_code == 304
    assert c.post("/feed.xml", headers={"if-none-match": TAG}).status_code == 200
    assert "last-modified" not in client(Page(BODY, "text/plain")).get("/feed.xml").headers


@pytest.mark.parametrize(("value", "origin"), [
    ("https://www.example.org", "https://www.example.org"),
    ("https://WWW.Example.org/", "https://www.example.org"),
    ("  https://society.example  ", "https://society.example"),
    ("https://society.example:8443", "https://society.example:8443"),
    ("https://society.example:443", "https://society.example"),
    ("https://xn--bcher-kva.example", "https://xn--bcher-kva.example"),
])
def test_an_embedding_origin_is_normalised(value, origin):
    assert embed_origin(value) == origin


@pytest.mark.parametrize(("value", "says"), [
    ("http://www.example.org", "not an https origin"),
    ("www.example.org", "not an https origin"),
    ("https://www.example.org/news", "has a path"),
    ("https://www.example.org/?x", "has a path"),
    ("https://www.example.org#x", "has a path"),
    ("https://www.example.org;script-src *", "not an origin"),
    ("https://www.example.org 'unsafe-inline'", "not an origin"),
    ("https://a.example,https://b.example", "not an origin"),
    ("https://*.example.org", "not an origin"),
    ("'self'", "not an origin"),
    ('https://"x".example', "not an origin"),
    ("https://www.example.org\r\nx-evil: 1", "not an origin"),
    ("https://bücher.example", "not an origin"),
    ("https://user@www.example.org", "user name"),
    ("https://", "not a host name"),
    ("https://-bad-.example", "not a host name"),
    ("https://a..example", "not a host name"),
    ("https://www.example.org:0", "not a port"),
    ("https://www.example.org:99999", "not a port"),
    ("https://www.example.org:http", "not a port"),
    (42, "an origin is text"),
    (None, "an origin is text"),
])
def test_a_value_that_is_not_an_https_origin_is_refused(value, says):
    with pytest.raises(ValueError, match=says):
        embed_origin(value)
