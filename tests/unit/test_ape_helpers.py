"""oracle/ape_helpers.py: what the ape scripts accept from a person and how they explain a revert."""

import re

import ape
import pytest
from eth_abi import encode
from eth_utils import keccak

from oracle.ape_helpers import (
    Revert,
    ScriptError,
    decode_revert,
    explain_revert,
    format_duration,
    format_tes,
    parse_duration,
    parse_eth,
    parse_tes,
    parse_time,
    record_name,
    transact,
)
from oracle.core.protocol import JobStatus, NodeStatus, SeatState, job_hex
from tests.utils.constants import E18, TIER_PRICE
from tests.utils.market import terms_of


@pytest.mark.parametrize(
    "text, wei",
    [
        ("1000", 1000 * E18),
        ("1000 TES", 1000 * E18),
        ("1,000 tes", 1000 * E18),
        ("1.5", 15 * 10**17),
        ("1.5e21 wei", 1500 * E18),
        ("1.5e21wei", 1500 * E18),
        ("3 gwei", 3 * 10**9),
        ("0", 0),
        (42, 42 * E18),
    ],
)
def test_parse_tes__accepts_what_a_person_types(text, wei):
    assert parse_tes(text) == wei


@pytest.mark.parametrize(
    "text", ["", "-1", "1 ETH", "0.5 wei", "1e-30", "ten", "1.2.3", "1 TES TES"]
)
def test_parse_tes__refuses_anything_else(text):
    with pytest.raises(ValueError):
        parse_tes(text)


def test_parse_eth__takes_eth_not_tes():
    assert parse_eth("0.1") == TIER_PRICE == parse_eth("0.1 ETH") == parse_eth("1e17 wei")
    with pytest.raises(ValueError, match="not allowed"):
        parse_eth("1 TES")


def test_format_tes__four_decimals_at_most__every_one_when_exact():
    assert format_tes(1_250 * E18) == "1,250 TES"
    assert format_tes(15 * 10**17) == "1.5 TES"
    assert format_tes(33_333_333_333_333_333_333) == "33.3333 TES"  # cut, not 18 decimals
    assert format_tes(2 * E18 - 1) == "1.9999 TES"  # never rounded up
    assert format_tes(1) == "<0.0001 TES" and format_tes(0) == "0 TES"
    assert format_tes(10**14) == "0.0001 TES"
    assert format_tes(1, exact=True) == "0.000000000000000001 TES"
    exact = format_tes(123_456_789 * 10**9, exact=True)
    assert parse_tes(exact.replace(" TES", "")) == 123_456_789 * 10**9


def test_durations_and_times():
    assert [parse_duration(x) for x in ("3600", "90m", "12h", "7d", "2w")] == [
        3600,
        5400,
        43200,
        604800,
        1209600,
    ]
    assert format_duration(3_720) == "1h 2m" and format_duration(0) == "0s"
    assert parse_time("0") == 0
    assert parse_time("2026-01-01T00:00:00Z") == parse_time("2026-01-01T00:00") == 1767225600
    with pytest.raises(ValueError):
        parse_duration("soon")


# ------------------------------------------------------------------ reverts
def _raw_error(name: str, types: list[str], values: list) -> Exception:
    data = keccak(text=f"{name}({','.join(types)})")[:4] + encode(types, values)
    return Exception("0x" + data.hex())


def test_decode_revert__from_raw_data_names_the_contract_and_arguments(project):
    err = _raw_error("NodeLicenseSoldOut", ["uint256", "uint256", "uint256"], [0, 2, 0])
    assert decode_revert(err) == Revert(
        "NodeLicense", "NodeLicenseSoldOut", {"tierId": 0, "requested": 2, "remaining": 0}
    )
    assert explain_revert(err) == (
        "tier 0 is sold out [NodeLicense.NodeLicenseSoldOut(tierId=0, requested=2, remaining=0)]"
    )


def test_decode_revert__openzeppelin_error_is_found_in_the_token(project):
    owner = "0x" + "11" * 20
    err = _raw_error(
        "ERC20InsufficientBalance", ["address", "uint256", "uint256"], [owner, 1, 2 * E18]
    )
    revert = decode_revert(err)
    assert revert.contract == "TESToken" and revert.name == "ERC20InsufficientBalance"
    assert "needs 2 TES" in explain_revert(err)


class _AnvilCallError(Exception):
    """What ape raises for an eth_call that anvil reverted with a custom error: the text only."""

    def __init__(self, text: str):
        super().__init__(text.split(": ", 2)[-1])
        self.base_err = Exception(text)


def test_decode_revert__anvil_call_text_in_hex_or_as_characters(project):
    caller = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    args = encode(["uint256", "address"], [1, caller])
    selector = keccak(text="NodeRegistryNotLicenceOwner(uint256,address)")[:4]
    err = _AnvilCallError(f"execution reverted: custom error 0x{selector.hex()}: {args.hex()}")
    assert explain_revert(err) == (
        f"{caller} is not the licence owner of node 1"
        f" [NodeRegistry.NodeRegistryNotLicenceOwner(nodeId=1, caller={caller})]"
    )
    printable = encode(["uint256"], [10**6]).decode("latin-1")  # every byte < 0x80: as characters
    selector = keccak(text="ERC721NonexistentToken(uint256)")[:4]
    err = _AnvilCallError(f"execution reverted: custom error 0x{selector.hex()}: {printable}")
    assert explain_revert(err).startswith("licence #1000000 does not exist [NodeLicense.")


def test_decode_revert__unknown_data_is_left_alone(project):
    assert decode_revert(Exception("0xdeadbeef00")) is None
    assert decode_revert(Exception("out of gas")) is None
    assert "out of gas" in explain_revert(Exception("out of gas"))


def test_transact__wrong_eth_amount_reads_as_a_sentence(licence, node_owner):
    with pytest.raises(ScriptError) as info:
        transact("buying", licence.buy, 0, 2, value=TIER_PRICE, sender=node_owner)
    assert info.value.message == (
        f"buying failed: wrong ETH amount: sent 0.1 ETH, tier 0 needs 0.2 ETH"
        f" [NodeLicense.NodeLicenseInsufficientPayment(tierId=0, sent={TIER_PRICE},"
        f" required={2 * TIER_PRICE})]"
    )


def test_explain_revert__sale_not_open_says_when(licence, deployer, node_owner, chain):
    start = chain.pending_timestamp + 7_200
    licence.addTier(TIER_PRICE, 10, 0, start, 0, sender=deployer)
    with ape.reverts() as info:
        licence.buy(1, 1, value=TIER_PRICE, sender=node_owner)
    msg = explain_revert(info.value)
    assert msg.startswith("the sale of tier 1 has not opened yet: it opens at ")
    assert (
        re.search(r"\(in (1h 5\dm|2h)", msg)
        and "[NodeLicense.NodeLicenseSaleNotOpen(tierId=1" in msg
    )


# The v2 market and registry errors a script can hit, each read as a sentence naming the rule.
V2_ERRORS = [
    ("JobMarketSeatsAreDrawn", ["uint256"], [7], "JobMarket", f"job {job_hex(7)} has drawn seats (k >= 3 or a dispute jury)"),
    ("JobMarketNothingToDraw", ["uint256", "uint256"], [7, 120], "JobMarket",
     f"nothing to draw for job {job_hex(7)} now: its seats are full, no draw is anchored, or the anchor block 120"),
    ("JobMarketNothingToRedraw", ["uint256"], [7], "JobMarket", f"no drawn seat of job {job_hex(7)} has missed its accept"),
    ("NodeRegistryNotOperator", ["uint256", "address"], [3, "0x" + "22" * 20], "NodeRegistry",
     "is not the current operator of node 3"),
    ("JobMarketWrongSeatState", ["uint256", "uint256", "uint8"], [7, 3, int(SeatState.DROPPED)], "JobMarket",
     f"node 3's seat in job {job_hex(7)} is dropped"),
    ("JobMarketWrongStatus", ["uint256", "uint8"], [7, int(JobStatus.SEATING)], "JobMarket", f"job {job_hex(7)} is seating"),
    ("JobMarketInvalidReplicas", ["uint256"], [2], "JobMarket", "k must be 1 or odd, 3 to 15"),
    ("NodeRegistryNotPendingOperator", ["uint256", "address"], [3, "0x" + "22" * 20], "NodeRegistry",
     "is not the operator key proposed for node 3"),
    ("NodeRegistryNotActive", ["uint256", "uint8"], [3, int(NodeStatus.JAILED)], "NodeRegistry",
     "node 3 is jailed, not active"),
    ("NodeRegistryInsufficientFreeStake", ["uint256", "uint256", "uint256"], [3, E18, 2 * E18], "NodeRegistry",
     "node 3 has 1 TES of free stake"),
]  # fmt: skip


@pytest.mark.parametrize(
    "name, types, values, contract, says", V2_ERRORS, ids=[e[0] for e in V2_ERRORS]
)
def test_explain_revert__v2_errors_read_as_sentences(project, name, types, values, contract, says):
    err = _raw_error(name, types, values)
    revert = decode_revert(err)
    assert (revert.contract, revert.name) == (contract, name)
    msg = explain_revert(err)
    assert says in msg and msg.endswith(f"[{revert}]"), msg


def test_transact__claiming_a_drawn_job_reads_as_a_sentence(
    market, create_job, setup_node, node_owner, operator
):
    node_id = setup_node(node_owner, operator)
    job_id = create_job(replicas=3)
    assert JobStatus(market.job(job_id).status) == JobStatus.SEATING
    with pytest.raises(ScriptError) as info:
        transact("claiming", market.claim, terms_of(market, job_id), node_id, sender=operator)
    assert info.value.message == (
        f"claiming failed: job {job_hex(job_id)} has drawn seats (k >= 3 or a dispute jury): it cannot be claimed;"
        f" a drawn node accepts its seat instead [JobMarket.JobMarketSeatsAreDrawn(jobId={job_id})]"
    )


def test_transact__accepting_a_binding_nobody_proposed(registry, licence, node_owner, stranger):
    tx = licence.buy(0, 1, value=TIER_PRICE, sender=node_owner)
    node_id = tx.decode_logs(licence.LicencesPurchased)[0].firstTokenId
    with pytest.raises(ScriptError) as info:
        transact("accepting", registry.acceptOperator, node_id, sender=stranger)
    assert f"is not the operator key proposed for node {node_id}" in info.value.message
    assert "NodeRegistry.NodeRegistryNotPendingOperator" in info.value.message


# ------------------------------------------------------------------ record names
def _provider(ecosystem, network, chain_id, is_local=False, is_fork=False):
    from types import SimpleNamespace as NS

    net = NS(name=network, ecosystem=NS(name=ecosystem), is_local=is_local, is_fork=is_fork)
    return NS(network=net, chain_id=chain_id)


@pytest.mark.parametrize(
    "provider, name",
    [
        (_provider("ethereum", "local", 1337, is_local=True), "local"),
        (_provider("ethereum", "mainnet-fork", 1, is_fork=True), "local"),
        (
            _provider("ethereum", "custom", 31337),
            "local",
        ),  # --network http://127.0.0.1:8545 (anvil)
        (_provider("ethereum", "sepolia", 11155111), "sepolia"),
        (_provider("arbitrum", "mainnet", 42161), "arbitrum-mainnet"),
        (_provider("ethereum", "custom", 17000), "chain-17000"),  # a bare URL to a live chain
    ],
)
def test_record_name__one_file_per_network_and_local_for_this_machine(provider, name):
    assert record_name(provider) == name
