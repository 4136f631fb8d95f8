"""The public archive on the web: the landing page, /archive/ and its pages, each issue's
page, the feeds, the sitemap and robots.txt. Every answer is pipeline.publish.site's
bytes for the path (what `insights publish --out` writes too); this only serves them."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..publish.http import page_response
from ..publish.model import ARCHIVE, issue_path
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
    return page_response(request, page)


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
