#!/usr/bin/env python3
"""Start-to-exit latency of one OCI container: cordon-runc beside crun and runc from Debian, in one
run on the same bundle (docs/kubernetes.md "Performance").

Each runtime runs the same bundle (a busybox-static image, `/bin/true`) with `RUNTIME --root PRIVATE
run ID`, which creates, starts, waits for and deletes the container; the time is from the
runtime's start to its exit. Prints the median, p90 and the ratio of medians against crun (the
baseline; runc when crun cannot run on this host, e.g. crun refuses hybrid cgroups with a controller
on the cgroup2 tree, and the reason is printed). Never pass/fail.

    bench/oci_bench.py [--runs N] [--build DIR]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def make_bundle(root):
    rootfs = os.path.join(root, "rootfs")
    for d in ("bin", "etc", "proc", "dev", "sys", "tmp"):
        os.makedirs(os.path.join(rootfs, d), exist_ok=True)
    shutil.copy("/bin/busybox", os.path.join(rootfs, "bin/busybox"))
    for a in ("sh", "true"):
        os.symlink("busybox", os.path.join(rootfs, "bin", a))
    ns = [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")]
    linux = {"namespaces": ns}
    if os.geteuid() != 0:
        # crun and runc run rootless only inside a user namespace that maps the caller.
        ns.append({"type": "user"})
        linux["uidMappings"] = [{"containerID": 0, "hostID": os.geteuid(), "size": 1}]
        linux["gidMappings"] = [{"containerID": 0, "hostID": os.getegid(), "size": 1}]
    config = {
        "ociVersion": "1.0.2",
        "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": ["/bin/true"],
                    "env": ["PATH=/bin"], "cwd": "/", "noNewPrivileges": True},
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "bench",
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
                   {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]}],
        "linux": linux,
    }
    with open(os.path.join(root, "config.json"), "w") as f:
        json.dump(config, f)
    os.chmod(root, 0o755)


def measure(binary, bundle, state, runs, env):
    times, failures = [], 0
    for i in range(runs):
        cid = "b%d" % i
        t0 = time.perf_counter()
        r = subprocess.run([binary, "--root", state, "run", "--bundle", bundle, cid],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        t1 = time.perf_counter()
        if r.returncode != 0:
            failures += 1
            if failures == 1:
                print("  %s: run failed (%d): %s" % (os.path.basename(binary), r.returncode,
                                                    r.stderr.decode(errors="replace").strip()[:300]))
            subprocess.run([binary, "--root", state, "delete", "--force", cid],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            continue
        times.append((t1 - t0) * 1000.0)
    return times, failures


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--build", default=os.path.join(here, "..", "build"))
    args = ap.parse_args()
    cordon = os.path.join(os.path.abspath(args.build), "bin", "cordon-runc")
    if not os.path.exists("/bin/busybox"):
        sys.exit("oci_bench: needs /bin/busybox (apt-get install busybox-static)")
    runtimes = [("crun", shutil.which("crun")), ("runc", shutil.which("runc") or "/usr/sbin/runc"),
                ("cordon-runc", cordon)]
    work = tempfile.mkdtemp(prefix="cordon-oci-bench-")
    os.chmod(work, 0o755)
    try:
        bundle = os.path.join(work, "bundle")
        os.makedirs(bundle)
        make_bundle(bundle)
        env = dict(os.environ, CORDON_OCI_EVIDENCE_DIR=os.path.join(work, "evidence"))
        print("OCI start-to-exit, /bin/true, %d runs each (%s, uid %d); ms" % (args.runs, os.uname().release, os.geteuid()))
        print("%-12s %9s %9s %9s %8s" % ("runtime", "median", "p90", "x base", "failed"))
        results = {}
        for name, binary in runtimes:
            if not binary or not os.path.exists(binary):
                print("%-12s not installed" % name)
                continue
            state = os.path.join(work, "state-" + name)
            measure(binary, bundle, state, 2, env)  # warm the page cache and, for Cordon, the BPF cache
            times, failed = measure(binary, bundle, state, args.runs, env)
            results[name] = (times, failed)
        base_name = next((n for n in ("crun", "runc") if results.get(n) and results[n][0]), None)
        base = statistics.median(results[base_name][0]) if base_name else None
        for name, (times, failed) in results.items():
            if not times:
                print("%-12s %9s %9s %9s %8d" % (name, "-", "-", "-", failed))
                continue
            med = statistics.median(times)
            p90 = sorted(times)[max(0, int(len(times) * 0.9) - 1)]
            ratio = "%.2f" % (med / base) if base else "-"
            print("%-12s %9.1f %9.1f %9s %8d" % (name, med, p90, ratio, failed))
        print("baseline: %s" % (base_name or "none (neither crun nor runc ran)"))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
