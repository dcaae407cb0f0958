#!/bin/bash
# Build the l2hub end-to-end test guest: a Debian kernel and a small initramfs
# (busybox-static, the virtio-net modules, /init and the static agent
# cmd/l2guest). See e2e/README.md.
#
#   e2e/guest/build.sh OUTDIR
#
# Writes OUTDIR/vmlinuz, OUTDIR/initramfs.cpio.gz, OUTDIR/manifest.txt and
# OUTDIR/l2guest (the agent, also runnable on the host).
# The unpacked kernel package stays in OUTDIR/kernel/PKG and is reused; the
# initramfs is only repacked when its contents changed, so a second build
# costs one (cached) go build.
#
# Nothing is installed on the host: the kernel .deb is fetched with
# `apt-get download` and unpacked with `dpkg-deb -x`.
#
# Environment:
#   KERNEL_PKG  Debian kernel package (default linux-image-cloud-amd64: LZ4,
#               boots in ~2.4 s under TCG; linux-image-amd64 also works)
#   KERNEL_DIR  use this root (boot/vmlinuz-*, lib/modules/*) instead of
#               downloading, e.g. / for the host's installed kernel
#   BUSYBOX     static busybox binary (default /bin/busybox)
#   GO          go command (default go)
#   SOURCE_DATE_EPOCH  every file's mtime in the initramfs (default 0)
#
# The initramfs is byte-reproducible: the same staged files give the same
# initramfs.cpio.gz. The kernel is whatever KERNEL_PKG resolves to today;
# pin it with a versioned name (KERNEL_PKG=linux-image-6.1.0-57-cloud-amd64).
# manifest.txt records the kernel, its .deb's SHA-256 and busybox's version.
set -Eeuo pipefail
# The staged files' modes follow the umask and go into the initramfs.
umask 022

# Every failure says so: set -e alone would end the script silently.
died=
die() {
	died=1
	echo "build.sh: $*" >&2
	exit 1
}
trap 'failed="line $LINENO: $BASH_COMMAND"' ERR
trap 'rc=$?; [ -z "${stage:-}" ] || rm -rf "$stage"
[ "$rc" = 0 ] || [ -n "$died" ] || echo "build.sh: failed (exit status $rc) at ${failed:-an unknown line}" >&2' EXIT

out=${1:?usage: build.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd) # the l2hub module
KERNEL_PKG=${KERNEL_PKG:-linux-image-cloud-amd64}
BUSYBOX=${BUSYBOX:-/bin/busybox}
GO=${GO:-go}
# virtio-net-pci needs these; their dependencies are resolved from the
# modules' own .modinfo, so the list survives kernel updates.
WANT_MODULES="virtio_pci virtio_net"

mkdir -p "$out"
out=$(cd "$out" && pwd)
# Concurrent test runs share OUTDIR: one builds, the others wait and reuse.
exec 9>"$out/.lock"
flock 9

command -v "$GO" >/dev/null || die "$GO not found"
[ -x "$BUSYBOX" ] || die "$BUSYBOX missing: apt-get install busybox-static"
command -v cpio >/dev/null || die "cpio not found: apt-get install cpio"
if LC_ALL=C readelf -l "$BUSYBOX" 2>/dev/null | grep INTERP >/dev/null; then
	die "$BUSYBOX is dynamically linked: apt-get install busybox-static"
fi

# --- kernel -------------------------------------------------------------------

# resolve_pkg prints the versioned image package behind a meta package
# (linux-image-cloud-amd64 -> linux-image-6.1.0-56-cloud-amd64), using the
# local apt cache only.
resolve_pkg() {
	if apt-cache show "$1" 2>/dev/null | grep '^Filename: .*/linux-image-[0-9]' >/dev/null; then
		echo "$1"
		return
	fi
	apt-cache depends "$1" 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\).*/\1/p' | head -n1
}

if [ -z "${KERNEL_DIR:-}" ]; then
	pkg=$(resolve_pkg "$KERNEL_PKG" || true)
	if [ -z "$pkg" ]; then
		# No apt metadata (offline, or not Debian): fall back to a cached
		# kernel, a directory but not one half unpacked (.tmp).
		KERNEL_DIR=$(ls -d "$out"/kernel/linux-image-*/ 2>/dev/null | sed 's:/$::' |
			grep -v '\.tmp$' | sort -V | tail -n1 || true)
		[ -n "$KERNEL_DIR" ] || die "cannot resolve $KERNEL_PKG (and no kernel cached in $out/kernel): run apt-get update"
	else
		KERNEL_DIR=$out/kernel/$pkg
		if ! ls "$KERNEL_DIR"/boot/vmlinuz-* >/dev/null 2>&1; then
			dl=$(mktemp -d)
			if ! (cd "$dl" && apt-get download "$pkg" >"$dl/log" 2>&1); then
				cat "$dl/log" >&2
				die "apt-get download $pkg failed"
			fi
			mkdir -p "$out/kernel"
			rm -rf "$KERNEL_DIR.tmp"
			dpkg-deb -x "$dl"/*.deb "$KERNEL_DIR.tmp"
			# The hash lives in the tree it describes.
			sha256sum "$dl"/*.deb | cut -d' ' -f1 >"$KERNEL_DIR.tmp/.deb.sha256"
			rm -rf "$dl" "$KERNEL_DIR"
			mv "$KERNEL_DIR.tmp" "$KERNEL_DIR"
		fi
	fi
fi
vmlinuz=$(ls "$KERNEL_DIR"/boot/vmlinuz-* 2>/dev/null | sort -V | tail -n1 || true)
[ -n "$vmlinuz" ] || die "no boot/vmlinuz-* under $KERNEL_DIR"
kver=${vmlinuz##*/vmlinuz-}
moddir=$KERNEL_DIR/lib/modules/$kver/kernel
# Known only for a .deb this script downloaded (not for a KERNEL_DIR given,
# nor for one unpacked before it kept the hash).
deb_sha256=$(cat "$KERNEL_DIR/.deb.sha256" 2>/dev/null || echo unknown)
busybox_version=$("$BUSYBOX" 2>/dev/null | head -n1 || true)
epoch=${SOURCE_DATE_EPOCH:-0}

# --- initramfs ------------------------------------------------------------------

stage=$(mktemp -d)
mkdir -p "$stage"/{bin,dev,proc,sys,tmp,lib/modules}
cp "$BUSYBOX" "$stage/bin/busybox"
for a in $("$BUSYBOX" --list); do
	[ "$a" = busybox ] || ln -s busybox "$stage/bin/$a"
done
install -m 0755 "$here/init.sh" "$stage/init"

# Modules go in load order (dependencies first) into lib/modules, listed in
# lib/modules/order for /init. A module that is built in has no .ko: skipped.
declare -A seen=()
order=()
add_module() {
	local m=$1 f dep
	[ -z "${seen[$m]:-}" ] || return 0
	seen[$m]=1
	f=$(find "$moddir" -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" | head -n1)
	[ -n "$f" ] || return 0
	case "$f" in
	*.xz) xz -dc "$f" >"$stage/lib/modules/$m.ko" ;;
	*.zst) zstd -qdc "$f" >"$stage/lib/modules/$m.ko" ;;
	*) cp "$f" "$stage/lib/modules/$m.ko" ;;
	esac
	for dep in $(tr '\0' '\n' <"$stage/lib/modules/$m.ko" | sed -n 's/^depends=//p' | tr , ' '); do
		add_module "$dep"
	done
	order+=("$m")
}
for m in $WANT_MODULES; do
	add_module "$m"
done
printf '%s\n' "${order[@]}" >"$stage/lib/modules/order"

# No -trimpath: it would recompile the standard library just for the guest;
# the agent is still the same bytes for the same tree on the same machine.
(cd "$root" && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 \
	"$GO" build -ldflags='-s -w' -o "$stage/bin/l2guest" ./cmd/l2guest)

# The host can run the static agent too: `l2guest -checks` tells the e2e
# suite which checks this build has.
cp "$stage/bin/l2guest" "$out/l2guest.tmp"
mv "$out/l2guest.tmp" "$out/l2guest"

# Repack only when something changed: the digest covers every staged file
# (names, modes, contents) and the kernel.
sum=$(cd "$stage" && {
	find . -mindepth 1 -printf '%p %m %l\n' | LC_ALL=C sort
	find . -type f | LC_ALL=C sort | xargs sha256sum
	sha256sum "$vmlinuz" | cut -d' ' -f1
	echo "epoch=$epoch archive=gnu-cpio-reproducible-1" # a new packer repacks old caches
} | sha256sum | cut -d' ' -f1)
if [ -f "$out/manifest.txt" ] && grep -qx "inputs=$sum" "$out/manifest.txt" &&
	[ -f "$out/initramfs.cpio.gz" ] && [ -f "$out/vmlinuz" ]; then
	cat "$out/manifest.txt"
	exit 0
fi

cp "$vmlinuz" "$out/vmlinuz.tmp"
# GNU cpio stores each file's mtime, owner and (without --reproducible)
# inode and device: every mtime is $epoch, the owner 0:0, inodes are
# numbered in the sorted order and device numbers left out.
find "$stage" -exec touch -h -d "@$epoch" {} +
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
	cpio -o -H newc -R 0:0 --reproducible --quiet) |
	gzip -6 -n >"$out/initramfs.cpio.gz.tmp"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
mv "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
{
	echo "kernel=$kver"
	echo "kernel_dir=$KERNEL_DIR"
	echo "kernel_deb_sha256=$deb_sha256"
	echo "busybox=$busybox_version"
	echo "source_date_epoch=$epoch"
	echo "modules=${order[*]}"
	echo "vmlinuz_bytes=$(stat -c %s "$out/vmlinuz")"
	echo "initramfs_bytes=$(stat -c %s "$out/initramfs.cpio.gz")"
	echo "l2guest_bytes=$(stat -c %s "$stage/bin/l2guest")"
	echo "inputs=$sum"
} >"$out/manifest.txt.tmp"
mv "$out/manifest.txt.tmp" "$out/manifest.txt"
cat "$out/manifest.txt"
