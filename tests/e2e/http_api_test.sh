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
admin-token-0123456789abcdef admin   root
T
export LADLE_ADDR="127.0.0.1:$(free_port)"
http_port=$(free_port)
metrics_port=$(free_port)
"$bin/ladle-server" --listen="$LADLE_ADDR" --data_dir="$work/data" --token_file="$work/tokens" \
  --http_listen="127.0.0.1:$http_port" --metrics_listen="127.0.0.1:$metrics_port" \
  > "$work/server.log" 2>&1 &
pids+=($!); disown $!
# As a Slurm pilot would be: its job id and node become labels, beside one of its own.
worker_metrics=$(free_port)
SLURM_JOB_ID=4242 SLURMD_NODENAME=node7 \
"$bin/ladle-worker" --coordinator="$LADLE_ADDR" --work_dir="$work/w" --cpu_slots=1 --label rack=a3 \
  --metrics_listen="127.0.0.1:$worker_metrics" \
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
assert w["workers"][0]["labels"] == {"slurm_job_id": "4242", "node": "node7", "rack": "a3"}, w
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
# Query parameters are the request message's fields (grpc-gateway's rule); others are refused.
st, err = call("/experiments?colour=red")
assert st == 400 and "unknown query parameter 'colour'" in err["message"] and "page_size" in err["message"], err
st, err = call("/experiments/%s/results?include_metrics=yes" % exp)
assert st == 400 and "include_metrics: not true or false" in err["message"], err
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

def get_raw(path, token=ALICE):
    req = urllib.request.Request(base + path)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()

# One job: attempts, artifacts, metrics (thinned).
job = r["jobs"][0]["job"]["id"]
st, j = call("/jobs/%s?include_metrics=true&max_points_per_series=3" % job)
assert st == 200 and j["job"]["id"] == job and j["attempts"][0]["outcome"] == "succeeded", j
names = {m["name"] for m in j["metrics"]}
assert names and all(sum(m["name"] == n for m in j["metrics"]) <= 3 for n in names), j["metrics"]
st, err = call("/jobs/%s" % job, token=BOB)
assert st == 403, err
st, err = call("/jobs/job-nope")
assert st == 404, err
st, err = call("/jobs/%s?max_points_per_series=-1" % job)
assert st == 400 and "max_points_per_series" in err["message"], err
# Artifacts: the bytes stored, named and hashed.
import hashlib
art = next(a for a in j["artifacts"] if a["name"] == "summary.json")
st, h, data = get_raw("/jobs/%s/artifacts/summary.json" % job)
assert st == 200 and hashlib.sha256(data).hexdigest() == art["sha256"], (st, art)
assert h["X-Ladle-Sha256"] == art["sha256"] and 'filename="summary.json"' in h["Content-Disposition"], h
assert json.loads(data) == json.loads(r["jobs"][0]["job"]["summaryJson"])
st, h, data = get_raw("/jobs/%s/artifacts/nope.bin" % job)
assert st == 404 and b"nope.bin" in data, data
st, h, data = get_raw("/jobs/%s/artifacts/summary.json" % job, token=BOB)
assert st == 403, st
# Logs: what the job printed, as text.
st, h, data = get_raw("/jobs/%s/logs" % job)
assert st == 200 and h["Content-Type"].startswith("text/plain") and b"epoch" in data, data[:300]
st, h, data = get_raw("/jobs/%s/logs?follow=true" % job)  # ended: returns at once
assert st == 200 and b"epoch" in data, data[:300]
st, h, data = get_raw("/jobs/%s/logs" % job, token=None)
assert st == 401, st
# Events of an ended experiment: its snapshot, then finished.
st, h, data = get_raw("/experiments/%s/events" % exp)
assert st == 200 and h["Content-Type"].startswith("text/event-stream"), h
blocks = [b for b in data.decode().split("\n\n") if b.strip()]
kinds = [b.split("\n")[0] for b in blocks]
assert kinds == ["event: snapshot", "event: finished"], kinds
snap = json.loads(blocks[0].split("\n")[1][len("data: "):])
assert snap["snapshot"]["id"] == exp and snap["snapshot"]["jobCounts"]["succeeded"] == 2, snap
st, h, data = get_raw("/experiments/%s/events" % exp, token=BOB)
assert st == 403, st
# The kind's result tables, as `ladle results` prints them.
st, r2 = call("/experiments/%s/results?include_tables=true" % exp)
assert st == 200 and r2["tables"] and r2["tables"][0]["columns"], r2.get("tables")
assert any("test" in c for t in r2["tables"] for c in t["columns"]), r2["tables"]
# No CORS unless --http_cors_origin.
st, h, _ = get_raw("/experiments")
assert "Access-Control-Allow-Origin" not in h, dict(h)
# Pages: a token leads to the next page, and the pages together list each experiment once.
seen, token = [], ""
while True:
    st, page = call("/experiments?page_size=2" + ("&page_token=" + token if token else ""))
    assert st == 200 and len(page["experiments"]) <= 2, page
    seen += [e["id"] for e in page["experiments"]]
    token = page.get("nextPageToken", "")
    if not token:
        break
assert len(seen) == len(set(seen)) >= 4 and exp in seen and ext in seen, seen
st, err = call("/experiments?page_token=garbage")
assert st == 400 and "page_token" in err["message"], err
st, err = call("/experiments?page_size=5000")
assert st == 400 and "page_size" in err["message"], err
# Cancel: a running experiment (the rerun, its jobs queued behind a 1-slot worker) ends
# cancelled; cancelling an ended one is refused.
st, c = call("/experiments/%s:cancel" % rerun["experimentId"], body={})
assert st == 200 and c["state"] == "EXPERIMENT_STATE_CANCELLED", c
st, err = call("/experiments/%s:cancel" % exp, body={})
assert st in (200, 400), err
# Metric names without points; series as columns.
st, r3 = call("/experiments/%s/results?include_metric_names=true" % exp)
assert st == 200 and "val_accuracy" in r3["metricNames"] and not r3["jobs"][0]["metrics"], r3["metricNames"]
st, r3 = call("/experiments/%s/results?include_metrics=true&metrics_as_series=true&metric_names=val_accuracy"
              "&max_points_per_series=2" % exp)
s0 = r3["jobs"][0]["series"][0]
assert st == 200 and s0["name"] == "val_accuracy" and len(s0["steps"]) == len(s0["values"]) <= 2, s0
# A followed log is never compressed (a compressor would hold it back until the job ended).
req = urllib.request.Request(base + "/jobs/%s/logs?follow=true" % job,
                             headers={"Authorization": "Bearer " + ALICE, "Accept-Encoding": "gzip, br"})
with urllib.request.urlopen(req, timeout=30) as resp:
    assert resp.headers.get("Content-Encoding") is None, dict(resp.headers)
# Browsers are offered gzip, never brotli.
req = urllib.request.Request(base + "/experiments/%s/results" % exp,
                             headers={"Authorization": "Bearer " + ALICE, "Accept-Encoding": "gzip, deflate, br"})
with urllib.request.urlopen(req, timeout=30) as resp:
    assert resp.headers.get("Content-Encoding") == "gzip", dict(resp.headers)
# The queue summary: counts by shape over every user, so admins only.
st, err = call("/queue")
assert st == 403 and "admin token" in err["message"], err
st, q = call("/queue", token="admin-token-0123456789abcdef")
assert st == 200 and int(q["unixMs"]) > 0, q
for d in q.get("shapes", []):
    assert set(d) >= {"shape", "queuedJobs", "runningJobs"} and "experimentId" not in d, d
# A search's results tables: its leaderboard, once its trial has run.
import time
for _ in range(300):
    st, e = call("/experiments/" + ext)
    if e["state"] != "EXPERIMENT_STATE_RUNNING":
        break
    time.sleep(0.2)
st, r4 = call("/experiments/%s/results?include_tables=true" % ext)
board = [t for t in r4["tables"] if t["title"].startswith("Search: best trials")]
assert st == 200 and board and len(board[0]["rows"]) == 1, r4["tables"]
assert board[0]["rows"][0]["cells"][1] == "0", board  # trial 0
# The UI: its page and assets, compiled in; unknown assets 404.
with urllib.request.urlopen("http://127.0.0.1:%s/" % port, timeout=30) as resp:
    page = resp.read().decode()
    assert "<title>Ladle</title>" in page and "script-src 'self'" in resp.headers["Content-Security-Policy"]
for asset in ("app.js", "app.css"):
    with urllib.request.urlopen("http://127.0.0.1:%s/ui/%s" % (port, asset), timeout=30) as resp:
        assert resp.status == 200 and len(resp.read()) > 1000, asset
with urllib.request.urlopen("http://127.0.0.1:%s/healthz" % port, timeout=30) as resp:
    assert resp.read() == b"ok\n"  # no token needed: Kubernetes probes
try:
    urllib.request.urlopen("http://127.0.0.1:%s/ui/nope.js" % port, timeout=30)
    assert False, "an unknown asset was served"
except urllib.error.HTTPError as e:
    assert e.code == 404
PY
check "events of a running experiment: snapshot, job changes, metrics, finished" python3 - "$http_port" "$work/sweep.yaml" <<'PY'
import json, sys, urllib.request
base = "http://127.0.0.1:%s/api/v1" % sys.argv[1]
auth = {"Authorization": "Bearer alice-token-0123456789abcdef"}
req = urllib.request.Request(base + "/experiments", data=open(sys.argv[2]).read().encode(), headers=auth)
exp = json.loads(urllib.request.urlopen(req).read())["experimentId"]
req = urllib.request.Request(base + "/experiments/%s/events?include_metrics=true" % exp, headers=auth)
events, name = [], None
with urllib.request.urlopen(req, timeout=120) as r:
    for line in r:  # the stream ends after `finished`
        line = line.decode().rstrip("\n")
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            events.append((name, json.loads(line[6:])))
names = [n for n, _ in events]
assert names[0] == "snapshot" and names[-1] == "finished", names
assert names.count("metric") > 0 and names.count("job") >= 2, names  # (a job may start before the snapshot)
done = [e["job"]["id"] for n, e in events if n == "job" and e["job"]["state"] == "JOB_STATE_SUCCEEDED"]
assert len(set(done)) == 2, done
assert events[-1][1]["finished"]["state"] == "EXPERIMENT_STATE_SUCCEEDED", events[-1]
PY
curl -sf "http://127.0.0.1:$metrics_port/metrics" > "$work/metrics.txt"
check "promtool accepts /metrics with the HTTP series" promtool check metrics < "$work/metrics.txt"
curl -sf "http://127.0.0.1:$worker_metrics/metrics" > "$work/worker_metrics.txt"
check "the worker's /metrics say where it runs (its Slurm job and node)" bash -c "
  promtool check metrics < '$work/worker_metrics.txt' &&
  grep -q '^ladle_worker_info{node=\"node7\",slurm_job_id=\"4242\"} 1' '$work/worker_metrics.txt'"
check "HTTP requests counted by route, method and status" bash -c "
  grep -q '^ladle_http_requests_total{method=\"GET\",route=\"experiment\",status=\"200\"} [1-9]' '$work/metrics.txt' &&
  grep -q '^ladle_http_requests_total{method=\"GET\",route=\"experiments\",status=\"401\"} [1-9]' '$work/metrics.txt' &&
  grep -q '^ladle_http_request_duration_seconds_count{route=\"events\"} [1-9]' '$work/metrics.txt'"
if "$bin/ladle-server" --listen=127.0.0.1:0 --http_listen="0.0.0.0:$(free_port)" \
    --data_dir="$work/data2" > "$work/refused.log" 2>&1; then
  check "a non-loopback --http_listen without tokens is refused" false
else
  check "a non-loopback --http_listen without tokens is refused" grep -q -- "--http_listen" "$work/refused.log"
fi
# CORS only for the one origin named; a bad origin is refused at start.
cors_port=$(free_port)
"$bin/ladle-server" --listen="127.0.0.1:$(free_port)" --data_dir="$work/data3" \
  --http_listen="127.0.0.1:$cors_port" --http_cors_origin=https://notebooks.example.org \
  --metrics_listen="127.0.0.1:$(free_port)" > "$work/cors.log" 2>&1 &
pids+=($!); disown $!
cors_up() { curl -sf "http://127.0.0.1:$cors_port/api/v1/workers" > /dev/null; }
check "a server with --http_cors_origin up" wait_for 20 cors_up
check "CORS: a preflight names the origin, methods and headers" bash -c "
  curl -si -X OPTIONS http://127.0.0.1:$cors_port/api/v1/experiments | tr -d '\r' > '$work/preflight'
  grep -q '^HTTP/1.1 204' '$work/preflight' &&
  grep -q '^Access-Control-Allow-Origin: https://notebooks.example.org$' '$work/preflight' &&
  grep -q '^Access-Control-Allow-Headers: Authorization, Content-Type$' '$work/preflight' &&
  curl -si http://127.0.0.1:$cors_port/api/v1/workers | grep -q 'Access-Control-Allow-Origin: https://notebooks.example.org'"
if "$bin/ladle-server" --listen=127.0.0.1:0 --http_listen="127.0.0.1:0" --http_cors_origin='*' \
    --data_dir="$work/data4" > "$work/cors-refused.log" 2>&1; then
  check "--http_cors_origin '*' is refused" false
else
  check "--http_cors_origin '*' is refused" grep -q -- "--http_cors_origin \* : name one origin\|--http_cors_origin \*: name one origin" "$work/cors-refused.log"
fi
[ $fail -eq 0 ] || { tail -20 "$work/server.log"; exit 1; }
echo "http api e2e passed"
