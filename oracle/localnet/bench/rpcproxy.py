"""A loopback JSON-RPC proxy for the benchmark: node and client reach anvil through it, it counts
every request by method (a JSON-RPC batch counts each request in it and one round trip), and it
can hold every round trip for a fixed delay, as a hosted endpoint 50-100 ms away would.

    proxy = RpcProxy("http://127.0.0.1:8545", delay_s=0.05).start()
    ... point the node's --rpc-url at proxy.url ...
    proxy.reset(); ...; round_trips, methods = proxy.counts()
    proxy.stop()

Each connection gets its own thread (and its own upstream connection), so concurrent requests are
delayed side by side, not queued behind each other: the delay is latency, not a bandwidth cap.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


def methods_of(body: bytes) -> list[str]:
    """The JSON-RPC method names in a request body (one, or each of a batch)."""
    try:
        msg = json.loads(body)
    except ValueError:
        return ["(unparsable)"]
    items = msg if isinstance(msg, list) else [msg]
    return [
        str(m.get("method", "(none)")) if isinstance(m, dict) else "(invalid)" for m in items
    ] or ["(empty batch)"]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    proxy: RpcProxy


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as web3's session expects
    # one write per response, sent at once: headers and body in separate small segments would
    # meet Nagle's algorithm and the client's delayed ACK (some 40 ms a round trip)
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server API)
        pass

    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        proxy = self.server.proxy
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        proxy.record(body)
        if proxy.delay_s > 0:
            time.sleep(proxy.delay_s)
        status, data = proxy.forward(self.path, body, self.headers.get("Content-Type"))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()


class RpcProxy:
    def __init__(self, upstream: str, delay_s: float = 0.0, name: str = "rpc"):
        u = urlsplit(upstream)
        if u.scheme != "http" or not u.hostname:
            raise ValueError(f"RpcProxy forwards to plain http:// endpoints, not {upstream!r}")
        self.upstream = (u.hostname, u.port or 80)
        self.delay_s = delay_s
        self.name = name
        self._lock = threading.Lock()
        self._methods: Counter[str] = Counter()
        self._round_trips = 0
        self._local = threading.local()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "proxy not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> RpcProxy:
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.proxy = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True, name=self.name
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> RpcProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- counting
    def record(self, body: bytes) -> None:
        names = methods_of(body)
        with self._lock:
            self._round_trips += 1
            self._methods.update(names)

    def reset(self) -> None:
        with self._lock:
            self._round_trips = 0
            self._methods = Counter()

    def counts(self) -> tuple[int, Counter[str]]:
        """(HTTP round trips, JSON-RPC requests by method) since the last reset."""
        with self._lock:
            return self._round_trips, Counter(self._methods)

    # ---------------------------------------------------------------- forwarding
    def forward(self, path: str, body: bytes, content_type: str | None) -> tuple[int, bytes]:
        headers = {"Content-Type": content_type or "application/json"}
        for attempt in (0, 1):  # a kept-alive upstream connection may have been closed: once more
            conn = getattr(self._local, "conn", None)
            if conn is None:
                conn = http.client.HTTPConnection(*self.upstream, timeout=30)
                self._local.conn = conn
            try:
                conn.request("POST", path or "/", body=body, headers=headers)
                resp = conn.getresponse()
                return resp.status, resp.read()
            except (OSError, http.client.HTTPException) as err:
                conn.close()
                self._local.conn = None
                if attempt:
                    msg = {
                        "jsonrpc": "2.0",
                        "id": None,
                        "error": {"code": -32603, "message": str(err)},
                    }
                    return 502, json.dumps(msg).encode()
        raise AssertionError("unreachable")
