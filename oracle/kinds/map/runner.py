"""map: a group-by aggregation over CSV shards shipped in the bundle (data/*.csv, with a
header row), fanned out over the node's workers.

Shard i of n reads the data files i, i+n, i+2n... (sorted by name), keeps the rows that pass
`where`, and writes partial.csv: per group (`group_by` columns), the row count and for every
`metrics` column its sum, min and max. `runner.py reduce` merges the partials into
aggregated.csv (one row per group, sorted, with the mean added) and summary.json. Integer
columns stay integers (exact sums); other numbers are floats summed in a fixed order.
"""

from __future__ import annotations

import csv
import json
import operator
import sys
import tempfile
from pathlib import Path

import tes_kit as kit

OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
       ">": operator.gt, ">=": operator.ge}  # fmt: skip


def number(text: str):
    try:
        return int(text)
    except ValueError:
        return float(text)


def data_files(cfg: dict) -> list[Path]:
    root = kit.job_dir()
    files = sorted(root.glob(cfg.get("files", "data/*.csv")))
    if not files:
        kit.fail(f"no data files match {cfg.get('files', 'data/*.csv')!r} in the bundle")
    return files


def keep(row: dict, where: list[dict]) -> bool:
    for cond in where:
        value = row[cond["column"]]
        if not OPS[cond["op"]](number(value) if isinstance(cond["value"], int | float) else value,
                               cond["value"]):  # fmt: skip
            return False
    return True


def map_files(cfg: dict, files: list[Path]) -> tuple[dict, int]:
    keys, metrics, where = cfg["group_by"], cfg["metrics"], cfg.get("where", [])
    groups: dict[tuple, list] = {}
    rows = 0
    for path in files:
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                rows += 1
                if not keep(row, where):
                    continue
                key = tuple(row[k] for k in keys)
                acc = groups.get(key)
                values = [number(row[m]) for m in metrics]
                if acc is None:
                    groups[key] = [1, *([v, v, v] for v in values)]
                    continue
                acc[0] += 1
                for slot, v in zip(acc[1:], values, strict=True):
                    slot[0] += v
                    slot[1] = min(slot[1], v)
                    slot[2] = max(slot[2], v)
    return groups, rows


def write_partial(cfg: dict, groups: dict, rows: int, path: Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow([*cfg["group_by"], "count",
                    *(f"{s}_{m}" for m in cfg["metrics"] for s in ("sum", "min", "max"))])  # fmt: skip
        for key in sorted(groups):
            acc = groups[key]
            w.writerow([*key, acc[0], *(repr(v) for slot in acc[1:] for v in slot)])
    kit.write_json(path.with_name("rows.json"), {"rows": rows})


def reduce(cfg: dict, parts: list[Path]) -> None:
    keys, metrics = cfg["group_by"], cfg["metrics"]
    merged: dict[tuple, list] = {}
    rows = 0
    for part in parts:  # in shard order: float sums are added in the same order everywhere
        rows += json.loads(part.with_name("rows.json").read_text())["rows"]
        with open(part, newline="") as f:
            for rec in csv.DictReader(f):
                key = tuple(rec[k] for k in keys)
                count = int(rec["count"])
                slots = [[number(rec[f"{s}_{m}"]) for s in ("sum", "min", "max")] for m in metrics]
                acc = merged.get(key)
                if acc is None:
                    merged[key] = [count, *slots]
                    continue
                acc[0] += count
                for slot, new in zip(acc[1:], slots, strict=True):
                    slot[0] += new[0]
                    slot[1] = min(slot[1], new[1])
                    slot[2] = max(slot[2], new[2])
    out = kit.out_dir()
    with open(out / "aggregated.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow([*keys, "count",
                    *(f"{s}_{m}" for m in metrics for s in ("sum", "min", "max", "mean"))])  # fmt: skip
        for key in sorted(merged):
            acc = merged[key]
            cells = []
            for total, lo, hi in acc[1:]:
                cells += [repr(total), repr(lo), repr(hi), repr(total / acc[0])]
            w.writerow([*key, acc[0], *cells])
    kit.write_json(
        out / "summary.json",
        {"rows_read": rows, "rows_kept": sum(a[0] for a in merged.values()),
         "groups": len(merged), "group_by": keys, "metrics": metrics,
         "files": [p.relative_to(kit.job_dir()).as_posix() for p in data_files(cfg)],
         "shards": len(parts)},
    )  # fmt: skip


def main() -> None:
    cfg = kit.config()
    mode = sys.argv[1] if len(sys.argv) > 1 else "run"
    if mode == "reduce":
        shards = kit.shards_dir()
        if shards is None:
            kit.fail("reduce runs only as a fan-out job's reduce step (no TES_SHARDS_DIR)")
        count = int(kit.manifest()["fanout"]["shards"])
        reduce(cfg, [shards / str(i) / "partial.csv" for i in range(count)])
        return
    kit.check_packages()
    files = data_files(cfg)
    part = kit.shard()
    if part is None:  # no fan-out: map everything, then reduce the one partial
        tmp = Path(tempfile.mkdtemp(prefix="tes-map-"))
        write_partial(cfg, *map_files(cfg, files), tmp / "partial.csv")
        reduce(cfg, [tmp / "partial.csv"])
        return
    index, count = part
    groups, rows = map_files(cfg, files[index::count])
    write_partial(cfg, groups, rows, kit.out_dir() / "partial.csv")
    print(f"shard {index}/{count}: {rows} rows from {len(files[index::count])} files")


if __name__ == "__main__":
    main()
