"""Fetch a source's bytes: local paths, or HTTP(S) with connect/read/total timeouts, a
size cap enforced while streaming (after decompression, so gzip bombs stop too), a
redirect limit, retries with backoff for transient failures and conditional GET.

No request forgery: the fetcher follows redirects itself, resolves each hop's host,
refuses private and other internal addresses (guard.py) and https -> http, then connects
to an address it checked (the request goes to that IP literal; Host and TLS SNI and the
certificate check keep the name), so a second DNS answer cannot redirect the connection.

Returns bytes (or "not modified") or raises SourceError; never parses.
"""

from __future__ import annotations

import functools
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import certifi
import httpcore
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
from .guard import Allowlist, parse_ip

PUBLIC_ONLY = Allowlist()  # what hops after a public first hop may reach

USER_AGENT = f"io-insights/{__version__} (newsletter feed fetcher; +https://pypi.org/project/io-insights/)"
TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}
ALLOW_HINT = "gather.allow_private_hosts can allow it"
T = TypeVar("T")

# (host, port) -> addresses, in the order to try them. socket.getaddrinfo by default.
Resolver = Callable[[str, int], Sequence[str]]


def system_resolver(host: str, port: int) -> list[str]:
    # An IP family's address is its text form (typeshed also allows the int of others).
    return [str(info[4][0])
            for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


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
    allow: Allowlist = field(default_factory=Allowlist)  # gather.allow_private_hosts


@dataclass(frozen=True)
class Network:
    """Where fetches look names up and open connections: the system's by default. Tests
    pass a resolver with made-up public names and a backend that connects to loopback, so
    no test reaches beyond the machine."""

    resolver: Resolver = system_resolver
    backend: httpcore.NetworkBackend | None = None  # None: httpcore's sockets
    tls: ssl.SSLContext | None = None  # None: certifi's CA bundle


@dataclass(frozen=True)
class Probe:
    """How a link answered (Fetcher.probe): the final status, and the URL that gave it."""

    status: int
    url: str


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


class _PoolPerName(httpx.BaseTransport):
    """Requests arrive addressed to a checked IP literal, and httpcore keys its pool by
    URL origin: one pool per host name keeps a TLS connection verified for one name
    from carrying another name's requests to the same address. A request the fetcher
    did not pin (no sni_hostname) is refused, so nothing bypasses the check."""

    def __init__(self, network: Network, limits: httpx.Limits) -> None:
        self._network, self._limits = network, limits
        self._tls = network.tls or _tls_context()
        self._pools: dict[str, httpx.HTTPTransport] = {}
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        name = request.extensions.get("sni_hostname")
        if not name:
            raise httpx.UnsupportedProtocol("unpinned request: fetch through Fetcher.fetch")
        with self._lock:
            pool = self._pools.get(name)
            if pool is None:
                pool = self._pools[name] = self._new_pool()
        return pool.handle_request(request)

    def _new_pool(self) -> httpx.HTTPTransport:
        transport = httpx.HTTPTransport(verify=self._tls, limits=self._limits)
        if self._network.backend is not None:
            # httpx has no public way to give its pool a network backend; this is the pool
            # it just built, with the same settings, on ours.
            transport._pool = httpcore.ConnectionPool(
                ssl_context=self._tls, max_connections=self._limits.max_connections,
                max_keepalive_connections=self._limits.max_keepalive_connections,
                keepalive_expiry=self._limits.keepalive_expiry,
                network_backend=self._network.backend)
        return transport

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()


class Fetcher:
    """One HTTP client for a run: connection pools, timeouts, and the address check."""

    def __init__(self, policy: FetchPolicy, concurrency: int = 8,
                 network: Network | None = None) -> None:
        self.policy = policy
        self.network = network or Network()
        limits = httpx.Limits(max_connections=concurrency * 2,
                              max_keepalive_connections=concurrency)
        self.client = httpx.Client(
            transport=_PoolPerName(self.network, limits),
            headers={"User-Agent": policy.user_agent, "Accept-Encoding": "gzip, deflate",
                     "Accept": "application/rss+xml, application/atom+xml, text/calendar, "
                               "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"},
            timeout=httpx.Timeout(policy.read_timeout, connect=policy.connect_timeout),
            follow_redirects=False,  # each hop is checked in _fetch_once
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()

    def fetch(self, name: str, url: str, *, etag: str | None = None,
              last_modified: str | None = None) -> Fetched:
        policy = self.policy
        deadline = time.monotonic() + policy.total_timeout
        allow = policy.allow.for_source(_host(name, url))
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
                    return self._fetch_once(name, url, allow, deadline, etag, last_modified)
        except RetryError as e:
            last = e.last_attempt.exception()
            if isinstance(last, _Transient):
                tries = e.last_attempt.attempt_number
                raise SourceError(name, f"{last.error.reason} (after {tries} tries)") from None
            raise
        except _Transient as e:  # stopped retrying because the total deadline passed
            raise e.error from None
        raise AssertionError("unreachable")

    def _fetch_once(self, name: str, url: str, allow: Allowlist, deadline: float,
                    etag: str | None, last_modified: str | None) -> Fetched:
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return self._follow(name, url, allow, "GET", headers, lambda hop, response: self._read(
            name, hop, response, deadline, etag, last_modified))

    def probe(self, name: str, url: str, method: str = "HEAD") -> Probe:
        """The status a link answers with after its redirects (each hop checked as a
        feed's are, against the policy's allowlist only: a link's address literal is not
        allowed the way an operator's typed source is), without reading its body. One
        try: a link that fails is reported, not retried. Raises SourceError."""
        deadline = time.monotonic() + self.policy.total_timeout

        def answer(hop: str, response: httpx.Response) -> Probe:
            if time.monotonic() > deadline:
                raise SourceError(name, f"timed out after {self.policy.total_timeout:g} s "
                                        f"(total) checking {url}")
            return Probe(response.status_code, hop)

        try:
            return self._follow(name, url, self.policy.allow, method, {}, answer)
        except _Transient as e:
            raise e.error from None

    def _follow(self, name: str, url: str, allow: Allowlist, method: str,
                headers: dict[str, str], answer: Callable[[str, httpx.Response], T]) -> T:
        """`method` `url` and its redirects, each hop's addresses checked; `answer` reads
        the final response (closed after it)."""
        hop, previous = url, None
        try:
            for _ in range(self.policy.max_redirects + 1):
                response, inside = self._open(name, hop, previous, allow, headers, method)
                if previous is None and not inside:
                    # A feed on the internet never leads into the allowed private hosts:
                    # the allowance is for feeds that live there, not a door for others.
                    allow = PUBLIC_ONLY
                try:
                    if not response.has_redirect_location:
                        return answer(hop, response)
                    hop, previous = _next_hop(name, hop, response.headers["location"]), hop
                finally:
                    response.close()
            raise SourceError(name, f"more than {self.policy.max_redirects} redirects from {url}")
        except httpx.DecodingError as e:
            raise SourceError(name, f"cannot decode the compressed body from {hop}: {e}") from None
        except (httpx.ConnectError, httpx.ConnectTimeout) as e:
            raise _Transient(SourceError(name, f"cannot connect to {hop}: {_short(e)}")) from None
        except httpx.TimeoutException as e:
            message = f"timed out fetching {hop} ({type(e).__name__})"
            raise _Transient(SourceError(name, message)) from None
        except (httpx.RemoteProtocolError, httpx.ReadError) as e:
            message = f"connection broken fetching {hop}: {_short(e)}"
            raise _Transient(SourceError(name, message)) from None
        except httpx.HTTPError as e:
            raise SourceError(name, f"cannot fetch {hop}: {_short(e)}") from None
        except UnicodeError as e:  # httpx's IDNA coding of a hostile redirect's host
            raise SourceError(name, f"cannot fetch {hop}: bad host name ({e})") from None

    def _open(self, name: str, url: str, previous: str | None, allow: Allowlist,
              headers: dict[str, str], method: str = "GET") -> tuple[httpx.Response, bool]:
        """`method` (GET) `url` on a connection to one of its checked addresses (in resolver order,
        the next one when a connection fails, as socket.create_connection would), and
        whether it took the operator's allowance to reach them."""
        target = httpx.URL(url)
        host = _host(name, url)
        addresses = self._addresses(name, url, host, target.port or _default_port(target))
        refused = allow.refusal(host, addresses)
        if refused:
            if allow is PUBLIC_ONLY and previous is not None and self.policy.allow.refusal(
                    host, addresses) is None:
                address, kind = refused
                where = address if host == address else f"{host} at {address}"
                raise SourceError(name, (
                    f"refused: redirect to {where} ({kind}) from {previous}: a feed on the "
                    "internet may not lead into gather.allow_private_hosts (configure the "
                    "internal feed's own URL as the source)"))
            raise SourceError(name, _refusal(url, host, previous, *refused))
        inside = PUBLIC_ONLY.refusal(host, addresses) is not None
        error: httpx.HTTPError | None = None
        for address in addresses:
            request = self.client.build_request(
                method, target.copy_with(host=address),
                headers={**headers, "Host": target.netloc.decode("ascii")},
                extensions={"sni_hostname": host})
            try:
                return self.client.send(request, stream=True), inside
            except (httpx.ConnectError, httpx.ConnectTimeout) as e:
                error = e
        assert error is not None
        raise error

    def _addresses(self, name: str, url: str, host: str, port: int) -> list[str]:
        if _is_ip(host):
            return [host]
        try:
            found = self.network.resolver(host, port)
        except (OSError, UnicodeError) as e:  # socket.gaierror is an OSError
            reason = f"cannot connect to {url}: cannot resolve {host} ({_short(e)})"
            raise _Transient(SourceError(name, reason)) from None
        addresses = list(dict.fromkeys(found))  # once each, in the resolver's order
        if not addresses:
            raise _Transient(SourceError(name, f"cannot connect to {url}: no address for {host}"))
        return addresses

    def _read(self, name: str, url: str, response: httpx.Response, deadline: float,
              etag: str | None, last_modified: str | None) -> Fetched:
        policy = self.policy
        if response.status_code == 304:
            return Fetched(None, etag, last_modified, url=url)
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
            content_type=response.headers.get("content-type"), url=url,
        )


def _next_hop(name: str, url: str, location: str) -> str:
    """The redirect's absolute URL, if it is one a feed may take: http(s), and never
    from https down to http (its address is checked when the hop is opened)."""
    try:
        target = httpx.URL(url).join(location)
    except httpx.InvalidURL as e:
        raise SourceError(name, f"redirect to an invalid URL ({_short(e)}) from {url}") from None
    if target.scheme in ("http", "https") and not target.raw_host:
        raise SourceError(name, f"redirect to a URL without a host from {url}")
    if target.scheme not in ("http", "https"):
        raise SourceError(name, f"refused: redirect to a {target.scheme}: URL from {url}")
    if httpx.URL(url).scheme == "https" and target.scheme == "http":
        raise SourceError(name, f"refused: redirect from https to http ({target}) from {url}")
    return str(target)


def _refusal(url: str, host: str, previous: str | None, address: str, kind: str) -> str:
    where = address if host == address else f"{host} at {address}"
    if previous is None:
        return f"refused: {where} ({kind}) for {url}; {ALLOW_HINT}"
    return f"refused: redirect to {where} ({kind}) from {previous}; {ALLOW_HINT}"


def _host(name: str, url: str) -> str:
    try:
        host = httpx.URL(url).raw_host.decode("ascii")
    except httpx.InvalidURL as e:
        raise SourceError(name, f"invalid URL {url}: {_short(e)}") from None
    if not host:
        raise SourceError(name, f"no host in the URL {url}")
    return host


def _is_ip(host: str) -> bool:
    return parse_ip(host) is not None


def _default_port(url: httpx.URL) -> int:
    return 443 if url.scheme == "https" else 80


def _short(error: BaseException) -> str:
    return " ".join(str(error).split())[:200] or type(error).__name__
