#!/usr/bin/env bash
# Quick start, step 1: install what is missing, build, and run a real task in a sandbox with the
# built-in default policy (no configuration, no daemon), printing its evidence record.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
echo "== cordon run -- python3 (sandboxed) =="
build/bin/cordon run --evidence - -- python3 -c '
import os, socket
print("uid inside:", os.getuid(), "| hostname:", socket.gethostname())
print("interfaces:", [n for _, n in socket.if_nameindex()])
print("visible pids:", sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
print("root dir:", sorted(os.listdir("/")))'
