#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: installs packages, builds, and runs ctest.
# ctest starts its own throwaway PostgreSQL and API-server stand-in (fixtures) and stops them,
# failures included. Exits non-zero when anything fails.
#   SLUICE_BUILD_DIR  build directory (default: build/)
#   CTEST_ARGS        extra ctest arguments, e.g. "-R standin"
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source scripts/lib/deps.sh
source scripts/lib/pg.sh
source scripts/lib/standin.sh
build_dir=${SLUICE_BUILD_DIR:-$root/build}

cleanup() {
  # The ctest fixtures clean up after themselves; this catches an interrupted run.
  pg_stop "$build_dir/test-pg" 2>/dev/null || true
  standin_stop "$build_dir/test-standin" 2>/dev/null || true
}
trap cleanup EXIT

install_deps
echo "Building in $build_dir"
build_tree "$build_dir"
cd "$build_dir"
# shellcheck disable=SC2086
ctest --output-on-failure -j "$(nproc)" ${CTEST_ARGS:-}
