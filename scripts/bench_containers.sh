#!/usr/bin/env bash
# Container benchmarks (issue 4).
#  1. herodo's overhead over the bare CLI: build() + remove() of 20 containers from a script
#     versus a shell loop of `run -d` + `rm`, in alternating rounds (median ratio reported).
#  2. wait_healthy latency. The check passes once /tmp/ready exists (touched 2 s after start).
#     Measured from the end of the first passing check in the engine's health log (when the
#     engine records "healthy") and, stricter, from the file's mtime: on podman herodo runs the
#     checks itself, so that figure includes one whole `podman healthcheck run` (~120 ms here).
# Usage: scripts/bench_containers.sh [podman|docker]   (docker: DOCKER_HOST must point at a
# daemon that has localhost/busybox:test, see scripts/test-image.sh). ROUNDS=N changes rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
ENGINE=${1:-podman}
HERODO=${HERODO:-target/release/herodo}
ROUNDS=${ROUNDS:-5}
N=20
IMG=localhost/busybox:test
rmflags="-f"
[ "$ENGINE" = podman ] && rmflags="-f -t 0"

now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{($2 - $1) * 1000:.0f}')"; }

# Leftovers of an interrupted run would collide with the names used here.
$HERODO --engine "$ENGINE" -e 'nerdctl_cleanup("bench-");' >/dev/null
# Warm up the engine (first runs pay for caches).
$ENGINE run -d --name bench-warm $IMG >/dev/null && $ENGINE rm $rmflags bench-warm >/dev/null

ratios=()
for round in $(seq 1 "$ROUNDS"); do
    t0=$(now)
    for i in $(seq 1 $N); do
        $ENGINE run -d --name bench-sh-$i --label herodo.owner=herodo $IMG >/dev/null
        $ENGINE rm $rmflags bench-sh-$i >/dev/null
    done
    t1=$(now)
    sh_ms=$(elapsed "$t0" "$t1")
    t0=$(now)
    $HERODO --engine "$ENGINE" -e "
        for i in 1..=$N {
            let c = nerdctl_container_from_image(\`bench-h-\${i}\`, \"$IMG\").build();
            c.remove();
        }"
    t1=$(now)
    h_ms=$(elapsed "$t0" "$t1")
    r=$(python3 -c "print(f'{$h_ms / $sh_ms:.3f}')")
    ratios+=("$r")
    echo "$ENGINE round $round: $N x (run -d + rm): shell ${sh_ms} ms, herodo ${h_ms} ms, ratio $r"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | sed -n "$(((ROUNDS + 1) / 2))p")
echo "$ENGINE: median ratio herodo/shell over $ROUNDS rounds: $median"

$HERODO --engine "$ENGINE" -e "
fn ms_of(stamp) {
    let ns = cmd([\"date\", \"-d\", stamp, \"+%s%N\"]).stdout;
    ns.trim();
    ns.parse_int() / 1000000
}
let after_check = [];
let after_ready = [];
for i in 0..7 {
    let c = nerdctl_container_from_image(\`bench-health-\${i}\`, \"$IMG\")
        .with_cmd([\"sh\", \"-c\", \"sleep 2; touch /tmp/ready; exec sleep 300\"]).with_init(true)
        .with_health_check_options(\"test -f /tmp/ready\", \"200ms\", \"2s\", 1, \"\")
        .build();
    c.wait_healthy(30);
    let back = timestamp_ms();
    let stamp = c.exec(\"stat -c %y /tmp/ready\").stdout;
    stamp.trim();
    let log = parse_json(cmd([container_engine(), \"inspect\", c.name]).stdout)[0].State.Health.Log;
    let ok = log.filter(|e| e.ExitCode == 0)[0].End;
    after_check.push(back - ms_of(ok));
    after_ready.push(back - ms_of(stamp));
    c.remove();
}
after_check.sort();
after_ready.sort();
print(\`$ENGINE: wait_healthy latency after the engine marked it healthy (ms, 7 runs): \${after_check}\`);
print(\`$ENGINE: wait_healthy latency after the check condition became true (ms, 7 runs): \${after_ready}\`);
"
