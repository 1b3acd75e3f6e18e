"""Many jobs in one go (`Client.submit_many`): a sweep of hyperparameters, a batch of data shards.

`Client.submit` waits for each job's receipt before the next. A burst instead checks every job
first, then sends the transactions back to back with consecutive account nonces, and collects the
receipts at the end: the chain mines them in nonce order (the whole burst's outcome is then read
from the last receipt and our JobCreated events). Each chunk of quoted jobs is checked by one
`eth_simulateV1` of all its transactions in order, on top of the pending state (so after our own
earlier ones), so the client's time per job is its send; an endpoint without the simulation, and
every job from the first one the simulation refused, are estimated one by one instead.

What keeps it safe:
- every input of every job is checked before anything is sent, and the funds for the whole burst
  (market balance, then wallet) before the first transaction;
- the quotes are asked for in one request per node (POST /quotes), which numbers the ones it
  signs with consecutive quote nonces; the quoted jobs are sent first, in nonce order, each only
  after the market's own check accepted it (the chunk's simulation or the job's estimate, both
  against the pending state, where the earlier quoted jobs already used their nonces): a forged
  or unusable quote costs nothing, and that job and every later quoted one are posted open;
- one job refused by its estimate is reported and the rest still go; a transaction that reverts
  once mined is reported with its hash (gas spent, no payment escrowed), and the client's counted
  nonces and balances are read again next time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oracle.client.errors import ClientError
from oracle.client.inputs import fmt_tes
from oracle.client.submission import (
    Prepared,
    create_call,
    created_id,
    head_and_deadline,
    permit_nonce_next,
    prepare,
    sign_permit,
)
from oracle.core.chain import TxStatus, wait_for_receipt
from oracle.core.protocol import JobId
from oracle.core.quote import Quote

if TYPE_CHECKING:
    from oracle.client.sdk import Client

RECEIPT_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class JobSpec:
    """One job of a burst: what `Client.submit` takes."""

    bundle: Path
    uri: str
    payment: int
    replicas: int = 1
    collateral: int | None = None
    windows: Mapping[str, int] | None = None


@dataclass(frozen=True)
class Submitted:
    """What became of one JobSpec, in the order given: its job id (and the node whose quote
    assigned it), or why it was not created."""

    spec: JobSpec
    job_id: int | None = None
    node_id: int | None = None
    error: str | None = None
    tx_hash: str | None = None


@dataclass
class _Sent:
    index: int
    tx_hash: bytes
    quote: Quote | None


def submit_many(
    client: Client,
    specs: Sequence[JobSpec],
    *,
    permit_deadline: int | None = None,
    check_uri: bool = True,
    warn: Callable[[str], None] | None = None,
    quote: bool = True,
) -> list[Submitted]:
    """`Client.submit_many`: one Submitted per spec, in order. Raises ClientError before sending
    anything when a job's inputs are wrong or the funds do not cover the whole burst."""
    jobs = [
        prepare(client, s.bundle, s.uri, s.payment, replicas=s.replicas, collateral=s.collateral,
                windows=s.windows, check_uri=check_uri, warn=warn)
        for s in specs
    ]  # fmt: skip
    head, deadline = head_and_deadline(client, permit_deadline)
    run = _Burst(client, specs, jobs, head, deadline, warn)
    asked = [i for i, j in enumerate(jobs) if quote and j.replicas == 1]
    # Quoted jobs go first, in nonce order (the market takes a client's quote nonces one by
    # one), a chunk at a time: the nodes prepare the next chunk while this one is sent.
    for chunk, quotes in _quote_chunks(
        client, [j.request for j in jobs], asked, int(head["timestamp"]), warn
    ):
        quoted = sorted(
            ((i, q) for i, q in zip(chunk, quotes, strict=True) if q is not None),
            key=lambda iq: iq[1].nonce,
        )
        run.send_quoted(quoted)
    for i in range(len(jobs)):  # then every job not sent on a quote, open, in the order given
        if i not in run.tried:
            run.send(i, None)
    for index, result in _collected(client, specs, run.sent, int(head["number"])).items():
        run.out[index] = result
    client._credit = None  # what paid from the balance and what from the wallet: read again
    return [o or Submitted(specs[i], error="not sent") for i, o in enumerate(run.out)]


QUOTE_CHUNK = 16  # requests per POST /quotes: small enough that sending starts early


def _quote_chunks(client: Client, requests: list[tuple], asked: list[int], now: int,
                  warn: Callable[[str], None] | None) -> Iterator[tuple[list[int], list[Quote | None]]]:  # fmt: skip
    """(job indices, their quotes or None) for `asked`, QUOTE_CHUNK at a time, each chunk's
    nonces running on from the last quote of the one before. The next chunk is asked for on a
    thread while the caller sends this one."""
    chunks = [asked[k : k + QUOTE_CHUNK] for k in range(0, len(asked), QUOTE_CHUNK)]
    if not chunks:
        return

    def ask(chunk: list[int], nonce: int) -> list[Quote | None]:
        return client.ask_quotes([requests[i] for i in chunk], warn, now, nonce=nonce)

    nonce = client._quote_nonce_next()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="quotes") as pool:
        future = pool.submit(ask, chunks[0], nonce)
        for k, chunk in enumerate(chunks):
            quotes = future.result()
            nonce += sum(q is not None for q in quotes)
            if k + 1 < len(chunks):
                future = pool.submit(ask, chunks[k + 1], nonce)
            yield chunk, quotes


class _Burst:
    """The transactions of one burst as they are sent: account, permit and quote nonces counted
    on the Client, each estimated against the pending state."""

    def __init__(self, client: Client, specs: Sequence[JobSpec], jobs: list[Prepared], head: Any,
                 deadline: int, warn: Callable[[str], None] | None) -> None:  # fmt: skip
        self.client, self.specs, self.jobs, self.head = client, specs, jobs, head
        self.deadline, self.warn = deadline, warn
        self.by_permit = _paid_by_permit(client, [j.payment for j in jobs])
        self.out: list[Submitted | None] = [None] * len(jobs)
        self.sent: list[_Sent] = []
        self.tried: set[int] = set()
        self.usable = True  # once one quote cannot be used, the later nonces cannot be either

    def send_quoted(self, quoted: list[tuple[int, Quote]]) -> None:
        """Jobs on their quotes, in quote nonce order. One simulation of the whole chunk, in
        order, on top of our pending transactions (`Client._simulate`) stands for each job's
        estimate, and the jobs it accepted go in one JSON-RPC batch of transactions
        (`Client._send_simulated`): one round trip for the chunk. From the first job it refused on
        (or when the endpoint has no simulation) each goes the estimated way (`send`), which tells
        why, and posts it and every later one open."""
        permits = self._permits([i for i, _ in quoted])
        calls = [
            create_call(self.client, self.jobs[i].request, permit, q)
            for (i, q), permit in zip(quoted, permits, strict=True)
        ]
        used = (self.client._simulate(calls) if self.usable else None) or []
        # the simulation's accepted run, from the first job: one batch of transactions
        accepted: list[tuple[Any, int]] = []
        for call, gas in zip(calls, used, strict=False):
            if gas is None:
                break
            accepted.append((call, gas))
        ok = len(accepted)
        if ok:
            answers = self.client._send_simulated(accepted, self.head)
            for k, answer in enumerate(answers):
                self._record(quoted[k][0], quoted[k][1], permits[k], answer)
        for i, q in quoted[ok:]:  # from the first refusal on: estimated, told why, posted open
            self.send(i, q)

    def _record(self, i: int, offer: Quote, permit: Any, answer: bytes | Exception) -> None:
        """One job of a simulated batch: sent on its quote, or why the endpoint refused it."""
        self.tried.add(i)
        client = self.client
        if isinstance(answer, Exception):
            # Its quote and permit nonces go unused: the later jobs signed past them revert (the
            # market and the token check each in order; no money moves) and the rest of the
            # burst is posted open, its nonces read again.
            self.out[i] = Submitted(self.specs[i], error=f"the endpoint refused it: {answer}")
            client._quote_nonce = client._permit_nonce = None
            self.usable = False
            return
        client._quote_nonce = offer.nonce + 1
        if permit is not None and client._permit_nonce is not None:
            client._permit_nonce += 1
        self.sent.append(_Sent(i, answer, offer))

    def _permits(self, jobs: list[int]) -> list[tuple[int, int, bytes, bytes] | None]:
        """The permits `jobs` will need if sent in this order, at consecutive permit nonces."""
        out: list[tuple[int, int, bytes, bytes] | None] = []
        client, nonce = self.client, None
        for i in jobs:
            if not self.by_permit[i]:
                out.append(None)
                continue
            nonce = permit_nonce_next(client) if nonce is None else nonce + 1
            v, r, s = sign_permit(
                client, client.chain.market.address, self.jobs[i].payment, self.deadline, nonce
            )
            out.append((self.deadline, v, r, s))
        return out  # the client's permit nonce is counted as each is sent

    def send(self, i: int, offer: Quote | None) -> None:
        """Job i on its quote (open when there is none, or it cannot be used), estimated."""
        self.tried.add(i)
        client, job = self.client, self.jobs[i]
        # A permit per job paid from the wallet (the market binds it to the job's payment), at
        # the next permit nonce: our earlier transactions use theirs first.
        permit = None
        if self.by_permit[i]:
            v, r, s = sign_permit(client, client.chain.market.address, job.payment, self.deadline)
            permit = (self.deadline, v, r, s)
        offer = offer if self.usable else None
        tx_hash = None
        if offer is not None:
            try:
                tx_hash = client._sign_and_send(
                    create_call(client, job.request, permit, offer), self.head, "pending"
                )
            except ClientError as err:
                self.usable = False
                if self.warn is not None:
                    self.warn(
                        f"node {offer.node_id}'s quote could not be used ({err}); posting open"
                    )
                offer = None
            else:
                client._quote_nonce = offer.nonce + 1
        if tx_hash is None:
            try:
                tx_hash = client._sign_and_send(
                    create_call(client, job.request, permit), self.head, "pending"
                )
            except ClientError as err:
                self.out[i] = Submitted(self.specs[i], error=str(err))
                return
        if permit is not None and client._permit_nonce is not None:
            client._permit_nonce += 1
        self.sent.append(_Sent(i, tx_hash, offer))


def _paid_by_permit(client: Client, payments: list[int]) -> list[bool]:
    """Which jobs the wallet pays (with a permit): those the market balance no longer covers,
    job by job in order as the market pays them (from the balance only when it covers the whole
    payment). ClientError when the wallet does not hold them all."""
    credit = client.credited()
    by_permit = []
    for payment in payments:
        by_permit.append(credit < payment)
        if credit >= payment:
            credit -= payment
    from_wallet = sum(p for p, w in zip(payments, by_permit, strict=True) if w)
    if from_wallet:
        have = client.balance()
        if have < from_wallet:
            raise ClientError(
                f"insufficient TES balance: {client.address} holds {fmt_tes(have)}, the jobs"
                f" need {fmt_tes(from_wallet)} beyond the market balance"
            )
    return by_permit


def _collected(client: Client, specs: Sequence[JobSpec], sent: list[_Sent],
               from_block: int) -> dict[int, Submitted]:  # fmt: skip
    """What each sent transaction created, read with two requests for the whole burst: the last
    one's receipt (our nonces are mined in order, so every earlier one is mined too), then our
    JobCreated events up to its block. A transaction without one (reverted) is looked up alone."""
    if not sent:
        return {}
    try:
        last = wait_for_receipt(client.w3, sent[-1].tx_hash, RECEIPT_TIMEOUT_S)
        logs = client.chain.market.events.JobCreated.get_logs(
            from_block=from_block, to_block=int(last["blockNumber"]),
            argument_filters={"client": client.address},
        )  # fmt: skip
    except Exception:  # noqa: BLE001 (the slow way below still finds every one)
        logs = []
    by_tx = {bytes(e["transactionHash"]): JobId(e["args"]["jobId"]) for e in logs}
    out = {}
    for one in sent:
        job_id = by_tx.get(one.tx_hash)
        spec = specs[one.index]
        out[one.index] = (
            _settled(client, spec, one) if job_id is None else _created(client, spec, one, job_id)
        )
    return out


def _created(client: Client, spec: JobSpec, sent: _Sent, job_id: int) -> Submitted:
    """A job the burst created (on its quote's node, if it had one)."""
    node_id = sent.quote.node_id if sent.quote is not None else None
    if node_id is not None:
        client.assigned[job_id] = node_id
    return Submitted(spec, job_id=job_id, node_id=node_id, tx_hash="0x" + sent.tx_hash.hex())


def _settled(client: Client, spec: JobSpec, sent: _Sent) -> Submitted:
    """A sent job's receipt read: its id, or why it did not create one."""
    shown = "0x" + sent.tx_hash.hex()
    try:
        receipt = wait_for_receipt(client.w3, sent.tx_hash, RECEIPT_TIMEOUT_S)
    except Exception as err:  # noqa: BLE001 (a lost transaction is this job's error, not the burst's)
        client._nonce = None
        return Submitted(spec, error=f"no receipt: {err}", tx_hash=shown)
    if receipt["status"] != TxStatus.SUCCESS:
        # Our counters may be off (a quote nonce not used, a balance not spent): read them again.
        client._quote_nonce = client._credit = None
        return Submitted(spec, error=f"transaction {shown} reverted", tx_hash=shown)
    return _created(client, spec, sent, created_id(client, receipt))
