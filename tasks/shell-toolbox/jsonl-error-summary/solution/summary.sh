#!/usr/bin/env bash
# Per-service error summary of JSON Lines events on stdin. Reference solution.
set -euo pipefail
export LC_ALL=C

jq -Rnr '
  [inputs | select(test("\\S")) | (try fromjson catch ["malformed"])] as $all
  | [$all[] | select(type == "object")] as $events
  | (($all | length) - ($events | length)) as $malformed
  | [ $events[]
      | { service: (if (.service | type) == "string" and .service != "" then .service else "(unknown)" end),
          error: ((.level | type) == "string" and ((.level | ascii_downcase) == "error" or (.level | ascii_downcase) == "fatal")),
          user: (if (.user | type) == "object" and ((.user.id | type) == "number" or (.user.id | type) == "string") then .user.id else null end) } ]
  | group_by(.service)
  | map({ service: .[0].service,
          events: length,
          errors: map(select(.error)) | length,
          users: map(select(.error and .user != null) | .user) | unique | length })
  | sort_by(-.errors, -.events, .service)
  | (.[] | [.service, .events, .errors, .users] | @tsv),
    "malformed\t\($malformed)"
'
