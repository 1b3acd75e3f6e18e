"""The quote desk (oracle/node/quoting.py) and its endpoint (POST /quote), as a client and an
attacker use them, without a chain: the step's snapshot is built here, the bundle fetch and
preflight are fakes that record what they were asked, and signatures are checked against the
EIP-712 digest the market uses (tests/unit/market/test_quotes.py checks the market agrees).

What a quote must never do: promise a worker or collateral the node does not have (two clients
asking at once, or one client many times), sign for a job the node would not claim (k != 1,
inactive licence, requirements, stake, price), or keep holding capacity after a refusal."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from eth_account import Account

from oracle.core.errors import FetchError
from oracle.core.protocol import Capabilities, NodeRecord, NodeStatus
from oracle.core.quote import (
    MAX_QUOTE_BATCH,
    QuoteAsk,
    QuoteBatchAnswer,
    QuoteBatchAsk,
    QuoteOffer,
    quote_message,
    request_hash,
)
from oracle.node import quoting, serve
from oracle.node.quoting import MAX_BATCH_BODY, MAX_BODY, QuoteDesk, Snapshot
from oracle.node.schedule import Backlog
from oracle.node.serve import ResultServer

CHAIN, MARKET = 31337, "0x" + "ab" * 20
OPERATOR = Account.create()
CLIENT, OTHER = Account.create(), Account.create()
E18 = 10**18
CAPS = Capabilities(4, 8_192, 0, 0, 0)
TTL = 60
WORKERS = 2
NOW = 1_700_000_000


def record(stake: int = 100 * E18, status: NodeStatus = NodeStatus.ACTIVE, caps: Capabilities = CAPS,
           locked: int = 0) -> NodeRecord:  # fmt: skip
    return NodeRecord(OPERATOR.address, status, 0, caps, stake, locked, 0, 0, 0, 0, 0)


def request(payment: int = 10 * E18, collateral: int = 2 * E18, replicas: int = 1,
            cpu: int = 1) -> tuple:  # fmt: skip
    return (b"\x11" * 32, "http://bundles.example/b.tar.gz", (cpu, 512, 0, 0, 0), payment,
            collateral, replicas, 600, 600, 600, 3_600)  # fmt: skip


def body(req: tuple, client=CLIENT, nonce: int = 0) -> bytes:
    return QuoteAsk.of(req, client.address, nonce).model_dump_json().encode()


@dataclass
class Plan:
    cpu_seconds: float = 2.0
    worst_case_s: int = 30


class Clock:
    def __init__(self) -> None:
        self.t = 1_000.0

    def __call__(self) -> float:
        return self.t


class Desk:
    """A desk with a fake preflight (records its calls; `fail` makes it raise) and a fake clock."""

    def __init__(self, tmp_path: Path, records=None, free_workers: int = 2, price: int = 0,
                 gas_price: int = 1) -> None:  # fmt: skip
        self.clock = Clock()
        self.prepared: list[tuple] = []
        self.fail: Exception | None = None
        self.block: threading.Event | None = None
        self.desk = QuoteDesk(
            OPERATOR, lambda: CHAIN, MARKET, TTL, 0.0,
            lambda gas, cpu_s: gas * 600_000 + int(cpu_s * price), self._prepare, tmp_path,
            clock=self.clock,
        )  # fmt: skip
        self.update(records if records is not None else {7: record()}, free_workers, gas_price)

    def _prepare(self, spec, window, work, fetch):
        self.prepared.append((spec, window, work, fetch))
        if self.block is not None:
            self.block.wait(10)
        if self.fail is not None:
            raise self.fail
        return Plan()

    def update(self, records, free_workers: int, gas_price: int = 1,
               backlog: Backlog | None = None) -> None:  # fmt: skip
        self.desk.update(Snapshot(records, free_workers, gas_price, 500, NOW, self.clock.t,
                                  workers=WORKERS, backlog=backlog or Backlog()))  # fmt: skip

    def ask(self, req: tuple, client=CLIENT, nonce: int = 0):
        return self.desk.ask(body(req, client, nonce))


def signer_of(offer: QuoteOffer, req: tuple, client=CLIENT, nonce: int = 0) -> str:
    msg = quote_message(CHAIN, MARKET, req, client.address, nonce, offer.nodeId, offer.expiry)
    return Account.recover_message(msg, signature=bytes.fromhex(offer.signature[2:]))


def test_a_quote_is_signed_by_the_operator_for_exactly_this_request_client_and_nonce(tmp_path):
    d = Desk(tmp_path)
    req = request()
    answer = d.ask(req, nonce=3)
    assert answer.code == 200, answer.body
    offer = QuoteOffer.model_validate(answer.body)
    assert offer.nodeId == 7 and offer.expiry == NOW + TTL
    assert offer.requestHash == "0x" + request_hash(req).hex()
    assert signer_of(offer, req, nonce=3) == OPERATOR.address
    # the signature binds the terms: another price, client or nonce recovers someone else
    assert signer_of(offer, request(payment=11 * E18), nonce=3) != OPERATOR.address
    assert signer_of(offer, req, client=OTHER, nonce=3) != OPERATOR.address
    assert signer_of(offer, req, nonce=4) != OPERATOR.address
    # the bundle was fetched and preflighted before signing, into the directory kept by its hash
    ((spec, window, work, fetch),) = d.prepared
    assert spec == {"bundle_uri": req[1], "bundle_hash": "11" * 32} and window == 600
    assert work == tmp_path / "quotes" / ("11" * 32) and fetch


def test_a_bundle_fetched_for_a_quote_is_kept_and_preflighted_again_without_fetching(tmp_path):
    """The job a quote becomes runs the kept copy (Executions.quoted_bundle): a client cannot take
    the bundle down between the quote and the run. Another window is preflighted on that copy."""
    d = Desk(tmp_path, free_workers=5)
    assert d.ask(request()).code == 200
    assert d.ask(request(), client=OTHER).code == 200
    assert [(p[3], p[2].name) for p in d.prepared] == [(True, "11" * 32), (False, "11" * 32)]
    # a failed fetch keeps nothing: the next ask fetches again
    d.fail = FetchError("unreachable")
    other = (b"\x22" * 32, *request()[1:])
    assert d.ask(other, client=Account.create()).code == 409
    d.fail = None
    assert d.ask(other, client=Account.create()).code == 200
    assert [p[3] for p in d.prepared[2:]] == [True, True]


def test_at_most_two_asks_fetch_at_once__a_third_is_told_to_come_back(tmp_path):
    """Asks pointing at a slow bundle server cannot tie up the endpoint's threads."""
    d = Desk(tmp_path, free_workers=8)
    d.block = threading.Event()
    asks = [(bytes([i]) * 32, *request()[1:]) for i in (1, 2)]
    with ThreadPoolExecutor(2) as pool:
        slow = [pool.submit(d.ask, a, Account.create()) for a in asks]
        deadline = time.monotonic() + 10
        while len(d.prepared) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        busy = d.ask((b"\x03" * 32, *request()[1:]), client=Account.create())
        assert busy.code == 503 and "being prepared" in busy.body["error"]
        assert d.desk.outstanding() == 2  # the refused ask holds nothing
        d.block.set()
        assert [f.result().code for f in slow] == [200, 200]


def test_expiry_follows_the_chain_clock_moved_on_by_the_time_since_the_step(tmp_path):
    d = Desk(tmp_path)
    d.clock.t += 7.5
    offer = QuoteOffer.model_validate(d.ask(request()).body)
    assert offer.expiry == NOW + 7 + TTL


@pytest.mark.parametrize(
    ("raw", "code", "says"),
    [
        (b"{", 400, "malformed"),
        (b'{"bundleHash": "0x11"}', 400, "malformed"),
        (json.dumps({**json.loads(body(request())), "extra": 1}).encode(), 400, "malformed"),
        (json.dumps({**json.loads(body(request())), "payment": -1}).encode(), 400, "malformed"),
        (json.dumps({**json.loads(body(request())), "payment": 2**96}).encode(), 400, "malformed"),
        (body(request(replicas=3)), 422, "only k = 1"),
        (body(request()).replace(CLIENT.address.encode(), b"0x" + b"0" * 40), 422, "no client"),
        (b" " * (MAX_BODY + 1), 413, "larger than"),
    ],
)
def test_malformed_oversized_or_unquotable_asks_are_refused_before_any_fetch(
    tmp_path, raw, code, says
):
    d = Desk(tmp_path)
    answer = d.desk.ask(raw)
    assert answer.code == code and says in answer.body["error"]
    assert d.prepared == [] and d.desk.outstanding() == 0


def test_no_quote_before_the_first_step(tmp_path):
    desk = QuoteDesk(
        OPERATOR, lambda: CHAIN, MARKET, TTL, 0.0, lambda g, c: 0, lambda *a: Plan(), tmp_path
    )
    assert desk.ask(body(request())).code == 503


@pytest.mark.parametrize(
    ("records", "req", "says"),
    [
        ({7: record(status=NodeStatus.JAILED)}, request(), "not active"),
        ({7: record()}, request(cpu=16), "lacks capabilities"),
        ({7: record(stake=E18)}, request(), "too little free stake"),
        ({7: record(stake=3 * E18, locked=2 * E18)}, request(), "too little free stake"),
        ({}, request(), "no node"),
        ({7: record()}, request(payment=1), "below margin"),
    ],
)
def test_the_node_quotes_only_what_it_would_claim(tmp_path, records, req, says):
    d = Desk(tmp_path, records=records)
    answer = d.ask(req)
    assert answer.code == 409 and says in answer.body["error"], answer.body
    assert d.desk.outstanding() == 0


def test_outstanding_quotes_hold_workers_until_used_or_expired(tmp_path):
    d = Desk(tmp_path, free_workers=1)
    assert d.ask(request()).code == 200
    assert d.desk.outstanding() == 1
    refused = d.ask(request(), client=OTHER)
    assert refused.code == 409 and "no free worker" in refused.body["error"]
    # the first client's job appeared on chain (JobCreated + JobClaimed in one transaction)
    d.desk.used(CLIENT.address, 7)
    assert d.desk.outstanding() == 0 and d.ask(request(), client=OTHER).code == 200
    # an unused quote stops holding its worker when it expires
    d.clock.t += TTL
    assert d.desk.outstanding() == 0 and d.ask(request()).code == 200


def test_one_client_asking_again_for_a_nonce_replaces_its_quote__other_nonces_hold_too(tmp_path):
    """Only one quote per client nonce can ever be used: a client asking ten times for one nonce
    holds one worker. Quotes for nonces 0 and 1 can both become jobs (one after the other), so
    both hold; when the node's job for the lowest appears, that hold ends."""
    d = Desk(tmp_path, free_workers=3)
    for _ in range(10):
        assert d.ask(request(), nonce=0).code == 200
    assert d.desk.outstanding() == 1
    assert d.ask(request(), nonce=1).code == 200
    assert d.desk.outstanding() == 2
    assert d.ask(request(), client=OTHER).code == 200
    refused = d.ask(request(), nonce=2)
    assert refused.code == 409 and "no free worker" in refused.body["error"]
    d.desk.used(CLIENT.address, 7)  # nonce 0 became a job
    assert d.desk.outstanding() == 2
    d.desk.used(CLIENT.address, 7)  # then nonce 1
    assert d.desk.outstanding() == 1


def test_outstanding_quotes_hold_their_collateral_of_the_licence_free_stake(tmp_path):
    """Two quotes whose collateral together exceeds a licence's free stake go to two licences,
    and a third finds none: the market would refuse the assignment the node promised."""
    d = Desk(tmp_path, records={7: record(stake=5 * E18), 8: record(stake=5 * E18)}, free_workers=5)
    third = Account.create()
    first = QuoteOffer.model_validate(d.ask(request(collateral=3 * E18)).body)
    second = QuoteOffer.model_validate(d.ask(request(collateral=3 * E18), client=OTHER).body)
    assert {first.nodeId, second.nodeId} == {7, 8}
    refused = d.ask(request(collateral=3 * E18), client=third)
    assert refused.code == 409 and "too little free stake" in refused.body["error"]
    assert d.ask(request(collateral=2 * E18), client=third).code == 200


def test_a_bundle_that_fails_preflight_or_prices_below_cost_is_refused_and_holds_nothing(tmp_path):
    d = Desk(tmp_path, free_workers=1)
    d.fail = FetchError("bundle hash mismatch")
    answer = d.ask(request())
    assert answer.code == 409 and "bundle hash mismatch" in answer.body["error"]
    assert d.desk.outstanding() == 0
    d.fail = None
    # 2 CPU-s at 10 TES each cost more than the 10 TES the job pays
    pricey = Desk(tmp_path, price=10 * E18)
    answer = pricey.ask(request())
    assert answer.code == 409 and "below margin" in answer.body["error"]
    assert pricey.desk.outstanding() == 0


def test_the_endpoint_serves_quotes_over_http_and_only_by_post(tmp_path):
    d = Desk(tmp_path)
    srv = ResultServer("127.0.0.1", 0, CHAIN, MARKET, lambda job_id: None, lambda: {7},
                       quote=d.desk.ask).start()  # fmt: skip
    plain = ResultServer("127.0.0.1", 0, CHAIN, MARKET, lambda job_id: None, lambda: {7}).start()
    try:
        got = requests.post(f"{srv.url}/quote", data=body(request()), timeout=10)
        assert got.status_code == 200 and got.headers["Content-Type"] == "application/json"
        offer = QuoteOffer.model_validate(got.json())
        assert signer_of(offer, request()) == OPERATOR.address
        bad = requests.post(f"{srv.url}/quote", data=body(request(replicas=3)), timeout=10)
        assert bad.status_code == 422 and "only k = 1" in bad.json()["error"]
        huge = requests.post(f"{srv.url}/quote", data=b"x" * (MAX_BODY + 1), timeout=10)
        assert huge.status_code == 413
        assert requests.post(f"{srv.url}/results/1", data=b"{}", timeout=10).status_code == 404
        assert requests.get(f"{srv.url}/quote", timeout=10).status_code == 404
        # a node with quotes off answers 404: the client posts the job open
        assert (
            requests.post(f"{plain.url}/quote", data=body(request()), timeout=10).status_code == 404
        )
    finally:
        srv.stop()
        plain.stop()


def test_every_answer_is_counted_by_outcome_for_the_operator(tmp_path):
    from oracle.node.metrics import REGISTRY

    def count(outcome: str) -> float:
        return REGISTRY.get_sample_value("tes_quotes_total", {"outcome": outcome}) or 0.0

    before = {o: count(o) for o in ("signed", "refused", "malformed")}
    d = Desk(tmp_path)
    d.ask(request())
    d.ask(request(cpu=64), client=OTHER)
    d.desk.ask(b"{")
    assert {o: count(o) - before[o] for o in before} == {"signed": 1, "refused": 1, "malformed": 1}


# ---------------------------------------------------------------- POST /quotes (a burst)
def batch(reqs: list[tuple], client=CLIENT, nonce: int = 0) -> bytes:
    return QuoteBatchAsk.of(reqs, client.address, nonce).model_dump_json().encode()


def distinct(i: int, **kw) -> tuple:
    return (bytes([i]) * 32, *request(**kw)[1:])


def test_a_batch_numbers_the_quotes_it_signs_from_the_nonce_given__a_refusal_uses_none(tmp_path):
    """Whichever requests the node refuses, the quotes it signs carry consecutive nonces, so a
    client can use every one of them one after the other."""
    d = Desk(tmp_path, free_workers=8)
    reqs = [distinct(1), distinct(2, replicas=3), distinct(3, payment=1), distinct(4), distinct(5)]
    answer = d.desk.ask_batch(batch(reqs, nonce=10))
    assert answer.code == 200
    items = QuoteBatchAnswer.model_validate(answer.body).items
    assert [i.nonce for i in items] == [10, None, None, 11, 12]
    assert "only k = 1" in (items[1].error or "") and "below margin" in (items[2].error or "")
    for req, item in zip(reqs, items, strict=True):
        if item.offer is not None:
            assert item.nonce is not None
            assert signer_of(item.offer, req, nonce=item.nonce) == OPERATOR.address
            assert item.offer.requestHash == "0x" + request_hash(req).hex()
    assert d.desk.outstanding() == 3  # each signed quote holds a worker; refusals hold nothing


def test_a_batch_is_held_to_the_workers_free__the_rest_refused_until_they_free(tmp_path):
    d = Desk(tmp_path, free_workers=2)
    items = QuoteBatchAnswer.model_validate(
        d.desk.ask_batch(batch([distinct(i) for i in (1, 2, 3)])).body
    ).items
    assert [i.nonce for i in items] == [0, 1, None]
    assert "no free worker" in (items[2].error or "")


def test_a_quote_that_would_wait_past_its_window_behind_the_held_work_is_refused(tmp_path):
    """Deep queues are safe only because each run must fit its window even if everything held
    before it takes its whole worst case: 2 workers, 1,160 s of held work -> 580 s to wait, and
    a 30 s worst case misses a 600 s window."""
    d = Desk(tmp_path, free_workers=50)
    d.update({7: record()}, 50, backlog=Backlog(runs=4, worst_s=1_160.0))
    answer = d.ask(distinct(1))
    assert answer.code == 409 and "exceeds the 600s window" in answer.body["error"], answer.body
    # the desk's own quotes count too: 1,100 s held, plus each quote's 30 s worst case
    d.update({7: record()}, 50, backlog=Backlog(runs=4, worst_s=1_100.0))
    codes = [d.ask(distinct(i), client=Account.create()).code for i in (2, 3, 4)]
    assert codes == [200, 200, 409]  # 550 + 30, 565 + 30, then 580 + 30 > 600


def test_a_used_quote_hands_its_worst_case_to_the_job(tmp_path):
    d = Desk(tmp_path)
    assert d.ask(distinct(1), nonce=0).code == 200
    assert d.desk.backlog() == Backlog(1, 30.0)
    assert d.desk.used(CLIENT.address, 7) == 30.0
    assert d.desk.backlog() == Backlog()
    assert d.desk.used(CLIENT.address, 7) is None


@pytest.mark.parametrize(
    ("raw", "code", "says"),
    [
        (b"[]", 400, "malformed"),
        (batch([request()])[:-1], 400, "malformed"),
        (json.dumps({**json.loads(batch([request()])), "requests": []}).encode(), 400, "malformed"),
        (
            json.dumps(
                {
                    **json.loads(batch([request()])),
                    "requests": json.loads(batch([request()]))["requests"] * (MAX_QUOTE_BATCH + 1),
                }
            ).encode(),
            400,
            "malformed",
        ),  # fmt: skip
        (b" " * (MAX_BATCH_BODY + 1), 413, "larger than"),
    ],
)
def test_malformed_or_oversized_batches_are_refused_before_any_fetch(tmp_path, raw, code, says):
    d = Desk(tmp_path)
    answer = d.desk.ask_batch(raw)
    assert answer.code == code and says in answer.body["error"]
    assert d.prepared == [] and d.desk.outstanding() == 0


def test_a_batch_stops_preparing_after_its_time_budget(tmp_path, monkeypatch):
    """A stranger's batch of slow bundles holds one endpoint thread for BATCH_BUDGET_S at most."""
    d = Desk(tmp_path, free_workers=8)
    monkeypatch.setattr(quoting, "BATCH_BUDGET_S", 0.0)
    items = QuoteBatchAnswer.model_validate(d.desk.ask_batch(batch([distinct(1)])).body).items
    assert items[0].offer is None and "spent its" in (items[0].error or "")
    assert d.prepared == []


def test_post_quotes_through_the_endpoint__one_request_against_the_rate_limit(tmp_path):
    d = Desk(tmp_path, free_workers=64)
    srv = ResultServer("127.0.0.1", 0, CHAIN, MARKET, lambda job_id: None, lambda: {7},
                       quote=d.desk.ask, quote_batch=d.desk.ask_batch).start()  # fmt: skip
    try:
        url = f"{srv.url}/quotes"
        reqs = [distinct(i) for i in range(1, 26)]  # more than the per-address burst of 20
        got = requests.post(url, data=batch(reqs), timeout=30)
        assert got.status_code == 200, got.text
        items = QuoteBatchAnswer.model_validate(got.json()).items
        assert [i.nonce for i in items] == list(range(25))
        too_big = requests.post(url, data=b" " * (serve.MAX_QUOTE_BATCH_BODY + 1), timeout=30)
        assert too_big.status_code == 413
    finally:
        srv.stop()
