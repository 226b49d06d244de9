#!/usr/bin/env bash
# Brings up everything the Kubernetes backend needs on a local kind cluster (issue 14):
#   1. a kind cluster (cluster/kind/kind.yaml) with Prometheus on localhost:9090 and Grafana on localhost:3000;
#   2. Chaos Mesh, Prometheus with kube-state-metrics, and Grafana, by their Helm charts;
#   3. the project's images, built and loaded into the cluster;
#   4. the manifests (cluster/manifests/: demo service, load generator, agent, controller).
# Idempotent: run it again after a change and it converges (helm upgrade --install, kubectl apply).
# Needs docker, kind, kubectl and helm, and the network to pull charts and images.
# Settings (environment): CLUSTER (kind cluster name, default chaos-rl), CHAOS_MESH_VERSION,
# PROMETHEUS_CHART_VERSION, GRAFANA_CHART_VERSION (chart versions; empty: the newest),
# SKIP_IMAGES=1 (do not rebuild the images).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
KIND_DIR="$ROOT/cluster/kind"
CLUSTER="${CLUSTER:-chaos-rl}"
CHAOS_MESH_VERSION="${CHAOS_MESH_VERSION:-2.7.2}"
PROMETHEUS_CHART_VERSION="${PROMETHEUS_CHART_VERSION:-}"
GRAFANA_CHART_VERSION="${GRAFANA_CHART_VERSION:-}"
CONTEXT="kind-$CLUSTER"

say() { printf '\n==> %s\n' "$*"; }
need() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "up.sh: '$1' is not installed ($2)" >&2
    exit 1
  fi
}
# `--version X` only when a version is set.
version_flag() {
  if [ -n "$1" ]; then printf -- '--version\n%s\n' "$1"; fi
}

need docker "https://docs.docker.com/engine/install/"
need kind "https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
need kubectl "https://kubernetes.io/docs/tasks/tools/"
need helm "https://helm.sh/docs/intro/install/"

say "kind cluster $CLUSTER"
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  echo "exists"
else
  kind create cluster --name "$CLUSTER" --config "$KIND_DIR/kind.yaml" --wait 180s
fi
kubectl config use-context "$CONTEXT" >/dev/null

say "Helm repositories"
helm repo add chaos-mesh https://charts.chaos-mesh.org --force-update >/dev/null
helm repo add prometheus-community https://prometheus-community.github.io/helm-charts --force-update >/dev/null
helm repo add grafana https://grafana.github.io/helm-charts --force-update >/dev/null
helm repo update >/dev/null

say "Chaos Mesh $CHAOS_MESH_VERSION"
helm upgrade --install chaos-mesh chaos-mesh/chaos-mesh \
  --kube-context "$CONTEXT" --namespace chaos-mesh --create-namespace \
  --version "$CHAOS_MESH_VERSION" -f "$KIND_DIR/chaos-mesh-values.yaml" --wait --timeout 10m

say "Prometheus and kube-state-metrics"
mapfile -t prom_version < <(version_flag "$PROMETHEUS_CHART_VERSION")
helm upgrade --install prometheus prometheus-community/prometheus \
  --kube-context "$CONTEXT" --namespace monitoring --create-namespace \
  "${prom_version[@]}" -f "$KIND_DIR/prometheus-values.yaml" --wait --timeout 10m

say "Grafana"
shopt -s nullglob
dashboards=("$ROOT"/cluster/grafana/*.json)
shopt -u nullglob
if [ "${#dashboards[@]}" -gt 0 ]; then
  from_files=()
  for f in "${dashboards[@]}"; do from_files+=("--from-file=$f"); done
  kubectl --context "$CONTEXT" -n monitoring create configmap chaos-rl-dashboards "${from_files[@]}" \
    --dry-run=client -o yaml | kubectl --context "$CONTEXT" apply -f -
  kubectl --context "$CONTEXT" -n monitoring label configmap chaos-rl-dashboards grafana_dashboard=1 --overwrite >/dev/null
  echo "${#dashboards[@]} dashboard(s) from cluster/grafana/"
else
  echo "cluster/grafana/ has no dashboards yet: Grafana starts with the Prometheus data source only"
fi
mapfile -t grafana_version < <(version_flag "$GRAFANA_CHART_VERSION")
helm upgrade --install grafana grafana/grafana \
  --kube-context "$CONTEXT" --namespace monitoring \
  "${grafana_version[@]}" -f "$KIND_DIR/grafana-values.yaml" --wait --timeout 10m

if [ "${SKIP_IMAGES:-0}" != "1" ]; then
  say "Images"
  docker build -f "$ROOT/cluster/service/Dockerfile" -t chaos-rl-demo:dev "$ROOT"
  docker build -f "$ROOT/policies/service/Dockerfile" -t chaos-rl-harness:dev "$ROOT"
  kind load docker-image chaos-rl-demo:dev chaos-rl-harness:dev --name "$CLUSTER"
fi

say "Manifests (cluster/manifests/)"
kubectl --context "$CONTEXT" apply -k "$ROOT/cluster/manifests"
# A new image under the same tag: restart so the pods run it (a no-op on a fresh cluster).
kubectl --context "$CONTEXT" -n chaos-rl rollout restart deployment/demo deployment/loadgen deployment/agent >/dev/null
for d in demo loadgen agent runs; do
  kubectl --context "$CONTEXT" -n chaos-rl rollout status "deployment/$d" --timeout 5m
done

say "Ready"
cat <<MSG
Prometheus  http://localhost:9090     Grafana  http://localhost:3000 (admin / chaos-rl)
Run a scenario from this machine:  npm run harness -- run scenarios/kind-smoke.yaml --report
Or from inside the cluster:        kubectl -n chaos-rl patch job controller --type merge -p '{"spec":{"suspend":false}}'
Tear down:                         cluster/kind/down.sh
MSG
