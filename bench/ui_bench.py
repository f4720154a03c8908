#!/usr/bin/env python3
"""The web UI and its JSON under load: a ladle.db with 100,000 experiments and a finished
1,000-job sweep whose jobs have 1,000 points in each of two series (ladle-ui-fixture), served by
a real ladle-server; the JSON endpoints timed with urllib, the pages in headless Chromium.

  /usr/bin/python3 bench/ui_bench.py --build build [--experiments 100000 --jobs 1000 --points 1000]

Bars (issue 20): the experiment page's JSON < 100 ms, the page interactive < 1 s, the list
< 50 ms with 100k experiments. "Interactive" is when the page has drawn what it loaded (its
data-ready mark: tables, jobs and, on the experiment page, the curves), from navigation start.
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

# The tests' browser setup (Debian's chromium + chromium-driver).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from chromium import headless_chromium  # noqa: E402


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def timed_get(url, repeats):
    """Median and p90 seconds of `repeats` GETs (after one warm-up), and the body size."""
    urllib.request.urlopen(url, timeout=60).read()
    times, size = [], 0
    for _ in range(repeats):
        t = time.perf_counter()
        body = urllib.request.urlopen(url, timeout=60).read()
        times.append(time.perf_counter() - t)
        size = len(body)
    times.sort()
    return statistics.median(times), times[int(0.9 * (len(times) - 1))], size


def page_ready_ms(driver, url, repeats):
    """Milliseconds from navigation start to the page's data-ready mark, per full load."""
    out = []
    for i in range(repeats):
        base, _, frag = url.partition("#")
        driver.get("%s?load=%d#%s" % (base, i, frag))  # a full navigation every time
        deadline = time.time() + 30
        ready = None
        while time.time() < deadline and ready is None:
            ready = driver.execute_script("return window.ladleReadyMs === undefined ? null : window.ladleReadyMs")
            time.sleep(0.02)
        if ready is None:
            raise RuntimeError("page never became ready: " + url)
        out.append(ready)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--experiments", type=int, default=100000)
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--points", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--page_loads", type=int, default=5)
    args = ap.parse_args()
    bin_dir = os.path.join(args.build, "bin")
    work = tempfile.mkdtemp(prefix="ladle-ui-bench-")
    t = time.time()
    subprocess.run([os.path.join(bin_dir, "ladle-ui-fixture"), "--db", os.path.join(work, "ladle.db"),
                    "--experiments", str(args.experiments), "--jobs", str(args.jobs),
                    "--points", str(args.points)], check=True)
    print("fixture written in %.1f s (%.0f MB)" % (time.time() - t,
                                                 os.path.getsize(os.path.join(work, "ladle.db")) / 2**20))
    http = free_port()
    server = subprocess.Popen(
        [os.path.join(bin_dir, "ladle-server"), "--data_dir=" + work, "--listen=127.0.0.1:%d" % free_port(),
         "--http_listen=127.0.0.1:%d" % http, "--metrics_listen=127.0.0.1:%d" % free_port()],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "server.log"), "w"))
    base = "http://127.0.0.1:%d" % http
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/api/v1/workers", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        api = base + "/api/v1"
        big = "exp-big-0000"
        per_series = max(10, min(1000, 20000 // args.jobs))  # what the page asks for
        # A page deep in the list: follow 20 pages of tokens.
        token = ""
        for _ in range(20):
            token = json.load(urllib.request.urlopen(api + "/experiments?page_size=50&page_token=" + token))["nextPageToken"]
        rows = [
            ("list: first page (50 of %d)" % args.experiments, api + "/experiments?page_size=50", 0.050),
            ("list: filtered by owner", api + "/experiments?page_size=50&owner=bob", 0.050),
            ("list: filtered by state", api + "/experiments?page_size=50&state=succeeded", 0.050),
            ("list: page 21", api + "/experiments?page_size=50&page_token=" + token, 0.050),
            ("experiment page: jobs, tables, metric names",
             api + "/experiments/%s/results?include_tables=true&include_metric_names=true" % big, 0.100),
            ("experiment page: curves (%d jobs x %d points)" % (args.jobs, per_series),
             api + "/experiments/%s/results?include_metrics=true&metrics_as_series=true&metric_names=val_accuracy"
             "&max_points_per_series=%d" % (big, per_series), None),
            ("job page: one job, all %d points of 2 series" % args.points,
             api + "/jobs/%s-0000?include_metrics=true&metrics_as_series=true" % big, None),
        ]
        results = []
        print("\n%-52s %9s %9s %10s %s" % ("JSON endpoint", "median", "p90", "bytes", "bar"))
        for name, url, bar in rows:
            med, p90, size = timed_get(url, args.repeats)
            ok = "" if bar is None else ("< %d ms: %s" % (bar * 1000, "met" if med < bar else "MISSED"))
            print("%-52s %7.1f ms %7.1f ms %10d %s" % (name, med * 1000, p90 * 1000, size, ok))
            results.append({"name": name, "median_ms": med * 1000, "p90_ms": p90 * 1000, "bytes": size})
        print("\n%-52s %9s %9s %s" % ("page in headless Chromium (full load)", "median", "max", "bar"))
        d = headless_chromium()
        try:
            for name, frag in [("experiments list", "/"), ("experiment page (1,000 jobs, curves)", "/experiments/" + big),
                               ("job page", "/jobs/%s-0000" % big)]:
                ms = page_ready_ms(d, base + "/#" + frag, args.page_loads)
                med = statistics.median(ms)
                bar = "< 1000 ms: " + ("met" if med < 1000 else "MISSED") if "experiment page" in name else ""
                print("%-52s %7.0f ms %7.0f ms %s" % (name, med, max(ms), bar))
                results.append({"name": "page: " + name, "median_ms": med, "max_ms": max(ms)})
        finally:
            d.quit()
        json.dump(results, open(os.path.join(work, "results.json"), "w"), indent=1)
    finally:
        server.terminate()
        server.wait()
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
