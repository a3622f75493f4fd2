#!/usr/bin/env bash
# Revenue per country from a CSV on stdin. Reference solution.
set -euo pipefail
export LC_ALL=C

gawk '
  # Split one CSV record into f[1..n]; quoted fields may hold commas and "" for a quote.
  function split_csv(line, f,    n, i, c, field, quoted) {
    n = 0; field = ""; quoted = 0
    for (i = 1; i <= length(line); i++) {
      c = substr(line, i, 1)
      if (quoted) {
        if (c == "\"" && substr(line, i + 1, 1) == "\"") { field = field "\""; i++ }
        else if (c == "\"") quoted = 0
        else field = field c
      } else if (c == "\"") quoted = 1
      else if (c == ",") { f[++n] = field; field = "" }
      else field = field c
    }
    f[++n] = field
    return n
  }
  function trim(s) { gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
  { sub(/\r$/, "") }
  /^[ \t]*$/ { next }
  !header_seen {
    width = split_csv($0, h)
    for (i = 1; i <= width; i++) column[tolower(trim(h[i]))] = i
    header_seen = 1
    next
  }
  {
    if (split_csv($0, f) != width) { print "line " NR ": wrong field count" > "/dev/stderr"; next }
    country = toupper(trim(f[column["country"]]))
    amount = trim(f[column["amount"]])
    if (country == "" || amount !~ /^[0-9]+(\.[0-9][0-9]?)?$/) { print "line " NR ": rejected" > "/dev/stderr"; next }
    orders[country]++; revenue[country] += amount
    total_orders++; total += amount
  }
  END {
    print "country,orders,revenue"
    fflush()
    for (c in orders) printf "%s,%d,%.2f\n", c, orders[c], revenue[c] | "sort -t, -k3,3gr -k1,1"
    close("sort -t, -k3,3gr -k1,1")
    printf "TOTAL,%d,%.2f\n", total_orders, total
  }
'
