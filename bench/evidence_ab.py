#!/usr/bin/env python3
"""What the tamper-evident evidence log costs cordond (docs/evidence.md "Cost"): two cordonds of
the same build side by side, one with the log (`--evidence-log on`, the default) and one without
(`--evidence-log off`; redaction and the artifact hash apply in both), measured in the same run,
alternating A/B so that the machine's load drifts over both alike. Numbers for people, never
pass/fail.

  submit-to-exit   a pooled `/bin/true`: Submit (detached) then Wait, over a raw connection (no
                   CLI start-up), from the Submit's first byte to the Wait's answer, which comes
                   once the task's record is stored (and, with the log, appended). Only tasks the
                   evidence says ran in a pooled sandbox count. p50, p95, and on/off ratios.
  records/s        refused Submits (a policy nobody may use), alternated one by one between the two
                   daemons: each is one decision, a database row (synced before the answer) and,
                   with the log, one log record. p50, p95 and refusals per second of call time.

  loop CPU         the CPU time cordond's event loop (its main thread, /proc/PID/task/PID/schedstat,
                   in ns) spent per pooled task and per refusal, and all its threads together:
                   less sensitive to the machine's load than the wall-clock rows, since a loaded
                   host delays the loop but does not make it run longer. Per task it is read per
                   round (one task and the pause after it, both daemons in the same round), so the
                   on - off difference is paired by round: its median, and a bootstrap 95% interval.

  noise            every on - off difference comes with a bootstrap 95% interval (2000 resamples,
                   fixed seed): for the p50s, the samples of each side resampled; for the loop CPU,
                   the rounds' paired differences. The last lines say whether the issue's bound
                   (sealing and redaction add at most 0.3 ms p50 to a pooled task) is shown: the
                   interval's upper end at or under 0.3 ms, and the interval no wider than 0.6 ms
                   (a wider one cannot tell 0.3 ms from nothing, whichever side it lies on).

  bench/evidence_ab.py [--build build] [--baseline-build OTHER] [--rounds 100] [--refusals 2000]

  --baseline-build runs a second build's on/off pair in the same rounds (four daemons, each first
  in turn), so a change to the log's cost is measured against the build before it, same load.
"""
import argparse, os, random, statistics, struct, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cordond_bench import Cordond, RawClient, _field, _varint, _read_varint  # noqa: E402


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * (len(xs) - 1) + 0.5))]


def p50_diff_ci(on, off, n=2000, seed=15):
    """(p50(on) - p50(off), its bootstrap 95% interval): each side's samples resampled."""
    rnd = random.Random(seed)
    d = sorted(pct(rnd.choices(on, k=len(on)), 0.5) - pct(rnd.choices(off, k=len(off)), 0.5) for _ in range(n))
    return pct(on, 0.5) - pct(off, 0.5), d[int(0.025 * n)], d[int(0.975 * n) - 1]


def median_ci(xs, n=2000, seed=15):
    """(median of xs, its bootstrap 95% interval)."""
    rnd = random.Random(seed)
    d = sorted(statistics.median(rnd.choices(xs, k=len(xs))) for _ in range(n))
    return statistics.median(xs), d[int(0.025 * n)], d[int(0.975 * n) - 1]


def verdict(lo, hi, bound=0.3):
    """Whether a 95% interval [lo, hi] (ms) shows the difference is at most `bound`. An interval
    wider than 2 x bound cannot tell a difference of `bound` from none (at a high load the wall
    p50s of two identical daemons drift apart by ms): it shows nothing either way, even when it
    lies below the bound."""
    if hi - lo > 2 * bound:
        return "not resolved by this run (95%% interval %+.3f .. %+.3f ms is wider than 2 x %.1f ms): " \
               "more rounds, a quieter host" % (lo, hi, bound)
    if hi <= bound:
        return "shown (95%% interval %+.3f .. %+.3f ms, its upper end <= %.1f ms)" % (lo, hi, bound)
    if lo > bound:
        return "NOT met (95%% interval %+.3f .. %+.3f ms, its lower end > %.1f ms)" % (lo, hi, bound)
    return "not resolved by this run (95%% interval %+.3f .. %+.3f ms straddles %.1f ms)" % (lo, hi, bound)


def cpu_ns(pid):
    """(the main thread's, all live threads') CPU time in ns, from schedstat."""
    def one(tid):
        try:
            return int(open("/proc/%d/task/%d/schedstat" % (pid, tid)).read().split()[0])
        except OSError:
            return 0
    tids = [int(t) for t in os.listdir("/proc/%d/task" % pid)]
    return one(pid), sum(one(t) for t in tids)


def fields(payload):
    """Top-level length-delimited fields of a message: {number: [bytes, ...]}."""
    out, i = {}, 0
    while i < len(payload):
        key, i = _read_varint(payload, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            _, i = _read_varint(payload, i)
        elif wire == 2:
            n, i = _read_varint(payload, i)
            out.setdefault(num, []).append(payload[i:i + n])
            i += n
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            raise ValueError("wire type %d" % wire)
    return out


class Client(RawClient):
    def raw(self, req_body):
        self.next_id += 1
        req = _varint(1 << 3) + _varint(self.next_id) + req_body
        self.s.sendall(struct.pack("<I", len(req)) + req)
        (n,) = struct.unpack("<I", self._recv(4))
        return fields(self._recv(n))

    def submit_to_exit(self, argv, policy=None):
        """ms from the Submit to the Wait's answer, and the task id."""
        body = b"".join(_field(5, a.encode()) for a in argv)
        if policy:
            body += _field(4, policy.encode())
        t = time.perf_counter()
        resp = self.raw(_field(10, body))
        if 2 in resp:
            raise RuntimeError("submit refused: %r" % resp[2])
        task_id = fields(fields(resp[10][0])[1][0])[1][0]
        w = self.raw(_field(11, _field(1, task_id)))
        ms = (time.perf_counter() - t) * 1000
        if 2 in w:
            raise RuntimeError("wait failed: %r" % w[2])
        return ms, task_id

    def pooled(self, task_id):
        ev = self.raw(_field(15, _field(1, task_id)))
        text = fields(ev[15][0]).get(2, [b""])[0]
        return b'"pooled":true' in text

    def refused(self):
        resp = self.raw(_field(10, _field(5, b"/bin/true") + _field(4, b"no-such-policy")))
        return 2 in resp


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--baseline-build", default=None,
                    help="another build (e.g. before a change): its on/off pair runs in the same rounds")
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--refusals", type=int, default=2000)
    ap.add_argument("--pause-ms", type=int, default=250, help="between rounds: the pool refills")
    a = ap.parse_args()
    builds = [("", a.build)] + ([("base ", a.baseline_build)] if a.baseline_build else [])
    daemons = {}
    for label, build in builds:
        daemons[label + "on"] = Cordond(build, "cordon-evab-on-", ["--pool-size", "2"])
        daemons[label + "off"] = Cordond(build, "cordon-evab-off-", ["--pool-size", "2", "--evidence-log", "off"])
    keys = list(daemons)
    try:
        clients = {k: Client(d.sock) for k, d in daemons.items()}
        time.sleep(1.0)  # the pools fill
        for k in daemons:  # warm-up: the artifact hash cache, the policy record, page cache
            for _ in range(3):
                clients[k].submit_to_exit(["/bin/true"])
                time.sleep(a.pause_ms / 1000)
        samples = {k: [] for k in keys}
        paired = {k: [] for k in keys}  # per round: ms, or None for a cold start
        cold = {k: 0 for k in keys}
        # Loop CPU read at every round's start: round r's delta is its task and the pause after it.
        marks = [{k: cpu_ns(d.proc.pid) for k, d in daemons.items()}]
        for r in range(a.rounds):
            # Each daemon first in turn, and every pair in both orders: the second task of a round
            # runs beside the first daemon's pool refill (a sandbox build, ~12 ms of CPU on 2 cores).
            # (Rotating by r and reversing on odd r, as before, put the same daemon first in every
            # round with two daemons: the log-off one always ran beside the other's refill.)
            n = len(keys)
            order = keys[r % n:] + keys[:r % n]
            if (r // n) % 2:
                order.reverse()
            for k in order:
                ms, tid = clients[k].submit_to_exit(["/bin/true"])
                if clients[k].pooled(tid):
                    samples[k].append(ms)
                    paired[k].append(ms)
                else:
                    cold[k] += 1
                    paired[k].append(None)
            time.sleep(a.pause_ms / 1000)
            marks.append({k: cpu_ns(d.proc.pid) for k, d in daemons.items()})
        cpu0, cpu1 = marks[0], marks[-1]
        lat = {k: [] for k in keys}
        cpu2 = {k: cpu_ns(d.proc.pid) for k, d in daemons.items()}
        for i in range(a.refusals):
            order = keys if i % 2 == 0 else keys[::-1]
            for k in order:
                t = time.perf_counter()
                if not clients[k].refused():
                    print("  %s: a submit of a policy nobody may use was not refused" % k)
                lat[k].append((time.perf_counter() - t) * 1000)
        cpu3 = {k: cpu_ns(d.proc.pid) for k, d in daemons.items()}
        rates = {k: len(v) / (sum(v) / 1000) for k, v in lat.items()}

        print("evidence log A/B (same run; pooled /bin/true, submit to exit over a raw connection; %d rounds, "
              "load average %.1f)" % (a.rounds, os.getloadavg()[0]))
        summary = []
        for label, build in builds:
            on, off = label + "on", label + "off"
            print("%s%s: log on vs log off" % ("baseline " if label else "", build))
            print("  %-32s %10s %10s %10s" % ("", "log on", "log off", "on/off"))

            def row(name, x, y, extra=""):
                print("  %-32s %10.3f %10.3f %10.2f%s" % (name, x, y, x / y if y else float("nan"), extra))
            d50, lo50, hi50 = p50_diff_ci(samples[on], samples[off])
            row("p50 ms", pct(samples[on], 0.5), pct(samples[off], 0.5),
                "   (on - off: %+.3f ms, 95%% %+.3f .. %+.3f)" % (d50, lo50, hi50))
            row("p95 ms", pct(samples[on], 0.95), pct(samples[off], 0.95))
            pairs = [x - y for x, y in zip(paired[on], paired[off]) if x is not None and y is not None]
            if len(pairs) >= 5:
                dm, lom, him = median_ci(pairs)
                print("  %-32s %+10.3f ms   (95%% %+.3f .. %+.3f; the same round's two tasks)" %
                      ("median of on - off, paired", dm, lom, him))
            print("  %-32s %10d %10d" % ("pooled samples (cold left out)", len(samples[on]), len(samples[off])))
            if cold[on] or cold[off]:
                print("  cold starts left out: on %d, off %d" % (cold[on], cold[off]))
            loop_on = [(marks[r + 1][on][0] - marks[r][on][0]) / 1e6 for r in range(a.rounds)]
            loop_off = [(marks[r + 1][off][0] - marks[r][off][0]) / 1e6 for r in range(a.rounds)]
            dc, loc, hic = median_ci([x - y for x, y in zip(loop_on, loop_off)])
            row("per task: loop CPU ms (median)", statistics.median(loop_on), statistics.median(loop_off),
                "   (on - off, paired by round: %+.3f ms, 95%% %+.3f .. %+.3f)" % (dc, loc, hic))
            row("per task: loop CPU ms (mean)", (cpu1[on][0] - cpu0[on][0]) / a.rounds / 1e6,
                (cpu1[off][0] - cpu0[off][0]) / a.rounds / 1e6,
                "   (on - off: %+.3f ms)" % ((cpu1[on][0] - cpu0[on][0] - cpu1[off][0] + cpu0[off][0]) / a.rounds / 1e6))
            row("per task: all threads CPU ms", (cpu1[on][1] - cpu0[on][1]) / a.rounds / 1e6,
                (cpu1[off][1] - cpu0[off][1]) / a.rounds / 1e6)
            row("per refusal: loop CPU ms", (cpu3[on][0] - cpu2[on][0]) / a.refusals / 1e6,
                (cpu3[off][0] - cpu2[off][0]) / a.refusals / 1e6,
                "   (on - off: %+.3f ms)" % ((cpu3[on][0] - cpu2[on][0] - cpu3[off][0] + cpu2[off][0]) / a.refusals / 1e6))
            row("per refusal: all threads CPU ms", (cpu3[on][1] - cpu2[on][1]) / a.refusals / 1e6,
                (cpu3[off][1] - cpu2[off][1]) / a.refusals / 1e6)
            for name, p in (("refusal p50 ms", 0.5), ("refusal p95 ms", 0.95)):
                row(name, pct(lat[on], p), pct(lat[off], p))
            row("refusals/s (records/s)", rates[on], rates[off])
            summary.append((label, (lo50, hi50), (loc, hic)))
        print("(a refusal is one decision: a database row, synced, and with the log on one log record;")
        print(" loop CPU: cordond's main thread, from /proc/PID/task/PID/schedstat; a round's loop CPU is its")
        print(" task and the pause after it, pool refill included, so its median is robust to the odd slow turn)")
        for label, (lo50, hi50), (loc, hic) in summary:
            who = "baseline " if label else ""
            print("%starget (issue 15: sealing and redaction add <= 0.3 ms p50 to a pooled task):" % who)
            print("  wall p50 difference:        " + verdict(lo50, hi50))
            print("  loop CPU per task (median): " + verdict(loc, hic))
    finally:
        for d in daemons.values():
            d.stop()


if __name__ == "__main__":
    main()
