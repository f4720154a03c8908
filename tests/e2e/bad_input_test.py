"""Bad input over the wire, against a real ladle-server: oversized messages, artifact uploads
with unsafe names, wrong hashes, early ends, or for attempts that are not running. Each is
rejected with the right gRPC code, the server stays up, and no partial artifact remains.

A fake worker (this script) opens a real Session stream to get a running attempt.
Usage: bad_input_test.py --stubs DIR --addr HOST:PORT --data_dir DIR
"""
import argparse, hashlib, os, queue, sys, threading

ap = argparse.ArgumentParser()
ap.add_argument("--stubs", required=True)
ap.add_argument("--addr", required=True)
ap.add_argument("--data_dir", required=True)
args = ap.parse_args()
sys.path.insert(0, args.stubs)
import grpc  # noqa: E402
from ladle.v1 import experiments_pb2 as ex, experiments_pb2_grpc as exg  # noqa: E402
from ladle.v1 import workers_pb2 as wk, workers_pb2_grpc as wkg  # noqa: E402

channel = grpc.insecure_channel(args.addr, options=[("grpc.max_send_message_length", 64 << 20)])
api = exg.ExperimentServiceStub(channel)
workers = wkg.WorkerServiceStub(channel)
failures = 0


def check(name, ok, detail=""):
    global failures
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f" ({detail})"))
    failures += 0 if ok else 1


def code_of(fn):
    try:
        fn()
        return grpc.StatusCode.OK
    except grpc.RpcError as e:
        return e.code()


# 1. Oversized requests: a 2 MB spec (over the 1 MiB spec limit) and a 20 MB message (over
#    the server's 16 MiB message limit).
try:
    api.SubmitExperiment(ex.SubmitExperimentRequest(spec="#" * (2 << 20)))
    check("2 MB spec: INVALID_ARGUMENT naming the limit", False, "accepted")
except grpc.RpcError as e:
    check("2 MB spec: INVALID_ARGUMENT naming the limit",
          e.code() == grpc.StatusCode.INVALID_ARGUMENT and "at most 1 MiB" in e.details(), e)
code = code_of(lambda: api.SubmitExperiment(ex.SubmitExperimentRequest(spec="#" * (20 << 20))))
check("20 MB message: RESOURCE_EXHAUSTED", code == grpc.StatusCode.RESOURCE_EXHAUSTED, code)
code = code_of(lambda: api.SubmitExperiment(ex.SubmitExperimentRequest(spec="name: [unclosed\n")))
check("malformed YAML: INVALID_ARGUMENT", code == grpc.StatusCode.INVALID_ARGUMENT, code)

# 2. A fake worker with one CPU slot takes a job, so uploads have a running attempt.
outbox = queue.Queue()
outbox.put(wk.WorkerMessage(hello=wk.WorkerHello(worker_id="fake-w", name="fake", cpu_slots=1)))


def messages():
    while True:
        m = outbox.get()
        if m is None:
            return
        yield m


session = workers.Session(messages())
assignments = queue.Queue()


def read():
    try:
        for m in session:
            if m.HasField("assignment"):
                assignments.put(m.assignment)
    except grpc.RpcError:
        pass


threading.Thread(target=read, daemon=True).start()
api.SubmitExperiment(ex.SubmitExperimentRequest(spec="name: bad-input\ntrial: {data: {limit: 100}}\n"))
attempt = assignments.get(timeout=20)
check("the fake worker got an assignment", attempt.attempt_id > 0)


def upload(name, data, declared_size=None, declared_sha=None, attempt_id=None, cut=None):
    header = wk.ArtifactHeader(
        attempt_id=attempt.attempt_id if attempt_id is None else attempt_id, name=name,
        size_bytes=len(data) if declared_size is None else declared_size,
        sha256=hashlib.sha256(data).hexdigest() if declared_sha is None else declared_sha)
    sent = data if cut is None else data[:cut]
    chunks = [wk.ArtifactChunk(header=header, data=sent[:1 << 20])]
    for i in range(1 << 20, len(sent), 1 << 20):
        chunks.append(wk.ArtifactChunk(data=sent[i:i + (1 << 20)]))
    return code_of(lambda: workers.UploadArtifact(iter(chunks)))


def artifacts_files():
    root = os.path.join(args.data_dir, "artifacts")
    return sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs)


payload = os.urandom(3 << 20)
before = artifacts_files()
for bad in ["../evil", "/etc/passwd", "a//b", "a/../b", "..", ""]:
    code = upload(bad, payload[:100])
    check(f"artifact name {bad!r}: INVALID_ARGUMENT", code == grpc.StatusCode.INVALID_ARGUMENT, code)
code = upload("model.safetensors", payload, declared_sha="0" * 64)
check("wrong SHA-256: rejected", code in (grpc.StatusCode.DATA_LOSS, grpc.StatusCode.INVALID_ARGUMENT), code)
code = upload("model.safetensors", payload, cut=1 << 20)
check("upload that stops midway: rejected", code in (grpc.StatusCode.DATA_LOSS, grpc.StatusCode.INVALID_ARGUMENT), code)
code = upload("model.safetensors", payload, declared_size=len(payload) + 5)
check("size that does not match: rejected", code in (grpc.StatusCode.DATA_LOSS, grpc.StatusCode.INVALID_ARGUMENT), code)
code = upload("model.safetensors", payload[:100], attempt_id=987654)
check("attempt not running: FAILED_PRECONDITION", code == grpc.StatusCode.FAILED_PRECONDITION, code)
check("no partial or rejected artifact left on disk", artifacts_files() == before,
      set(artifacts_files()) - set(before))
code = upload("model.safetensors", payload)
check("a correct upload still works", code == grpc.StatusCode.OK, code)

# 3. A huge metric batch (40k lines) on the session is ingested, not fatal.
lines = [f'{{"step": {i}, "train_loss": 0.5}}' for i in range(40000)]
outbox.put(wk.WorkerMessage(metrics=wk.MetricBatch(attempt_id=attempt.attempt_id, jsonl_lines=lines)))
outbox.put(wk.WorkerMessage(result=wk.AttemptResult(attempt_id=attempt.attempt_id,
                                                    outcome=wk.AttemptResult.OUTCOME_FAILED,
                                                    reason="bad-input test")))
outbox.put(None)

# 4. Hellos with impossible capacities (found by tests/fuzz: gpus + cpu_slots past INT_MAX).
def hello_error(**capacity):
    try:
        for _ in workers.Session(iter([wk.WorkerMessage(
                hello=wk.WorkerHello(worker_id="bad-hello", **capacity))]), timeout=5):
            pass
        return grpc.StatusCode.OK, ""
    except grpc.RpcError as e:
        return e.code(), e.details()


for capacity in [dict(gpus=1303230746, cpu_slots=1255625737), dict(gpus=-1, cpu_slots=1),
                 dict(gpus=0, cpu_slots=0), dict(gpus=2000)]:
    code, details = hello_error(**capacity)
    check(f"hello {capacity}: INVALID_ARGUMENT naming the bounds",
          code == grpc.StatusCode.INVALID_ARGUMENT and "gpus must be in [0, 1024]" in details,
          (code, details))
for labels, want in [({"Bad Key": "x"}, "label key 'Bad Key'"), ({"rack": "a\nb"}, "printable"),
                     ({"k%d" % i: "v" for i in range(33)}, "at most 32 labels")]:
    code, details = hello_error(cpu_slots=1, labels=labels)
    check(f"hello with labels {list(labels)[:2]}: INVALID_ARGUMENT naming the label",
          code == grpc.StatusCode.INVALID_ARGUMENT and "hello.labels" in details and want in details,
          (code, details))
code = code_of(lambda: api.ListWorkers(ex.ListWorkersRequest()))
check("the server is still serving", code == grpc.StatusCode.OK, code)
sys.exit(1 if failures else 0)
