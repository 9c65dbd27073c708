#!/usr/bin/env python3
"""Where a pooled task's CPU goes (docs/performance.md "The pool's CPU"): cordond's CPU per pooled
task, split by thread (the loop, the sandbox builder, the rest), and the CPU of the sandbox's own
processes (the outer shim, PID 1 and the task, reaped by cordond: its cutime+cstime), for one or
more builds side by side, round by round, so that a loaded host's drift hits each build alike.

  bench/pool_cpu.py [--rounds N] [--tasks N] [--workers 1|2] [--pace-ms MS] [NAME=BUILD_DIR ...]

Each round starts one cordond per build (--pool-size 2), runs --tasks tasks of /bin/true through
it on connected clients (Submit + Wait over the API), and reads /proc before and after (p50 and p99 are of the
Submit + Wait latency). Default: one build, ./build. Prints medians over the rounds; a number for people, never pass/fail."""
import argparse, os, statistics, struct, sys, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cordond_bench as cb  # noqa: E402

TICK_MS = 1000.0 / os.sysconf("SC_CLK_TCK")


def field(payload, want):
    """The first length-delimited field `want` of a protobuf message, or None."""
    i = 0
    while i < len(payload):
        key, i = cb._read_varint(payload, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            _, i = cb._read_varint(payload, i)
        elif wire == 2:
            n, i = cb._read_varint(payload, i)
            if num == want:
                return payload[i:i + n]
            i += n
        elif wire == 5:
            i += 4
        elif wire == 1:
            i += 8
        else:
            return None
    return None


class Client(cb.RawClient):
    def raw(self, req):
        self.s.sendall(struct.pack("<I", len(req)) + req)
        (n,) = struct.unpack("<I", self._recv(4))
        return self._recv(n)

    def submit_wait(self, argv):
        self.next_id += 1
        sub = field(self.raw(cb.submit_request(self.next_id, argv)), 10)
        if sub is None:
            raise RuntimeError("Submit refused")
        task_id = field(field(sub, 1), 1)
        self.next_id += 1
        done = field(self.raw(cb._varint(1 << 3) + cb._varint(self.next_id) + cb._field(11, cb._field(1, task_id))), 11)
        if done is None:
            raise RuntimeError("Wait failed")


def ticks(path, first):
    """utime+stime (fields 14, 15), or with first=15, cutime+cstime (16, 17), of a /proc stat file."""
    s = open(path).read()
    f = s[s.rfind(")") + 2:].split()
    return int(f[first - 3]) + int(f[first - 2])


def threads(pid):
    """{tid: utime+stime ticks} of every thread of pid."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            out[int(tid)] = ticks(f"/proc/{pid}/task/{tid}/stat", 14)
        except OSError:
            pass
    return out


def builder_tid(pid):
    """The sandbox builder's thread: the parent of the pooled sandboxes' shims, which wait for
    their tasks (/proc/PID/task/TID/children)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            if int(tid) != pid and open(f"/proc/{pid}/task/{tid}/children").read().strip():
                return int(tid)
        except OSError:
            pass
    return None


def one_round(build, a):
    d = cb.Cordond(build, "/tmp/cordon-poolcpu-", extra=["--pool-size", "2"])
    try:
        pid = d.proc.pid
        Client(d.sock).submit_wait(["/bin/true"])  # the pool is built and used once: every thread has run
        time.sleep(0.3)
        builder = builder_tid(pid)
        lat = []
        clients = [Client(d.sock) for _ in range(a.workers)]
        before, kids0 = threads(pid), ticks(f"/proc/{pid}/stat", 16)
        start = time.perf_counter()

        def work(cl, n):
            for _ in range(n):
                t = time.perf_counter()
                cl.submit_wait(["/bin/true"])
                lat.append((time.perf_counter() - t) * 1000)
                if a.pace_ms:
                    time.sleep(a.pace_ms / 1000)

        ws = [threading.Thread(target=work, args=(cl, a.tasks // a.workers)) for cl in clients]
        for w in ws:
            w.start()
        for w in ws:
            w.join()
        wall = time.perf_counter() - start
        time.sleep(0.3)  # the last rebuild and the last shims' reaping
        after, kids1 = threads(pid), ticks(f"/proc/{pid}/stat", 16)
        n = len(lat)
        per = lambda ticks_: ticks_ * TICK_MS / n  # noqa: E731
        loop = per(after.get(pid, 0) - before.get(pid, 0))
        bld = per(after.get(builder, 0) - before.get(builder, 0)) if builder else 0.0
        total = per(sum(after.values()) - sum(before.values()))
        return {"cordond": total, "loop": loop, "builder": bld, "other threads": total - loop - bld,
                "sandbox processes": per(kids1 - kids0), "p50 ms": statistics.median(lat),
                "p99 ms": statistics.quantiles(lat, n=100)[98], "tasks/s": n / wall}
    finally:
        d.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tasks", type=int, default=200)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--pace-ms", type=float, default=20.0, help="pause after each task (default 20: the pool keeps up)")
    ap.add_argument("builds", nargs="*", help="NAME=BUILD_DIR (default: this=build)")
    a = ap.parse_args()
    builds = [b.split("=", 1) for b in a.builds] or [["this", "build"]]
    res = {name: [] for name, _ in builds}
    for r in range(a.rounds):
        order = builds[r % len(builds):] + builds[:r % len(builds)]
        for name, path in order:
            res[name].append(one_round(path, a))
    keys = ["cordond", "loop", "builder", "other threads", "sandbox processes", "p50 ms", "p99 ms", "tasks/s"]
    print(f"pooled /bin/true, {a.tasks} tasks x {a.rounds} rounds, {a.workers} worker(s), pace {a.pace_ms:g} ms; "
          f"medians; CPU in ms per task; load average {os.getloadavg()[0]:.1f}")
    print(f"| {'build':<12} | " + " | ".join(f"{k:>17}" for k in keys) + " |")
    print("|" + "-" * 14 + "|" + "|".join("-" * 19 for _ in keys) + "|")
    for name, _ in builds:
        med = {k: statistics.median(x[k] for x in res[name]) for k in keys}
        print(f"| {name:<12} | " + " | ".join(f"{med[k]:>17.2f}" for k in keys) + " |")


if __name__ == "__main__":
    main()
