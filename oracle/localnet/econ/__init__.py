"""Adversarial economics: every attack strategy against honest work, on the real contracts.

`ape run econ` (make econ) deploys a fresh network on the in-process EVM, builds an honest
population, and for each strategy plays the same epochs twice from a shared snapshot: once with
the attacker behaving honestly, once playing the strategy. The difference in the attacker's
holdings is its profit over honest operation with the same capital (docs/ECONOMICS.md).

    world.py       accounts, nodes, positions, the job driver (every step a real transaction)
    strategies.py  the attacker policies, one class per strategy name
    simulation.py  the paired-branch epoch loop
    report.py      docs/econ.json and docs/ECONOMICS.md
"""

from oracle.localnet.econ.simulation import SimConfig, simulate
from oracle.localnet.econ.strategies import STRATEGIES

__all__ = ["STRATEGIES", "SimConfig", "simulate"]
