"""No request forgery from feeds: every hop's addresses are checked after DNS, the
connection goes to the checked address, https never drops to http.

Made-up public names resolve through an injected resolver, and an injected network
backend opens every connection to a loopback feed server (recording which address the
fetcher asked for), so nothing here leaves the machine.
"""

from __future__ import annotations

import datetime as dt
import os
import ssl
import subprocess
import sys
from urllib.parse import quote

import httpcore
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from rich.console import Console

from pipeline.errors import ConfigError
from pipeline.gather import gather
from pipeline.gather.fetch import Network
from pipeline.gather.guard import forbidden_kind, parse_ip
from pipeline.models import RunReport
from pipeline.report import print_report
from pipeline.store.store import Store

from .feedserver import FeedServer
from .test_gather_http import NOW, write_config

PUBLIC = "93.184.216.34"  # what the made-up public names resolve to


class LoopbackBackend(httpcore.SyncBackend):
    """Connects wherever the fetcher asks to a loopback server instead (by port: 443 to
    the TLS one, anything else to the plain one) and records what it was asked."""

    def __init__(self, plain: FeedServer, tls: FeedServer | None = None) -> None:
        self.plain, self.tls = plain, tls
        self.connects: list[tuple[str, int]] = []

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        self.connects.append((host, port))
        server = self.tls if port == 443 and self.tls else self.plain
        return super().connect_tcp("127.0.0.1", server.port, timeout, None, socket_options)


class Resolver:
    """name -> answers; a list of lists gives one answer per lookup (rebinding)."""

    def __init__(self, answers: dict[str, list[str] | list[list[str]]]) -> None:
        self.answers = {name: list(a) for name, a in answers.items()}
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        answer = self.answers.get(host)
        if answer is None:
            raise OSError(f"unknown test name {host}")
        if answer and isinstance(answer[0], list):
            return answer.pop(0) if len(answer) > 1 else answer[0]
        return answer


def names(**extra) -> Resolver:
    return Resolver({"feeds.example.org": [PUBLIC], "other.example.org": [PUBLIC], **extra})


def redirect(to: str) -> str:
    return "/redirect?to=" + quote(to, safe="")


def run(tmp_path, sources, network, allow=None):
    config = write_config(tmp_path, sources)
    if allow is not None:
        config = config.model_copy(update={"gather": config.gather.model_copy(
            update={"allow_private_hosts": allow})})
    store = Store.open(config.store_url)
    try:
        reports = {r.name: r for r in gather(config, store, NOW, network)}
        health = {s.name: s for s in store.all_source_states()}
    finally:
        store.close()
    return reports, health


@pytest.fixture
def server():
    with FeedServer() as s:
        yield s


@pytest.mark.parametrize("target,shown,kind", [
    ("http://127.0.0.1/ok/x", "127.0.0.1", "loopback address"),
    ("http://10.0.0.5/ok/x", "10.0.0.5", "private address"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254", "link-local address"),
    ("http://[::1]/ok/x", "::1", "loopback address"),
    ("http://[fe80::1]/ok/x", "fe80::1", "link-local address"),
    ("http://100.64.0.1/ok/x", "100.64.0.1", "CGNAT address"),
    ("http://[fc00::1]/ok/x", "fc00::1", "unique local address"),
    ("http://0.0.0.0/ok/x", "0.0.0.0", "unspecified address"),
    ("http://224.0.0.1/ok/x", "224.0.0.1", "multicast address"),
    ("http://[::ffff:10.0.0.5]/ok/x", "::ffff:10.0.0.5", "private address, as 10.0.0.5"),
    ("http://[2002:a9fe:a9fe::1]/ok/x", "2002:a9fe:a9fe::1",
     "link-local address, as 169.254.169.254"),
])
def test_public_feed_redirecting_to_an_internal_address_is_refused(tmp_path, server, target,
                                                                   shown, kind):
    backend = LoopbackBackend(server)
    url = "http://feeds.example.org" + redirect(target)
    reports, _ = run(tmp_path, {"evil": url}, Network(names(), backend))
    report = reports["evil"]
    assert report.failed
    assert report.error.startswith(f"refused: redirect to {shown} ({kind}) from {url}")
    assert "gather.allow_private_hosts" in report.error
    # The first hop went to the checked public address; the internal one was never opened.
    assert backend.connects == [(PUBLIC, 80)]
    assert server.hits.get("/ok/x", 0) == 0 and not server.hits.get("/latest/meta-data/")


def test_redirect_to_a_name_that_resolves_inside_is_refused(tmp_path, server):
    backend = LoopbackBackend(server)
    url = "http://feeds.example.org" + redirect("http://intranet.example/ok/x")
    reports, _ = run(tmp_path, {"evil": url},
                     Network(names(**{"intranet.example": [PUBLIC, "10.1.2.3"]}), backend))
    # One internal answer among public ones is enough: which one is used is not ours.
    assert reports["evil"].error.startswith(
        f"refused: redirect to intranet.example at 10.1.2.3 (private address) from {url}")
    assert backend.connects == [(PUBLIC, 80)]


def test_a_configured_name_that_resolves_inside_is_refused(tmp_path, server):
    backend = LoopbackBackend(server)
    url = "http://metadata.example/ok/x"
    reports, _ = run(tmp_path, {"evil": url},
                     Network(names(**{"metadata.example": ["169.254.169.254"]}), backend))
    assert reports["evil"].error.startswith(
        f"refused: metadata.example at 169.254.169.254 (link-local address) for {url}")
    assert backend.connects == []


def test_the_connection_goes_to_the_address_that_was_checked(tmp_path, server):
    # DNS rebinding: a public answer for the check, a loopback one for any later lookup.
    resolver = names(**{"feeds.example.org": [[PUBLIC], ["127.0.0.1"]]})
    backend = LoopbackBackend(server)
    reports, _ = run(tmp_path, {"rebind": "http://feeds.example.org/ok/r"},
                     Network(resolver, backend))
    assert not reports["rebind"].failed and reports["rebind"].new == 3
    assert resolver.lookups == ["feeds.example.org"]
    assert backend.connects == [(PUBLIC, 80)]
    assert server.hosts == ["feeds.example.org"]  # the name, not the address, in Host


def test_every_hop_is_resolved_and_checked_again(tmp_path, server):
    resolver = names(**{"feeds.example.org": [[PUBLIC], ["127.0.0.1"]]})
    backend = LoopbackBackend(server)
    url = "http://feeds.example.org" + redirect("/ok/r")
    reports, _ = run(tmp_path, {"rebind": url}, Network(resolver, backend))
    assert reports["rebind"].error.startswith(
        f"refused: redirect to feeds.example.org at 127.0.0.1 (loopback address) from {url}")
    assert backend.connects == [(PUBLIC, 80)] and server.hits.get("/ok/r", 0) == 0


def test_a_loopback_source_may_not_redirect_to_another_loopback_host(tmp_path, server):
    # No injection: two real loopback servers. The configured address is allowed for its
    # own source, a different internal host is not.
    with FeedServer(host="127.0.0.2") as other:
        url = server.url + redirect(other.url + "/ok/x")
        reports, _ = run(tmp_path, {"hop": url, "direct": server.url + "/ok/d"}, None)
        assert other.hits == {}
    assert reports["hop"].error.startswith(
        f"refused: redirect to 127.0.0.2 (loopback address) from {url}")
    assert not reports["direct"].failed and reports["direct"].new == 3


def test_a_configured_address_is_allowed_for_its_own_source_only(tmp_path, server):
    backend = LoopbackBackend(server)
    internal = "http://10.9.8.7/ok/a"
    evil = "http://feeds.example.org" + redirect(internal)
    reports, _ = run(tmp_path, {"intranet": internal, "evil": evil},
                     Network(names(), backend))
    assert not reports["intranet"].failed and reports["intranet"].new == 3
    assert reports["evil"].error.startswith("refused: redirect to 10.9.8.7 (private address)")
    assert sorted(backend.connects) == [("10.9.8.7", 80), (PUBLIC, 80)]


@pytest.mark.parametrize("allow", [["intranet.example"], ["INTRANET.example."],
                                   ["10.0.0.0/8"], ["10.1.2.3"]])
def test_allow_private_hosts_lets_a_feed_configured_there_through(tmp_path, server, allow):
    backend = LoopbackBackend(server)
    url = "http://intranet.example" + redirect("http://intranet.example/ok/i")
    reports, _ = run(tmp_path, {"wiki": url},
                     Network(names(**{"intranet.example": ["10.1.2.3"]}), backend), allow=allow)
    assert not reports["wiki"].failed and reports["wiki"].new == 3
    assert backend.connects == [("10.1.2.3", 80), ("10.1.2.3", 80)]
    assert server.hosts[-1] == "intranet.example"


@pytest.mark.parametrize("allow", [["intranet.example"], ["10.0.0.0/8"]])
def test_a_public_feed_may_not_redirect_into_an_allowed_host(tmp_path, server, allow):
    """The allowance is for feeds that live inside, not a door for any feed's redirects
    (to the allowed host's other ports, say)."""
    backend = LoopbackBackend(server)
    url = "http://feeds.example.org" + redirect("http://intranet.example:6379/ok/i")
    reports, _ = run(tmp_path, {"evil": url},
                     Network(names(**{"intranet.example": ["10.1.2.3"]}), backend), allow=allow)
    assert reports["evil"].failed
    assert "a feed on the internet may not lead into" in reports["evil"].error
    assert backend.connects == [(PUBLIC, 80)]


def test_a_host_name_idna_refuses_is_the_sources_error(tmp_path, server):
    backend = LoopbackBackend(server)
    url = "http://feeds.example.org" + redirect("http://xn--localhost/ok/x")
    reports, _ = run(tmp_path, {"odd": url}, Network(names(), backend))
    assert reports["odd"].failed and "unexpected" not in reports["odd"].error


def test_allow_private_hosts_does_not_let_others_through(tmp_path, server):
    backend = LoopbackBackend(server)
    url = "http://feeds.example.org" + redirect("http://10.0.0.6/ok/i")
    reports, _ = run(tmp_path, {"wiki": url}, Network(names(), backend), allow=["10.0.0.5"])
    assert reports["wiki"].error.startswith("refused: redirect to 10.0.0.6 (private address)")


# --- HTTPS: the connection goes to the pinned IP, TLS still checks the name ---------------

@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for feeds.example.org: (server context, client context)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "feeds.example.org")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=7))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("feeds.example.org")]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    client = ssl.create_default_context(cafile=str(folder / "cert.pem"))
    return server, client


@pytest.fixture
def tls_server(certificate):
    with FeedServer(tls=certificate[0]) as s:
        yield s


def test_https_connects_to_the_checked_address_and_verifies_the_name(tmp_path, server,
                                                                     tls_server, certificate):
    backend = LoopbackBackend(server, tls_server)
    network = Network(names(), backend, tls=certificate[1])
    reports, _ = run(tmp_path, {"good": "https://feeds.example.org/ok/t",
                                "wrong-name": "https://other.example.org/ok/w"}, network)
    assert not reports["good"].failed and reports["good"].new == 3
    assert tls_server.hosts == ["feeds.example.org"]
    # The certificate names feeds.example.org only: a pinned IP does not skip the check.
    assert reports["wrong-name"].failed and "certificate" in reports["wrong-name"].error.lower()
    assert backend.connects[0] == (PUBLIC, 443)


def test_a_redirect_from_https_to_http_is_refused(tmp_path, server, tls_server, certificate):
    backend = LoopbackBackend(server, tls_server)
    url = "https://feeds.example.org" + redirect("http://feeds.example.org/ok/plain")
    reports, _ = run(tmp_path, {"down": url}, Network(names(), backend, tls=certificate[1]))
    assert reports["down"].error == ("refused: redirect from https to http "
                                     f"(http://feeds.example.org/ok/plain) from {url}")
    assert backend.connects == [(PUBLIC, 443)] and server.hits == {}


def test_a_redirect_to_another_scheme_is_refused(tmp_path, server):
    url = "http://feeds.example.org" + redirect("file:///etc/passwd")
    reports, _ = run(tmp_path, {"file": url}, Network(names(), LoopbackBackend(server)))
    assert reports["file"].error == f"refused: redirect to a file: URL from {url}"


# --- The refusal in the source health table; the run goes on ---------------------------

def test_the_refusal_is_reported_and_the_other_sources_publish(tmp_path, server):
    url = "http://feeds.example.org" + redirect("http://10.0.0.5/admin")
    network = Network(names(), LoopbackBackend(server))
    reports, health = run(tmp_path, {"evil": url, "good": "http://other.example.org/ok/g",
                                     "local": server.url + "/ok/l"}, network)
    expected = f"refused: redirect to 10.0.0.5 (private address) from {url}"
    assert health["evil"].last_error.startswith(expected)
    assert health["evil"].consecutive_failures == 1
    assert (reports["good"].new, reports["local"].new) == (3, 3)
    console = Console(record=True, width=400)
    print_report(RunReport(now=NOW, period="2026-W48", sources=list(reports.values())), console)
    assert f"failed: {expected}" in console.export_text()
    # `insights sources` reads the same health row.
    result = subprocess.run([sys.executable, "-m", "pipeline", "--config",
                             str(tmp_path / "config.toml"), "sources"],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "COLUMNS": "400"})
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout


# --- The decisions themselves, and the config key ---------------------------------------

@pytest.mark.parametrize("address,kind", [
    ("93.184.216.34", None), ("2606:4700:4700::1111", None), ("::ffff:93.184.216.34", None),
    ("2002:5db8:d822::1", None),
    ("127.8.0.1", "loopback address"), ("192.168.1.1", "private address"),
    ("172.16.0.1", "private address"), ("100.127.255.254", "CGNAT address"),
    ("169.254.0.1", "link-local address"), ("fe80::abcd", "link-local address"),
    ("fd12:3456::1", "unique local address"), ("ff02::1", "multicast address"),
    ("::", "unspecified address"), ("::ffff:127.0.0.1", "loopback address, as 127.0.0.1"),
    ("64:ff9b::a00:1", "private address, as 10.0.0.1"), ("240.0.0.1", "reserved address"),
    ("::10.0.0.1", "private address, as 10.0.0.1"),
])
def test_which_addresses_are_internal(address, kind):
    assert forbidden_kind(parse_ip(address)) == kind


def test_allow_private_hosts_is_validated(tmp_path):
    from pipeline.config import load_config

    config = write_config(tmp_path, {})
    text = (tmp_path / "config.toml").read_text()
    (tmp_path / "config.toml").write_text(text.replace(
        "[gather]", '[gather]\nallow_private_hosts = ["Wiki.Intranet.", "10.0.0.5", "fd00::/8"]'))
    assert load_config(tmp_path / "config.toml").gather.allow_private_hosts == [
        "wiki.intranet", "10.0.0.5/32", "fd00::/8"]
    assert config.gather.allow_private_hosts == []
    for bad in ("http://wiki.intranet", "10.0.0.300", "10.0.0.0/33", "two words", ""):
        (tmp_path / "config.toml").write_text(text.replace(
            "[gather]", f'[gather]\nallow_private_hosts = ["ok.example", "{bad}"]'))
        with pytest.raises(ConfigError) as e:
            load_config(tmp_path / "config.toml")
        assert str(e.value) == (
            f"{tmp_path / 'config.toml'}: gather.allow_private_hosts: [1] {bad!r} is neither a "
            'host name nor an IP address or CIDR block (examples: "feeds.intranet.example", '
            '"10.0.0.5", "10.20.0.0/16")')
