#!/usr/bin/env bash
# Revenue per country from a CSV on stdin. See the statement.
set -euo pipefail
export LC_ALL=C

# TODO: this first attempt assumes the column order and ignores quoting and bad rows.
awk -F, '
  NR == 1 { next }
  { orders[$3]++; revenue[$3] += $4 }
  END {
    print "country,orders,revenue"
    for (c in orders) printf "%s,%d,%.2f\n", c, orders[c], revenue[c]
  }
'
