"""Result retention: how long the node keeps what it ran (`data_dir/results`, oracle.core.results).

A stored result (its files and the archive served to the client) is kept
- while any job that refers to it (its `result_hash` in the store) is unsettled: every stage but
  `done` (the job ended on chain: paid, expired, overturned...) and `skipped` (it ended, or we
  hold no seat in it). So a result the client may still fetch, or a dispute may still need, is
  never pruned. `failed` counts as unsettled: the node gave up driving that job and the store no
  longer knows where it stands on chain;
- then for `result_retention_s` after the last of those jobs settled (the row's last update), so
  the client has time to fetch it;
- with `result_retention_mb` > 0, the store is also kept under that size: past it, settled results
  go first, the longest settled first, even inside their grace period; unsettled ones never (the
  store may stay over the cap while they alone exceed it, with a warning).

A stored result no job refers to (left by a crash between storing a result and recording it) counts
as settled when it was written. A pruned result's client gets 410 Gone from the results endpoint.

Pruning reads only the store and the results directory, never the chain, and runs from the node's
loop at most every `PRUNE_INTERVAL_S`; sizes of stored results (immutable: content-addressed) are
measured once and cached.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

from oracle.core.results import ResultStore, is_hash_hex
from oracle.core.tree import remove_tree
from oracle.node import store as st

log = logging.getLogger("oracle.node.retention")

PRUNE_INTERVAL_S = 300.0
SETTLED = frozenset({st.DONE, st.SKIPPED})
STALE_TMP_S = 3_600.0  # a temporary file of the result store this old was left by a crash


@dataclass(frozen=True)
class Held:
    """One stored result and what retention knows of it."""

    digest: str  # hex, no 0x
    size: int  # bytes: files and archive
    settled_at: float | None  # when its last job settled (unix s); None while any job is unsettled
    jobs: tuple[int, ...]  # the jobs that refer to it


def _settled_at(h: Held) -> float:
    assert h.settled_at is not None, "only for settled results"
    return h.settled_at


class Retention:
    def __init__(self, store: st.Store, results: ResultStore, keep_s: float, cap_bytes: int = 0,
                 interval_s: float = PRUNE_INTERVAL_S):  # fmt: skip
        self.store, self.results = store, results
        self.keep_s, self.cap_bytes, self.interval_s = keep_s, cap_bytes, interval_s
        self._sizes: dict[str, int] = {}
        self._due = 0.0  # time.monotonic() of the next pass

    def maybe_prune(self) -> list[Held]:
        """A pruning pass if the last one was at least `interval_s` ago (else nothing)."""
        now = time.monotonic()
        if now < self._due:
            return []
        self._due = now + self.interval_s
        try:
            return self.prune()
        except OSError:  # a disk problem must not fail the node's step: try again next interval
            log.exception("pruning results failed")
            return []

    def held(self) -> list[Held]:
        """Every stored result, with its size and settlement."""
        refs: dict[str, list[dict]] = {}
        for row in self.store.result_jobs():
            refs.setdefault(row["result_hash"].lower().removeprefix("0x"), []).append(row)
        out = []
        for digest in self.results.stored():
            jobs = refs.get(digest, [])
            if not jobs:
                try:
                    settled_at: float | None = (self.results.root / digest).stat().st_mtime
                except OSError:
                    continue
            elif all(j["stage"] in SETTLED for j in jobs):
                settled_at = max(float(j["updated"]) for j in jobs)
            else:
                settled_at = None
            out.append(
                Held(
                    digest, self._size(digest), settled_at, tuple(sorted(j["job_id"] for j in jobs))
                )
            )
        return out

    def prune(self, now: float | None = None) -> list[Held]:
        """Deletes what the policy lets go; returns what was pruned (each is logged)."""
        now = time.time() if now is None else now
        self._sweep_leftovers(now)
        held = self.held()
        settled = sorted((h for h in held if h.settled_at is not None), key=_settled_at)
        pruned = [h for h in settled if now - _settled_at(h) >= self.keep_s]
        for h in pruned:
            self._remove(h, now, f"settled more than {self.keep_s:.0f}s ago")
        if self.cap_bytes:
            total = sum(h.size for h in held) - sum(h.size for h in pruned)
            gone = {h.digest for h in pruned}
            for h in settled:
                if total <= self.cap_bytes:
                    break
                if h.digest in gone:
                    continue
                self._remove(
                    h,
                    now,
                    f"results over the {self.cap_bytes / 2**20:.0f} MB cap, oldest settled first",
                )
                pruned.append(h)
                total -= h.size
            if total > self.cap_bytes:
                log.warning(
                    "results take %.1f MB, over the %.0f MB cap, but what is left belongs to unsettled jobs"
                    " (kept until they settle)",
                    total / 2**20,
                    self.cap_bytes / 2**20,
                )
        if pruned:
            log.info(
                "pruned %d result(s), %.1f MB", len(pruned), sum(h.size for h in pruned) / 2**20
            )
        return pruned

    def _size(self, digest: str) -> int:
        if digest in self._sizes:
            return self._sizes[digest]
        size = self.results.size(digest)
        if (self.results.root / f"{digest}.tar.gz").exists():
            self._sizes[digest] = size  # complete, and never changes (content-addressed)
        return size

    def _remove(self, h: Held, now: float, why: str) -> None:
        self.results.remove(h.digest)
        self._sizes.pop(h.digest, None)
        jobs = ", ".join(map(str, h.jobs)) or "none"
        log.info(
            "pruned result 0x%s (%.1f MB; jobs %s; settled %.0fs ago): %s",
            h.digest,
            h.size / 2**20,
            jobs,
            now - (h.settled_at or now),
            why,
        )

    def _sweep_leftovers(self, now: float) -> None:
        """Archives whose files are gone, and temporary files a crash left behind."""
        with os.scandir(self.results.root) as entries:
            for entry in entries:
                name = entry.name
                if name.endswith(".tar.gz") and is_hash_hex(name[:-7]):
                    if not self.results.has(name[:-7]):
                        remove_tree(entry.path)
                elif name.startswith(".tmp-"):
                    try:
                        old = now - entry.stat(follow_symlinks=False).st_mtime > STALE_TMP_S
                    except OSError:
                        continue
                    if old:
                        remove_tree(entry.path)
