#!/usr/bin/env bash
# Public examples: feeds each examples/NAME.in to the script and compares its
# standard output with examples/NAME.out. Usage: bash run-examples.sh
set -uo pipefail
cd "$(dirname "$0")"
script=summary.sh
failed=0
for input in examples/*.in; do
  expected=${input%.in}.out
  if diff -u --label expected --label actual "$expected" <(bash "$script" < "$input" 2>/dev/null); then
    echo "PASS $input"
  else
    echo "FAIL $input"
    failed=1
  fi
done
exit "$failed"
