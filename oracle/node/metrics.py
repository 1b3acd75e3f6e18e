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
