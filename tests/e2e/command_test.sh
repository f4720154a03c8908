#!/usr/bin/env bash
# End-to-end: bring your own program (kind command) with real processes — a ladle-server
# and two ladle-workers on loopback, programs run from uploaded code.
#  1. examples/shell (a shell program) swept over size × seed through `ladle submit`: the
#     code is packed and uploaded (a second submit finds it stored), `ladle watch` shows the
#     program's own metrics live, `ladle results` has its summary keys with mean ± std over
#     the seed, `ladle download` gets an output byte-identical to what the program wrote,
#     `ladle show` names the code's hash;
#  2. the `ladle` Python module: params in, report/summary/output_dir out, PYTHONPATH set;
#  3. non-JSON metric lines are skipped with a notice in `ladle logs`, the job succeeds;
#  4. a program over resources.memory_bytes fails saying so, and the worker carries on;
#  5. a program that is not executable fails with the reason and the fix;
#  6. refused at submit, naming the problem: an unknown template parameter, a missing code
#     directory;
#  ... `ladle rerun` of a whole experiment and of its failed jobs only;
#  7. a hostile archive sent to UploadCode (../x, an absolute path, a link out) is refused
#     and leaves nothing outside;
#  8. shares of a GPU (gpus: 0.5) packed two to a device, never more.
# Usage: command_test.sh BIN_DIR EXAMPLES_DIR PYTHON_STUBS_DIR. Bounded; all killed at exit.
set -uo pipefail
bin="$1"; examples="$2"; stubs="$3"
source "$(dirname "$0")/lib.sh"
export LADLE_ADDR="127.0.0.1:$(free_port)"
"$bin/ladle-server" --listen="$LADLE_ADDR" --data_dir="$work/data" \
  --metrics_listen="127.0.0.1:$(free_port)" > "$work/server.log" 2>&1 &
pids+=($!); disown $!
for w in a b; do
  "$bin/ladle-worker" --coordinator="$LADLE_ADDR" --work_dir="$work/w-$w" --cpu_slots=2 \
    --name="worker-$w" --kill_grace_ms=1000 > "$work/worker-$w.log" 2>&1 &
  pids+=($!); disown $!
done
two_up() { [ "$("$bin/ladle" workers 2> /dev/null | grep -c alive)" -eq 2 ]; }
check "two workers registered" wait_for 20 two_up
[ $fail -eq 0 ] || { tail -5 "$work"/*.log; exit 1; }
json() { "$bin/ladle" results "$1" --format json; }

# 1. The shell example, from a copy (its directory is the code), with more points per job
# so that they are still running when the watch starts.
cp -r "$examples/shell" "$work/shell"
sed -i 's/grid: {thousands: \[20, 80\]/grid: {thousands: [400, 1600]/' "$work/shell/experiment.yaml"
timeout 180 "$bin/ladle" submit "$work/shell/experiment.yaml" --wait > "$work/exp.txt" 2> "$work/watch.txt"
check "the shell example succeeded" test $? -eq 0
exp=$(cat "$work/exp.txt")
check "its code was packed and uploaded" grep -q "(uploaded)" "$work/watch.txt"
check "watch showed the program's own metrics live" grep -Eq "step [0-9]+ pi_estimate 3\.1" "$work/watch.txt"
"$bin/ladle" results "$exp" > "$work/results.txt"
check "results: the summary keys as columns" grep -q "abs_error *pi_estimate *points" "$work/results.txt"
check "results: mean ± std over the seed per configuration" \
  grep -Eq '^\{"thousands":1600\} +3 +[0-9.e-]+ ± [0-9.e-]+ +3\.1[0-9]* ± ' "$work/results.txt"
json "$exp" > "$work/shell.json"
job=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['jobs'][5]['id'])" "$work/shell.json")
"$bin/ladle" download "$job" out/hits_per_thousand.txt -o "$work/hits.txt" 2> /dev/null
written=$(ls "$work"/w-*/attempts/*/work/out/hits_per_thousand.txt | while read -r f; do
  d=$(dirname "$(dirname "$(dirname "$f")")"); grep -l "\"thousands\": 1600" "$d/work/params.json" > /dev/null &&
  grep -q '"seed": 3' "$d/work/params.json" && echo "$f"; done | head -1)
check "an output downloads byte-identical to what the program wrote" cmp -s "$work/hits.txt" "$written"
"$bin/ladle" download "$job" -o "$work/all" 2> /dev/null
check "download without a name gets every output, by its path" bash -c \
  "cmp -s '$work/all/out/hits_per_thousand.txt' '$written' && test -s '$work/all/summary.json' &&
   test -s '$work/all/metrics.jsonl'"
check "it has one line per thousand points" test "$(wc -l < "$work/hits.txt")" -eq 1600
check "show names the code's hash" bash -c "'$bin/ladle' show '$exp' | grep -Eq '^code sha256 [0-9a-f]{64}$'"
exp2=$("$bin/ladle" submit "$work/shell/experiment.yaml" 2> "$work/submit2.err")
check "the same code again is found stored, not uploaded" grep -q "(already stored)" "$work/submit2.err"
"$bin/ladle" cancel "$exp2" > /dev/null 2>&1

# 2.-5. Small programs in one code directory.
mkdir -p "$work/prog"
cat > "$work/prog/py_job.py" <<'PY'
import os, sys, ladle
p = ladle.params(lr=0.5, seed=0)
for step in range(3):
    ladle.report(step, loss=p["lr"] / (step + 1))
ladle.summary(final_loss=p["lr"] / 3, seed=p["seed"])
with open(os.path.join(ladle.output_dir(), "note.txt"), "w") as f:
    f.write("lr=%s pythonpath=%s\n" % (p["lr"], os.environ.get("PYTHONPATH", "")))
PY
cat > "$work/prog/noisy.sh" <<'SH'
#!/bin/sh
echo '{"step": 1, "x": 1}' >> "$LADLE_METRICS_FILE"
echo 'epoch 1 finished' >> "$LADLE_METRICS_FILE"
echo '{"x": 2}' >> "$LADLE_METRICS_FILE"
echo '{"step": 2, "x": 3}' >> "$LADLE_METRICS_FILE"
SH
chmod +x "$work/prog/noisy.sh"
printf 'print("never runs")\n' > "$work/prog/not_exec.py"
cat > "$work/prog/python.yaml" <<'YAML'
name: py-module
kind: command
command: {argv: [/usr/bin/python3, py_job.py], code: .}
params: {lr: 0.5, seed: 0}
sweep: {grid: {seed: [1, 2]}}
seed_param: seed
YAML
exp=$("$bin/ladle" submit "$work/prog/python.yaml" 2> /dev/null)
timeout 60 "$bin/ladle" watch "$exp" > /dev/null 2>&1
check "a Python program using the ladle module succeeds" test $? -eq 0
pyexp=$exp
pycode=$("$bin/ladle" show "$exp" | sed -n 's/^code sha256 //p')
json "$exp" > "$work/py.json"
check "its params, metrics, summary and outputs went through the module" python3 - "$work/py.json" <<'PY'
import json, sys
jobs = json.load(open(sys.argv[1]))["jobs"]
assert [j["summary"]["seed"] for j in jobs] == [1, 2], jobs
assert abs(jobs[0]["summary"]["final_loss"] - 0.5 / 3) < 1e-9
assert any(a["name"] == "out/note.txt" for a in jobs[0]["artifacts"]), jobs[0]["artifacts"]
PY
pyjob=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['jobs'][0]['id'])" "$work/py.json")
"$bin/ladle" download "$pyjob" out/note.txt -o "$work/note.txt" 2> /dev/null
check "the module came from the worker's PYTHONPATH" grep -q "lr=0.5 pythonpath=.*python" "$work/note.txt"

cat > "$work/prog/noisy.yaml" <<'YAML'
name: noisy
kind: command
command: {argv: [./noisy.sh], code: .}
YAML
exp=$("$bin/ladle" submit "$work/prog/noisy.yaml" 2> /dev/null)
timeout 60 "$bin/ladle" watch "$exp" > /dev/null 2>&1
check "malformed metric lines do not fail the job" test $? -eq 0
njob=$(json "$exp" | python3 -c "import json,sys; print(json.load(sys.stdin)['jobs'][0]['id'])")
"$bin/ladle" logs "$njob" > "$work/noisy.log" 2>&1
check "ladle logs warns of each skipped line" test "$(grep -c 'skipped a metrics line' "$work/noisy.log")" -eq 2
check "the good lines were kept, and only they" timeout 30 /usr/bin/python3 - "$stubs" "$LADLE_ADDR" "$exp" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import grpc
from ladle.v1 import experiments_pb2 as pb, experiments_pb2_grpc as rpc
stub = rpc.ExperimentServiceStub(grpc.insecure_channel(sys.argv[2]))
res = stub.GetResults(pb.GetResultsRequest(experiment_id=sys.argv[3], include_metrics=True))
points = [(m.step, m.name, m.value) for m in res.jobs[0].metrics]
assert sorted(points) == [(1, "x", 1.0), (2, "x", 3.0)], points
PY

cat > "$work/prog/memory.yaml" <<'YAML'
name: memory-hog
kind: command
command: {argv: [/usr/bin/python3, -c, "import time; x = bytearray(400 << 20); time.sleep(30)"]}
resources: {memory_bytes: 100MiB}
max_retries: 0
YAML
exp=$("$bin/ladle" submit "$work/prog/memory.yaml" 2> /dev/null)
timeout 60 "$bin/ladle" watch "$exp" > /dev/null 2>&1
check "a program over its memory limit fails" test $? -ne 0
check "with the reason naming memory_bytes" bash -c \
  "'$bin/ladle' results '$exp' --format json | grep -q 'exceeded memory_bytes = 100 MiB'"

cat > "$work/prog/notexec.yaml" <<'YAML'
name: not-executable
kind: command
command: {argv: [./not_exec.py], code: .}
max_retries: 0
YAML
exp=$("$bin/ladle" submit "$work/prog/notexec.yaml" 2> /dev/null)
timeout 60 "$bin/ladle" watch "$exp" > /dev/null 2>&1
check "a program that is not executable fails" test $? -ne 0
check "saying so, with the fix" bash -c \
  "'$bin/ladle' results '$exp' --format json | grep -q 'not executable: chmod +x it'"
check "both workers survived" bash -c "[ \$('$bin/ladle' workers | grep -c alive) -eq 2 ]"

# Rerun: the whole experiment, or only what failed, linked to the original.
cat > "$work/prog/partly.yaml" <<'YAML'
name: partly-fails
kind: command
command: {argv: [sh, -c, "test {x} -ne 2"]}
sweep: {grid: {x: [1, 2, 3]}}
max_retries: 0
YAML
exp=$("$bin/ladle" submit "$work/prog/partly.yaml" 2> /dev/null)
timeout 60 "$bin/ladle" watch "$exp" > /dev/null 2>&1
rerun=$("$bin/ladle" rerun "$exp" --failed 2> "$work/rerun.err")
check "rerun --failed submits the failed job only" grep -q "with 1 jobs, a rerun of $exp" "$work/rerun.err"
timeout 60 "$bin/ladle" watch "$rerun" > /dev/null 2>&1
check "with the same params, linked to the original" bash -c \
  "'$bin/ladle' results '$rerun' --format json | grep -q '\"x\": 2' &&
   '$bin/ladle' show '$rerun' | grep -q '^rerun of $exp$'"
whole=$("$bin/ladle" rerun "$pyexp" 2> /dev/null)
check "rerun of a whole experiment runs every job again, with the same code" bash -c \
  "'$bin/ladle' show '$whole' | grep -q 'code sha256 $pycode' &&
   timeout 60 '$bin/ladle' watch '$whole' > /dev/null 2>&1"
"$bin/ladle" rerun "$pyexp" --failed > /dev/null 2> "$work/rerun-none.err"
check "rerun --failed with nothing failed is refused, saying so" \
  grep -q "no job of $pyexp failed or was cancelled" "$work/rerun-none.err"

# 6. Refused at submit.
cat > "$work/prog/badparam.yaml" <<'YAML'
name: bad-param
kind: command
command: {argv: [./noisy.sh, "{epochs}"], code: .}
params: {lr: 0.1}
YAML
"$bin/ladle" submit "$work/prog/badparam.yaml" > /dev/null 2> "$work/badparam.err"
check "an unknown template parameter is refused (exit 2)" test $? -eq 2
check "naming it" grep -q "command.argv\[1\]: '{epochs}' names no parameter" "$work/badparam.err"
cat > "$work/prog/nocode.yaml" <<'YAML'
name: no-code
kind: command
command: {argv: [./x], code: ./missing-dir}
YAML
"$bin/ladle" submit "$work/prog/nocode.yaml" > /dev/null 2> "$work/nocode.err"
check "a missing code directory is refused (exit 2)" test $? -eq 2
check "naming it" grep -q "command.code: .*missing-dir is not a directory" "$work/nocode.err"

# 7. A hostile archive through the public API.
check "hostile archives are refused by UploadCode, nothing written outside" \
  timeout 60 /usr/bin/python3 - "$stubs" "$LADLE_ADDR" "$work" <<'PY'
import hashlib, io, os, sys, tarfile
sys.path.insert(0, sys.argv[1])
import grpc
from ladle.v1 import experiments_pb2 as pb, experiments_pb2_grpc as rpc
addr, work = sys.argv[2], sys.argv[3]
stub = rpc.ExperimentServiceStub(grpc.insecure_channel(addr))
def archive(add):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        add(t)
    return buf.getvalue()
def file_entry(name, data=b"pwned\n"):
    def add(t):
        info = tarfile.TarInfo(name); info.size = len(data); t.addfile(info, io.BytesIO(data))
    return add
def link_entry(name, target):
    def add(t):
        info = tarfile.TarInfo(name); info.type = tarfile.SYMTYPE; info.linkname = target
        t.addfile(info)
    return add
cases = {"../x": file_entry("../escaped.txt"),
         "absolute": file_entry(os.path.join(work, "absolute.txt")),
         "link": link_entry("up", "../../.."),
         "device": lambda t: t.addfile(tarfile.TarInfo("dev") if False else
                                       (lambda i: (setattr(i, "type", tarfile.CHRTYPE), i)[1])(tarfile.TarInfo("dev")))}
for name, add in cases.items():
    data = archive(add)
    sha = hashlib.sha256(data).hexdigest()
    chunks = [pb.CodeChunk(header=pb.CodeArchiveHeader(size_bytes=len(data), sha256=sha), data=data)]
    try:
        stub.UploadCode(iter(chunks))
        sys.exit("%s: accepted" % name)
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, (name, e.code(), e.details())
        assert "archive entry" in e.details(), (name, e.details())
    try:
        stub.GetCodeArchive(pb.GetCodeArchiveRequest(sha256=sha))
        sys.exit("%s: stored although refused" % name)
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.NOT_FOUND, (name, e.code())
for p in [os.path.join(work, "escaped.txt"), os.path.join(work, "data", "escaped.txt"),
          os.path.join(work, "absolute.txt")]:
    assert not os.path.exists(p), p
PY

# 8. Shares of a GPU: a worker declaring one GPU (no device is touched), four jobs asking
# gpus: 0.5. Each sees the GPU and its share; two run at once, never three.
"$bin/ladle-worker" --coordinator="$LADLE_ADDR" --work_dir="$work/w-g" --cpu_slots=8 --gpus=0 \
  --name="worker-g" > "$work/worker-g.log" 2>&1 &
pids+=($!); disown $!
mkdir -p "$work/share"
cat > "$work/share/share.sh" <<'SH'
#!/bin/sh
# Holds its share of the GPU for a second and says what it was given.
start=$(date +%s%N); sleep 1; end=$(date +%s%N)
echo "{\"start_ns\": $start, \"end_ns\": $end, \"device\": $CUDA_VISIBLE_DEVICES, \"share\": $LADLE_GPU_SHARE}" > "$LADLE_SUMMARY_FILE"
SH
chmod +x "$work/share/share.sh"
cat > "$work/share/experiment.yaml" <<'YAML'
name: gpu-share
kind: command
command: {argv: [./share.sh], code: .}
sweep: {grid: {i: [1, 2, 3, 4]}}
resources: {gpus: 0.5, cpu_slots: 1}
YAML
timeout 60 "$bin/ladle" submit "$work/share/experiment.yaml" --wait > "$work/share.txt" 2> /dev/null
check "four half-GPU jobs succeeded" test $? -eq 0
json "$(head -1 "$work/share.txt")" > "$work/share.json"
check "each saw GPU 0 and a share of 0.5; two at once, never three" /usr/bin/python3 - "$work/share.json" <<'PY'
import json, sys
jobs = json.load(open(sys.argv[1]))["jobs"]
s = [j["summary"] for j in jobs]
assert len(s) == 4 and all(x["device"] == 0 and x["share"] == 0.5 for x in s), s
events = sorted([(x["start_ns"], 1) for x in s] + [(x["end_ns"], -1) for x in s])
most = now = 0
for _, d in events:
    now += d
    most = max(most, now)
assert most == 2, "at most %d ran at once" % most
PY

if [ $fail -ne 0 ]; then
  echo "--- server log"; tail -30 "$work/server.log"
  for w in a b; do echo "--- worker $w log"; tail -20 "$work/worker-$w.log"; done
fi
exit $fail
