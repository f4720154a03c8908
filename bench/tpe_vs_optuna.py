#!/usr/bin/python3
"""Ladle's TPE (search/tpe.h) beside Optuna's TPE and random search, same functions, same budget.

Branin (2-D, minimum 0.397887) and Hartmann-6 (6-D, minimum -3.32237), minimised; --seeds seeds of
--trials trials each. Ladle's runs come from build/bin/tpe_quality; Optuna's (Debian's
python3-optuna, TPESampler with its defaults, seeded) run here. Prints, per function and sampler,
the median and mean ± std over seeds of the best value after 25, 50 and --trials trials.

    /usr/bin/python3 bench/tpe_vs_optuna.py --build build [--seeds 10] [--trials 100]
"""
import argparse
import json
import math
import statistics
import subprocess

import optuna


def branin(x1, x2):
    b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


ALPHA = [1.0, 1.2, 3.0, 3.2]
A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8],
     [17, 8, 0.05, 10, 0.1, 14]]
P = [[0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
     [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
     [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
     [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381]]


def hartmann6(x):
    return -sum(ALPHA[i] * math.exp(-sum(A[i][j] * (x[j] - P[i][j]) ** 2 for j in range(6)))
                for i in range(4))


def objective(name):
    if name == "branin":
        return lambda t: branin(t.suggest_float("x1", -5, 10), t.suggest_float("x2", 0, 15))
    return lambda t: hartmann6([t.suggest_float("x%d" % (j + 1), 0, 1) for j in range(6)])


def optuna_runs(name, seeds, trials):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for seed in range(1, seeds + 1):
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
        study.optimize(objective(name), n_trials=trials)
        best, so_far = [], math.inf
        for t in study.trials:
            so_far = min(so_far, t.value)
            best.append(so_far)
        yield {"function": name, "sampler": "optuna-tpe", "seed": seed, "best": best}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--trials", type=int, default=100)
    args = ap.parse_args()
    out = subprocess.run(["%s/bin/tpe_quality" % args.build, "--seeds", str(args.seeds),
                          "--trials", str(args.trials)], check=True, capture_output=True,
                         text=True).stdout
    runs = [json.loads(line) for line in out.splitlines()]
    for name in ("branin", "hartmann6"):
        runs += list(optuna_runs(name, args.seeds, args.trials))
    checkpoints = [n for n in (25, 50) if n < args.trials] + [args.trials]
    print("best value found (minimised), over %d seeds: median | mean ± std" % args.seeds)
    for name, optimum in (("branin", 0.397887), ("hartmann6", -3.32237)):
        print("%s (optimum %g)" % (name, optimum))
        for sampler in ("ladle-tpe", "optuna-tpe", "ladle-random"):
            cells = []
            for n in checkpoints:
                v = [r["best"][n - 1] for r in runs
                     if r["function"] == name and r["sampler"] == sampler]
                cells.append("%4d trials %8.4f | %.4f ± %.4f" % (
                    n, statistics.median(v), statistics.mean(v), statistics.stdev(v)))
            print("  %-13s %s" % (sampler, "   ".join(cells)))


if __name__ == "__main__":
    main()
