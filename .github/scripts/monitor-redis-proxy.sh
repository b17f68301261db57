#!/usr/bin/env bash
# One `flyctl proxy` per Redis data node of a stack, each on its own local port, so the monitor reads every node's
# INFO memory (MONITOR_REDIS_URLS): prod's group is a primary and replicas, and a proxy to the app's DNS name would
# land on any one machine, a Sentinel included. Data nodes are the machines with metadata mauntic_role=redis
# (infra/fly/component.ts; Sentinels are redis-sentinel). Prints the local ports, space-separated. A node whose
# proxy does not open keeps its port: the monitor names it "not read", a finding.
# flyctl: `machine list --json` prints fly-go's Machine list (id, config.metadata); `proxy <local:remote>
# [remote_host]` (flyctl internal/command/proxy) reaches one machine by its 6PN name <id>.vm.<app>.internal.
# Usage: monitor-redis-proxy.sh <stack>   (MONITOR_REDIS_BASE_PORT: first local port, default 16379)
set -euo pipefail
stack="$1"
app="mauntic-$stack-redis"
port="${MONITOR_REDIS_BASE_PORT:-16379}"
ids=$(flyctl machine list --app "$app" --json | jq -r '.[] | select(.config.metadata.mauntic_role == "redis") | .id') || ids=""
if [ -z "$ids" ]; then
  echo "no Redis data node listed in $app: the monitor reports Redis unreachable" >&2
  echo "$port"
  exit 0
fi
ports=()
pids=()
for id in $ids; do
  flyctl proxy "$port:6379" "$id.vm.$app.internal" --app "$app" --quiet >"flyctl-proxy-$port.log" 2>&1 &
  pids+=("$!")
  ports+=("$port")
  port=$((port + 1))
done
# Each port open, or its proxy exited (no waiting on a proxy that failed), or 30 s.
for i in "${!ports[@]}"; do
  for _ in $(seq 1 30); do
    if (exec 3<>"/dev/tcp/127.0.0.1/${ports[$i]}") 2>/dev/null; then break; fi
    kill -0 "${pids[$i]}" 2>/dev/null || break
    sleep 1
  done
done
echo "${ports[*]}"
