# The check helpers of the scripts that run inside the booted container of
# scripts/systemd-boot-test.sh (systemd-boot-test-inside.sh, systemd-boot-test-deb.sh), sourced by
# both: each check is one line of OUT/report, and finish writes OUT/result (PASS or FAIL).
# Usage (from one of them): OUT=${1:-/out}; source "$(dirname "${BASH_SOURCE[0]}")/systemd-boot-test-checks.sh"
failed=0
report() { echo "$*" | tee -a "$OUT/report"; }
check() {  # check NAME COMMAND...: records PASS/FAIL with what the command printed on failure
  local name=$1; shift
  local got
  if got=$("$@" 2>&1); then report "PASS  $name"; else report "FAIL  $name: $got"; failed=1; fi
}
expect_eq() { [[ $1 == "$2" ]] || { echo "expected '$2', got '$1'"; return 1; }; }
contains() { [[ $1 == *"$2"* ]] || { echo "'$2' not in: $1"; return 1; }; }
# finish LINES: the last LINES lines of cordond's journal into the report, then the result.
finish() {
  report "      journal excerpt:"
  journalctl -u cordond.service --no-pager -o short-monotonic | tail -n "$1" | sed 's/^/        /' | tee -a "$OUT/report" >/dev/null
  if [[ $failed -eq 0 ]]; then echo PASS > "$OUT/result"; else echo FAIL > "$OUT/result"; fi
}
: > "$OUT/report"
