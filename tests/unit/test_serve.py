"""The results endpoint (oracle/node/serve.py) as a client, a copier and a flood would use it, against
a fake lookup (no chain): every refusal that needs no chain happens before the lookup is called."""

import socket
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from eth_account import Account
from eth_account.messages import encode_typed_data

from oracle.core.result_request import ResultRequest, sign_result_request
from oracle.node import serve
from oracle.node.serve import MetricsServer, ResultServer

CHAIN, MARKET, NODE, JOB = 31337, "0x" + "ab" * 20, 7, 42
CLIENT, STRANGER = Account.create(), Account.create()


@dataclass
class Offer:
    client: str
    archive: Path | None = None
    node_id: int | None = None
    salt: bytes | None = None
    reason: str = ""


@pytest.fixture
def server(tmp_path):
    archive = tmp_path / "result.tar.gz"
    archive.write_bytes(b"files")
    calls = []

    def lookup(job_id):
        calls.append(job_id)
        return Offer(CLIENT.address, archive, NODE, b"\x01" * 32) if job_id == JOB else None

    srv = ResultServer("127.0.0.1", 0, CHAIN, MARKET, lookup, lambda: {NODE}).start()
    srv.calls = calls
    yield srv
    srv.stop()


def _get(srv, headers, job=JOB):
    return requests.get(f"{srv.url}/results/{job}", headers=headers, timeout=10)


def test_client__signed_fresh_request__gets_the_files_and_the_salt(server):
    got = _get(server, sign_result_request(CLIENT.key, JOB, NODE, CHAIN, MARKET))
    assert got.status_code == 200 and got.content == b"files"
    assert (got.headers["X-TES-Node"], got.headers["X-TES-Salt"]) == (str(NODE), "0x" + "01" * 32)


def test_replayed_request__refused(server):
    headers = sign_result_request(CLIENT.key, JOB, NODE, CHAIN, MARKET)
    assert _get(server, headers).status_code == 200
    again = _get(server, headers)
    assert (again.status_code, again.text) == (403, "request replayed (nonce already used)")


def test_request_for_another_node__refused_before_any_lookup(server):
    got = _get(server, sign_result_request(CLIENT.key, JOB, NODE + 1, CHAIN, MARKET))
    assert got.status_code == 403 and "not one this endpoint serves" in got.text
    assert server.calls == []


@pytest.mark.parametrize(
    "expiry", [lambda now: now - 1, lambda now: now + serve.MAX_REQUEST_TTL_S + 60]
)
def test_expired_or_long_lived_request__refused_before_any_lookup(server, expiry):
    req = ResultRequest(JOB, NODE, expiry(int(time.time())), b"\x02" * 32)
    sig = Account.sign_message(
        encode_typed_data(full_message=req.typed_data(CHAIN, MARKET)), CLIENT.key
    )
    got = _get(server, req.headers("0x" + bytes(sig.signature).hex()))
    assert got.status_code == 403 and "expired" in got.text
    assert server.calls == []


@pytest.mark.parametrize("drop", ["X-TES-Signature", "X-TES-Nonce", "X-TES-Expiry", "X-TES-Node"])
def test_missing_part__refused_before_any_lookup(server, drop):
    headers = sign_result_request(CLIENT.key, JOB, NODE, CHAIN, MARKET)
    del headers[drop]
    assert _get(server, headers).status_code == 403
    assert server.calls == []


def test_signed_for_another_market__is_another_signer__refused(server):
    got = _get(server, sign_result_request(CLIENT.key, JOB, NODE, CHAIN, "0x" + "cd" * 20))
    assert got.status_code == 403


def test_stranger__refused__and_once_the_client_is_known_without_a_lookup(server):
    assert (
        _get(server, sign_result_request(STRANGER.key, JOB, NODE, CHAIN, MARKET)).status_code == 403
    )
    assert server.calls == [JOB]
    assert (
        _get(server, sign_result_request(STRANGER.key, JOB, NODE, CHAIN, MARKET)).status_code == 403
    )
    assert server.calls == [JOB]  # the job's client is cached: no second chain read


def test_flood_from_one_address__rate_limited(server, monkeypatch):
    monkeypatch.setattr(serve, "RATE_PER_S", 0.0)
    answers = [
        requests.get(f"{server.url}/health", timeout=10) for _ in range(serve.RATE_BURST + 3)
    ]
    codes = [a.status_code for a in answers]
    assert codes[: serve.RATE_BURST] == [200] * serve.RATE_BURST
    assert codes[serve.RATE_BURST :] == [429] * 3
    assert answers[-1].headers["Retry-After"] == "1"  # what a polite client waits (oracle.client)


def test_metrics__only_on_the_metrics_server(server):
    assert requests.get(f"{server.url}/metrics", timeout=10).status_code == 404
    metrics = MetricsServer("127.0.0.1", 0).start()
    try:
        assert "tes_gas_used" in requests.get(f"{metrics.url}/metrics", timeout=10).text
    finally:
        metrics.stop()


def test_slow_clients__hold_at_most_the_thread_cap__the_rest_get_503__then_time_out(monkeypatch):
    monkeypatch.setattr(serve, "MAX_THREADS", 1)
    monkeypatch.setattr(serve, "SOCKET_TIMEOUT_S", 1.0)
    srv = ResultServer("127.0.0.1", 0, CHAIN, MARKET, lambda job_id: None, lambda: {NODE}).start()
    try:
        host, port = srv.url.removeprefix("http://").split(":")
        slow = socket.create_connection((host, int(port)))
        slow.sendall(b"GET /health HTTP/1.1\r\n")  # and never the rest
        time.sleep(0.2)
        assert requests.get(f"{srv.url}/health", timeout=10).status_code == 503
        time.sleep(1.5)  # the slow client's socket timed out and its thread is free again
        assert requests.get(f"{srv.url}/health", timeout=10).status_code == 200
        slow.close()
    finally:
        srv.stop()


def test_a_request_no_thread_could_take__gives_its_slot_back(monkeypatch):
    # With one slot, a single failed thread start must not leave the server answering 503 forever.
    monkeypatch.setattr(serve, "MAX_THREADS", 1)
    srv = ResultServer("127.0.0.1", 0, CHAIN, MARKET, lambda job_id: None, lambda: {NODE}).start()
    real_start, failed = serve.threading.Thread.start, []

    def start_once_failing(thread):
        if thread.name.startswith("Thread-") and not failed:
            failed.append(thread)
            raise RuntimeError("can't start new thread")
        return real_start(thread)

    try:
        monkeypatch.setattr(serve.threading.Thread, "start", start_once_failing)
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{srv.url}/health", timeout=10)
        assert failed, "the request's thread start was not reached"
        assert requests.get(f"{srv.url}/health", timeout=10).status_code == 200
    finally:
        monkeypatch.undo()
        srv.stop()
