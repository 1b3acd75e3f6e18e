"""Deployment parameters and job defaults shared by tests, scripts and benchmarks.

The values live in oracle/localnet/deployment.py (the deploy script and `ape run gas` use them too);
this module keeps the names the tests import.
"""

from oracle.localnet.deployment import (  # noqa: F401 - re-exported for tests
    DAY,
    DEFAULT_CAPS,
    E18,
    EPOCH_LENGTH,
    GENESIS_SUPPLY,
    HALVING_EPOCHS,
    INITIAL_EMISSION,
    JAIL_PERIOD,
    JOB_COLLATERAL,
    JOB_PAYMENT,
    MARKET_PARAMETERS,
    MIN_STAKE,
    NO_REQUIREMENTS,
    TIER_PRICE,
    TIER_SUPPLY,
    TOKEN_CAP,
    UNBONDING_DELAY,
    WINDOWS,
)
