"""Stateful invariants: random sequences of market, registry and rewards actions.

A hypothesis rule-based machine drives real transactions (create k = 1 / k = 3 jobs, claim, relay
proofs, reveal agreeing or dissenting results, dispute, expire, finalize, cancel, withdraw, flush
fees, stake, unbond, activate, heartbeat, claim rewards, advance time across deadlines and epochs)
and keeps a Python model next to the chain. After every step it reads the whole state in one
`eth_call` (contracts/test/StaticMulticall.sol) and checks the invariants below.

Money: where the escrow invariant lives. DESIGN.md / the issue state it as "the market's TES
balance equals Σ open payments + Σ locked collateral + Σ credited". In this design collateral is
never moved into the market when a replica claims: it stays in the NodeRegistry as a lien on the
node's stake (`locked` <= `stake`), and only a seizure transfers it to the market, which in the same
transaction credits it or books it as protocol fees. So the issue's "Σ locked collateral" is the
lien part of Σ stake, and the invariant splits into

    market:    balanceOf(market)   == Σ open payments + Σ held dispute bonds + pendingFees + Σ credited
    registry:  balanceOf(registry) == Σ stake + Σ unbonding,  with locked <= stake per node
    combined:  market + registry   == open + bonds + fees + credited + stake + unbonding

Other invariants: a job pays (or is refunded) at most once and a terminal status never changes;
what a job credits never exceeds payment + collateral seized for it + its dispute bond, and at
settlement payment + bond + seized == credited + protocol fee exactly; each node's `locked` equals
the collateral of its replicas in unsettled jobs; rewards claimed <= funded, the rewards balance
equals funded - claimed and covers everything claimable; minted == the schedule of closed epochs;
supply <= cap.

Profiles: the default run is bounded for CI (`make test`, well under 90 s on 2 cores);
`HYPOTHESIS_PROFILE=long` soaks locally; the `anvil` variant runs a smaller machine on anvil
(`ape test -m anvil --network ethereum:local:foundry`).
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from types import SimpleNamespace

import ape
import pytest
from eth_abi import decode, encode
from eth_utils import keccak
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from oracle.prove import commitment_of
from tests.utils.constants import DAY, DEFAULT_CAPS, E18, MIN_STAKE, NO_REQUIREMENTS, WINDOWS

# IJobMarket.JobStatus / ReplicaState, INodeRegistry.NodeStatus
OPEN, RUNNING, REVEALING, ACCEPTED, PAID, CANCELLED, EXPIRED, FAILED, OVERTURNED = range(1, 10)
TERMINAL = {PAID, CANCELLED, EXPIRED, FAILED, OVERTURNED}
CLAIMED, COMMITTED, REVEALED = 1, 2, 3
INACTIVE, ACTIVE, JAILED, RETIRED = range(4)

MAX_UNSETTLED = 3  # more jobs in flight only dilute each one's chance to reach settlement
N_NODES = 6  # k = 1 original + 3 dispute replicas, with two spare for jailed nodes
NODE_STAKE = 5 * MIN_STAKE
ACCOUNT_FUNDS = 2_000_000 * E18
MAX_UINT = 2**256 - 1
# A transaction's timestamp is at least the pending timestamp read before it, and (ape-test follows
# the wall clock) may be a little later: only act "before a deadline" with this much slack.
SLACK = 60
RESULTS = {name: keccak(b"result: " + name.encode()) for name in ("good", "bad", "other")}
WINDOW_SETS = [
    WINDOWS,
    dict(claimWindow=600, executionWindow=1_200, revealWindow=600, disputeWindow=900),
]
# Crossing the short and default claim, execution, reveal and dispute windows, an epoch and the
# jail period, and the unbonding delay.
TIME_STEPS = [30, 300, 700, 1_300, 1_900, 3_700, 7_300, DAY + 100, 3 * DAY, 8 * DAY]

# Shrinking replays the machine hundreds of times (minutes): CI reports the first failing sequence
# as found (short enough to read, with a @reproduce_failure blob), the soak profile shrinks it.
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)
PROFILES = {
    "default": dict(max_examples=10, stateful_step_count=30, phases=NO_SHRINK),
    "long": dict(max_examples=300, stateful_step_count=60),
}
ANVIL_PROFILE = dict(max_examples=8, stateful_step_count=25, phases=NO_SHRINK)
# What the runs exercised (transactions by function, settlements by outcome); printed with -s.
COVERAGE: Counter = Counter()
STATUS_NAMES = {
    PAID: "Paid",
    CANCELLED: "Cancelled",
    EXPIRED: "Expired",
    FAILED: "Failed",
    OVERTURNED: "Overturned",
}


def _settings(**kw):
    return settings(
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        print_blob=True,
        **kw,
    )


# ---------------------------------------------------------------------- batched reads
class View:
    """Encodes and decodes one view function by hand, for StaticMulticall."""

    def __init__(self, handler):
        abi = handler.abis[0]
        self.target = handler.contract.address
        self.selector = keccak(text=abi.selector)[:4]
        self.ins = [i.canonical_type for i in abi.inputs]
        self.outs = [o.canonical_type for o in abi.outputs]
        out = abi.outputs[0]
        self.fields = (
            [c.name for c in out.components] if out.components and len(abi.outputs) == 1 else None
        )

    def calldata(self, *args):
        return self.selector + encode(self.ins, list(args))

    def decode(self, data):
        values = decode(self.outs, bytes(data))
        if self.fields:
            return SimpleNamespace(**dict(zip(self.fields, values[0], strict=True)))
        return values[0] if len(values) == 1 else values


class Batch:
    def __init__(self, lens):
        self.lens = lens
        self.calls = []

    def add(self, view, *args):
        self.calls.append((view, args))
        return len(self.calls) - 1

    def run(self):
        raw = self.lens.read(
            [v.target for v, _ in self.calls], [v.calldata(*a) for v, a in self.calls]
        )
        return [v.decode(r) for (v, _), r in zip(self.calls, raw, strict=True)]


# ---------------------------------------------------------------------- model
@dataclass
class Rep:
    node: int
    round: int
    state: int = CLAIMED
    result: bytes | None = None
    salt: bytes = b""

    def __repr__(self):
        return f"replica(node{self.node}, round {self.round})"


@dataclass
class JobM:
    id: int
    client: object
    payment: int
    collateral: int
    k: int
    status: int = OPEN
    round: int = 0
    deadline: int = 0
    reps: list[Rep] = field(default_factory=list)
    result: bytes | None = None  # k = 1: the proven result
    bond: int = 0
    credited: int = 0
    seized: int = 0
    fee: int | None = None  # protocol fee booked at settlement
    paid_events: int = 0
    settlements: int = 0

    def __repr__(self):
        return f"job{self.id}"

    def current(self, state=None):
        return [
            r for r in self.reps if r.round == self.round and (state is None or r.state == state)
        ]

    @property
    def settled(self):
        return self.status in TERMINAL


@dataclass
class NodeM:
    id: int
    owner: object
    operator: object
    stake: int
    unbonding: int = 0
    # mirrored from the chain after every step
    status: int = ACTIVE
    locked: int = 0
    release_at: int = 0
    jailed_until: int = 0
    claimable: int = 0
    live_epoch: int = -1  # last epoch this node proved liveness in

    def __repr__(self):
        return f"node{self.id}"


@dataclass
class World:
    """Everything set up once per test; each example runs in a chain snapshot on top of it."""

    chain: object
    market: object
    token: object
    registry: object
    rewards: object
    licence: object
    lens: object
    sign_proof: object
    nodes: list  # (nodeId, owner, operator)
    clients: list
    disputers: list
    relayers: list
    actors: list  # addresses of every account that can be credited
    accounts: dict  # address -> account
    dispute_replicas: int
    licences: int  # licences minted (all nodes the registry can hold stake for)
    views: SimpleNamespace
    market_events: list
    cap: int
    initial_emission: int
    halving_epochs: int


def _emission(w: World, epoch: int) -> int:
    halvings = epoch // w.halving_epochs
    return 0 if halvings > 255 else w.initial_emission >> halvings


def _emission_sum(w: World, start: int, end: int) -> int:
    """Σ emissionForEpoch(e) for start <= e < end, by halving period."""
    total, e = 0, start
    while e < end:
        period_end = min(end, (e // w.halving_epochs + 1) * w.halving_epochs)
        total += (period_end - e) * _emission(w, e)
        e = period_end
    return total


# ---------------------------------------------------------------------- the machine
class EscrowMachine(RuleBasedStateMachine):
    """The model next to the chain. One rule, `step`, draws a weighted action among those that
    can run now. (With one rule per action, hypothesis's swarm testing switches a random subset of
    rules off in each example; at the dozen examples CI affords, most examples then never settle a
    job.) `check` runs after every step."""

    world: World  # set by the test before running

    # Drawn in this order, so shrinking prefers the first; the weight repeats an action.
    ACTIONS = (
        ("progress", 5),
        ("progress_all", 4),
        ("create", 3),
        ("expire", 2),
        ("advance_time", 2),
        ("manage_node", 2),
        ("dispute", 2),
        ("cancel", 1),
        ("withdraw", 1),
        ("flush_fees", 1),
        ("heartbeat", 1),
        ("claim_rewards", 1),
        ("poke_settled", 1),
    )

    def __init__(self):
        super().__init__()
        w = self.w = type(self).world
        self.snapshot = w.chain.snapshot()
        self.jobs: dict[int, JobM] = {}
        self.nodes = {nid: NodeM(nid, owner, op, NODE_STAKE) for nid, owner, op in w.nodes}
        self.credited = defaultdict(int)  # account address -> credited, from events
        self.touched: set[int] = set()
        self.settled_now: list[JobM] = []
        self.fees_before = 0
        self.now = 0
        self.epoch = 0
        self._first = True
        self.market_offset = 0
        self.supply_offset = 0
        self.pre_jobs = 0
        self.clean = True  # no step or check has failed (teardown checks only a clean run)

    def teardown(self):
        try:
            if self.clean:
                # Terminal states never change: re-read every job once at the end.
                self._check_jobs(self._read(all_jobs=True))
        finally:
            self.w.chain.restore(self.snapshot)

    @rule(data=st.data())
    def step(self, data):
        self.clean = False
        choices = [name for name, weight in self.ACTIONS if self._can(name) for _ in range(weight)]
        action = data.draw(st.sampled_from(choices), label="action")
        getattr(self, action)(data)
        self.clean = True

    def _can(self, action):
        can = {
            "progress": self._progressable,
            "progress_all": self._progressable,
            "create": lambda: sum(not j.settled for j in self.jobs.values()) < MAX_UNSETTLED,
            "expire": self._expirable,
            "dispute": self._disputable,
            "cancel": self._cancellable,
            "withdraw": lambda: any(v > 0 for v in self.credited.values()),
            "flush_fees": lambda: self.fees_before > 0,
            "heartbeat": self._not_live,
            "claim_rewards": self._rewarded_owners,
            "poke_settled": self._settled_jobs,
        }.get(action)
        return can is None or bool(can())

    # ------------------------------------------------------------------ tx helper
    def _send(self, call, *args, sender):
        tx = call(*args, sender=sender)
        COVERAGE[call.abis[0].name] += 1
        work = paid = 0
        for log in tx.decode_logs(self.w.market_events):
            a = log.event_arguments
            name = log.event_name
            if name == "WorkRecorded":
                work += a["amount"]
                continue
            if name == "Withdrawn":
                assert a["amount"] == self.credited[a["account"]], (
                    "withdraw paid other than credited"
                )
                self.credited[a["account"]] -= a["amount"]
                continue
            job = self.jobs[a["jobId"]] if a.get("jobId") in self.jobs else None
            if name == "Credited":
                assert a["account"] in self.w.actors, f"credited an account outside the model: {a}"
                self.credited[a["account"]] += a["amount"]
                job.credited += a["amount"]
            elif name == "CollateralSeized":
                job.seized += a["amount"]
                self.nodes[a["nodeId"]].stake -= a["amount"]
            elif name == "BondPosted":
                job.bond = a["amount"]
            elif name == "JobPaid":
                job.paid_events += 1
                job.settlements += 1
                paid += a["paidToNodes"]
            elif name in ("JobFailed", "JobOverturned", "JobCancelled"):
                job.settlements += 1
            elif name == "JobExpired" and job.round == 0:
                job.settlements += 1  # refund; a round-1 expiry pays the original instead (JobPaid)
        # Rewards count as work exactly what the market paid the nodes for a job.
        assert work == paid, f"work recorded {work} != paid to nodes {paid}"
        return tx

    def _before(self, job):
        return self.now + SLACK <= job.deadline

    def _after(self, job):
        return self.now > job.deadline

    # Draws by id and name, so that a failing example prints as a short, readable list.
    def _job(self, data, jobs):
        return self.jobs[data.draw(st.sampled_from([j.id for j in jobs]), label="job")]

    def _node(self, data, nodes):
        return self.nodes[data.draw(st.sampled_from([n.id for n in nodes]), label="node")]

    def _relayer(self, data):
        return data.draw(st.sampled_from(self.w.relayers), label="relayer")

    # ------------------------------------------------------------------ client
    def create(self, data):
        w = self.w
        k = data.draw(st.sampled_from([1, 3]), label="k")
        # Odd wei amounts exercise the rounding of fees, bounties and splits.
        payment = data.draw(st.integers(1, 300), label="TES") * E18 + data.draw(
            st.integers(0, 10**6), label="wei"
        )
        collateral = (
            payment
            * data.draw(st.sampled_from([1_000, 2_500, 10_000, 30_000]), label="collateral bps")
            // 10_000
        )
        windows = WINDOW_SETS[data.draw(st.integers(0, len(WINDOW_SETS) - 1), label="windows")]
        sender = data.draw(st.sampled_from(w.clients), label="client")
        req = (
            keccak(b"bundle %d" % len(self.jobs)),
            "file:///bundles/job.tar",
            NO_REQUIREMENTS,
            payment,
            collateral,
            k,
            windows["claimWindow"],
            windows["executionWindow"],
            windows["revealWindow"],
            windows["disputeWindow"],
        )
        tx = self._send(w.market.createJob, req, sender=sender)
        job_id = tx.decode_logs(w.market.JobCreated)[0].jobId
        deadline = tx.timestamp + windows["claimWindow"]
        self.jobs[job_id] = JobM(job_id, sender, payment, collateral, k, deadline=deadline)
        self.touched.add(job_id)

    def _cancellable(self):
        return [j for j in self.jobs.values() if j.status == OPEN and j.round == 0 and not j.reps]

    def cancel(self, data):
        job = self._job(data, self._cancellable())
        self._send(self.w.market.cancel, job.id, sender=job.client)
        job.status = CANCELLED
        self._settle_now(job)
        if data.draw(st.booleans(), label="withdraw the refund now"):
            self._withdraw(job.client.address)

    def _disputable(self):
        return [
            j
            for j in self.jobs.values()
            if j.status == ACCEPTED and j.round == 0 and self._before(j)
        ]

    def dispute(self, data):
        job = self._job(data, self._disputable())
        disputer = data.draw(st.sampled_from(self.w.disputers), label="disputer")
        self._send(self.w.market.dispute, job.id, sender=disputer)
        assert job.bond == job.collateral
        job.round, job.k, job.status = 1, self.w.dispute_replicas, OPEN
        self.touched.add(job.id)

    # ------------------------------------------------------------------ replicas: moving a job on
    # A job's natural next step (claim, prove, reveal, finalize) is one rule, so that random
    # sequences of ~30 steps still reach settlements; `progress_all` takes the whole step at once
    # (every claim, every proof, every reveal), `progress` a random part of it.
    def _free_nodes(self, job):
        taken = {r.node for r in job.reps}
        return [
            n
            for n in self.nodes.values()
            if n.status == ACTIVE and n.id not in taken and n.stake - n.locked >= job.collateral
        ]

    def _progressable(self):
        out = []
        for j in self.jobs.values():
            if j.status == OPEN and self._before(j) and self._free_nodes(j):
                out.append(j)
            elif j.status == RUNNING and self._before(j) and j.current(CLAIMED):
                out.append(j)
            elif j.status == REVEALING and self._before(j) and j.current(COMMITTED):
                out.append(j)
            elif j.status == ACCEPTED and self._after(j):
                out.append(j)
        return out

    def progress(self, data):
        self._progress(data, everything=False)

    def progress_all(self, data):
        self._progress(data, everything=True)

    def _progress(self, data, everything):
        job = self._job(data, self._progressable())
        self.touched.add(job.id)
        if job.status == OPEN:
            free = self._free_nodes(job)
            want = min(job.k - len(job.current()), len(free))
            count = want if everything else data.draw(st.integers(1, want), label="claims")
            for node_id in data.draw(st.permutations([n.id for n in free]), label="nodes")[:count]:
                self._claim(job, self.nodes[node_id])
        elif job.status == RUNNING:
            self._prove(data, job, self._subset(data, job.current(CLAIMED), everything))
        elif job.status == REVEALING:
            self._reveal(data, job, self._subset(data, job.current(COMMITTED), everything))
        else:
            self._send(self.w.market.finalize, job.id, sender=self._relayer(data))
            job.status = PAID
            self._settle_now(job)

    @staticmethod
    def _subset(data, pending, everything):
        if everything or len(pending) == 1:
            return pending
        count = data.draw(st.integers(1, len(pending)), label="replicas")
        order = data.draw(st.permutations(range(len(pending))), label="order")
        return [pending[i] for i in order[:count]]

    def _claim(self, job, node):
        self._send(self.w.market.claim, job.id, node.id, sender=node.operator)
        job.reps.append(Rep(node.id, job.round))
        node.locked += job.collateral  # refreshed from the chain after the step
        if len(job.current()) == job.k:
            job.status = RUNNING

    def _prove(self, data, job, reps):
        w = self.w
        optimistic = job.round == 0 and job.k == 1
        proofs = []
        for rep in reps:
            # Mostly the true result, sometimes a wrong one: a dispute re-run upholds a true
            # original and overturns a wrong one, unless its own replicas dissent.
            rep.result = RESULTS[
                data.draw(st.sampled_from(["good", "good", "bad", "other"]), label="result")
            ]
            if optimistic:
                commitment = rep.result
            else:
                rep.salt = keccak(b"salt %d" % data.draw(st.integers(0, 2**32), label="salt"))
                commitment = commitment_of(job.id, rep.node, rep.result, rep.salt)
            proofs.append(w.sign_proof(self.nodes[rep.node].operator, job.id, rep.node, commitment))
        self._send(w.market.submitProofs, proofs, sender=self._relayer(data))
        for rep in reps:
            rep.state = COMMITTED
        if optimistic:
            job.result = reps[0].result
            job.status = ACCEPTED
        elif not job.current(CLAIMED):
            job.status = REVEALING

    def _reveal(self, data, job, reps):
        w = self.w
        reveals = [(job.id, r.node, r.result, r.salt) for r in reps]
        self._send(w.market.reveal, reveals, sender=self._relayer(data))
        for rep in reps:
            rep.state = REVEALED
        if len(job.current(REVEALED)) == job.k:
            self._settle_round(job)

    # ------------------------------------------------------------------ keepers
    def _expirable(self):
        return [
            j
            for j in self.jobs.values()
            if j.status in (OPEN, RUNNING, REVEALING) and self._after(j)
        ]

    def expire(self, data):
        w = self.w
        job = self._job(data, self._expirable())
        self._send(w.market.expire, job.id, sender=self._relayer(data))
        if job.status == REVEALING:
            self._settle_round(job)
        elif job.round == 0:
            job.status = EXPIRED
            self._settle_now(job)
        else:
            job.status = PAID  # the dispute could not be re-run: the original result stands
            self._settle_now(job)

    def _settled_jobs(self):
        return [j for j in self.jobs.values() if j.settled]

    def poke_settled(self, data):
        """Every way to move a settled job again must revert (no job pays twice)."""
        w = self.w
        job = self._job(data, self._settled_jobs())
        action = data.draw(
            st.sampled_from(["finalize", "expire", "dispute", "cancel", "claim"]), label="call"
        )
        m = w.market
        if action == "finalize":
            with ape.reverts(m.JobMarketWrongStatus):
                m.finalize(job.id, sender=w.relayers[0])
        elif action == "expire":
            with ape.reverts(m.JobMarketWrongStatus):
                m.expire(job.id, sender=w.relayers[0])
        elif action == "dispute":
            with ape.reverts(m.JobMarketNotDisputable):
                m.dispute(job.id, sender=w.disputers[0])
        elif action == "cancel":
            with ape.reverts(m.JobMarketWrongStatus):
                m.cancel(job.id, sender=job.client)
        else:
            node = self.nodes[w.nodes[0][0]]
            with ape.reverts(m.JobMarketWrongStatus):
                m.claim(job.id, node.id, sender=node.operator)
        self.touched.add(job.id)

    def withdraw(self, data):
        owed = sorted(a for a, v in self.credited.items() if v > 0)
        self._withdraw(data.draw(st.sampled_from(owed), label="account"))

    def _withdraw(self, account):
        before = self.w.token.balanceOf(account)
        amount = self.credited[account]
        self._send(self.w.market.withdraw, sender=self.w.accounts[account])
        assert self.credited[account] == 0 and self.w.token.balanceOf(account) == before + amount

    def flush_fees(self, data):
        self._send(self.w.market.flushFees, sender=self._relayer(data))

    # ------------------------------------------------------------------ registry
    def _node_actions(self):
        acts = [("stake", n) for n in self.nodes.values()]
        acts += [("unbond", n) for n in self.nodes.values() if n.stake > n.locked]
        acts += [
            ("withdraw", n) for n in self.nodes.values() if n.unbonding and self.now >= n.release_at
        ]
        acts += [
            ("activate", n)
            for n in self.nodes.values()
            if n.status in (INACTIVE, JAILED)
            and n.stake >= MIN_STAKE
            and (n.status != JAILED or self.now >= n.jailed_until)
        ]
        return acts

    def manage_node(self, data):
        """Licence owner: top up stake, start unbonding, withdraw matured stake, (re)activate.
        An action no node can take falls back to a top-up."""
        reg = self.w.registry
        action = data.draw(
            st.sampled_from(["stake", "unbond", "withdraw", "activate"]), label="node action"
        )
        choices = [n for a, n in self._node_actions() if a == action]
        if not choices:
            action, choices = "stake", list(self.nodes.values())
        n = self._node(data, choices)
        if action == "stake":
            amount = data.draw(st.integers(1, 3_000), label="TES") * E18
            self._send(reg.stake, n.id, amount, sender=n.owner)
            n.stake += amount
        elif action == "unbond":
            amount = max(
                1, (n.stake - n.locked) * data.draw(st.integers(1, 100), label="% of free") // 100
            )
            self._send(reg.requestUnbond, n.id, amount, sender=n.owner)
            n.stake -= amount
            n.unbonding += amount
        elif action == "withdraw":
            before = self.w.token.balanceOf(n.owner)
            self._send(reg.withdrawUnbonded, n.id, sender=n.owner)
            assert self.w.token.balanceOf(n.owner) == before + n.unbonding
            n.unbonding = 0
        else:
            self._send(reg.activate, n.id, sender=n.owner)

    # ------------------------------------------------------------------ rewards
    def _not_live(self):
        return [n for n in self.nodes.values() if n.status == ACTIVE and n.live_epoch != self.epoch]

    def heartbeat(self, data):
        n = self._node(data, self._not_live())
        tx = self._send(self.w.rewards.heartbeat, [n.id], sender=n.operator)
        n.live_epoch = tx.decode_logs(self.w.rewards.LivenessProved)[0].epoch

    def _rewarded_owners(self):
        owed = defaultdict(int)
        for n in self.nodes.values():
            owed[n.owner.address] += n.claimable
        return sorted(a for a, v in owed.items() if v > 0)

    def claim_rewards(self, data):
        owner = data.draw(st.sampled_from(self._rewarded_owners()), label="owner")
        ids = [n.id for n in self.nodes.values() if n.owner.address == owner]
        sender = self.nodes[ids[0]].owner
        before = self.w.token.balanceOf(owner)
        tx = self._send(self.w.rewards.claim, ids, sender=sender)
        got = sum(log.amount for log in tx.decode_logs(self.w.rewards.RewardsClaimed))
        assert got > 0 and self.w.token.balanceOf(owner) == before + got

    def advance_time(self, data):
        """Time passes (across deadlines, jail and unbonding periods, epochs); a keeper may then
        close up to `checkpoint` finished epochs (0: none, the next rewards call closes them)."""
        seconds = data.draw(st.sampled_from(TIME_STEPS), label="seconds")
        checkpoint = data.draw(st.integers(0, 2), label="checkpoint epochs")
        self.w.chain.pending_timestamp += seconds
        self.w.chain.mine()
        COVERAGE["advance_time"] += 1
        if checkpoint:
            self._send(self.w.rewards.checkpoint, checkpoint, sender=self.w.relayers[0])

    # ------------------------------------------------------------------ model: settlement
    def _settle_round(self, job: JobM):
        """As JobMarket._settleRound: the most-revealed result (first seen on ties) needs > k/2."""
        revealed = job.current(REVEALED)
        best, votes = None, 0
        for i, r in enumerate(revealed):
            n = sum(1 for s in revealed[i:] if s.result == r.result)
            if n > votes:
                best, votes = r.result, n
        quorum = votes * 2 > job.k
        if job.round == 0:
            job.status = PAID if quorum else FAILED
        else:
            job.status = OVERTURNED if quorum and best != job.result else PAID
        self._settle_now(job)

    def _settle_now(self, job: JobM):
        COVERAGE[
            f"settled k={job.k if job.round == 0 else 1} round={job.round} -> {STATUS_NAMES[job.status]}"
        ] += 1
        self.settled_now.append(job)
        self.touched.add(job.id)

    # ------------------------------------------------------------------ invariants
    def _read(self, all_jobs=False):
        w, v = self.w, self.w.views
        b = Batch(w.lens)
        i_market, i_registry, i_rewards = (
            b.add(v.balanceOf, c.address) for c in (w.market, w.registry, w.rewards)
        )
        i_supply, i_fees, i_jobs = b.add(v.totalSupply), b.add(v.pendingFees), b.add(v.jobCount)
        i_minted, i_funded, i_claimed, i_closed, i_epoch = (
            b.add(v.totalMinted),
            b.add(v.totalFunded),
            b.add(v.totalClaimed),
            b.add(v.lastClosedEpoch),
            b.add(v.currentEpoch),
        )
        i_credited = [b.add(v.credited, a) for a in w.actors]
        licences = range(1, w.licences + 1)
        i_nodes = {nid: b.add(v.node, nid) for nid in licences}
        i_claimable = {nid: b.add(v.claimable, nid) for nid in licences}
        watch = [j for j in self.jobs.values() if all_jobs or not j.settled or j.id in self.touched]
        i_job = {j.id: b.add(v.job, j.id) for j in watch}
        r = b.run()
        return SimpleNamespace(
            market=r[i_market],
            registry=r[i_registry],
            rewards=r[i_rewards],
            supply=r[i_supply],
            fees=r[i_fees],
            job_count=r[i_jobs],
            minted=r[i_minted],
            funded=r[i_funded],
            claimed=r[i_claimed],
            closed=r[i_closed],
            epoch=r[i_epoch],
            credited={a: r[i] for a, i in zip(w.actors, i_credited, strict=True)},
            nodes={nid: r[i] for nid, i in i_nodes.items()},
            claimable={nid: r[i] for nid, i in i_claimable.items()},
            jobs={jid: r[i] for jid, i in i_job.items()},
        )

    @invariant()
    def check(self):
        w = self.w
        self.clean = False
        s = self._read()
        self.now = w.chain.pending_timestamp
        self.epoch = s.epoch
        if self._first:
            # Offsets for anything other tests' session fixtures left behind (zero on a fresh
            # deployment): pre-existing jobs and credits are outside the model.
            self._first = False
            self.market_offset = s.market - s.fees - sum(s.credited.values())
            if s.job_count == 0:
                assert self.market_offset == 0
            self.supply_offset = s.supply - s.minted
            self.pre_jobs = s.job_count
        self._check_jobs(s)
        self._check_money(s)
        self._check_nodes(s)
        self._check_rewards(s)
        self.fees_before = s.fees
        self.touched.clear()
        self.settled_now.clear()
        self.clean = True

    def _check_jobs(self, s):
        for jid, c in s.jobs.items():
            m = self.jobs[jid]
            assert c.status == m.status, f"job {jid}: chain status {c.status}, model {m.status}"
            assert (c.round, c.k, c.claims) == (m.round, m.k, len(m.current())), f"job {jid}"
            if not m.settled:
                commits = len(m.current()) - len(m.current(CLAIMED))
                assert (c.commits, c.reveals) == (commits, len(m.current(REVEALED))), (
                    f"job {jid}: counters"
                )
            m.deadline = c.deadline
            # No job pays twice.
            assert m.paid_events <= 1 and m.settlements <= 1, f"job {jid} settled twice"
            assert m.settlements == (1 if m.settled else 0), f"job {jid}: settlement events"
            assert (m.paid_events == 1) == (m.status == PAID), f"job {jid}: JobPaid vs status"
            # Money per job: nothing moves before settlement, and never more than came in.
            if not m.settled:
                assert m.credited == 0 and m.seized == 0, f"job {jid} credited before settlement"
            assert m.credited <= m.payment + m.seized + m.bond, f"job {jid} credited too much"
        for job in self.settled_now:
            # One job settles per step: the fee booked in this step is this job's.
            job.fee = s.fees - self.fees_before
            assert job.fee >= 0
            assert job.payment + job.bond + job.seized == job.credited + job.fee, (
                f"job {job.id} does not balance: in {job.payment} + bond {job.bond} + seized {job.seized}, "
                f"out credited {job.credited} + fee {job.fee}"
            )
        assert s.job_count == self.pre_jobs + len(self.jobs)

    def _check_money(self, s):
        for a, v in s.credited.items():
            assert v == self.credited[a], f"credited({a}) {v} != model {self.credited[a]}"
        open_payments = sum(j.payment for j in self.jobs.values() if not j.settled)
        bonds = sum(j.bond for j in self.jobs.values() if not j.settled)
        credited = sum(s.credited.values())
        assert s.market == open_payments + bonds + s.fees + credited + self.market_offset, (
            f"market {s.market} != open {open_payments} + bonds {bonds} + fees {s.fees} + credited {credited}"
        )
        stake = sum(n.stake for n in s.nodes.values())
        unbonding = sum(n.unbonding for n in s.nodes.values())
        assert s.registry == stake + unbonding, (
            f"registry {s.registry} != stake {stake} + unbonding {unbonding}"
        )
        assert s.market + s.registry == (
            open_payments + bonds + s.fees + credited + stake + unbonding + self.market_offset
        )

    def _check_nodes(self, s):
        liens = defaultdict(int)
        for j in self.jobs.values():
            if not j.settled:
                for r in j.reps:
                    liens[r.node] += j.collateral
        for nid, c in s.nodes.items():
            assert c.locked <= c.stake, f"node {nid}: locked {c.locked} > stake {c.stake}"
            m = self.nodes.get(nid)
            if m is None:
                continue
            assert (c.stake, c.unbonding) == (m.stake, m.unbonding), f"node {nid} stake/unbonding"
            assert c.locked == liens[nid], (
                f"node {nid}: locked {c.locked}, unsettled collateral {liens[nid]}"
            )
            m.status, m.locked, m.release_at, m.jailed_until = (
                c.status,
                c.locked,
                c.unbondingReleaseAt,
                c.jailedUntil,
            )
            m.claimable = s.claimable[nid]

    def _check_rewards(self, s):
        w = self.w
        assert s.claimed <= s.funded
        assert s.rewards == s.funded - s.claimed, (
            f"rewards balance {s.rewards} != {s.funded} - {s.claimed}"
        )
        schedule = _emission_sum(w, 0, s.closed)
        assert s.minted <= schedule
        assert s.minted == schedule, (
            "minted differs from the closed epochs' emission (Rewards @dev)"
        )
        assert s.supply - s.minted == self.supply_offset, "TES minted outside the rewards schedule"
        assert s.supply <= w.cap
        # Solvent: what the views promise is covered by the balance plus the emission of finished
        # epochs that the next call will close (and mint).
        unminted = _emission_sum(w, s.closed, s.epoch)
        assert sum(s.claimable.values()) <= s.rewards + unminted


# ---------------------------------------------------------------------- fixtures and tests
@pytest.fixture
def world(
    project,
    chain,
    accounts,
    deployer,
    client,
    stranger,
    keeper,
    node_owners,
    operators,
    token,
    licence,
    registry,
    rewards,
    market,
    fund,
    setup_node,
    sign_proof,
):
    lens = project.StaticMulticall.deploy(sender=deployer)
    ops = list(operators) + [
        accounts.generate_test_account() for _ in range(N_NODES - len(operators))
    ]
    for op in ops:
        if op.balance < 10**18:
            deployer.transfer(op, 10**18)
    nodes = []
    for i in range(N_NODES):
        owner = node_owners[i % len(node_owners)]
        nodes.append(
            (setup_node(owner, ops[i], caps=DEFAULT_CAPS, stake=NODE_STAKE), owner, ops[i])
        )
    clients = [client, stranger]
    disputers = [keeper, stranger, client]
    relayers = [keeper, stranger, node_owners[1]]
    for a in dict.fromkeys([*clients, *disputers]):
        fund(a, ACCOUNT_FUNDS)
        token.approve(market, MAX_UINT, sender=a)
    for owner in node_owners:
        fund(owner, ACCOUNT_FUNDS)
        token.approve(registry, MAX_UINT, sender=owner)
    actors = list(dict.fromkeys([*clients, *disputers, *relayers, *node_owners]))
    views = SimpleNamespace(
        balanceOf=View(token.balanceOf),
        totalSupply=View(token.totalSupply),
        pendingFees=View(market.pendingFees),
        jobCount=View(market.jobCount),
        credited=View(market.credited),
        job=View(market.job),
        node=View(registry.node),
        totalMinted=View(rewards.totalMinted),
        totalFunded=View(rewards.totalFunded),
        totalClaimed=View(rewards.totalClaimed),
        lastClosedEpoch=View(rewards.lastClosedEpoch),
        currentEpoch=View(rewards.currentEpoch),
        claimable=View(rewards.claimable),
    )
    events = [
        getattr(market, e)
        for e in (
            "Credited",
            "Withdrawn",
            "CollateralSeized",
            "BondPosted",
            "JobPaid",
            "JobExpired",
            "JobFailed",
            "JobOverturned",
            "JobCancelled",
        )
    ] + [rewards.WorkRecorded]
    w = World(
        chain=chain,
        market=market,
        token=token,
        registry=registry,
        rewards=rewards,
        licence=licence,
        lens=lens,
        sign_proof=sign_proof,
        nodes=nodes,
        clients=clients,
        disputers=disputers,
        relayers=relayers,
        actors=[a.address for a in actors],
        accounts={a.address: a for a in actors},
        dispute_replicas=market.parameters().disputeReplicas,
        licences=licence.totalMinted(),
        views=views,
        market_events=events,
        cap=token.cap(),
        initial_emission=rewards.initialEmission(),
        halving_epochs=rewards.halvingEpochs(),
    )
    # The model's schedule is the contract's (checked against `emissionForEpoch` where it halves).
    for e in (0, w.halving_epochs - 1, w.halving_epochs, 3 * w.halving_epochs + 1):
        assert _emission(w, e) == rewards.emissionForEpoch(e)
    return w


def _run(world, profile):
    EscrowMachine.world = world
    COVERAGE.clear()
    try:
        run_state_machine_as_test(EscrowMachine, settings=_settings(**profile))
    finally:
        print("\nexercised:", ", ".join(f"{k} x{v}" for k, v in sorted(COVERAGE.items())))


def test_escrow_registry_rewards_invariants(world):
    """Market, registry and rewards invariants hold after every step of random action sequences."""
    _run(world, PROFILES.get(os.environ.get("HYPOTHESIS_PROFILE", "default"), PROFILES["default"]))


@pytest.mark.anvil
def test_escrow_registry_rewards_invariants__on_anvil(world):
    """The same machine, shorter, on a real node (anvil): its clock, snapshots and receipts."""
    _run(world, ANVIL_PROFILE)
