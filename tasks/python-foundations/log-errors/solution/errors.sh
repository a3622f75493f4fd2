#!/usr/bin/env bash
# Print the clients with the most 5xx responses as "COUNT IP". Reference solution.
set -euo pipefail
export LC_ALL=C
awk -F'"' 'NF >= 3 { split($1, head, " "); split($3, tail, " ");
                     if (tail[1] ~ /^5[0-9][0-9]$/ && head[1] != "") print head[1] }' \
  | sort | uniq -c | awk '{ print $1, $2 }' | sort -k1,1nr -k2,2 | head -n 3
