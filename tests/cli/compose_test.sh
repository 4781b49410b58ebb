#!/usr/bin/env bash
# compose/compose.yaml is valid for Docker Compose. Skipped (77) where no compose client exists.
set -euo pipefail
file=$1
if docker compose version >/dev/null 2>&1; then
  docker compose -f "$file" config -q
elif command -v docker-compose >/dev/null; then
  docker-compose -f "$file" config -q
else
  echo "SKIP: no docker compose client on this machine"
  exit 77
fi
echo PASS
