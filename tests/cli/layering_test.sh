#!/usr/bin/env bash
# The layering check (scripts/check_layering.py) passes on the tree, and refuses an include that
# reaches a folder the including folder's library does not link.
set -euo pipefail
src=$1
check=$src/scripts/check_layering.py
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir -p "$work/gateway/auth" "$work/gateway/server" "$work/common"
echo '#include "gateway/auth/identity.h"' >"$work/gateway/server/s.h"
echo '#include "common/base64.h"' >"$work/gateway/auth/a.h"
python3 "$check" "$work" auth: server:auth >/dev/null || { echo "a downward include was refused"; exit 1; }
echo '#include "gateway/server/s.h"' >>"$work/gateway/auth/a.h"
if out=$(python3 "$check" "$work" auth: server:auth 2>&1); then echo "an upward include passed: $out"; exit 1; fi
grep -q 'gateway/auth/a.h:2: includes gateway/server/' <<<"$out" || { echo "unclear refusal: $out"; exit 1; }
echo '#include "gateway/auth/identity.h"' >"$work/common/c.h"
python3 "$check" "$work" auth: server:auth >/dev/null 2>&1 && { echo "common/ may not include gateway/"; exit 1; }
echo ok
