"""Gas used by every TES operation and by whole job lifecycles.

    ape run gas                                   # in-process EVM, writes docs/gas.md + docs/gas.json
    ape run gas --network ethereum:local:foundry  # same on anvil (no per-opcode breakdown there)

Deploys a fresh network with `oracle.deployment.deploy_all`, sets up nodes with the test accounts,
and records `receipt.gas_used` of each transaction. Lifecycles are measured in steady state: a
warm-up job of the same kind runs first, so the figures do not include one-off costs of the first
job ever (the job counter, the market's first TES balance, a keeper's first credit, a node's first
work record), and every account involved already holds TES. The first k = 1 job is reported too.

On the in-process EVM every measured transaction is also traced opcode by opcode (py-evm), which
splits its gas into intrinsic cost, calldata, storage writes/reads, events, external-call overhead,
signature recovery and the gas spent inside each contract.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from ape.cli import ConnectedProviderCommand, network_option
from eth_account import Account
from eth_account.messages import encode_typed_data

from oracle.deployment import (
    DEFAULT_CAPS,
    DEFAULTS,
    E18,
    JOB_COLLATERAL,
    JOB_PAYMENT,
    NO_REQUIREMENTS,
    WINDOWS,
    Deployment,
    deploy_all,
)
from oracle.prove import commitment_of, sign_completion

TARGETS = {"lifecycle_k1_total": 200_000, "proof_relay_per_job_100": 30_000}
DEFAULT_BATCHES = (1, 10, 100)
INTRINSIC_GAS = 21_000

# Stable keys of docs/gas.json -> labels of the table.
OPERATION_LABELS = {
    "licence_buy": "NodeLicense.buy (1 licence, not the first sold)",
    "registry_bind_operator": "NodeRegistry.bindOperator",
    "registry_declare_capabilities": "NodeRegistry.declareCapabilities",
    "registry_stake": "NodeRegistry.stake",
    "registry_activate": "NodeRegistry.activate",
    "token_approve": "TESToken.approve (client -> market)",
    "market_create_job": "JobMarket.createJob (k = 1, prior approve)",
    "market_create_job_with_permit": "JobMarket.createJobWithPermit (k = 1)",
    "market_claim": "JobMarket.claim (k = 1)",
    "market_submit_proof_k1": "JobMarket.submitProofs (1 proof, k = 1: result accepted)",
    "market_finalize": "JobMarket.finalize (k = 1, pays owner + keeper)",
    "market_withdraw": "JobMarket.withdraw (node owner)",
    "market_create_job_k3": "JobMarket.createJob (k = 3)",
    "market_claim_k3_last": "JobMarket.claim (k = 3, last claim: job Running)",
    "market_commit_k3": "JobMarket.submitProofs (1 commitment, k = 3, not last)",
    "market_commit_k3_last": "JobMarket.submitProofs (1 commitment, k = 3, last: Revealing)",
    "market_reveal_k3": "JobMarket.reveal (1 reveal, k = 3, not last)",
    "market_reveal_k3_last": "JobMarket.reveal (last reveal: settles, pays 3 nodes)",
    "market_expire_open": "JobMarket.expire (Open, no claim: refund client)",
    "market_expire_running": "JobMarket.expire (Running, no proof: seize collateral)",
    "market_dispute": "JobMarket.dispute (k = 1, bond pulled)",
    "market_flush_fees": "JobMarket.flushFees (to Rewards)",
    "rewards_heartbeat": "Rewards.heartbeat (1 node)",
    "rewards_checkpoint": "Rewards.checkpoint (closes 1 epoch, mints its emission)",
    "rewards_claim": "Rewards.claim (1 node, 1 finished epoch)",
}
K1_STEPS = {
    "create": "createJob",
    "claim": "claim",
    "proof": "submitProofs (1 proof)",
    "finalize": "finalize",
    "withdraw": "withdraw (node owner)",
}


# ------------------------------------------------------------------ opcode tracer (py-evm only)
_CALLS = {"CALL", "CALLCODE", "DELEGATECALL", "STATICCALL"}
_CATEGORY = {"SSTORE": "sstore", "SLOAD": "sload", "KECCAK256": "keccak", "SHA3": "keccak"}
_CATEGORY.update({f"LOG{i}": "log" for i in range(5)})
_CATEGORY.update({op: "call" for op in _CALLS})
_PRECOMPILES = {1: "ecrecover", 2: "sha256", 4: "identity", 5: "modexp"}


class GasTracer:
    """Splits the gas of transactions run by ape's in-process EVM (eth-tester + py-evm) by
    contract and opcode class, by wrapping the opcode table of the running VM while a
    transaction is sent. Unavailable (and silent) on any other provider."""

    def __init__(self, provider: Any, names: dict[str, str]):
        self._names = {bytes.fromhex(a[2:].lower()): n for a, n in names.items()}
        self._computation_class = None
        try:
            vm = provider.evm_backend.chain.get_vm()
            self._computation_class = type(vm.state).computation_class
            self.fork = type(vm).__name__.removesuffix("VM")
        except AttributeError:
            self.fork = None
        self._runs: list[dict[str, Any]] = []
        self._top: Any = None

    @property
    def enabled(self) -> bool:
        return self._computation_class is not None

    @contextmanager
    def capture(self) -> Iterator[list[dict[str, Any]]]:
        """Traces what runs inside the block; yields the list of top-level executions."""
        runs: list[dict[str, Any]] = []
        if not self.enabled:
            yield runs
            return
        cls = self._computation_class
        had_own = "opcodes" in cls.__dict__
        original = cls.opcodes
        cls.opcodes = {code: self._wrap(fn) for code, fn in original.items()}
        self._runs, self._top = runs, None
        try:
            yield runs
        finally:
            if had_own:
                cls.opcodes = original
            else:
                del cls.opcodes

    def _frame(self, computation: Any) -> str:
        address = bytes(computation.msg.code_address)
        return self._names.get(address, "0x" + address.hex())

    def _wrap(self, fn: Any) -> Callable[..., Any]:
        mnemonic = getattr(fn, "mnemonic", None) or getattr(fn.__wrapped__, "mnemonic", "?")
        category = _CATEGORY.get(mnemonic, "compute")

        def traced(computation: Any) -> Any:
            if computation.msg.depth == 0 and computation is not self._top:
                self._top = computation
                self._runs.append({"gas": Counter(), "new_slots": Counter()})
            run = self._runs[-1]
            before = computation.get_gas_remaining()
            children = len(computation.children)
            try:
                return fn(computation=computation)
            finally:
                cost = before - computation.get_gas_remaining()
                frame = self._frame(computation)
                if len(computation.children) > children:
                    # A call ran a child frame: its own opcodes are counted there; a precompile
                    # runs no opcodes, so its gas is counted here under its own name.
                    child = computation.children[-1]
                    child_gas = child.msg.gas - child.get_gas_remaining()
                    cost -= child_gas
                    target = int.from_bytes(bytes(child.msg.code_address), "big")
                    if target in _PRECOMPILES:
                        run["gas"][(_PRECOMPILES[target], "precompile")] += child_gas
                run["gas"][(frame, category)] += cost
                if mnemonic == "SSTORE" and cost >= 20_000:
                    run["new_slots"][frame] += 1

        return traced

    def explain(self, receipt: Any, runs: list[dict[str, Any]]) -> dict[str, Any] | None:
        """Gas of `receipt` by category and contract; None if no traced run adds up to it."""
        data = bytes(receipt.transaction.data)
        zeros = data.count(0)
        calldata = 4 * zeros + 16 * (len(data) - zeros)
        if not runs:
            return None
        # The first run is the transaction itself; ape replays it afterwards as a call.
        run = runs[0]
        spent = INTRINSIC_GAS + calldata + sum(run["gas"].values())
        refund = spent - receipt.gas_used
        if not 0 <= refund <= spent // 5:
            return None  # not the run we think it is: better no breakdown than a wrong one
        return _summarise(run, calldata, refund, receipt.gas_used)


def _summarise(run: dict[str, Any], calldata: int, refund: int, total: int) -> dict[str, Any]:
    by_category: Counter = Counter()
    by_contract: Counter = Counter()
    for (frame, category), gas in run["gas"].items():
        by_category[category] += gas
        by_contract[frame] += gas
    return {
        "total": total,
        "intrinsic": INTRINSIC_GAS,
        "calldata": calldata,
        "storage_writes": by_category["sstore"],
        "storage_reads": by_category["sload"],
        "events": by_category["log"],
        "call_overhead": by_category["call"],
        "ecrecover": by_category["precompile"],
        "keccak": by_category["keccak"],
        "other_execution": by_category["compute"],
        "refund": -refund,
        "new_storage_slots": sum(run["new_slots"].values()),
        "by_contract": dict(by_contract.most_common()),
    }


# ------------------------------------------------------------------ the benchmark
@dataclass
class Roles:
    deployer: Any
    treasury: Any
    client: Any
    keeper: Any
    disputer: Any
    owners: list[Any]  # node owners A, B, C, D
    operators: list[Any]  # their operator keys


@dataclass
class Bench:
    d: Deployment
    chain: Any
    r: Roles
    tracer: GasTracer
    operations: dict[str, int] = field(default_factory=dict)
    breakdown: dict[str, dict[str, Any]] = field(default_factory=dict)
    nodes: list[int] = field(default_factory=list)

    def tx(self, key: str | None, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Sends one transaction; with a key, records its gas (and breakdown) under that key."""
        if key is None:
            return call(*args, **kwargs)
        with self.tracer.capture() as runs:
            receipt = call(*args, **kwargs)
        self.operations[key] = receipt.gas_used
        explained = self.tracer.explain(receipt, runs) if self.tracer.enabled else None
        if explained is not None:
            self.breakdown[key] = explained
        return receipt

    # -------------------------------------------------------------- helpers
    def fund(self, account: Any, amount: int) -> None:
        self.d.token.transfer(account, amount, sender=self.r.treasury)

    def setup_node(self, i: int, stake: int, measure: bool = False) -> int:
        d, owner, operator = self.d, self.r.owners[i], self.r.operators[i]
        key = (lambda k: k) if measure else (lambda k: None)
        receipt = self.tx(
            key("licence_buy"), d.licence.buy, 0, 1, value=DEFAULTS.tier_price, sender=owner
        )
        node = receipt.decode_logs(d.licence.LicencesPurchased)[0].firstTokenId
        self.tx(key("registry_bind_operator"), d.registry.bindOperator, node, operator, sender=owner)
        self.tx(
            key("registry_declare_capabilities"),
            d.registry.declareCapabilities,
            node,
            DEFAULT_CAPS,
            sender=owner,
        )
        # The owner keeps 1 TES: later payouts land on a non-empty balance (steady state).
        self.fund(owner, stake + E18)
        d.token.approve(d.registry, stake, sender=owner)
        self.tx(key("registry_stake"), d.registry.stake, node, stake, sender=owner)
        self.tx(key("registry_activate"), d.registry.activate, node, sender=owner)
        return node

    def request(self, replicas: int = 1, tag: int = 0) -> tuple:
        bundle = (tag + 1).to_bytes(32, "big")
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

    def create(self, key: str | None = None, replicas: int = 1) -> tuple[int, int]:
        """Creates a job (client pre-approved); returns (jobId, gas)."""
        market = self.d.market
        request = self.request(replicas, market.jobCount())
        receipt = self.tx(key, market.createJob, request, sender=self.r.client)
        return receipt.decode_logs(market.JobCreated)[0].jobId, receipt.gas_used

    def proof(self, i: int, job_id: int, commitment: bytes) -> tuple:
        sig = sign_completion(
            self.r.operators[i].private_key,
            self.chain.chain_id,
            str(self.d.market.address),
            job_id,
            self.nodes[i],
            commitment,
        )
        return (job_id, self.nodes[i], commitment, sig)

    def advance(self, seconds: int) -> None:
        self.chain.pending_timestamp += seconds
        self.chain.mine()

    def lifecycle_k1(self, keys: dict[str, str] | None = None) -> dict[str, int]:
        """create -> claim -> proof -> (dispute window) -> finalize -> withdraw, on node A."""
        k = keys or {}
        m, r = self.d.market, self.r
        job, gas = self.create(k.get("create"))
        steps = {"create": gas}
        for step, call in (
            ("claim", lambda: m.claim(job, self.nodes[0], sender=r.operators[0])),
            ("proof", lambda: m.submitProofs([self.proof(0, job, b"\xab" * 32)], sender=r.keeper)),
            ("finalize", lambda: m.finalize(job, sender=r.keeper)),
            ("withdraw", lambda: m.withdraw(sender=r.owners[0])),
        ):
            if step == "finalize":
                self.advance(WINDOWS["disputeWindow"] + 1)
            steps[step] = self.tx(k.get(step), call).gas_used
        return steps

    def lifecycle_k3(self, measure: bool) -> dict[str, int]:
        """create -> 3 claims -> 3 commitments -> 3 reveals (the last settles) -> 3 withdraws,
        each its own transaction, sent by the replica's own operator or owner."""
        m, r = self.d.market, self.r
        key = (lambda k: k) if measure else (lambda k: None)
        job, gas = self.create(key("market_create_job_k3"), replicas=3)
        steps = {"create": gas}
        result = b"\xcd" * 32
        salts = [bytes([0x50 + i]) * 32 for i in range(3)]
        for i in range(3):
            call = lambda i=i: m.claim(job, self.nodes[i], sender=r.operators[i])  # noqa: E731
            k = key("market_claim_k3_last") if i == 2 else None
            steps[f"claim {i + 1}"] = self.tx(k, call).gas_used
        for i in range(3):
            proof = self.proof(i, job, commitment_of(job, self.nodes[i], result, salts[i]))
            call = lambda p=proof, i=i: m.submitProofs([p], sender=r.operators[i])  # noqa: E731
            k = key("market_commit_k3_last" if i == 2 else "market_commit_k3")
            steps[f"commit {i + 1}"] = self.tx(k, call).gas_used
        for i in range(3):
            rv = (job, self.nodes[i], result, salts[i])
            call = lambda rv=rv, i=i: m.reveal([rv], sender=r.operators[i])  # noqa: E731
            k = key("market_reveal_k3_last" if i == 2 else "market_reveal_k3")
            steps[f"reveal {i + 1}"] = self.tx(k, call).gas_used
        for i in range(3):
            steps[f"withdraw {i + 1}"] = m.withdraw(sender=r.owners[i]).gas_used
        return steps

    def proof_batch(self, n: int) -> int:
        """One submitProofs transaction carrying proofs of n different k = 1 jobs."""
        m, r = self.d.market, self.r
        jobs = [self.create()[0] for _ in range(n)]
        for job in jobs:
            m.claim(job, self.nodes[0], sender=r.operators[0])
        proofs = [self.proof(0, job, (job).to_bytes(32, "big")) for job in jobs]
        key = f"proof_batch_{n}"
        receipt = self.tx(key, m.submitProofs, proofs, sender=r.keeper)
        self.operations.pop(key)
        if key in self.breakdown:
            self.breakdown[f"proof relay, batch of {n} (whole tx)"] = self.breakdown.pop(key)
        return receipt.gas_used

    def permit(self, amount: int) -> tuple[int, int, bytes, bytes]:
        token, owner = self.d.token, self.r.client
        _, name, version, chain_id, verifying, _, _ = token.eip712Domain()
        deadline = self.chain.pending_timestamp + 3_600
        message = encode_typed_data(
            domain_data={
                "name": name,
                "version": version,
                "chainId": chain_id,
                "verifyingContract": str(verifying),
            },
            message_types={
                "Permit": [
                    {"name": "owner", "type": "address"},
                    {"name": "spender", "type": "address"},
                    {"name": "value", "type": "uint256"},
                    {"name": "nonce", "type": "uint256"},
                    {"name": "deadline", "type": "uint256"},
                ]
            },
            message_data={
                "owner": str(owner.address),
                "spender": str(self.d.market.address),
                "value": amount,
                "nonce": token.nonces(owner),
                "deadline": deadline,
            },
        )
        signed = Account.sign_message(message, owner.private_key)
        return deadline, signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")


def default_roles(accounts: Any) -> Roles:
    """Roles from the test accounts (as tests/conftest.py assigns them)."""
    test = accounts.test_accounts if hasattr(accounts, "test_accounts") else accounts
    extra = [test.generate_test_account() for _ in range(3)]
    return Roles(
        deployer=test[0],
        treasury=test[1],
        client=test[2],
        keeper=test[5],
        disputer=test[6],
        owners=[test[3], test[7], test[8], test[9]],
        operators=[test[4], *extra],
    )


def measure(
    project: Any,
    accounts: Any,
    chain: Any,
    *,
    batch_sizes: Sequence[int] = DEFAULT_BATCHES,
    network: str = "",
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Deploys a fresh network, runs every operation once (and the lifecycles in steady state)
    and returns the report written to docs/gas.json."""
    started = time.monotonic()
    r = default_roles(accounts)
    for account in [*r.operators, r.keeper, r.disputer]:
        if account.balance == 0:  # generated keys on a node that does not pre-fund them
            r.deployer.transfer(account, 10**18)
    log("deploying")
    d = deploy_all(project, r.deployer, r.treasury)
    names = {str(c.address): n for n, c in zip(d.addresses(), _contracts(d), strict=True)}
    b = Bench(d=d, chain=chain, r=r, tracer=GasTracer(chain.provider, names))
    m, token = d.market, d.token
    epoch0 = d.rewards.currentEpoch()

    log("setting up nodes")
    collateral_budget = JOB_COLLATERAL * (sum(batch_sizes) + 10)
    stake = 5 * DEFAULTS.min_stake + collateral_budget
    b.nodes.append(b.setup_node(0, stake))  # node A: the first licence ever sold
    b.nodes.append(b.setup_node(1, stake, measure=True))  # node B: measured
    b.nodes.append(b.setup_node(2, stake))
    b.nodes.append(b.setup_node(3, 5 * DEFAULTS.min_stake))  # node D: for the slashing path

    jobs_needed = sum(batch_sizes) + 20
    b.fund(r.client, JOB_PAYMENT * jobs_needed + E18)
    b.tx("token_approve", token.approve, m, JOB_PAYMENT * jobs_needed, sender=r.client)
    b.fund(r.disputer, 10 * JOB_COLLATERAL)
    token.approve(m, 10 * JOB_COLLATERAL, sender=r.disputer)

    log("k = 1 lifecycles")
    first = b.lifecycle_k1()
    steady = b.lifecycle_k1(
        {
            "create": "market_create_job",
            "claim": "market_claim",
            "proof": "market_submit_proof_k1",
            "finalize": "market_finalize",
            "withdraw": "market_withdraw",
        }
    )

    log("k = 3 lifecycles")
    b.lifecycle_k3(measure=False)
    k3 = b.lifecycle_k3(measure=True)

    log(f"proof relay in batches of {', '.join(map(str, batch_sizes))}")
    relay_tx = {str(n): b.proof_batch(n) for n in batch_sizes}

    log("other operations")
    # dispute: a proven k = 1 job, disputed inside its window
    job, _ = b.create()
    m.claim(job, b.nodes[0], sender=r.operators[0])
    m.submitProofs([b.proof(0, job, b"\xee" * 32)], sender=r.keeper)
    b.tx("market_dispute", m.dispute, job, sender=r.disputer)
    # expire an Open job (nobody claimed) and a Running one (node D never proves: slashed)
    open_job, _ = b.create()
    running_job, _ = b.create()
    m.claim(running_job, b.nodes[3], sender=r.operators[3])
    b.advance(WINDOWS["claimWindow"] + 1)
    b.tx("market_expire_open", m.expire, open_job, sender=r.keeper)
    b.advance(WINDOWS["executionWindow"])
    b.tx("market_expire_running", m.expire, running_job, sender=r.keeper)
    # createJobWithPermit (replaces the client's allowance with the permit's; re-approved after)
    request = b.request(1, m.jobCount())
    deadline, v, rr, s = b.permit(JOB_PAYMENT)
    b.tx(
        "market_create_job_with_permit",
        m.createJobWithPermit,
        request,
        deadline,
        v,
        rr,
        s,
        sender=r.client,
    )
    b.tx("market_flush_fees", m.flushFees, sender=r.keeper)
    # heartbeats: node B first (the epoch's first live node), then node A is measured
    d.rewards.heartbeat([b.nodes[1]], sender=r.operators[1])
    b.tx("rewards_heartbeat", d.rewards.heartbeat, [b.nodes[0]], sender=r.operators[0])
    if d.rewards.currentEpoch() != epoch0:
        raise RuntimeError("the benchmark crossed an epoch boundary: results would mix costs")
    # rewards: the next epoch begins; close epoch 0, then node A's owner claims
    genesis, length = d.rewards.genesisTime(), d.rewards.epochLength()
    next_epoch = genesis + (epoch0 + 1) * length
    b.advance(max(1, next_epoch - chain.pending_timestamp + 1))
    b.tx("rewards_checkpoint", d.rewards.checkpoint, 10, sender=r.keeper)
    b.tx("rewards_claim", d.rewards.claim, [b.nodes[0]], sender=r.owners[0])

    per_job = {n: relay_tx[n] // int(n) for n in relay_tx}
    k1_total, k3_total = sum(steady.values()), sum(k3.values())
    largest = str(max(batch_sizes))
    report: dict[str, Any] = {
        "generated_by": "ape run gas",
        "network": network,
        "evm": f"py-evm {b.tracer.fork} rules" if b.tracer.enabled else "node",
        "contracts_evm_version": "cancun",
        "lifecycle_k1_total": k1_total,
        "lifecycle_k1": {K1_STEPS[k]: v for k, v in steady.items()},
        "lifecycle_k1_first_job_total": sum(first.values()),
        "lifecycle_k1_first_job": {K1_STEPS[k]: v for k, v in first.items()},
        "lifecycle_k3_total": k3_total,
        "lifecycle_k3": k3,
        "proof_relay_per_job": per_job,
        "proof_relay_tx": relay_tx,
        "operations": {k: b.operations[k] for k in OPERATION_LABELS if k in b.operations},
        "targets": {
            "lifecycle_k1_total": _target(k1_total, TARGETS["lifecycle_k1_total"]),
            f"proof_relay_per_job_{largest}": _target(
                per_job[largest], TARGETS["proof_relay_per_job_100"]
            ),
        },
        "breakdown": b.breakdown,
        "seconds": round(time.monotonic() - started, 1),
    }
    return report


def _target(measured: int, target: int) -> dict[str, Any]:
    return {"measured": measured, "target": target, "met": measured <= target}


def _contracts(d: Deployment) -> tuple[Any, ...]:
    return (d.token, d.licence, d.registry, d.rewards, d.market)


# ------------------------------------------------------------------ output
def render_tables(report: dict[str, Any]) -> list[Any]:
    from rich.table import Table

    ops = Table(title="Gas per operation", title_justify="left")
    ops.add_column("operation")
    ops.add_column("gas", justify="right")
    for key, gas in report["operations"].items():
        ops.add_row(OPERATION_LABELS[key], f"{gas:,}")

    life = Table(title="Lifecycles and proof relay", title_justify="left")
    life.add_column("what")
    life.add_column("gas", justify="right")
    life.add_column("target", justify="right")
    t = report["targets"]
    life.add_row("k = 1 lifecycle, steady state (5 tx)", f"{report['lifecycle_k1_total']:,}",
                 _verdict(t["lifecycle_k1_total"]))
    life.add_row("k = 1 lifecycle, first job ever", f"{report['lifecycle_k1_first_job_total']:,}", "")
    life.add_row("k = 3 lifecycle, steady state (13 tx)", f"{report['lifecycle_k3_total']:,}", "")
    largest = max(report["proof_relay_per_job"], key=int)
    for n, gas in report["proof_relay_per_job"].items():
        verdict = _verdict(t[f"proof_relay_per_job_{n}"]) if n == largest else ""
        life.add_row(f"proof relay per job, {n} per tx", f"{gas:,}", verdict)
    return [ops, life]


def _verdict(t: dict[str, Any]) -> str:
    return f"<= {t['target']:,} {'met' if t['met'] else 'MISSED'}"


BREAKDOWN_COLUMNS = (
    ("intrinsic", "intrinsic"),
    ("calldata", "calldata"),
    ("storage_writes", "SSTORE"),
    ("storage_reads", "SLOAD"),
    ("events", "LOG"),
    ("call_overhead", "CALL"),
    ("ecrecover", "ecrecover"),
    ("keccak", "keccak"),
    ("other_execution", "other"),
    ("refund", "refund"),
)


def _row(cells: Sequence[Any]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def render_markdown(report: dict[str, Any], command: str = "make gas") -> str:
    """docs/gas.md: the tables, how they were made, and what the gas is spent on."""
    ops, k1, k1_first, k3 = (
        report["operations"],
        report["lifecycle_k1"],
        report["lifecycle_k1_first_job"],
        report["lifecycle_k3"],
    )
    bd = report["breakdown"]
    relay = report["proof_relay_per_job"]
    largest = max(relay, key=int)
    t_k1 = report["targets"]["lifecycle_k1_total"]
    t_relay = report["targets"][f"proof_relay_per_job_{largest}"]
    out = [
        "# Gas costs",
        "",
        f"Generated by `{command}` (`ape run gas`, [scripts/gas.py](../scripts/gas.py)) on"
        f" `{report['network']}` ({report['evm']}; contracts compiled for"
        f" {report['contracts_evm_version']}, optimizer 200 runs). Every number is the"
        " `gas_used` of a mined transaction's receipt. Do not edit by hand: rerun the command.",
        "",
        "Steady state: each lifecycle is measured on its second run, after a warm-up job of the"
        " same kind, so one-off first-time costs (the job counter, the market's and a keeper's"
        " first balance, a node's first work record) are not in it, and every account involved"
        " already holds TES. The client pre-approved a large allowance once; node owners withdraw"
        " after every job (so each payout credits an empty balance: see the notes).",
        "",
        "## Targets",
        "",
        _row(("what", "measured", "target", "")),
        _row(("---", "---:", "---:", "---")),
        _row(
            (
                "k = 1 lifecycle, total of 5 transactions",
                _n(t_k1["measured"]),
                _n(t_k1["target"]),
                "met" if t_k1["met"] else "**missed**",
            )
        ),
        _row(
            (
                f"proof relay, per job, {largest} proofs per transaction",
                _n(t_relay["measured"]),
                _n(t_relay["target"]),
                "met" if t_relay["met"] else "**missed**",
            )
        ),
        "",
        "## k = 1 lifecycle (optimistic)",
        "",
        _row(("step", "sent by", "steady state", "first job ever")),
        _row(("---", "---", "---:", "---:")),
    ]
    senders = ("client", "operator", "anyone (keeper)", "anyone (keeper)", "node owner")
    for (step, gas), sender in zip(k1.items(), senders, strict=True):
        out.append(_row((step, sender, _n(gas), _n(k1_first.get(step)))))
    out.append(
        _row(
            (
                "**total**",
                "",
                f"**{_n(report['lifecycle_k1_total'])}**",
                _n(report["lifecycle_k1_first_job_total"]),
            )
        )
    )
    out += [
        "",
        "## k = 3 lifecycle (commit-reveal)",
        "",
        "Each claim, commitment, reveal and withdrawal is its own transaction, sent by the"
        " replica's operator or owner (13 transactions). The last reveal settles the job: it"
        " releases three collaterals, records work for three nodes and credits three owners.",
        "",
        _row(("step", "gas")),
        _row(("---", "---:")),
        *(_row((step, _n(gas))) for step, gas in k3.items()),
        _row(("**total**", f"**{_n(report['lifecycle_k3_total'])}**")),
        "",
        "## Proof relay",
        "",
        "One `submitProofs` transaction carrying N proofs of N different k = 1 jobs (each proof"
        " accepts its job's result); per job = transaction gas / N.",
        "",
        _row(("proofs per transaction", "transaction gas", "per job")),
        _row(("---:", "---:", "---:")),
        *(
            _row((n, _n(report["proof_relay_tx"][n]), _n(per_job)))
            for n, per_job in relay.items()
        ),
        "",
        "## Per operation",
        "",
        _row(("operation", "gas")),
        _row(("---", "---:")),
        *(_row((OPERATION_LABELS[k], _n(v))) for k, v in ops.items()),
        "",
    ]
    out += _breakdown_section(report, largest)
    out += _notes(report, largest)
    return "\n".join(out) + "\n"


def _breakdown_section(report: dict[str, Any], largest: str) -> list[str]:
    bd = report["breakdown"]
    if not bd:
        return ["(No per-opcode breakdown: it needs the in-process EVM, `ethereum:local:test`.)", ""]
    rows = [(K1_STEPS[s], k) for s, k in zip(K1_STEPS, _K1_KEYS, strict=True)]
    rows.append((f"proof relay, per job in a batch of {largest}", f"batch:{largest}"))
    head = ["transaction", "total", *(label for _, label in BREAKDOWN_COLUMNS), "new slots"]
    out = [
        "## Where the gas goes",
        "",
        "Measured by tracing every opcode of the transaction in py-evm. intrinsic: 21,000 per"
        " transaction; calldata: 4 gas per zero byte, 16 per other byte; SSTORE / SLOAD: storage"
        " writes and reads in every contract touched (a write to an empty slot costs 20,000, or"
        " 22,100 when the slot was not read before; an update 2,900-5,000); LOG: events; CALL:"
        " the call opcodes themselves (2,600 for a contract not yet touched in the"
        " transaction); ecrecover: the signature check; other: all remaining opcodes; refund:"
        " gas returned for storage cleared; new slots: empty slots written.",
        "",
        _row(head),
        _row(["---", *["---:"] * (len(head) - 1)]),
    ]
    k1_sum: Counter = Counter()
    for label, key in rows:
        if key.startswith("batch:"):
            entry = bd.get(f"proof relay, batch of {largest} (whole tx)")
            div = int(largest)
        else:
            entry, div = bd.get(key), 1
            if entry:
                k1_sum.update({c: entry[c] for c, _ in BREAKDOWN_COLUMNS})
                k1_sum["total"] += entry["total"]
                k1_sum["new_storage_slots"] += entry["new_storage_slots"]
        if not entry:
            continue
        if key.startswith("batch:"):
            out.append(_row(["**k = 1 lifecycle**", *_cells(k1_sum, 1)]))
        out.append(_row([label, *_cells(entry, div)]))
    out += ["", "Gas spent inside each contract (all its opcodes, nested calls excluded):", ""]
    out += [_row(("transaction", "by contract")), _row(("---", "---"))]
    for label, key in rows:
        name = f"proof relay, batch of {largest} (whole tx)" if key.startswith("batch:") else key
        entry = bd.get(name)
        if entry:
            parts = ", ".join(f"{c} {_n(g)}" for c, g in entry["by_contract"].items())
            out.append(_row((label if not key.startswith("batch:") else name, parts)))
    return out + [""]


_K1_KEYS = ("market_create_job", "market_claim", "market_submit_proof_k1", "market_finalize",
            "market_withdraw")


def _cells(entry: Any, div: int) -> list[str]:
    cells = [_n(round(entry["total"] / div))]
    cells += [_n(round(entry[c] / div)) for c, _ in BREAKDOWN_COLUMNS]
    slots = entry["new_storage_slots"] / div
    cells.append(f"{slots:g}")
    return cells
