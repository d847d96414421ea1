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
    chromium:chromium
    curl:curl rsync:rsync ping:iputils-ping unzip:unzip
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

# QEMU for the VM tests. bookworm's qemu-system-x86 (7.2) would REMOVE the preinstalled
# qemu-utils 10.0.2 (qemu-img); bookworm-backports has the matching 10.0.2. /etc/apt has no
# backports line, so a private sources list and lists directory are used, leaving the system's
# apt configuration as it is.
if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
    say "installing qemu-system-x86 from bookworm-backports"
    apt_dir=/var/cache/herodo-apt
    $SUDO mkdir -p "$apt_dir/lists/partial"
    printf '%s\n' \
        'deb http://deb.debian.org/debian bookworm main' \
        'deb http://deb.debian.org/debian bookworm-updates main' \
        'deb http://deb.debian.org/debian-security bookworm-security main' \
        'deb http://deb.debian.org/debian bookworm-backports main' |
        $SUDO tee "$apt_dir/sources.list" >/dev/null
    apt_opts=(-o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o Dir::Etc::sourceparts=/nonexistent
        -o "Dir::State::Lists=$apt_dir/lists")
    $SUDO apt-get "${apt_opts[@]}" update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get "${apt_opts[@]}" install -y -qq \
        --no-install-recommends -t bookworm-backports qemu-system-x86 >/dev/null
fi
command -v qemu-img >/dev/null 2>&1 || { echo "setup: qemu-img is missing (qemu-utils)" >&2; exit 1; }

# virtiofsd (shared folders for VMs) is in no Debian 12 package: cargo builds it (~2 min).
if ! command -v virtiofsd >/dev/null 2>&1 && [ ! -x /usr/libexec/virtiofsd ]; then
    if ! dpkg -s libseccomp-dev libcap-ng-dev >/dev/null 2>&1; then
        say "installing libseccomp-dev libcap-ng-dev (for virtiofsd)"
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libseccomp-dev libcap-ng-dev >/dev/null
    fi
    say "installing virtiofsd (cargo install)"
    cargo install --locked --quiet virtiofsd
fi

say "VM test guest"
./scripts/vm-guest.sh >/dev/null

# The original herodo's crates: tests/it/compat.rs runs their process, os, net, text, nerdctl and
# buildah scripts, tests/it/cloudhv.rs two of the cloudhv ones. `cargo info` puts each .crate
# file in cargo's registry cache.
say "original herodo's scripts (cargo info)"
for c in herolib-os@0.3.13 herolib-core@0.3.13 herolib-virt@0.3.13 herolib-do@0.3.12; do
    (cd /tmp && cargo info "$c" >/dev/null 2>&1) || echo "setup: cargo info $c failed" >&2
done

say "test image"
./scripts/test-image.sh

say "building herodo"
cargo build --release --quiet
say "ready: $(./target/release/herodo --version)"
