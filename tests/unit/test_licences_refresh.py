"""When the node reads its licences' records again right after its own transactions
(oracle/node/licences.py, `Licences.bound_in`): only when one of them bound a licence to an
operator. Every claim, proof and settlement also emits registry events (collateral locked or
released); reading the records after each of those cost two requests per licence per step, and
their effect is read one poll later from the ingested events anyway."""

from types import SimpleNamespace

from eth_utils import keccak

from oracle.node.licences import Licences

REGISTRY, MARKET = "0x" + "aa" * 20, "0x" + "bb" * 20


def topic(signature: str) -> bytes:
    return keccak(text=signature)


def receipt(*logs: tuple[str, bytes]) -> dict:
    return {"logs": [{"address": address, "topics": [t]} for address, t in logs]}


def licences() -> Licences:
    chain = SimpleNamespace(registry=SimpleNamespace(address=REGISTRY))
    return Licences(chain, "0x" + "cc" * 20, [], 0, head=lambda: 0)  # type: ignore[arg-type]


def test_only_an_operator_binding_in_our_receipts_reads_the_licences_again():
    lic = licences()
    bound = topic("OperatorBound(uint256,address)")
    locked = topic("CollateralLocked(uint256,uint256)")
    claimed = topic("JobClaimed(uint256,uint256,address,uint256)")
    assert lic.bound_in([receipt((REGISTRY.upper().replace("0X", "0x"), bound))])
    assert lic.bound_in(
        [receipt((MARKET, claimed)), receipt((REGISTRY, locked), (REGISTRY, bound))]
    )
    # a claim: the market's JobClaimed and the registry's CollateralLocked, no binding
    assert not lic.bound_in([receipt((MARKET, claimed), (REGISTRY, locked))])
    # the same topic from another contract is not a binding
    assert not lic.bound_in([receipt((MARKET, bound))])
    assert not lic.bound_in([receipt()]) and not lic.bound_in([])
