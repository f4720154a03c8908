#!/usr/bin/python3
"""ASHA against random search as real searches: ladle-train Fashion-MNIST trials run as jobs on a
real ladle-server and --workers ladle-workers, proposed, promoted and resumed by the
coordinator's searcher.

Per seed, two experiments over the same space (learning rate, weight decay, width; the issue's):
ASHA (--trials trials, epochs 1 -> 3 -> 9, η = 3, promoted segments resuming their model) and
random search (the same number of trials, each trained 9 epochs). The best trial is the top of
each search's leaderboard (best val_accuracy at the highest rung); its test accuracy is
reported, with the epochs each search trained (`ladle results`' budget table). Prints mean ± std
over seeds, the gap and the ratio of epochs.

    /usr/bin/python3 bench/asha_vs_random.py --build build [--seeds 5] [--trials 27] [--limit 10000]
"""
import argparse
import json
import statistics
import time

from local_cluster import LocalCluster

SPACE = {"train.optimizer.lr": {"loguniform": [1e-4, 1e-1]},
         "train.optimizer.weight_decay": {"loguniform": [1e-6, 1e-2]},
         "model.hidden": {"choice": [[256], [1024], [512, 512]]}}


def spec(name, algorithm, seed, trials, limit, workers):
    search = {"algorithm": algorithm, "metric": "val_accuracy", "space": SPACE,
              "max_trials": trials, "max_concurrent": workers, "seed": seed}
    epochs = 9
    if algorithm == "asha":
        search["budget"] = {"param": "train.epochs", "min": 1, "max": 9, "reduction_factor": 3}
        epochs = 1
    return {"name": name, "kind": "train",
            "trial": {"model": {"type": "mlp", "hidden": [256]},
                      "data": {"dataset": "fashion-mnist", "limit": limit},
                      "train": {"epochs": epochs, "batch_size": 128, "log_every": 50,
                                "optimizer": {"name": "adamw", "lr": 0.001}}},
            "search": search, "resources": {"cpu_slots": 1}, "max_retries": 1}


def table(results, prefix):
    return [t for t in results["report"] if t["title"].startswith(prefix)][0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--trials", type=int, default=27)
    ap.add_argument("--limit", type=int, default=10000, help="training images; 0: all")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    started = time.monotonic()
    out = {"asha": [], "random": []}
    with LocalCluster(args.build, args.workers, prefix="asha-bench-") as cluster:
        runs = []
        for seed in range(1, args.seeds + 1):
            for algorithm in ("asha", "random"):
                path = "%s/%s-%d.json" % (cluster.work, algorithm, seed)
                with open(path, "w") as f:
                    json.dump(spec("%s-%d" % (algorithm, seed), algorithm, seed, args.trials,
                                   args.limit, args.workers), f)
                runs.append((algorithm, seed, cluster.submit(path)))
        for algorithm, seed, exp in runs:
            r = cluster.results(exp)
            board = table(r, "Search: best trials")
            top = dict(zip(board["columns"], board["rows"][0]))
            if algorithm == "asha":
                epochs = float(table(r, "Search budget")["rows"][0][0])
            else:
                epochs = sum(j["spec"]["train"]["epochs"] for j in r["jobs"])
            out[algorithm].append((float(top["test_accuracy"]), epochs))
            print("seed %d %-6s best trial %s: val %s test %s, %g epochs" % (
                seed, algorithm, top["trial"], top["val_accuracy"], top["test_accuracy"], epochs),
                flush=True)
    wall = time.monotonic() - started

    def ms(v):
        return "%.4f ± %.4f" % (statistics.mean(v), statistics.stdev(v) if len(v) > 1 else 0)

    asha_test = [t for t, _ in out["asha"]]
    rand_test = [t for t, _ in out["random"]]
    ratio = sum(e for _, e in out["asha"]) / sum(e for _, e in out["random"])
    images = "%d training images" % args.limit if args.limit else "all training images"
    print("ASHA vs random search through Ladle: %d seeds x %d trials, %s, %d workers, %.0f s" % (
        args.seeds, args.trials, images, args.workers, wall))
    print("  best trial's test accuracy: ASHA %s, random %s (gap %+.4f)" % (
        ms(asha_test), ms(rand_test), statistics.mean(asha_test) - statistics.mean(rand_test)))
    print("  epochs: ASHA %s per search, random %s; ratio %.3f" % (
        ms([e for _, e in out["asha"]]), ms([e for _, e in out["random"]]), ratio))


if __name__ == "__main__":
    main()
