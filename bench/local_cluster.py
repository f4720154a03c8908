"""A throwaway Ladle cluster for the search benches: a ladle-server and N ladle-workers (1 CPU
slot each) on loopback, in a temporary directory removed on exit.

    with LocalCluster("build", workers=2, prefix="asha-bench-") as c:
        exp = c.submit("spec.json")       # the experiment id
        results = c.results(exp)          # `ladle results --format json`, once it ended
"""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalCluster:
    def __init__(self, build, workers, prefix="ladle-bench-"):
        self.build, self.workers, self.prefix = build, workers, prefix

    def __enter__(self):
        self.work = tempfile.mkdtemp(prefix=self.prefix)
        addr = "127.0.0.1:%d" % free_port()
        self.env = dict(os.environ, LADLE_ADDR=addr)
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        self.procs = [subprocess.Popen(
            [self.bin("ladle-server"), "--listen=" + addr, "--data_dir=%s/data" % self.work,
             "--metrics_listen=127.0.0.1:%d" % free_port()], **quiet)]
        self.procs += [subprocess.Popen(
            [self.bin("ladle-worker"), "--coordinator=" + addr, "--cpu_slots=1",
             "--work_dir=%s/w%d" % (self.work, i)], **quiet) for i in range(self.workers)]
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
        shutil.rmtree(self.work, ignore_errors=True)

    def bin(self, name):
        return "%s/bin/%s" % (self.build, name)

    def ladle(self, *args):
        return subprocess.run([self.bin("ladle")] + list(args), env=self.env, check=True,
                              capture_output=True, text=True).stdout

    def submit(self, spec_path):
        for _ in range(100):  # the server may still be starting
            try:
                return self.ladle("submit", spec_path).strip()
            except subprocess.CalledProcessError:
                time.sleep(0.2)
        return self.ladle("submit", spec_path).strip()  # its error, if it still fails

    def results(self, exp, timeout=7200):
        """Waits for the experiment to end; its results as JSON."""
        subprocess.run([self.bin("ladle"), "watch", exp], env=self.env, capture_output=True,
                       timeout=timeout)
        return json.loads(self.ladle("results", exp, "--format", "json"))
