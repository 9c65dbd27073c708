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

`--throughput SECONDS` also runs each contender with `--workers` (default 2) back-to-back loops for
SECONDS each, contender after contender twice (A B C ... A B C), and prints tasks per second and the
ratio to bubblewrap's: the issue's sustained-throughput row for two builds side by side.

Each contender's CPU per run is printed too: user+sys of the whole process tree from wait4 (the
program and every descendant it reaped), which a loaded host inflates far less than the wall time,
with the median of its per-round differences to the first contender and their bootstrap 95%
interval (runs of one round are neighbours in time, so the host's drift mostly cancels). To
compare two shims under one `cordon run`, name each with CORDON_SHIM:
`'a=env CORDON_SHIM=/tmp/a/cordon-shim build/bin/cordon run -- /bin/true'`.

`--phases` also runs every `... cordon run ...` contender with `--evidence -` (interleaved the same
way, in rounds of their own) and prints the median of each phase of its evidence timeline
(`timing.*_us`, docs/evidence.md) and of the shim's setup steps that take longest, with "outside" =
wall time minus `done_us`: the process's start before `cordon run` reads its clock, and its exit.
"""
import argparse
import json
import os
import random
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
    _, status, ru = os.wait4(pid, 0)
    t1 = time.perf_counter_ns()
    # wait4's usage covers the program and every descendant it waited for (cordon run: the shim,
    # which reaped PID 1, which reaped the task): the CPU of the whole tree, load or not.
    run_once.usage = ((ru.ru_utime + ru.ru_stime) * 1000, ru.ru_minflt)
    return (t1 - t0) / 1e6, os.waitstatus_to_exitcode(status)


def run_evidence(argv, devnull):
    """One run with stdout on a pipe: (wall ms, exit code, the evidence record or None)."""
    r, w = os.pipe()
    t0 = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[
        (os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, w, 1), (os.POSIX_SPAWN_DUP2, devnull, 2),
        (os.POSIX_SPAWN_CLOSE, r)])
    os.close(w)
    out = b""
    while chunk := os.read(r, 65536):
        out += chunk
    os.close(r)
    _, status = os.waitpid(pid, 0)
    t1 = time.perf_counter_ns()
    try:
        ev = json.loads(out.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        ev = None
    return (t1 - t0) / 1e6, os.waitstatus_to_exitcode(status), ev


# Phases of a `cordon run` timeline: (label, start field, end field), in ms from the fields' us.
PHASES = [("admission (policy, filter, bindings)", "received_us", "admitted_us"),
          ("cgroup created", "admitted_us", "cgroup_us"),
          ("shim spawned (vfork+exec)", "cgroup_us", "spawned_us"),
          ("sandbox built (shim to ready)", "spawned_us", "ready_us"),
          ("task started (to its execve)", "ready_us", "exec_us"),
          ("task ran to exit", "exec_us", "exit_us"),
          ("teardown reported (done)", "exit_us", "done_us")]


def phases(cs, rounds, devnull):
    runs = [(n, argv[:2] + ["--evidence", "-"] + argv[2:]) for n, argv in cs
            if len(argv) > 2 and os.path.basename(argv[0]).startswith("cordon") and argv[1] == "run"]
    if not runs:
        print("ab_startup: --phases: no `cordon run` contender")
        return
    rows = {n: {} for n, _ in runs}
    for r in range(rounds):
        k = r % len(runs)
        for name, argv in runs[k:] + runs[:k]:
            ms, rc, ev = run_evidence(argv, devnull)
            if rc != 0 or not ev or "timing" not in ev:
                continue
            t = ev["timing"]
            d = rows[name]
            for label, a, b in PHASES:
                if a in t and b in t:
                    d.setdefault(label, []).append((t[b] - t[a]) / 1000)
            d.setdefault("outside: start before the clock, and exit", []).append(ms - t.get("done_us", 0) / 1000)
            d.setdefault("wall (with --evidence -)", []).append(ms)
            steps = t.get("steps", [])
            for i, st in enumerate(steps[:-1]):
                d.setdefault("  step " + st["step"], []).append((steps[i + 1]["start_us"] - st["start_us"]) / 1000)
    names = [n for n, _ in runs]
    print(f"ab_startup: phases, median ms over {rounds} interleaved rounds with --evidence -")
    print("| phase | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    labels = [p[0] for p in PHASES] + ["outside: start before the clock, and exit", "wall (with --evidence -)"]
    # The shim's steps that take longest (by the first contender), the others summed.
    step_labels = sorted((l for l in rows[names[0]] if l.startswith("  step ")),
                         key=lambda l: -statistics.median(rows[names[0]][l]))
    for label in labels + step_labels[:6]:
        cells = [f"{statistics.median(rows[n][label]):.2f}" if rows[n].get(label) else "-" for n in names]
        print(f"| {label} | " + " | ".join(cells) + " |")


def throughput(cs, seconds, workers, devnull):
    import threading
    rates = {n: [] for n, _ in cs}
    for _ in range(2):
        for name, argv in cs:
            count = [0] * workers
            stop = time.monotonic() + seconds

            def loop(i, argv=argv, stop=stop, count=count):
                while time.monotonic() < stop:
                    _, rc = run_once(argv, devnull)
                    if rc == 0:
                        count[i] += 1

            t0 = time.monotonic()
            ts = [threading.Thread(target=loop, args=(i,)) for i in range(workers)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            rates[name].append(sum(count) / (time.monotonic() - t0))
    bw = statistics.mean(rates["bwrap"]) if rates.get("bwrap") else 0
    print(f"ab_startup: throughput, {workers} workers back to back, {seconds:g} s per contender twice, "
          f"load average {os.getloadavg()[0]:.1f} at the end")
    print(f"| {'contender':<24} | {'tasks/s':>8} | {'/bwrap':>7}")
    for name, _ in cs:
        r = statistics.mean(rates[name])
        rb = f"{r / bw:6.2f}x" if bw else "    n/a"
        print(f"| {name:<24} | {r:8.1f} | {rb}")


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
    ap.add_argument("--throughput", type=float, default=0, metavar="SECONDS",
                    help="also measure tasks/s with --workers back-to-back loops, SECONDS per contender (twice)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--phases", action="store_true",
                    help="also print the median phases of each `cordon run` contender's evidence timeline")
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
    usage = {n: [] for n, _ in cs}
    cpu_diff = {n: [] for n, _ in cs}  # per round: this contender's CPU minus the first's
    failed = {n: 0 for n, _ in cs}
    for r in range(a.warmup + a.rounds):
        k = r % len(cs)
        this_round = {}
        for name, argv in cs[k:] + cs[:k]:  # rotate who goes first
            ms, rc = run_once(argv, devnull)
            if r < a.warmup:
                continue
            if rc != 0:
                failed[name] += 1
            else:
                times[name].append(ms)
                usage[name].append(run_once.usage)
                this_round[name] = run_once.usage[0]
        if cs[0][0] in this_round:
            for name, cpu in this_round.items():
                cpu_diff[name].append(cpu - this_round[cs[0][0]])
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
    print("ab_startup: CPU per run of the whole process tree (user+sys from wait4, less moved by the load than the wall time), "
          "and its minor page faults")
    print(f"| {'contender':<24} | {'CPU p50':>8} | {'CPU mean':>8} | {'/' + cs[0][0]:>9} | "
          f"{'- ' + cs[0][0] + ', per round (95%)':>30} | faults p50")
    print(f"|{'-' * 26}|{'-' * 10}|{'-' * 10}|{'-' * 11}|{'-' * 32}|-----------")
    cpu_first = statistics.median(u[0] for u in usage[cs[0][0]]) if usage[cs[0][0]] else 0
    rng = random.Random(1)
    for name, _ in cs:
        if not usage[name]:
            continue
        cpu = statistics.median(u[0] for u in usage[name])
        rf = f"{cpu / cpu_first:8.2f}x" if cpu_first else "      n/a"
        d = cpu_diff[name]
        if d:
            boot = sorted(statistics.median(rng.choices(d, k=len(d))) for _ in range(1000))
            dcell = f"{statistics.median(d):+.3f} ({boot[25]:+.3f} .. {boot[974]:+.3f})"
        else:
            dcell = "n/a"
        print(f"| {name:<24} | {cpu:8.2f} | {statistics.mean(u[0] for u in usage[name]):8.2f} | {rf} | {dcell:>30} | "
              f"{statistics.median(u[1] for u in usage[name]):.0f}")
    if a.phases:
        phases(cs, a.rounds, devnull)
    if a.throughput > 0:
        throughput(cs, a.throughput, a.workers, devnull)


if __name__ == "__main__":
    main()
