#!/usr/bin/python3
"""A search bench's trial as a program (kind command): evaluates a standard synthetic function at
the point in LADLE_PARAMS and writes {"value": f(x)} to LADLE_SUMMARY_FILE.

Functions (params.function): branin (x1 in [-5, 10], x2 in [0, 15]; minimum 0.397887) and
hartmann6 (x1..x6 in [0, 1]; minimum -3.32237). bench/tpe_vs_optuna.py imports the functions.
"""
import json
import math
import os

ALPHA = [1.0, 1.2, 3.0, 3.2]
A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8],
     [17, 8, 0.05, 10, 0.1, 14]]
P = [[0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
     [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
     [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
     [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381]]


def branin(x1, x2):
    b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def hartmann6(x):
    return -sum(ALPHA[i] * math.exp(-sum(A[i][j] * (x[j] - P[i][j]) ** 2 for j in range(6)))
                for i in range(4))


def main():
    p = json.loads(os.environ["LADLE_PARAMS"])
    if p["function"] == "branin":
        value = branin(p["x1"], p["x2"])
    else:
        value = hartmann6([p["x%d" % (j + 1)] for j in range(6)])
    with open(os.environ["LADLE_SUMMARY_FILE"], "w") as f:
        json.dump({"value": value}, f)


if __name__ == "__main__":
    main()
