#!/usr/bin/env python3
"""Mutation campaign over the TES contracts: how many small bugs do the unit tests catch?

    python tools/mutate.py --list                                   # the mutants, nothing run
    python tools/mutate.py --contract JobMarket --sample 25 --seed 1
    python tools/mutate.py --root /work/wt-mutate --sample 40       # in a copy of the tree

For each mutant: write it into its file, recompile EVERYTHING (`ape compile -f`: a lazy compile
can leave another contract's stale bytecode in place), run the unit tests that cover that file
with `-x` under a timeout, record killed / survived / compile-error / timeout, and restore the
file from the original text kept in memory (always: try/finally, SIGTERM is turned into an
interrupt). The last step recompiles the original tree. docs/MUTATION.md is rewritten after every
mutant, so an interrupted campaign still leaves its partial score.

Mutating contracts/ changes the tree everyone tests against: run campaigns in a copy of the
repository (--root) with PYTHONPATH pointing at that copy (set here for the child processes).

Operators: relational swaps (< <=, > >=, == !=), arithmetic swaps (+ -, * /, += -=), deleted
guards (`require(...)`, single-line `if (...) revert ...;`), deleted state writes and emits, and
changed constants (`constant NAME = <number>` -> number + 1).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

SOURCE_GLOBS = ("contracts/*.sol", "contracts/market/*.sol", "contracts/libraries/*.sol",
                "contracts/types/*.sol")  # fmt: skip

# Source file stem -> (group shown in the report, unit-test directories that cover it).
MARKET = ("JobMarket", ("tests/unit/market",))
REGISTRY = ("NodeRegistry", ("tests/unit/registry",))
COVERAGE = {
    "JobMarket": MARKET,
    "MarketSeating": MARKET,
    "MarketSettlement": MARKET,
    "MarketRules": MARKET,
    "Seats": MARKET,
    "JobRecord": MARKET,
    "NodeRegistry": REGISTRY,
    "NodeRecords": REGISTRY,
    "OperatorBinding": REGISTRY,
    "SortitionTree": REGISTRY,
    "Rewards": ("Rewards", ("tests/unit/rewards",)),
    "NodeLicense": ("NodeLicense", ("tests/unit/licence",)),
    "TESToken": ("TESToken", ("tests/unit/token",)),
}

RELATIONAL = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "=="}
# A relational operator on its own: not part of <<, >>, =>, ->, <<=, >>= or an assignment.
RELATIONAL_RE = re.compile(r"(?<![<>=!\-])(<=|>=|==|!=|<|>)(?![<>=])")
ARITHMETIC = {" + ": " - ", " - ": " + ", " * ": " / ", " / ": " * ", " += ": " -= ",
              " -= ": " += "}  # fmt: skip
GUARD_RE = re.compile(r"^\s*(require\(.*\);|if \(.*\) revert .*;)\s*$")
EMIT_RE = re.compile(r"^\s*emit \w+\(.*\);\s*$")
# An assignment to existing storage/variables: no type before the name (that would declare).
WRITE_RE = re.compile(r"^\s*[A-Za-z_][\w.\[\]()]*\s*(=|\+=|-=)\s*[^=].*;\s*$")
INCDEC_RE = re.compile(r"^\s*(\+\+|--)?[A-Za-z_][\w.\[\]]*(\+\+|--)?;\s*$")
CONSTANT_RE = re.compile(r"(constant\s+\w+\s*=\s*)(\d[\d_]*)(\s*(?:days|minutes|hours)?\s*;)")


@dataclass(frozen=True)
class Mutant:
    file: str  # relative to the root
    line: int  # 1-based
    kind: str
    original: str
    mutated: str  # the whole new line ("" = line deleted)

    @property
    def id(self) -> str:
        return f"{self.file}:{self.line}:{self.kind}:{self.mutated.strip()}"

    def describe(self) -> str:
        new = self.mutated.strip() or "(deleted)"
        return f"`{self.original.strip()}` -> `{new}`"


@dataclass
class Result:
    mutant: Mutant
    outcome: str  # killed | survived | compile-error | timeout
    seconds: float
    detail: str = ""


# ------------------------------------------------------------------ generating mutants
def _code_lines(text: str) -> list[tuple[int, str]]:
    """(1-based line number, line) of lines that hold code (comments and blocks skipped)."""
    out, in_block = [], False
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if in_block:
            in_block = "*/" not in stripped
            continue
        if stripped.startswith("/*"):
            in_block = "*/" not in stripped
            continue
        if not stripped or stripped.startswith(("//", "*", "pragma", "import", "error ", "event ")):
            continue
        out.append((number, line))
    return out


def _strip_comment(line: str) -> tuple[str, str]:
    index = line.find("//")
    return (line, "") if index < 0 else (line[:index], line[index:])


def mutants_of(path: Path, root: Path) -> list[Mutant]:
    rel = str(path.relative_to(root))
    found: list[Mutant] = []
    for number, line in _code_lines(path.read_text()):
        code, comment = _strip_comment(line)

        def add(
            kind: str,
            new_code: str | None,
            _line: str = line,
            _comment: str = comment,
            _number: int = number,
        ) -> None:
            mutated = "" if new_code is None else new_code + _comment
            found.append(Mutant(rel, _number, kind, _line, mutated))

        for match in RELATIONAL_RE.finditer(code):
            op = match.group(1)
            add("relational", code[: match.start()] + RELATIONAL[op] + code[match.end() :])
        for op, swap in ARITHMETIC.items():
            start = code.find(op)
            while start >= 0:
                add("arithmetic", code[:start] + swap + code[start + len(op) :])
                start = code.find(op, start + 1)
        if GUARD_RE.match(code):
            add("guard-deleted", None)
        elif EMIT_RE.match(code):
            add("emit-deleted", None)
        elif code.strip() in ("continue;", "break;", "_;"):
            add("statement-deleted", None)  # a loop step, or a modifier's function body
        elif (WRITE_RE.match(code) or INCDEC_RE.match(code)) and not code.strip().startswith(
            ("return", "revert")
        ):
            add("write-deleted", None)
        constant = CONSTANT_RE.search(code)
        if constant:
            value = int(constant.group(2).replace("_", ""))
            new = code[: constant.start(2)] + str(value + 1) + code[constant.end(2) :]
            add("constant", new)
    return found


def all_mutants(root: Path, contracts: list[str]) -> list[Mutant]:
    files = sorted({p for g in SOURCE_GLOBS for p in root.glob(g)})
    out = []
    for path in files:
        stem = path.stem
        if stem not in COVERAGE:
            continue
        group = COVERAGE[stem][0]
        if contracts and stem not in contracts and group not in contracts:
            continue
        out += mutants_of(path, root)
    return out


def group_of(mutant: Mutant) -> str:
    return COVERAGE[Path(mutant.file).stem][0]


def sample(mutants: list[Mutant], n: int, seed: int, contracts: list[str]) -> list[Mutant]:
    """n mutants at random (seeded); with several --contract, n from each of them."""
    rng, picked = random.Random(seed), []
    pools = [[m for m in mutants if c in (group_of(m), Path(m.file).stem)] for c in contracts]
    for pool in pools if len(pools) > 1 else [mutants]:
        picked += rng.sample(pool, min(n, len(pool)))
    return sorted(set(picked), key=lambda m: (m.file, m.line, m.mutated))


def apply(text: str, mutant: Mutant) -> str:
    lines = text.splitlines(keepends=True)
    old = lines[mutant.line - 1]
    if old.rstrip("\n") != mutant.original:
        raise RuntimeError(f"{mutant.file}:{mutant.line} changed since the mutants were listed")
    lines[mutant.line - 1] = (mutant.mutated + "\n") if mutant.mutated else "\n"
    return "".join(lines)


# ------------------------------------------------------------------ running
class CompileTimeout(Exception):
    pass


class Runner:
    def __init__(self, root: Path, timeout: int, compile_timeout: int):
        self.root, self.timeout, self.compile_timeout = root, timeout, compile_timeout
        bin_dir = root / "node_modules" / ".bin"
        self.env = {
            **os.environ,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": str(root),  # the copy's own `oracle` and `tests` packages
        }
        self.ape = str(root / ".venv" / "bin" / "ape")

    def _run(self, args: list[str], timeout: int) -> tuple[int | None, str]:
        try:
            proc = subprocess.run(args, cwd=self.root, env=self.env, capture_output=True,
                                  text=True, timeout=timeout)  # fmt: skip
        except subprocess.TimeoutExpired:
            return None, "timeout"
        return proc.returncode, proc.stdout + proc.stderr  # callers cut what they keep

    def compile(self) -> tuple[bool, str]:
        rc, out = self._run([self.ape, "compile", "-f"], self.compile_timeout)
        if rc is None:
            raise CompileTimeout  # says nothing about the mutant: not a compile error
        return rc == 0 and "ERROR" not in out, out

    def test(self, dirs: tuple[str, ...]) -> tuple[str, str]:
        args = [self.ape, "test", *dirs, "-x", "-q", "--tb=line", "-p", "no:cacheprovider"]
        rc, out = self._run(args, self.timeout)
        if rc is None:
            return "timeout", out  # counted as killed: the mutant made the tests hang
        if rc == 0:
            return "survived", ""
        if rc == 1:
            return "killed", _first_failure(out)
        return "error", out[-2000:]  # collection error, no tests...: the run says nothing


def _first_failure(out: str) -> str:
    for line in out.splitlines():
        if line.startswith(("FAILED", "ERROR")):
            return line[:200]
    return ""


def run_one(runner: Runner, root: Path, mutant: Mutant) -> Result:
    path = root / mutant.file
    original = path.read_text()
    started = time.monotonic()
    try:
        path.write_text(apply(original, mutant))
        try:
            ok, out = runner.compile()
        except CompileTimeout:
            return Result(mutant, "error", time.monotonic() - started, "compile timed out")
        if not ok:
            return Result(mutant, "compile-error", time.monotonic() - started, out[-300:])
        outcome, detail = runner.test(COVERAGE[Path(mutant.file).stem][1])
        return Result(mutant, outcome, time.monotonic() - started, detail)
    finally:
        path.write_text(original)  # always, even on Ctrl-C or SIGTERM


def baseline_passes(runner: Runner, mutants: list[Mutant]) -> bool:
    try:
        ok, out = runner.compile()
    except CompileTimeout:
        ok, out = False, "timeout"
    if not ok:
        print(f"the unmutated tree does not compile:\n{out}", file=sys.stderr)
        return False
    for dirs in sorted({COVERAGE[Path(m.file).stem][1] for m in mutants}):
        outcome, detail = runner.test(dirs)
        print(f"baseline {' '.join(dirs)}: {outcome} {detail}", flush=True)
        if outcome != "survived":  # "survived" = the tests passed
            return False
    return True


# ------------------------------------------------------------------ report
def score(results: list[Result]) -> tuple[int, int, float | None]:
    """(killed, counted, score): compile errors and broken runs do not count; timeouts kill."""
    killed = sum(r.outcome in ("killed", "timeout") for r in results)
    counted = killed + sum(r.outcome == "survived" for r in results)
    return killed, counted, (killed / counted if counted else None)


def render(results: list[Result], command: str, total: int, planned: int, finished: bool) -> str:
    groups: dict[str, list[Result]] = {}
    for r in results:
        groups.setdefault(COVERAGE[Path(r.mutant.file).stem][0], []).append(r)
    killed, counted, overall = score(results)
    status = "finished" if finished else f"in progress ({len(results)} of {planned} run)"
    out = [
        "# Mutation testing",
        "",
        f"Generated by `{command}` ([tools/mutate.py](../tools/mutate.py)); {status}."
        f" {planned} of the {total} mutants of the selected contracts were run (a sample: a"
        " full campaign compiles everything and runs a test directory per mutant). Do not edit"
        " by hand.",
        "",
        "Killed: the contract's unit tests failed (`-x`) or timed out. Survived: they passed."
        " Compile errors are left out of the score.",
        "",
        f"**Overall: {_pct(overall)} killed ({killed} of {counted}); target >= 95 %.**",
        "",
        "| contract | mutants run | killed | survived | compile error | other | score |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for group, rs in sorted(groups.items()):
        c = Counter(r.outcome for r in rs)
        k, n, s = score(rs)
        other = c["error"]
        out.append(f"| {group} | {len(rs)} | {k} | {c['survived']} | {c['compile-error']} |"
                   f" {other} | {_pct(s)} |")  # fmt: skip
    kinds = Counter(r.mutant.kind for r in results)
    out += [
        "",
        "Mutants run by operator: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())),
        "",
    ]
    survivors = [r for r in results if r.outcome == "survived"]
    out += ["## Surviving mutants", ""]
    if not survivors:
        out.append("None.")
    for r in sorted(survivors, key=lambda r: (r.mutant.file, r.mutant.line)):
        out.append(f"- `{r.mutant.file}:{r.mutant.line}` ({r.mutant.kind}): {r.mutant.describe()}")
    broken = [r for r in results if r.outcome == "error"]
    if broken:
        out += ["", "## Runs that said nothing (test collection or setup failed)", ""]
        out += [f"- `{r.mutant.file}:{r.mutant.line}`: {r.mutant.describe()}" for r in broken]
    return "\n".join(out) + "\n"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


# ------------------------------------------------------------------ command
def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    default_root = Path(__file__).resolve().parents[1]
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--root", type=Path, default=default_root, help="repository to mutate")
    p.add_argument(
        "--contract",
        action="append",
        default=[],
        help="file stem or group (JobMarket, NodeRegistry, Rewards...); repeatable",
    )
    p.add_argument("--limit", type=int, help="run at most N mutants (in order)")
    p.add_argument(
        "--sample",
        type=int,
        help="run a random sample of N mutants (N per --contract when several)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=1, choices=[1], help="mutants at a time (1 only:"
                   " mutants share the tree and .build)")  # fmt: skip
    p.add_argument("--timeout", type=int, default=900, help="seconds per test run")
    p.add_argument("--compile-timeout", type=int, default=900)
    p.add_argument("--out", type=Path, help="report (default: <root>/docs/MUTATION.md)")
    p.add_argument("--list", action="store_true", help="list the mutants and stop")
    p.add_argument(
        "--baseline",
        action="store_true",
        help="first run the selected test directories on the unmutated tree; stop if they fail"
        " (otherwise every mutant would count as killed)",
    )
    args = p.parse_args(argv)
    root = args.root.resolve()
    out_path = args.out or root / "docs" / "MUTATION.md"
    command = "python tools/mutate.py " + " ".join(argv if argv is not None else sys.argv[1:])

    mutants = all_mutants(root, args.contract)
    total = len(mutants)
    if args.sample is not None:
        mutants = sample(mutants, args.sample, args.seed, args.contract)
    if args.limit is not None:
        mutants = mutants[: args.limit]
    if args.list:
        for m in mutants:
            print(f"{m.file}:{m.line} {m.kind}: {m.describe()}")
        print(f"{len(mutants)} of {total} mutants", file=sys.stderr)
        return 0

    signal.signal(signal.SIGTERM, _interrupt)
    runner = Runner(root, args.timeout, args.compile_timeout)
    if args.baseline and not baseline_passes(runner, mutants):
        return 2
    log_path = root / ".build" / "mutate-results.jsonl"
    results: list[Result] = []
    finished = False
    try:
        for i, mutant in enumerate(mutants, 1):
            result = run_one(runner, root, mutant)
            results.append(result)
            print(f"[{i}/{len(mutants)}] {result.outcome:13} {result.seconds:6.0f}s"
                  f" {mutant.file}:{mutant.line} {mutant.describe()}", flush=True)  # fmt: skip
            with log_path.open("a") as log:
                log.write(json.dumps({**asdict(result.mutant), "outcome": result.outcome,
                                      "detail": result.detail[:300],
                                      "seconds": round(result.seconds, 1)}) + "\n")  # fmt: skip
            out_path.write_text(render(results, command, total, len(mutants), False))
        finished = True
    except KeyboardInterrupt:
        print("interrupted: every file was restored", file=sys.stderr)
    finally:
        out_path.write_text(render(results, command, total, len(mutants), finished))
        try:
            ok, _ = runner.compile()  # leave .build matching the original sources
        except CompileTimeout:
            ok = False
        if not ok:
            print("warning: the original tree did not recompile", file=sys.stderr)
    killed, counted, s = score(results)
    print(f"score {_pct(s)} ({killed}/{counted}); wrote {out_path}")
    return 0 if finished else 130


if __name__ == "__main__":
    sys.exit(main())
