"""HTTP endpoints of the node: results for the client who paid (public), and Prometheus metrics
(its own bind address, loopback by default).

    GET /results/<jobId>   headers, all required (the request the job's client signed):
                              X-TES-Node: <nodeId>     the node asked (a request cannot be replayed
                                                       to another node)
                              X-TES-Expiry: <unix s>   at most MAX_REQUEST_TTL_S ahead
                              X-TES-Nonce: 0x<64 hex>  never accepted twice
                              X-TES-Signature: 0x...   EIP-712 ResultRequest(jobId, nodeId, expiry,
                                                       nonce), domain ("TES Results", "1", chain,
                                                       market)
                           -> the job's outputs as a tar.gz (200) with headers
                              X-TES-Node: <nodeId>   the node whose commitment the files open
                              X-TES-Salt: 0x<64 hex> that node's salt, so the client can check
                                 commitment_of(jobId, nodeId, hash(files), salt) == job.commitment (or its fingerprint)
                           403: bad, expired, replayed or foreign request, or the signer is not the
                           job's client; 404 if this node holds no result for the job, or will not
                           release it yet (k = 1: before its proof is in; k >= 3 and juries: before
                           the job is Paid), with the reason; 410 if it held the result and has
                           pruned it (retention: result_retention_s after the job settled, see
                           oracle/node/retention.py); 429 past the per-address rate limit;
                           503 when every request thread is busy.
    POST /quote            JSON body `oracle.core.quote.QuoteAsk` (the JobRequest, the client, its
                           quote nonce) -> 200 `QuoteOffer` (node id, expiry, EIP-712 signature)
                           for `JobMarket.createAndAssign`; 409 with the reason when the node will
                           not take the job, 400/413/422 for a malformed, oversized or unquotable
                           (k != 1) request, 404 when the node does not quote (`quotes = false`).
                           See oracle/node/quoting.py.
    POST /quotes           JSON body `oracle.core.quote.QuoteBatchAsk` (up to 64 JobRequests of one
                           client, the quote nonce of the first taken) -> 200 `QuoteBatchAnswer`:
                           per request, in order, a quote and its nonce (taken ones numbered
                           nonce, nonce + 1, ...) or the reason it was refused. One request
                           against the rate limit: a burst of jobs (`Client.submit_many`).
    GET /health            "ok".
    GET /metrics           Prometheus text format, on the metrics server only.

Everything about a request that needs no chain is checked first (signature, expiry, nonce, node,
the client of a job already looked up), so a stranger cannot make the node call its RPC at will.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from oracle.core.protocol import parse_job_id
from oracle.core.result_request import MAX_REQUEST_TTL_S, ResultRequest
from oracle.node import metrics

log = logging.getLogger(__name__)

SOCKET_TIMEOUT_S = 10.0  # a client that stops sending or reading is dropped
MAX_THREADS = 16  # requests served at once; more get 503
RATE_PER_S, RATE_BURST = 5.0, 20  # per remote address
MAX_QUOTE_BODY = 16 * 1024  # oracle/node/quoting.MAX_BODY
MAX_QUOTE_BATCH_BODY = 64 * 4 * 1024  # oracle/node/quoting.MAX_BATCH_BODY
MAX_TRACKED = 10_000  # nonces, addresses and cached clients kept in memory at most


class _Refused(Exception):
    def __init__(self, code: int, why: str):
        super().__init__(why)
        self.code, self.why = code, why


class _Bounded(OrderedDict):
    """Insertion-ordered, evicting the oldest past MAX_TRACKED."""

    def put(self, key: Any, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > MAX_TRACKED:
            self.popitem(last=False)


class _Server(ThreadingHTTPServer):
    """At most MAX_THREADS requests at once: one more is answered 503 and closed, never queued."""

    daemon_threads = True

    def __init__(self, address, handler, tls: ssl.SSLContext | None):
        super().__init__(address, handler)
        self.slots = threading.BoundedSemaphore(MAX_THREADS)
        if tls is not None:
            # The handshake happens in the request's thread (under its socket timeout), never in
            # the accept loop, where one slow client would hold up every other.
            self.socket = tls.wrap_socket(
                self.socket, server_side=True, do_handshake_on_connect=False
            )

    def process_request(self, request, client_address):
        if not self.slots.acquire(blocking=False):
            try:
                request.sendall(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            # No thread took the request (the process is out of threads): the slot goes back, or
            # every such failure would shrink the server for good; socketserver closes the socket.
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


def _tls(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    if cert is None:
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


class _HttpServer:
    """One bound server on its own thread; `route(handler, path)` answers every GET."""

    def __init__(self, host: str, port: int, route: Callable[[BaseHTTPRequestHandler, str], None],
                 tls: ssl.SSLContext | None = None,
                 post: Callable[[BaseHTTPRequestHandler, str], None] | None = None):  # fmt: skip
        class Handler(BaseHTTPRequestHandler):
            timeout = SOCKET_TIMEOUT_S

            def log_message(self, fmt, *args):  # route through logging, at debug
                log.debug("http %s", fmt % args)

            def do_GET(self):  # noqa: N802 (http.server API)
                route(self, self.path.split("?", 1)[0])

            def do_POST(self):  # noqa: N802 (http.server API)
                if post is None:
                    return send(self, 405, b"method not allowed")
                post(self, self.path.split("?", 1)[0])

        self.scheme = "https" if tls else "http"
        self.httpd = _Server((host, port), Handler, tls)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, daemon=True, name=f"http:{port}"
        )

    @property
    def url(self) -> str:
        host, port = str(self.httpd.server_address[0]), self.httpd.server_address[1]
        return f"{self.scheme}://{host}:{port}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def send(req: BaseHTTPRequestHandler, code: int, body: bytes, ctype: str = "text/plain",
         headers: dict[str, str] | None = None) -> None:  # fmt: skip
    req.send_response(code)
    for name, value in (headers or {}).items():
        req.send_header(name, value)
    req.send_header("Content-Type", ctype)
    req.send_header("Content-Length", str(len(body)))
    req.end_headers()
    req.wfile.write(body)


class _Endpoint:
    """A server of its own (`self._http`), started and stopped with the node."""

    _http: _HttpServer

    @property
    def url(self) -> str:
        return self._http.url

    def start(self):
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()


class MetricsServer(_Endpoint):
    """Prometheus metrics on their own address: operators scrape them, clients never see them."""

    def __init__(self, host: str, port: int):
        self._http = _HttpServer(host, port, self._route)

    @staticmethod
    def _route(req: BaseHTTPRequestHandler, path: str) -> None:
        if path == "/metrics":
            return send(req, 200, generate_latest(metrics.REGISTRY), CONTENT_TYPE_LATEST)
        return send(req, 404, b"not found")


class ResultServer(_Endpoint):
    """`lookup(job_id) -> oracle.node.loop.ResultOffer | None` is provided by the node: the job's client
    and, when it may be released, the archive with the node id and salt it was committed with.
    `node_ids()` are the licences this node serves."""

    def __init__(self, host: str, port: int, chain_id: int, market: str, lookup,
                 node_ids: Callable[[], set[int]], tls_cert: Path | None = None, tls_key: Path | None = None,
                 quote: Callable[[bytes], Any] | None = None,
                 quote_batch: Callable[[bytes], Any] | None = None):  # fmt: skip
        self.chain_id, self.market, self.lookup, self.node_ids = chain_id, market, lookup, node_ids
        self.quote = quote  # QuoteDesk.ask, or None: this node does not quote
        self.quote_batch = quote_batch  # QuoteDesk.ask_batch (POST /quotes)
        self._lock = threading.Lock()
        self._nonces = _Bounded()  # nonce -> expiry
        self._clients = _Bounded()  # job id -> client address (a job's client never changes)
        self._buckets = _Bounded()  # remote address -> (tokens, last refill)
        self._http = _HttpServer(host, port, self._route, _tls(tls_cert, tls_key), self._post)

    def _post(self, req: BaseHTTPRequestHandler, path: str) -> None:
        if not self._admit(req.client_address[0]):
            return send(req, 429, b"too many requests", headers={"Retry-After": "1"})
        handler, limit = {
            "/quote": (self.quote, MAX_QUOTE_BODY),
            "/quotes": (self.quote_batch, MAX_QUOTE_BATCH_BODY),
        }.get(path, (None, 0))
        if handler is None:
            return send(req, 404, b"not found")
        try:
            length = int(req.headers.get("Content-Length", ""))
        except ValueError:
            return send(req, 411, b"Content-Length required")
        if not 0 <= length <= limit:
            return send(req, 413, b"body too large")
        answer = handler(req.rfile.read(length))
        return send(req, answer.code, json.dumps(answer.body).encode(), "application/json")

    def _route(self, req: BaseHTTPRequestHandler, path: str) -> None:
        if not self._admit(req.client_address[0]):
            # One token refills in 1 / RATE_PER_S seconds: a polite client waits that long.
            return send(req, 429, b"too many requests", headers={"Retry-After": "1"})
        if path == "/health":
            return send(req, 200, b"ok")
        if not path.startswith("/results/"):
            return send(req, 404, b"not found")
        try:
            job_id = parse_job_id(path.removeprefix("/results/"))  # hex as printed, or decimal
        except ValueError:
            return send(req, 400, b"bad job id")
        try:
            request, signer = self._verify(job_id, req.headers)
            offer = self._offer(request, signer)
        except _Refused as err:
            return send(req, err.code, err.why.encode())
        if offer.archive is None:
            code = 410 if getattr(offer, "gone", False) else 404
            return send(req, code, (offer.reason or "no result for this job on this node").encode())
        try:
            body = offer.archive.read_bytes()
        except FileNotFoundError:  # pruned between the lookup and the read
            return send(req, 410, b"result pruned (retention)")
        headers = {"X-TES-Node": str(offer.node_id), "X-TES-Salt": "0x" + offer.salt.hex()}
        return send(req, 200, body, "application/gzip", headers)

    def _admit(self, address: str) -> bool:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(address, (float(RATE_BURST), now))
            tokens = min(float(RATE_BURST), tokens + (now - last) * RATE_PER_S)
            ok = tokens >= 1.0
            self._buckets.put(address, (tokens - 1.0 if ok else tokens, now))
        return ok

    def _verify(self, job_id: int, headers) -> tuple[ResultRequest, str]:
        """Everything that needs no chain: the request's shape, signature, expiry, nonce and node."""
        try:
            request = ResultRequest(job_id, int(headers["X-TES-Node"]), int(headers["X-TES-Expiry"]),
                                    bytes.fromhex(headers["X-TES-Nonce"].removeprefix("0x")))  # fmt: skip
            if len(request.nonce) != 32:
                raise ValueError("nonce must be 32 bytes")
            signable = encode_typed_data(
                full_message=request.typed_data(self.chain_id, self.market)
            )
            signer = Account.recover_message(
                signable, signature=bytes.fromhex(headers["X-TES-Signature"].removeprefix("0x"))
            )
        except Exception:  # noqa: BLE001 (any missing or malformed part is the same refusal)
            raise _Refused(
                403, "missing or malformed signed request (X-TES-Node, -Expiry, -Nonce, -Signature)"
            ) from None
        now = int(time.time())
        if not now < request.expiry <= now + MAX_REQUEST_TTL_S:
            raise _Refused(403, f"request expired or valid for more than {MAX_REQUEST_TTL_S}s")
        if request.node_id not in self.node_ids():
            raise _Refused(
                403, f"request is for node {request.node_id}, not one this endpoint serves"
            )
        with self._lock:
            for nonce in [n for n, exp in self._nonces.items() if exp <= now]:
                del self._nonces[nonce]
            if request.nonce in self._nonces:
                raise _Refused(403, "request replayed (nonce already used)")
            self._nonces.put(request.nonce, request.expiry)
        return request, signer

    def _offer(self, request: ResultRequest, signer: str):
        with self._lock:
            known = self._clients.get(request.job_id)
        if known is not None and known.lower() != signer.lower():
            raise _Refused(403, "only the job's client may fetch its result")
        offer = self.lookup(request.job_id)
        if offer is None:
            raise _Refused(404, "no such job")
        with self._lock:
            self._clients.put(request.job_id, offer.client)
        if signer.lower() != offer.client.lower():
            raise _Refused(403, "only the job's client may fetch its result")
        if offer.archive is not None and offer.node_id != request.node_id:
            raise _Refused(
                404,
                f"this endpoint holds node {offer.node_id}'s result, not node {request.node_id}'s",
            )
        return offer
