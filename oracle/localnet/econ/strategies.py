"""Attacker strategies. Each builds its actor (licences, stake, wallets: its capital), and says how
it deviates from honest operation; everything it does not override is honest.

Hooks, called by the simulation:
    setup(w, cfg)          -> Actor       capital, identical in both branches
    prefix(w, actor, e)                   shared steps before the branch (e.g. its own jobs)
    install(w, actor)                     the attack branch: its policies and dispute decisions
    branch(w, actor, e)                   the attack branch: extra transactions at the epoch's start
    detail(w, actor)       -> dict        what to show next to the number
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from oracle.core.protocol import SeatState
from oracle.localnet.deployment import E18, MIN_STAKE, TIER_PRICE
from oracle.localnet.econ.world import Actor, Node, Policy, World, wrong_result


def _seats_held(w: World, actor: Actor, job_id: int) -> tuple[int, int]:
    """(seats of the job's current round the actor holds, seats of that round), live seats only."""
    job = w.d.market.job(job_id)
    live = [
        s for s in w.seats(job_id) if s.round == job.round and SeatState(s.state).holds_collateral
    ]
    return sum(1 for s in live if actor.owns(s.nodeId)), len(live)


def _drawn(w: World, job_id: int) -> bool:
    """A drawn seat: a k >= 3 replica or a dispute juror (k = 1 claims are open)."""
    job = w.d.market.job(job_id)
    return job.k > 1 or job.round == 1


@dataclass
class Strategy:
    name: str = "honest"
    why: str = "the baseline: every step as the protocol expects"
    stake_share: float | None = None  # of all active stake, when the strategy depends on it
    licences: int = 1
    counters: dict[str, int] = field(default_factory=dict)

    def count(self, key: str, n: int = 1) -> None:
        self.counters[key] = self.counters.get(key, 0) + n

    def setup(self, w: World, cfg: Any) -> Actor:
        owner = w.new_account()
        actor = Actor(self.name, owner)
        stake = self._stake(cfg)
        for _ in range(self.licences):
            actor.nodes.append(w.new_node(owner, stake // self.licences))
        actor.extra = [n.operator for n in actor.nodes]
        return actor

    def _stake(self, cfg: Any) -> int:
        if self.stake_share is None:
            return cfg.honest_stake
        population = cfg.honest_stake * cfg.honest_nodes
        return int(population * self.stake_share / (1 - self.stake_share))

    def prefix(self, w: World, actor: Actor, epoch: int) -> None:
        pass

    def install(self, w: World, actor: Actor) -> None:
        pass

    def branch(self, w: World, actor: Actor, epoch: int) -> None:
        pass

    def detail(self, w: World, actor: Actor) -> dict[str, Any]:
        return {"licences": len(actor.nodes), **self.counters}


# ------------------------------------------------------------------ node strategies
class _Deviant(Policy):
    def __init__(self, strategy: Strategy, actor: Actor):
        self.s, self.actor = strategy, actor


class WashTrading(Strategy):
    """Its client wallet posts k = 1 jobs that its own node claims at once: the payment comes back
    minus the fee, the fee comes back only as the node's work share of the epoch's fees."""

    def __init__(self, jobs: int = 2):
        super().__init__(
            "wash_trading",
            "a self-paid job returns at most its own fee as work share; emission pays availability only",
        )
        self.jobs = jobs

    def setup(self, w: World, cfg: Any) -> Actor:
        actor = super().setup(w, cfg)
        self.client = w.new_client(0)
        w.token.transfer(self.client, self.jobs * cfg.payment * (cfg.epochs + 1), sender=w.treasury)
        actor.extra.append(self.client)
        self.cfg = cfg
        return actor

    def branch(self, w: World, actor: Actor, epoch: int) -> None:
        for _ in range(self.jobs):
            job_id = w.create_job(
                self.client, 1, self.cfg.payment, self.cfg.collateral, verify=False
            )
            w.claim(job_id, actor.nodes[0])
            self.count("self_paid_jobs")


class CollusionPolicy(_Deviant):
    """Honest unless the actor holds a strict majority of the round's seats: then every one of its
    seats commits the same uncomputed result and out-votes the rest."""

    def result(self, w: World, job_id: int, node: Node) -> bytes | None:
        held, total = _seats_held(w, self.actor, job_id)
        if _drawn(w, job_id) and held * 2 > total:
            seen = self.s.__dict__.setdefault("_majority_jobs", set())
            if job_id not in seen:
                seen.add(job_id)
                self.s.count("seat_majority_rounds")
            self.s.count("colluding_votes")
            return wrong_result(job_id, b"collude")
        return w.expected(job_id)


class Sybil(Strategy):
    """One owner splits its stake over several licences (separate operator keys, so they can sit
    in the same job) and out-votes honest seats whenever the draw gives it a seat majority."""

    def __init__(self, share_pct: int, licences: int = 3):
        super().__init__(
            f"sybil_{share_pct}",
            "seats are drawn by stake, so extra licences add no seats; a round where it out-votes an honest"
            " seat escalates to 2k + 1 fresh seats (none of its seated licences), which seize the liars",
            share_pct / 100,
            licences,
        )

    def install(self, w: World, actor: Actor) -> None:
        policy = CollusionPolicy(self, actor)
        for n in actor.nodes:
            w.policies[n.id] = policy

    def detail(self, w: World, actor: Actor) -> dict[str, Any]:
        s = self.stake_share or 0.0
        return {
            **super().detail(w, actor),
            "stake_share": s,
            "p_seat_majority_k3": round(3 * s**2 - 2 * s**3, 4),
            "licence_price_eth": TIER_PRICE / E18,
        }


class JuryCapture(Strategy):
    """Disputes every correct k = 1 result it can, hoping its own nodes are drawn into the jury;
    with a jury majority its jurors vote the result down (overturn), otherwise they vote honestly."""

    def __init__(self, share_pct: int = 20):
        super().__init__(
            "jury_capture",
            "juries are drawn by stake from a later block; a split jury escalates to 7 fresh jurors; a lost dispute pays its bond to them",
            share_pct / 100,
            2,
        )

    def setup(self, w: World, cfg: Any) -> Actor:
        actor = super().setup(w, cfg)
        self.wallet = w.new_client(0)
        w.token.transfer(self.wallet, 200 * cfg.collateral, sender=w.treasury)
        actor.extra.append(self.wallet)
        return actor

    def install(self, w: World, actor: Actor) -> None:
        policy = CollusionPolicy(self, actor)
        for n in actor.nodes:
            w.policies[n.id] = policy

        def decide(w: World, job_id: int) -> Any | None:
            original = w.d.market.replica(job_id, 0).nodeId
            if actor.owns(original):
                return None
            self.count("disputes")
            return self.wallet

        w.disputers.append(decide)


class SilentPolicy(_Deviant):
    """Accepts drawn seats (locks collateral, keeps its availability) and never runs the job."""

    def result(self, w: World, job_id: int, node: Node) -> bytes | None:
        if _drawn(w, job_id):
            self.s.count("silent_seats")
            return None
        return w.expected(job_id)


class SilentJuror(Strategy):
    def __init__(self):
        super().__init__(
            "silent_juror",
            "a round settles on the seats that revealed; an accepted seat that never commits is seized",
        )

    def install(self, w: World, actor: Actor) -> None:
        for n in actor.nodes:
            w.policies[n.id] = SilentPolicy(self, actor)


class NoShowPolicy(_Deviant):
    """In its own client's k >= 3 jobs the node takes the seat and never delivers."""

    s: ClientNoShowReplica

    def result(self, w: World, job_id: int, node: Node) -> bytes | None:
        job = w.d.market.job(job_id)
        if job.k > 1 and job.round == 0 and job.client == self.s.client.address:
            self.s.count("own_job_no_shows")
            return None
        return w.expected(job_id)


class ClientNoShowReplica(Strategy):
    """A client with its own node posts k = 3 jobs; when its node is drawn into one, it does not
    deliver, hoping the round fails and refunds the payment."""

    def __init__(self, jobs: int = 2):
        super().__init__(
            "client_noshow_replica",
            "seized collateral pays the seats that were right, never the client; a failed round refunds only the payment",
            0.25,
            2,
        )
        self.jobs = jobs

    def setup(self, w: World, cfg: Any) -> Actor:
        actor = super().setup(w, cfg)
        self.client = w.new_client(0)
        w.token.transfer(self.client, self.jobs * cfg.payment * (cfg.epochs + 1), sender=w.treasury)
        actor.extra.append(self.client)
        self.cfg = cfg
        return actor

    def prefix(self, w: World, actor: Actor, epoch: int) -> None:
        for _ in range(self.jobs):
            w.create_job(self.client, 3, self.cfg.payment, self.cfg.collateral)

    def install(self, w: World, actor: Actor) -> None:
        for n in actor.nodes:
            w.policies[n.id] = NoShowPolicy(self, actor)


class LazyPolicy(_Deviant):
    """Commits a guess without running the job: there is nothing public to copy."""

    def result(self, w: World, job_id: int, node: Node) -> bytes | None:
        self.s.count("guessed_results")
        return wrong_result(job_id, b"lazy" + node.id.to_bytes(4, "big"))


class LazyCopier(Strategy):
    def __init__(self):
        super().__init__(
            "lazy_copier",
            "commit-reveal and the salted k = 1 commitment leave nothing to copy; a guess is out-voted or disputed and seized",
        )

    def install(self, w: World, actor: Actor) -> None:
        for n in actor.nodes:
            w.policies[n.id] = LazyPolicy(self, actor)


class FreeDisputer(Strategy):
    """Disputes every k = 1 result without re-running it, betting that no jury forms."""

    def __init__(self):
        super().__init__(
            "free_disputer",
            "a jury is drawn and upholds a correct result: the bond pays the jurors",
            licences=0,
        )

    def setup(self, w: World, cfg: Any) -> Actor:
        wallet = w.new_client(0)
        w.token.transfer(wallet, 200 * cfg.collateral, sender=w.treasury)
        return Actor(self.name, wallet)

    def install(self, w: World, actor: Actor) -> None:
        def decide(w: World, job_id: int) -> Any | None:
            self.count("disputes")
            return actor.owner

        w.disputers.append(decide)


class OperatorHijack(Strategy):
    """Buys a licence, stakes it and binds another operator's key to it, hoping that node software
    serves (and heartbeats for) its licence."""

    def __init__(self):
        super().__init__(
            "operator_hijack",
            "binding is two-step: the key never accepts, so the licence has no operator, cannot activate and earns nothing",
            licences=0,
        )

    def setup(self, w: World, cfg: Any) -> Actor:
        owner = w.new_account()
        w.token.transfer(owner, MIN_STAKE, sender=w.treasury)
        self.victim = next(iter(w.nodes.values()))
        return Actor(self.name, owner)

    def branch(self, w: World, actor: Actor, epoch: int) -> None:
        if epoch != 0:
            return
        reg = w.d.registry
        tx = w.d.licence.buy(0, 1, value=TIER_PRICE, sender=actor.owner)
        node_id = tx.decode_logs(w.d.licence.LicencesPurchased)[0].firstTokenId
        reg.bindOperator(node_id, self.victim.operator, sender=actor.owner)
        w.token.approve(reg, MIN_STAKE, sender=actor.owner)
        reg.stake(node_id, MIN_STAKE, sender=actor.owner)
        actor.nodes.append(Node(node_id, actor.owner, actor.owner))  # it holds no operator key
        try:
            reg.activate(node_id, sender=actor.owner)
        except Exception:  # noqa: BLE001 - expected: NodeRegistryNoOperator
            self.count("activate_reverted")
        self.counters["operator_bound"] = int(
            reg.operatorOf(node_id) == self.victim.operator.address
        )
        self.counters["pending_operator_is_victim"] = int(
            reg.pendingOperatorOf(node_id) == self.victim.operator.address
        )


class GriefingClient(Strategy):
    """Posts bait: a k = 1 job it cancels before anyone claims it, and a k = 1 job whose bundle
    fails; the node that runs it commits the deterministic failure result and is paid."""

    def __init__(self):
        super().__init__(
            "griefing_client",
            "cancelling refunds only the payment; a failing bundle is still work, paid to the node",
            licences=0,
        )

    def setup(self, w: World, cfg: Any) -> Actor:
        wallet = w.new_client(0)
        w.token.transfer(wallet, 2 * cfg.payment * (cfg.epochs + 1), sender=w.treasury)
        self.cfg = cfg
        return Actor(self.name, wallet)

    def branch(self, w: World, actor: Actor, epoch: int) -> None:
        cfg = self.cfg
        cancelled = w.create_job(actor.owner, 1, cfg.payment, cfg.collateral, verify=False)
        w.cancel(cancelled, actor.owner)
        self.count("cancelled_jobs")
        failing = w.create_job(actor.owner, 1, cfg.payment, cfg.collateral, verify=False)
        w.failing.add(failing)
        node = next(n for n in w.population if w.can_claim(n))  # any node able to serve takes it
        w.claim(failing, node)
        self.count("failed_bundles_paid")


def build(names: list[str] | None = None) -> list[Strategy]:
    """Fresh strategy objects (they keep counters), in report order."""
    makers = {m().name: m for m in _MAKERS}
    chosen = names or list(makers)
    unknown = [n for n in chosen if n not in makers]
    if unknown:
        raise ValueError(f"unknown strategies: {', '.join(unknown)} (known: {', '.join(makers)})")
    return [makers[n]() for n in chosen]


SYBIL_SHARES = (10, 33, 49, 51)
_MAKERS: list[Callable[[], Strategy]] = [
    Strategy,
    WashTrading,
    *[(lambda p=p: Sybil(p)) for p in SYBIL_SHARES],
    JuryCapture,
    SilentJuror,
    ClientNoShowReplica,
    LazyCopier,
    FreeDisputer,
    OperatorHijack,
    GriefingClient,
]
STRATEGIES = tuple(m().name for m in _MAKERS)
