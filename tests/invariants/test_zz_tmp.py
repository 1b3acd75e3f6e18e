import copy, inspect, os, time, collections
from hypothesis.stateful import run_state_machine_as_test, RULE_MARKER
from tests.invariants import test_stateful as T
from tests.invariants.test_stateful import EscrowMachine, world, _settings  # noqa: F401

RULES = collections.Counter(); TIMES = collections.Counter(); SEQ = []

class Traced(EscrowMachine):
    def __init__(self):
        super().__init__(); SEQ.append("\n")

for name, f in inspect.getmembers(EscrowMachine):
    r = getattr(f, RULE_MARKER, None)
    if r is None: continue
    def make(fn=r.function, name=name):
        def g(self, **kw):
            t = time.process_time()
            try: return fn(self, **kw)
            finally: SEQ.append(name[:6]); RULES[name] += 1; TIMES[name] += time.process_time() - t
        g.__name__ = name
        return g
    r2 = copy.copy(r); object.__setattr__(r2, "function", make())
    def holder(self): pass
    setattr(holder, RULE_MARKER, r2)
    setattr(Traced, name, holder)

def test_dbg(world):
    Traced.world = world
    t = time.process_time()
    orig_check = EscrowMachine._read
    def rd(self, all_jobs=False):
        s = time.process_time(); 
        try: return orig_check(self, all_jobs)
        finally: TIMES["_read"] += time.process_time() - s; RULES["_read"] += 1
    EscrowMachine._read = rd
    try:
        run_state_machine_as_test(Traced, settings=_settings(max_examples=int(os.environ.get("EX", 4)), stateful_step_count=int(os.environ.get("STEPS", 30))))
    finally:
        print(" ".join(SEQ)); print("\ntotal cpu", time.process_time() - t)
        for n, c in RULES.most_common(): print(f"{n:16s} {c:4d}  cpu {TIMES[n]:.2f}")
        print(", ".join(f"{k} x{v}" for k, v in sorted(T.COVERAGE.items())))
