#!/usr/bin/env python3
"""Compares the tests a ctest run skipped with the checked-in list of skips expected on the CI host.

    scripts/check_skips.py JUNIT_XML EXPECTED_LIST

JUNIT_XML is ctest's --output-junit file; EXPECTED_LIST has one test name a line ('#' comments).
A skip that is not in the list fails (exit 1), naming the test, its skip reason and the list to
update: on a host where a test must run, a skip hides a broken test. A listed skip that now runs is
only reported. CORDON_ALLOW_SKIPS=1 reports unexpected skips without failing (a developer machine
that lacks what the CI host has).
"""
import os
import sys
import xml.etree.ElementTree as ET


def skipped_tests(junit_path):
    """{name: reason} of the skipped testcases in a ctest JUnit file."""
    out = {}
    for case in ET.parse(junit_path).getroot().iter("testcase"):
        skipped = case.find("skipped")
        if case.get("status") != "skipped" and skipped is None:
            continue
        reason = ""
        text = case.findtext("system-out") or ""
        for line in text.splitlines():
            # gtest prints the GTEST_SKIP() message on the line before "[  SKIPPED ]".
            if line.startswith("[  SKIPPED ]"):
                break
            if line.strip() and not line.startswith("["):
                reason = line.strip()
        out[case.get("name")] = reason
    return out


def expected_tests(list_path):
    names = set()
    with open(list_path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                names.add(line)
    return names


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    junit, listed = sys.argv[1], sys.argv[2]
    try:
        skipped = skipped_tests(junit)
    except (OSError, ET.ParseError) as e:
        print(f"check_skips: cannot read ctest's results {junit}: {e}", file=sys.stderr)
        return 1
    try:
        expected = expected_tests(listed)
    except OSError as e:
        print(f"check_skips: cannot read the expected-skip list {listed}: {e}", file=sys.stderr)
        return 1
    unexpected = sorted(set(skipped) - expected)
    now_run = sorted(expected - set(skipped))
    print(f"skips: {len(skipped)} ({len(skipped) - len(unexpected)} expected, {len(unexpected)} unexpected; "
          f"list {listed})")
    for name in now_run:
        print(f"  expected to skip, but ran: {name} (remove it from {listed} if this host now can)")
    for name in unexpected:
        print(f"  UNEXPECTED SKIP: {name}: {skipped[name] or '(no reason printed)'}")
    if not unexpected:
        return 0
    print(f"check_skips: {len(unexpected)} test(s) skipped that must run on this host. Fix the cause, or, if "
          f"this host truly lacks the feature the reason names, add the test to {listed}.", file=sys.stderr)
    if os.environ.get("CORDON_ALLOW_SKIPS") == "1":
        print("check_skips: CORDON_ALLOW_SKIPS=1: reported, not failed", file=sys.stderr)
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
