#!/usr/bin/env bash
# Print the clients with the most 5xx responses as "COUNT IP". See the statement.
set -euo pipefail

# TODO: your pipeline here; it reads the log on stdin.
cat > /dev/null
