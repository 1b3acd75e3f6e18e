"""Python SDK of the TES client: everything `tes-client` does, as methods.

    client = Client.connect("http://127.0.0.1:8545", Path("deployments/local.json"), key)
    job_id = client.submit(Path("bundle.tar.gz"), uri, payment=10 * E18, replicas=3)
    client.wait(job_id, until={JobStatus.PAID})
    digest = client.fetch(job_id, Path("result"))   # checked against the job's on-chain commitment

What a fetched result is checked against: `oracle.client.views` (the module docstring). The salt of
a k = 1 result is kept next to it (`<dest>.tes-salt`) so `verify` can re-check it later. The
user's inputs are checked first (`oracle.client.inputs`).

Transactions are signed here with the client's key (web3.py, no ape needed) and every one is
first simulated, so a revert comes back as the contract's named error, not as a bare failure.
Payment uses an EIP-2612 permit signed off-chain: one transaction, no separate approve. A
client that deposited TES in the market (`deposit`, or a refund it left there) pays from that
balance instead: `createJob` with no permit and no token transfer, whenever the balance covers
the whole payment.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError
from web3.logs import DISCARD

from oracle.client.errors import ClientError, ResultMismatch
from oracle.client.history import ClientJob, jobs_of
from oracle.client.inputs import (
    DEFAULT_WINDOWS,
    MAX_WINDOW,
    check_deployment,
    check_replicas,
    fmt_tes,
    requirements_of,
    unreachable,
)
from oracle.client.quotes import ask_nodes
from oracle.client.views import (
    MAX_RESULT_BYTES,
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
from oracle.core import bundle as bundles
from oracle.core.chain import Chain, TxStatus
from oracle.core.errors import FetchError, ResultError
from oracle.core.fetch import fetch_bundle
from oracle.core.permit import permit_message
from oracle.core.protocol import (
    MARKET_PARAMETER_FIELDS,
    Capabilities,
    Job,
    JobStatus,
    NodeRecord,
    Seat,
)
from oracle.core.protocol import TERMINAL as PROTOCOL_TERMINAL
from oracle.core.quote import NO_PERMIT, Quote
from oracle.core.result_request import sign_result_request
from oracle.core.results import result_hash, unpack_result
from oracle.core.reverts import ErrorTable, error_table, explain_revert
from oracle.core.tree import remove_tree
from oracle.core.units import E18

# The SDK's names, wherever they live (`from oracle.client.sdk import Client, JobView, ...`).
__all__ = [
    "E18", "PEEK_BYTES", "TERMINAL", "Client", "ClientError", "JobOutcome", "JobView", "ResultMismatch",
    "SaltRecord", "check_deployment", "check_replicas", "error_table", "explain_revert", "fmt_tes",
    "outcome_of", "requirements_of", "salt_path",
]  # fmt: skip

# What `wait` stops at unless told otherwise: the job can no longer change.
TERMINAL = PROTOCOL_TERMINAL
MAX_NODES_SCANNED = 2_000  # licences read for submit's capacity warning
PARAMS_KEEP_S = 60.0  # how long a client trusts the market's parameters and the fee tip
HEAD_KEEP_S = 2.0  # how long a head block read for a submit serves the next ones


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
        count = self.chain.market.functions.jobCount().call()
        if not 1 <= job_id <= count:
            raise ClientError(f"no job {job_id} on this market (jobs 1..{count} exist)")
        market = self.chain.market.functions
        job = Job.from_raw(market.job(job_id).call())
        seats = tuple(
            Seat.from_raw(market.replica(job_id, i).call()) for i in range(job.replicaCount)
        )
        return JobView(job_id, job, seats, self._bundle_hash(job_id))

    def my_jobs(self, account: str | None = None) -> list[ClientJob]:
        """Every job `account` (default: us) created on this market, rebuilt from the chain alone
        (`oracle.client.history.jobs_of`)."""
        return jobs_of(self.chain, account or self.address)

    def _bundle_hash(self, job_id: int) -> bytes:
        """The job's bundle hash, a topic of its JobCreated event (the market keeps no copy)."""
        logs = self.chain.market.events.JobCreated.get_logs(
            from_block=self.chain.deployment_block, argument_filters={"jobId": job_id}
        )
        if not logs:
            raise ClientError(
                f"job {job_id}: no JobCreated event from block {self.chain.deployment_block}"
            )
        return bytes(logs[0]["args"]["bundleHash"])

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
        if view.job_id in self._outcomes:
            return self._outcomes[view.job_id]
        if self.key is None or view.status not in (JobStatus.ACCEPTED, JobStatus.PAID):
            return None
        candidates = self.sources(view)
        try:
            urls = self.endpoints(candidates) if candidates else {}
        except ClientError:
            return None
        for node_id in candidates:
            url = urls.get(node_id)
            if not url:
                continue
            try:
                archive, headers = self._download(url, view.job_id, node_id, timeout_s, attempts=2,
                                                  limit=PEEK_BYTES)  # fmt: skip
            except (urllib.error.HTTPError, OSError, ValueError):
                continue
            if len(archive) > PEEK_BYTES:  # far larger than any failure record: real outputs
                found: JobOutcome | None = JobOutcome(failed=False, status="ok")
            else:
                found = None
                tmp = Path(tempfile.mkdtemp(prefix="tes-outcome-"))
                try:
                    salt = self._salt_of(
                        view.job_id, node_id, headers, required=view.result_hash is None
                    )
                    got = unpack_result(archive, tmp / "out", PEEK_BYTES * 64)
                    self.check_result(view, got, salt)
                    found = outcome_of(tmp / "out")
                except (ClientError, ResultError):
                    found = None
                finally:
                    remove_tree(tmp)
            if found is not None:
                self._outcomes[view.job_id] = found
                return found
        return None

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
        check_replicas(replicas)
        bundle = Path(bundle)
        if not bundle.is_file():
            raise ClientError(
                f"bundle file {bundle} does not exist (make one with `tes-client package`)"
            )
        data = bundle.read_bytes()
        digest = bundles.bundle_hash(data)
        manifest = self._manifest_of(data)
        if check_uri:
            try:
                fetch_bundle(uri, digest, max(len(data), 1) * 2, timeout_s=10, allow_local=True)
            except FetchError as err:
                raise ClientError(f"nodes could not get this bundle from {uri}: {err}") from err
        params = self.parameters()
        if payment < params["minJobFee"]:
            raise ClientError(
                f"payment {fmt_tes(payment)} is below the market's minimum job fee of {fmt_tes(params['minJobFee'])}"
            )
        min_collateral = payment * params["minCollateralBps"] // 10_000
        collateral = min_collateral if collateral is None else collateral
        if collateral < min_collateral:
            raise ClientError(
                f"collateral {fmt_tes(collateral)} is below the minimum of {fmt_tes(min_collateral)}"
                f" ({params['minCollateralBps'] / 100:g}% of the payment)"
            )
        w = {**DEFAULT_WINDOWS, **(windows or {})}
        for name, value in w.items():
            optional = name == "disputeWindow" and replicas > 1
            if value > MAX_WINDOW or value < 0 or (value == 0 and not optional):
                raise ClientError(
                    f"{name} must be between 1 s and {MAX_WINDOW} s (30 days), got {value} s"
                )
        # Its time dates the permit and the quote's time left, its base fee the tx (which offers
        # twice it): a head a few seconds old serves a burst of submits as well as a fresh one.
        head = self._keep("head", lambda: self.w3.eth.get_block("latest"), HEAD_KEEP_S)
        now = int(head["timestamp"])
        deadline = permit_deadline if permit_deadline is not None else now + 3_600
        if deadline <= now:
            raise ClientError(f"permit deadline {deadline} is in the past (chain time is {now})")
        if warn is not None:
            need = Capabilities(*requirements_of(manifest))
            try:
                found = self.capacity_warnings(need, replicas, collateral)
            except Exception as err:  # noqa: BLE001 (advice only: never stops a submit)
                found = [f"could not read the node registry to check capacity: {err}"]
            for text in found:
                warn(text)
        request = (
            digest, uri, requirements_of(manifest), payment, collateral, replicas,
            w["claimWindow"], w["executionWindow"], w["revealWindow"], w["disputeWindow"],
        )  # fmt: skip
        receipt = None
        offer = self.ask_quote(request, warn, now) if quote and replicas == 1 else None
        if offer is not None:
            try:
                receipt = self._create(request, payment, deadline, head, offer)
            except ClientError as err:
                # Refused by the estimate or reverted: no money moved, so the open post is safe.
                self._quote_nonce = None
                if warn is not None:
                    warn(f"node {offer.node_id}'s quote could not be used ({err}); posting open")
            else:
                self._quote_nonce = offer.nonce + 1
        if receipt is None:
            receipt = self._create(request, payment, deadline, head)
            offer = None
        events = self.chain.market.events.JobCreated().process_receipt(receipt, errors=DISCARD)
        job_id = int(events[0]["args"]["jobId"])
        if offer is not None:
            self.assigned[job_id] = offer.node_id
        return job_id

    # ---------------------------------------------------------------- quotes
    def ask_quote(
        self, request: tuple, warn: Callable[[str], None] | None = None, now: int | None = None
    ) -> Quote | None:
        """A node's signed quote for `request` (a k = 1 JobRequest) from the URLs nodes announced
        (kept PARAMS_KEEP_S), or None (`oracle.client.quotes.ask_nodes`). `now`: the chain's time,
        if the caller read it."""
        if self.key is None:
            return None
        try:
            urls = self._keep("quote_urls", lambda: sorted(set(self.endpoints(None).values())))
        except ClientError:
            return None
        if not urls:
            return None
        clock = (lambda: now) if now is not None else self.chain_time
        return ask_nodes(urls, request, self.address, self._quote_nonce_next(), clock, warn)

    def _quote_nonce_next(self) -> int:
        """The market's quote nonce for us: read once, then counted (every createAndAssign we
        send uses one); read again after a quote could not be used."""
        if self._quote_nonce is None:
            self._quote_nonce = int(self.chain.market.functions.quoteNonce(self.address).call())
        return self._quote_nonce

    def _create(
        self, request: tuple, payment: int, deadline: int, head: Any, quote: Quote | None = None
    ) -> Any:
        """createJob (or, with a quote, createAndAssign) from our market balance when it covers
        `payment` (no permit, no transfer), else with a permit. A balance we counted wrong
        (someone else used the key) is read again once and the job paid the other way."""
        market = self.chain.market.functions

        def create(permit: tuple[int, int, bytes, bytes] | None) -> Any:
            if quote is not None:
                return market.createAndAssign(request, quote.as_tuple(), permit or NO_PERMIT)
            return (
                market.createJob(request)
                if permit is None
                else market.createJobWithPermit(request, *permit)
            )

        if self._credit is None:
            self.credited()
        if self._credit is not None and self._credit >= payment:
            try:
                receipt = self._send(create(None), head)
            except ClientError:
                if self.credited() >= payment:
                    raise
            else:
                self._credit -= payment
                return receipt
        v, r, s = self._permit(self.chain.market.address, payment, deadline)
        try:
            receipt = self._send(create((deadline, v, r, s)), head)
        except ClientError:
            self._permit_nonce = None
            self._credit = None
            # The balance is read only when the chain refused: the common case costs no request.
            have = self.balance()
            if have < payment:
                raise ClientError(
                    f"insufficient TES balance: {self.address} holds {fmt_tes(have)}, the job needs {fmt_tes(payment)}"
                ) from None
            raise
        self._permit_nonce = None if self._permit_nonce is None else self._permit_nonce + 1
        # No token transfer in the receipt: the market took the payment from a balance we had not
        # counted (a refund since our last read); read it again next time.
        token = self.chain.token
        moved = token.events.Transfer().process_receipt(receipt, errors=DISCARD)
        if not [e for e in moved if e["address"] == token.address]:
            self._credit = None
        return receipt

    @staticmethod
    def _manifest_of(data: bytes) -> bundles.Manifest:
        with tempfile.TemporaryDirectory(prefix="tes-check-") as tmp:
            try:
                return bundles.unpack(data, Path(tmp), 64 * len(data) + (1 << 20))
            except bundles.BundleError as err:
                raise ClientError(f"not a valid bundle: {err}") from err

    def _permit_nonce_next(self) -> int:
        """The token's permit nonce for us: read once, then counted (every createJobWithPermit that
        is mined used one, ours or a front-runner's copy); read again after any refusal."""
        if self._permit_nonce is None:
            self._permit_nonce = int(self.chain.token.functions.nonces(self.address).call())
        return self._permit_nonce

    def _permit(self, spender: str, value: int, deadline: int) -> tuple[int, bytes, bytes]:
        """EIP-2612 signature over the one Permit definition (`oracle.core.permit`)."""
        token = self.chain.token
        if self._domain is None:
            self._domain = tuple(token.functions.eip712Domain().call())
        _, name, version, chain_id, verifying, _, _ = self._domain
        msg = permit_message(
            name=name, version=version, chain_id=int(chain_id), token=verifying, owner=self.address,
            spender=spender, value=value, nonce=self._permit_nonce_next(), deadline=deadline,
        )  # fmt: skip
        signed = Account.sign_message(msg.signable_message, self.key.key)  # type: ignore[union-attr]
        return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")

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

    def _download(self, url: str, job_id: int, node_id: int, timeout_s: float, attempts: int = 4,
                  limit: int = MAX_RESULT_BYTES):  # fmt: skip
        """(archive, headers) of the node's result. A node's rate limit (429) is waited out as its
        Retry-After says (at most 5 s, `attempts` tries); each try is a freshly signed request
        (nonces are single-use)."""
        tries = 0
        while True:
            tries += 1
            if self.key is None:
                raise ClientError("fetching a result needs the client's key: --account ALIAS")
            # A fresh request per try: bound to that node, short-lived, never reusable.
            headers = sign_result_request(self.key.key, job_id, node_id, self.chain.chain_id,
                                          self.chain.market.address)  # fmt: skip
            req = urllib.request.Request(f"{url.rstrip('/')}/results/{job_id}", headers=headers)
            try:
                with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310 (http(s) from chain)
                    return resp.read(limit + 1), resp.headers
            except urllib.error.HTTPError as err:
                if err.code != 429 or tries >= attempts:
                    raise
                try:
                    wait_s = float(err.headers.get("Retry-After", "1"))
                except ValueError:
                    wait_s = 1.0
                time.sleep(min(max(wait_s, 0.1), 5.0))

    def fetch(self, job_id: int, dest: Path, *, timeout_s: float = 60.0) -> bytes:
        """Downloads the job's result from a node whose seat produced the accepted result,
        unpacks it into `dest` and checks it against the chain (see the module docstring); the
        node's salt goes to `<dest>.tes-salt`. Returns the result hash. Refuses (and leaves
        nothing in `dest`) if no node serves matching files."""
        view = self.job(job_id)
        self._fetchable(view)
        dest = Path(dest)
        if dest.exists() and any(dest.iterdir()):
            raise ClientError(f"{dest} is not empty")
        candidates = self.sources(view)
        if not candidates:
            raise ClientError(f"no seat of job {job_id} holds its accepted result")
        urls = self.endpoints(candidates)
        if not urls:
            raise ClientError(f"none of the nodes {candidates} announced a results URL on chain")
        problems = []
        for node_id in candidates:
            url = urls.get(node_id)
            if not url:
                problems.append(f"node {node_id}: no URL announced")
                continue
            try:
                archive, headers = self._download(url, job_id, node_id, timeout_s)
            except urllib.error.HTTPError as err:
                problems.append(
                    f"node {node_id} ({url}): HTTP {err.code} {err.read()[:200].decode(errors='replace')}"
                )
                continue
            except (OSError, ValueError) as err:
                problems.append(f"node {node_id} ({url}): {err}")
                continue
            try:
                salt = self._salt_of(job_id, node_id, headers, required=view.result_hash is None)
            except ClientError as err:
                problems.append(f"node {node_id}: {err}: refused")
                continue
            tmp = Path(tempfile.mkdtemp(prefix="tes-result-"))
            try:
                got = unpack_result(archive, tmp / "out", MAX_RESULT_BYTES)
                self.check_result(view, got, salt)
            except ResultError as err:
                problems.append(f"node {node_id}: unusable archive: {err}")
                remove_tree(tmp)
                continue
            except ClientError as err:
                problems.append(f"node {node_id}: {err}: refused")
                remove_tree(tmp)
                continue
            dest.mkdir(parents=True, exist_ok=True)
            for item in (tmp / "out").iterdir():
                shutil.move(str(item), dest / item.name)
            remove_tree(tmp)
            if salt is not None:
                salt.write(dest)
            return got
        raise ClientError(
            f"no node served a result matching job {job_id}'s on-chain record:\n  "
            + "\n  ".join(problems)
        )

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
        view = self.job(job_id)
        if bundle is not None:
            got = bundles.bundle_hash(Path(bundle).read_bytes())
            if got != view.bundle_hash:
                raise ClientError(
                    f"bundle {bundle} hashes to 0x{got.hex()}, job {job_id} ran 0x{view.bundle_hash.hex()}"
                )
        if view.result_hash is None and not (
            view.single and view.status in (JobStatus.ACCEPTED, JobStatus.PAID)
        ):
            raise ClientError(
                f"job {job_id} has no result on chain yet (status: {view.status.label})"
            )
        record: SaltRecord | None
        if salt is not None:
            default = view.original.nodeId if view.original else 0
            record = SaltRecord(job_id, default if node_id is None else node_id, salt)
        else:
            record = SaltRecord.read(result_dir)
        try:
            got = result_hash(result_dir)
        except ResultError as err:
            raise ClientError(str(err)) from err
        try:
            self.check_result(view, got, record)
        except ResultMismatch as err:
            raise ResultMismatch(f"MISMATCH: {result_dir}: {err}") from err
        return got

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
        self._send(self.chain.market.functions.dispute(job_id))
        return bond

    def cancel(self, job_id: int) -> None:
        self._send(self.chain.market.functions.cancel(job_id))
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
        sender = self.address
        try:
            gas = fn.estimate_gas({"from": sender})
        except (ContractCustomError, ContractLogicError, Web3RPCError, ValueError) as err:
            raise ClientError(f"the transaction would revert: {self._explain(err)}") from err
        if self._nonce is None:
            self._nonce = self.w3.eth.get_transaction_count(sender, "pending")
        base = int((head or self.w3.eth.get_block("latest")).get("baseFeePerGas", 0) or 0)
        tip = self._keep("tip", lambda: max(int(self.w3.eth.max_priority_fee), 0)) if base else 0
        tx = fn.build_transaction({
            "from": sender, "nonce": self._nonce, "gas": gas * 12 // 10, "chainId": self.chain.chain_id,
            "maxFeePerGas": 2 * base + tip + 1, "maxPriorityFeePerGas": tip,
        })  # fmt: skip
        signed = self.key.sign_transaction(tx)  # type: ignore[union-attr]
        try:
            tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        except Exception:
            self._nonce = None  # someone else used the key, or the node forgot a pending one
            raise
        self._nonce += 1
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120)
        if receipt["status"] != TxStatus.SUCCESS:
            raise ClientError(f"transaction 0x{bytes(tx_hash).hex()} reverted")
        return receipt

    def _explain(self, err: Exception) -> str:
        return explain_revert(err, self._error_table())

    def _error_table(self) -> ErrorTable:
        if self._errors is None:
            self._errors = error_table(self.chain.abis.values())
        return self._errors
