#!/usr/bin/env bash
# End-to-end ask/tell: Optuna (Debian's python3-optuna) drives an external search on a real
# ladle-server with two ladle-workers, through client/python/optuna_ladle.py.
#  1. two Optuna clients feed one experiment at once (5 trials each): every trial gets its own
#     number and job, each client is told exactly its own results;
#  2. the search stays open until `ladle close`, then ends succeeded with its 10 trials;
#  3. bad calls are refused naming why: a point the trial does not take, a closed search.
# Usage: ask_tell_test.sh BIN_DIR PYTHON_STUBS_DIR SOURCE_DIR. Skips (77) without python3-optuna.
set -uo pipefail
bin="$1"; stubs="$2"; src="$3"
source "$(dirname "$0")/lib.sh"
/usr/bin/python3 -c "import optuna, yaml" 2> /dev/null || { echo "no python3-optuna: skipped"; exit 77; }
export LADLE_ADDR="127.0.0.1:$(free_port)"
"$bin/ladle-server" --listen="$LADLE_ADDR" --data_dir="$work/data" \
  --metrics_listen="127.0.0.1:$(free_port)" > "$work/server.log" 2>&1 &
pids+=($!); disown $!
start_workers "$bin" a b
[ $fail -eq 0 ] || exit 1

# The shipped example, smaller: 2,000 images, 3 epochs.
sed 's/limit: 10000/limit: 2000/; s/epochs: 4/epochs: 3/' \
  "$src/examples/optuna-external/experiment.yaml" > "$work/external.yaml"
exp=$("$bin/ladle" submit "$work/external.yaml" 2> "$work/submit.err")
check "the external search was accepted ($exp)" test -n "$exp"
for c in 1 2; do
  timeout 240 /usr/bin/python3 "$src/client/python/optuna_ladle.py" --stubs "$stubs" \
    --addr "$LADLE_ADDR" --experiment "$exp" --trials 5 --parallel 1 --seed "$c" --no_close \
    > "$work/client-$c.txt" 2>&1 &
  client[$c]=$!
done
for c in 1 2; do wait "${client[$c]}"; rc[$c]=$?; done
check "both Optuna clients told all their trials" test "${rc[1]}" -eq 0 -a "${rc[2]}" -eq 0
check "the search is still open" bash -c "'$bin/ladle' list | grep '$exp' | grep -q running"
"$bin/ladle" close "$exp" > /dev/null
timeout 60 "$bin/ladle" watch "$exp" > /dev/null 2>&1
check "after ladle close the search ended succeeded" test $? -eq 0
"$bin/ladle" results "$exp" --format json > "$work/results.json"
check "10 trials, numbered once each; each client was told its own" \
  python3 - "$work/results.json" "$work/client-1.txt" "$work/client-2.txt" <<'PY'
import json, re, sys
jobs = json.load(open(sys.argv[1]))["jobs"]
assert len(jobs) == 10, len(jobs)
assert sorted(j["search"]["trial"] for j in jobs) == list(range(10))
mine = []
for out in sys.argv[2:]:
    text = open(out).read()
    added = set(re.findall(r"^trial \d+: (\S+)", text, re.M))
    told = set(re.findall(r"^told (\S+):", text, re.M))
    assert len(added) == 5 and added == told, (added, told)
    mine.append(added)
assert not (mine[0] & mine[1]) and (mine[0] | mine[1]) == {j["id"] for j in jobs}
for j in jobs:
    assert j["state"] in ("succeeded", "cancelled"), j["state"]
    if j["state"] == "succeeded":
        assert j["search"]["value"] == j["summary"]["val_accuracy"], j["id"]
    else:
        assert "stopped early" in j["reason"], j["reason"]
PY
grep -h "^best\|PRUNED" "$work"/client-*.txt | head -4
check "a point the trial does not take, and a closed search, are refused naming why" \
  /usr/bin/python3 - "$stubs" "$LADLE_ADDR" "$exp" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import grpc
from ladle.v1 import experiments_pb2 as pb, experiments_pb2_grpc as rpc
stub = rpc.ExperimentServiceStub(grpc.insecure_channel(sys.argv[2]))
exp = stub.SubmitExperiment(pb.SubmitExperimentRequest(
    spec="name: t\ntrial: {}\nsearch: {algorithm: external}\n")).experiment_id
try:
    stub.AddTrials(pb.AddTrialsRequest(experiment_id=exp, params_json=['{"train.optimizer.rl": 1}']))
    sys.exit("a bad point was accepted")
except grpc.RpcError as e:
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and "params[0]" in e.details(), e
try:
    stub.AddTrials(pb.AddTrialsRequest(experiment_id=sys.argv[3], params_json=['{}']))
    sys.exit("a closed search took a trial")
except grpc.RpcError as e:
    assert e.code() == grpc.StatusCode.FAILED_PRECONDITION, e
assert stub.GetExperiment(pb.GetExperimentRequest(experiment_id=exp)).search == pb.SEARCH_STATE_OPEN
closed = stub.CloseExperiment(pb.CloseExperimentRequest(experiment_id=exp))
assert closed.search == pb.SEARCH_STATE_CLOSED, closed
PY
[ $fail -eq 0 ] || { tail -20 "$work/server.log"; cat "$work"/client-*.txt; exit 1; }
echo "ask/tell e2e passed"
