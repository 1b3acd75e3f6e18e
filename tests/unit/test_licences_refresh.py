"""When the node reads its licences' records again right after its own transactions
(oracle/node/licences.py, `Licences.bound_in`): only when one of them bound a licence to an
operator. Every claim, proof and settlement also emits registry events (collateral locked or
released); reading the records after each of those cost two requests per licence per step, and
their effect is read one poll later from the ingested events anyway."""

from types import SimpleNamespace

from eth_utils import keccak

from oracle.node import licences as licences_mod
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


class Registry:
    """node(i) and ownerOfNode(i) for licence 5, operated by our key; counts the reads."""

    def __init__(self, operator: str):
        self.operator, self.reads = operator, []

    def node(self, i):
        return SimpleNamespace(call=lambda: self._read("node", (self.operator, 1) + (0,) * 11))

    def ownerOfNode(self, i):
        return SimpleNamespace(call=lambda: self._read("owner", "0x" + "dd" * 20))

    def _read(self, what, value):
        self.reads.append(what)
        return value


class Store:
    def job(self, job_id):
        return {"node_id": 5} if job_id == 1 else None


def event(job_id: int, **args) -> SimpleNamespace:
    return SimpleNamespace(job_id=job_id, args=args)


def test_events_about_our_jobs__read_again_at_most_every_second__owners_every_ten(monkeypatch):
    operator = "0x" + "cc" * 20
    reg = Registry(operator)
    chain = SimpleNamespace(registry=SimpleNamespace(address=REGISTRY, functions=reg))
    lic = Licences(chain, operator, [5], 0, head=lambda: 0)  # type: ignore[arg-type]
    monkeypatch.setattr(licences_mod, "NodeRecord", SimpleNamespace(from_raw=_record))
    now = [100.0]
    monkeypatch.setattr(licences_mod, "time", SimpleNamespace(monotonic=lambda: now[0]))
    assert lic.stale([], Store())  # never read
    lic.refresh()
    assert reg.reads == ["node", "owner"] and lic.owner_of == {5: "0x" + "dd" * 20}
    now[0] += 0.3
    assert not lic.stale([event(2)], Store())  # someone else's job: nothing of ours changed
    assert not lic.stale([event(1)], Store())  # our job moved, but read 0.3 s ago
    now[0] += 0.8
    assert lic.stale([], Store())  # ... remembered: due once a second has passed
    lic.refresh()
    assert reg.reads == ["node", "owner", "node"]  # the owner is not read again
    now[0] += 2.0
    assert not lic.stale([], Store())
    assert lic.stale([event(9, nodeId=5)], Store())  # an event naming our licence
    now[0] += 10.0
    assert lic.stale([], Store())
    lic.refresh()
    assert reg.reads[-2:] == ["node", "owner"]  # every REFRESH_S the owners too


def _record(raw):
    return SimpleNamespace(operator=raw[0], status=raw[1])
