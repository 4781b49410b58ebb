#!/usr/bin/env bash
# ctest fixture cleanup: stop the throwaway PostgreSQL and delete its data.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/pg.sh"
pg_stop "$1"
