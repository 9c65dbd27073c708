#!/bin/sh
# The text help2man turns into a man page (docs/man/README.md): the --help of a binary and of its
# subcommands, one after the other. help2man runs `help-of.sh --help` and `help-of.sh --version`;
# what to print comes from the environment, set by CMake:
#   MAN_BIN   the binary (build/bin/cordon)
#   MAN_NAME  the page's name as --version should print it (cordon-seccomp)
#   MAN_SUBS  subcommands whose `MAN_BIN SUB --help` make up the page, separated by ';'; an empty
#             entry is the binary's own --help
# Each subcommand's text gets a heading ("cordon run:"), and its "Options:" line becomes
# "Options of cordon run:", so help2man keeps every part in DESCRIPTION under its own heading.
set -eu
case "${1:-}" in
  --version)
    v=$("$MAN_BIN" --version)
    echo "$MAN_NAME ${v##* }"
    exit 0 ;;
  --help) ;;
  *) echo "help-of.sh: expected --help or --version" >&2; exit 2 ;;
esac
prog=$(basename "$MAN_BIN")
if [ -z "${MAN_SUBS:-}" ]; then  # the binary's own --help only
  exec "$MAN_BIN" --help
fi
first=1
IFS=';'
for sub in $MAN_SUBS; do
  [ $first -eq 1 ] || echo
  if [ -z "$sub" ]; then
    unset IFS
    "$MAN_BIN" --help | sed 's/^Options:$/Options of '"$prog"':/'
  else
    unset IFS
    [ $first -eq 1 ] || echo "$prog $sub:"
    # shellcheck disable=SC2086  # SUB may be two words ("evidence verify")
    "$MAN_BIN" $sub --help | sed 's/^Options:$/Options of '"$prog $sub"':/'
  fi
  IFS=';'
  first=0
done
