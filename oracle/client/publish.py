"""Serve bundles to nodes from the client's own machine: a small read-only HTTP server.

Only the files given are served, by their bundle hash (`/bundles/0x<sha256>.tar.gz`) and by
name, so the URI recorded on chain names exactly the bytes whose hash the chain holds.
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from oracle.core import bundle as bundles

log = logging.getLogger(__name__)


class BundleServer:
    def __init__(self, files: list[Path], host: str = "127.0.0.1", port: int = 0):
        self.routes: dict[str, bytes] = {}
        self.names: dict[Path, str] = {}
        for f in files:
            data = Path(f).read_bytes()
            route = f"/bundles/0x{bundles.bundle_hash(data).hex()}.tar.gz"
            self.routes[route] = data
            self.names[Path(f)] = route
        routes = self.routes

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, fmt, *args):
                log.info("%s %s", self.address_string(), fmt % args)

            def do_GET(self):  # noqa: N802 (http.server API)
                body = routes.get(self.path.split("?", 1)[0])
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/gzip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True, name="publish")

    def uri(self, path: Path) -> str:
        host, port = str(self.httpd.server_address[0]), self.httpd.server_address[1]
        return f"http://{host}:{port}{self.names[Path(path)]}"

    def start(self) -> BundleServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
