"""Telling a WebSub hub that our feeds changed, so feed readers that subscribed through
it hear of a new issue in seconds instead of at their next poll (W3C WebSub §7: the
publisher notifies the hub "as the hub defines"; every public hub takes the de-facto
form-encoded POST hub.mode=publish & hub.url=<feed URL>).

Only a feed whose bytes differ from those the hub was last told of is pinged
(`changed_feeds`, pure), one POST per feed. A ping that fails is a line in the report,
never an exception: the issue went out, and the readers' next poll finds it anyway."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import httpx
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from .. import __version__
from .http import etag_of
from .model import SitePages

USER_AGENT = f"io-insights/{__version__} (WebSub publisher)"
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
_TRANSIENT_STATUS = 429  # besides every 5xx: the hub is busy or down for a moment
_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")  # a terminal's colour codes, whole
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]+")


def changed_feeds(pages: SitePages, feed_paths: Sequence[str],
                  known: Mapping[str, str]) -> dict[str, str]:
    """The feeds (path -> ETag of their bytes now) whose bytes are not those the hub was
    last told of (`known`: path -> ETag, as the store's feed_pings keep them). A feed
    that renders nothing (no issue is public yet) has nothing to announce."""
    changed: dict[str, str] = {}
    for path in feed_paths:
        page = pages.render(path)
        if page is None:
            continue
        etag = etag_of(page.body)
        if known.get(path) != etag:
            changed[path] = etag
    return changed


class _Retry(Exception):
    """The hub did not take the ping for a reason that may pass (5xx, 429, no answer)."""


def _said(text: str, limit: int = 160) -> str:
    """What a hub said, as one short line of plain text: it is another party's text,
    bound for our logs and reports."""
    line = " ".join(_CONTROL.sub(" ", _ESCAPE.sub("", text)).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _answer(response: httpx.Response) -> str:
    said = _said(response.text) if response.content else ""
    status = f"{response.status_code} {response.reason_phrase}".strip()
    return f"{status}: {said}" if said else status


def _unaskable(hub: str, e: Exception) -> str:
    return f"the hub {hub!r} could not be asked: {_said(str(e))}"


def ping_feed(hub: str, feed_url: str, client: httpx.Client, *, attempts: int = 3,
              wait: float = 1.0) -> str | None:
    """Tell `hub` that `feed_url` changed; None when it took the ping (2xx: hubs answer
    202 or 204), else the problem as one line naming the feed and what the hub answered.
    Connection errors, timeouts, 5xx and 429 are tried again up to `attempts` times in
    all, `wait` seconds after the first and doubling; any other answer is final."""
    def post_once() -> str | None:
        try:
            response = client.post(hub, data={"hub.mode": "publish", "hub.url": feed_url})
        except httpx.UnsupportedProtocol as e:  # not an http(s) URL: no try would do
            return _unaskable(hub, e)
        except httpx.TransportError as e:  # refused, reset, timed out, TLS...
            raise _Retry(f"the hub {hub} did not answer ({type(e).__name__}: "
                         f"{_said(str(e)) or 'no detail'})") from e
        if response.is_success:
            return None
        said = f"the hub {hub} answered {_answer(response)}"
        if response.status_code >= 500 or response.status_code == _TRANSIENT_STATUS:
            raise _Retry(said)
        return said

    retrying = Retrying(retry=retry_if_exception_type(_Retry),
                        stop=stop_after_attempt(max(1, attempts)),
                        wait=wait_exponential(multiplier=wait, max=wait * 8), reraise=False)
    try:
        problem = retrying(post_once)
    except RetryError as e:
        last = e.last_attempt.exception()
        tries = e.last_attempt.attempt_number
        problem = f"{last} ({tries} {'try' if tries == 1 else 'tries'})"
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as e:  # a hub URL httpx refuses
        problem = _unaskable(hub, e)
    return None if problem is None else f"WebSub ping for {feed_url}: {problem}"


def ping_hub(hub: str, feed_urls: Sequence[str], *, client: httpx.Client | None = None,
             attempts: int = 3, wait: float = 1.0) -> list[str]:
    """Tell `hub` that each of `feed_urls` changed, one POST each (see ping_feed); the
    problems, one line per feed the hub did not take. Never raises."""
    if not feed_urls:
        return []
    own = client is None
    http = client or httpx.Client(timeout=TIMEOUT, headers={"user-agent": USER_AGENT},
                                  follow_redirects=False)
    try:
        return [problem for url in feed_urls
                if (problem := ping_feed(hub, url, http, attempts=attempts, wait=wait))]
    finally:
        if own:
            http.close()
