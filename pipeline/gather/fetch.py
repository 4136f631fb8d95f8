"""Fetch a source's bytes: local paths, or HTTP(S) with timeouts, a size cap and
conditional GET. Returns bytes or raises SourceError; never parses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

from .. import __version__
from ..errors import SourceError

USER_AGENT = f"io-insights/{__version__} (+https://github.com/io-insights; newsletter feed fetcher)"
MAX_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Fetched:
    body: bytes | None  # None: not modified since the stored ETag / Last-Modified
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    url: str = ""


def fetch_local(name: str, path: str, max_bytes: int = MAX_BYTES) -> Fetched:
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > max_bytes:
            raise SourceError(name, f"{path} is {size} bytes, over the {max_bytes}-byte cap")
        return Fetched(body=p.read_bytes(), url=p.as_uri())
    except FileNotFoundError:
        raise SourceError(name, f"file not found: {path}") from None
    except OSError as e:
        raise SourceError(name, f"cannot read {path}: {e.strerror}") from None


def fetch_http(
    client: httpx.Client, name: str, url: str, *, etag: str | None = None,
    last_modified: str | None = None, max_bytes: int = MAX_BYTES,
) -> Fetched:
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
                raise SourceError(name, f"HTTP {response.status_code} from {url}")
            chunks, total = [], 0
            # iter_bytes yields decompressed data, so the cap also stops gzip bombs.
            for chunk in response.iter_bytes():
                total += len(chunk)
                if total > max_bytes:
                    raise SourceError(name, f"body over the {max_bytes}-byte cap at {url}")
                chunks.append(chunk)
            return Fetched(
                body=b"".join(chunks), etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
                content_type=response.headers.get("content-type"), url=str(response.url),
            )
    except httpx.TooManyRedirects:
        raise SourceError(name, f"too many redirects from {url}") from None
    except httpx.TimeoutException as e:
        raise SourceError(name, f"timed out fetching {url} ({type(e).__name__})") from None
    except httpx.HTTPError as e:
        raise SourceError(name, f"cannot fetch {url}: {e}") from None


def make_client(timeout: float = 20.0) -> httpx.Client:
    return httpx.Client(
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"},
        timeout=httpx.Timeout(timeout, connect=5.0),
        follow_redirects=True,
        max_redirects=5,
    )
