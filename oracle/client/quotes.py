"""The client's side of quotes (`POST /quote`, served by oracle/node/quoting.py): ask the nodes
that announced a URL for a signed quote of a k = 1 request, which `Client.submit` turns into a
job created already assigned (`JobMarket.createAndAssign`). The wire shapes are shared with the
node (oracle/core/quote.py)."""

from __future__ import annotations

import random
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence

from oracle.core.quote import Quote, QuoteAsk, QuoteOffer, request_hash

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
        req = urllib.request.Request(f"{url.rstrip('/')}/quote", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})  # fmt: skip
        try:
            with urllib.request.urlopen(req, timeout=QUOTE_TIMEOUT_S) as resp:  # noqa: S310 (http(s) from chain)
                offer = QuoteOffer.model_validate_json(resp.read(MAX_QUOTE_ANSWER))
        except (urllib.error.HTTPError, OSError, ValueError) as err:
            # ValueError covers a malformed answer (pydantic's ValidationError is one).
            if warn is not None and not isinstance(err, urllib.error.HTTPError):
                warn(f"no quote from {url}: {type(err).__name__}")
            continue
        if offer.requestHash != want or offer.expiry < now() + QUOTE_MIN_LEFT_S:
            continue
        return offer.quote(client, nonce)
    return None
