#!/usr/bin/env bash
# bench/landlock_cost.sh [N]: what Landlock as a second layer costs a task's start (docs/landlock.md).
# Runs `cordon run -- /bin/true` N times (default 40) with the layer and N times with
# CORDON_LANDLOCK=off, alternating so both see the same machine load, and prints the medians of
# the whole run and of the `landlock` step (evidence timing.steps), and their ratio. Never pass/fail.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-40}
CORDON=${CORDON:-build/bin/cordon}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for ((i = 0; i < N; i++)); do
  for mode in on off; do
    env_args=()
    [[ $mode == off ]] && env_args=(CORDON_LANDLOCK=off)
    t0=$(date +%s%N)
    env "${env_args[@]}" "$CORDON" run --evidence - -- /bin/true >"$tmp/ev" 2>/dev/null
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000)) >>"$tmp/$mode.wall"
    [[ $mode == on ]] && tail -1 "$tmp/ev" >>"$tmp/on.ev"
  done
done
python3 - "$tmp" "$N" <<'PY'
import json, statistics, sys
d, n = sys.argv[1], sys.argv[2]
on = [int(x) for x in open(d + "/on.wall")]
off = [int(x) for x in open(d + "/off.wall")]
steps = []
for line in open(d + "/on.ev"):
    ev = json.loads(line)
    st = ev.get("timing", {}).get("steps", [])
    # timing.steps: [{"step": name, "start_us": start}, ...] in order; a step's cost is the next one's start minus its own.
    for i, s in enumerate(st):
        if s.get("step") == "landlock" and i + 1 < len(st):
            steps.append(st[i + 1]["start_us"] - s["start_us"])
mon, moff = statistics.median(on), statistics.median(off)
print(f"cordon run -- /bin/true, {n} runs each, medians:")
print(f"  with the Landlock layer     {mon:9.0f} us")
print(f"  CORDON_LANDLOCK=off         {moff:9.0f} us")
print(f"  ratio                       {mon / moff:9.3f}")
if steps:
    print(f"  the landlock step itself    {statistics.median(steps):9.0f} us (median of {len(steps)})")
PY
