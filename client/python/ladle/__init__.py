"""The program side of Ladle: parameters in, metrics, summaries, outputs and checkpoints out.

A program that Ladle runs (an experiment of `kind: command`) reads its parameters and reports
through this module; the worker puts it on the program's PYTHONPATH. Standard library only.
Outside Ladle it works on local files under ./ladle-out/, so the same script runs by hand:

    import ladle
    p = ladle.params(lr=0.01, seed=1)        # defaults, overridden by the job's parameters
    for step in range(100):
        ...
        ladle.report(step, train_loss=loss)   # live in `ladle watch`, Grafana, `ladle plot`
        if ladle.should_stop():               # cancel, timeout, drain: save and exit 3
            save(ladle.checkpoint_dir()); ladle.checkpoint_saved(); ladle.exit_stopped()
    ladle.summary(val_accuracy=acc)           # columns of `ladle results`
    torch.save(model, os.path.join(ladle.output_dir(), "model.pt"))

The protocol underneath (docs/EXPERIMENTS.md), for programs in other languages: the
environment names LADLE_METRICS_FILE (append JSON lines with an integer "step"),
LADLE_SUMMARY_FILE (one JSON object), LADLE_OUTPUT_DIR, LADLE_CHECKPOINT_DIR and LADLE_PARAMS.
"""
import json
import math
import os
import signal
import sys
import time

# The generated gRPC stubs (ladle.v1) may sit in another directory of sys.path.
__path__ = __import__("pkgutil").extend_path(__path__, __name__)

STOPPED_EXIT_CODE = 3  # "stopped after saving a checkpoint": not a failure
_LOCAL_DIR = "ladle-out"
_stop_requested = False
_polled = False  # a program that never asks should_stop() is stopped by SIGTERM as usual


def under_ladle():
    """True when a Ladle worker runs this program."""
    return "LADLE_METRICS_FILE" in os.environ


def _local(*parts):
    return os.path.join(os.getcwd(), _LOCAL_DIR, *parts)


def _path(variable, *local):
    path = os.environ.get(variable) or _local(*local)
    return path


def params(**defaults):
    """The job's parameters: `defaults` updated by LADLE_PARAMS (or ./params.json)."""
    result = dict(defaults)
    text = os.environ.get("LADLE_PARAMS")
    if text is None and os.path.exists("params.json"):
        with open("params.json") as f:
            text = f.read()
    if text:
        result.update(json.loads(text))
    return result


def _number(name, value):
    try:
        number = float(value)  # also numpy and torch scalars
    except (TypeError, ValueError):
        raise TypeError("ladle.report: %s=%r is not a number" % (name, value)) from None
    return number if math.isfinite(number) else None


def report(step, **metrics):
    """Appends one metrics line: {"step": step, name: value, ...}. Non-finite values are left
    out (JSON has no NaN)."""
    if int(step) != step or step < 0:
        raise ValueError("ladle.report: step must be an integer >= 0, got %r" % (step,))
    line = {"step": int(step)}
    for name, value in metrics.items():
        number = _number(name, value)
        if number is not None:
            line[name] = int(number) if isinstance(value, int) else number
    path = _path("LADLE_METRICS_FILE", "metrics.jsonl")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(line) + "\n")


def summary(**values):
    """Merges `values` into the trial's summary (numbers become result columns)."""
    path = _path("LADLE_SUMMARY_FILE", "summary.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    current = {}
    if os.path.exists(path):
        with open(path) as f:
            current = json.load(f)
    for name, value in values.items():
        if hasattr(value, "item"):  # numpy and torch scalars
            value = value.item()
        if isinstance(value, float):
            value = _number(name, value)  # NaN and inf: null
        current[name] = value
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(current, f, indent=1, sort_keys=True)
    os.replace(tmp, path)  # a reader never sees half a summary


def output_dir():
    """A directory whose files are uploaded when the attempt succeeds (`ladle download`)."""
    path = _path("LADLE_OUTPUT_DIR", "outputs")
    os.makedirs(path, exist_ok=True)
    return path


def checkpoint_dir():
    """Where to save checkpoints; a retry finds the latest one here again."""
    path = _path("LADLE_CHECKPOINT_DIR", "checkpoint")
    os.makedirs(path, exist_ok=True)
    return path


def checkpoint_saved(step=None):
    """Says a complete checkpoint is in checkpoint_dir(): the worker uploads it, so a retry
    (on any worker) resumes from it."""
    path = os.environ.get("LADLE_CHECKPOINT_SAVED_FILE")
    if not path:
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"step": step, "unix_time": time.time()}, f)
    os.replace(tmp, path)


def should_stop():
    """True once Ladle asked this program to stop (cancel, timeout, drain, preemption)."""
    global _polled
    _polled = True
    stop_file = os.environ.get("LADLE_STOP_FILE")
    return _stop_requested or bool(stop_file and os.path.exists(stop_file))


def exit_stopped():
    """Exits with code 3: stopped after a checkpoint, to be resumed, not failed."""
    sys.exit(STOPPED_EXIT_CODE)


def _on_sigterm(signum, frame):
    global _stop_requested
    if _stop_requested or not _polled:  # it does not poll, or asked twice: stop now
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
    _stop_requested = True


if under_ladle():
    try:  # only the main thread may set handlers; elsewhere the stop file still works
        signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:
        pass
