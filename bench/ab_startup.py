#!/usr/bin/env python3
"""Side-by-side start-up A/B (docs/performance.md "Bisecting a start-up change").

Runs several commands interleaved, round by round (one run of each per round, in a rotating order),
so that a loaded host's drift hits every contender alike, and prints p50/p95/p99 wall ms per
contender with its ratio to the first one and to a contender named `bwrap` when there is one. Each
contender is `NAME=COMMAND LINE` (split like a shell, no shell involved). Never fails on timing.

  bench/ab_startup.py --rounds 200 \
      'bare=/bin/true' 'before=/tmp/old/build/bin/cordon run -- /bin/true' \
      'after=build/bin/cordon run -- /bin/true' \
      'bwrap=bwrap --unshare-all --die-with-parent --ro-bind /usr /usr --symlink usr/lib64 /lib64 ... /bin/true'

`--bwrap` adds the same bubblewrap row as cordon-bench's, `--bare` a bare /bin/true row.
"""
import argparse
import os
import shlex
import statistics
import sys
import time

BWRAP = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--ro-bind", "/usr", "/usr",
         "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
         "--symlink", "usr/sbin", "/sbin", "--ro-bind", "/etc/alternatives", "/etc/alternatives",
         "--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache", "--proc", "/proc", "--dev", "/dev",
         "--tmpfs", "/tmp", "--"]


def run_once(argv, devnull):
    t0 = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[
        (os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)])
    _, status = os.waitpid(pid, 0)
    t1 = time.perf_counter_ns()
    return (t1 - t0) / 1e6, os.waitstatus_to_exitcode(status)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--bwrap", action="store_true", help="add bubblewrap --unshare-all running the program of --program")
    ap.add_argument("--bare", action="store_true", help="add the bare program of --program")
    ap.add_argument("--program", default="/bin/true", help="program for --bwrap/--bare (split like a shell)")
    ap.add_argument("contenders", nargs="*", metavar="NAME=COMMAND")
    a = ap.parse_args()
    cs = []
    prog = shlex.split(a.program)
    if a.bare:
        cs.append(("bare", prog))
    for c in a.contenders:
        name, eq, cmd = c.partition("=")
        if not eq or not cmd.strip():
            sys.exit(f"ab_startup: '{c}' is not NAME=COMMAND; write e.g. 'after=build/bin/cordon run -- /bin/true'")
        argv = shlex.split(cmd)
        if "/" in argv[0] and not os.access(argv[0], os.X_OK):
            sys.exit(f"ab_startup: '{argv[0]}' of contender '{name}' is not an executable file; check the path")
        if "/" not in argv[0]:
            found = [os.path.join(d, argv[0]) for d in os.environ.get("PATH", "").split(":")
                     if os.access(os.path.join(d, argv[0]), os.X_OK)]
            if not found:
                sys.exit(f"ab_startup: '{argv[0]}' of contender '{name}' is not on PATH; give its path")
            argv[0] = found[0]
        cs.append((name, argv))
    if a.bwrap:
        bw = [d + "/bwrap" for d in os.environ.get("PATH", "").split(":") if os.access(d + "/bwrap", os.X_OK)]
        if bw:
            cs.append(("bwrap", [bw[0]] + BWRAP[1:] + prog))
        else:
            print("ab_startup: bubblewrap is not installed; its row is left out")
    if not cs:
        sys.exit("ab_startup: no contender; name at least one as NAME=COMMAND (or --bare/--bwrap)")
    devnull = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
    times = {n: [] for n, _ in cs}
    failed = {n: 0 for n, _ in cs}
    for r in range(a.warmup + a.rounds):
        k = r % len(cs)
        for name, argv in cs[k:] + cs[:k]:  # rotate who goes first
            ms, rc = run_once(argv, devnull)
            if r < a.warmup:
                continue
            if rc != 0:
                failed[name] += 1
            else:
                times[name].append(ms)
    load = os.getloadavg()[0]
    print(f"ab_startup: {a.rounds} interleaved rounds, load average {load:.1f} at the end; wall ms per run")
    first = statistics.median(times[cs[0][0]]) if times[cs[0][0]] else 0
    bw = statistics.median(times["bwrap"]) if times.get("bwrap") else 0
    print(f"| {'contender':<24} | {'p50':>7} | {'p95':>7} | {'p99':>7} | {'/' + cs[0][0]:>9} | {'/bwrap':>7} | failed")
    print(f"|{'-' * 26}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 11}|{'-' * 9}|-------")
    for name, _ in cs:
        xs = times[name]
        if not xs:
            print(f"| {name:<24} | every run failed ({failed[name]})")
            continue
        p50 = statistics.median(xs)
        rb = f"{p50 / bw:6.2f}x" if bw else "    n/a"
        rf = f"{p50 / first:8.2f}x" if first else "      n/a"
        print(f"| {name:<24} | {p50:7.2f} | {pct(xs, 95):7.2f} | {pct(xs, 99):7.2f} | {rf} | {rb} | {failed[name]}")


if __name__ == "__main__":
    main()
