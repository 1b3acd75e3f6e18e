"""The node's fee rule (oracle/node/fees.py): a quote from the head block under the cap, and the
replacement of a stuck transaction that the mempool accepts (at least 10 % more) or none."""

from oracle.node.fees import GWEI, FeeRule

RULE = FeeRule(bump=1.25, cap_wei=100 * GWEI)


def test_quote__twice_the_base_fee_plus_the_tip__capped():
    assert RULE.quote({"baseFeePerGas": 10 * GWEI}, 2 * GWEI) == {
        "maxFeePerGas": 22 * GWEI + 1,
        "maxPriorityFeePerGas": 2 * GWEI,
    }
    assert RULE.quote({"baseFeePerGas": 80 * GWEI}, 5 * GWEI) == {
        "maxFeePerGas": 100 * GWEI,
        "maxPriorityFeePerGas": 5 * GWEI,
    }
    # a chain without a base fee (pre-London): no tip, the minimum fee
    assert RULE.quote({}, 7 * GWEI) == {"maxFeePerGas": 1, "maxPriorityFeePerGas": 0}


def test_bumped__by_the_factor_or_to_the_quote__never_past_the_cap():
    old = {"maxFeePerGas": 40 * GWEI, "maxPriorityFeePerGas": 2 * GWEI}
    low_quote = {"maxFeePerGas": 30 * GWEI, "maxPriorityFeePerGas": 1 * GWEI}
    assert RULE.bumped(old, low_quote) == {
        "maxFeePerGas": 50 * GWEI + 1,
        "maxPriorityFeePerGas": int(2.5 * GWEI) + 1,
    }
    high_quote = {"maxFeePerGas": 70 * GWEI, "maxPriorityFeePerGas": 9 * GWEI}
    assert RULE.bumped(old, high_quote) == high_quote
    near_cap = {"maxFeePerGas": 95 * GWEI, "maxPriorityFeePerGas": 2 * GWEI}
    assert RULE.bumped(near_cap, low_quote) is None  # 100 gwei is < 10 % more: refused anyway
    assert RULE.bumped({"maxFeePerGas": 100 * GWEI}, low_quote) is None
