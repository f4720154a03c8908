#!/usr/bin/python3
"""What a `kind: command` job costs over starting the program directly, measured in one run.

A real ladle-server and ladle-worker(s) on loopback (built binaries), driven over the public
gRPC API with the generated stubs:

  1. dispatch -> exec: one job at a time on an idle worker, the program `/bin/date +%s%N`; the
     latency is the time date printed minus the attempt's dispatch time (recorded by the
     coordinator, ms). Baseline in the same run: posix_spawn of the same date, spawn -> its
     printed time. p50/p99 of each.
  2. throughput: one experiment of N one-line jobs (`/bin/true`) on two workers, submit ->
     the experiment ended, as jobs/s; beside it the raw rate of posix_spawn + wait of /bin/true
     (one process at a time, and two at a time).

  /usr/bin/python3 bench/command_bench.py [--build build] [--latency_jobs 200] [--jobs 1000]

Targets (issue 18): exec p99 <= 20 ms after dispatch; >= 300 jobs/s end to end on 2 cores.
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def spawn_date_latency_ms():
    r, w = os.pipe()
    t0 = time.time_ns()
    pid = os.posix_spawn("/bin/date", ["/bin/date", "+%s%N"], os.environ,
                         file_actions=[(os.POSIX_SPAWN_DUP2, w, 1)])
    os.close(w)
    out = os.read(r, 64)
    os.close(r)
    os.waitpid(pid, 0)
    return (int(out) - t0) / 1e6


def cpu_seconds(pids):
    """utime + stime of these processes and their reaped children, in seconds."""
    total = 0
    for pid in pids:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total / os.sysconf("SC_CLK_TCK")


def raw_spawn_rate(n, parallel):
    def run(k):
        for _ in range(k):
            pid = os.posix_spawn("/bin/true", ["/bin/true"], os.environ)
            os.waitpid(pid, 0)
    t0 = time.monotonic()
    threads = [threading.Thread(target=run, args=(n // parallel,)) for _ in range(parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return n / (time.monotonic() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--latency_jobs", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--worker_slots", type=int, default=4)
    a = ap.parse_args()
    sys.path.insert(0, os.path.join(a.build, "python"))
    import grpc
    from ladle.v1 import experiments_pb2 as pb, experiments_pb2_grpc as rpc

    bin_dir = os.path.join(a.build, "bin")
    work = tempfile.mkdtemp(prefix="ladle-cmdbench-")
    addr = "127.0.0.1:%d" % free_port()
    procs = []
    try:
        procs.append(subprocess.Popen(
            [os.path.join(bin_dir, "ladle-server"), "--listen=" + addr, "--data_dir=" + work + "/data",
             "--metrics_listen=127.0.0.1:%d" % free_port()],
            stdout=subprocess.DEVNULL, stderr=open(work + "/server.log", "w")))

        def start_worker(name):
            procs.append(subprocess.Popen(
                [os.path.join(bin_dir, "ladle-worker"), "--coordinator=" + addr,
                 "--work_dir=%s/%s" % (work, name), "--cpu_slots=%d" % a.worker_slots,
                 "--name=" + name],
                stdout=subprocess.DEVNULL, stderr=open("%s/%s.log" % (work, name), "w")))

        stub = rpc.ExperimentServiceStub(grpc.insecure_channel(addr))
        start_worker("w1")

        def wait_workers(n):
            deadline = time.time() + 30
            while time.time() < deadline:
                try:
                    if len([w for w in stub.ListWorkers(pb.ListWorkersRequest(), timeout=2).workers
                            if w.state == "alive"]) >= n:
                        return
                except grpc.RpcError:
                    pass
                time.sleep(0.1)
            sys.exit("workers did not register")

        def wait_done(exp_id):
            while True:
                e = stub.GetExperiment(pb.GetExperimentRequest(experiment_id=exp_id))
                if e.state != pb.EXPERIMENT_STATE_RUNNING:
                    return e
                time.sleep(0.002)

        wait_workers(1)
        # 1. dispatch -> exec on an idle worker.
        spec = "name: date\nkind: command\ncommand: {argv: [/bin/date, '+%s%N']}\n"
        ladle_ms, spawn_ms = [], []
        for _ in range(a.latency_jobs):
            exp = stub.SubmitExperiment(pb.SubmitExperimentRequest(spec=spec)).experiment_id
            wait_done(exp)
            res = stub.GetResults(pb.GetResultsRequest(experiment_id=exp))
            attempt = res.jobs[0].attempts[0]
            with open("%s/w1/attempts/%d/stdout.log" % (work, attempt.id)) as f:
                printed_ns = int(f.read().strip())
            ladle_ms.append(printed_ns / 1e6 - attempt.started_unix_ms)
            spawn_ms.append(spawn_date_latency_ms())
        # 2. throughput: N one-line jobs on two workers.
        start_worker("w2")
        wait_workers(2)
        spec = ("name: true-%d\nkind: command\ncommand: {argv: [/bin/true]}\n"
                "sweep: {grid: {i: [%s]}}\n" % (a.jobs, ", ".join(str(i) for i in range(a.jobs))))
        cpu0 = [cpu_seconds([procs[0].pid]), cpu_seconds([p.pid for p in procs[1:]])]
        t0 = time.monotonic()
        exp = stub.SubmitExperiment(pb.SubmitExperimentRequest(spec=spec)).experiment_id
        e = wait_done(exp)
        seconds = time.monotonic() - t0
        cpu = [cpu_seconds([procs[0].pid]) - cpu0[0],
               cpu_seconds([p.pid for p in procs[1:]]) - cpu0[1]]
        assert e.state == pb.EXPERIMENT_STATE_SUCCEEDED, e
        raw1 = raw_spawn_rate(a.jobs, 1)
        raw2 = raw_spawn_rate(a.jobs, 2)
    finally:
        for p in procs:
            p.kill()
        shutil.rmtree(work, ignore_errors=True)

    print("dispatch -> exec, %d jobs one at a time on an idle worker (ms):" % a.latency_jobs)
    print("  %-34s p50 %6.2f  p99 %6.2f  max %6.2f" % (
        "ladle (coordinator dispatch -> exec)", percentile(ladle_ms, 50), percentile(ladle_ms, 99),
        max(ladle_ms)))
    print("  %-34s p50 %6.2f  p99 %6.2f  max %6.2f" % (
        "posix_spawn (spawn -> exec)", percentile(spawn_ms, 50), percentile(spawn_ms, 99),
        max(spawn_ms)))
    print("throughput, %d /bin/true jobs on two workers (%d slots each):" % (a.jobs, a.worker_slots))
    print("  ladle end to end (submit -> ended)  %7.0f jobs/s  (%.2f s)" % (a.jobs / seconds, seconds))
    print("  CPU per job: coordinator %.2f ms, workers %.2f ms (with their children)" % (
        cpu[0] * 1e3 / a.jobs, cpu[1] * 1e3 / a.jobs))
    print("  raw posix_spawn + wait, 1 at a time %7.0f /s" % raw1)
    print("  raw posix_spawn + wait, 2 at a time %7.0f /s" % raw2)
    print("targets: exec p99 <= 20 ms: %s; >= 300 jobs/s: %s" % (
        "met" if percentile(ladle_ms, 99) <= 20 else "NOT met",
        "met" if a.jobs / seconds >= 300 else "NOT met"))


if __name__ == "__main__":
    main()
