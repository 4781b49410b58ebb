#!/usr/bin/env bash
# ctest fixture setup: start the throwaway PostgreSQL whose URL tests read from $1/url.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/pg.sh"
pg_stop "$1"   # a previous run that was killed may have left one behind
pg_start "$1"
echo "PostgreSQL ready: $(cat "$1/url")"
