#!/usr/bin/env python3
"""cordond under load: submit latency against `cordon run` and a bare run, then N concurrent
sleeping tasks: is admission of the last ones as fast as the first, and what does each live task
cost the daemon (RSS, fds)? Numbers for people, never pass/fail.

  bench/daemon_load.py [--build build] [--tasks 1000] [--iterations 100] [--concurrent 200]

--concurrent N (0 skips it): N attached `cordon submit -- /bin/true` started at once, each timed
from its start to its exit (p50, p99), and the rate at which they all got through.

Runs as root (rootful, per-task uids) or as a user (rootless). Starts its own cordond on a
temporary socket and state dir with the shipped example configuration (as root) or a generated
one naming the current user (rootless), and shuts it down at the end (which ends every task)."""
import argparse, json, os, shutil, signal, statistics, subprocess, sys, tempfile, time

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

def concurrent_submits(cordon, env, n):
    """n attached submits at once: each one's wall time, and the whole batch's rate."""
    t0 = time.perf_counter()
    procs = []
    for _ in range(n):
        procs.append((time.perf_counter(), subprocess.Popen([cordon, "submit", "--", "/bin/true"], env=env,
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
    print(f"\n{n} concurrent attached submits of /bin/true ({failed} failed): "
          f"p50 {statistics.median(lat) / 1000:.2f} s, p99 {pct(lat, .99) / 1000:.2f} s, "
          f"all done in {total:.2f} s ({len(lat) / total:.1f} tasks/s)" if lat else f"\nall {n} submits failed")
    if first_err:
        print("  first failure:", first_err)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build"))
    ap.add_argument("--tasks", type=int, default=1000)
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--concurrent", type=int, default=200)
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    cordon, cordond = f"{build}/bin/cordon", f"{build}/bin/cordond"
    tmp = tempfile.mkdtemp(prefix="cordon-load-")
    os.chmod(tmp, 0o755)
    sock, state, config = f"{tmp}/cordond.sock", f"{tmp}/state", f"{tmp}/config"
    os.makedirs(config)
    if os.geteuid() == 0:
        shutil.copy(f"{build}/share/cordon/examples/principals.json", f"{config}/principals.json")
    else:
        import pwd
        me = pwd.getpwuid(os.geteuid()).pw_name
        json.dump({"version": 1, "roles": {"operator": {"policies": ["*"], "classes": ["interactive", "batch", "privileged"],
                   "manage_all_tasks": True}},
                   "principals": [{"name": me, "tenant": "local", "uids": [os.geteuid()], "roles": ["operator"]}]},
                  open(f"{config}/principals.json", "w"))
    env = dict(os.environ, CORDON_SOCKET=sock)
    d = subprocess.Popen([cordond, "--socket", sock, "--state-dir", state, "--config-dir", config,
                          "--grace-ms", "1000", "--max-tasks", str(max(a.tasks, a.concurrent) + 100)],
                         stdout=subprocess.DEVNULL, stderr=open(f"{tmp}/cordond.log", "w"))
    for _ in range(200):
        if os.path.exists(sock):
            break
        time.sleep(0.02)
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
        bare = statistics.median(rows[0][1])
        print(f"daemon_load: /bin/true, {a.iterations} iterations, wall ms per run (client process included)\n")
        print(f"| {'path':28} | {'p50':>7} | {'p95':>7} | {'p50/bare':>8} | ok |")
        print(f"|{'-'*30}|{'-'*9}|{'-'*9}|{'-'*10}|----|")
        for name, xs in rows:
            if xs:
                print(f"| {name:28} | {statistics.median(xs):7.2f} | {pct(xs, .95):7.2f} | {statistics.median(xs)/bare:7.2f}x | {len(xs)} |")

        if a.concurrent:
            concurrent_submits(cordon, env, a.concurrent)

        rss0, fds0 = proc_stats(d.pid)
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
        rss1, fds1 = proc_stats(d.pid)
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
        d.send_signal(signal.SIGTERM)
        try:
            d.wait(timeout=120)
        except subprocess.TimeoutExpired:
            d.kill()
        shutil.rmtree(tmp, ignore_errors=True)

if __name__ == "__main__":
    sys.exit(main())
