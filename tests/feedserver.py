"""A loopback HTTP server with scripted misbehaviour, for gather tests and the bench."""

from __future__ import annotations

import functools
import gzip
import hashlib
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def rss(title: str, n: int = 3, prefix: str = "item") -> bytes:
    items = "".join(
        f"<item><title>{title} {prefix} {i}</title><link>https://example.org/{title}/{prefix}/{i}</link>"
        f"<guid>{title}-{prefix}-{i}</guid><pubDate>Fri, 20 Nov 2026 10:00:00 GMT</pubDate>"
        f"<description>Liver ablation update {i}</description></item>"
        for i in range(n))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
            f"{items}</channel></rss>").encode()


BILLION_LAUGHS = b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol "lol">\n' + b"".join(
    f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'.encode()
    for i in range(1, 10)
) + b']>\n<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title>' \
    b"<link>https://example.org/laughs</link><guid>laughs-1</guid></item></channel></rss>"


@functools.cache
def gzip_bomb() -> bytes:
    """About 60 KB on the wire, 64 MB once decompressed."""
    return gzip.compress(b"<" + b"a" * (64 * 1024 * 1024), compresslevel=9)


class FeedServer:
    """Routes: /ok/NAME (ETag + 304), /no-head (405 to HEAD), /trickle, /huge, /gzip-bomb, /laughs, /loop,
    /status/CODE, /flaky/NAME (503 once, then ok), /redirect?to=URL (302). `latency`
    delays every response; `tls` serves HTTPS with that context. `hosts` records the
    Host header of every request."""

    def __init__(self, latency: float = 0.0, host: str = "127.0.0.1",
                 tls: ssl.SSLContext | None = None) -> None:
        self.latency = latency
        self.hits: dict[str, int] = {}
        self.hosts: list[str] = []
        self.methods: list[tuple[str, str]] = []  # (method, path) of every request
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            head = False

            def do_HEAD(self):  # noqa: N802 (http.server's naming)
                """As GET without the body; /no-head answers 405."""
                self.head = True
                self.do_GET()

            def do_GET(self):  # noqa: N802 (http.server's naming)
                path = urlsplit(self.path).path
                with server.lock:
                    server.methods.append((self.command, path))
                    server.hits[path] = server.hits.get(path, 0) + 1
                    hits = server.hits[path]
                    server.hosts.append(self.headers.get("Host", ""))
                if server.latency:
                    time.sleep(server.latency)
                route = path.split("/")[1]
                getattr(self, "route_" + route.replace("-", "_"), self.route_missing)(path, hits)

            def send_body(self, body: bytes, ctype="application/rss+xml", headers=None):
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                if not self.head:
                    self.wfile.write(body)

            def route_no_head(self, path, hits):
                if self.head:
                    self.route_status("/status/405", hits)
                else:
                    self.send_body(b"<p>a page</p>", ctype="text/html")

            def route_ok(self, path, hits):
                body = rss(path.rsplit("/", 1)[1])
                etag = '"' + hashlib.sha1(body).hexdigest() + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_body(body, headers={"ETag": etag})

            def route_flaky(self, path, hits):
                if hits == 1:
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_body(rss(path.rsplit("/", 1)[1]))

            def route_trickle(self, path, hits):
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", "100000")
                self.end_headers()
                try:
                    for _ in range(200):
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        time.sleep(0.1)
                except OSError:
                    pass

            def route_huge(self, path, hits):
                size = 50 * 1024 * 1024
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"<!-- padding -->" * 4096
                sent = 0
                try:
                    while sent < size:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        sent += len(chunk)
                    self.wfile.write(b"0\r\n\r\n")
                except OSError:
                    pass

            def route_gzip_bomb(self, path, hits):
                self.send_body(gzip_bomb(), headers={"Content-Encoding": "gzip"})

            def route_laughs(self, path, hits):
                self.send_body(BILLION_LAUGHS, ctype="application/xml")

            def route_loop(self, path, hits):
                self.send_response(302)
                self.send_header("Location", "/loop")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def route_redirect(self, path, hits):
                self.send_response(302)
                self.send_header("Location", parse_qs(urlsplit(self.path).query)["to"][0])
                self.send_header("Content-Length", "0")
                self.end_headers()

            def route_status(self, path, hits):
                self.send_response(int(path.rsplit("/", 1)[1]))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def route_missing(self, path, hits):
                self.route_status("/status/404", hits)

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # the default 5 drops concurrent connects (1 s SYN retry)

        self.httpd = Server((host, 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http{'s' if isinstance(self.httpd.socket, ssl.SSLSocket) else ''}://{host}:{port}"

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def __enter__(self) -> FeedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port() -> int:
    """A loopback port nothing listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
