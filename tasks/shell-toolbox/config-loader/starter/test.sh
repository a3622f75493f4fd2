#!/usr/bin/env bash
# Public examples: loads example.conf with your config.sh and checks the result.
# Usage: bash test.sh
set -uo pipefail
cd "$(dirname "$0")"
source ./config.sh

failed=0
expect() { # DESCRIPTION EXPECTED ACTUAL
  if [[ $2 == "$3" ]]; then echo "PASS $1"; else echo "FAIL $1: expected [$2], got [$3]"; failed=1; fi
}

load_config example.conf
expect "load_config returns 0" 0 "$?"
expect "name" billing "${CONFIG[name]-<missing>}"
expect "port (inline comment removed)" 8080 "${CONFIG[port]-<missing>}"
expect "db.host (section prefix)" db.internal "${CONFIG[db.host]-<missing>}"
expect "db.password (quoted: # and spaces kept)" "s3cr#t  " "${CONFIG[db.password]-<missing>}"
expect "number of keys" 4 "${#CONFIG[@]}"
expect "config_get db.host" db.internal "$(config_get db.host)"
expect "config_get with a default" 30 "$(config_get timeout 30)"
config_get nothing-here > /dev/null
expect "config_get of a missing key without default returns 1" 1 "$?"
exit "$failed"
