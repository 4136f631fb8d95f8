"""The public archive on the web: the landing page, /archive/ and its pages, each issue's
page, the feeds, the sitemap and robots.txt. Every answer is pipeline.publish.site's
bytes for the path (what `insights publish --out` writes too); this only serves them."""

from __future__ import annotations

from datetime import UTC
from email.utils import format_datetime
from hashlib import sha256

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..publish.model import ARCHIVE, Page, issue_path
from ..publish.site import FEEDS, LANDING, ROBOTS, SITEMAP
from .common import web
from .links import message


async def public_page(request: Request) -> Response:
    pages = web(request).pages
    # The decoded path as routed (request.url.path would cut it at a decoded "?").
    page = await run_in_threadpool(pages.render, request.scope["path"]) if pages else None
    if page is None:
        return message(request, "Not found",
                       "There is no page here. Every issue we sent is in the archive.", 404,
                       archive=True)
    return _respond(request, page)


# MERGE: replace with pipeline.publish.http.page_response(request, page) (ETag,
# Last-Modified, If-None-Match and If-Modified-Since); this is only the ETag half.
def _respond(request: Request, page: Page) -> Response:
    etag = f'"{sha256(page.body).hexdigest()}"'
    headers = {"etag": etag, "cache-control": "public, no-cache"}
    if page.last_modified is not None:
        headers["last-modified"] = format_datetime(page.last_modified.astimezone(UTC),
                                                   usegmt=True)
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(page.body, media_type=page.content_type, headers=headers)


async def first_archive_page(request: Request) -> Response:
    """/archive/page/1/ is /archive/ (each page has one address)."""
    if request.path_params["n"] == 1:
        return RedirectResponse(ARCHIVE, 301)
    return await public_page(request)


async def issue_without_slash(request: Request) -> Response:
    # Relative, so no Host header can point it elsewhere; the id is quoted by Starlette.
    return RedirectResponse(issue_path(request.path_params["issue_id"]), 301)


routes = [
    Route(LANDING, public_page, methods=["GET"]),
    Route(ARCHIVE, public_page, methods=["GET"]),
    *(Route(path, public_page, methods=["GET"]) for path in (*FEEDS, SITEMAP, ROBOTS)),
    Route(ARCHIVE + "page/{n:int}/", first_archive_page, methods=["GET"]),
    Route(ARCHIVE + "{issue_id}/", public_page, methods=["GET"]),
    Route(ARCHIVE + "{issue_id}", issue_without_slash, methods=["GET"]),
]
