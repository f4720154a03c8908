#!/usr/bin/env bash
# The HTTP/JSON API (ladle-server --http_listen) end to end, with Python's urllib: a real server
# with tokens and a worker. Every endpoint answers the proto messages in protobuf's JSON mapping
# and agrees with the gRPC CLI; errors map to HTTP statuses with the message; the same owner and
# token rules as gRPC; without tokens a non-loopback --http_listen is refused at start.
# Usage: http_api_test.sh BIN_DIR
set -uo pipefail
bin="$1"
source "$(dirname "$0")/lib.sh"
cat > "$work/tokens" <<'T'
alice-token-0123456789abcdef user    alice
bob-token-0123456789abcdefgh user    bob
worker-token-0123456789abcde worker
T
export LADLE_ADDR="127.0.0.1:$(free_port)"
http_port=$(free_port)
"$bin/ladle-server" --listen="$LADLE_ADDR" --data_dir="$work/data" --token_file="$work/tokens" \
  --http_listen="127.0.0.1:$http_port" --metrics_listen="127.0.0.1:$(free_port)" \
  > "$work/server.log" 2>&1 &
pids+=($!); disown $!
"$bin/ladle-worker" --coordinator="$LADLE_ADDR" --work_dir="$work/w" --cpu_slots=1 \
  --token_file=<(echo worker-token-0123456789abcde) > "$work/worker.log" 2>&1 &
pids+=($!); disown $!
export LADLE_TOKEN=alice-token-0123456789abcdef
up() { "$bin/ladle" workers 2> /dev/null | grep -q alive; }
check "server and worker up" wait_for 20 up
cat > "$work/sweep.yaml" <<'YAML'
name: http-sweep
trial: {model: {hidden: [16]}, data: {limit: 500}, train: {epochs: 1}}
sweep: {grid: {train.seed: [1, 2]}}
YAML
exp=$("$bin/ladle" submit "$work/sweep.yaml" --wait 2> /dev/null)
cat > "$work/external.yaml" <<'YAML'
name: http-external
trial: {model: {hidden: [16]}, data: {limit: 500}, train: {epochs: 1}}
search: {algorithm: external, metric: val_accuracy}
YAML
ext=$("$bin/ladle" submit "$work/external.yaml" 2> /dev/null)
check "HTTP endpoints, errors and tokens" python3 - "$http_port" "$exp" "$ext" "$work/sweep.yaml" <<'PY'
import json, sys, urllib.request, urllib.error
port, exp, ext = sys.argv[1:4]
base = "http://127.0.0.1:%s/api/v1" % port
ALICE, BOB, WORKER = ("alice-token-0123456789abcdef", "bob-token-0123456789abcdefgh",
                      "worker-token-0123456789abcde")

def call(path, token=ALICE, body=None, raw=None):
    data = raw.encode() if raw is not None else None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method="GET" if data is None else "POST")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())

st, page = call("/experiments")
assert st == 200 and {e["id"] for e in page["experiments"]} == {exp, ext}, page
# Submit: the spec as the body (a retry with its request id creates nothing new), or the
# request message as JSON (a dry run lists the jobs).
spec = open(sys.argv[4]).read()
st, sub = call("/experiments?request_id=h-sub-1", raw=spec)
assert st == 200 and sub["jobCount"] == 2, sub
st, again = call("/experiments?request_id=h-sub-1", raw=spec)
assert st == 200 and again["experimentId"] == sub["experimentId"], again
st, dry = call("/experiments", body={"spec": spec, "dryRun": True})
assert st == 200 and len(dry["plannedJobs"]) == 2 and dry["experimentId"] == "dry-run", dry
st, err = call("/experiments", raw="name: x\ntrial: {modle: {}}\n")
assert st == 400 and "modle" in err["message"], err
st, rerun = call("/experiments/%s:rerun" % exp, body={"requestId": "h-rerun-1"})
assert st == 200 and rerun["jobCount"] == 2 and rerun["experimentId"] not in (exp, sub["experimentId"]), rerun
st, e = call("/experiments/" + exp)
assert st == 200 and e["state"] == "EXPERIMENT_STATE_SUCCEEDED" and e["jobCounts"]["succeeded"] == 2, e
assert e["search"] == "SEARCH_STATE_UNSPECIFIED", e
st, page = call("/experiments?state=succeeded")
assert st == 200 and exp in [x["id"] for x in page["experiments"]], page
assert all(x["state"] == "EXPERIMENT_STATE_SUCCEEDED" for x in page["experiments"]), page
st, page = call("/experiments?page_size=1")
assert st == 200 and len(page["experiments"]) == 1 and page["nextPageToken"], page
st, r = call("/experiments/%s/results?include_metrics=true&metric_names=val_accuracy" % exp)
assert st == 200 and len(r["jobs"]) == 2, r
for j in r["jobs"]:
    assert json.loads(j["job"]["summaryJson"])["test_accuracy"] > 0, j["job"]["id"]
    assert j["metrics"] and all(m["name"] == "val_accuracy" for m in j["metrics"]), j
    assert any(a["name"] == "model.safetensors" for a in j["artifacts"]), j
st, w = call("/workers")
assert st == 200 and w["workers"][0]["state"] == "alive", w
# Ask/tell over HTTP: trials added, then the search closed.
st, t = call("/experiments/%s/trials" % ext, body={"paramsJson": ['{"train.seed": 3}'], "requestId": "h1"})
assert st == 200 and t["jobs"][0]["search"]["trial"] == "0", t
st, again = call("/experiments/%s/trials" % ext, body={"paramsJson": ['{"train.seed": 3}'], "requestId": "h1"})
assert st == 200 and again["jobs"][0]["id"] == t["jobs"][0]["id"], again
# Errors: status, gRPC code name and the message naming the field.
st, err = call("/experiments/exp-nope")
assert st == 404 and err["status"] == "NOT_FOUND", err
st, err = call("/experiments?state=sleeping")
assert st == 400 and "state" in err["message"], err
st, err = call("/experiments?page_size=many")
assert st == 400 and "page_size" in err["message"], err
st, err = call("/experiments/%s/trials" % ext, body={"paramsJson": 7})
assert st == 400 and "body" in err["message"], err
st, err = call("/experiments/%s/trials" % ext, body={"paramsJson": ["not json"]})
assert st == 400 and "params_json[0]" in err["message"], err
st, err = call("/experiments/%s/trials" % exp, body={"paramsJson": ["{}"]})
assert st == 400 and "has ended" in err["message"], err
st, c = call("/experiments/%s:close" % ext, body={})
assert st == 200 and c["search"] == "SEARCH_STATE_CLOSED", c
# Tokens and owners as for gRPC.
st, err = call("/experiments", token=None)
assert st == 401 and err["status"] == "UNAUTHENTICATED", err
st, err = call("/experiments", token=WORKER)
assert st == 403, err
st, err = call("/experiments/" + exp, token=BOB)
assert st == 403 and "another user" in err["message"], err
st, page = call("/experiments", token=BOB)
assert st == 200 and page.get("experiments", []) == [], page
st, err = call("/experiments/%s:rerun" % exp, token=BOB, body={})
assert st == 403, err
st, c = call("/experiments/%s:cancel" % exp, token=BOB, body={})
assert st == 403, c
PY
if "$bin/ladle-server" --listen=127.0.0.1:0 --http_listen="0.0.0.0:$(free_port)" \
    --data_dir="$work/data2" > "$work/refused.log" 2>&1; then
  check "a non-loopback --http_listen without tokens is refused" false
else
  check "a non-loopback --http_listen without tokens is refused" grep -q -- "--http_listen" "$work/refused.log"
fi
[ $fail -eq 0 ] || { tail -20 "$work/server.log"; exit 1; }
echo "http api e2e passed"
