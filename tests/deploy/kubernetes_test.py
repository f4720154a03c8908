"""deploy/kubernetes rendered with `kubectl kustomize` and checked object by object.

  kubernetes_test.py SOURCE_DIR BIN_DIR      (exit 77: no kubectl; $KUBECTL picks one)

The manifests are written for kustomize v2 (Debian's kubectl 1.20) and render the same objects
with today's (v5); this test has passed with both.

For both overlays (gpu, cpu): one coordinator replica on a PersistentVolumeClaim at its data
dir; the Service's ports reach named container ports; the workers dial the Service's gRPC port;
every secret a pod mounts is rendered, with every key a flag reads; probes and Prometheus
annotations name real ports; images are Ladle's; every flag exists in the real binaries'
--help; the dashboards ConfigMap holds deploy/grafana/dashboards verbatim; GPU workers ask for
nvidia.com/gpu and CPU workers for none.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

SRC, BIN = sys.argv[1:3]
failures = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else ": " + str(detail)))
    if not ok:
        failures.append(name)


kubectl = os.environ.get("KUBECTL") or shutil.which("kubectl")
if kubectl is None:
    print("skip: no kubectl (scripts/install-deps.sh installs Debian's kubernetes-client)")
    sys.exit(77)
print(subprocess.run([kubectl, "version", "--client"], capture_output=True, text=True).stdout.strip())

work = tempfile.mkdtemp()
shutil.copytree(os.path.join(SRC, "deploy"), os.path.join(work, "deploy"))
for name in ("tokens", "worker_token", "tls.crt", "tls.key", "ca.crt"):
    with open(os.path.join(work, "deploy/kubernetes/secrets", name), "w") as f:
        f.write("placeholder-" + name + "\n")


def flags_of(binary):
    out = subprocess.run([os.path.join(BIN, binary), "--help"], capture_output=True, text=True)
    return set(re.findall(r"(--[a-z_]+)", out.stdout + out.stderr))


server_flags, worker_flags = flags_of("ladle-server"), flags_of("ladle-worker")
dashboards = {os.path.basename(p): json.load(open(p))
              for p in glob.glob(os.path.join(SRC, "deploy/grafana/dashboards/*.json"))}


def render(overlay):
    r = subprocess.run([kubectl, "kustomize", os.path.join(work, "deploy/kubernetes/overlays", overlay)],
                       capture_output=True, text=True)
    check(overlay + ": kubectl kustomize renders", r.returncode == 0, r.stderr)
    return [d for d in yaml.safe_load_all(r.stdout) if d]


def one(objs, kind, name):
    found = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    return found[0] if len(found) == 1 else None


def check_pod(overlay, objs, owner, flags):
    """Secrets, probes, annotations and flags of a workload's pod template."""
    spec = owner["spec"]["template"]["spec"]
    c = spec["containers"][0]
    name = owner["metadata"]["name"]
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    unknown = [a.split("=")[0] for a in c["args"] if a.split("=")[0] not in flags]
    check(f"{overlay}: {name}'s flags exist in its binary's --help", not unknown, unknown)
    for probe in ("readinessProbe", "livenessProbe"):
        if probe in c:
            port = c[probe]["httpGet"]["port"]
            check(f"{overlay}: {name}'s {probe} names a container port", port in ports, port)
    ann = owner["spec"]["template"]["metadata"].get("annotations", {})
    metrics = [a for a in c["args"] if a.startswith("--metrics_listen=")]
    check(f"{overlay}: {name}'s Prometheus annotation is its --metrics_listen port",
          ann.get("prometheus.io/scrape") == "true" and metrics and
          metrics[0].endswith(":" + ann["prometheus.io/port"]) and
          int(ann["prometheus.io/port"]) in ports.values(), (ann, metrics))
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    for v in spec["volumes"]:
        if "secret" not in v:
            continue
        secret = one(objs, "Secret", v["secret"]["secretName"])
        check(f"{overlay}: secret {v['secret']['secretName']} is rendered", secret is not None)
        if secret is None:
            continue
        keys = [i["key"] for i in v["secret"].get("items", [])] or list(secret["data"])
        check(f"{overlay}: secret {v['secret']['secretName']} has the keys mounted",
              all(k in secret["data"] for k in keys), keys)
        # Every flag that reads a file from this mount reads a key the secret has.
        for a in c["args"]:
            value = a.split("=", 1)[-1]
            if value.startswith(mounts[v["name"]] + "/"):
                key = value[len(mounts[v["name"]]) + 1:]
                check(f"{overlay}: {a} is a key of secret {v['secret']['secretName']}", key in keys, keys)
    return c, ports


for overlay in ("gpu", "cpu"):
    objs = render(overlay)
    if not objs:
        continue
    namespaced = [o for o in objs if o["kind"] != "Namespace"]
    check(f"{overlay}: every object is in namespace ladle",
          all(o["metadata"].get("namespace") == "ladle" for o in namespaced))
    sts = one(objs, "StatefulSet", "ladle-coordinator")
    svc = one(objs, "Service", "ladle-coordinator")
    dep = one(objs, "Deployment", "ladle-worker")
    check(f"{overlay}: a coordinator StatefulSet, its Service, a worker Deployment",
          sts and svc and dep, [o["kind"] + "/" + o["metadata"]["name"] for o in objs])
    if not (sts and svc and dep):
        continue
    check(f"{overlay}: one coordinator replica (SQLite has one writer)", sts["spec"]["replicas"] == 1)
    c, ports = check_pod(overlay, objs, sts, server_flags)
    claims = {t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]}
    data_mount = [m["mountPath"] for m in c["volumeMounts"] if m["name"] in claims]
    check(f"{overlay}: the coordinator's --data_dir is on its PersistentVolumeClaim",
          data_mount and "--data_dir=" + data_mount[0] in c["args"], data_mount)
    check(f"{overlay}: the coordinator image", c["image"] == "ladle-coordinator:latest", c["image"])
    tmpl = sts["spec"]["template"]["metadata"]["labels"]
    check(f"{overlay}: the Service selects the coordinator pod",
          all(tmpl.get(k) == v for k, v in svc["spec"]["selector"].items()), svc["spec"]["selector"])
    check(f"{overlay}: each Service port reaches a named container port",
          all(p["targetPort"] in ports for p in svc["spec"]["ports"]), svc["spec"]["ports"])
    for flag, port in (("--listen=", "grpc"), ("--http_listen=", "http")):
        check(f"{overlay}: {flag} listens on the '{port}' port",
              any(a.startswith(flag) and a.endswith(":%d" % ports[port]) for a in c["args"]))
    w, _ = check_pod(overlay, objs, dep, worker_flags)
    grpc_port = [p["port"] for p in svc["spec"]["ports"] if p["name"] == "grpc"][0]
    check(f"{overlay}: workers dial the Service's gRPC port",
          f"--coordinator=ladle-coordinator:{grpc_port}" in w["args"], w["args"])
    check(f"{overlay}: the worker image", w["image"] == "ladle-worker:latest", w["image"])
    gpu = "nvidia.com/gpu" in w["resources"].get("limits", {})
    if overlay == "gpu":
        check("gpu: workers ask for a GPU and detect it", gpu and "--gpus=auto" in w["args"])
    else:
        check("cpu: workers ask for no GPU and run CPU slots",
              not gpu and "--gpus=none" in w["args"] and "--cpu_slots=4" in w["args"], w)
    cm = one(objs, "ConfigMap", "ladle-grafana-dashboards")
    check(f"{overlay}: the Grafana dashboards ConfigMap holds deploy/grafana/dashboards verbatim",
          cm is not None and {k: json.loads(v) for k, v in cm["data"].items()} == dashboards and
          cm["metadata"]["labels"].get("grafana_dashboard") == "1")

shutil.rmtree(work)
if failures:
    print("%d checks failed" % len(failures))
    sys.exit(1)
print("kubernetes manifests: all checks passed")
