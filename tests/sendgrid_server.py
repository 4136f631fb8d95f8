"""A loopback stand-in for SendGrid's POST /v3/mail/send.

Every request body is validated against SendGrid's own OpenAPI description
(../shared/specs/sendgrid-mail-v3.json) and its documented limits, so a payload SendGrid
would refuse fails our tests first. Faults are scripted per request, and what each
address received is recorded.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
import orjson

SPEC = Path(__file__).resolve().parents[2] / "shared" / "specs" / "sendgrid-mail-v3.json"


def request_validator() -> jsonschema.protocols.Validator:
    spec = json.loads(SPEC.read_text())
    schema = spec["components"]["requestBodies"]["PostMailSend"]["content"][
        "application/json"]["schema"]
    schema = json.loads(json.dumps(schema))
    # Erratum (shared/README.md): the spec types top-level custom_args as a string; the
    # API and the official client send an object.
    schema["properties"]["custom_args"] = {"type": "object",
                                           "additionalProperties": {"type": "string"}}
    schema["components"] = spec["components"]  # so "#/components/..." refs resolve
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def limit_errors(body: dict[str, Any]) -> list[str]:
    """SendGrid's documented limits that the schema does not express."""
    errors = []
    personalizations = body.get("personalizations", [])
    if len(personalizations) > 1000:
        errors.append(f"{len(personalizations)} personalizations; at most 1000 per request")
    seen: set[str] = set()
    for p in personalizations:
        for field in ("to", "cc", "bcc"):
            for r in p.get(field, []):
                key = r["email"].lower()
                if key in seen:
                    errors.append(f"{r['email']} appears twice in one request")
                seen.add(key)
        if len(json.dumps(p.get("custom_args", {}))) >= 10_000:
            errors.append("personalization custom_args over 10,000 bytes")
        if len(json.dumps(p.get("substitutions", {}))) >= 10_000:
            errors.append("substitutions over 10,000 bytes")
    types = [c["type"] for c in body.get("content", [])]
    if "text/html" in types and "text/plain" in types and types.index("text/plain") > \
            types.index("text/html"):
        errors.append("text/plain must come before text/html")
    if len(json.dumps(body.get("custom_args", {}))) >= 10_000:
        errors.append("custom_args over 10,000 bytes")
    return errors


class SendGridServer:
    """`faults` is consumed one entry per request: "ok", "429", "500", "413",
    "drop-after-accept" (recorded as sent, connection closed without an answer),
    "drop-before-accept", "hang" (holds the request until `release()`)."""

    def __init__(self, api_key: str = "SG.test-key", latency: float = 0.0,
                 record_bodies: bool = True, validate: bool = True) -> None:
        self.api_key = api_key
        self.validate = validate
        self.latency = latency
        self.record_bodies = record_bodies
        self.validator = request_validator()
        self.faults: deque[str] = deque()
        self.received: Counter[str] = Counter()  # address -> copies accepted
        self.subjects: dict[str, list[str]] = {}
        self.bodies: list[dict[str, Any]] = []
        self.requests = 0
        self.accepted = 0
        self.in_flight = 0
        self.most_in_flight = 0  # requests in their latency wait at once, at the most
        self.rejected: list[list[str]] = []
        self.on_accept: Callable[[dict[str, Any]], None] | None = None
        self.lock = threading.Lock()
        self.hold = threading.Event()
        self.holding = threading.Event()
        self.refused = threading.Event()  # a 5xx has been answered
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def reply(self, status: int, payload: Any = None, headers: dict | None = None):
                data = json.dumps(payload).encode() if payload is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                if server.latency:
                    # Counted while waiting, before any answer: a client's next request
                    # cannot overlap its last one here, only another client's can.
                    with server.lock:
                        server.in_flight += 1
                        server.most_in_flight = max(server.most_in_flight, server.in_flight)
                    time.sleep(server.latency)
                    with server.lock:
                        server.in_flight -= 1
                with server.lock:
                    server.requests += 1
                    fault = server.faults.popleft() if server.faults else "ok"
                if self.path != "/v3/mail/send":
                    return self.reply(404, {"errors": [{"message": "not found"}]})
                if self.headers.get("Authorization") != f"Bearer {server.api_key}":
                    return self.reply(401, {"errors": [{"message": "authorization required"}]})
                media = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if media != "application/json":
                    return self.reply(400, {"errors": [{
                        "message": "Content-Type should be application/json."}]})
                try:
                    body = orjson.loads(raw)
                except ValueError:
                    return self.reply(400, {"errors": [{"message": "invalid JSON"}]})
                problems = ([f"{'/'.join(map(str, e.path))}: {e.message}"
                             for e in server.validator.iter_errors(body)] + limit_errors(body)
                            if server.validate else [])
                if problems:
                    with server.lock:
                        server.rejected.append(problems)
                    return self.reply(400, {"errors": [{"message": p} for p in problems]})
                if fault == "429":
                    return self.reply(429, {"errors": [{"message": "too many requests"}]},
                                      {"X-RateLimit-Reset": str(int(time.time()) + 1)})
                if fault == "500":
                    self.reply(500, {"errors": [{"message": "internal error"}]})
                    self.wfile.flush()
                    server.refused.set()
                    return None
                if fault == "413":
                    return self.reply(413, {"errors": [{"message": "payload too large"}]})
                if fault == "drop-before-accept":
                    self.close_connection = True
                    self.connection.close()
                    return None
                if fault == "hang":
                    server.holding.set()
                    server.hold.wait(60)
                    self.close_connection = True
                    self.connection.close()
                    return None
                with server.lock:
                    server.accepted += 1
                    message_id = f"msg-{server.accepted}"
                    if server.record_bodies:
                        server.bodies.append(body)
                        for p in body["personalizations"]:
                            for r in p["to"]:
                                subject = body["subject"]
                                for k, v in p.get("substitutions", {}).items():
                                    subject = subject.replace(k, v)
                                server.subjects.setdefault(r["email"].lower(), []).append(subject)
                    # Counted in C (Counter.update): in bench/send.py this server shares
                    # the two cores with the sender it measures.
                    server.received.update([r["email"].lower() for p in body["personalizations"]
                                            for r in p["to"]])
                if server.on_accept:
                    server.on_accept(body)
                if fault == "drop-after-accept":
                    self.close_connection = True
                    self.connection.close()
                    return None
                return self.reply(202, None, {"X-Message-Id": message_id})

        class Server(ThreadingHTTPServer):
            request_queue_size = 128
            daemon_threads = True

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def release(self) -> None:
        self.hold.set()

    def __enter__(self) -> SendGridServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.hold.set()
        self.httpd.shutdown()
        self.httpd.server_close()
