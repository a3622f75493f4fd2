#!/usr/bin/env bash
# Rotate the non-empty *.log files of a directory. See the statement.
set -euo pipefail

dir=$1
keep=$2

# TODO: check the arguments, shift older copies, respect KEEP, skip what must be skipped.
for log in $dir/*.log; do
  mv $log $log.1
  touch $log
  echo "rotated $(basename $log)"
done
