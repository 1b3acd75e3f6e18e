"""Fetch stage: get a bundle from its URI, bounded in size and time, and check it against the hash
on chain before anything else touches it.

A bundle URI is chosen by the client, so it is hostile input: only http(s) to public addresses
(redirects checked the same way), unless the operator runs a local network (`allow_local`: then
`file://` and loopback/private addresses too, which the local network tools set). The address is
checked again on the connected socket itself: a host whose DNS answers a public address to the
check and 127.0.0.1 to the connection (DNS rebinding) is refused. A download that trickles is cut
at a total deadline, not only per read.
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import logging
import socket
import time
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlparse

from oracle.core.bundle import bundle_hash
from oracle.core.errors import FetchError

log = logging.getLogger(__name__)


def fetch_bundle(uri: str, expected_hash: bytes, max_bytes: int, timeout_s: float = 30.0, *,
                 allow_local: bool = False, deadline_s: float = 60.0) -> bytes:  # fmt: skip
    data = _read(uri, max_bytes, timeout_s, allow_local, deadline_s)
    got = bundle_hash(data)
    if got != bytes(expected_hash):
        raise FetchError(
            f"bundle hash mismatch for {uri}: chain says 0x{bytes(expected_hash).hex()}, got 0x{got.hex()}"
        )
    return data


def check_uri(uri: str, allow_local: bool) -> None:
    """Refuses a URI this node must not fetch: other schemes; `file://` and hosts that resolve to a
    loopback, private, link-local or otherwise non-public address unless `allow_local`."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        if not allow_local:
            raise FetchError(f"file:// bundle URIs are refused outside a local network: {uri}")
        return
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise FetchError(f"unsupported bundle URI {uri!r} (use http(s)://)")
    if allow_local:
        return
    try:
        infos = socket.getaddrinfo(parsed.hostname, parsed.port or 443, type=socket.SOCK_STREAM)
    except OSError as err:
        raise FetchError(f"cannot resolve {parsed.hostname}: {err}") from err
    for *_, sockaddr in infos:
        _check_address(parsed.hostname, str(sockaddr[0]))


def _check_address(host: str, ip: str) -> None:
    address = ipaddress.ip_address(ip.split("%", 1)[0])  # drop an IPv6 scope id
    if not address.is_global:
        raise FetchError(f"bundle host {host} is a non-public address ({address}): refused")


def _public_connection(
    address, timeout=socket._GLOBAL_DEFAULT_TIMEOUT, source_address=None, **kwargs
):
    """socket.create_connection that refuses a peer which is not a public address, checked on the
    socket that will carry the request (after DNS, before a byte is sent)."""
    sock = socket.create_connection(address, timeout, source_address, **kwargs)
    try:
        _check_address(address[0], sock.getpeername()[0])
    except FetchError:
        sock.close()
        raise
    return sock


class _PublicHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = _public_connection


class _PublicHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = _public_connection  # checked before the TLS handshake


class _PublicHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_PublicHTTPConnection, req)


class _PublicHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(functools.partial(_PublicHTTPSConnection, context=self._context), req)


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    def __init__(self, allow_local: bool):
        self.allow_local = allow_local

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        check_uri(newurl, self.allow_local)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _read(
    uri: str, max_bytes: int, timeout_s: float, allow_local: bool, deadline_s: float
) -> bytes:
    check_uri(uri, allow_local)
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        path = Path(unquote(parsed.path))
        if not path.is_file():
            raise FetchError(f"bundle not found: {uri}")
        if path.stat().st_size > max_bytes:
            raise FetchError(f"bundle larger than {max_bytes} bytes: {uri}")
        return path.read_bytes()
    handlers: list[urllib.request.BaseHandler] = [_CheckedRedirects(allow_local)]
    if not allow_local:
        # No proxies from the environment either: the connection must go to the checked host.
        handlers += [urllib.request.ProxyHandler({}), _PublicHTTPHandler(), _PublicHTTPSHandler()]
    opener = urllib.request.build_opener(*handlers)
    deadline = time.monotonic() + deadline_s
    try:
        with opener.open(uri, timeout=timeout_s) as resp:
            length = resp.headers.get("Content-Length")
            if length and int(length) > max_bytes:
                raise FetchError(f"bundle larger than {max_bytes} bytes: {uri}")
            chunks, total = [], 0
            while chunk := resp.read1(1 << 16):
                total += len(chunk)
                if total > max_bytes:
                    raise FetchError(f"bundle larger than {max_bytes} bytes: {uri}")
                if time.monotonic() > deadline:
                    raise FetchError(
                        f"bundle download from {uri} took longer than {deadline_s:g}s: refused"
                    )
                chunks.append(chunk)
    except OSError as err:
        raise FetchError(f"cannot fetch {uri}: {err}") from err
    return b"".join(chunks)
