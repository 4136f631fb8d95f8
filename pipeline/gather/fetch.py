"""Fetch a source's bytes: local paths, or HTTP(S) with connect/read/total timeouts, a
size cap enforced while streaming (after decompression, so gzip bombs stop too), a
redirect limit, retries with backoff for transient failures and conditional GET.

Returns bytes (or "not modified") or raises SourceError; never parses.
"""

from __future__ import annotations

import functools
import ssl
import time
from dataclasses import dataclass
from pathlib import Path

import certifi
import httpx
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from .. import __version__
from ..errors import SourceError

USER_AGENT = f"io-insights/{__version__} (newsletter feed fetcher; +https://pypi.org/project/io-insights/)"
TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class FetchPolicy:
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 20.0
    max_bytes: int = 5 * 1024 * 1024
    max_redirects: int = 5
    retries: int = 2  # extra attempts after the first, for transient failures only
    backoff: float = 0.5  # first wait in seconds; doubles, with jitter
    user_agent: str = USER_AGENT


@dataclass(frozen=True)
class Fetched:
    body: bytes | None  # None: not modified since the stored ETag / Last-Modified
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    url: str = ""


class _Transient(Exception):
    """A failure worth another try (connection refused, 503, a read timeout...)."""

    def __init__(self, error: SourceError) -> None:
        super().__init__(str(error))
        self.error = error


def fetch_local(name: str, path: str, policy: FetchPolicy) -> Fetched:
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > policy.max_bytes:
            raise SourceError(name, f"{path} is {size} bytes, over the {policy.max_bytes}-byte cap")
        return Fetched(body=p.read_bytes(), url=p.as_uri())
    except FileNotFoundError:
        raise SourceError(name, f"file not found: {path}") from None
    except IsADirectoryError:
        raise SourceError(name, f"{path} is a folder, not a feed file") from None
    except OSError as e:
        raise SourceError(name, f"cannot read {path}: {e.strerror}") from None


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Loading the CA bundle costs tens of milliseconds; a scheduler process runs every
    # week and tests build many clients, so build it once.
    return ssl.create_default_context(cafile=certifi.where())


def make_client(policy: FetchPolicy, concurrency: int = 8) -> httpx.Client:
    return httpx.Client(
        verify=_tls_context(),
        headers={"User-Agent": policy.user_agent, "Accept-Encoding": "gzip, deflate",
                 "Accept": "application/rss+xml, application/atom+xml, text/calendar, "
                           "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"},
        timeout=httpx.Timeout(policy.read_timeout, connect=policy.connect_timeout),
        follow_redirects=True,
        max_redirects=policy.max_redirects,
        limits=httpx.Limits(max_connections=concurrency * 2,
                            max_keepalive_connections=concurrency),
    )


def fetch_http(
    client: httpx.Client, name: str, url: str, policy: FetchPolicy, *,
    etag: str | None = None, last_modified: str | None = None,
) -> Fetched:
    deadline = time.monotonic() + policy.total_timeout
    retrying = Retrying(
        retry=retry_if_exception(lambda e: isinstance(e, _Transient)
                                 and time.monotonic() < deadline),
        stop=stop_after_attempt(policy.retries + 1),
        wait=wait_exponential(multiplier=policy.backoff, max=policy.backoff * 8)
        + wait_random(0, policy.backoff),
        reraise=False,
    )
    try:
        for attempt in retrying:
            with attempt:
                return _fetch_once(client, name, url, policy, deadline, etag, last_modified)
    except RetryError as e:
        last = e.last_attempt.exception()
        if isinstance(last, _Transient):
            tries = e.last_attempt.attempt_number
            raise SourceError(name, f"{last.error.reason} (after {tries} tries)") from None
        raise
    except _Transient as e:  # stopped retrying because the total deadline passed
        raise e.error from None
    raise AssertionError("unreachable")


def _fetch_once(client: httpx.Client, name: str, url: str, policy: FetchPolicy,
                deadline: float, etag: str | None, last_modified: str | None) -> Fetched:
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        with client.stream("GET", url, headers=headers) as response:
            if response.status_code == 304:
                return Fetched(None, etag, last_modified, url=str(response.url))
            if response.status_code >= 400:
                error = SourceError(name, f"HTTP {response.status_code} from {url}")
                if response.status_code in TRANSIENT_STATUS:
                    raise _Transient(error)
                raise error
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > policy.max_bytes:
                raise SourceError(name, f"body of {declared} bytes is over the "
                                        f"{policy.max_bytes}-byte cap at {url}")
            chunks, total = [], 0
            # iter_bytes yields decompressed data, so the cap also stops gzip bombs.
            for chunk in response.iter_bytes():
                total += len(chunk)
                if total > policy.max_bytes:
                    raise SourceError(name, f"body over the {policy.max_bytes}-byte cap at {url}")
                if time.monotonic() > deadline:
                    raise SourceError(name, f"timed out after {policy.total_timeout:g} s "
                                            f"(total) fetching {url}")
                chunks.append(chunk)
            return Fetched(
                body=b"".join(chunks), etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
                content_type=response.headers.get("content-type"), url=str(response.url),
            )
    except httpx.TooManyRedirects:
        raise SourceError(name, f"more than {policy.max_redirects} redirects from {url}") from None
    except httpx.DecodingError as e:
        raise SourceError(name, f"cannot decode the compressed body from {url}: {e}") from None
    except (httpx.ConnectError, httpx.ConnectTimeout) as e:
        raise _Transient(SourceError(name, f"cannot connect to {url}: {_short(e)}")) from None
    except httpx.TimeoutException as e:
        message = f"timed out fetching {url} ({type(e).__name__})"
        raise _Transient(SourceError(name, message)) from None
    except (httpx.RemoteProtocolError, httpx.ReadError) as e:
        message = f"connection broken fetching {url}: {_short(e)}"
        raise _Transient(SourceError(name, message)) from None
    except httpx.HTTPError as e:
        raise SourceError(name, f"cannot fetch {url}: {_short(e)}") from None


def _short(error: BaseException) -> str:
    return " ".join(str(error).split())[:200] or type(error).__name__
