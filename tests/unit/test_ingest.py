"""The ingest stage (oracle/node/ingest.py) on a chain that reorganises: events are read only once they
are `confirmations` deep, the cursor survives in the store, and a replaced block rewinds the
cursor to the fork point so the new branch's events are read (and the old branch's never again).

The chain is a small fake (block hashes and logs per block) behind the real ABI decoding and the
real SQLite store: what is under test is the cursor logic, not the RPC."""

from __future__ import annotations

from types import SimpleNamespace

from eth_utils import event_abi_to_log_topic
from hexbytes import HexBytes
from web3 import Web3

from oracle.node.ingest import MAX_RANGE, Ingest
from oracle.node.store import Store

MARKET = "0x" + "aa" * 20
EVENT = {"type": "event", "name": "JobCancelled", "anonymous": False,
         "inputs": [{"name": "jobId", "type": "uint256", "indexed": True}]}  # fmt: skip
TOPIC = event_abi_to_log_topic(EVENT)


class _Eth:
    def __init__(self, chain: FakeChain):
        self.chain = chain
        self.get_block, self.get_logs = chain.get_block, chain.get_logs

    @property
    def block_number(self) -> int:
        return len(self.chain.blocks) - 1


class FakeChain:
    """Blocks 0..head, each with a hash and the job ids cancelled in it."""

    def __init__(self, head: int):
        self.branch = 0
        self.blocks: list[tuple[HexBytes, list[int]]] = []
        self.extend(head + 1)
        self.get_logs_calls = 0
        self.get_block_calls = 0
        self.w3 = SimpleNamespace(eth=_Eth(self), codec=Web3().codec)

    def extend(self, n: int, jobs: dict[int, list[int]] | None = None) -> None:
        for _ in range(n):
            number = len(self.blocks)
            self.blocks.append((self._hash(number), (jobs or {}).get(number, [])))

    def reorg(self, from_block: int, jobs: dict[int, list[int]]) -> None:
        """Replaces blocks from `from_block` on (same height) with a new branch."""
        self.branch += 1
        height = len(self.blocks)
        del self.blocks[from_block:]
        self.extend(height - from_block, jobs)

    def _hash(self, number: int) -> HexBytes:
        return HexBytes(Web3.keccak(text=f"{self.branch}/{number}"))

    def get_block(self, number):
        self.get_block_calls += 1
        if number == "latest":
            number = len(self.blocks) - 1
        parent = self.blocks[number - 1][0] if number else HexBytes(b"\x00" * 32)
        return {"hash": self.blocks[number][0], "number": number, "parentHash": parent}

    def get_logs(self, flt):
        self.get_logs_calls += 1
        out = []
        for n in range(flt["fromBlock"], flt["toBlock"] + 1):
            for i, job in enumerate(self.blocks[n][1]):
                out.append({
                    "address": MARKET, "topics": [TOPIC, job.to_bytes(32, "big")], "data": b"",
                    "blockNumber": n, "blockHash": self.blocks[n][0], "logIndex": i,
                    "transactionIndex": 0, "transactionHash": HexBytes(b"\x01" * 32),
                })  # fmt: skip
        return out


def ingest_on(chain: FakeChain, store: Store, confirmations: int = 0) -> Ingest:
    fake = SimpleNamespace(w3=chain.w3, market=SimpleNamespace(address=MARKET),
                           abis={"JobMarket": [EVENT]})  # fmt: skip
    return Ingest(fake, store, confirmations, reorg_depth=64, start_block=1)  # type: ignore[arg-type]


def jobs(events) -> list[int]:
    return [e.job_id for e in events]


def test_events_are_read_once_confirmations_deep_and_the_cursor_survives_a_restart(tmp_path):
    chain = FakeChain(head=0)
    chain.extend(5, {2: [7], 4: [8], 5: [9]})
    store = Store(tmp_path / "node.db")
    ingest = ingest_on(chain, store, confirmations=2)
    assert jobs(ingest.poll()) == [7]  # head 5: blocks 1..3 only
    assert store.cursor()[0] == 3
    store.close()
    again = Store(tmp_path / "node.db")  # a restart: the cursor is in the store
    ingest = ingest_on(chain, again, confirmations=2)
    assert jobs(ingest.poll()) == []
    chain.extend(2)
    assert jobs(ingest.poll()) == [8, 9]


def test_reorg__rewinds_to_the_fork_point_and_reads_the_new_branch(tmp_path):
    chain = FakeChain(head=0)
    chain.extend(6, {3: [1], 5: [2]})
    ingest = ingest_on(chain, Store(tmp_path / "node.db"))
    assert jobs(ingest.poll()) == [1, 2]
    chain.reorg(4, {5: [3], 6: [4]})  # blocks 4..6 replaced: job 2's event is gone
    assert ingest.poll() == []  # the rewind itself
    assert ingest.reorgs == 1
    # Read again from a block known to be canonical (the fork point, or `reorg_depth` back when no
    # hash there was recorded): the new branch's events, never the replaced one's. An event read
    # twice is harmless (events are hints; the node decides from the contract's views).
    again = jobs(ingest.poll())
    assert 2 not in again and again[-2:] == [3, 4]


def test_long_backfill__read_in_bounded_ranges(tmp_path):
    chain = FakeChain(head=0)
    chain.extend(MAX_RANGE + 10, {MAX_RANGE + 5: [42]})
    ingest = ingest_on(chain, Store(tmp_path / "node.db"))
    assert jobs(ingest.poll()) == []  # blocks 1..MAX_RANGE
    assert jobs(ingest.poll()) == [42]
    assert chain.get_logs_calls == 2


def test_idle_and_one_block_steps__the_head_block_is_the_only_extra_read(tmp_path):
    """The node hands poll() the head block it read for the step: the cursor is checked against
    the head's own hash or its parentHash, so following the chain block by block costs one
    eth_getLogs per new block and nothing when idle; a replaced head is still a reorg."""
    chain = FakeChain(head=0)
    chain.extend(3, {2: [7]})
    ingest = ingest_on(chain, Store(tmp_path / "node.db"))
    assert jobs(ingest.poll(chain.get_block("latest"))) == [7]
    chain.get_block_calls = chain.get_logs_calls = 0
    for _ in range(3):  # idle
        assert ingest.poll(chain.get_block("latest")) == []
    chain.extend(1, {4: [8]})
    assert jobs(ingest.poll(chain.get_block("latest"))) == [8]
    assert (chain.get_block_calls, chain.get_logs_calls) == (4, 1)  # the four heads handed in
    chain.reorg(4, {4: [9]})  # the head block replaced at the same height
    assert ingest.poll(chain.get_block("latest")) == [] and ingest.reorgs == 1
    assert 9 in jobs(ingest.poll(chain.get_block("latest")))
    chain.reorg(4, {})  # the cursor's block replaced, and a new block on top
    chain.extend(1, {5: [10]})
    assert ingest.poll(chain.get_block("latest")) == [] and ingest.reorgs == 2
    assert jobs(ingest.poll(chain.get_block("latest")))[-1] == 10


def test_a_job_created_log_whose_terms_do_not_hash_to_its_id__is_dropped(tmp_path, caplog):
    """A lying RPC endpoint cannot hand the node a job: `JobCreated` terms must hash to the id
    (ids are hashes of terms), so a log with any term changed is dropped, with the reason."""
    from eth_abi import encode

    from oracle.core.chain import load_abis
    from oracle.core.protocol import Capabilities, JobTerms

    (abi,) = [e for e in load_abis({})["JobMarket"] if e.get("name") == "JobCreated"]
    terms = JobTerms(client=Web3.to_checksum_address("0x" + "11" * 20), bundleHash=b"\x22" * 32,
                     payment=10**19, collateral=10**18, replicas=1, claimDeadline=10**9,
                     protocolFeeBps=500, keeperBountyBps=100, requirements=Capabilities(1, 512, 0, 0, 0),
                     claimWindow=60, executionWindow=600, revealWindow=60, disputeWindow=60, nonce=4)  # fmt: skip
    data_types = [i["type"] if i["type"] != "tuple" else "(uint16,uint32,uint8,uint32,uint8)"
                  for i in abi["inputs"] if not i["indexed"]]  # fmt: skip

    def log(job_id: int, payment: int) -> dict:
        values = {**{f: getattr(terms, f) for f in ("replicas", "claimDeadline", "protocolFeeBps",
                  "keeperBountyBps", "claimWindow", "executionWindow", "revealWindow", "disputeWindow",
                  "nonce", "collateral")}, "payment": payment, "bundleUri": "file:///b.tar.gz",
                  "requirements": terms.requirements.as_tuple()}  # fmt: skip
        data = encode(data_types, [values[i["name"]] for i in abi["inputs"] if not i["indexed"]])
        topics = [event_abi_to_log_topic(abi), job_id.to_bytes(32, "big"),
                  bytes(12) + bytes.fromhex(terms.client[2:]), terms.bundleHash]  # fmt: skip
        return {"address": MARKET, "topics": topics, "data": data, "blockNumber": 1,
                "transactionHash": HexBytes(b"\x01" * 32)}  # fmt: skip

    fake = SimpleNamespace(w3=Web3(), market=SimpleNamespace(address=MARKET),
                           abis={"JobMarket": [abi]})  # fmt: skip
    ingest = Ingest(fake, Store(tmp_path / "node.db"), 0, 64, 1)  # type: ignore[arg-type]
    genuine, forged = log(terms.job_id, terms.payment), log(terms.job_id, terms.payment * 100)
    (event,) = ingest.decode([genuine])
    assert (event.name, event.job_id, event.terms) == ("JobCreated", terms.job_id, terms)
    assert ingest.decode([forged]) == []
    assert "ignored a JobCreated log" in caplog.text and "not the market's event" in caplog.text
