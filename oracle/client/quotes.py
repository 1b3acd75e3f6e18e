"""The client's side of quotes (`POST /quote`, served by oracle/node/quoting.py): ask the nodes
that announced a URL for a signed quote of a k = 1 request, which `Client.submit` turns into a
job created already assigned (`JobMarket.createAndAssign`). The wire shapes are shared with the
node (oracle/core/quote.py)."""

from __future__ import annotations

import random
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import TypeVar

from pydantic import BaseModel

from oracle.core.quote import (
    MAX_QUOTE_BATCH,
    BatchItem,
    Quote,
    QuoteAsk,
    QuoteBatchAnswer,
    QuoteBatchAsk,
    QuoteOffer,
    request_hash,
)

M = TypeVar("M", bound=BaseModel)

MAX_QUOTE_ASKS = 4  # nodes asked for a quote before a k = 1 job is posted open
QUOTE_TIMEOUT_S = 5.0  # per node: a quote needs the bundle fetched and preflighted
QUOTE_MIN_LEFT_S = 10  # a quote expiring sooner may not be mined in time
MAX_QUOTE_ANSWER = 4_096


def ask_nodes(urls: Sequence[str], request: tuple, client: str, nonce: int,
              now: Callable[[], int], warn: Callable[[str], None] | None = None) -> Quote | None:  # fmt: skip
    """The first well-formed quote for exactly `request` (by `client`, at its quote `nonce`) with
    QUOTE_MIN_LEFT_S left by the chain's time `now()`, from the nodes at `urls` asked in random
    order (no node is favoured by the order of the registry), at most MAX_QUOTE_ASKS of them and
    QUOTE_TIMEOUT_S each; None when none quotes. A hostile or broken node costs at most its
    timeout and MAX_QUOTE_ANSWER bytes: the market checks the rest (the signer operates the node,
    the node can take the job), and a quote it refuses costs nothing."""
    body = QuoteAsk.of(request, client, nonce).model_dump_json().encode()
    want = "0x" + request_hash(request).hex()
    order = list(urls)
    random.SystemRandom().shuffle(order)
    for url in order[:MAX_QUOTE_ASKS]:
        offer = _post(url, "/quote", body, QuoteOffer, MAX_QUOTE_ANSWER, QUOTE_TIMEOUT_S, warn)
        if offer is None:
            continue
        if offer.requestHash != want or offer.expiry < now() + QUOTE_MIN_LEFT_S:
            continue
        return offer.quote(client, nonce)
    return None


MAX_BATCH_ANSWER = 64 * 1024  # a QuoteBatchAnswer of MAX_QUOTE_BATCH quotes is under 32 KiB
# A node spends at most 10 s preparing one batch (oracle/node/quoting.BATCH_BUDGET_S), then answers.
QUOTE_BATCH_TIMEOUT_S = 15.0


def ask_nodes_batch(urls: Sequence[str], requests: Sequence[tuple], client: str, nonce: int,
                    now: Callable[[], int],
                    warn: Callable[[str], None] | None = None) -> list[Quote | None]:  # fmt: skip
    """Quotes for many k = 1 `requests` at once (POST /quotes), one per request or None, whose
    nonces run on from `nonce` without a gap: the nodes at `urls` (random order, at most
    MAX_QUOTE_ASKS) are asked in turn for the requests none has quoted yet, MAX_QUOTE_BATCH at a
    time. A quote is kept only for exactly its request, with QUOTE_MIN_LEFT_S left, and at the
    next nonce: an answer that skips a nonce ends that node's batch there (its later quotes
    could not be used)."""
    quotes: list[Quote | None] = [None] * len(requests)
    order = list(urls)
    random.SystemRandom().shuffle(order)
    for url in order[:MAX_QUOTE_ASKS]:
        left = [i for i, q in enumerate(quotes) if q is None]
        for start in range(0, len(left), MAX_QUOTE_BATCH):
            chunk = left[start : start + MAX_QUOTE_BATCH]
            items = _ask_batch(url, [requests[i] for i in chunk], client, nonce, warn)
            for i, item in zip(chunk, items, strict=False):
                if item.offer is None:
                    continue
                if item.nonce != nonce:
                    break
                want = "0x" + request_hash(requests[i]).hex()
                if item.offer.requestHash != want or item.offer.expiry < now() + QUOTE_MIN_LEFT_S:
                    break  # this nonce stays unused: the node's later quotes cannot be
                quotes[i] = item.offer.quote(client, nonce)
                nonce += 1
        if all(q is not None for q in quotes):
            break
    return quotes


def _ask_batch(url: str, requests: list[tuple], client: str, nonce: int,
               warn: Callable[[str], None] | None) -> list[BatchItem]:  # fmt: skip
    """One POST /quotes; [] when the node does not answer one well (no quotes from it)."""
    body = QuoteBatchAsk.of(requests, client, nonce).model_dump_json().encode()
    answer = _post(
        url, "/quotes", body, QuoteBatchAnswer, MAX_BATCH_ANSWER, QUOTE_BATCH_TIMEOUT_S, warn
    )
    if answer is None or len(answer.items) != len(requests):
        return []
    return answer.items


def _post(url: str, path: str, body: bytes, model: type[M], limit: int, timeout_s: float,
          warn: Callable[[str], None] | None) -> M | None:  # fmt: skip
    """POSTs `body` to the node at `url` and parses at most `limit` bytes of its answer as
    `model`; None for a refusal (an HTTP error: the node said why, to nobody but its log), a
    node that does not answer in `timeout_s` or a malformed answer (warned)."""
    req = urllib.request.Request(f"{url.rstrip('/')}{path}", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310 (http(s) from chain)
            return model.model_validate_json(resp.read(limit))
    except (urllib.error.HTTPError, OSError, ValueError) as err:
        # ValueError covers a malformed answer (pydantic's ValidationError is one).
        if warn is not None and not isinstance(err, urllib.error.HTTPError):
            warn(f"no answer to {path} from {url}: {type(err).__name__}")
        return None
