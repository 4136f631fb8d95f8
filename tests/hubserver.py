"""A loopback WebSub hub that records the publish pings it is sent and answers from a
script (a status per ping, then `then`), for the publish tests."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


@dataclass(frozen=True)
class Ping:
    path: str
    content_type: str
    form: dict[str, list[str]]


@dataclass
class Hub:
    answers: list[int] = field(default_factory=list)  # the next pings' statuses, in turn
    then: int = 202  # every ping's status after those
    pings: list[Ping] = field(default_factory=list)
    url: str = ""

    def next_status(self) -> int:
        return self.answers.pop(0) if self.answers else self.then

    def feeds(self) -> list[str]:
        """The hub.url of every ping, in order."""
        return [url for ping in self.pings for url in ping.form.get("hub.url", [])]


class HubServer:
    def __init__(self) -> None:
        self.hub = Hub()
        lock = threading.Lock()
        hub = self.hub

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with lock:
                    hub.pings.append(Ping(self.path, self.headers.get("content-type", ""),
                                          parse_qs(body.decode(), keep_blank_values=True)))
                    status = hub.next_status()
                said = b"" if status in (202, 204) else f"hub says {status}\r\n\x1b[31m".encode()
                self.send_response(status)
                self.send_header("content-length", str(len(said)))
                self.end_headers()
                self.wfile.write(said)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.hub.url = f"http://127.0.0.1:{self.server.server_address[1]}/hub"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)

    def __enter__(self) -> Hub:
        self.thread.start()
        return self.hub

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
