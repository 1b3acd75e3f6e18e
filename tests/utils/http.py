"""A loopback HTTP server on a free port for a test's hostile bundle hosts."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QuietHandler(BaseHTTPRequestHandler):
    """A handler that does not print a line per request into the test output."""

    def log_message(self, *args):
        pass


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[Callable[[str], str]]:
    """Serves `handler` on 127.0.0.1; yields url(path) -> the full URL. Stopped on exit."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield lambda path: f"http://127.0.0.1:{srv.server_address[1]}{path}"
    finally:
        srv.shutdown()
