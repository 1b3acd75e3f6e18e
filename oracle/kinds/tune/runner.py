"""tune: a hyperparameter sweep of scikit-learn classifiers on a CSV dataset shipped in the
bundle (scikit-learn's handwritten digits by default).

The trial list is a pure function of config.json and the job seed: a full grid (`strategy:
grid`, every value a list) or `trials` random draws (`strategy: random`; a list is a choice,
{"log_uniform": [lo, hi]}, {"uniform": [lo, hi]} or {"int": [lo, hi]} a distribution), each
drawn from its own generator seeded with (seed, trial). With fan-out, shard i of n runs the
trials t with t % n == i and writes trials.jsonl; `runner.py reduce` merges the shards into
trials.csv (every trial, by id) and best.json (highest validation accuracy, lowest id on ties).
Without fan-out one run does both.
"""

from __future__ import annotations

import csv
import itertools
import json
import sys
import warnings
from typing import Any

import tes_kit as kit

MODELS = ("logreg", "mlp")


def trials_of(cfg: dict, seed: int) -> list[dict]:
    import numpy as np

    space = cfg["search_space"]
    names = sorted(space)
    if cfg.get("strategy", "random") == "grid":
        for name in names:
            if not isinstance(space[name], list):
                kit.fail(f"grid search needs a list of values for {name!r}")
        grid = [dict(zip(names, combo, strict=True))
                for combo in itertools.product(*(space[n] for n in names))]  # fmt: skip
        limit = cfg.get("trials")
        return grid[: int(limit)] if limit else grid
    out = []
    for t in range(int(cfg["trials"])):
        rng = np.random.default_rng([seed, t])
        params = {}
        for name in names:
            spec = space[name]
            if isinstance(spec, list):
                params[name] = spec[int(rng.integers(len(spec)))]
            elif "log_uniform" in spec:
                lo, hi = spec["log_uniform"]
                params[name] = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
            elif "uniform" in spec:
                lo, hi = spec["uniform"]
                params[name] = float(rng.uniform(lo, hi))
            elif "int" in spec:
                lo, hi = spec["int"]
                params[name] = int(rng.integers(lo, hi + 1))
            else:
                kit.fail(f"unknown distribution for {name!r}: {spec}")
        out.append(params)
    return out


def split(cfg: dict, seed: int):
    import numpy as np

    table = np.loadtxt(kit.job_dir() / cfg["dataset"], delimiter=",", dtype=np.float64)
    x, y = table[:, :-1] / float(cfg.get("scale", 1.0)), table[:, -1].astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    if cfg.get("subset"):
        order = order[: int(cfg["subset"])]
    n_val = int(round(len(order) * float(cfg.get("validation_fraction", 0.25))))
    val, train = order[:n_val], order[n_val:]
    return x[train], y[train], x[val], y[val]


def run_trial(cfg: dict, params: dict, data, seed: int) -> dict:
    from sklearn.exceptions import ConvergenceWarning

    x_tr, y_tr, x_val, y_val = data
    model = cfg.get("model", "logreg")
    if model == "logreg":
        from sklearn.linear_model import LogisticRegression

        clf = LogisticRegression(random_state=seed, **{"max_iter": 100, **params})
    elif model == "mlp":
        from sklearn.neural_network import MLPClassifier

        p = dict(params)
        if "hidden" in p:
            p["hidden_layer_sizes"] = (int(p.pop("hidden")),)
        clf = MLPClassifier(random_state=seed, **{"max_iter": 50, **p})
    else:
        kit.fail(f"unknown model {model!r} (one of {', '.join(MODELS)})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x_tr, y_tr)
    raw: Any = getattr(clf, "n_iter_", 0)  # an int, or one per class
    n_iter = int(max(raw)) if hasattr(raw, "__len__") else int(raw)
    return {
        "val_accuracy": int((clf.predict(x_val) == y_val).sum()) / len(y_val),
        "train_accuracy": int((clf.predict(x_tr) == y_tr).sum()) / len(y_tr),
        "n_iter": n_iter,
    }


def run_shard(index: int, count: int) -> list[dict]:
    cfg, seed = kit.config(), kit.seed()
    trials = trials_of(cfg, seed)
    data = split(cfg, seed)
    rows = []
    for t, params in enumerate(trials):
        if t % count != index:
            continue
        row = {"trial": t, "params": params, **run_trial(cfg, params, data, seed)}
        print(f"trial {t}: {json.dumps(params, sort_keys=True)} -> {row['val_accuracy']:.4f}")
        rows.append(row)
    return rows


def write_jsonl(path, rows) -> None:
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))


def finish(rows: list[dict]) -> None:
    cfg, seed = kit.config(), kit.seed()
    expected = len(trials_of(cfg, seed))
    rows = sorted(rows, key=lambda r: r["trial"])
    if [r["trial"] for r in rows] != list(range(expected)):
        kit.fail(f"expected trials 0..{expected - 1}, got {[r['trial'] for r in rows]}")
    names = sorted({k for r in rows for k in r["params"]})
    out = kit.out_dir()
    with open(out / "trials.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["trial", *names, "val_accuracy", "train_accuracy", "n_iter"])
        for r in rows:
            w.writerow([r["trial"], *(json.dumps(r["params"].get(n)) for n in names),
                        repr(r["val_accuracy"]), repr(r["train_accuracy"]), r["n_iter"]])  # fmt: skip
    best = max(rows, key=lambda r: (r["val_accuracy"], -r["trial"]))
    kit.write_json(
        out / "best.json",
        {"model": cfg.get("model", "logreg"), "metric": "val_accuracy", "trials": len(rows),
         "best": best, "seed": seed},
    )  # fmt: skip


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else "run"
    if mode == "reduce":
        shards = kit.shards_dir()
        if shards is None:
            kit.fail("reduce runs only as a fan-out job's reduce step (no TES_SHARDS_DIR)")
        count = int(kit.manifest()["fanout"]["shards"])
        rows = []
        for i in range(count):
            path = shards / str(i) / "trials.jsonl"
            if not path.exists():
                kit.fail(f"shard {i} left no trials.jsonl")
            rows += [json.loads(line) for line in path.read_text().splitlines() if line]
        finish(rows)
        return
    kit.check_packages()
    part = kit.shard()
    if part is None:
        finish(run_shard(0, 1))
    else:
        write_jsonl(kit.out_dir() / "trials.jsonl", run_shard(*part))


if __name__ == "__main__":
    main()
