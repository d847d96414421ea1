#!/usr/bin/env bash
# Cloud Hypervisor API benchmark (issue 21): the per-call cost of herodo's client (one
# `get_vm_status`, which is one GET vm.info over the unix socket, no process) versus
# `curl --unix-socket` (a process per call), both against the same fake Cloud Hypervisor
# (tests/ch/fake_ch.py) in the same moment. Prints both per-call times and the ratio
# herodo/curl (target <= 0.5). Needs python3 and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
HERODO=${HERODO:-target/release/herodo}
CALLS=${CALLS:-300}
ROUNDS=${ROUNDS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
: > "$work/vmlinux"

cat > "$work/bench.rhai" <<'RHAI'
let n = parse_int(env_get("CALLS"));
let sock = env_get("SOCK");
if !init_runtime(RuntimeBuilder().api_socket(sock)) { throw "no fake cloud-hypervisor"; }
let vm = create_vm(VMBuilder().kernel(env_get("KERNEL")).build());
start_vm(vm);
for round in 0..parse_int(env_get("ROUNDS")) {
    let t = timestamp_ms();
    for i in 0..n { get_vm_status(vm); }
    let ours = (timestamp_ms() - t) * 1000 / n;
    let shell = `s=$(date +%s%N); for i in $(seq ${n}); do curl -s -o /dev/null --unix-socket ${sock} http://localhost/api/v1/vm.info; done; e=$(date +%s%N); echo $(( (e - s) / 1000 / ${n} ))`;
    let r = cmd(["bash", "-c", shell], #{silent: true});
    let out = r.stdout;
    out.trim();
    let theirs = parse_int(out);
    print(`round ${round + 1}: herodo ${ours} us/call, curl ${theirs} us/call, ratio ${to_float(ours) / to_float(theirs)}`);
}
shutdown_runtime();
RHAI
HERODO_CH_BIN="$PWD/tests/ch/fake_ch.py" HERODO_STATE_DIR="$work/state" CALLS=$CALLS ROUNDS=$ROUNDS \
    SOCK="$work/ch.sock" KERNEL="$work/vmlinux" "$HERODO" "$work/bench.rhai"
