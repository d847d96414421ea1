#!/usr/bin/env bash
# Prepare a fresh Debian 12 machine for building, demoing and testing herodo.
# Idempotent: installs only what is missing. Run as root (or with sudo available).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*"; }
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: cargo is not installed; install a Rust toolchain (rustup) first" >&2
    exit 1
fi

# Debian packages the tests drive. Each entry: command-to-check:package.
need=(
    python3:python3 sh:dash sleep:coreutils
    podman:podman runc:runc buildah:buildah skopeo:skopeo umoci:umoci
    dockerd:docker.io docker-registry:docker-registry
    sshd:openssh-server ssh:openssh-client tmux:tmux
    ip:iproute2 iptables:iptables crun:crun openssl:openssl
)
missing=()
for entry in "${need[@]}"; do
    cmd=${entry%%:*} pkg=${entry##*:}
    command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# podman on these hosts (no systemd, cgroup v1 "hybrid", no CAP_SYS_RESOURCE) needs runc,
# cgroupfs, file events and ulimits the host allows.
conf=/etc/containers/containers.conf
if [ ! -f "$conf" ]; then
    say "writing $conf"
    $SUDO mkdir -p /etc/containers
    $SUDO tee "$conf" >/dev/null <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
elif ! grep -q 'runtime *= *"runc"' "$conf"; then
    echo "setup: warning: $conf exists without runtime = \"runc\"; podman may fail on this host" >&2
fi

say "test image"
./scripts/test-image.sh

say "building herodo"
cargo build --release --quiet
say "ready: $(./target/release/herodo --version)"
