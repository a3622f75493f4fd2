#!/bin/sh
# The official image's redis-server runs with protected mode off (it is built
# that way), so other containers on the network reach it; Debian's default is
# on, which refuses them while no password is set. Keep Redis on an internal
# network, or give it a password (docs/deploy.md).
set -e
if [ "$1" = redis-server ]; then
  set -- "$@" --protected-mode no
fi
exec "$@"
