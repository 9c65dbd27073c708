#!/usr/bin/env python3
"""cordond under load: submit latency against `cordon run` and a bare run, then N concurrent
sleeping tasks: is admission of the last ones as fast as the first, and what does each live task
cost the daemon (RSS, fds)? Numbers for people, never pass/fail.

  bench/daemon_load.py [--build build] [--tasks 1000] [--iterations 100] [--concurrent 200]
                       [--flood 4] [--baseline-cordond PATH]

--concurrent N (0 skips it): N attached `cordon submit -- /bin/true` started at once, each timed
from its start to its exit (p50, p99), and the rate at which they all got through; in the same
run, N one-shot `cordon run -- /bin/true` started at once, the baseline (no daemon in the way),
and the ratio of the two.

--flood N (0 skips it): an idle client's calls (a List, a cold Submit of /bin/true, over a
connection of its own: raw frames, no CLI start-up) timed alone and while N connections submit
cold tasks back to back (as root, as user nobody: another tenant), on a
cordond without a warm pool: p50 idle, p50 during the flood, and their ratio. With
--baseline-cordond PATH (another build's cordond, e.g. one copied to build/bin/cordond.before so
that it finds the same shim), the same runs against it first, printed side by side.

Runs as root (rootful, per-task uids) or as a user (rootless). Starts its own cordond on a
temporary socket and state dir with a configuration naming the current user (bench/cordond_bench.py),
and shuts it down at the end (which ends every task)."""
import argparse, os, statistics, subprocess, sys, threading, time

from cordond_bench import Cordond, RawClient, list_request, nobody, submit_request

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * (len(xs) - 1) + 0.5))]

def timed(argv, env=None):
    t = time.perf_counter()
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    return (time.perf_counter() - t) * 1000, r

def proc_stats(pid):
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd"))

def concurrent_runs(argv, env, n, what):
    """n copies of argv at once: each one's wall time, and the whole batch's rate (tasks/s), printed."""
    t0 = time.perf_counter()
    procs = []
    for _ in range(n):
        procs.append((time.perf_counter(), subprocess.Popen(argv, env=env,
                                                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)))
    lat, failed, first_err = [], 0, ""
    pending = list(procs)
    while pending:
        still = []
        for start, p in pending:
            if p.poll() is None:
                still.append((start, p))
                continue
            if p.returncode == 0:
                lat.append((time.perf_counter() - start) * 1000)
            else:
                failed += 1
                first_err = first_err or p.stderr.read().decode(errors="replace").strip()[:300]
            p.stderr.close()
        pending = still
        time.sleep(0.002)
    total = time.perf_counter() - t0
    print(f"\n{n} concurrent {what} of /bin/true ({failed} failed): "
          f"p50 {statistics.median(lat) / 1000:.2f} s, p99 {pct(lat, .99) / 1000:.2f} s, "
          f"all done in {total:.2f} s ({len(lat) / total:.1f} tasks/s)" if lat else f"\nall {n} {what} failed")
    if first_err:
        print("  first failure:", first_err)
    return (statistics.median(lat) if lat else float("nan")), (len(lat) / total)

def concurrent_submits(cordon, env, n):
    """n attached submits at once, against n one-shot runs at once in the same run (the baseline)."""
    run_p50, run_rate = concurrent_runs([cordon, "run", "--", "/bin/true"], None, n, "one-shot runs (baseline)")
    sub_p50, sub_rate = concurrent_runs([cordon, "submit", "--", "/bin/true"], env, n, "attached submits")
    print(f"  submit/run: p50 {sub_p50 / run_p50:.2f}x, rate {sub_rate / run_rate:.2f}x")

def idle_calls(sock, n):
    """p50 ms of a List and of a cold Submit of /bin/true (answered once started), n of each, on one
    connection of our own (raw frames: no CLI start-up in the figure)."""
    c = RawClient(sock)
    ps, sub = [], []
    try:
        for _ in range(n):
            ms, ok = c.call(list_request)
            if ok:
                ps.append(ms)
            ms, ok = c.call(lambda i: submit_request(i, ["/bin/true"]))
            if ok:
                sub.append(ms)
    finally:
        c.close()
    return (statistics.median(ps) if ps else float("nan"), statistics.median(sub) if sub else float("nan"))

def flooder(sock, conns, stop_r, report_w):
    """In a child process (as user nobody when we are root): `conns` connections, each sending its
    next cold Submit as soon as the last is answered, until stop_r is readable; then reports how
    many were admitted."""
    other = nobody()
    if other:
        os.setgroups([])
        os.setresgid(other.pw_gid, other.pw_gid, other.pw_gid)
        os.setresuid(other.pw_uid, other.pw_uid, other.pw_uid)
    stop, admitted = threading.Event(), [0] * conns

    def one(k):
        c = RawClient(sock)
        while not stop.is_set():
            _, ok = c.call(lambda i: submit_request(i, ["/bin/true"]))
            admitted[k] += ok
        c.close()
    threads = [threading.Thread(target=one, args=(k,)) for k in range(conns)]
    for t in threads:
        t.start()
    os.read(stop_r, 1)
    stop.set()
    for t in threads:
        t.join()
    os.write(report_w, str(sum(admitted)).encode())
    os._exit(0)

def flood_run(build, cordond, conns, n):
    """Idle p50s, then p50s during a flood of `conns` back-to-back cold submitters, on one cordond."""
    d = Cordond(build, "cordon-flood-", ["--pool-size", "0"], cordond=cordond)
    try:
        idle = idle_calls(d.sock, n)
        stop_r, stop_w = os.pipe()
        report_r, report_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            flooder(d.sock, conns, stop_r, report_w)
        os.close(report_w)
        time.sleep(0.5)  # under way
        t0 = time.perf_counter()
        busy = idle_calls(d.sock, n)
        secs = time.perf_counter() - t0 + 0.5
        os.write(stop_w, b"s")
        rate = int(os.read(report_r, 64) or b"0") / secs
        os.waitpid(pid, 0)
        after = idle_calls(d.sock, n)
    finally:
        d.stop()
    return idle, busy, after, rate

def flood(build, baseline, conns, n):
    runs = []
    if baseline:
        runs.append(("baseline " + os.path.basename(baseline), flood_run(build, baseline, conns, n)))
    runs.append(("this build", flood_run(build, None, conns, n)))
    who = "user nobody (another tenant)" if nobody() else "the same user (rootless: one uid)"
    print(f"\nan idle client's calls while {conns} clients of {who} submit cold tasks back to back "
          f"(--pool-size 0), p50 of {n} each, ms\n")
    head = "".join(f" {name[:27]:>27} |" for name, _ in runs)
    print(f"| {'call':20} |{head}")
    print(f"|{'-' * 22}|" + f"{'-' * 29}|" * len(runs))
    for i, call in enumerate(["List", "Submit (cold)"]):
        for label, pick in [("idle", lambda r: r[0][i]), ("during the flood", lambda r: r[1][i]),
                            ("idle after", lambda r: r[2][i])]:
            cells = "".join(f" {pick(r):27.1f} |" for _, r in runs)
            print(f"| {call + ' ' + label:20} |{cells}")
        ratio = "".join(f" {r[1][i] / max(r[0][i], r[2][i]):26.2f}x |" for _, r in runs)
        print(f"| {call + ' flood/idle':20} |{ratio}")
    rates = "".join(f" {r[3]:27.1f} |" for _, r in runs)
    print(f"| {'flood admitted/s':20} |{rates}")

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build"))
    ap.add_argument("--tasks", type=int, default=1000)
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--concurrent", type=int, default=200)
    ap.add_argument("--flood", type=int, default=4)
    ap.add_argument("--flood-calls", type=int, default=15)
    ap.add_argument("--baseline-cordond", default="")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    cordon = f"{build}/bin/cordon"
    if a.flood:
        flood(build, a.baseline_cordond, a.flood, a.flood_calls)
    if a.tasks == 0 and a.iterations == 0 and a.concurrent == 0:
        return 0
    d = Cordond(build, "cordon-load-", ["--max-tasks", str(max(a.tasks, a.concurrent) + 100)])
    env = d.env
    try:
        rows = []
        for name, argv, e in [("bare fork+exec+wait", ["/bin/true"], None),
                              ("cordon run (one-shot)", [cordon, "run", "--", "/bin/true"], None),
                              ("cordon submit via cordond", [cordon, "submit", "--", "/bin/true"], env)]:
            xs = []
            for _ in range(a.iterations):
                ms, r = timed(argv, e)
                if r.returncode == 0:
                    xs.append(ms)
            rows.append((name, xs))
        bare = statistics.median(rows[0][1]) if rows[0][1] else float("nan")
        if a.iterations:
            print(f"daemon_load: /bin/true, {a.iterations} iterations, wall ms per run (client process included)\n")
            print(f"| {'path':28} | {'p50':>7} | {'p95':>7} | {'p50/bare':>8} | ok |")
            print(f"|{'-'*30}|{'-'*9}|{'-'*9}|{'-'*10}|----|")
        for name, xs in rows:
            if xs:
                print(f"| {name:28} | {statistics.median(xs):7.2f} | {pct(xs, .95):7.2f} | {statistics.median(xs)/bare:7.2f}x | {len(xs)} |")

        if a.concurrent:
            concurrent_submits(cordon, env, a.concurrent)
        if a.tasks == 0:
            return 0

        rss0, fds0 = proc_stats(d.proc.pid)
        lat, failed = [], 0
        for i in range(a.tasks):
            ms, r = timed([cordon, "submit", "--detach", "--", "sleep", "600"], env)
            if r.returncode != 0:
                failed += 1
                if failed == 1:
                    print("\nfirst failed submit:", r.stderr.decode(errors="replace").strip()[:300])
                if failed > 20:
                    break
                continue
            lat.append(ms)
        time.sleep(1)
        rss1, fds1 = proc_stats(d.proc.pid)
        live = len(lat)
        first, last = lat[:100], lat[-100:]
        print(f"\n{live} concurrent sleeping tasks ({failed} submits failed)")
        if first and last:
            print(f"  admission (submit --detach) p50: first 100 {statistics.median(first):.2f} ms, "
                  f"last 100 {statistics.median(last):.2f} ms (ratio {statistics.median(last)/statistics.median(first):.2f})")
        if live:
            print(f"  cordond RSS {rss0} KiB -> {rss1} KiB: {(rss1 - rss0) / live:.1f} KiB per live task")
            print(f"  cordond fds {fds0} -> {fds1}: {(fds1 - fds0) / live:.1f} per live task")
    finally:
        d.stop()

if __name__ == "__main__":
    sys.exit(main())
