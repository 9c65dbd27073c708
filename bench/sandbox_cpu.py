#!/usr/bin/env python3
"""CPU of one-shot sandboxes, two or more builds side by side (docs/performance.md, "The sandbox's own setup").

Runs each contender (`NAME=COMMAND LINE`, split like a shell) once per round, in a rotating order,
and takes the CPU time (user + system) of each run from wait4(): the command and every process it
waited for, so for `cordon-run run -- /bin/true` the CLI, the outer shim, PID 1 and the task. Prints
the median and mean CPU ms per run, the wall p50, the ratio to the first contender, and the median
of the per-round differences to the first contender with a bootstrap 95% interval (runs of one
round are neighbours in time, so a loaded host's drift mostly cancels in their difference). Never
fails on timing.

  bench/sandbox_cpu.py --rounds 300 \\
      'main=/tmp/main/libexec/cordon/cordon-run run -- /bin/true' \\
      'new=build/libexec/cordon/cordon-run run -- /bin/true'

To compare two shims under one `cordon-run`, copy each beside a copy of the same `cordon-run`
(`libexec/cordon/cordon-run` finds `cordon-shim` in its own directory).
"""
import argparse
import os
import random
import shlex
import statistics
import time


def run_once(argv, devnull):
    t0 = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[
        (os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)])
    _, status, ru = os.wait4(pid, 0)
    wall = (time.perf_counter_ns() - t0) / 1e6
    return wall, (ru.ru_utime + ru.ru_stime) * 1000, os.waitstatus_to_exitcode(status)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("contenders", nargs="+", metavar="NAME=COMMAND")
    a = ap.parse_args()
    cs = []
    for c in a.contenders:
        name, _, cmd = c.partition("=")
        cs.append((name, shlex.split(cmd)))
    devnull = os.open(os.devnull, os.O_RDWR)
    for _ in range(a.warmup):
        for _, argv in cs:
            run_once(argv, devnull)
    cpu = {n: [] for n, _ in cs}
    wall = {n: [] for n, _ in cs}
    diff = {n: [] for n, _ in cs}
    failed = {n: 0 for n, _ in cs}
    for r in range(a.rounds):
        k = r % len(cs)
        this = {}
        for name, argv in cs[k:] + cs[:k]:
            w, c, rc = run_once(argv, devnull)
            if rc != 0:
                failed[name] += 1
                continue
            cpu[name].append(c)
            wall[name].append(w)
            this[name] = c
        first = cs[0][0]
        for name in this:
            if first in this:
                diff[name].append(this[name] - this[first])
    base = statistics.median(cpu[cs[0][0]])
    print(f"sandbox_cpu: {a.rounds} interleaved rounds, load average {os.getloadavg()[0]:.1f} at the end; "
          f"CPU = user + system of the command and all it waited for, ms per run")
    print(f"| {'contender':<16} | {'CPU p50':>8} | {'CPU mean':>8} | {'/first':>7} | "
          f"{'- first, per round (95%)':>26} | {'wall p50':>8} | failed")
    print(f"|{'-' * 18}|{'-' * 10}|{'-' * 10}|{'-' * 9}|{'-' * 28}|{'-' * 10}|-------")
    rng = random.Random(1)
    for name, _ in cs:
        m = statistics.median(cpu[name])
        d = diff[name]
        boot = sorted(statistics.median(rng.choices(d, k=len(d))) for _ in range(1000))
        dcell = f"{statistics.median(d):+.3f} ({boot[25]:+.3f} .. {boot[974]:+.3f})"
        print(f"| {name:<16} | {m:8.2f} | {statistics.mean(cpu[name]):8.2f} | {m / base:6.3f}x | {dcell:>26} | "
              f"{statistics.median(wall[name]):8.2f} | {failed[name]}")


if __name__ == "__main__":
    main()
