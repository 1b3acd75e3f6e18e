"""HTTP endpoint of the node: results for the client who paid, and Prometheus metrics.

    GET /results/<jobId>   header X-TES-Signature: EIP-191 signature of result_request_message()
                           -> the job's outputs as a tar.gz (200) with headers
                              X-TES-Node: <nodeId>   the node whose commitment the files open
                              X-TES-Salt: 0x<64 hex> that node's salt, so the client can check
                                 commitment_of(jobId, nodeId, hash(files), salt) == job.commitment
                           403 if the signer is not the job's client; 404 if this node holds no
                           result for the job, or will not release it yet (k = 1: before its proof
                           is in; k >= 3 and juries: before the job is Paid), with the reason.
    GET /metrics           Prometheus text format.
    GET /health            "ok".
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from oracle import metrics

log = logging.getLogger(__name__)


def result_request_message(job_id: int, chain_id: int, market: str) -> str:
    return f"TES result request: job {job_id} on chain {chain_id} market {market.lower()}"


def sign_result_request(private_key: Any, job_id: int, chain_id: int, market: str) -> str:
    msg = encode_defunct(text=result_request_message(job_id, chain_id, market))
    return bytes(Account.sign_message(msg, private_key).signature).hex()


class ResultServer:
    """`lookup(job_id) -> oracle.node.ResultOffer | None` is provided by the node: the job's client
    and, when it may be released, the archive with the node id and salt it was committed with."""

    def __init__(self, host: str, port: int, chain_id: int, market: str, lookup):
        self.chain_id, self.market, self.lookup = chain_id, market, lookup
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, fmt, *args):  # route through logging, at debug
                log.debug("http %s", fmt % args)

            def do_GET(self):  # noqa: N802 (http.server API)
                server._handle(self)

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True, name="http")

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> ResultServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        path = req.path.split("?", 1)[0]
        if path == "/health":
            return self._send(req, 200, b"ok", "text/plain")
        if path == "/metrics":
            return self._send(req, 200, generate_latest(metrics.REGISTRY), CONTENT_TYPE_LATEST)
        if path.startswith("/results/"):
            try:
                job_id = int(path.removeprefix("/results/"))
            except ValueError:
                return self._send(req, 400, b"bad job id", "text/plain")
            sig = req.headers.get("X-TES-Signature", "")
            try:
                msg = encode_defunct(text=result_request_message(job_id, self.chain_id, self.market))
                signer = Account.recover_message(msg, signature=bytes.fromhex(sig.removeprefix("0x")))
            except Exception:  # noqa: BLE001 (any malformed signature is a 403)
                return self._send(req, 403, b"missing or malformed X-TES-Signature", "text/plain")
            offer = self.lookup(job_id)
            if offer is None or signer.lower() != offer.client.lower():
                return self._send(req, 403, b"only the job's client may fetch its result", "text/plain")
            if offer.archive is None:
                return self._send(req, 404, (offer.reason or "no result for this job on this node").encode(), "text/plain")
            headers = {"X-TES-Node": str(offer.node_id), "X-TES-Salt": "0x" + offer.salt.hex()}
            return self._send(req, 200, offer.archive.read_bytes(), "application/gzip", headers)
        return self._send(req, 404, b"not found", "text/plain")

    @staticmethod
    def _send(req: BaseHTTPRequestHandler, code: int, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
        req.send_response(code)
        for name, value in (headers or {}).items():
            req.send_header(name, value)
        req.send_header("Content-Type", ctype)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)
