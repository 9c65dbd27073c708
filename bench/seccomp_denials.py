#!/usr/bin/env python3
"""What a denied system call costs under Cordon, beside a bare filter (docs/seccomp.md, "Cost").

Each round runs the same loop of denied calls (kcmp, which default.json answers EPERM) twice:
  bare filter   default.json compiled without notification (`cordon seccomp compile -o`), loaded by
                tests/helpers/seccomp_probe itself: SECCOMP_RET_ERRNO in the kernel, nothing
                recorded. This is what runc or crun give for the same profile.
  cordon run    the filter `cordon run` installs: the denial is notified, recorded in the evidence
                and answered by the supervisor's notifier thread.
and, for scale, an allowed call (getppid) under the bare filter. Rounds alternate so that both
rows see the same machine. Prints medians over the rounds (ns per call, denials per second) and
the ratio. Never pass/fail.

  bench/seccomp_denials.py [--rounds R] [--calls N] [--also PATH/TO/OTHER/bin/cordon]
(--also adds a row for another build of cordon, e.g. the one before a change.)
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")
CORDON = os.path.join(BUILD, "bin", "cordon")
HELPERS = os.path.join(BUILD, "tests", "helpers")
PROBE = os.path.join(HELPERS, "seccomp_probe")


def ns_per_call(argv):
    out = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    for line in out.stdout.splitlines():
        if line.startswith("ns_per_call "):
            return int(line.split()[1])
    raise RuntimeError(f"{' '.join(argv)}: no measurement (exit {out.returncode}): {out.stderr.strip()}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--calls", type=int, default=100000)
    ap.add_argument("--also", default="", help="another cordon binary to measure beside this one")
    a = ap.parse_args()
    for need in (CORDON, PROBE):
        if not os.access(need, os.X_OK):
            print(f"seccomp_denials: {need} is missing; build first (scripts/build.sh)")
            return 0
    tmp = tempfile.mkdtemp(prefix="cordon-seccomp-bench-")
    bpf = os.path.join(tmp, "default.bpf")
    subprocess.run([CORDON, "seccomp", "compile", "default", "-o", bpf], check=True, capture_output=True)
    policy = os.path.join(tmp, "policy.json")
    with open(policy, "w") as f:
        json.dump({"name": "seccomp-bench", "version": 1, "seccomp_profile": "default",
                   "mounts": [{"source": HELPERS, "target": "/opt/cordon-bench"}]}, f)
    n = str(a.calls)
    rows = {
        "bare filter, denied (SECCOMP_RET_ERRNO)": [PROBE, "load", bpf, PROBE, "loop", n, "kcmp"],
        "cordon run, denied (notified, recorded)": [CORDON, "run", "--policy", policy, "--",
                                                    "/opt/cordon-bench/seccomp_probe", "loop", n, "kcmp"],
        "bare filter, allowed (getppid)": [PROBE, "load", bpf, PROBE, "loop", n, "getppid"],
    }
    if a.also:
        rows["cordon run, denied (--also build)"] = [a.also, "run", "--policy", policy, "--",
                                                     "/opt/cordon-bench/seccomp_probe", "loop", n, "kcmp"]
    samples = {k: [] for k in rows}
    for _ in range(a.rounds):
        for name, argv in rows.items():
            samples[name].append(ns_per_call(argv))
    bare = statistics.median(samples["bare filter, denied (SECCOMP_RET_ERRNO)"])
    print(f"\nseccomp denial cost: default.json, kcmp denied EPERM, {a.calls} calls per run, "
          f"median of {a.rounds} alternating rounds\n")
    print(f"| {'row':<42} | {'ns/call':>8} | {'calls/s':>10} | {'vs bare denied':>14} | rounds (ns/call)")
    print(f"|{'-' * 44}|{'-' * 10}|{'-' * 12}|{'-' * 16}|-----------------")
    for name, s in samples.items():
        med = statistics.median(s)
        print(f"| {name:<42} | {med:>8.0f} | {1e9 / med:>10.0f} | {med / bare:>13.1f}x | "
              f"{' '.join(str(x) for x in s)}")
    print("\nEvery denial under `cordon run` is counted in the evidence (seccomp.denied); the bare filter records nothing.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
