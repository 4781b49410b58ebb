#!/usr/bin/env bash
# Both binaries answer --help and --version, and refuse unknown input with a usage message.
set -euo pipefail
gateway=$1 agent=$2
"$gateway" --version | grep -Eq '^sluice-gateway [0-9]+\.[0-9]+\.[0-9]+$'
"$agent" --version | grep -Eq '^sluice-agent [0-9]+\.[0-9]+\.[0-9]+$'
"$gateway" --help | grep -q 'migrate --database URL'
"$gateway" migrate --help | grep -q -- '--database'
"$agent" --help | grep -q -- '--gateway-ca'
if "$gateway" frobnicate 2>/tmp/gw.err.$$; then echo "FAIL: unknown command accepted"; exit 1; fi
grep -q "unknown command 'frobnicate'" /tmp/gw.err.$$
if "$agent" --cluster x 2>/tmp/ag.err.$$; then echo "FAIL: agent ran without --gateway"; exit 1; fi
grep -q -- '--gateway is required' /tmp/ag.err.$$
if "$agent" --gateway h:1 --cluster c --token-file /nonexistent --gateway-ca /nonexistent 2>/tmp/ag.err.$$; then
  echo "FAIL: agent accepted a missing token file"; exit 1
fi
grep -q 'no such file' /tmp/ag.err.$$
rm -f /tmp/gw.err.$$ /tmp/ag.err.$$
echo PASS
