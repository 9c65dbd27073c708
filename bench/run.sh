#!/usr/bin/env bash
# The benchmark suite in one command (docs/performance.md). Numbers for people: it never fails on
# timing. Installs bubblewrap when missing (as root), builds when needed, then runs
#   cordon-host-costs  what this machine charges for a sandbox's primitives: system call, page
#                      fault, cpuid, process start-up with and without libc, each namespace
#   cordon-bench       /bin/true and `python3 -c pass`: bare, cordon run, cordond cold and with the
#                      warm pool, `cordon submit`, crun and runc (where they work on this host),
#                      bubblewrap; p50/p95/p99 (series interleaved), 1 and 2 workers, cordond's CPU
#                      per task, per-step breakdown
#   (bench/ab_startup.py, not run here: an interleaved A/B of two builds' start-up)
#   pool_cpu.py        where a pooled task's CPU goes: cordond's loop, its sandbox builder, its other
#                      threads, and the sandbox's own processes (shim, PID 1, task), ms per task
#   daemon_load.py     N concurrent sleeping tasks: admission latency, RSS and fds per live task
#   seccomp_denials.py a denied system call under `cordon run` (notified and recorded) beside the
#                      same profile's bare filter (SECCOMP_RET_ERRNO): ns per call, ratio
#   egress_bench.py    one outbound connection: direct, through the egress proxy, and transparent
#                      (no proxy variable): median µs per request and ratio to direct
#   cordon-seccomp-compile-bench  parse and compile of the shipped default profile: medians
#   evidence_ab.py     the evidence log's cost: two cordonds, log on and off, alternated in one run:
#                      pooled submit-to-exit p50/p95 and refused submits (records) per second, ratios
#   cordon-identity-bench  egress proxy per request: direct, proxied, proxied with a secret substituted
#                      and a token attached: medians and ratios
#   oci_bench.py       one OCI container's start-to-exit: cordon-runc beside crun and runc: medians, ratio
#
#   bench/run.sh [--quick]     (--quick: fewer runs and tasks, for CI's record)
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[[ "${1:-}" == --quick ]] && quick=1
if ! command -v bwrap >/dev/null; then
  if [[ $(id -u) -eq 0 ]]; then
    apt-get install -y -qq bubblewrap >/dev/null || echo "bench: could not install bubblewrap; its row is left out"
  else
    echo "bench: bubblewrap is not installed (sudo apt-get install bubblewrap); its row is left out"
  fi
fi
[[ -x build/bin/cordon-bench && -x build/bin/cordon-evidence-bench && -x build/bin/cordond && -x build/bin/cordon-host-costs && -x build/tests/helpers/seccomp_probe && -x build/bin/cordon-seccomp-compile-bench ]] || scripts/build.sh
if (( quick )); then
  build/bin/cordon-host-costs --runs 50
  build/bin/cordon-bench --quick --per-worker 15
  python3 bench/pool_cpu.py --rounds 1 --tasks 100
  python3 bench/daemon_load.py --tasks 100 --iterations 20 --flood-calls 8
  python3 bench/seccomp_denials.py --rounds 3 --calls 20000
  python3 bench/egress_bench.py --rounds 3 --requests 50
  build/bin/cordon-seccomp-compile-bench --runs 5
  build/bin/cordon-evidence-bench --runs 50
  python3 bench/evidence_ab.py --rounds 30 --refusals 500
  [[ -x build/bin/cordon-identity-bench ]] && build/bin/cordon-identity-bench 300  # docs/identity.md
  python3 bench/oci_bench.py --runs 5  # docs/kubernetes.md "Performance"
else
  build/bin/cordon-host-costs
  build/bin/cordon-bench
  python3 bench/pool_cpu.py
  python3 bench/daemon_load.py
  python3 bench/seccomp_denials.py
  python3 bench/egress_bench.py
  build/bin/cordon-seccomp-compile-bench
  build/bin/cordon-evidence-bench
  python3 bench/evidence_ab.py
  [[ -x build/bin/cordon-identity-bench ]] && build/bin/cordon-identity-bench  # docs/identity.md
  python3 bench/oci_bench.py  # docs/kubernetes.md "Performance"
fi
