"""oracle/core/reverts.py: the one revert decoder of the node, the client and the ape scripts,
on hand-made ABIs and the shapes web3, ape and anvil hand a revert over in."""

from types import SimpleNamespace

import pytest
from eth_abi import encode
from eth_utils import keccak

from oracle.core.protocol import JobStatus, NodeStatus
from oracle.core.reverts import (
    Revert,
    decode_revert,
    error_table,
    explain_revert,
    revert_data,
    show_arg,
)
from oracle.core.units import E18


def _error(name, *inputs):
    return {"type": "error", "name": name,
            "inputs": [{"name": n, "type": t, "internalType": i or t} for n, t, i in inputs]}  # fmt: skip


OZ_BALANCE = _error(
    "ERC20InsufficientBalance",
    ("sender", "address", None), ("balance", "uint256", None), ("needed", "uint256", None),
)  # fmt: skip
ABIS = {
    "TESToken": [OZ_BALANCE, {"type": "function", "name": "transfer", "inputs": []}],
    "JobMarket": [
        OZ_BALANCE,  # declared again (an OZ error the market's token calls bubble up)
        _error("JobMarketWrongStatus", ("jobId", "uint256", None), ("status", "uint8", "enum IJobMarket.JobStatus")),
        _error("JobMarketInvalidWindow", ("name", "bytes32", None), ("value", "uint256", None)),
        _error("JobMarketBadTerms", ("terms", "tuple", "struct IJobMarket.Terms")) | {"inputs": [
            {"name": "terms", "type": "tuple", "internalType": "struct IJobMarket.Terms",
             "components": [{"name": "a", "type": "uint256"}, {"name": "b", "type": "address"}]}]},
    ],
    "NodeRegistry": [
        _error("NodeRegistryNotActive", ("nodeId", "uint256", None), ("status", "uint8", "enum INodeRegistry.NodeStatus")),
    ],
}  # fmt: skip
TABLE = error_table(ABIS)
ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def _data(name: str, types: list[str], values: list) -> bytes:
    return keccak(text=f"{name}({','.join(types)})")[:4] + encode(types, values)


WRONG_STATUS = _data("JobMarketWrongStatus", ["uint256", "uint8"], [3, int(JobStatus.PAID)])


def test_error_table__selectors_of_every_contract_tuples_spelled_out():
    sel = keccak(text="ERC20InsufficientBalance(address,uint256,uint256)")[:4]
    assert [e.contract for e in TABLE[sel]] == ["TESToken", "JobMarket"]
    assert keccak(text="JobMarketBadTerms((uint256,address))")[:4] in TABLE
    assert (
        error_table([ABIS["NodeRegistry"]]).keys()
        == error_table({"NodeRegistry": ABIS["NodeRegistry"]}).keys()
    )
    assert all(e.contract is None for es in error_table(ABIS.values()).values() for e in es)


def test_decode_revert__web3_data_enums_by_name_contract_named():
    err = Exception("execution reverted")
    err.data = "0x" + WRONG_STATUS.hex()  # type: ignore[attr-defined]
    revert = decode_revert(err, TABLE)
    assert revert == Revert(
        "JobMarket", "JobMarketWrongStatus", {"jobId": 3, "status": int(JobStatus.PAID)}
    )
    assert str(revert) == "JobMarket.JobMarketWrongStatus(jobId=3, status=Paid)"
    err.data = {"data": "0x" + WRONG_STATUS.hex()}  # type: ignore[attr-defined]
    assert decode_revert(err, TABLE) == revert
    anonymous = error_table(ABIS.values())
    assert explain_revert(err, anonymous) == "JobMarketWrongStatus(jobId=3, status=Paid)"


def test_decode_revert__the_declaring_contract_is_named_for_a_shared_error():
    data = _data("ERC20InsufficientBalance", ["address", "uint256", "uint256"],
                 [ADDRESS.lower(), 5 * E18 // 2, 10 * E18])  # fmt: skip
    revert = decode_revert(Exception(data), TABLE)
    assert revert is not None and revert.contract == "TESToken"  # the first to declare it
    assert str(revert) == (
        f"TESToken.ERC20InsufficientBalance(sender={ADDRESS}, balance=2.5 TES, needed=10 TES)"
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda d: Exception(d),  # bytes as an argument (ape's ContractLogicError)
        lambda d: Exception("0x" + d.hex()),
        lambda d: Exception(repr(d)),  # b'...' literal
        lambda d: SimpleNamespace(revert_message="0x" + d.hex(), args=()),
        lambda d: Exception(f"execution reverted, data: 0x{d.hex()} (estimate)"),  # in the text
    ],
    ids=["bytes", "hex", "literal", "revert_message", "in-text"],
)
def test_revert_data__wherever_it_is_carried(make):
    assert revert_data(make(WRONG_STATUS)) == WRONG_STATUS


def test_revert_data__anvil_custom_error_text_hex_or_characters():
    args = encode(["uint256", "uint8"], [2, int(NodeStatus.JAILED)])
    sel = keccak(text="NodeRegistryNotActive(uint256,uint8)")[:4]
    err = Exception(f"execution reverted: custom error 0x{sel.hex()}: {args.hex()}")
    assert (
        explain_revert(err, TABLE) == "NodeRegistry.NodeRegistryNotActive(nodeId=2, status=Jailed)"
    )
    printable = args.decode("latin-1")  # every byte < 0x80: anvil shows characters
    err = SimpleNamespace(
        args=("boom",), base_err=Exception(f"custom error 0x{sel.hex()}: {printable}")
    )
    assert str(decode_revert(err, TABLE)).endswith("(nodeId=2, status=Jailed)")  # type: ignore[arg-type]


def test_decode_revert__already_decoded_by_ape():
    abi = SimpleNamespace(type="error", name="JobMarketWrongStatus",
                          selector="JobMarketWrongStatus(uint256,uint8)")  # fmt: skip
    err = SimpleNamespace(abi=abi, inputs={"jobId": 9, "status": int(JobStatus.RUNNING)}, args=())
    assert (
        str(decode_revert(err, TABLE)) == "JobMarket.JobMarketWrongStatus(jobId=9, status=Running)"
    )  # type: ignore[arg-type]


def test_decode_revert__unknown_or_malformed():
    assert decode_revert(Exception("0xdeadbeef00"), TABLE) is None
    assert decode_revert(Exception("out of gas"), TABLE) is None
    assert explain_revert(Exception("nonce too low\nmore"), TABLE) == "nonce too low"
    assert explain_revert(Exception(""), TABLE) == "Exception"
    bad = WRONG_STATUS[:36] + b"\xff" * 32  # a uint8 with its padding bytes set
    assert decode_revert(Exception(bad), TABLE) == Revert("JobMarket", "JobMarketWrongStatus", {})


def test_show_arg__enums_amounts_text_bytes():
    assert show_arg(int(JobStatus.PAID), "status", "enum IJobMarket.JobStatus") == "Paid"
    assert show_arg(99, "status", "enum IJobMarket.JobStatus") == "99"
    assert show_arg(E18 // 3, "need", "uint256") == "0.3333 TES"
    assert show_arg(E18, "jobId", "uint256") == str(E18)  # not an amount
    assert show_arg(E18, "balance", "int256") == str(E18)  # amounts are uint
    assert show_arg(b"claimWindow".ljust(32, b"\x00"), "name", "bytes32") == "'claimWindow'"
    assert show_arg(b"\x01\x02\x00\x00") == "0x01020000"
    assert show_arg(True, "amount", "") == "True"
