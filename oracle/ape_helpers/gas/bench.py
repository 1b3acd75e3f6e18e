"""The benchmark's network and its scenarios: `Bench` sends every transaction of a job, records
its `gas_used` under its scenario and step (or as a single operation), and traces it on the
in-process EVM."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_account import Account

from oracle.ape_helpers.gas.keys import EMPTY_SIGNATURE, MAX_UINT, QUOTE_TTL
from oracle.ape_helpers.gas.tracer import GasTracer
from oracle.core.permit import permit_message
from oracle.core.protocol import JobTerms
from oracle.core.prove import commitment_of, sign_proof_batch
from oracle.core.quote import NO_PERMIT, sign_quote
from oracle.localnet.deployment import (
    DEFAULT_CAPS,
    DEFAULTS,
    JOB_COLLATERAL,
    JOB_PAYMENT,
    NO_REQUIREMENTS,
    WINDOWS,
    Deployment,
)


@dataclass
class NodeKeys:
    id: int
    owner: Any
    operator: Any


@dataclass
class Roles:
    deployer: Any
    treasury: Any
    client: Any
    keeper: Any
    disputer: Any


@dataclass
class Bench:
    d: Deployment
    chain: Any
    r: Roles
    tracer: GasTracer
    nodes: list[NodeKeys] = field(default_factory=list)
    operations: dict[str, int] = field(default_factory=dict)
    breakdown: dict[str, dict[str, Any]] = field(default_factory=dict)
    scenarios: dict[str, dict[str, Any]] = field(default_factory=dict)
    new_account: Callable[[], Any] = lambda: None  # a fresh key (test accounts generate one)
    # Each job's terms as its JobCreated carried them (the create receipt's log): the market's
    # claim, finalize, settleAndWithdraw, dispute, expire and cancel take them, not the id.
    terms: dict[int, tuple] = field(default_factory=dict)
    _tag: int = 0

    # -------------------------------------------------------------- recording
    def _send(self, trace_key: str | None, call: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        if trace_key is None or not self.tracer.enabled:
            return call(*args, **kw)
        with self.tracer.capture() as runs:
            receipt = call(*args, **kw)
        explained = self.tracer.explain(receipt, runs)
        if explained is not None:
            self.breakdown[trace_key] = explained
        return receipt

    def op(self, key: str, call: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """One transaction recorded under `key` of the operations table (and traced)."""
        receipt = self._send(key, call, *args, **kw)
        self.operations[key] = receipt.gas_used
        return receipt

    def step(
        self, scn: str, label: str, who: str, call: Callable[..., Any], *args: Any, **kw: Any
    ) -> Any:
        """One transaction of scenario `scn`; transactions with the same label add up (txs)."""
        trace = self.scenarios[scn].get("trace", False)
        done = sum(e["txs"] for e in self.scenarios[scn]["steps"] if e["step"] == label)
        key = f"{scn}: {label}" + (f" #{done + 1}" if done else "")  # each tx its own row
        receipt = self._send(key if trace else None, call, *args, **kw)
        self._record(scn, label, who, receipt)
        return receipt

    def begin(self, scn: str, jobs: int = 1, trace: bool = False) -> str:
        self.scenarios[scn] = {"jobs": jobs, "trace": trace, "steps": []}
        return scn

    # -------------------------------------------------------------- helpers
    def fund(self, account: Any, amount: int) -> None:
        self.d.token.transfer(account, amount, sender=self.r.treasury)

    def gas_money(self, account: Any) -> None:
        if account.balance < 10**17:  # generated keys on a node that does not pre-fund them
            self.r.deployer.transfer(account, 10**18)

    def setup_node(self, owner: Any, operator: Any, stake: int, measure: bool = False) -> NodeKeys:
        d = self.d
        send = self.op if measure else (lambda _key, call, *a, **kw: call(*a, **kw))
        receipt = send("licence_buy", d.licence.buy, 0, 1, value=DEFAULTS.tier_price, sender=owner)
        node = receipt.decode_logs(d.licence.LicencesPurchased)[0].firstTokenId
        self.bind(node, owner, operator, stake, send)
        keys = NodeKeys(node, owner, operator)
        self.nodes.append(keys)
        return keys

    def bind(self, node: int, owner: Any, operator: Any, stake: int, send: Callable) -> None:
        d = self.d
        self.gas_money(operator)
        # Two-step binding: the owner proposes the key, the key accepts (proves it is live).
        send("registry_bind_operator", d.registry.bindOperator, node, operator, sender=owner)
        if d.registry.operatorOf(node) != operator.address:
            send("registry_accept_operator", d.registry.acceptOperator, node, sender=operator)
        send(
            "registry_declare_capabilities",
            d.registry.declareCapabilities,
            node,
            DEFAULT_CAPS,
            sender=owner,
        )
        send("registry_stake", d.registry.stake, node, stake, sender=self.r.treasury)
        send("registry_activate", d.registry.activate, node, sender=owner)

    def node(self, node_id: int) -> NodeKeys:
        return next(n for n in self.nodes if n.id == node_id)

    def request(self, replicas: int = 1) -> tuple:
        self._tag += (
            1  # a distinct bundle per job, as the job counter gave before per-client nonces
        )
        bundle = self._tag.to_bytes(32, "big")
        return (
            bundle,
            "file:///bundles/job.tar",
            NO_REQUIREMENTS,
            JOB_PAYMENT,
            JOB_COLLATERAL,
            replicas,
            WINDOWS["claimWindow"],
            WINDOWS["executionWindow"],
            WINDOWS["revealWindow"],
            WINDOWS["disputeWindow"] if replicas == 1 else 0,
        )

    def created(self, receipt: Any) -> int:
        """The job a create transaction opened: its id, its terms kept (`terms`) from the
        receipt's JobCreated log and checked against the id (read here, never sent)."""
        log = receipt.decode_logs(self.d.market.JobCreated)[0]
        terms = JobTerms.created(log.event_arguments)
        if terms.job_id != log.jobId:
            raise RuntimeError(f"JobCreated terms hash to {terms.job_id:#x}, not {log.jobId:#x}")
        self.terms[log.jobId] = terms.as_tuple()
        return log.jobId

    def advance(self, seconds: int) -> None:
        self.chain.pending_timestamp += seconds
        self.chain.mine()

    # -------------------------------------------------------------- job steps
    def create(
        self, scn: str, replicas: int = 1, client: Any = None, funding: str = "approve"
    ) -> int:
        """The client's transactions to open a job: approve + createJob, createJobWithPermit, or
        createJob on a standing allowance or a deposit (funding="standing": nothing else sent)."""
        m, client = self.d.market, client or self.r.client
        request = self.request(replicas)
        if funding == "permit":
            deadline, v, r, s = self.permit(client, JOB_PAYMENT)
            receipt = self.step(
                scn, "createJobWithPermit", "client", m.createJobWithPermit, request,
                deadline, v, r, s, sender=client,
            )  # fmt: skip
        else:
            if funding == "approve":
                self.step(scn, "approve (payment)", "client", self.d.token.approve, m, JOB_PAYMENT,
                          sender=client)  # fmt: skip
            receipt = self.step(scn, f"createJob (k = {replicas})", "client", m.createJob, request,
                                sender=client)  # fmt: skip
        return self.created(receipt)

    def quote(self, n: NodeKeys, request: tuple, client: Any) -> tuple[int, int, bytes]:
        """The node's operator signs a quote for `request` by `client` (off chain, no gas)."""
        m = self.d.market
        return sign_quote(
            n.operator.private_key, self.chain.chain_id, str(m.address), request,
            client.address, m.quoteNonce(client), n.id, self.chain.pending_timestamp + QUOTE_TTL,
        ).as_tuple()  # fmt: skip

    def assign(self, scn: str, n: NodeKeys, client: Any = None, funding: str = "approve") -> int:
        """The quote path (what the client SDK does for a k = 1 job): the node's operator signs a
        quote, the client sends createAndAssign, the job is created already claimed by the node.
        Funding as `create`: approve first, a permit in the same call, or nothing (standing)."""
        m, client = self.d.market, client or self.r.client
        request, permit, label = self.request(1), NO_PERMIT, "createAndAssign (quote)"
        if funding == "permit":
            permit, label = self.permit(client, JOB_PAYMENT), "createAndAssign (quote + permit)"
        elif funding == "approve":
            self.step(scn, "approve (payment)", "client", self.d.token.approve, m, JOB_PAYMENT,
                      sender=client)  # fmt: skip
        quote = self.quote(n, request, client)
        receipt = self.step(scn, label, "client", m.createAndAssign, request, quote, permit,
                            sender=client)  # fmt: skip
        return self.created(receipt)

    def draw(self, scn: str, job: int) -> list[NodeKeys]:
        """Keeper draws until every seat of the round is drawn; returns the drawn nodes."""
        m, drawn = self.d.market, list[NodeKeys]()
        while True:
            j = m.job(job)
            if j.seated >= j.k or j.drawBlock == 0:
                return drawn
            while self.chain.blocks.head.number <= j.drawBlock:
                self.chain.mine()  # the draw needs the anchor block's hash
            receipt = self.step(scn, "draw", "keeper", m.draw, job, sender=self.r.keeper)
            drawn += [self.node(log.nodeId) for log in receipt.decode_logs(m.SeatDrawn)]

    def accept(self, scn: str, job: int, seats: list[NodeKeys]) -> None:
        for n in seats:
            self.step(scn, "acceptSeat", "operator", self.d.market.acceptSeat, job, n.id,
                      sender=n.operator)  # fmt: skip

    def prove_own(self, scn: str, job: int, n: NodeKeys, result: bytes, salt: bytes) -> Any:
        """The operator submits its own proof: no signature needed."""
        item = (job, n.id, commitment_of(job, n.id, result, salt))
        return self.step(scn, "submitProofs (own, 1 proof)", "operator", self.d.market.submitProofs,
                         [([item], EMPTY_SIGNATURE)], sender=n.operator)  # fmt: skip

    def signed_proof(self, job: int, n: NodeKeys, result: bytes, salt: bytes) -> tuple:
        """A batch of one completion signed by the node's operator."""
        return self.signed_batch(n, [(job, result, salt)])

    def signed_batch(self, n: NodeKeys, jobs: Sequence[tuple[int, bytes, bytes]]) -> tuple:
        """The completions of node `n` for `jobs` [(job, result, salt)] under one signature."""
        items = [(job, n.id, commitment_of(job, n.id, result, salt)) for job, result, salt in jobs]
        sig = sign_proof_batch(
            n.operator.private_key, self.chain.chain_id, str(self.d.market.address), items
        )
        return (items, sig)

    def reveal(self, scn: str, job: int, n: NodeKeys, result: bytes, salt: bytes) -> Any:
        return self.step(scn, "reveal (1)", "operator", self.d.market.reveal,
                         [(job, n.id, result, salt)], sender=n.operator)  # fmt: skip

    def payout(
        self, scn: str, payees: Sequence[tuple[str, Any]], nodes: Sequence[NodeKeys] = ()
    ) -> None:
        """Everyone the job credited withdraws, each node owner its nodes' earnings (one
        withdrawEarnings per owner); the keeper flushes pending fees to Rewards."""
        m, seen = self.d.market, set()
        by_owner: dict[str, tuple[Any, list[int]]] = {}
        for n in nodes:
            _, ids = by_owner.setdefault(n.owner.address, (n.owner, []))
            if n.id not in ids and m.ledger(n.id).earned:
                ids.append(n.id)
        for owner, ids in by_owner.values():
            if ids:
                self.step(scn, "withdrawEarnings (node owner)", "node owner", m.withdrawEarnings,
                          ids, sender=owner)  # fmt: skip
        for label, account in payees:
            if account.address in seen or m.credited(account) == 0:
                continue
            seen.add(account.address)
            self.step(scn, f"withdraw ({label})", label, m.withdraw, sender=account)
        if m.pendingFees() > 0:
            self.step(scn, "flushFees", "keeper", m.flushFees, sender=self.r.keeper)

    def permit(self, owner: Any, amount: int) -> tuple[int, int, bytes, bytes]:
        """(deadline, v, r, s) of `owner`'s permit for the market to pull `amount`, over the one
        Permit definition (`oracle.core.permit`) the client SDK signs too."""
        token = self.d.token
        _, name, version, chain_id, verifying, _, _ = token.eip712Domain()
        deadline = self.chain.pending_timestamp + 3_600
        message = permit_message(
            name=name, version=version, chain_id=int(chain_id), token=str(verifying),
            owner=str(owner.address), spender=str(self.d.market.address), value=amount,
            nonce=int(token.nonces(owner)), deadline=deadline,
        )  # fmt: skip
        signed = Account.sign_message(message.signable_message, owner.private_key)
        return deadline, signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")

    # -------------------------------------------------------------- scenarios
    def k1_single(self, scn: str, n: NodeKeys, client: Any = None, funding: str = "approve",
                  trace: bool = False, keeper: bool = False, quote: bool = True) -> None:  # fmt: skip
        """approve (or permit) -> createAndAssign on the node's quote (or, `quote=False`, the
        open path: createJob -> claim) -> own proof -> (dispute window) -> the node's own
        settleAndWithdraw (what the node software sends: the owner is paid in it), or with
        `keeper` a keeper's finalize, the owner's withdrawEarnings and everyone else's
        withdrawal -> flushFees if anything is pending."""
        m, client = self.d.market, client or self.r.client
        self.begin(scn, trace=trace)
        if quote:
            job = self.assign(scn, n, client, funding)
        else:
            job = self.create(scn, 1, client, funding)
            self.step(scn, "claim", "operator", m.claim, self.terms[job], n.id,
                      sender=n.operator)  # fmt: skip
        self.prove_own(scn, job, n, b"\xab" * 32, b"\x01" * 32)
        self.advance(WINDOWS["disputeWindow"] + 1)
        if keeper:
            self.step(scn, "finalize", "keeper", m.finalize, self.terms[job],
                      sender=self.r.keeper)  # fmt: skip
        else:
            self.step(
                scn,
                "settleAndWithdraw (1 job)",
                "operator",
                m.settleAndWithdraw,
                [self.terms[job]],
                sender=n.operator,
            )
        self.payout(scn, [("keeper", self.r.keeper), ("client", client)], [n])

    def k1_steady(self, scn: str, n: NodeKeys, jobs: int, batch: int, group: int,
                  funding: str = "standing", quote: bool = True) -> int:  # fmt: skip
        """`jobs` k = 1 jobs on a standing allowance (or, `funding="deposit"`, paid from one
        deposit of all their payments: creation then moves no token), each created by
        createAndAssign on the node's quote (or, `quote=False`, createJob then the node's
        claim); proofs relayed `batch` per transaction; settled `group` at a time by the node's
        own settleAndWithdraw (the owner paid in it), and fees flushed as often. Returns the gas
        of one full proof batch (traced on the quote path only)."""
        m, r = self.d.market, self.r
        self.begin(scn, jobs=jobs)
        if funding == "deposit":
            total = jobs * JOB_PAYMENT
            self.step(scn, "approve (deposit, once)", "client", self.d.token.approve, m, total,
                      sender=r.client)  # fmt: skip
            self.step(scn, "deposit (once)", "client", m.deposit, total, sender=r.client)
        else:
            self.step(scn, "approve (standing, once)", "client", self.d.token.approve, m, MAX_UINT,
                      sender=r.client)  # fmt: skip
        if quote:
            ids = [self.assign(scn, n, funding="standing") for _ in range(jobs)]
        else:
            ids = [self.create(scn, 1, funding="standing") for _ in range(jobs)]
            for job in ids:
                self.step(scn, "claim", "operator", m.claim, self.terms[job], n.id,
                          sender=n.operator)  # fmt: skip
        batch_gas = 0
        for start in range(0, jobs, batch):
            chunk = ids[start : start + batch]
            # One operator: one signature over the whole batch.
            proofs = [
                self.signed_batch(n, [(j, j.to_bytes(32, "big"), b"\x02" * 32) for j in chunk])
            ]
            trace_key = f"proof batch of {batch}" if quote and len(chunk) == batch else None
            receipt = self._send(trace_key, m.submitProofs, proofs, sender=r.keeper)
            self._record(
                scn, f"submitProofs (relayed, {batch} per tx, 1 signature)", "keeper", receipt
            )
            if len(chunk) == batch:
                batch_gas = receipt.gas_used
        self.advance(WINDOWS["disputeWindow"] + 1)
        for start in range(0, jobs, group):
            self.step(scn, f"settleAndWithdraw ({group} jobs per tx)", "operator", m.settleAndWithdraw,
                      [self.terms[j] for j in ids[start : start + group]],
                      sender=n.operator)  # fmt: skip
            self.payout(scn, [(f"keeper, every {group} jobs", r.keeper)])
        return batch_gas

    def _record(self, scn: str, label: str, who: str, receipt: Any) -> None:
        steps = self.scenarios[scn]["steps"]
        for entry in steps:
            if entry["step"] == label:
                entry["gas"] += receipt.gas_used
                entry["txs"] += 1
                return
        steps.append({"step": label, "sender": who, "txs": 1, "gas": receipt.gas_used})

    def k3_single(self, scn: str, trace: bool = False, repeats: int = 1) -> None:
        """approve -> createJob(k = 3) -> draw -> 3 acceptSeat -> 3 own proofs -> 3 reveals (the
        last settles: 3 node ledgers earn and keep the fees as work) -> the owners'
        withdrawEarnings, the others' withdrawals -> flushFees if pending.
        `repeats` jobs one after the other, averaged (only the first is traced): which nodes
        a draw picks differs from chain to chain, and so does the gas of a single job."""
        self.begin(scn, jobs=repeats, trace=trace)
        for _ in range(repeats):
            self._k3_job(scn)
            self.scenarios[scn]["trace"] = False

    def _k3_job(self, scn: str) -> None:
        job = self.create(scn, 3)
        seats = self.draw(scn, job)
        self.accept(scn, job, seats)
        result = b"\xcd" * 32
        for i, n in enumerate(seats):
            self.prove_own(scn, job, n, result, bytes([0x50 + i]) * 32)
        for i, n in enumerate(seats):
            self.reveal(scn, job, n, result, bytes([0x50 + i]) * 32)
        self.payout(scn, [("keeper", self.r.keeper), ("client", self.r.client)], seats)

    def dispute(self, scn: str, original: NodeKeys, repeats: int = 1) -> None:
        """A proven k = 1 job (quote path) is disputed; a jury of 3 is drawn, accepts, commits; jurors and the
        original node reveal; the last reveal settles (the original result is upheld).
        Averaged over `repeats` jobs, as k3_single."""
        self.begin(scn, jobs=repeats)
        for _ in range(repeats):
            self._disputed_job(scn, original)

    def _disputed_job(self, scn: str, original: NodeKeys) -> None:
        m, r = self.d.market, self.r
        job = self.assign(scn, original)
        result, salt = b"\xee" * 32, b"\x03" * 32
        self.prove_own(scn, job, original, result, salt)
        self.step(scn, "approve (bond)", "disputer", self.d.token.approve, m, JOB_COLLATERAL,
                  sender=r.disputer)  # fmt: skip
        self.step(scn, "dispute", "disputer", m.dispute, self.terms[job],
                  sender=r.disputer)  # fmt: skip
        jurors = self.draw(scn, job)
        self.accept(scn, job, jurors)
        for i, n in enumerate(jurors):
            self.prove_own(scn, job, n, result, bytes([0x60 + i]) * 32)
        self.reveal(scn, job, original, result, salt)
        for i, n in enumerate(jurors):
            self.reveal(scn, job, n, result, bytes([0x60 + i]) * 32)
        self.payout(scn, [("disputer", r.disputer), ("keeper", r.keeper), ("client", r.client)],
                    [original, *jurors])  # fmt: skip

    def expire(self, scn: str, n: NodeKeys | None) -> None:
        """Assigned to `n` by quote and never proven (collateral seized, client refunded), or,
        with no node, an open job never claimed."""
        m, r = self.d.market, self.r
        self.begin(scn)
        if n is not None:
            job = self.assign(scn, n)
            self.advance(WINDOWS["executionWindow"] + 1)
        else:
            job = self.create(scn, 1)
            self.advance(WINDOWS["claimWindow"] + 1)
        self.step(scn, "expire", "keeper", m.expire, self.terms[job], sender=r.keeper)
        self.payout(scn, [("client", r.client), ("keeper", r.keeper)], [n] if n else [])

    def cancel(self, scn: str, replicas: int) -> None:
        m, r = self.d.market, self.r
        self.begin(scn)
        job = self.create(scn, replicas)
        self.step(scn, "cancel", "client", m.cancel, self.terms[job], sender=r.client)
        self.payout(scn, [("client", r.client)])

    def distinct_operators_batch(self, count: int, owner: Any) -> int:
        """`count` nodes, each with its own operator, each claims one k = 1 job; one relayer
        transaction carries the `count` signed proofs. Returns that transaction's gas."""
        m, d, r = self.d.market, self.d, self.r
        stake = 2 * DEFAULTS.min_stake
        receipt = d.licence.buy(0, count, value=DEFAULTS.tier_price * count, sender=owner)
        first = receipt.decode_logs(d.licence.LicencesPurchased)[0].firstTokenId
        fleet = []
        for node in range(first, first + count):
            operator = self.new_account()
            self.bind(node, owner, operator, stake, lambda _k, call, *a, **kw: call(*a, **kw))
            fleet.append(NodeKeys(node, owner, operator))
        self.nodes += fleet
        d.token.approve(m, MAX_UINT, sender=r.client)  # not measured: only the batch is
        proofs = []
        for n in fleet:
            job = self.created(m.createJob(self.request(1), sender=r.client))
            m.claim(self.terms[job], n.id, sender=n.operator)
            proofs.append(self.signed_proof(job, n, b"\x77" * 32, b"\x04" * 32))
        key = f"proof batch of {count}, distinct operators"
        return self._send(key, m.submitProofs, proofs, sender=r.keeper).gas_used
