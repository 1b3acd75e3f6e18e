"""simulate: reinforcement-learning rollouts of the classic cart-pole task (Barto, Sutton &
Anderson 1983; the equations and constants of Gym's CartPole-v1) in plain Python, with seeds
fixed per episode.

A linear policy (push right when w . state > 0) is improved by seeded random search (hill
climbing over `search.iterations`, each candidate scored on `search.episodes` episodes), then
it and a random baseline are evaluated on `episodes` fresh episodes. Episode e of a policy
starts from a state drawn by a generator seeded with (seed, salt, e), so every replica replays
the same episodes. Outputs returns.json (return statistics per policy, learning curve, learned
weights) and returns.csv (every evaluation episode's return).
"""

from __future__ import annotations

import csv
import math
import random

import tes_kit as kit

GRAVITY, MASS_CART, MASS_POLE, HALF_LENGTH, FORCE, TAU = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
TOTAL_MASS = MASS_CART + MASS_POLE
POLE_MASS_LENGTH = MASS_POLE * HALF_LENGTH
THETA_LIMIT = 12 * 2 * math.pi / 360
X_LIMIT = 2.4
EVAL_SALT, SEARCH_SALT, RANDOM_SALT = 1, 2, 3


def step(state: tuple[float, float, float, float], push_right: bool):
    x, x_dot, theta, theta_dot = state
    force = FORCE if push_right else -FORCE
    cos, sin = math.cos(theta), math.sin(theta)
    temp = (force + POLE_MASS_LENGTH * theta_dot * theta_dot * sin) / TOTAL_MASS
    theta_acc = (GRAVITY * sin - cos * temp) / (
        HALF_LENGTH * (4.0 / 3.0 - MASS_POLE * cos * cos / TOTAL_MASS)
    )
    x_acc = temp - POLE_MASS_LENGTH * theta_acc * cos / TOTAL_MASS
    return (
        x + TAU * x_dot,
        x_dot + TAU * x_acc,
        theta + TAU * theta_dot,
        theta_dot + TAU * theta_acc,
    )


def episode(policy, seed: int, salt: int, index: int, max_steps: int) -> int:
    rng = random.Random(f"{seed}/{salt}/{index}")  # str seeds hash with sha512: stable everywhere
    x0, v0, t0, w0 = (rng.uniform(-0.05, 0.05) for _ in range(4))
    state = (x0, v0, t0, w0)
    for t in range(max_steps):
        state = step(state, policy(state, rng))
        x, _, theta, _ = state
        if abs(x) > X_LIMIT or abs(theta) > THETA_LIMIT:
            return t + 1
    return max_steps


def linear(weights):
    return lambda s, _rng: sum(w * v for w, v in zip(weights, s, strict=True)) > 0


def random_policy(_state, rng) -> bool:
    return rng.random() < 0.5


def evaluate(policy, seed, salt, episodes, max_steps) -> list[int]:
    return [episode(policy, seed, salt, e, max_steps) for e in range(episodes)]


def stats(returns: list[int], max_steps: int) -> dict:
    ordered = sorted(returns)
    n = len(ordered)
    mean = sum(ordered) / n
    var = sum((r - mean) ** 2 for r in ordered) / n

    def pct(q: float) -> int:
        return ordered[min(n - 1, int(q * n))]

    return {"episodes": n, "mean": mean, "std": math.sqrt(var), "min": ordered[0],
            "max": ordered[-1], "median": pct(0.5), "p10": pct(0.1), "p90": pct(0.9),
            "solved_fraction": sum(r >= max_steps for r in ordered) / n}  # fmt: skip


def main() -> None:
    kit.check_packages()
    cfg, seed = kit.config(), kit.seed()
    if cfg.get("env", "cartpole") != "cartpole":
        kit.fail(f"unknown env {cfg.get('env')!r} (only cartpole)")
    max_steps = int(cfg.get("max_steps", 500))
    episodes = int(cfg.get("episodes", 100))
    search = cfg.get("search", {})
    rng = random.Random(f"{seed}/search")
    weights = [float(w) for w in search.get("initial", [0.0, 0.0, 0.0, 0.0])]
    noise = float(search.get("noise", 0.5))
    search_episodes = int(search.get("episodes", 5))
    score = sum(evaluate(linear(weights), seed, SEARCH_SALT, search_episodes, max_steps))
    curve = [{"iteration": 0, "mean_return": score / search_episodes}]
    for it in range(1, int(search.get("iterations", 20)) + 1):
        candidate = [w + rng.gauss(0.0, noise) for w in weights]
        cand = sum(evaluate(linear(candidate), seed, SEARCH_SALT, search_episodes, max_steps))
        if cand > score:
            weights, score = candidate, cand
        curve.append({"iteration": it, "mean_return": score / search_episodes})
    print(f"search: best mean return {score / search_episodes:.1f} with weights {weights}")

    learned = evaluate(linear(weights), seed, EVAL_SALT, episodes, max_steps)
    baseline = evaluate(random_policy, seed, RANDOM_SALT, episodes, max_steps)
    out = kit.out_dir()
    kit.write_json(
        out / "returns.json",
        {"env": "cartpole", "seed": seed, "max_steps": max_steps,
         "policies": {"learned_linear": stats(learned, max_steps),
                      "random": stats(baseline, max_steps)},
         "learned_weights": weights, "search_curve": curve},
    )  # fmt: skip
    with open(out / "returns.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["policy", "episode", "return"])
        for name, rets in (("learned_linear", learned), ("random", baseline)):
            w.writerows([name, e, r] for e, r in enumerate(rets))
    print(f"learned policy: mean return {sum(learned) / len(learned):.1f} over {episodes} episodes")


if __name__ == "__main__":
    main()
