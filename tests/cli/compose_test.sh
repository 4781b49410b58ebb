#!/usr/bin/env bash
# compose/compose.yaml is valid for Docker Compose (the plugin, or Debian's docker-compose, which
# deps.sh installs; no Docker engine is needed), and it runs what the README's quick-start says:
# PostgreSQL with a volume, the one-shot set-up, the gateway and an agent, the last two read-only.
# Skipped (77) only where no compose client exists.
set -euo pipefail
file=$1
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null; then
  compose=(docker-compose)
else
  echo "SKIP: no docker compose client on this machine"
  exit 77
fi
rendered=$("${compose[@]}" -f "$file" config)
/usr/bin/python3 - "$rendered" <<'PY'
import sys, yaml
c = yaml.safe_load(sys.argv[1])
services = c["services"]
assert set(services) == {"postgres", "setup", "gateway", "agent"}, sorted(services)
def target(v):  # "src:dst[:mode]" (docker-compose v1) or {"target": dst} (the plugin)
    return v.get("target") if isinstance(v, dict) else v.split(":")[1]
assert "/var/lib/postgresql/data" in map(target, services["postgres"]["volumes"]), "PostgreSQL keeps no volume"
for name in ("gateway", "agent"):
    s = services[name]
    assert s.get("read_only") is True, f"{name} does not run with a read-only root filesystem"
    assert s.get("cap_drop") == ["ALL"], f"{name} keeps capabilities"
    assert str(s.get("user", "65532")).split(":")[0] != "0", f"{name} runs as root"
assert services["gateway"]["command"][:1] == ["serve"], services["gateway"]["command"]
assert "--kubeconfig" in services["agent"]["command"], services["agent"]["command"]
print("compose: services", ", ".join(sorted(services)))
PY
echo PASS
