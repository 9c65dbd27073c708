#!/usr/bin/env bash
# Quick start, step 2: install what is missing, build, and run the whole suite. As root it runs the
# suite twice: rootful (as root) and rootless (as the unprivileged user ${CORDON_TEST_USER:-cordon-test},
# created if missing). As an ordinary user it runs the rootless pass only.
# Each pass then compares the tests it skipped with tests/expected-skips/{rootful,rootless}.txt, the
# skips expected on the CI host (scripts/check_skips.py): a skip not in the list fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$(pwd)
TEST_USER=${CORDON_TEST_USER:-cordon-test}
CTEST_ARGS=(--output-on-failure --timeout 300 -j2)
scripts/deps.sh
scripts/build.sh

# check_skips PASS JUNIT: unexpected skips of that pass fail it.
check_skips() {
  python3 "$SRC/scripts/check_skips.py" "$2" "$SRC/tests/expected-skips/$1.txt"
}

if [[ $(id -u) -ne 0 ]]; then
  echo "== rootless suite (as $(id -un)) =="
  mkdir -p build/Testing
  rc=0
  ctest --test-dir build "${CTEST_ARGS[@]}" --output-junit "$SRC/build/Testing/junit-rootless.xml" || rc=$?
  check_skips rootless "$SRC/build/Testing/junit-rootless.xml" || rc=$(( rc ? rc : 1 ))
  exit $rc
fi

echo "== rootful suite (as root) =="
rootful=0
mkdir -p build/Testing
ctest --test-dir build "${CTEST_ARGS[@]}" --output-junit "$SRC/build/Testing/junit-rootful.xml" || rootful=$?
check_skips rootful "$SRC/build/Testing/junit-rootful.xml" || rootful=$(( rootful ? rootful : 1 ))

id -u "$TEST_USER" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$TEST_USER"
# The rootless pass needs to read the tree. If a parent directory keeps the test user out (a clone
# under /root, say), build a second copy where it can.
RL_SRC=$SRC
if ! runuser -u "$TEST_USER" -- test -r "$SRC/CMakeLists.txt" -a -x "$SRC/build/bin/cordon"; then
  RL_SRC=/var/tmp/cordon-rootless/main
  echo "cordon: $SRC is not readable by $TEST_USER; building a copy in $RL_SRC for the rootless pass"
  rm -rf /var/tmp/cordon-rootless && mkdir -p "$RL_SRC"
  (cd "$SRC" && git ls-files -z | xargs -0 cp --parents -t "$RL_SRC")
  [[ -d "$SRC/../shared" ]] && cp -r "$SRC/../shared" /var/tmp/cordon-rootless/shared
  chmod -R a+rX /var/tmp/cordon-rootless
  chown -R "$TEST_USER" /var/tmp/cordon-rootless
  runuser -u "$TEST_USER" -- env -C "$RL_SRC" scripts/build.sh
fi
# ctest writes its logs under build/Testing: the rootful pass created it as root.
mkdir -p "$RL_SRC/build/Testing" && chown -R "$TEST_USER" "$RL_SRC/build/Testing"
echo "== rootless suite (as $TEST_USER) =="
rootless=0
runuser -u "$TEST_USER" -- env HOME="$(getent passwd "$TEST_USER" | cut -d: -f6)" TMPDIR=/tmp \
  ctest --test-dir "$RL_SRC/build" "${CTEST_ARGS[@]}" --output-junit "$RL_SRC/build/Testing/junit-rootless.xml" ||
  rootless=$?
check_skips rootless "$RL_SRC/build/Testing/junit-rootless.xml" || rootless=$(( rootless ? rootless : 1 ))
echo "rootful suite exit: $rootful, rootless suite exit: $rootless"
exit $(( rootful || rootless ))
