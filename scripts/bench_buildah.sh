#!/usr/bin/env bash
# buildah benchmark (issue 5): build the busybox image from scratch with the same buildah steps,
# once from a shell script and once from a herodo script, ROUNDS times each, alternating.
# Needs localhost/busybox:test (scripts/test-image.sh) to take the busybox binary from.
set -euo pipefail
cd "$(dirname "$0")/.."
HERODO=${HERODO:-target/release/herodo}
ROUNDS=${ROUNDS:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The busybox binary, out of the test image.
src=$(buildah from localhost/busybox:test)
cp "$(buildah mount "$src")/bin/busybox" "$work/busybox"
buildah umount "$src" >/dev/null
buildah rm "$src" >/dev/null
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$work/passwd"

now() { date +%s.%N; }
ms() { python3 -c "print(f'{($2 - $1) * 1000:.0f}')"; }

shell_build() {
    local c
    c=$(buildah from --name bench-sh scratch)
    buildah copy "$c" "$work/busybox" /bin/busybox >/dev/null
    buildah run --isolation chroot "$c" -- /bin/busybox --install -s /bin
    buildah copy "$c" "$work/passwd" /etc/passwd >/dev/null
    buildah config --env PATH=/bin --cmd '["sh"]' --label built-by=shell "$c"
    buildah commit -q "$c" localhost/bench-sh:1 >/dev/null
    buildah rm "$c" >/dev/null
}

herodo_build() {
    $HERODO -e "
        let b = bah_new(\"bench-h\", \"scratch\");
        b.copy(\"$work/busybox\", \"/bin/busybox\");
        b.run_with_isolation([\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"], \"chroot\");
        b.write_content(file_read(\"$work/passwd\"), \"/etc/passwd\");
        b.config(#{env: \"PATH=/bin\", cmd: [\"sh\"], label: \"built-by=herodo\"});
        b.commit(\"localhost/bench-h:1\");
        b.remove();"
}

ratios=()
for r in $(seq 1 "$ROUNDS"); do
    t0=$(now); shell_build; t1=$(now); s=$(ms "$t0" "$t1")
    t0=$(now); herodo_build; t1=$(now); h=$(ms "$t0" "$t1")
    ratio=$(python3 -c "print(f'{$h / $s:.3f}')")
    ratios+=("$ratio")
    echo "round $r: shell ${s} ms, herodo ${h} ms, ratio $ratio"
    buildah rmi -f localhost/bench-sh:1 localhost/bench-h:1 >/dev/null
done
echo "median ratio herodo/shell over $ROUNDS rounds: $(printf '%s\n' "${ratios[@]}" | sort -n | sed -n "$(((ROUNDS + 1) / 2))p")"
