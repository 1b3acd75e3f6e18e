"""A job's result, from the nodes that hold it, to the client: `Client.fetch`, `Client.verify`,
`Client.outcome` (and the signed download under them), as functions of the `Client`.

What a fetched result is checked against: `oracle.client.views` (the module docstring); every
check here goes through the client (`client.sources`, `client.check_result`, ...), as the
methods did. The salt of a k = 1 result is kept next to it (`<dest>.tes-salt`) so `verify` can
re-check it later.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oracle.client.errors import ClientError, ResultMismatch
from oracle.client.views import (
    MAX_RESULT_BYTES,
    PEEK_BYTES,
    JobOutcome,
    JobView,
    SaltRecord,
    outcome_of,
)
from oracle.core import bundle as bundles
from oracle.core.errors import ResultError
from oracle.core.protocol import JobStatus
from oracle.core.result_request import sign_result_request
from oracle.core.results import result_hash, unpack_result
from oracle.core.tree import remove_tree

if TYPE_CHECKING:
    from oracle.client.sdk import Client


def download(client: Client, url: str, job_id: int, node_id: int, timeout_s: float,
             attempts: int = 4, limit: int = MAX_RESULT_BYTES) -> tuple[bytes, Any]:  # fmt: skip
    """(archive, headers) of the node's result. A node's rate limit (429) is waited out as its
    Retry-After says (at most 5 s, `attempts` tries); each try is a freshly signed request
    (nonces are single-use)."""
    tries = 0
    while True:
        tries += 1
        if client.key is None:
            raise ClientError("fetching a result needs the client's key: --account ALIAS")
        # A fresh request per try: bound to that node, short-lived, never reusable.
        headers = sign_result_request(client.key.key, job_id, node_id, client.chain.chain_id,
                                      client.chain.market.address)  # fmt: skip
        req = urllib.request.Request(f"{url.rstrip('/')}/results/{job_id}", headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310 (http(s) from chain)
                return resp.read(limit + 1), resp.headers
        except urllib.error.HTTPError as err:
            if err.code != 429 or tries >= attempts:
                raise
            try:
                wait_s = float(err.headers.get("Retry-After", "1"))
            except ValueError:
                wait_s = 1.0
            time.sleep(min(max(wait_s, 0.1), 5.0))


def outcome(client: Client, view: JobView, *, timeout_s: float = 10.0) -> JobOutcome | None:
    """`Client.outcome`: whether the job's program succeeded, peeked at from its result."""
    if view.job_id in client._outcomes:
        return client._outcomes[view.job_id]
    if client.key is None or view.status not in (JobStatus.ACCEPTED, JobStatus.PAID):
        return None
    candidates = client.sources(view)
    try:
        urls = client.endpoints(candidates) if candidates else {}
    except ClientError:
        return None
    for node_id in candidates:
        url = urls.get(node_id)
        if not url:
            continue
        try:
            archive, headers = download(client, url, view.job_id, node_id, timeout_s, attempts=2,
                                        limit=PEEK_BYTES)  # fmt: skip
        except (urllib.error.HTTPError, OSError, ValueError):
            continue
        if len(archive) > PEEK_BYTES:  # far larger than any failure record: real outputs
            found: JobOutcome | None = JobOutcome(failed=False, status="ok")
        else:
            found = None
            tmp = Path(tempfile.mkdtemp(prefix="tes-outcome-"))
            try:
                salt = client._salt_of(
                    view.job_id, node_id, headers, required=view.result_hash is None
                )
                got = unpack_result(archive, tmp / "out", PEEK_BYTES * 64)
                client.check_result(view, got, salt)
                found = outcome_of(tmp / "out")
            except (ClientError, ResultError):
                found = None
            finally:
                remove_tree(tmp)
        if found is not None:
            client._outcomes[view.job_id] = found
            return found
    return None


def fetch(client: Client, job_id: int, dest: Path, *, timeout_s: float = 60.0) -> bytes:
    """`Client.fetch`: the first node's result that matches the chain, moved into `dest`."""
    view = client.job(job_id)
    client._fetchable(view)
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise ClientError(f"{dest} is not empty")
    candidates = client.sources(view)
    if not candidates:
        raise ClientError(f"no seat of job {job_id} holds its accepted result")
    urls = client.endpoints(candidates)
    if not urls:
        raise ClientError(f"none of the nodes {candidates} announced a results URL on chain")
    problems = []
    for node_id in candidates:
        url = urls.get(node_id)
        if not url:
            problems.append(f"node {node_id}: no URL announced")
            continue
        try:
            archive, headers = download(client, url, job_id, node_id, timeout_s)
        except urllib.error.HTTPError as err:
            problems.append(
                f"node {node_id} ({url}): HTTP {err.code} {err.read()[:200].decode(errors='replace')}"
            )
            continue
        except (OSError, ValueError) as err:
            problems.append(f"node {node_id} ({url}): {err}")
            continue
        try:
            salt = client._salt_of(job_id, node_id, headers, required=view.result_hash is None)
        except ClientError as err:
            problems.append(f"node {node_id}: {err}: refused")
            continue
        tmp = Path(tempfile.mkdtemp(prefix="tes-result-"))
        try:
            got = unpack_result(archive, tmp / "out", MAX_RESULT_BYTES)
            client.check_result(view, got, salt)
        except ResultError as err:
            problems.append(f"node {node_id}: unusable archive: {err}")
            remove_tree(tmp)
            continue
        except ClientError as err:
            problems.append(f"node {node_id}: {err}: refused")
            remove_tree(tmp)
            continue
        dest.mkdir(parents=True, exist_ok=True)
        for item in (tmp / "out").iterdir():
            shutil.move(str(item), dest / item.name)
        remove_tree(tmp)
        if salt is not None:
            salt.write(dest)
        return got
    raise ClientError(
        f"no node served a result matching job {job_id}'s on-chain record:\n  "
        + "\n  ".join(problems)
    )


def verify(
    client: Client,
    job_id: int,
    result_dir: Path,
    bundle: Path | None = None,
    *,
    salt: bytes | None = None,
    node_id: int | None = None,
) -> bytes:
    """`Client.verify`: the hash of `result_dir` (and of the bundle) checked against the chain."""
    view = client.job(job_id)
    if bundle is not None:
        got = bundles.bundle_hash(Path(bundle).read_bytes())
        if got != view.bundle_hash:
            raise ClientError(
                f"bundle {bundle} hashes to 0x{got.hex()}, job {job_id} ran 0x{view.bundle_hash.hex()}"
            )
    if view.result_hash is None and not (
        view.single and view.status in (JobStatus.ACCEPTED, JobStatus.PAID)
    ):
        raise ClientError(f"job {job_id} has no result on chain yet (status: {view.status.label})")
    record: SaltRecord | None
    if salt is not None:
        default = view.original.nodeId if view.original else 0
        record = SaltRecord(job_id, default if node_id is None else node_id, salt)
    else:
        record = SaltRecord.read(result_dir)
    try:
        got = result_hash(result_dir)
    except ResultError as err:
        raise ClientError(str(err)) from err
    try:
        client.check_result(view, got, record)
    except ResultMismatch as err:
        raise ResultMismatch(f"MISMATCH: {result_dir}: {err}") from err
    return got
