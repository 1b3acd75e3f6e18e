"""The simulated network: accounts, nodes, what each actor holds, and a job driver.

Off-chain work is modelled, on-chain work is real: running a job yields a deterministic result
hash (`honest_result`), a lazy or faulty node yields another one (or nothing); every step
(create, claim, draw, accept, proofs, reveals, disputes, keeper calls, heartbeats) is a
transaction of the deployed contracts, sent by the account whose role it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth_utils import keccak

from oracle.core.protocol import JobStatus, JobTerms, NodeStatus, SeatState, check_job_id
from oracle.core.prove import commitment_of
from oracle.localnet.deployment import (
    DEFAULT_CAPS,
    E18,
    NO_REQUIREMENTS,
    TIER_PRICE,
    WINDOWS,
    Deployment,
)

MAX_UINT = 2**256 - 1
EMPTY_SIGNATURE = b""  # an operator relaying its own proof needs no signature


def honest_result(job_id: int) -> bytes:
    """What running job `job_id`'s bundle yields: the same bytes on every honest node."""
    return keccak(b"tes-econ-result" + job_id.to_bytes(32, "big"))


def wrong_result(job_id: int, tag: bytes = b"guess") -> bytes:
    """A result that was not computed (a guess, a copy of nothing, a colluders' agreed lie)."""
    return keccak(b"tes-econ-" + tag + job_id.to_bytes(32, "big"))


def failure_result(job_id: int) -> bytes:
    """The deterministic result of a bundle that fails: still a result, and still paid."""
    return keccak(b"tes-econ-failed" + job_id.to_bytes(32, "big"))


def salt_for(job_id: int, node_id: int) -> bytes:
    return keccak(b"tes-econ-salt" + job_id.to_bytes(32, "big") + node_id.to_bytes(32, "big"))


@dataclass(frozen=True)
class Node:
    id: int
    owner: Any
    operator: Any


@dataclass
class Actor:
    """One economic person: the accounts it controls and the licences it owns."""

    name: str
    owner: Any
    nodes: list[Node] = field(default_factory=list)
    extra: list[Any] = field(default_factory=list)  # operator keys, client and disputer wallets

    @property
    def accounts(self) -> list[Any]:
        seen, out = set(), []
        for a in [self.owner, *(n.operator for n in self.nodes), *self.extra]:
            if a.address not in seen:
                seen.add(a.address)
                out.append(a)
        return out

    def owns(self, node_id: int) -> bool:
        return any(n.id == node_id for n in self.nodes)


@dataclass(frozen=True)
class Position:
    """What an actor holds, in TES (wei) and ETH (wei, gas and licence purchases)."""

    tes: int
    eth: int
    wallet: int
    credited: int
    earned: int  # the job earnings in the ledgers of the actor's nodes (withdrawEarnings)
    stake: int
    claimable: int

    def minus(self, other: Position) -> dict[str, int]:
        return {k: getattr(self, k) - getattr(other, k) for k in self.__dataclass_fields__}


@dataclass
class Policy:
    """How the owner of a node behaves. The honest defaults; strategies override some."""

    def accepts(self, w: World, job_id: int, node: Node) -> bool:
        return True

    def result(self, w: World, job_id: int, node: Node) -> bytes | None:
        return w.expected(job_id)

    def reveals(self, w: World, job_id: int, node: Node) -> bool:
        return True


class World:
    def __init__(
        self, d: Deployment, chain: Any, deployer: Any, treasury: Any, keeper: Any, accounts: Any
    ):
        self.d, self.chain, self.deployer, self.treasury, self.keeper = (
            d,
            chain,
            deployer,
            treasury,
            keeper,
        )
        self._accounts = accounts
        self.nodes: dict[int, Node] = {}
        self.policies: dict[int, Policy] = {}  # node id -> owner's behaviour
        self.commits: dict[
            tuple[int, int], tuple[bytes, bytes]
        ] = {}  # (job, node) -> (result, salt)
        self.jobs: list[int] = []  # jobs of the current epoch still to drive
        # Every job's terms, from its JobCreated log: what claim / cancel / dispute / finalize /
        # expire take. An id is the hash of its terms, so this only grows, across snapshots too.
        self.terms: dict[int, JobTerms] = {}
        self.verifiers: dict[int, Any] = {}  # k = 1 job -> the client who checks it and disputes
        self.disputers: list[Callable[[World, int], Any | None]] = []
        self.failing: set[int] = set()  # jobs whose bundle fails (a deterministic failure result)
        self.population: list[Node] = []  # the honest nodes every strategy meets (simulation.py)
        self.clients: list[Any] = []  # the population's paying clients
        self._declined: set[tuple[int, int]] = set()
        self._acted: set[tuple[int, int, int, str]] = set()
        self.token = d.token
        self.token.approve(d.registry, MAX_UINT, sender=treasury)

    def expected(self, job_id: int) -> bytes:
        """What an honest node's run of `job_id` yields."""
        return failure_result(job_id) if job_id in self.failing else honest_result(job_id)

    def save(self) -> tuple:
        """The Python side of the world, to go with a chain snapshot."""
        return (list(self.jobs), dict(self.commits), dict(self.verifiers), set(self.failing),
                set(self._declined), set(self._acted), dict(self.policies), list(self.disputers))  # fmt: skip

    def load(self, saved: tuple) -> None:
        jobs, commits, verifiers, failing, declined, acted, policies, disputers = saved
        self.jobs, self.commits, self.verifiers, self.failing = (
            list(jobs),
            dict(commits),
            dict(verifiers),
            set(failing),
        )
        self._declined, self._acted = set(declined), set(acted)
        self.policies, self.disputers = dict(policies), list(disputers)

    # ------------------------------------------------------------------ accounts and nodes
    def new_account(self, tes: int = 0, eth: int = 10 * E18) -> Any:
        acct = self._accounts.generate_test_account()
        self.deployer.transfer(acct, eth)
        if tes:
            self.token.transfer(acct, tes, sender=self.treasury)
        return acct

    def new_client(self, tes: int) -> Any:
        acct = self.new_account(tes)
        self.token.approve(self.d.market, MAX_UINT, sender=acct)
        return acct

    def new_node(
        self, owner: Any, stake: int, policy: Policy | None = None, operator: Any = None
    ) -> Node:
        """Buys a licence, binds a fresh operator key (proposed, then accepted), stakes, activates.
        The stake is the owner's capital: the treasury sends it to the owner first."""
        reg = self.d.registry
        tx = self.d.licence.buy(0, 1, value=TIER_PRICE, sender=owner)
        node_id = tx.decode_logs(self.d.licence.LicencesPurchased)[0].firstTokenId
        operator = operator or self.new_account()
        reg.bindOperator(node_id, operator, sender=owner)
        reg.acceptOperator(node_id, sender=operator)
        reg.declareCapabilities(node_id, DEFAULT_CAPS, sender=owner)
        self.token.transfer(owner, stake, sender=self.treasury)
        self.token.approve(reg, stake, sender=owner)
        reg.stake(node_id, stake, sender=owner)
        reg.activate(node_id, sender=owner)
        node = Node(node_id, owner, operator)
        self.nodes[node_id] = node
        self.policies[node_id] = policy or Policy()
        return node

    def position(self, actor: Actor) -> Position:
        m, reg, rw = self.d.market, self.d.registry, self.d.rewards
        wallet = sum(self.token.balanceOf(a) for a in actor.accounts)
        credited = sum(m.credited(a) for a in actor.accounts)
        earned = stake = claimable = 0
        for n in actor.nodes:
            try:
                owner = reg.ownerOfNode(n.id)
            except Exception:  # noqa: BLE001 - a licence not bought in this branch
                continue
            if owner != actor.owner.address:
                continue
            rec = reg.node(n.id)
            stake += rec.stake + rec.unbonding
            # A node's job fees reach Rewards as its work (`push_work`), then count in `claimable`
            # once the epoch closes; what is still in the ledger counts here, at the same value.
            ledger = m.ledger(n.id)
            earned += ledger.earned + ledger.work
            claimable += rw.claimable(n.id)
        eth = sum(a.balance for a in actor.accounts)
        return Position(
            wallet + credited + earned + stake + claimable,
            eth,
            wallet,
            credited,
            earned,
            stake,
            claimable,
        )

    # ------------------------------------------------------------------ time
    def now(self) -> int:
        return self.chain.pending_timestamp

    def advance_to(self, timestamp: int) -> None:
        if timestamp > self.chain.pending_timestamp:
            self.chain.pending_timestamp = timestamp
        self.chain.mine()

    def push_work(self) -> None:
        """Sends every node's pending work (the fees of its settled jobs, kept in its market
        ledger) to Rewards, as its first settlement in a later epoch would: it counts in the
        current epoch, whose rewards the next epoch's start closes."""
        self.d.market.pushWork(sorted(self.nodes), sender=self.keeper)

    # ------------------------------------------------------------------ upkeep
    def upkeep(self) -> None:
        """What every owner does at an epoch's start: re-activate a node whose jail is over, and
        prove liveness (one heartbeat per operator key, for the nodes it serves)."""
        reg = self.d.registry
        by_operator: dict[str, tuple[Any, list[int]]] = {}
        for node in self.nodes.values():
            rec = reg.node(node.id)
            status = NodeStatus(rec.status)
            if (
                status == NodeStatus.JAILED
                and rec.jailedUntil < self.now()
                and rec.stake >= reg.minStake()
            ):
                reg.activate(node.id, sender=node.owner)
                status = NodeStatus.ACTIVE
            if status == NodeStatus.ACTIVE and reg.operatorOf(node.id) == node.operator.address:
                by_operator.setdefault(node.operator.address, (node.operator, []))[1].append(
                    node.id
                )
        for operator, ids in by_operator.values():
            self.d.rewards.heartbeat(ids, sender=operator)

    # ------------------------------------------------------------------ jobs
    def request(self, replicas: int, payment: int, collateral: int, tag: int) -> tuple:
        w = WINDOWS
        bundle = keccak(b"tes-econ-bundle" + tag.to_bytes(32, "big"))
        return (bundle, f"file:///econ/{tag}.tar", NO_REQUIREMENTS, payment, collateral, replicas,
                w["claimWindow"], w["executionWindow"], w["revealWindow"], w["disputeWindow"])  # fmt: skip

    def create_job(
        self, client: Any, replicas: int, payment: int, collateral: int, verify: bool = True
    ) -> int:
        tag = self.d.market.jobNonce(client) + 1  # the id also holds the client: ids stay distinct
        tx = self.d.market.createJob(
            self.request(replicas, payment, collateral, tag), sender=client
        )
        terms = check_job_id(tx.decode_logs(self.d.market.JobCreated)[0].event_arguments)
        job_id = terms.job_id
        self.terms[job_id] = terms
        self.jobs.append(job_id)
        if replicas == 1 and verify:
            self.verifiers[job_id] = client
        return job_id

    def terms_of(self, job_id: int) -> tuple:
        """Job `job_id`'s terms as the market's entry points take them (a JobTerms tuple)."""
        return self.terms[job_id].as_tuple()

    def claim(self, job_id: int, node: Node) -> None:
        self.d.market.claim(self.terms_of(job_id), node.id, sender=node.operator)

    def cancel(self, job_id: int, client: Any) -> None:
        self.d.market.cancel(self.terms_of(job_id), sender=client)

    def can_claim(self, node: Node) -> bool:
        ok, _ = self.d.registry.canServe(node.id, NO_REQUIREMENTS, 0)
        return bool(ok) and self.d.registry.freeStake(node.id) > 0

    def _can_take(self, node: Node, job: Any) -> bool:
        ok, operator = self.d.registry.canServe(node.id, NO_REQUIREMENTS, job.collateral)
        return bool(ok) and operator == node.operator.address

    def draw_ready(self) -> None:
        """Mines past every anchor and draws every Seating job that can be drawn."""
        m = self.d.market
        pending = [j for j in self.jobs if _status(m.job(j)) == JobStatus.SEATING]
        if not pending:
            return
        if any(m.job(j).drawBlock >= self.chain.blocks.head.number for j in pending):
            self.chain.mine()
        for j in pending:
            job = m.job(j)
            if (
                job.drawBlock != 0
                and self.chain.blocks.head.number > job.drawBlock
                and job.seated < job.k
                and self.now() <= job.deadline
            ):
                m.draw(j, sender=self.keeper)

    def seats(self, job_id: int) -> list[Any]:
        m = self.d.market
        return [m.replica(job_id, i) for i in range(m.job(job_id).replicaCount)]

    def drive(self, max_steps: int = 400) -> None:
        """Moves every job of the epoch to a terminal status: each actor acts when it is its turn;
        when nobody can act, time advances to the next deadline (keepers then expire, redraw,
        finalize)."""
        m = self.d.market
        for _ in range(max_steps):
            live = [j for j in self.jobs if not _status(m.job(j)).terminal]
            if not live:
                self.jobs = []
                return
            acted = False
            for j in live:
                acted |= self._step(j)
            if not acted:
                self.advance_to(self._next_event(live) + 1)
        raise RuntimeError(f"jobs did not settle: {self.jobs}")

    def _once(self, *key: Any) -> bool:
        if key in self._acted:
            return False
        self._acted.add(key)
        return True

    def _step(self, job_id: int) -> bool:
        m = self.d.market
        job = m.job(job_id)
        status, now = _status(job), self.now()
        if (
            status in (JobStatus.OPEN, JobStatus.SEATING, JobStatus.RUNNING, JobStatus.REVEALING)
            and now > job.deadline
        ):
            m.expire(self.terms_of(job_id), sender=self.keeper)
            return True
        if status == JobStatus.SEATING:
            return self._seating(job_id, job)
        if status == JobStatus.RUNNING:
            return self._running(job_id, job)
        if status == JobStatus.REVEALING:
            return self._revealing(job_id, job)
        if status == JobStatus.ACCEPTED:
            if now > job.deadline:
                m.finalize(self.terms_of(job_id), sender=self.keeper)
                return True
            return self._maybe_dispute(job_id, job)
        return False

    def _seating(self, job_id: int, job: Any) -> bool:
        m, now = self.d.market, self.now()
        if job.drawBlock != 0 and job.seated < job.k:
            if self.chain.blocks.head.number <= job.drawBlock:
                self.chain.mine()
            m.draw(job_id, sender=self.keeper)
            return True
        acted = False
        late = False
        for seat in self.seats(job_id):
            if SeatState(seat.state) != SeatState.DRAWN or seat.round != job.round:
                continue
            if now > seat.acceptDeadline:
                late = True
                continue
            node = self.nodes.get(seat.nodeId)
            key = (job_id, seat.nodeId)
            if node is None or key in self._declined:
                continue
            # A node jailed (or short of free stake) since it was drawn cannot take the seat: it
            # will be dropped and penalised like any late seat.
            if self.policies[node.id].accepts(self, job_id, node) and self._can_take(node, job):
                m.acceptSeat(job_id, node.id, sender=node.operator)
                acted = True
            else:
                self._declined.add(key)
        if late:
            m.redraw(job_id, sender=self.keeper)
            acted = True
        return acted

    def _running(self, job_id: int, job: Any) -> bool:
        acted = False
        for seat in self.seats(job_id):
            if SeatState(seat.state) != SeatState.CLAIMED or seat.round != job.round:
                continue
            if not self._once(job_id, seat.nodeId, job.round, "commit"):
                continue
            node = self.nodes[seat.nodeId]
            result = self.policies[node.id].result(self, job_id, node)
            if result is None:
                continue  # silent: never commits
            salt = salt_for(job_id, node.id)
            self.commits[(job_id, node.id)] = (result, salt)
            item = (job_id, node.id, commitment_of(job_id, node.id, result, salt))
            self.d.market.submitProofs([([item], EMPTY_SIGNATURE)], sender=node.operator)
            acted = True
            if _status(self.d.market.job(job_id)) != JobStatus.RUNNING:
                break
        return acted

    def _revealing(self, job_id: int, job: Any) -> bool:
        reveals = []
        for seat in self.seats(job_id):
            # Only a k = 1 job's first jury hears the original node (it reveals next to the jurors).
            original = job.round == 1 and seat.round == 0 and int(job.disputer, 16) != 0
            if SeatState(seat.state) != SeatState.COMMITTED or (
                seat.round != job.round and not original
            ):
                continue
            if not self._once(job_id, seat.nodeId, job.round, "reveal"):
                continue
            node = self.nodes[seat.nodeId]
            if not self.policies[node.id].reveals(self, job_id, node):
                continue
            result, salt = self.commits[(job_id, node.id)]
            reveals.append((job_id, node.id, result, salt))
        if reveals:
            self.d.market.reveal(reveals, sender=self.keeper)
        return bool(reveals)

    def _maybe_dispute(self, job_id: int, job: Any) -> bool:
        if not self._once(job_id, 0, 0, "dispute"):
            return False
        original = self.nodes[self.d.market.replica(job_id, 0).nodeId]
        disputer = None
        verifier = self.verifiers.get(job_id)
        # An honest client checks the files against the commitment (tes-client verify) and
        # disputes a wrong result; it cannot dispute a job its own node ran.
        if (
            verifier is not None
            and self.commits[(job_id, original.id)][0] != self.expected(job_id)
            and verifier.address not in (original.owner.address, original.operator.address)
        ):
            disputer = verifier
        for decide in self.disputers:
            disputer = disputer or decide(self, job_id)
        if disputer is None:
            return False
        self.d.market.dispute(self.terms_of(job_id), sender=disputer)
        return True

    def _next_event(self, live: list[int]) -> int:
        m = self.d.market
        times = []
        for j in live:
            job = m.job(j)
            times.append(job.deadline)
            for seat in self.seats(j):
                if SeatState(seat.state) == SeatState.DRAWN and seat.round == job.round:
                    times.append(seat.acceptDeadline)
        future = [t for t in times if t >= self.now()]
        return min(future) if future else self.now()


def _status(job: Any) -> JobStatus:
    return JobStatus(job.status)
