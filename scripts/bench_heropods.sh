#!/usr/bin/env bash
# heropods benchmark (issue 13): daemonless containers on runc versus podman, same image, same
# host, the two interleaved iteration by iteration so that both see the same load.
#  1. create-and-start until the container runs: heropods `container_new(...).start()` (timed
#     inside the script: what a herodo script pays) versus `podman run -d`;
#  2. the full cycle: heropods create+start, exec, stop, delete versus `podman run -d`,
#     `podman exec`, `podman rm -f`;
#  3. the floor: a bare `runc run -d` of a bundle heropods prepared (nothing keeps the kernel's
#     cgroup-migration lock warm for it, as heropods' start does: see src/heropods/warm.rs).
# Medians of N (default 20) runs, and their ratios. Both containers run a PID 1 that exits on
# SIGTERM, on a bridge network. Also shows the whole `herodo -e` process per iteration (start-up
# of herodo included). Usage: cargo build --release && scripts/bench_heropods.sh
set -euo pipefail
cd "$(dirname "$0")/.."
HERODO=${HERODO:-target/release/herodo}
N=${N:-20}
IMG=localhost/busybox:test
CMD='trap "exit 0" TERM; sleep 86400 & wait'
work=$(mktemp -d /tmp/herodo-bench-hp.XXXXXX)
base=$work/pods
export HERODO_STATE_DIR=$work/state
podman_names=()

cleanup() {
    for n in "${podman_names[@]}"; do podman rm -f -t 0 "$n" >/dev/null 2>&1 || true; done
    "$HERODO" -e "let p = heropods_new(#{base_dir: \"$base\"}); for s in p.list() { p.get(s.name).delete(); }" >/dev/null 2>&1 || true
    runc --root "$work/floor-root" delete -f hp-floor >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

now_ns() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

[ -x "$HERODO" ] || { echo "build first: cargo build --release" >&2; exit 1; }
./scripts/test-image.sh >/dev/null

# Warm-up: unpack the image into the cache once, create the bridge, warm podman.
"$HERODO" -e "let p = heropods_new(#{base_dir: \"$base\"});
    let c = p.container_new(#{name: \"warm\", image: \"$IMG\"}).start(); c.delete();"
podman_names+=(hpbench-warm)
podman run -d --name hpbench-warm $IMG sh -c "$CMD" >/dev/null
podman rm -f hpbench-warm >/dev/null

hp_start=() hp_cycle=() hp_proc=() pm_start=() pm_cycle=()
for i in $(seq 1 "$N"); do
    name=hpbench-$i
    podman_names+=("$name")
    # podman leaves cleanup processes (conmon, `podman container cleanup`) running after rm;
    # let each side finish before the other is timed.
    sleep 0.5
    t0=$(now_ns)
    podman run -d --name "$name" $IMG sh -c "$CMD" >/dev/null
    t1=$(now_ns)
    podman exec "$name" true
    podman rm -f "$name" >/dev/null
    t2=$(now_ns)
    pm_start+=($(( (t1 - t0) / 1000 )))
    pm_cycle+=($(( (t2 - t0) / 1000 )))
    sleep 0.5

    t0=$(now_ns)
    read -r s c < <("$HERODO" -e "
        let p = heropods_new(#{base_dir: \"$base\"});
        let t0 = timestamp_ms();
        let c = p.container_new(#{name: \"hp-$i\", image: \"$IMG\", cmd: [\"sh\", \"-c\", \`$CMD\`]}).start();
        let t1 = timestamp_ms();
        c.exec([\"true\"]);
        c.stop(10);
        c.delete();
        let t2 = timestamp_ms();
        print(\`\${t1 - t0} \${t2 - t0}\`);")
    t1=$(now_ns)
    hp_start+=($((s * 1000)))
    hp_cycle+=($((c * 1000)))
    hp_proc+=($(( (t1 - t0) / 1000 )))
done

# The floor: runc alone on a bundle heropods prepared (config.json, mounted rootfs, netns).
"$HERODO" -e "let p = heropods_new(#{base_dir: \"$base\"});
    p.container_new(#{name: \"floor\", image: \"$IMG\", cmd: [\"sh\", \"-c\", \`$CMD\`]}).start().stop(10);"
floor=()
for i in $(seq 1 "$N"); do
    t0=$(now_ns)
    runc --root "$work/floor-root" run -d --bundle "$base/containers/floor" hp-floor </dev/null >/dev/null 2>&1
    t1=$(now_ns)
    runc --root "$work/floor-root" delete -f hp-floor
    floor+=($(( (t1 - t0) / 1000 )))
done

ms() { awk '{printf "%.1f", $1 / 1000}'; }
m_hs=$(printf '%s\n' "${hp_start[@]}" | median)
m_hc=$(printf '%s\n' "${hp_cycle[@]}" | median)
m_hp=$(printf '%s\n' "${hp_proc[@]}" | median)
m_ps=$(printf '%s\n' "${pm_start[@]}" | median)
m_pc=$(printf '%s\n' "${pm_cycle[@]}" | median)
m_fl=$(printf '%s\n' "${floor[@]}" | median)
echo "medians of $N ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)):"
echo "  create+start to running: heropods $(echo "$m_hs" | ms) ms, podman run -d $(echo "$m_ps" | ms) ms," \
     "podman/heropods = $(awk -v a="$m_ps" -v b="$m_hs" 'BEGIN {printf "%.1f", a / b}')x"
echo "  start/exec/stop/delete:  heropods $(echo "$m_hc" | ms) ms, podman run/exec/rm -f $(echo "$m_pc" | ms) ms," \
     "podman/heropods = $(awk -v a="$m_pc" -v b="$m_hc" 'BEGIN {printf "%.1f", a / b}')x"
echo "  floor, bare runc run -d of a prepared bundle: $(echo "$m_fl" | ms) ms" \
     "(heropods start = $(awk -v a="$m_hs" -v b="$m_fl" 'BEGIN {printf "%.1f", a / b}')x the floor)"
echo "  whole herodo -e process per cycle (start-up included): $(echo "$m_hp" | ms) ms"
