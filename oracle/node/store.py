"""The node's durable memory (SQLite, WAL): the ingest cursor, what it knows of each job, and every
transaction intent, written *before* the transaction is sent.

After a crash the node replays unfinished intents against the chain (which is the truth): an intent
whose effect is already on chain is marked done, the rest are sent again. The contracts reject a
second claim, proof or reveal for the same replica, so replaying can never pay twice.

An intent's status: `pending` (to be sent if still needed), `sent` (in the mempool: tx hash, nonce,
gas limit, current fees and fee bumps recorded), `mined` (receipt in the block recorded, waiting
for `confirmations` blocks on top; a reorg that removes it sends it back to `pending`), `done`,
`failed` (refused at the estimate or reverted) or `obsolete` (no longer needed when its turn came).
Columns added after the first release are added to an older store when it is opened
(`INTENT_COLUMNS`), so a node upgraded in place keeps its intents.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from oracle.core.errors import ConfigError
from oracle.core.protocol import JobId, JobTerms, job_hex

SCHEMA = """
CREATE TABLE IF NOT EXISTS cursor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    block INTEGER NOT NULL,
    block_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS blocks (
    number INTEGER PRIMARY KEY,
    hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXTID PRIMARY KEY,
    node_id INTEGER,
    stage TEXT NOT NULL,
    bundle_hash TEXT,
    bundle_uri TEXT,
    replicas INTEGER,
    payment TEXT,
    result_hash TEXT,
    salt TEXT,
    reason TEXT,
    created_block INTEGER,
    terms TEXT,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS intents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    job_id TEXTID,
    node_id INTEGER,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    tx_hash TEXT,
    nonce INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    gas_used INTEGER,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS intents_status ON intents(status);
CREATE UNIQUE INDEX IF NOT EXISTS intents_once ON intents(kind, job_id, node_id)
    WHERE kind IN ('claim', 'accept', 'proof', 'reveal');
"""

# Intent columns added since the first schema (name -> SQL type), added by ALTER TABLE to a store
# written before them: the current transaction's fee bumps, fees and gas limit, when it was sent,
# and the block its receipt is in (checked against the canonical chain until confirmed).
INTENT_COLUMNS = {
    "bumps": "INTEGER NOT NULL DEFAULT 0",
    "max_fee": "INTEGER",
    "priority_fee": "INTEGER",
    "gas_limit": "INTEGER",
    "sent_at": "REAL",
    "block_number": "INTEGER",
    "block_hash": "TEXT",
}


def job_key(job_id: int | None) -> str | None:
    """A job id as the store keeps it. Ids are 256-bit hashes and SQLite integers 64-bit: the
    columns hold `job_hex` text (declared TEXTID: text affinity, and read back as int)."""
    return None if job_id is None else job_hex(job_id)


sqlite3.register_converter("TEXTID", lambda raw: JobId(int(raw, 16)))


class Stage(StrEnum):
    """A job's stage as the node sees it; the chain's status is authoritative. CLAIMING covers
    both ways to a seat: a claim (k = 1) or accepting a drawn seat, in flight. Stored as text."""

    SEEN = "seen"
    CLAIMING = "claiming"
    CLAIMED = "claimed"
    RUNNING = "running"
    EXECUTED = "executed"
    PROVING = "proving"
    PROVEN = "proven"
    REVEALED = "revealed"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


class IntentKind(StrEnum):
    """What a transaction intent does (submit.py builds the call from it). Stored as text."""

    CLAIM = "claim"
    ACCEPT = "accept"  # acceptSeat
    PROOF = "proof"
    REVEAL = "reveal"
    DRAW = "draw"
    REDRAW = "redraw"
    EXPIRE = "expire"
    SETTLE = "settle"  # settleAndWithdraw
    FINALIZE = "finalize"  # kept for stores written before `settle`
    HEARTBEAT = "heartbeat"
    ANNOUNCE = "announce"
    ACCEPT_OPERATOR = "accept_operator"


class IntentStatus(StrEnum):
    """Where an intent stands. Stored as text (the SQL below names the same values)."""

    PENDING = "pending"  # to send
    SENT = "sent"  # awaiting its receipt
    MINED = "mined"  # receipt in, awaiting confirmations
    DONE = "done"
    FAILED = "failed"
    OBSOLETE = "obsolete"  # no longer needed when its turn came


SEEN, CLAIMING, CLAIMED, RUNNING, EXECUTED, PROVING, PROVEN, REVEALED, DONE, FAILED, SKIPPED = Stage
TERMINAL = (DONE, FAILED, SKIPPED)


@dataclass
class Intent:
    id: int
    kind: IntentKind
    job_id: int | None
    node_id: int | None
    payload: dict[str, Any]
    status: IntentStatus
    tx_hash: str | None
    nonce: int | None
    attempts: int
    bumps: int = 0
    max_fee: int | None = None
    priority_fee: int | None = None
    gas_limit: int | None = None
    sent_at: float | None = None
    block_number: int | None = None
    block_hash: str | None = None


class Store:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            str(path),
            check_same_thread=False,
            isolation_level=None,
            detect_types=sqlite3.PARSE_DECLTYPES,
        )
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self._lock = threading.RLock()
        self._migrate()

    def _migrate(self) -> None:
        """Adds the intent columns a store written by an older node lacks (idempotent). A store
        of a market with sequential job ids (integer keys) cannot follow this one: refused."""
        kinds = {r["name"]: r["type"] for r in self._db.execute("PRAGMA table_info(jobs)")}
        if kinds.get("job_id") != "TEXTID":
            raise ConfigError(
                "this data directory belongs to a market with sequential job ids (before ids "
                "became hashes of the job's terms); start the node with a new data_dir"
            )
        have = {r["name"] for r in self._db.execute("PRAGMA table_info(intents)").fetchall()}
        for name, sql_type in INTENT_COLUMNS.items():
            if name not in have:
                self._db.execute(f"ALTER TABLE intents ADD COLUMN {name} {sql_type}")

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        self._db.close()

    # ---------------------------------------------------------------- cursor / reorgs
    def cursor(self) -> tuple[int, str] | None:
        row = self._db.execute("SELECT block, block_hash FROM cursor WHERE id = 1").fetchone()
        return (row["block"], row["block_hash"]) if row else None

    def advance(self, block: int, block_hash: str, seen: dict[int, str]) -> None:
        """Moves the cursor and remembers recent block hashes (to find a reorg's fork point)."""
        with self.tx() as db:
            db.execute(
                "INSERT INTO cursor(id, block, block_hash) VALUES (1, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET block = excluded.block, block_hash = excluded.block_hash",
                (block, block_hash),
            )
            db.executemany(
                "INSERT OR REPLACE INTO blocks(number, hash) VALUES (?, ?)", seen.items()
            )
            db.execute("DELETE FROM blocks WHERE number < ?", (block - 512,))

    def block_hash(self, number: int) -> str | None:
        row = self._db.execute("SELECT hash FROM blocks WHERE number = ?", (number,)).fetchone()
        return row["hash"] if row else None

    def rewind(self, block: int, block_hash: str) -> None:
        with self.tx() as db:
            db.execute(
                "UPDATE cursor SET block = ?, block_hash = ? WHERE id = 1", (block, block_hash)
            )
            db.execute("DELETE FROM blocks WHERE number > ?", (block,))

    # ---------------------------------------------------------------- jobs
    def upsert_job(self, job_id: int, **fields: Any) -> None:
        fields["updated"] = time.time()
        key = job_key(job_id)
        with self.tx() as db:
            exists = db.execute("SELECT 1 FROM jobs WHERE job_id = ?", (key,)).fetchone()
            if exists:
                sets = ", ".join(f"{k} = ?" for k in fields)
                db.execute(f"UPDATE jobs SET {sets} WHERE job_id = ?", (*fields.values(), key))
            else:
                fields.setdefault("stage", SEEN)
                cols = ", ".join(["job_id", *fields])
                marks = ", ".join("?" * (len(fields) + 1))
                db.execute(f"INSERT INTO jobs({cols}) VALUES ({marks})", (key, *fields.values()))

    def add_job(self, job_id: int, terms: JobTerms, bundle_uri: str, block: int) -> None:
        """A job seen created (stage `seen`), with the terms of its `JobCreated`."""
        self.upsert_job(
            job_id,
            stage=SEEN,
            bundle_hash=terms.bundleHash.hex(),
            bundle_uri=bundle_uri,
            replicas=terms.replicas,
            payment=str(terms.payment),
            created_block=block,
            terms=json.dumps(terms.to_json()),
        )

    def job(self, job_id: int) -> dict[str, Any] | None:
        row = self._db.execute("SELECT * FROM jobs WHERE job_id = ?", (job_key(job_id),))
        row = row.fetchone()
        return dict(row) if row else None

    def terms(self, job_id: int) -> JobTerms | None:
        """The job's terms as ingested from its `JobCreated`, checked again against its id (a row
        edited or damaged on disk is not trusted); None if not kept."""
        row = self._db.execute("SELECT terms FROM jobs WHERE job_id = ?", (job_key(job_id),))
        found = row.fetchone()
        if found is None or found["terms"] is None:
            return None
        terms = JobTerms.from_json(json.loads(found["terms"]))
        if terms.job_id != job_id:
            raise ConfigError(f"the store's terms of job {job_hex(job_id)} do not hash to its id")
        return terms

    def jobs(self, *stages: str) -> list[dict[str, Any]]:
        if stages:
            marks = ", ".join("?" * len(stages))
            rows = self._db.execute(
                f"SELECT * FROM jobs WHERE stage IN ({marks}) ORDER BY rowid", stages
            )
        else:
            rows = self._db.execute("SELECT * FROM jobs ORDER BY rowid")
        return [dict(r) for r in rows.fetchall()]

    def active_jobs(self) -> list[dict[str, Any]]:
        marks = ", ".join("?" * len(TERMINAL))
        rows = self._db.execute(
            f"SELECT * FROM jobs WHERE stage NOT IN ({marks}) ORDER BY rowid", TERMINAL
        )
        return [dict(r) for r in rows.fetchall()]

    def stage_counts(self) -> dict[str, int]:
        rows = self._db.execute("SELECT stage, COUNT(*) AS n FROM jobs GROUP BY stage").fetchall()
        return {r["stage"]: r["n"] for r in rows}

    def result_jobs(self) -> list[dict[str, Any]]:
        """(job_id, stage, updated, result_hash) of every job holding a result (for retention)."""
        rows = self._db.execute(
            "SELECT job_id, stage, updated, result_hash FROM jobs WHERE result_hash IS NOT NULL"
        )
        return [dict(r) for r in rows.fetchall()]

    # ---------------------------------------------------------------- intents
    def add_intent(
        self, kind: IntentKind, job_id: int | None, node_id: int | None, payload: dict[str, Any]
    ) -> int | None:
        """Records an intent; returns None if the same claim/proof/reveal was already recorded."""
        now = time.time()
        with self.tx() as db:
            try:
                cur = db.execute(
                    "INSERT INTO intents(kind, job_id, node_id, payload, status, created, updated) "
                    "VALUES (?, ?, ?, ?, 'pending', ?, ?)",
                    (kind, job_key(job_id), node_id, json.dumps(payload), now, now),
                )
            except sqlite3.IntegrityError:
                return None
            return cur.lastrowid

    def intents(self, *statuses: IntentStatus) -> list[Intent]:
        marks = ", ".join("?" * len(statuses))
        rows = self._db.execute(
            f"SELECT * FROM intents WHERE status IN ({marks}) ORDER BY id", statuses
        )
        return [
            Intent(
                r["id"],
                IntentKind(r["kind"]),
                r["job_id"],
                r["node_id"],
                json.loads(r["payload"]),
                IntentStatus(r["status"]),
                r["tx_hash"],
                r["nonce"],
                r["attempts"],
                *(r[c] for c in INTENT_COLUMNS),
            )
            for r in rows.fetchall()
        ]

    def intent_count(self, kind: IntentKind, job_id: int) -> int:
        row = self._db.execute(
            "SELECT COUNT(*) AS n FROM intents WHERE kind = ? AND job_id = ?",
            (kind, job_key(job_id)),
        )
        return int(row.fetchone()["n"])

    def mark_sent(
        self,
        ids: list[int],
        tx_hash: str,
        nonce: int,
        *,
        fees: dict[str, int] | None = None,
        gas: int | None = None,
        bump: bool = False,
    ) -> None:
        """A transaction for `ids` is in the mempool. A fresh send counts an attempt and starts the
        fee bumps at 0; a replacement at the same nonce (`bump`) counts a bump. The fees and gas
        limit are kept so a restarted node bumps on from the last fee, not from a new quote."""
        fees = fees or {}
        counts = "bumps = bumps + 1" if bump else "attempts = attempts + 1, bumps = 0"
        now = time.time()
        with self.tx() as db:
            db.executemany(
                f"UPDATE intents SET status = 'sent', tx_hash = ?, nonce = ?, {counts}, max_fee = ?, "
                "priority_fee = ?, gas_limit = ?, sent_at = ?, block_number = NULL, block_hash = NULL, "
                "updated = ? WHERE id = ?",
                [
                    (
                        tx_hash,
                        nonce,
                        fees.get("maxFeePerGas"),
                        fees.get("maxPriorityFeePerGas"),
                        gas,
                        now,
                        now,
                        i,
                    )
                    for i in ids
                ],
            )

    def mark_mined(
        self, ids: list[int], block_number: int, block_hash: str, gas_used: int | None = None
    ) -> None:
        """The transaction of `ids` has a receipt in this block, not yet `confirmations` deep."""
        share = None if gas_used is None else gas_used // max(len(ids), 1)
        with self.tx() as db:
            db.executemany(
                "UPDATE intents SET status = 'mined', block_number = ?, block_hash = ?, error = NULL, "
                "gas_used = COALESCE(?, gas_used), updated = ? WHERE id = ?",
                [(block_number, block_hash, share, time.time(), i) for i in ids],
            )

    def last_nonce(self) -> int | None:
        """The highest nonce any of our transactions was sent with (None before the first)."""
        row = self._db.execute("SELECT MAX(nonce) AS n FROM intents").fetchone()
        return None if row["n"] is None else int(row["n"])

    def finish(
        self,
        ids: list[int],
        status: IntentStatus,
        error: str | None = None,
        gas_used: int | None = None,
    ) -> None:
        """`gas_used` is the whole transaction's: a batch's intents each record their share."""
        share = None if gas_used is None else gas_used // max(len(ids), 1)
        with self.tx() as db:
            db.executemany(
                "UPDATE intents SET status = ?, error = ?, gas_used = ?, updated = ? WHERE id = ?",
                [(status, error, share, time.time(), i) for i in ids],
            )

    def gas_spent(self) -> int:
        row = self._db.execute(
            "SELECT COALESCE(SUM(gas_used), 0) AS g FROM intents WHERE status IN ('mined', 'done')"
        )
        return int(row.fetchone()["g"])

    def intents_failed(self, kind: IntentKind, job_id: int) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM intents WHERE kind = ? AND job_id = ? AND status IN ('failed', 'obsolete')",
            (kind, job_key(job_id)),
        ).fetchone()
        return row is not None

    def has_pending_intent(
        self, kind: IntentKind, job_id: int | None, node_id: int | None = None
    ) -> bool:
        """True if an intent of `kind` for the job (and node, if given) is waiting or in flight: for
        calls that may be needed again once they are done (draw, redraw, expire of a later status).
        A mined intent still counts until it is confirmed: a reorg may send it back to pending."""
        row = self._db.execute(
            "SELECT 1 FROM intents WHERE kind = ? AND job_id IS ? AND (? IS NULL OR node_id = ?) "
            "AND status IN ('pending', 'sent', 'mined')",
            (kind, job_key(job_id), node_id, node_id),
        ).fetchone()
        return row is not None

    def has_open_intent(self, kind: IntentKind, job_id: int) -> bool:
        """True if an intent of `kind` for the job is pending, in flight, mined (unconfirmed) or done."""
        row = self._db.execute(
            "SELECT 1 FROM intents WHERE kind = ? AND job_id = ? AND status IN ('pending', 'sent', 'mined', 'done')",
            (kind, job_key(job_id)),
        ).fetchone()
        return row is not None
