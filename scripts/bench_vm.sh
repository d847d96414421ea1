#!/usr/bin/env bash
# Benchmarks of the vm domain (issue 19), on the test guest (scripts/vm-guest.sh):
#   1. vm_create + vm_start until the console shows HERODO_GUEST_READY, against a hand-written
#      QEMU command line booting the same guest with the same memory and accelerator, polled
#      the same way (median of N interleaved rounds; ratio herodo/hand).
#   2. qcow2_create / qcow2_info / qcow2_snapshot_create against the same qemu-img command run
#      with cmd() from the same herodo process (per-operation medians; ratio).
#   3. herodo's resident memory while vm_wait_console follows a console that grows by ~0.5 MB/s
#      for a minute (sampled every 5 s with ps).
# Usage: scripts/bench_vm.sh [ROUNDS]   (HERODO=path picks the binary, default release, else
# debug; BENCH_PARTS="boot qcow2 memory" picks the parts)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-10}
herodo=${HERODO:-./target/release/herodo}
[ -x "$herodo" ] || herodo=./target/debug/herodo
guest=$(./scripts/vm-guest.sh)
work=$(mktemp -d)
export HERODO_STATE_DIR=$work/state HERODO_VM_GUEST=$guest BENCH_DIR=$work BENCH_ROUNDS=$rounds
# Whatever way the script ends, no VM of its state directory (nor a hand-started QEMU) is left.
cleanup() {
    "$herodo" -e 'for v in vm_list() { vm_delete(v.id); }' >/dev/null 2>&1 || true
    [ -f "$work/hand.pid" ] && kill "$(cat "$work/hand.pid")" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/boot.rhai" <<'EOF'
let g = env_get("HERODO_VM_GUEST");
let d = env_get("BENCH_DIR");
let rounds = parse_int(env_get("BENCH_ROUNDS"));
let accel = env_get("HERODO_QEMU_ACCEL", "tcg");
fn median(a) { a.sort(); a[a.len() / 2] }
fn wait_file(path, text) {
    let deadline = timestamp_ms() + 120000;
    while timestamp_ms() < deadline {
        if exist(path) && file_read(path).contains(text) { return; }
        sleep(5);
    }
    throw "the hand-started guest never printed its marker";
}
let ours = [];
let hand = [];
let ratios = [];
fn ours_once(g, i) {
    let t0 = timestamp_ms();
    vm_create(#{id: `bench-${i}`, kernel_path: `${g}/vmlinuz`, initramfs_path: `${g}/initrd.img`,
        cmdline: "console=ttyS0 panic=-1", memory_mb: 256});
    vm_start(`bench-${i}`);
    vm_wait_console(`bench-${i}`, "HERODO_GUEST_READY", 120);
    let t = timestamp_ms() - t0;
    vm_delete(`bench-${i}`);
    t
}
fn hand_once(g, d, i, accel) {
    let log = `${d}/hand-${i}.log`;
    let t0 = timestamp_ms();
    run(`qemu-system-x86_64 -accel ${accel} -m 256 -nodefaults -display none -no-reboot -serial file:${log} -pidfile ${d}/hand.pid -kernel ${g}/vmlinuz -initrd ${g}/initrd.img -append 'console=ttyS0 panic=-1' </dev/null >/dev/null 2>&1 &`, #{silent: true});
    wait_file(log, "HERODO_GUEST_READY");
    let t = timestamp_ms() - t0;
    run(`kill $(cat ${d}/hand.pid)`, #{silent: true});
    sleep(300);
    t
}
// Interleaved, and the order alternates: a load change hits both sides alike.
for i in 0..rounds {
    let o = 0;
    let h = 0;
    if i % 2 == 0 {
        o = ours_once(g, i);
        h = hand_once(g, d, i, accel);
    } else {
        h = hand_once(g, d, i, accel);
        o = ours_once(g, i);
    }
    ours.push(o);
    hand.push(h);
    ratios.push(o.to_float() / h.to_float());
}
let o = median(ours);
let h = median(hand);
print(`boot to console marker (ms, median of ${rounds}): herodo ${o}, hand-written qemu ${h}, ratio ${(o.to_float() / h.to_float()).to_string().sub_string(0, 4)}`);
print(`  herodo runs: ${ours}`);
print(`  hand runs:   ${hand}`);
print(`  median of the per-round ratios: ${median(ratios).to_string().sub_string(0, 4)}`);
EOF

cat >"$work/qcow2.rhai" <<'EOF'
let d = env_get("BENCH_DIR");
fn median(a) { a.sort(); a[a.len() / 2] }
// Per operation: 10 rounds; in each, a block of 10 herodo calls and a block of 10 bare
// qemu-img calls, in alternating order; the medians of the blocks' means.
fn bench(ours, bare) {
    let o = [];
    let b = [];
    for r in 0..10 {
        for side in if r % 2 == 0 { [0, 1] } else { [1, 0] } {
            let t0 = timestamp_ms();
            for i in 0..10 {
                if side == 0 { ours.call(r * 10 + i); } else { bare.call(r * 10 + i); }
            }
            let mean = (timestamp_ms() - t0).to_float() / 10.0;
            if side == 0 { o.push(mean); } else { b.push(mean); }
        }
    }
    [median(o), median(b)]
}
let create = bench(|i| qcow2_create(`${d}/q/o${i}.qcow2`, 1),
    |i| cmd(["qemu-img", "create", "-q", "-f", "qcow2", `${d}/q/b${i}.qcow2`, "1073741824"], #{silent: true}));
let info = bench(|i| qcow2_info(`${d}/q/o${i}.qcow2`),
    |i| parse_json(cmd(["qemu-img", "info", "-U", "--output=json", `${d}/q/b${i}.qcow2`], #{silent: true}).stdout));
let snap = bench(|i| qcow2_snapshot_create(`${d}/q/o${i}.qcow2`, "s1"),
    |i| cmd(["qemu-img", "snapshot", "-f", "qcow2", "-c", "s1", `${d}/q/b${i}.qcow2`], #{silent: true}));
for row in [["qcow2_create", create], ["qcow2_info", info], ["qcow2_snapshot_create", snap]] {
    let r = row[1];
    print(`${row[0]}: herodo ${r[0]} ms, bare qemu-img ${r[1]} ms, ratio ${(r[0] / r[1]).to_string().sub_string(0, 4)}`);
}
EOF

mkdir -p "$work/q"
parts=" ${BENCH_PARTS:-boot qcow2 memory} "
if [[ $parts == *" boot "* ]]; then
    echo "== boot ($rounds rounds)"
    "$herodo" "$work/boot.rhai"
fi
if [[ $parts == *" qcow2 "* ]]; then
    echo "== qcow2"
    "$herodo" "$work/qcow2.rhai"
fi
[[ $parts == *" memory "* ]] || exit 0
echo "== memory while following a growing console for 60 s"
"$herodo" -e "vm_create(#{id: \"follow\", kernel_path: \"$guest/vmlinuz\", initramfs_path: \"$guest/initrd.img\", memory_mb: 128}); vm_start(\"follow\");"
console=$work/state/vms/follow/console.log
"$herodo" -e 'try { vm_wait_console("follow", "NEVER_PRINTED_XYZ", 60); } catch (e) { print(e.kind); }' &
follower=$!
(for _ in $(seq 60); do { yes "a console line of about fifty bytes, repeated......" | head -n 10000 || true; } >>"$console"; sleep 1; done) &
writer=$!
samples=()
for _ in $(seq ${BENCH_FOLLOW_SAMPLES:-12}); do
    sleep 5
    samples+=("$(ps -o rss= -p "$follower" | tr -d ' ' || true)")
done
wait "$follower" || true
kill "$writer" 2>/dev/null || true
echo "herodo RSS (KiB) every 5 s: ${samples[*]}; console grew to $(($(stat -c %s "$console") / 1024 / 1024)) MiB"
"$herodo" -e 'vm_delete("follow");' >/dev/null
