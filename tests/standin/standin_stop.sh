#!/usr/bin/env bash
# ctest fixture cleanup: stop the stand-in (its pods' processes end with it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/standin.sh"
standin_stop "$1"
