#!/bin/sh
# Starts the fake API server of the tests (tests/kube/fake_apiserver.py, its node runs pods as
# local processes) and runs scripts/bench_kube_pods.rhai against it: pod_exec vs kubectl exec
# vs a raw websocket client, and the Ready-notice latency of kube_wait.
#   scripts/bench_kube_pods.sh [path/to/herodo]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
herodo=${1:-$root/target/debug/herodo}
dir=$(mktemp -d)
fifo=$dir/stdin
mkfifo "$fifo"
python3 "$root/tests/kube/fake_apiserver.py" "$dir" "$root/tests/fixtures/kube/discovery.json" \
    <"$fifo" >"$dir/out" 2>"$dir/err" &
exec 3>"$fifo"   # the fake ends (and stops its containers) when this closes
i=0
while ! grep -q READY "$dir/out" 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 300 ] || { cat "$dir/err"; exit 1; }
    sleep 0.1
done
port=$(awk '/READY/ {print $2}' "$dir/out")
KUBECONFIG=$dir/kubeconfig BENCH_FAKE=https://127.0.0.1:$port BENCH_TOKEN=admin-token \
    "$herodo" "$root/scripts/bench_kube_pods.rhai"
exec 3>&-
sleep 1
rm -rf "$dir"
