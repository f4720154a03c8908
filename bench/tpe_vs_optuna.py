#!/usr/bin/python3
"""Ladle's TPE (search/tpe.h) beside Optuna's TPE and random search, same functions, same budget.

Branin (2-D, minimum 0.397887) and Hartmann-6 (6-D, minimum -3.32237), minimised; --seeds seeds of
--trials trials each. Ladle's runs come from build/bin/tpe_quality (the sampler in process) or,
with --through_ladle, from searches on a real ladle-server and --workers ladle-workers: each
trial a kind command job running bench/programs/synthetic.py, proposed by the coordinator's
searcher one at a time (max_concurrent 1, as Optuna's loop). Optuna's (Debian's python3-optuna,
TPESampler with its defaults, seeded) run here. Prints, per function and sampler, the median and
mean ± std over seeds of the best value after 25, 50 and --trials trials.

    /usr/bin/python3 bench/tpe_vs_optuna.py --build build [--seeds 10] [--trials 100]
    /usr/bin/python3 bench/tpe_vs_optuna.py --build build --through_ladle --seeds 10
"""
import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time

import optuna

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs"))
from synthetic import branin, hartmann6  # noqa: E402  (the functions the jobs run)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from local_cluster import LocalCluster  # noqa: E402


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


SPACES = {"branin": {"x1": [-5, 10], "x2": [0, 15]},
          "hartmann6": {"x%d" % (j + 1): [0, 1] for j in range(6)}}


def ladle_runs(build, seeds, trials, workers):
    """Each (function, sampler, seed) as a search on a real server; best-so-far per trial."""
    with LocalCluster(build, workers, prefix="tpe-bench-") as cluster:
        # The code directory holds the program alone (a submit packs all of it).
        prog = os.path.join(cluster.work, "prog")
        os.makedirs(prog)
        shutil.copy(os.path.join(os.path.dirname(__file__), "programs", "synthetic.py"), prog)
        with open(os.path.join(prog, ".ladleignore"), "w") as f:
            f.write("*.yaml\n")  # one archive for all the searches
        started = time.monotonic()
        submitted = []
        for name, space in SPACES.items():
            for sampler in ("tpe", "random"):
                for seed in range(1, seeds + 1):
                    spec = "%s/%s-%s-%d.yaml" % (prog, name, sampler, seed)
                    with open(spec, "w") as f:
                        json.dump({"name": "%s-%s-%d" % (name, sampler, seed), "kind": "command",
                                   "command": {"argv": ["/usr/bin/python3", "synthetic.py"],
                                               "code": "."},
                                   "params": {"function": name},
                                   "search": {"algorithm": sampler, "metric": "value",
                                              "mode": "min", "max_trials": trials,
                                              "max_concurrent": 1, "seed": seed,
                                              "space": {k: {"uniform": v}
                                                        for k, v in space.items()}}}, f)
                    submitted.append((name, "ladle-%s (jobs)" % sampler, seed,
                                      cluster.submit(spec)))
        for name, sampler, seed, exp in submitted:
            jobs = cluster.results(exp, timeout=3600)["jobs"]
            jobs.sort(key=lambda j: j["search"]["trial"])
            best, so_far = [], math.inf
            for j in jobs:
                v = j["search"]["value"]
                so_far = min(so_far, math.inf if v is None else v)
                best.append(so_far)
            yield {"function": name, "sampler": sampler, "seed": seed, "best": best}
        print("through Ladle: %d searches of %d trials (%d jobs) on %d workers in %.0f s" % (
            len(submitted), trials, len(submitted) * trials, workers,
            time.monotonic() - started))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--through_ladle", action="store_true",
                    help="run Ladle's samplers as searches of command jobs on a real server")
    ap.add_argument("--workers", type=int, default=4)
    args = ap.parse_args()
    if args.through_ladle:
        runs = list(ladle_runs(args.build, args.seeds, args.trials, args.workers))
        samplers = ("ladle-tpe (jobs)", "optuna-tpe", "ladle-random (jobs)")
    else:
        out = subprocess.run(["%s/bin/tpe_quality" % args.build, "--seeds", str(args.seeds),
                              "--trials", str(args.trials)], check=True, capture_output=True,
                             text=True).stdout
        runs = [json.loads(line) for line in out.splitlines()]
        samplers = ("ladle-tpe", "optuna-tpe", "ladle-random")
    for name in ("branin", "hartmann6"):
        runs += list(optuna_runs(name, args.seeds, args.trials))
    checkpoints = [n for n in (25, 50) if n < args.trials] + [args.trials]
    print("best value found (minimised), over %d seeds: median | mean ± std" % args.seeds)
    for name, optimum in (("branin", 0.397887), ("hartmann6", -3.32237)):
        print("%s (optimum %g)" % (name, optimum))
        for sampler in samplers:
            cells = []
            for n in checkpoints:
                v = [r["best"][n - 1] for r in runs
                     if r["function"] == name and r["sampler"] == sampler]
                cells.append("%4d trials %8.4f | %.4f ± %.4f" % (
                    n, statistics.median(v), statistics.mean(v), statistics.stdev(v)))
            print("  %-19s %s" % (sampler, "   ".join(cells)))


if __name__ == "__main__":
    main()
