"""What docs/gas.json holds: the defaults of a run, the report's headline keys with the
issue's targets, the scenario titles and the labels of the single operations."""

IN_PROCESS = "ethereum:local:test"
DEFAULT_BATCH = 100  # proofs per submitProofs transaction
DEFAULT_SETTLE_GROUP = 10  # jobs per settleAndWithdraw (and per fee flush) in the steady state
DEFAULT_REPEATS = 10  # drawn scenarios (k = 3, dispute) are averaged over this many jobs: which
# nodes a draw seats (so the gas) varies with the block hash, and the two chains draw differently
AGREEMENT = 0.01  # in-process EVM and anvil must agree within 1 %
# Scenarios whose work depends on a draw: the seed is the anchor block's hash, which differs
# between the two chains, so each chain seats other nodes after another number of attempts (the
# draw's rejection sampling). Their two figures differ by that, not by how either EVM counts gas:
# they are printed and compared, but the agreement bound is checked on every other scenario,
# whose transactions do the same work on both chains.
DRAW_DEPENDENT = frozenset({"k3_first_total", "k3_single_total", "dispute_total"})
INTRINSIC_GAS = 21_000
MAX_UINT = 2**256 - 1
EMPTY_SIGNATURE = b""  # an operator submitting its own proof needs no signature
QUOTE_TTL = 600  # seconds a benchmark quote stays valid

# Issue [2/7]: report key -> ceiling. Batch keys are named after the batch size actually run.
TARGETS = {
    "k1_single_total": 200_000,
    "k1_steady_per_job": 135_000,
    "proof_batch100_per_job": 10_000,
    "proof_batch100_distinct_operators_per_job": 15_000,
    "k3_single_total": 700_000,
}

# Scenario key in the report -> (headline key, title). Order is the order of docs/gas.md.
# k = 1 jobs take the quote path (what the client SDK does: the node's operator signs a quote off
# chain, the client sends createAndAssign, the job is created already claimed); `*_open` is the
# fallback (createJob, then the node's claim).
SCENARIOS = {
    "k1_single": ("k1_single_total", "k = 1 job alone, quote path (approve, warm network)"),
    "k1_single_keeper": (
        "k1_single_keeper_total",
        "k = 1 job alone, quote path, settled by a keeper (finalize, withdrawals)",
    ),
    "k1_single_permit": ("k1_single_permit_total", "k = 1 job alone, quote path, funded by permit"),
    "k1_first_job_ever": (
        "k1_first_job_ever_total",
        "k = 1, quote path: first job ever on the network",
    ),
    "k1_new_client": ("k1_new_client_total", "k = 1 job alone, quote path, a client's first job"),
    "k1_single_open": ("k1_single_open_total", "k = 1 job alone, open path (createJob + claim)"),
    "k1_steady": ("k1_steady_per_job", "k = 1 steady state, quote path, per job"),
    "k1_steady_open": ("k1_steady_open_per_job", "k = 1 steady state, open path, per job"),
    "k1_steady_standing": (
        "k1_steady_standing_per_job",
        "k = 1 steady state, quote path, a standing allowance instead of a deposit, per job",
    ),
    "k3_first": ("k3_first_total", "k = 3 drawn job, first k = 3 job (cold)"),
    "k3_single": ("k3_single_total", "k = 3 drawn job alone (warm)"),
    "dispute": ("dispute_total", "k = 1 job (quote path) disputed, jury of 3 upholds it"),
    "expire": ("expire_total", "k = 1 job assigned by quote, never proven: expired"),
    "expire_open": ("expire_open_total", "k = 1 open job never claimed: expired"),
    "cancel": ("cancel_total", "k = 1 open job cancelled before any claim"),
    "cancel_k3": ("cancel_k3_total", "k = 3 job cancelled before the draw"),
}

# Scenario -> how its job is created and seated (docs/gas.md says it next to every key).
QUOTE, OPEN, DRAWN = "quote", "open claim", "drawn"
SCENARIO_PATHS = {
    "k1_single": QUOTE,
    "k1_single_keeper": QUOTE,
    "k1_single_permit": QUOTE,
    "k1_first_job_ever": QUOTE,
    "k1_new_client": QUOTE,
    "k1_single_open": OPEN,
    "k1_steady": QUOTE,
    "k1_steady_open": OPEN,
    "k1_steady_standing": QUOTE,
    "k3_first": DRAWN,
    "k3_single": DRAWN,
    "dispute": QUOTE,
    "expire": QUOTE,
    "expire_open": OPEN,
    "cancel": OPEN,
    "cancel_k3": DRAWN,
}

# Single transactions worth their own line (first-time vs warm, setup, rewards).
OPERATION_LABELS = {
    "licence_buy": "NodeLicense.buy (1 licence, not the first sold)",
    "registry_bind_operator": "NodeRegistry.bindOperator (owner proposes)",
    "registry_accept_operator": "NodeRegistry.acceptOperator (key accepts)",
    "registry_declare_capabilities": "NodeRegistry.declareCapabilities",
    "registry_stake": "NodeRegistry.stake",
    "registry_activate": "NodeRegistry.activate",
    "create_and_assign": "JobMarket.createAndAssign (quote path: create + claim), after an approve",
    "create_and_assign_permit": "JobMarket.createAndAssign with a permit (no approve)",
    "create_and_assign_client_first": "JobMarket.createAndAssign, the client's first quote"
    " (its quote nonce written from zero)",
    "create_job": "JobMarket.createJob (open path, k = 1), after an approve",
    "claim_node_first": "JobMarket.claim, the node's first claim ever",
    "claim_warm": "JobMarket.claim, a node that claimed before",
    "finalize_epoch_first": "JobMarket.finalize, first settlement of an epoch (closes the last)",
    "finalize_warm": "JobMarket.finalize, epoch already has work",
    "proof_signed_relay": "JobMarket.submitProofs, 1 signed proof sent by a relayer (k = 1)",
    "proof_own": "JobMarket.submitProofs, 1 proof sent by the operator, no signature (k = 1)",
    "rewards_heartbeat": "Rewards.heartbeat (1 node)",
    "rewards_checkpoint": "Rewards.checkpoint (closes 1 epoch, mints its emission)",
    "rewards_claim": "Rewards.claim (1 node)",
}


def batch_key(n: int, distinct: bool = False) -> str:
    return f"proof_batch{n}_distinct_operators_per_job" if distinct else f"proof_batch{n}_per_job"
