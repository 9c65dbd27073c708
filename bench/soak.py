#!/usr/bin/env python3
"""cordond soak: N tasks through one cordond, then what it holds before and after: its fds and
RSS, its task cgroups, its mount table, zombies, uid lease files, and the state database's size.
A leak shows as an "after" that grew with N. Numbers for people, never pass/fail (docs/daemon.md,
"Soak").

  bench/soak.py [--build build] [--tasks 10000] [--concurrency 8] [-- extra cordond flags...]

Starts its own cordond (temporary socket, state dir, config, and, as root, its own uid lease
directory, so that other cordond instances on the host do not blur the counts), submits the tasks
with `cordon submit` (attached: /bin/true, `exit 3`, `echo` in turn) from `--concurrency` threads,
waits for the daemon to settle and stops it with SIGTERM."""
import argparse, os, pwd, shutil, subprocess, sys, time

from cordond_bench import Cordond
from concurrent.futures import ThreadPoolExecutor

CGROUP_BASES = ["/sys/fs/cgroup/cordon.slice", "/sys/fs/cgroup/unified/cordon.slice", "/sys/fs/cgroup/memory/cordon.slice",
                "/sys/fs/cgroup/pids/cordon.slice", "/sys/fs/cgroup/blkio/cordon.slice",
                "/sys/fs/cgroup/cpuacct/cordon.slice", "/sys/fs/cgroup/freezer/cordon.slice"]


def owned_cgroups(pid):
    """Task cgroup directories whose owner mark (xattr user.cordon.owner) names `pid`, and all."""
    mine = total = 0
    for base in CGROUP_BASES:
        try:
            names = [n for n in os.listdir(base) if n.startswith("task-")]
        except OSError:
            continue
        for n in names:
            total += 1
            try:
                if int(os.getxattr(f"{base}/{n}", "user.cordon.owner").split()[0]) == pid:
                    mine += 1
            except (OSError, ValueError, IndexError):
                pass
    return mine, total


def zombies(parent):
    """Zombie children of `parent`, and zombies on the whole host."""
    mine = total = 0
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/status") as f:
                st = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        if st.get("State", "").strip().startswith("Z"):
            total += 1
            if int(st.get("PPid", "0")) == parent:
                mine += 1
    return mine, total


def snapshot(pid, state, leases):
    with open(f"/proc/{pid}/status") as f:
        rss_kb = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    with open(f"/proc/{pid}/mountinfo") as f:
        mounts = sum(1 for _ in f)
    cg_mine, cg_all = owned_cgroups(pid)
    z_mine, z_all = zombies(pid)
    db = sum(os.path.getsize(f"{state}/{n}") for n in os.listdir(state) if n.startswith("state.db"))
    return {
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "rss_kib": rss_kb,
        "cgroups (this cordond's)": cg_mine,
        "cgroups (all task-*)": cg_all,
        "mounts (cordond's namespace)": mounts,
        "zombies (cordond's children)": z_mine,
        "zombies (host)": z_all,
        "uid lease files": len(os.listdir(leases)) if leases and os.path.isdir(leases) else 0,
        "database bytes (state.db*)": db,
        "tasks in database": int(subprocess.run(["python3", "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]);"
                                                 "print(c.execute('select count(*) from tasks').fetchone()[0])",
                                                 f"{state}/state.db"], capture_output=True, text=True).stdout or 0),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build"))
    ap.add_argument("--tasks", type=int, default=10000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("extra", nargs="*", help="more cordond flags, after --")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    # Its own uid lease directory as root, so that other cordond instances do not blur the counts.
    me = pwd.getpwuid(os.geteuid()).pw_name
    d = Cordond(build, "cordon-soak-", a.extra, own_leases=True,
                principals={"version": 1, "roles": {"operator": {"policies": ["*"], "classes": ["interactive", "batch"]}},
                            "principals": [{"name": me, "tenant": "local", "uids": [os.geteuid()], "roles": ["operator"]}]})
    cordon, env, state, leases = d.cordon, d.env, d.state, d.leases
    cmds = [["/bin/true"], ["/bin/sh", "-c", "exit 3"], ["/bin/echo", "soak"]]
    try:
        subprocess.run([cordon, "submit", "--", "/bin/true"], env=env, check=True, stdout=subprocess.DEVNULL)
        time.sleep(2)  # the warm pool refills
        before = snapshot(d.proc.pid, state, leases)
        failures = []

        def one(i):
            want = [0, 3, 0][i % 3]
            try:
                r = subprocess.run([cordon, "submit", "--"] + cmds[i % 3], env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
            except OSError as e:  # the client could not start (e.g. the binary is being relinked)
                failures.append(f"task {i}: {e}")
                return
            if r.returncode != want:
                failures.append(f"task {i}: exit {r.returncode}: {r.stderr.strip()}")

        t0 = time.monotonic()
        with ThreadPoolExecutor(a.concurrency) as ex:
            for done, _ in enumerate(ex.map(one, range(a.tasks)), 1):
                if done % 1000 == 0:
                    print(f"  {done} tasks, {done / (time.monotonic() - t0):.0f}/s", file=sys.stderr, flush=True)
        wall = time.monotonic() - t0
        time.sleep(3)  # the last tasks' clean-up, and the pool refills
        after = snapshot(d.proc.pid, state, leases)
    finally:
        d.stop(keep_dir=True)  # removed below, once the numbers are printed
    print(f"cordond soak: {a.tasks} tasks ({'rootful' if os.geteuid() == 0 else 'rootless'}, "
          f"{a.concurrency} at a time, cordond {' '.join(a.extra) or 'defaults'}) in {wall:.0f} s, "
          f"{a.tasks / wall:.0f} tasks/s, {len(failures)} unexpected exit codes")
    for f in failures[:5]:
        print("  " + f)
    print(f"| {'':30} | {'before':>12} | {'after':>12} |")
    print(f"|{'-' * 32}|{'-' * 14}|{'-' * 14}|")
    for k in before:
        print(f"| {k:30} | {before[k]:>12} | {after[k]:>12} |")
    shutil.rmtree(d.tmp, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
