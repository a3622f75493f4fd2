#!/usr/bin/env bash
# Per-service error summary of JSON Lines events on stdin. See the statement.
set -euo pipefail
export LC_ALL=C

# TODO: this first attempt counts events per service, trusts every line to be valid
# JSON and ignores levels, users and the malformed count.
jq -r '.service' | sort | uniq -c | awk '{ print $2 "\t" $1 "\t0\t0" }'
