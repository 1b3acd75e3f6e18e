"""Python SDK of the TES client: everything `tes-client` does, as methods.

    client = Client.connect("http://127.0.0.1:8545", Path("deployments/local.json"), key)
    job_id = client.submit(Path("bundle.tar.gz"), uri, payment=10 * E18, replicas=3)
    client.wait(job_id, until={JobStatus.PAID})
    digest = client.fetch(job_id, Path("result"))   # checked against the job's on-chain commitment

What a fetched result is checked against: `oracle.client.views` (the module docstring). The salt of
a k = 1 result is kept next to it (`<dest>.tes-salt`) so `verify` can re-check it later. The
user's inputs are checked first (`oracle.client.inputs`). The longer methods live as functions
of the client next door: `submit` and its payment in `oracle.client.submission`, `fetch`,
`verify` and `outcome` in `oracle.client.results_fetch`.

Transactions are signed here with the client's key (web3.py, no ape needed) and every one is
first simulated, so a revert comes back as the contract's named error, not as a bare failure.
Payment uses an EIP-2612 permit signed off-chain: one transaction, no separate approve. A
client that deposited TES in the market (`deposit`, or a refund it left there) pays from that
balance instead: `createJob` with no permit and no token transfer, whenever the balance covers
the whole payment.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError

from oracle.client import burst, results_fetch, submission
from oracle.client.burst import JobSpec, Submitted
from oracle.client.errors import ClientError, ResultMismatch
from oracle.client.history import ClientJob, jobs_of, terms_of
from oracle.client.inputs import (
    check_deployment,
    check_replicas,
    fmt_tes,
    requirements_of,
    unreachable,
)
from oracle.client.quotes import ask_nodes, ask_nodes_batch
from oracle.client.views import (
    PEEK_BYTES,
    JobOutcome,
    JobView,
    SaltRecord,
    capacity_warnings,
    check_result,
    fetchable,
    outcome_of,
    salt_of,
    salt_path,
    sources,
)
from oracle.core.chain import (
    Chain,
    TxStatus,
    calldata,
    eip1559_fees,
    send_raw_batch,
    wait_for_receipt,
)
from oracle.core.protocol import (
    MARKET_PARAMETER_FIELDS,
    Capabilities,
    Job,
    JobId,
    JobStatus,
    JobTerms,
    NodeRecord,
    Seat,
    job_hex,
)
from oracle.core.protocol import TERMINAL as PROTOCOL_TERMINAL
from oracle.core.quote import Quote
from oracle.core.reverts import ErrorTable, error_table, explain_revert
from oracle.core.units import E18

log = logging.getLogger(__name__)

# The SDK's names, wherever they live (`from oracle.client.sdk import Client, JobView, ...`).
__all__ = [
    "E18", "PEEK_BYTES", "TERMINAL", "Client", "ClientError", "JobOutcome", "JobSpec", "JobView",
    "ResultMismatch", "SaltRecord", "Submitted", "check_deployment", "check_replicas", "error_table", "explain_revert", "fmt_tes",
    "outcome_of", "requirements_of", "salt_path",
]  # fmt: skip

# What `wait` stops at unless told otherwise: the job can no longer change.
TERMINAL = PROTOCOL_TERMINAL
MAX_NODES_SCANNED = 2_000  # licences read for submit's capacity warning
PARAMS_KEEP_S = 60.0  # how long a client trusts the market's parameters and the fee tip


class Client:
    def __init__(self, chain: Chain, key: LocalAccount | None = None):
        self.chain = chain
        self.w3 = chain.w3
        self.key = key
        self._errors: ErrorTable | None = None
        self._outcomes: dict[int, JobOutcome] = {}
        # Read once per client (issue [4/7]: RPC per job): the token's EIP-712 domain is fixed at
        # deployment; the market's parameters and the fee tip are kept for PARAMS_KEEP_S (a change
        # in between costs a reverted estimate, explained, never gas); the nonce is counted here
        # after the first read and read again after any failed send.
        self._domain: tuple[Any, ...] | None = None
        self._kept: dict[str, tuple[float, Any]] = {}
        self._nonce: int | None = None
        self._permit_nonce: int | None = None
        self._simulates = True  # until the endpoint answers eth_simulateV1 with an error
        # Our market balance (`credited`: deposits, refunds), read once and then counted down by
        # the jobs it pays; read again after a refusal, a deposit we did not count, a refund.
        self._credit: int | None = None
        self._quote_nonce: int | None = None  # the market's quoteNonce for us, counted
        self.assigned: dict[int, int] = {}  # job id -> the node whose quote created it assigned

    @classmethod
    def connect(cls, rpc_url: str, deployment: Path, key: LocalAccount | None = None) -> Client:
        deployment = Path(deployment)
        check_deployment(deployment)
        chain = Chain.connect(rpc_url, deployment)
        try:
            _ = chain.w3.eth.block_number
        except Exception as err:  # noqa: BLE001 (any transport failure)
            raise ClientError(unreachable(rpc_url, err)) from err
        market = chain.record["contracts"]["JobMarket"]
        try:
            code = chain.w3.eth.get_code(Web3.to_checksum_address(market))
        except Exception as err:  # noqa: BLE001
            raise ClientError(unreachable(rpc_url, err)) from err
        if not code:
            raise ClientError(
                f"no JobMarket at {market} on the chain at {rpc_url}: the deployment record {deployment}"
                " is for another chain, or the chain was restarted without its state; deploy again"
                " (`ape run deploy`) or pass the right --deployment / --rpc-url"
            )
        return cls(chain, key)

    @property
    def address(self) -> ChecksumAddress:
        if self.key is None:
            raise ClientError(
                "this command needs the client's key: --account ALIAS (and TES_PASSPHRASE)"
            )
        return self.key.address

    # ---------------------------------------------------------------- reads
    def _keep(self, key: str, read: Callable[[], Any], keep_s: float = PARAMS_KEEP_S) -> Any:
        now = time.monotonic()
        if key not in self._kept or now - self._kept[key][0] > keep_s:
            self._kept[key] = (now, read())
        return self._kept[key][1]

    def parameters(self) -> dict[str, int]:
        raw = self._keep("parameters", self.chain.market.functions.parameters().call)
        return dict(zip(MARKET_PARAMETER_FIELDS, raw, strict=True))

    def balance(self, account: str | None = None) -> int:
        return int(self.chain.token.functions.balanceOf(account or self.address).call())

    def credited(self, account: str | None = None) -> int:
        """TES the market holds for `account` (default: us): refunds, won bonds, deposits. New
        jobs are paid from it first when it covers their payment; `withdraw` sends it back."""
        amount = int(self.chain.market.functions.credited(account or self.address).call())
        if account is None:
            self._credit = amount
        return amount

    def job(self, job_id: int) -> JobView:
        market = self.chain.market.functions
        job = Job.from_raw(market.job(job_id).call())
        if job.status == JobStatus.NONE:  # ids are hashes of terms: an unknown one reads empty
            raise ClientError(f"no job {job_hex(job_id)} on this market")
        seats = tuple(
            Seat.from_raw(market.replica(job_id, i).call()) for i in range(job.replicaCount)
        )
        terms = self.terms(job_id)  # a one-slot k = 1 job's record is its state only
        return JobView(JobId(job_id), job.with_terms(terms), seats, terms.bundleHash, terms)

    def my_jobs(self, account: str | None = None) -> list[ClientJob]:
        """Every job `account` (default: us) created on this market, rebuilt from the chain alone
        (`oracle.client.history.jobs_of`)."""
        return jobs_of(self.chain, account or self.address)

    def terms(self, job_id: int) -> JobTerms:
        """The job's terms from its JobCreated event, checked against the id
        (`oracle.client.history.terms_of`): the market keeps no copy (the bundle hash is only
        there), and the entry points that name a job (`cancel`, `dispute`) take them back."""
        logs = self.chain.market.events.JobCreated.get_logs(
            from_block=self.chain.deployment_block, argument_filters={"jobId": job_id}
        )
        for terms in map(terms_of, (e["args"] for e in logs)):
            if terms is not None and terms.job_id == job_id:
                return terms
        raise ClientError(
            f"job {job_hex(job_id)}: no JobCreated event whose terms hash to its id from block"
            f" {self.chain.deployment_block}: not a job of this market (or the RPC endpoint"
            " withheld its log)"
        )

    def chain_time(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def endpoints(self, node_ids: Iterable[int] | None) -> dict[int, str]:
        """The latest URL each node announced (NodeRegistry.EndpointAnnounced); every node's with
        `node_ids` None."""
        registry = self.chain.registry
        if not any(e.get("name") == "EndpointAnnounced" for e in registry.abi):
            raise ClientError(
                "this deployment's NodeRegistry has no EndpointAnnounced event: redeploy it"
            )
        filters = {} if node_ids is None else {"nodeId": sorted(set(node_ids))}
        logs = registry.events.EndpointAnnounced.get_logs(
            from_block=self.chain.deployment_block, argument_filters=filters
        )
        found: dict[int, str] = {}
        for log in sorted(logs, key=lambda lg: (lg["blockNumber"], lg["logIndex"])):
            found[int(log["args"]["nodeId"])] = log["args"]["url"]
        return found

    # ---------------------------------------------------------------- what happened
    def outcome(self, view: JobView, *, timeout_s: float = 10.0) -> JobOutcome | None:
        """Whether the job's program succeeded, read from its result (the chain only holds a
        hash): asked once per job from a node that holds it, as `fetch` does (signed with the
        client's key, checked against the chain), and only as far as telling a failure record
        (a few KiB) from real outputs. None when it cannot be known yet: no result served yet
        (k = 1 before its proof, k >= 3 before paid), no key, or no node answered."""
        return results_fetch.outcome(self, view, timeout_s=timeout_s)

    def nodes(self, limit: int = MAX_NODES_SCANNED) -> list[tuple[int, NodeRecord]]:
        """(node id, record) of every licence (ids 1..NodeLicense.totalMinted), at most `limit`."""
        count = int(self.chain.contract("NodeLicense").functions.totalMinted().call())
        registry = self.chain.registry.functions
        return [(i, NodeRecord.from_raw(registry.node(i).call()))
                for i in range(1, min(count, limit) + 1)]  # fmt: skip

    def capacity_warnings(self, need: Capabilities, replicas: int, collateral: int) -> list[str]:
        """Why a job may sit unclaimed, read from the NodeRegistry before paying
        (`oracle.client.views.capacity_warnings`)."""
        return capacity_warnings(self.nodes(), need, replicas, collateral)

    # ---------------------------------------------------------------- submit
    def submit(
        self,
        bundle: Path,
        uri: str,
        payment: int,
        *,
        replicas: int = 1,
        collateral: int | None = None,
        windows: Mapping[str, int] | None = None,
        permit_deadline: int | None = None,
        check_uri: bool = True,
        warn: Callable[[str], None] | None = None,
        quote: bool = True,
    ) -> int:
        """Escrows `payment` (wei) and creates the job; returns its id. Paid from our market
        balance (`deposit`) when it covers the payment, else with a permit.

        A k = 1 job is first offered to nodes for a quote (`quote`, see `ask_quote`): one that
        takes it gets it assigned in the same transaction (createAndAssign). Without a quote, or
        when the quote cannot be used, the job is posted open and any node may claim it.

        Every input is checked first, against the chain's own rules, so a mistake is explained
        before any gas is spent. `warn` hears why the job may sit unclaimed (no active node
        meets its requirements, or fewer than k); it is sent anyway."""
        return submission.submit(
            self, bundle, uri, payment, replicas=replicas, collateral=collateral, windows=windows,
            permit_deadline=permit_deadline, check_uri=check_uri, warn=warn, quote=quote,
        )  # fmt: skip

    def submit_many(
        self,
        jobs: Sequence[JobSpec],
        *,
        permit_deadline: int | None = None,
        check_uri: bool = True,
        warn: Callable[[str], None] | None = None,
        quote: bool = True,
    ) -> list[Submitted]:
        """Creates many jobs at once (`oracle.client.burst`): every job checked and the funds for
        all of them first, then the transactions sent back to back and their receipts read at
        the end. One Submitted per JobSpec, in order: the job id, or why that job was not
        created (the others are)."""
        return burst.submit_many(self, jobs, permit_deadline=permit_deadline,
                                 check_uri=check_uri, warn=warn, quote=quote)  # fmt: skip

    # ---------------------------------------------------------------- quotes
    def ask_quote(
        self, request: tuple, warn: Callable[[str], None] | None = None, now: int | None = None
    ) -> Quote | None:
        """A node's signed quote for `request` (a k = 1 JobRequest) from the URLs nodes announced
        (kept PARAMS_KEEP_S), or None (`oracle.client.quotes.ask_nodes`). `now`: the chain's time,
        if the caller read it."""
        urls = self._quote_urls()
        if not urls:
            return None
        clock = (lambda: now) if now is not None else self.chain_time
        return ask_nodes(urls, request, self.address, self._quote_nonce_next(), clock, warn)

    def ask_quotes(
        self,
        requests: Sequence[tuple],
        warn: Callable[[str], None] | None = None,
        now: int | None = None,
        nonce: int | None = None,
    ) -> list[Quote | None]:
        """`ask_quote` for many requests at once (POST /quotes): a quote or None per request,
        their nonces consecutive from `nonce` (default: ours), `oracle.client.quotes.ask_nodes_batch`."""
        urls = self._quote_urls()
        if not urls or not requests:
            return [None] * len(requests)
        clock = (lambda: now) if now is not None else self.chain_time
        first = self._quote_nonce_next() if nonce is None else nonce
        return ask_nodes_batch(urls, requests, self.address, first, clock, warn)

    def _quote_urls(self) -> list[str]:
        """The URLs nodes announced (kept PARAMS_KEEP_S); none without a key to be quoted for."""
        if self.key is None:
            return []
        try:
            return self._keep("quote_urls", lambda: sorted(set(self.endpoints(None).values())))
        except ClientError:
            return []

    def _quote_nonce_next(self) -> int:
        """The market's quote nonce for us: read once, then counted (every createAndAssign we
        send uses one); read again after a quote could not be used."""
        if self._quote_nonce is None:
            self._quote_nonce = int(self.chain.market.functions.quoteNonce(self.address).call())
        return self._quote_nonce

    # ---------------------------------------------------------------- watch
    def wait(
        self,
        job_id: int,
        until: Iterable[JobStatus] = TERMINAL,
        timeout_s: float = 600.0,
        poll_s: float = 1.0,
        on_update: Callable[[JobView], None] | None = None,
    ) -> JobView:
        """Polls the job until its status is in `until` (or terminal); TimeoutError otherwise."""
        goal = set(until) | TERMINAL
        end = time.monotonic() + timeout_s
        while True:
            view = self.job(job_id)
            if on_update:
                on_update(view)
            if view.status in goal:
                return view
            if time.monotonic() > end:
                raise TimeoutError(f"job {job_id} still {view.status.label} after {timeout_s:g} s")
            time.sleep(poll_s)

    # ---------------------------------------------------------------- results
    # The checks are pure functions of the chain's view (oracle.client.views).
    _fetchable = staticmethod(fetchable)
    sources = staticmethod(sources)
    check_result = staticmethod(check_result)
    _salt_of = staticmethod(salt_of)

    def fetch(self, job_id: int, dest: Path, *, timeout_s: float = 60.0) -> bytes:
        """Downloads the job's result from a node whose seat produced the accepted result,
        unpacks it into `dest` and checks it against the chain (see the module docstring); the
        node's salt goes to `<dest>.tes-salt`. Returns the result hash. Refuses (and leaves
        nothing in `dest`) if no node serves matching files."""
        return results_fetch.fetch(self, job_id, dest, timeout_s=timeout_s)

    def verify(
        self,
        job_id: int,
        result_dir: Path,
        bundle: Path | None = None,
        *,
        salt: bytes | None = None,
        node_id: int | None = None,
    ) -> bytes:
        """Recomputes the result hash of `result_dir` (and the bundle hash) and checks it against
        the chain. A k = 1 result needs its salt: `salt` (and `node_id`, default seat 0's node)
        or the `<result_dir>.tes-salt` record `fetch` wrote."""
        return results_fetch.verify(self, job_id, result_dir, bundle, salt=salt, node_id=node_id)

    # ---------------------------------------------------------------- disputes and refunds
    def dispute(self, job_id: int) -> int:
        """Disputes a k = 1 job's accepted result inside its window, posting a bond equal to the
        job's collateral (approve, then dispute). Returns the bond. The job's own node (its
        operator or licence owner) may not dispute it: the contract refuses, and so does this."""
        view = self.job(job_id)
        if view.status != JobStatus.ACCEPTED or view.job.round != 0:
            raise ClientError(
                f"job {job_id} cannot be disputed: it is {view.status.label} (only an accepted k = 1 result can)"
            )
        now = self.chain_time()
        if now > view.job.deadline:
            raise ClientError(
                f"the dispute window of job {job_id} closed at {view.job.deadline} (chain time {now})"
            )
        bond = int(view.job.collateral)
        if bond == 0:
            raise ClientError(
                f"job {job_id} has no collateral, so there is no bond to post: it cannot be disputed"
            )
        node_id = view.original.nodeId  # type: ignore[union-attr]
        registry = self.chain.registry.functions
        me = self.address.lower()
        if (
            me == registry.operatorOf(node_id).call().lower()
            or me == registry.ownerOfNode(node_id).call().lower()
        ):
            raise ClientError(f"{self.address} operates or owns node {node_id}, which ran job {job_id}:"
                              " a job's own node cannot dispute it")  # fmt: skip
        have = self.balance()
        if have < bond:
            raise ClientError(
                f"insufficient TES balance for the {fmt_tes(bond)} dispute bond (have {fmt_tes(have)})"
            )
        market = self.chain.market.address
        if self.chain.token.functions.allowance(self.address, market).call() < bond:
            self._send(self.chain.token.functions.approve(market, bond))
        terms = view.terms or self.terms(job_id)  # `job` read them: the market takes them back
        self._send(self.chain.market.functions.dispute(terms.as_tuple()))
        return bond

    def cancel(self, job_id: int) -> None:
        """Withdraws an open job nobody has taken yet (the payment is credited back). The market
        takes the job's terms, read from its JobCreated event (`terms`)."""
        terms = self.terms(job_id)
        self._send(self.chain.market.functions.cancel(terms.as_tuple()))
        self._credit = None  # the payment came back to our balance

    def withdraw(self) -> int:
        amount = self.credited()
        if amount == 0:
            raise ClientError(f"nothing to withdraw: {self.address} has no credited TES")
        self._send(self.chain.market.functions.withdraw())
        self._credit = 0
        return amount

    def deposit(self, amount: int) -> int:
        """Moves `amount` (wei) of our TES into our market balance (approve, if the allowance
        is short, then deposit), so that the next jobs it covers are opened without a permit or
        a token transfer each. Returns the balance after it."""
        if amount <= 0:
            raise ClientError(
                f"nothing to deposit: the amount must be more than 0 (got {amount} wei)"
            )
        have = self.balance()
        if have < amount:
            raise ClientError(
                f"insufficient TES balance: {self.address} holds {fmt_tes(have)}, the deposit is"
                f" {fmt_tes(amount)}"
            )
        market = self.chain.market.address
        if self.chain.token.functions.allowance(self.address, market).call() < amount:
            self._send(self.chain.token.functions.approve(market, amount))
        self._send(self.chain.market.functions.deposit(amount))
        return self.credited()

    # ---------------------------------------------------------------- transactions
    def _send(self, fn, head: Any = None) -> Any:
        """Estimates (the chain's own check: a refusal is explained and costs no gas), signs and
        sends, and waits for the receipt. `head`: the latest block, if the caller read it."""
        tx_hash = self._sign_and_send(fn, head)
        receipt = wait_for_receipt(self.w3, tx_hash, 120, sent_now=True)
        if receipt["status"] != TxStatus.SUCCESS:
            raise ClientError(f"transaction 0x{bytes(tx_hash).hex()} reverted")
        return receipt

    def _sign_and_send(self, fn, head: Any = None, block: str | None = None) -> bytes:
        """`_send` without waiting: estimated against `block` ("pending" when our own earlier
        transactions may not be mined yet), signed with the next nonce, sent; its hash."""
        if self._nonce is None:
            self._nonce = self.w3.eth.get_transaction_count(self.address, "pending")
        raw = self._signed(fn, self._nonce, head, block, None)
        try:
            tx_hash = self.w3.eth.send_raw_transaction(raw)
        except Exception:
            self._nonce = None  # someone else used the key, or the node forgot a pending one
            raise
        self._nonce += 1
        return bytes(tx_hash)

    def _signed(self, fn, nonce: int, head: Any, block: str | None, used: int | None) -> bytes:
        """`fn` as our signed transaction at `nonce`; ClientError if its estimate reverts. `used`:
        the gas a simulation of it in this order used (`_simulate`), which stands for the
        estimate."""
        tx: dict[str, Any] = {
            "from": self.address, "to": fn.address, "data": calldata(fn), "value": 0
        }  # fmt: skip
        try:
            # A simulation's gas used is after its refund (up to a quarter more was needed while
            # it ran) and a nested call gets only 63/64 of what is left: half again covers both.
            gas = used * 3 // 2 if used is not None else self.w3.eth.estimate_gas(tx, block)  # type: ignore[arg-type]
        except (ContractCustomError, ContractLogicError, Web3RPCError, ValueError) as err:
            raise ClientError(f"the transaction would revert: {self._explain(err)}") from err
        tx.update(nonce=nonce, gas=gas * 12 // 10, **self._fee_fields(head))
        del tx["from"]
        return bytes(self.key.sign_transaction(tx).raw_transaction)  # type: ignore[union-attr]

    def _send_simulated(self, calls: list[tuple[Any, int]], head: Any) -> list[bytes | Exception]:
        """Calls a simulation accepted (each with its simulated gas), signed at consecutive nonces
        and sent in one JSON-RPC batch: per call its hash, or why the endpoint refused it. An
        endpoint without batches gets them one by one, stopping at the first refusal.

        A refused transaction leaves a hole in our nonces that would hold every later accepted one
        out of a block for good: each hole is filled with an empty transfer to ourselves, so those
        jobs are created as sent (and the burst's receipts come)."""
        if self._nonce is None:
            self._nonce = self.w3.eth.get_transaction_count(self.address, "pending")
        first = self._nonce
        raws = [self._signed(fn, first + k, head, None, used) for k, (fn, used) in enumerate(calls)]
        answers: list[bytes | Exception] | None = (
            list(answered) if (answered := send_raw_batch(self.w3, raws)) is not None else None
        )
        if answers is None:  # one at a time: nothing is sent past a refusal
            answers = []
            for raw in raws:
                try:
                    answers.append(bytes(self.w3.eth.send_raw_transaction(raw)))
                except Exception as err:  # noqa: BLE001 (the caller reports it for this job)
                    answers.append(err)
                    break
            answers += [ClientError("not sent after an earlier refusal")] * (
                len(raws) - len(answers)
            )
        refused = [k for k, a in enumerate(answers) if isinstance(a, Exception)]
        if not refused:
            self._nonce = first + len(raws)
            return answers
        last_sent = max((k for k, a in enumerate(answers) if isinstance(a, bytes)), default=-1)
        for k in (k for k in refused if k < last_sent):
            self._fill_nonce(first + k, head)
        self._nonce = None  # read again: which of them the endpoint holds is its to say
        return answers

    def _fee_fields(self, head: Any) -> dict[str, Any]:
        """A type-2 transaction's chain and fees (`eip1559_fees`; the tip kept a while)."""
        base = int((head or self.w3.eth.get_block("latest")).get("baseFeePerGas", 0) or 0)
        tip = self._keep("tip", lambda: int(self.w3.eth.max_priority_fee)) if base else 0
        return {"chainId": self.chain.chain_id, "type": 2, **eip1559_fees(base, tip)}

    def _fill_nonce(self, nonce: int, head: Any) -> None:
        tx = {
            "to": self.address,
            "value": 0,
            "gas": 21_000,
            "nonce": nonce,
            **self._fee_fields(head),
        }
        try:
            self.w3.eth.send_raw_transaction(self.key.sign_transaction(tx).raw_transaction)  # type: ignore[union-attr]
            log.warning("nonce %d was refused inside a batch: filled with an empty transfer", nonce)
        except Exception as err:  # noqa: BLE001 (taken meanwhile: the later ones go on anyway)
            log.warning(
                "nonce %d was refused inside a batch and could not be filled: %s", nonce, err
            )

    def _simulate(self, fns: list[Any], block: str = "pending") -> list[int | None] | None:
        """The gas each call would use, run one after another from our address on top of `block`
        (our earlier unmined transactions included), None for one that would revert: one
        `eth_simulateV1` request instead of one estimate per transaction. None when the endpoint
        does not offer it (the caller then estimates each transaction)."""
        if not self._simulates or not fns:
            return None
        calls = [{"from": self.address, "to": fn.address, "data": calldata(fn)} for fn in fns]
        try:
            answer = self.w3.provider.make_request(
                "eth_simulateV1",  # type: ignore[arg-type]
                [{"blockStateCalls": [{"calls": calls}], "validation": False}, block],
            )
            results = answer["result"][0]["calls"]
            if len(results) != len(fns):
                raise ValueError(f"{len(results)} results for {len(fns)} calls")
            return [int(r["gasUsed"], 16) if int(r["status"], 16) == 1 else None for r in results]
        except Exception as err:  # noqa: BLE001 (not offered, or not as specified: estimate)
            log.info("eth_simulateV1 unavailable (%s): estimating each transaction", err)
            self._simulates = False
            return None

    def _explain(self, err: Exception) -> str:
        return explain_revert(err, self._error_table())

    def _error_table(self) -> ErrorTable:
        if self._errors is None:
            self._errors = error_table(self.chain.abis.values())
        return self._errors
