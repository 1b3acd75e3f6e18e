"""Fetch stage: get a bundle from its URI, bounded in size, and check it against the hash on
chain before anything else touches it."""

from __future__ import annotations

import logging
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlparse

from oracle.bundle import bundle_hash
from oracle.errors import FetchError

log = logging.getLogger(__name__)


def fetch_bundle(uri: str, expected_hash: bytes, max_bytes: int, timeout_s: float = 30.0) -> bytes:
    data = _read(uri, max_bytes, timeout_s)
    got = bundle_hash(data)
    if got != bytes(expected_hash):
        raise FetchError(f"bundle hash mismatch for {uri}: chain says 0x{bytes(expected_hash).hex()}, got 0x{got.hex()}")
    return data


def _read(uri: str, max_bytes: int, timeout_s: float) -> bytes:
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        path = Path(unquote(parsed.path))
        if not path.is_file():
            raise FetchError(f"bundle not found: {uri}")
        if path.stat().st_size > max_bytes:
            raise FetchError(f"bundle larger than {max_bytes} bytes: {uri}")
        return path.read_bytes()
    if parsed.scheme in ("http", "https"):
        try:
            with urllib.request.urlopen(uri, timeout=timeout_s) as resp:  # noqa: S310 (scheme checked)
                length = resp.headers.get("Content-Length")
                if length and int(length) > max_bytes:
                    raise FetchError(f"bundle larger than {max_bytes} bytes: {uri}")
                data = resp.read(max_bytes + 1)
        except OSError as err:
            raise FetchError(f"cannot fetch {uri}: {err}") from err
        if len(data) > max_bytes:
            raise FetchError(f"bundle larger than {max_bytes} bytes: {uri}")
        return data
    raise FetchError(f"unsupported bundle URI scheme {parsed.scheme!r} (use file:// or http(s)://)")
