#!/usr/bin/python3
"""Optuna drives a Ladle search (ask/tell): Optuna proposes, Ladle runs and stops early.

An experiment with `search: {algorithm: external, ...}` stays open for trials from outside.
This script asks Optuna's study for points (study.ask()), adds them to the experiment as
trials (AddTrials: each becomes a job, run by Ladle's workers like any other), watches the
experiment (WatchExperiment) and tells the study each result (study.tell()). Ladle's early
stopping is Optuna's pruning: with `median_stop:` in the search section, Ladle stops trials
whose curve falls behind, and they are told to Optuna as PRUNED.

  /usr/bin/python3 client/python/optuna_ladle.py --stubs build/python \\
      --addr 127.0.0.1:7070 --trials 20 --parallel 2 examples/optuna-external/experiment.yaml

The space is given as in a Ladle spec (--space, JSON; default: the spec's search.space):
{"x": {"uniform": [-5, 10]}, "lr": {"loguniform": [1e-4, 0.1]}, "n": {"randint": [1, 8]},
 "hidden": {"choice": [[16], [32]]}}. Several clients may feed one experiment at once
(--experiment ID): each tells its own study its own trials. Needs Debian's python3-optuna,
python3-grpcio, python3-protobuf, python3-yaml. Exit status 0 iff every trial was told.
"""
import argparse
import json
import math
import sys
import time
import uuid


def suggest(trial, key, dim):
    """One Optuna suggestion from a Ladle space dimension."""
    (kind, arg), = dim.items()
    if kind == "uniform":
        return trial.suggest_float(key, arg[0], arg[1])
    if kind == "loguniform":
        return trial.suggest_float(key, arg[0], arg[1], log=True)
    if kind == "randint":
        return trial.suggest_int(key, arg[0], arg[1])
    if kind == "choice":
        # Optuna's choices must be scalars: it picks an index, Ladle gets the value.
        return arg[trial.suggest_categorical(key + "#", list(range(len(arg))))]
    raise ValueError(f"space.{key}: unknown dimension {kind}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("spec", nargs="?", help="experiment spec (YAML) with search: external")
    p.add_argument("--experiment", help="feed this running experiment instead of submitting")
    p.add_argument("--addr", default="127.0.0.1:7070")
    p.add_argument("--stubs", required=True, help="directory of the generated ladle/v1 modules")
    p.add_argument("--space", help="search space as JSON (default: the spec's search.space)")
    p.add_argument("--metric", help="the metric to optimise (default: the spec's)")
    p.add_argument("--direction", choices=["maximize", "minimize"],
                   help="default: the spec's search.mode")
    p.add_argument("--trials", type=int, default=20, help="trials this client adds")
    p.add_argument("--parallel", type=int, default=2, help="trials in flight at once")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no_close", action="store_true", help="leave the search open at the end")
    args = p.parse_args()
    sys.path.insert(0, args.stubs)
    import grpc
    import optuna
    import yaml
    from ladle.v1 import experiments_pb2 as pb
    from ladle.v1 import experiments_pb2_grpc as rpc

    stub = rpc.ExperimentServiceStub(grpc.insecure_channel(args.addr))
    if args.experiment:
        exp_id = args.experiment
        spec_text = stub.GetExperiment(pb.GetExperimentRequest(experiment_id=exp_id),
                                       wait_for_ready=True, timeout=30).spec
    else:
        with open(args.spec) as f:
            spec_text = f.read()
        exp_id = stub.SubmitExperiment(pb.SubmitExperimentRequest(spec=spec_text),
                                       wait_for_ready=True, timeout=30).experiment_id
        print(f"submitted {exp_id}", flush=True)
    search = yaml.safe_load(spec_text).get("search", {})
    space = json.loads(args.space) if args.space else search.get("space", {})
    metric = args.metric or search.get("metric")
    direction = args.direction or ("minimize" if search.get("mode") == "min" else "maximize")
    if not space or not metric:
        sys.exit("optuna_ladle: give --space and --metric (or put them in the spec's search)")

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction=direction,
                                sampler=optuna.samplers.TPESampler(seed=args.seed))
    in_flight = {}  # job id -> Optuna trial
    asked = told = pruned = 0

    def ask_more():
        nonlocal asked
        batch = []
        while asked < args.trials and len(in_flight) + len(batch) < args.parallel:
            trial = study.ask()
            batch.append((trial, {k: suggest(trial, k, d) for k, d in space.items()}))
            asked += 1
        if not batch:
            return
        # A request id: a call retried after a lost reply adds nothing twice.
        request = pb.AddTrialsRequest(
            experiment_id=exp_id, params_json=[json.dumps(params) for _, params in batch],
            request_id=str(uuid.uuid4()))
        for attempt in range(30):
            try:
                resp = stub.AddTrials(request, wait_for_ready=True, timeout=60)
                break
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNAVAILABLE or attempt == 29:
                    raise
                time.sleep(1)
        for (trial, params), job in zip(batch, resp.jobs):
            in_flight[job.id] = trial
            print(f"trial {job.search.trial}: {job.id} {json.dumps(params)}", flush=True)

    # Subscribed (its first event, the snapshot, came) before any trial is added, so no
    # trial's end can fall before the watch.
    watch = stub.WatchExperiment(pb.WatchExperimentRequest(experiment_id=exp_id))
    next(watch)
    ask_more()
    done_states = {pb.JOB_STATE_SUCCEEDED, pb.JOB_STATE_FAILED, pb.JOB_STATE_CANCELLED}
    try:
        for event in watch:
            if not event.HasField("job") or event.job.id not in in_flight:
                continue
            job = event.job
            if job.state not in done_states:
                continue
            trial = in_flight.pop(job.id)
            value = job.search.value
            if job.state == pb.JOB_STATE_SUCCEEDED and not math.isnan(value):
                study.tell(trial, value)
            elif job.state == pb.JOB_STATE_CANCELLED and "stopped early" in job.reason:
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                pruned += 1
            else:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            told += 1
            print(f"told {job.id}: {optuna.trial.TrialState(study.trials[trial.number].state).name}"
                  f" {'' if math.isnan(value) else value}", flush=True)
            ask_more()
            if told == args.trials:
                break
    finally:
        watch.cancel()
    if not args.no_close:
        e = stub.CloseExperiment(pb.CloseExperimentRequest(experiment_id=exp_id), timeout=60)
        print(f"closed {exp_id}: {pb.ExperimentState.Name(e.state)}", flush=True)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if complete:
        print(f"best of {len(complete)} ({pruned} pruned): {study.best_value} "
              f"{json.dumps(study.best_params)}", flush=True)
    return 0 if told == args.trials else 1


if __name__ == "__main__":
    sys.exit(main())
