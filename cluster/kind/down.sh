#!/usr/bin/env bash
# Deletes the kind cluster of up.sh and everything in it (Chaos Mesh, Prometheus, Grafana, the
# project's objects and chaos). Idempotent: nothing to delete is not an error.
# Settings (environment): CLUSTER (kind cluster name, default chaos-rl).
set -euo pipefail

CLUSTER="${CLUSTER:-chaos-rl}"

if ! command -v kind >/dev/null 2>&1; then
  echo "down.sh: 'kind' is not installed: there is no kind cluster to delete" >&2
  exit 1
fi
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  kind delete cluster --name "$CLUSTER"
else
  echo "no kind cluster named $CLUSTER"
fi
