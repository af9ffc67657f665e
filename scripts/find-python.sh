#!/usr/bin/env bash
# Print the Python to make the book's venv with; or, when there is none, say on stderr in one
# message what was found, what is supported and what to do, and exit 1.
# Usage: scripts/find-python.sh [PYTHON] [GOAL]
#   PYTHON: the interpreter named with `make PYTHON=...`; only it is checked. Empty: the first of
#   python3.11, python3.12 and python3.13 on the PATH that scripts/check_python.py accepts.
#   GOAL: the make goal, for the advice.
# Portable to macOS's bash 3.2.
set -u
here=$(cd "$(dirname "$0")" && pwd)
given=${1:-}
goal=${2:-book}
candidates="python3.11 python3.12 python3.13"
supported="The book installs with CPython 3.11 (3.11.5 or later), 3.12 or 3.13 (64-bit, with venv) on Linux x86_64 or aarch64 (glibc 2.28 or later), on macOS 14 or later with Apple silicon, and on Windows under WSL 2."

# One candidate: 0 and its path when it will do; otherwise its status (3: this interpreter, 4: this
# machine) and check_python.py's line, or 5 when it does not run as Python at all.
check() {
  local python=$1 why status
  why=$("$python" "$here/check_python.py" 2>&1)
  status=$?
  if [ "$status" = 0 ]; then
    command -v "$python"
    return 0
  fi
  if [ "$status" != 3 ] && [ "$status" != 4 ]; then
    why="$python does not run as Python 3 (exit status $status${why:+: $(printf '%s' "$why" | tail -n 1)})"
    status=5
  fi
  echo "$why"
  return "$status"
}

report() {
  {
    echo "make: no Python to make .venv with: nothing was installed."
    printf '%s\n' "$1"
    echo "$supported"
    echo "$2"
  } >&2
  exit 1
}

advice_python="Install one (Debian and Ubuntu: apt-get install python3.12-venv; macOS: python.org or Homebrew), then run make $goal again, or name it: make PYTHON=/path/to/python3.x $goal"

if [ -n "$given" ]; then
  if ! command -v "$given" >/dev/null 2>&1; then
    report "  PYTHON=$given: no such program" "$advice_python"
  fi
  found=$(check "$given")
  status=$?
  [ "$status" = 0 ] && { echo "$found"; exit 0; }
  [ "$status" = 4 ] && report "  $found" "No Python will do on this machine."
  report "  PYTHON=$given: $found" "$advice_python"
fi

lines=""
for python in $candidates; do
  command -v "$python" >/dev/null 2>&1 || continue
  found=$(check "$python")
  status=$?
  [ "$status" = 0 ] && { echo "$found"; exit 0; }
  [ "$status" = 4 ] && report "  $found" "No Python will do on this machine."
  lines="$lines  $python: $found
"
done
[ -n "$lines" ] || lines="  none of $candidates is on the PATH
"
report "${lines%
}" "$advice_python"
