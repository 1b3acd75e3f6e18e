"""Python SDK of the TES client: everything `tes-client` does, as methods.

    client = Client.connect("http://127.0.0.1:8545", Path("deployments/local.json"), key)
    job_id = client.submit(Path("bundle.tar.gz"), uri, payment=10 * E18, replicas=3)
    client.wait(job_id, until={"paid"})
    digest = client.fetch(job_id, Path("result"))   # checked against job().resultHash

Transactions are signed here with the client's key (web3.py, no ape needed) and every one is
first simulated, so a revert comes back as the contract's named error, not as a bare failure.
Payment uses an EIP-2612 permit signed off-chain: one transaction, no separate approve.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from eth_abi import decode as abi_decode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import function_signature_to_4byte_selector
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError
from web3.logs import DISCARD

from oracle import bundle as bundles
from oracle.chain import Chain
from oracle.client.errors import ClientError
from oracle.errors import FetchError, ResultError
from oracle.fetch import fetch_bundle
from oracle.permit import permit_message
from oracle.results import result_hash, unpack_result
from oracle.serve import sign_result_request

E18 = 10**18
STATUS = [
    "none",
    "open",
    "running",
    "revealing",
    "accepted",
    "paid",
    "cancelled",
    "expired",
    "failed",
    "overturned",
]
TERMINAL = frozenset({"paid", "cancelled", "expired", "failed", "overturned"})
REPLICA_STATE = ["none", "claimed", "committed", "revealed"]
JOB_FIELDS = ["payment", "collateral", "deadline", "status", "k", "round", "client", "requirements", "bundleHash",
              "claims", "commits", "reveals", "replicaCount", "claimWindow", "executionWindow", "revealWindow",
              "disputeWindow", "resultHash", "disputer"]  # fmt: skip
PARAM_FIELDS = [
    "protocolFeeBps",
    "keeperBountyBps",
    "minCollateralBps",
    "disputeReplicas",
    "minJobFee",
]
DEFAULT_WINDOWS = {
    "claimWindow": 3_600,
    "executionWindow": 7_200,
    "revealWindow": 1_800,
    "disputeWindow": 3_600,
}
MAX_WINDOW = 30 * 86_400  # JobMarket.MAX_WINDOW
MAX_REPLICAS = 15  # JobMarket.MAX_REPLICAS
MAX_RESULT_BYTES = 1 << 30


def tes(amount: str | int | Decimal) -> int:
    """'12.5' TES -> wei (18 decimals); raises ClientError for anything else."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation as err:
        raise ClientError(f"not an amount of TES: {amount!r}") from err
    wei = value * E18
    if value < 0 or wei != wei.to_integral_value():
        raise ClientError(f"not an amount of TES: {amount!r} (at most 18 decimals, not negative)")
    return int(wei)


def fmt_tes(wei: int) -> str:
    text = f"{Decimal(wei) / E18:f}"
    return (text.rstrip("0").rstrip(".") if "." in text else text) + " TES"


def requirements_of(manifest: bundles.Manifest) -> tuple[int, int, int, int, int]:
    """INodeRegistry.Capabilities a node must declare to claim the job, from the manifest."""
    r = manifest.resources
    return (r.cpus, r.memory_mb, r.gpus, r.gpu_memory_mb, r.gpu_class)


@dataclass(frozen=True)
class JobView:
    job_id: int
    fields: dict[str, Any]
    replicas: list[dict[str, Any]]

    @property
    def status(self) -> str:
        return STATUS[self.fields["status"]]

    @property
    def result_hash(self) -> bytes | None:
        h = bytes(self.fields["resultHash"])
        return None if h == b"\x00" * 32 else h

    def to_dict(self) -> dict[str, Any]:
        f = dict(self.fields)
        for key in ("bundleHash", "resultHash"):
            f[key] = "0x" + bytes(f[key]).hex()
        f["status"] = self.status
        f["requirements"] = list(f["requirements"])
        return {"job_id": self.job_id, **f, "replicas": self.replicas}


class Client:
    def __init__(self, chain: Chain, key: LocalAccount | None = None):
        self.chain = chain
        self.w3 = chain.w3
        self.key = key
        self._errors: dict[bytes, tuple[str, list[str], list[str]]] | None = None

    @classmethod
    def connect(cls, rpc_url: str, deployment: Path, key: LocalAccount | None = None) -> Client:
        chain = Chain.connect(rpc_url, Path(deployment))
        try:
            _ = chain.w3.eth.block_number
        except Exception as err:  # noqa: BLE001 (any transport failure)
            raise ClientError(f"cannot reach the chain at {rpc_url}: {err}") from err
        return cls(chain, key)

    @property
    def address(self) -> str:
        if self.key is None:
            raise ClientError(
                "this command needs the client's key: --account ALIAS (and TES_PASSPHRASE)"
            )
        return self.key.address

    # ---------------------------------------------------------------- reads
    def parameters(self) -> dict[str, int]:
        return dict(zip(PARAM_FIELDS, self.chain.market.functions.parameters().call(), strict=True))

    def balance(self, account: str | None = None) -> int:
        return int(self.chain.token.functions.balanceOf(account or self.address).call())

    def job(self, job_id: int) -> JobView:
        count = self.chain.market.functions.jobCount().call()
        if not 1 <= job_id <= count:
            raise ClientError(f"no job {job_id} on this market (jobs 1..{count} exist)")
        fields = dict(zip(JOB_FIELDS, self.chain.market.functions.job(job_id).call(), strict=True))
        reps = []
        for i in range(fields["replicaCount"]):
            node_id, state, rnd, operator, commitment = self.chain.market.functions.replica(
                job_id, i
            ).call()
            reps.append({"node_id": node_id, "state": REPLICA_STATE[state], "round": rnd, "operator": operator,
                         "commitment": "0x" + bytes(commitment).hex()})  # fmt: skip
        return JobView(job_id, fields, reps)

    def chain_time(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def endpoints(self, node_ids: Iterable[int]) -> dict[int, str]:
        """The latest results URL each node announced (NodeRegistry.EndpointAnnounced)."""
        ids = sorted(set(node_ids))
        registry = self.chain.registry
        if not any(e.get("name") == "EndpointAnnounced" for e in registry.abi):
            raise ClientError(
                "this deployment's NodeRegistry has no EndpointAnnounced event: redeploy it"
            )
        logs = registry.events.EndpointAnnounced.get_logs(
            from_block=self.chain.deployment_block, argument_filters={"nodeId": ids}
        )
        found: dict[int, str] = {}
        for log in sorted(logs, key=lambda lg: (lg["blockNumber"], lg["logIndex"])):
            found[int(log["args"]["nodeId"])] = log["args"]["url"]
        return found

    # ---------------------------------------------------------------- submit
    def submit(
        self,
        bundle: Path,
        uri: str,
        payment: int,
        *,
        replicas: int = 1,
        collateral: int | None = None,
        windows: Mapping[str, int] | None = None,
        permit_deadline: int | None = None,
        check_uri: bool = True,
    ) -> int:
        """Escrows `payment` (wei) with a permit and opens the job; returns its id.

        Every input is checked first, against the chain's own rules, so a mistake is explained
        before any gas is spent."""
        bundle = Path(bundle)
        if not bundle.is_file():
            raise ClientError(
                f"bundle file {bundle} does not exist (make one with `tes-client package`)"
            )
        data = bundle.read_bytes()
        digest = bundles.bundle_hash(data)
        manifest = self._manifest_of(data)
        if check_uri:
            try:
                fetch_bundle(uri, digest, max(len(data), 1) * 2, timeout_s=10)
            except FetchError as err:
                raise ClientError(f"nodes could not get this bundle from {uri}: {err}") from err
        params = self.parameters()
        if not 1 <= replicas <= MAX_REPLICAS:
            raise ClientError(f"--replicas must be between 1 and {MAX_REPLICAS}, got {replicas}")
        if payment < params["minJobFee"]:
            raise ClientError(
                f"payment {fmt_tes(payment)} is below the market's minimum job fee of {fmt_tes(params['minJobFee'])}"
            )
        min_collateral = payment * params["minCollateralBps"] // 10_000
        collateral = min_collateral if collateral is None else collateral
        if collateral < min_collateral:
            raise ClientError(
                f"collateral {fmt_tes(collateral)} is below the minimum of {fmt_tes(min_collateral)}"
                f" ({params['minCollateralBps'] / 100:g}% of the payment)"
            )
        w = {**DEFAULT_WINDOWS, **(windows or {})}
        for name, value in w.items():
            optional = name == "disputeWindow" and replicas > 1
            if value > MAX_WINDOW or value < 0 or (value == 0 and not optional):
                raise ClientError(
                    f"{name} must be between 1 s and {MAX_WINDOW} s (30 days), got {value} s"
                )
        now = self.chain_time()
        deadline = permit_deadline if permit_deadline is not None else now + 3_600
        if deadline <= now:
            raise ClientError(f"permit deadline {deadline} is in the past (chain time is {now})")
        have = self.balance()
        if have < payment:
            raise ClientError(
                f"insufficient TES balance: {self.address} holds {fmt_tes(have)}, the job needs {fmt_tes(payment)}"
            )
        request = (
            digest, uri, requirements_of(manifest), payment, collateral, replicas,
            w["claimWindow"], w["executionWindow"], w["revealWindow"], w["disputeWindow"],
        )  # fmt: skip
        v, r, s = self._permit(self.chain.market.address, payment, deadline)
        receipt = self._send(
            self.chain.market.functions.createJobWithPermit(request, deadline, v, r, s)
        )
        events = self.chain.market.events.JobCreated().process_receipt(receipt, errors=DISCARD)
        return int(events[0]["args"]["jobId"])

    @staticmethod
    def _manifest_of(data: bytes) -> bundles.Manifest:
        with tempfile.TemporaryDirectory(prefix="tes-check-") as tmp:
            try:
                return bundles.unpack(data, Path(tmp), 64 * len(data) + (1 << 20))
            except bundles.BundleError as err:
                raise ClientError(f"not a valid bundle: {err}") from err

    def _permit(self, spender: str, value: int, deadline: int) -> tuple[int, bytes, bytes]:
        """EIP-2612 signature over the one Permit definition (`oracle.permit`)."""
        token = self.chain.token
        _, name, version, chain_id, verifying, _, _ = token.functions.eip712Domain().call()
        msg = permit_message(
            name=name, version=version, chain_id=int(chain_id), token=verifying, owner=self.address,
            spender=spender, value=value, nonce=token.functions.nonces(self.address).call(), deadline=deadline,
        )  # fmt: skip
        signed = Account.sign_message(msg.signable_message, self.key.key)  # type: ignore[union-attr]
        return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")

    # ---------------------------------------------------------------- watch
    def wait(
        self,
        job_id: int,
        until: Iterable[str] = TERMINAL,
        timeout_s: float = 600.0,
        poll_s: float = 1.0,
        on_update: Callable[[JobView], None] | None = None,
    ) -> JobView:
        """Polls the job until its status is in `until` (or terminal); TimeoutError otherwise."""
        goal = set(until) | TERMINAL
        end = time.monotonic() + timeout_s
        while True:
            view = self.job(job_id)
            if on_update:
                on_update(view)
            if view.status in goal:
                return view
            if time.monotonic() > end:
                raise TimeoutError(f"job {job_id} still {view.status} after {timeout_s:g} s")
            time.sleep(poll_s)

    # ---------------------------------------------------------------- results
    def fetch(self, job_id: int, dest: Path, *, timeout_s: float = 60.0) -> bytes:
        """Downloads the job's result from a node whose replica produced the accepted result,
        unpacks it into `dest` and checks it against the result hash on chain. Refuses (and
        leaves nothing in `dest`) if no node serves matching files."""
        view = self.job(job_id)
        expected = view.result_hash
        if expected is None or view.status not in ("accepted", "paid"):
            raise ClientError(f"job {job_id} has no accepted result yet (status: {view.status})")
        dest = Path(dest)
        if dest.exists() and any(dest.iterdir()):
            raise ClientError(f"{dest} is not empty")
        agreeing = [r["node_id"] for r in view.replicas if r["commitment"] == "0x" + expected.hex()]
        candidates = agreeing or [r["node_id"] for r in view.replicas]
        urls = self.endpoints(candidates)
        if not urls:
            raise ClientError(f"none of the nodes {candidates} announced a results URL on chain")
        sig = sign_result_request(
            self.key.key, job_id, self.chain.chain_id, self.chain.market.address
        )  # type: ignore[union-attr]
        problems = []
        for node_id in candidates:
            url = urls.get(node_id)
            if not url:
                problems.append(f"node {node_id}: no URL announced")
                continue
            req = urllib.request.Request(
                f"{url.rstrip('/')}/results/{job_id}", headers={"X-TES-Signature": sig}
            )
            try:
                with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310 (http(s) from chain)
                    archive = resp.read(MAX_RESULT_BYTES + 1)
            except urllib.error.HTTPError as err:
                problems.append(
                    f"node {node_id} ({url}): HTTP {err.code} {err.read()[:200].decode(errors='replace')}"
                )
                continue
            except (OSError, ValueError) as err:
                problems.append(f"node {node_id} ({url}): {err}")
                continue
            tmp = Path(tempfile.mkdtemp(prefix="tes-result-"))
            try:
                got = unpack_result(archive, tmp / "out", MAX_RESULT_BYTES)
            except ResultError as err:
                problems.append(f"node {node_id}: unusable archive: {err}")
                shutil.rmtree(tmp, ignore_errors=True)
                continue
            if got != expected:
                problems.append(
                    f"node {node_id}: files hash to 0x{got.hex()}, chain says 0x{expected.hex()}: refused"
                )
                shutil.rmtree(tmp, ignore_errors=True)
                continue
            dest.mkdir(parents=True, exist_ok=True)
            for item in (tmp / "out").iterdir():
                shutil.move(str(item), dest / item.name)
            shutil.rmtree(tmp, ignore_errors=True)
            return got
        raise ClientError(
            f"no node served a result matching job {job_id}'s on-chain hash:\n  "
            + "\n  ".join(problems)
        )

    def verify(self, job_id: int, result_dir: Path, bundle: Path | None = None) -> bytes:
        """Recomputes the result hash of `result_dir` (and the bundle hash) against the chain."""
        view = self.job(job_id)
        if bundle is not None:
            got = bundles.bundle_hash(Path(bundle).read_bytes())
            if got != bytes(view.fields["bundleHash"]):
                raise ClientError(
                    f"bundle {bundle} hashes to 0x{got.hex()}, job {job_id} ran 0x{bytes(view.fields['bundleHash']).hex()}"
                )
        expected = view.result_hash
        if expected is None:
            raise ClientError(f"job {job_id} has no result on chain yet (status: {view.status})")
        try:
            got = result_hash(result_dir)
        except ResultError as err:
            raise ClientError(str(err)) from err
        if got != expected:
            raise ClientError(
                f"MISMATCH: {result_dir} hashes to 0x{got.hex()}, chain says 0x{expected.hex()}"
            )
        return got

    # ---------------------------------------------------------------- disputes and refunds
    def dispute(self, job_id: int) -> int:
        """Disputes a k = 1 job's accepted result inside its window, posting a bond equal to the
        job's collateral (approve, then dispute). Returns the bond."""
        view = self.job(job_id)
        if view.status != "accepted" or view.fields["round"] != 0:
            raise ClientError(
                f"job {job_id} cannot be disputed: it is {view.status} (only an accepted k = 1 result can)"
            )
        now = self.chain_time()
        if now > view.fields["deadline"]:
            raise ClientError(
                f"the dispute window of job {job_id} closed at {view.fields['deadline']} (chain time {now})"
            )
        bond = int(view.fields["collateral"])
        if self.balance() < bond:
            raise ClientError(
                f"insufficient TES balance for the {fmt_tes(bond)} dispute bond (have {fmt_tes(self.balance())})"
            )
        market = self.chain.market.address
        if self.chain.token.functions.allowance(self.address, market).call() < bond:
            self._send(self.chain.token.functions.approve(market, bond))
        self._send(self.chain.market.functions.dispute(job_id))
        return bond

    def cancel(self, job_id: int) -> None:
        self._send(self.chain.market.functions.cancel(job_id))

    def withdraw(self) -> int:
        amount = int(self.chain.market.functions.credited(self.address).call())
        if amount == 0:
            raise ClientError(f"nothing to withdraw: {self.address} has no credited TES")
        self._send(self.chain.market.functions.withdraw())
        return amount

    # ---------------------------------------------------------------- transactions
    def _send(self, fn) -> Any:
        sender = self.address
        try:
            gas = fn.estimate_gas({"from": sender})
        except (ContractCustomError, ContractLogicError, Web3RPCError, ValueError) as err:
            raise ClientError(f"the transaction would revert: {self._explain(err)}") from err
        tx = fn.build_transaction({
            "from": sender, "nonce": self.w3.eth.get_transaction_count(sender, "pending"), "gas": gas * 12 // 10,
            "chainId": self.chain.chain_id,
        })  # fmt: skip
        signed = self.key.sign_transaction(tx)  # type: ignore[union-attr]
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120)
        if receipt["status"] != 1:
            raise ClientError(f"transaction 0x{bytes(tx_hash).hex()} reverted")
        return receipt

    def _explain(self, err: Exception) -> str:
        data = getattr(err, "data", None)
        if isinstance(data, dict):
            data = data.get("data")
        if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
            raw = bytes.fromhex(data[2:])
            known = self._error_table().get(raw[:4])
            if known:
                name, names, types = known
                try:
                    values = abi_decode(types, raw[4:])
                except Exception:  # noqa: BLE001
                    return name
                args = ", ".join(f"{n}={_show(v)}" for n, v in zip(names, values, strict=True))
                return f"{name}({args})"
        return str(err)

    def _error_table(self) -> dict[bytes, tuple[str, list[str], list[str]]]:
        if self._errors is None:
            table = {}
            for abi in self.chain.abis.values():
                for item in abi:
                    if item.get("type") != "error":
                        continue
                    types = [i["type"] for i in item.get("inputs", [])]
                    sel = function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})")
                    table[sel] = (item["name"], [i["name"] for i in item.get("inputs", [])], types)
            self._errors = table
        return self._errors


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        text = value.rstrip(b"\x00")
        return (
            text.decode()
            if text and text.isascii() and text.decode().isprintable()
            else "0x" + value.hex()
        )
    return str(value)


def checksum(address: str) -> str:
    return Web3.to_checksum_address(address)
