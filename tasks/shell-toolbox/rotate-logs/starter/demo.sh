#!/usr/bin/env bash
# Public example: builds the statement's example in a temporary directory, runs
# rotate.sh on it and checks the result. Usage: bash demo.sh
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf new > "$dir/app.log"
printf older > "$dir/app.log.1"
printf oldest > "$dir/app.log.2"
chmod 640 "$dir/app.log"

output=$(bash "$here/rotate.sh" "$dir" 2)
status=$?
echo "exit status: $status; output: $output"
ls -l "$dir"

failed=0
check() { # DESCRIPTION TEST...
  local what=$1
  shift
  if "$@"; then echo "PASS $what"; else echo "FAIL $what"; failed=1; fi
}
check "exit status 0" test "$status" -eq 0
check "prints 'rotated app.log'" test "$output" = "rotated app.log"
check "app.log is empty" test -f "$dir/app.log" -a ! -s "$dir/app.log"
check "app.log keeps mode 640" test "$(stat -c %a "$dir/app.log" 2>/dev/null)" = 640
check "app.log.1 holds 'new'" test "$(cat "$dir/app.log.1" 2>/dev/null)" = new
check "app.log.2 holds 'older'" test "$(cat "$dir/app.log.2" 2>/dev/null)" = older
check "no app.log.3" test ! -e "$dir/app.log.3"
exit "$failed"
