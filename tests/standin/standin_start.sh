#!/usr/bin/env bash
# ctest fixture setup: start the API-server stand-in; its kubeconfig is $2/kubeconfig.
set -euo pipefail
bin=$1 dir=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/standin.sh"
standin_stop "$dir"
standin_start "$bin" "$dir"
echo "stand-in ready at $(cat "$dir/ready")"
