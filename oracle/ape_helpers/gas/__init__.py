"""Gas of every transaction a TES job needs, per scenario (protocol v2).

    ape run gas                                   # in-process EVM: writes docs/gas.md + docs/gas.json
    ape run gas --network ethereum:local:foundry  # anvil: merges its numbers into docs/gas.json/md

Deploys a fresh network with `oracle.localnet.deployment.deploy_all`, sets up nodes with two-step operator
binding, and records `receipt.gas_used` of EVERY transaction a job needs in each scenario: the
client's approve (or permit), createAndAssign on a node's quote (the k = 1 default: created
already claimed) or createJob, the seat steps (claim on the open path; or draw + acceptSeat for
k = 3), proofs,
reveals, the keeper steps (draw, finalize, expire, flushFees), the node owners' withdrawEarnings
and the withdrawals of everyone else the job credited. A transaction shared by several jobs (a
batch of proofs, a settlement of 10 jobs, a standing approval or one deposit) is charged to each
job by its share (gas / jobs).

Paths: the k = 1 scenarios (`k1_single`, `k1_steady`, their variants, `dispute`, `expire`) take
the quote path the client SDK takes; `k1_single_open` and `k1_steady_open` measure the open-claim
fallback (createJob, then claim); `SCENARIO_PATHS` says which is which.

Cold and warm: `*_single_total` scenarios run on a warm network (a job of the same kind ran
before, the nodes' ledgers already hold the epoch's work, every account holds TES). The first-time variants
(first job ever, a new client, a node's first claim, the first settlement of an epoch) are
reported next to them.

In-process EVM vs anvil: this script measures one network per run. Run on anvil after the
in-process run: it then merges the anvil figures into the existing docs/gas.json (key "anvil")
and renders both side by side, with the largest relative difference (the two must agree within
1 %). Running in-process again drops stale anvil figures.

On the in-process EVM the measured transactions of the single-job scenarios and the proof batch
are also traced opcode by opcode (py-evm), which splits their gas into intrinsic cost, calldata,
storage writes/reads, events, external-call overhead, signature recovery and the gas spent inside
each contract.

Modules: `keys` (defaults, report keys, targets, labels), `tracer` (the py-evm opcode tracer),
`bench` (the network and every scenario's transactions), `measure` (one run, the report),
`anvil` (the in-process vs anvil comparison) and `report` (console tables, docs/gas.md/json).
"""

from oracle.ape_helpers.gas.anvil import compare, compared_keys, merge_anvil
from oracle.ape_helpers.gas.bench import Bench, NodeKeys, Roles
from oracle.ape_helpers.gas.keys import (
    AGREEMENT,
    DEFAULT_BATCH,
    DEFAULT_REPEATS,
    DEFAULT_SETTLE_GROUP,
    IN_PROCESS,
    OPERATION_LABELS,
    SCENARIO_PATHS,
    SCENARIOS,
    TARGETS,
    batch_key,
)
from oracle.ape_helpers.gas.measure import default_roles, measure
from oracle.ape_helpers.gas.report import (
    BREAKDOWN_COLUMNS,
    render_markdown,
    render_tables,
    write_report,
)
from oracle.ape_helpers.gas.tracer import GasTracer

__all__ = [
    "AGREEMENT",
    "BREAKDOWN_COLUMNS",
    "DEFAULT_BATCH",
    "DEFAULT_REPEATS",
    "DEFAULT_SETTLE_GROUP",
    "IN_PROCESS",
    "OPERATION_LABELS",
    "SCENARIOS",
    "SCENARIO_PATHS",
    "TARGETS",
    "Bench",
    "GasTracer",
    "NodeKeys",
    "Roles",
    "batch_key",
    "compare",
    "compared_keys",
    "default_roles",
    "measure",
    "merge_anvil",
    "render_markdown",
    "render_tables",
    "write_report",
]
