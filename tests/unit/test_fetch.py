"""The fetch stage against hostile bundle URIs (oracle/core/fetch.py): a client picks the URI, so it may
point at the node's own machine, redirect there, or trickle bytes to hold the node up."""

import time

import pytest

from oracle.core.bundle import bundle_hash
from oracle.core.errors import FetchError
from oracle.core.fetch import check_uri, fetch_bundle
from tests.utils.http import QuietHandler, serving

DATA = b"bundle bytes"


@pytest.fixture
def http():
    class Handler(QuietHandler):
        def do_GET(self):  # noqa: N802
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "http://127.0.0.1:9/secret")
                self.end_headers()
                return
            if self.path == "/trickle":
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                for _ in range(1000):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.05)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(DATA)))
            self.end_headers()
            self.wfile.write(DATA)

    with serving(Handler) as url:
        yield url("")


@pytest.mark.parametrize(
    "uri", ["file:///etc/passwd", "http://127.0.0.1:8545/", "http://localhost/", "http://10.0.0.1/x",
            "http://169.254.169.254/latest/meta-data", "http://[::1]/", "ftp://example.org/b.tgz", "gopher://x"],
)  # fmt: skip
def test_check_uri__local_or_odd__refused_on_a_public_network(uri):
    with pytest.raises(FetchError):
        check_uri(uri, allow_local=False)


def test_local_network__loopback_and_file_allowed(http, tmp_path):
    f = tmp_path / "b.tgz"
    f.write_bytes(DATA)
    assert fetch_bundle(f.as_uri(), bundle_hash(DATA), 1 << 20, allow_local=True) == DATA
    assert fetch_bundle(f"{http}/b.tgz", bundle_hash(DATA), 1 << 20, allow_local=True) == DATA


def test_public_network__the_same_loopback_url__refused(http):
    with pytest.raises(FetchError, match="non-public address"):
        fetch_bundle(f"{http}/b.tgz", bundle_hash(DATA), 1 << 20)


def test_redirect__checked_like_the_first_url(http, monkeypatch):
    """The first hop passes (as if public: the test server is on loopback); its redirect to the
    node's own 127.0.0.1 is checked with the real rules and refused."""
    import oracle.core.fetch as fetch

    real_check = fetch.check_uri
    monkeypatch.setattr(fetch, "check_uri", lambda uri, allow_local: None if uri.endswith("/redirect")
                        else real_check(uri, allow_local))  # fmt: skip
    with pytest.raises(FetchError, match="non-public address"):
        fetch_bundle(f"{http}/redirect", bundle_hash(DATA), 1 << 20)


def test_trickle__cut_at_the_total_deadline(http):
    started = time.monotonic()
    with pytest.raises(FetchError, match="took longer than 1s"):
        fetch_bundle(f"{http}/trickle", b"\x00" * 32, 1 << 20, allow_local=True, deadline_s=1.0)
    assert time.monotonic() - started < 5


def test_dns_rebinding__public_to_the_check_loopback_to_the_connection__refused(http, monkeypatch):
    """A hostile DNS server answers a public address to the node's check and 127.0.0.1 to the
    connection that follows: the connected socket's own address is checked, and refused."""
    import socket

    port = int(http.rsplit(":", 1)[1])
    real = socket.getaddrinfo
    answers = iter(["93.184.216.34", "127.0.0.1", "127.0.0.1", "127.0.0.1"])

    def rebinding(host, *args, **kwargs):
        if host != "rebind.example":
            return real(host, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with pytest.raises(FetchError, match=r"non-public address \(127.0.0.1\)"):
        fetch_bundle(f"http://rebind.example:{port}/b.tgz", bundle_hash(DATA), 1 << 20)
