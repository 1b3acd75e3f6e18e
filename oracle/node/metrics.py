"""Prometheus metrics of the node (served at /metrics by oracle.node.serve)."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()
JOBS_BY_STAGE = Gauge("tes_jobs", "Jobs known to this node, by stage", ["stage"], registry=REGISTRY)
STAGE_SECONDS = Histogram(
    "tes_stage_seconds",
    "Time spent reaching each job stage from the previous one",
    ["stage"],
    registry=REGISTRY,
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800),
)
GAS = Counter("tes_gas_used", "Gas used by this node's transactions", ["kind"], registry=REGISTRY)
QUOTES = Counter(
    "tes_quotes",
    "POST /quote answers: signed, or why not (refused, busy, malformed, starting)",
    ["outcome"],
    registry=REGISTRY,
)
EARNINGS = Counter(
    "tes_earnings_wei",
    "TES (wei) earned by the nodes this operator runs (their ledgers; the licence owners withdraw it)",
    registry=REGISTRY,
)


class StageClock:
    """When each live job was first seen and last moved: the log's "+s since the last step" and
    the stage histogram. A job is forgotten when it ends, so a node that has run millions of jobs
    holds the times of the few it is running, and each mark costs the same."""

    def __init__(self) -> None:
        self._times: dict[int, tuple[float, float]] = {}  # job id -> (first seen, last marked)

    def mark(self, job_id: int, stage: str, now: float, *, ends: bool) -> tuple[float, float]:
        """Records `stage` reached at `now` (monotonic): returns (seconds since the job's last
        step, seconds since it was first seen) and observes the first in the histogram."""
        first, prev = self._times.get(job_id, (now, now))
        if ends:
            self._times.pop(job_id, None)
        else:
            self._times[job_id] = (first, now)
        STAGE_SECONDS.labels(stage).observe(now - prev)
        return now - prev, now - first

    def __len__(self) -> int:
        return len(self._times)
