#!/usr/bin/env bash
# Prepare a fresh Debian 12 machine for building, demoing and testing herodo.
# Idempotent: installs only what is missing. Run as root (or with sudo available).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*"; }

if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: cargo is not installed; install a Rust toolchain (rustup) first" >&2
    exit 1
fi

# Debian packages the test suites drive. Each entry: command-to-check:package.
need=(python3:python3 sh:dash sleep:coreutils)
missing=()
for entry in "${need[@]}"; do
    cmd=${entry%%:*} pkg=${entry##*:}
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    say "installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

say "building herodo"
cargo build --release --quiet
say "ready: $(./target/release/herodo --version)"
