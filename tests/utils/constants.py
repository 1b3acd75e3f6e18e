"""Deployment parameters and job defaults shared by tests, scripts and benchmarks."""

DAY = 86_400
E18 = 10**18

TOKEN_CAP = 1_000_000_000 * E18
GENESIS_SUPPLY = 400_000_000 * E18
MIN_STAKE = 1_000 * E18
UNBONDING_DELAY = 7 * DAY
JAIL_PERIOD = 1 * DAY
EPOCH_LENGTH = 1 * DAY
INITIAL_EMISSION = 100_000 * E18
HALVING_EPOCHS = 365
AVAILABILITY_BPS = 3_000
MARKET_PARAMETERS = dict(
    protocolFeeBps=500,
    keeperBountyBps=100,
    minCollateralBps=1_000,
    disputeReplicas=3,
    minJobFee=1 * E18,
)
TIER_PRICE = 10**17  # 0.1 ETH
TIER_SUPPLY = 1_000

DEFAULT_CAPS = (8, 16_384, 1, 24_576, 2)  # cpuCores, memoryMb, gpuCount, gpuMemoryMb, gpuClass
NO_REQUIREMENTS = (1, 512, 0, 0, 0)
JOB_PAYMENT = 100 * E18
JOB_COLLATERAL = 20 * E18
WINDOWS = dict(claimWindow=3_600, executionWindow=7_200, revealWindow=1_800, disputeWindow=3_600)
