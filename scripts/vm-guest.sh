#!/usr/bin/env bash
# Build the bootable test guest for herodo's VM tests, offline once the packages are fetched:
# the kernel of Debian's cloud flavour (the package linux-image-cloud-amd64 depends on,
# unpacked with dpkg -x, not installed) and a busybox initramfs whose /init
#   - prints HERODO_GUEST_READY on the serial console,
#   - if /dev/vda exists, prints what its first bytes held (HERODO_DISK_BEFORE=[...]) and
#     writes `herodo-disk-ok` there (HERODO_DISK_WRITTEN),
#   - if the kernel command line has herodo.share=TAG, mounts that virtiofs tag on /mnt and
#     writes /mnt/from-guest.txt (HERODO_SHARE_WRITTEN; HERODO_SHARE_NOT_WRITTEN when the
#     write fails, as on a read-only share),
#   - powers off when the power button is pressed (QMP system_powerdown), unless the command
#     line has herodo.nobutton (then it ignores the button, as a hung guest would).
# Usage: vm-guest.sh [DIR]   (default: $HERODO_VM_GUEST_DIR, else target/vm-guest)
# Prints DIR, which then holds vmlinuz and initrd.img. Cached: a second run does nothing
# unless this script changed (DIR/stamp holds its checksum).
set -euo pipefail
stamp=$(sha256sum "$0" | cut -c1-16)
cd "$(dirname "$0")/.."
out=${1:-${HERODO_VM_GUEST_DIR:-$PWD/target/vm-guest}}
mkdir -p "$out"
# One build at a time (tests ask for the guest in parallel).
exec 9>"$out/.lock"
flock 9
if [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.img" ] && [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then
    echo "$out"
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n1)
if [ -z "$kpkg" ] || ! apt-cache show busybox-static >/dev/null 2>&1; then
    apt-get update -qq
    kpkg=$(apt-cache depends linux-image-cloud-amd64 |
        sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n1)
fi
if ! apt-get download -qq "$kpkg" busybox-static >/dev/null 2>&1; then
    apt-get update -qq
    apt-get download -qq "$kpkg" busybox-static >/dev/null
fi
dpkg -x linux-image-*.deb kernel
dpkg -x busybox-static_*.deb bb
kver=$(ls kernel/lib/modules)
mods=kernel/lib/modules/$kver/kernel

root=initramfs
mkdir -p "$root"/{bin,dev,proc,sys,mnt,lib/modules}
cp bb/bin/busybox "$root/bin/busybox"
# Modules in load order (dependencies first); missing ones are skipped by /init.
for m in drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_legacy_dev \
    drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci drivers/block/virtio_blk \
    drivers/acpi/button drivers/input/evdev fs/fuse/fuse fs/fuse/virtiofs; do
    for f in "$mods/$m.ko" "$mods/$m.ko.xz"; do
        if [ -f "$f" ]; then
            case $f in
            *.xz) xz -dc "$f" >"$root/lib/modules/$(basename "$m").ko" ;;
            *) cp "$f" "$root/lib/modules/" ;;
            esac
        fi
    done
done
cat >"$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk \
    button evdev fuse virtiofs; do
    [ -f /lib/modules/$m.ko ] && insmod /lib/modules/$m.ko 2>/dev/null
done
sleep 0.2
if [ -b /dev/vda ]; then
    before=$(dd if=/dev/vda bs=32 count=1 2>/dev/null | tr -cd 'a-z-')
    echo "HERODO_DISK_BEFORE=[$before]"
    printf 'herodo-disk-ok' | dd of=/dev/vda conv=notrunc 2>/dev/null
    sync
    echo HERODO_DISK_WRITTEN
fi
nobutton=
for w in $(cat /proc/cmdline); do
    case $w in
    herodo.nobutton) nobutton=1 ;;
    herodo.share=*)
        tag=${w#herodo.share=}
        if mount -t virtiofs "$tag" /mnt; then
            if echo "written by the guest" >/mnt/from-guest.txt 2>/dev/null; then
                sync
                echo HERODO_SHARE_WRITTEN
            else
                echo HERODO_SHARE_NOT_WRITTEN
            fi
        fi
        ;;
    esac
done
# The power button's event device is opened here, before the marker, so a press right after
# the marker is queued even before the background reader runs (TCG schedules it late).
pb=
for d in /sys/class/input/event*; do
    grep -q "Power Button" "$d/device/name" 2>/dev/null && pb=/dev/input/${d##*/}
done
if [ -n "$pb" ] && [ -z "$nobutton" ]; then
    exec 3<"$pb"
    (dd bs=24 count=1 of=/dev/null <&3 2>/dev/null; echo HERODO_POWEROFF; sync; poweroff -f) &
fi
echo HERODO_GUEST_READY
while true; do sleep 3600; done
INIT
chmod +x "$root/init"
(cd "$root" && find . | ../bb/bin/busybox cpio -o -H newc 2>/dev/null | gzip -9) >initrd.img
cp kernel/boot/vmlinuz-* vmlinuz
mv initrd.img "$out/initrd.img.tmp"
mv vmlinuz "$out/vmlinuz.tmp"
mv "$out/initrd.img.tmp" "$out/initrd.img"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
echo "$stamp" >"$out/stamp"
echo "$out"
