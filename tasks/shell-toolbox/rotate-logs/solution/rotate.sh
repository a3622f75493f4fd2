#!/usr/bin/env bash
# Rotate the non-empty *.log files of a directory. Reference solution.
set -euo pipefail
export LC_ALL=C

usage() {
  echo "usage: rotate.sh DIR KEEP  (KEEP: 1 to 99)" >&2
  exit 2
}

[[ $# -eq 2 ]] || usage
dir=$1 keep=$2
[[ -d $dir ]] || { echo "error: $dir is not a directory" >&2; exit 2; }
[[ $keep =~ ^[1-9][0-9]?$ ]] || { echo "error: KEEP must be a whole number from 1 to 99, not '$keep'" >&2; exit 2; }

shopt -s nullglob
for log in "$dir"/*.log; do
  [[ -f $log && ! -L $log && -s $log ]] || continue
  # Copies beyond what we keep (including the one the shift would push out) go.
  for old in "$log".*; do
    n=${old##*.log.}
    if [[ $n =~ ^[1-9][0-9]*$ ]] && (( n >= keep )); then
      rm -f -- "$old"
    fi
  done
  for (( n = keep - 1; n >= 1; n-- )); do
    if [[ -e $log.$n || -L $log.$n ]]; then
      mv -f -- "$log.$n" "$log.$((n + 1))"
    fi
  done
  mode=$(stat -c %a -- "$log")
  mv -f -- "$log" "$log.1"
  : > "$log"
  chmod -- "$mode" "$log"
  echo "rotated ${log##*/}"
done
