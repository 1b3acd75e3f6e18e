"""The client's side of POST /quotes (`oracle.client.quotes.ask_nodes_batch`) against nodes that
answer well, badly or with hostile intent: only quotes for exactly their request, with time left,
at consecutive nonces from the client's are kept (a gap would make every later one unusable), and
requests one node refuses are asked of the next with the nonces that follow."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import ExitStack

import pytest
from eth_account import Account

from oracle.client.quotes import ask_nodes_batch
from oracle.core.quote import BatchItem, QuoteBatchAnswer, QuoteBatchAsk, QuoteOffer, request_hash
from tests.utils.http import QuietHandler, serving

CLIENT = Account.create().address
NOW = 1_700_000_000


def req(i: int) -> tuple:
    return (bytes([i]) * 32, f"http://b.example/{i}", (1, 512, 0, 0, 0), 10**19, 10**18, 1,
            600, 600, 600, 3_600)  # fmt: skip


def offer(request: tuple, node_id: int = 7, expiry: int = NOW + 600) -> QuoteOffer:
    return QuoteOffer(nodeId=node_id, expiry=expiry, signature="0x" + "ab" * 65,
                      requestHash="0x" + request_hash(request).hex())  # fmt: skip


Answer = Callable[[QuoteBatchAsk], bytes]


def honest(take: Callable[[int], bool] = lambda i: True, node_id: int = 7) -> Answer:
    """Quotes the requests `take` accepts (by position), numbered from the ask's nonce."""

    def answer(ask: QuoteBatchAsk) -> bytes:
        nonce, items = ask.nonce, []
        for k, wire in enumerate(ask.requests):
            if take(k):
                items.append(BatchItem(offer=offer(wire.request(), node_id), nonce=nonce))
                nonce += 1
            else:
                items.append(BatchItem(error="no free worker"))
        return QuoteBatchAnswer(items=items).model_dump_json().encode()

    return answer


@pytest.fixture
def nodes():
    """start(answer) -> the URL of a node answering POST /quotes with answer(ask); `start.asks`
    records (node index, ask) in order."""
    asks: list[tuple[int, QuoteBatchAsk]] = []
    with ExitStack() as stack:

        def start(answer: Answer) -> str:
            index = len(start.servers)  # type: ignore[attr-defined]

            class Handler(QuietHandler):
                def do_POST(self):  # noqa: N802 (http.server API)
                    ask = QuoteBatchAsk.model_validate_json(
                        self.rfile.read(int(self.headers["Content-Length"]))
                    )
                    asks.append((index, ask))
                    out = answer(ask)
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)

            start.servers.append(stack.enter_context(serving(Handler)))  # type: ignore[attr-defined]
            return start.servers[-1]("")  # type: ignore[attr-defined]

        start.servers = []  # type: ignore[attr-defined]
        start.asks = asks  # type: ignore[attr-defined]
        yield start


def test_an_honest_node_quotes_a_burst_at_consecutive_nonces(nodes):
    url = nodes(honest())
    reqs = [req(i) for i in range(1, 6)]
    quotes = ask_nodes_batch([url], reqs, CLIENT, 40, lambda: NOW)
    assert [q.nonce if q else None for q in quotes] == [40, 41, 42, 43, 44]
    assert all(q is not None and q.client == CLIENT and q.node_id == 7 for q in quotes)


def test_what_one_node_refuses_is_asked_of_the_next__nonces_running_on(nodes):
    first = nodes(honest(take=lambda k: k % 2 == 0, node_id=7))
    second = nodes(honest(node_id=8))
    reqs = [req(i) for i in range(1, 6)]
    quotes = ask_nodes_batch([first, second], reqs, CLIENT, 0, lambda: NOW)
    assert sorted(q.nonce for q in quotes if q) == [0, 1, 2, 3, 4]  # no gap
    asked = nodes.asks  # type: ignore[attr-defined]
    assert (len(asked[0][1].requests), asked[0][1].nonce) == (5, 0)
    if asked[0][0] == 0:  # the node that refuses some was asked first (the order is random)
        assert [q.node_id for q in quotes if q] == [7, 8, 7, 8, 7]
        assert len(asked) == 2 and (len(asked[1][1].requests), asked[1][1].nonce) == (2, 3)
        assert [q.nonce for q in quotes if q] == [0, 3, 1, 4, 2]
    else:
        assert len(asked) == 1 and {q.node_id for q in quotes if q} == {8}


@pytest.mark.parametrize(
    "spoil",
    [
        # a quote for another request than asked (a node steering the client to its own terms)
        lambda items, reqs: items[1].model_copy(update={"offer": offer(req(99))}),
        # a nonce that skips one: every later quote could not be used
        lambda items, reqs: items[1].model_copy(update={"nonce": 5}),
        # a quote about to expire
        lambda items, reqs: items[1].model_copy(update={"offer": offer(reqs[1], expiry=NOW + 3)}),
    ],
)
def test_a_bad_quote_ends_the_nodes_batch_there(nodes, spoil):
    reqs = [req(i) for i in range(1, 5)]

    def answer(ask: QuoteBatchAsk) -> bytes:
        items = [
            BatchItem(offer=offer(w.request()), nonce=ask.nonce + k)
            for k, w in enumerate(ask.requests)
        ]
        items[1] = spoil(items, reqs)
        return QuoteBatchAnswer(items=items).model_dump_json().encode()

    quotes = ask_nodes_batch([nodes(answer)], reqs, CLIENT, 0, lambda: NOW)
    assert [q.nonce if q else None for q in quotes] == [0, None, None, None]


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        json.dumps({"items": []}).encode(),  # fewer answers than requests
        json.dumps(
            {"items": [{"offer": None, "nonce": 0, "error": None, "extra": 1}] * 3}
        ).encode(),
        b"{" + b" " * (70 * 1024) + b"}",  # larger than any honest answer
    ],
)
def test_a_malformed_answer_gives_no_quotes(nodes, raw):
    url = nodes(lambda ask: raw)
    warned: list[str] = []
    quotes = ask_nodes_batch([url], [req(1), req(2), req(3)], CLIENT, 0, lambda: NOW, warned.append)
    assert quotes == [None, None, None]
