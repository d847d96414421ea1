#!/usr/bin/env bash
# Build the offline test image localhost/busybox:test (busybox-static + an applet symlink each,
# minimal /etc/passwd and /etc/group) with buildah, from scratch: no registry is reachable here.
# Idempotent: does nothing when the image exists. Also loads it into a docker daemon when
# DOCKER_HOST is set and that daemon lacks it.
set -euo pipefail
IMAGE=localhost/busybox:test

if ! podman image exists "$IMAGE" 2>/dev/null; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    (cd "$work" && apt-get download -q busybox-static >/dev/null 2>&1) || {
        apt-get update -qq && (cd "$work" && apt-get download -q busybox-static >/dev/null)
    }
    dpkg-deb -x "$work"/busybox-static_*.deb "$work/root"
    ctr=$(buildah from scratch)
    mnt=$(buildah mount "$ctr")
    mkdir -p "$mnt/bin" "$mnt/etc" "$mnt/tmp" "$mnt/root" "$mnt/www"
    cp "$work/root/bin/busybox" "$mnt/bin/busybox"
    for applet in $("$work/root/bin/busybox" --list); do
        [ "$applet" = busybox ] || ln -sf busybox "$mnt/bin/$applet"
    done
    echo 'root:x:0:0:root:/root:/bin/sh' > "$mnt/etc/passwd"
    echo 'root:x:0:' > "$mnt/etc/group"
    chmod 1777 "$mnt/tmp"
    buildah umount "$ctr" >/dev/null
    # The default command keeps a container up, so `nerdctl_run(image)` has something to run.
    buildah config --cmd '["sleep", "86400"]' --env PATH=/bin --workingdir / "$ctr"
    buildah commit -q "$ctr" "$IMAGE" >/dev/null
    buildah rm "$ctr" >/dev/null
    echo "built $IMAGE"
fi

if [ -n "${DOCKER_HOST:-}" ] && command -v docker >/dev/null; then
    if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
        tar=$(mktemp --suffix=.tar)
        podman save -q -o "$tar" "$IMAGE"
        docker load -q -i "$tar" >/dev/null
        rm -f "$tar"
        echo "loaded $IMAGE into $DOCKER_HOST"
    fi
fi
