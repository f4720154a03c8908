#!/usr/bin/env python3
"""The layering the build enforces (CMake's ladle_headers): each library sees
only the headers of what it links. Compiles one-line files with the real flags
of a source file of each layer (from compile_commands.json) and checks that
forbidden includes fail to compile and allowed ones compile.

Usage: include_boundaries.py BUILD_DIR
"""
import json
import re
import subprocess
import sys
import tempfile

# (a source file of the layer, header, whether it may include it)
CASES = [
    ("client/main.cc", "server/store.h", False),      # the CLI links no server
    ("client/main.cc", "kernels/models.h", False),
    ("client/main.cc", "spec/kind.h", True),
    ("report/html_report.cc", "server/store.h", False),
    ("report/html_report.cc", "spec/result_table.h", True),
    ("spec/kind.cc", "server/store.h", False),        # spec: no server,
    ("spec/kind.cc", "kernels/models.h", False),      # no kernels,
    ("spec/kind.cc", "ladle/v1/experiments.pb.h", False),  # no gRPC
    ("spec/kind.cc", "common/status_macros.h", True),
    ("server/coordinator.cc", "kernels/models.h", False),  # no training core
    ("server/coordinator.cc", "train/trainer.h", False),
    ("server/coordinator.cc", "spec/kind.h", True),
    ("kernels/models.cc", "spec/config.h", True),     # kernels include spec
    ("kernels/models.cc", "train/trainer.h", False),
    ("slurm/autoscaler.cc", "server/store.h", False),  # the autoscaler's
    ("slurm/autoscaler.cc", "ladle/v1/experiments.pb.h", False),  # rules: pure
    ("slurm/autoscaler.cc", "slurm/autoscaler.h", True),
]


def main():
    build = sys.argv[1]
    with open(f"{build}/compile_commands.json") as f:
        commands = json.load(f)
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        probe = f"{tmp}/probe.cc"
        for source, header, allowed in CASES:
            entry = next(e for e in commands if e["file"].endswith("/" + source))
            with open(probe, "w") as f:
                f.write(f'#include "{header}"\n')
            cmd = re.sub(r" -o \S+", " ", entry["command"])
            cmd = re.sub(r" -c \S+", f" -fsyntax-only -c {probe}", cmd)
            rc = subprocess.run(cmd, shell=True, cwd=entry["directory"],
                                capture_output=True).returncode
            ok = (rc == 0) == allowed
            failures += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {source}: #include \"{header}\" "
                  f"{'compiles' if rc == 0 else 'fails'} "
                  f"(expected: {'compiles' if allowed else 'fails'})")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
