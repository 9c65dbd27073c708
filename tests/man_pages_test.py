#!/usr/bin/env python3
"""The man pages against what they document (docs/man/README.md).

  man_pages_test.py BUILD_DIR SOURCE_DIR

- Every command `cordon --help` lists, and every subcommand a help's usage lines name
  (`cordon seccomp lint|explain|...`, `cordon evidence verify|...`), is found by running the real
  binary; each help text found must be part of a page (cordon-seccomp(1) for `cordon seccomp ...`,
  cordon(1) for the rest, cordond(8) for cordond), and each --option it mentions must be in that
  page. A new command or option whose help is not in a page fails here.
- Every field the policy and principals parsers accept (the key lists given to JsonChecker::Object in
  supervisor/policy.cc, supervisor/egress/policy.cc and ParsePrincipals in supervisor/daemon/config.cc;
  daemon.json's in ParseDaemonSettings) must be in cordon-policy(5), cordon-principals(5), cordond(8).
- Every page renders without groff warnings (`man --warnings -l`).
Exit 0 when all hold; 1 with one line per problem otherwise.
"""
import os
import re
import subprocess
import sys

build, source = sys.argv[1], sys.argv[2]
cordon = os.path.join(build, "bin", "cordon")
cordond = os.path.join(build, "bin", "cordond")
man = os.path.join(build, "share", "man")
problems = []


def run(argv):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout


def page_text(name, section):
    path = os.path.join(man, f"man{section}", f"{name}.{section}")
    if not os.path.exists(path):
        problems.append(f"{path}: missing (build the cordon-man target)")
        return ""
    raw = open(path, encoding="utf-8").read()
    # troff to plain words: \- is '-', drop font changes and other escapes.
    raw = raw.replace("\\-", "-").replace("\\(em", "-")
    return re.sub(r"\\f[BIRP]|\\f\(..|\\&|\\e|\\,|\\/", "", raw)


OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")


def options(text):
    return set(OPTION.findall(text))


def subcommands(text, prefix):
    """Words after `prefix` at the start of usage lines or in `prefix WORD --help` references."""
    subs = set()
    for m in re.finditer(re.escape(prefix) + r" ([a-z][a-z|-]*)", text):
        for w in m.group(1).split("|"):
            subs.add(w)
    return subs


def collect_helps():
    """{argv tuple: help text} for cordon and each subcommand reachable from its helps."""
    helps = {}
    rc, top = run([cordon, "--help"])
    if rc != 0:
        problems.append(f"cordon --help exited {rc}")
        return helps
    helps[()] = top
    # The command table of `cordon --help`: two-space indented "name   description" lines.
    todo = [(w,) for w in re.findall(r"^  ([a-z]+)\s{2,}", top, re.M)]
    seen = set(todo)
    while todo:
        args = todo.pop()
        rc, text = run([cordon, *args, "--help"])
        if rc != 0 or not text.startswith("Usage"):
            continue
        helps[args] = text
        prefix = "cordon " + " ".join(args)
        # `cordon --help` names some subcommands too ("evidence verify|export|checkpoint").
        for sub in subcommands(text, prefix) | (subcommands(top, args[0]) if len(args) == 1 else set()):
            nxt = args + (sub,)
            if len(nxt) <= 2 and nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return helps


helps = collect_helps()
pages = {"cordon": page_text("cordon", 1), "cordon-seccomp": page_text("cordon-seccomp", 1)}
distinct = {}
for args, text in helps.items():
    distinct.setdefault(text, args)  # `cordon seccomp explain --help` prints lint's help: check it once
for text, args in distinct.items():
    page = "cordon-seccomp" if args[:1] == ("seccomp",) else "cordon"
    body = pages[page]
    cmd = " ".join(("cordon",) + args)
    first = text.splitlines()[0].replace("Usage:", "").strip() or text.splitlines()[1].strip()
    first = re.sub(r"\s+", " ", first)
    if first and first not in re.sub(r"\s+", " ", body):
        problems.append(f"{page}(1): `{cmd} --help` is not in the page (its usage line '{first}' is missing); "
                        f"add '{' '.join(args)}' to the page's subcommands in CMakeLists.txt")
    for opt in sorted(options(text) - options(body)):
        problems.append(f"{page}(1): option {opt} of `{cmd} --help` is not in the page")
    for w in re.findall(r"^  ([a-z]+)\s{2,}", text, re.M) if not args else []:
        if w not in body:
            problems.append(f"cordon(1): command {w} is not in the page")

rc, dhelp = run([cordond, "--help"])
dpage = page_text("cordond", 8)
for opt in sorted(options(dhelp) - options(dpage)):
    problems.append(f"cordond(8): option {opt} of `cordond --help` is not in the page")


def parser_keys(path, start=None, end=None):
    text = open(os.path.join(source, path), encoding="utf-8").read()
    if start:
        text = text[text.index(start):]
    if end:
        text = text[:text.index(end)]
    keys = set()
    for m in re.finditer(r"Object\([^{;]*\{([^}]*)\}", text):
        keys.update(re.findall(r'"([a-z_]+)"', m.group(1)))
    for m in re.finditer(r'it\.key\(\) != "([a-z_]+)"', text):
        keys.add(m.group(1))
    return keys


def check_fields(page, section, keys, what):
    body = page_text(page, section)
    if not keys:
        problems.append(f"{what}: no field list found (did the parser change shape? update this test)")
    for k in sorted(keys):
        if not re.search(r"(?<![\w])" + re.escape(k) + r"(?![\w])", body):
            problems.append(f"{page}({section}): field '{k}' that {what} accepts is not documented")


check_fields("cordon-policy", 5, parser_keys("supervisor/policy.cc") | parser_keys("supervisor/egress/policy.cc"),
             "the policy parser")
check_fields("cordon-principals", 5,
             parser_keys("supervisor/daemon/config.cc", "ParsePrincipals(", "ParseDaemonSettings("),
             "ParsePrincipals")
check_fields("cordond", 8, parser_keys("supervisor/daemon/config.cc", "ParseDaemonSettings("), "ParseDaemonSettings")

for sec in ("1", "5", "8"):
    d = os.path.join(man, f"man{sec}")
    for f in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        p = subprocess.run(["man", "--warnings", "-l", os.path.join(d, f)], capture_output=True, text=True,
                           env=dict(os.environ, MANWIDTH="100", MAN_KEEP_FORMATTING="0"), timeout=30)
        if p.returncode != 0 or p.stderr.strip():
            problems.append(f"{f}: man --warnings: {p.stderr.strip() or 'exit ' + str(p.returncode)}")

found = sorted(" ".join(("cordon",) + a) for a in distinct.values())
print(f"man pages: {len(found)} cordon helps ({', '.join(found)}), cordond --help, 3 parsers checked")
for p in problems:
    print("FAIL", p)
sys.exit(1 if problems else 0)
