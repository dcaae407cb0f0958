#!/bin/sh
# /init of the l2hub test guest. It mounts the kernel file systems, loads the
# NIC modules build.sh packed (in dependency order), and hands over to the
# agent /bin/l2guest, which reads its l2.* settings from /proc/cmdline and
# prints the GUEST: markers. When the agent returns, the guest powers off
# (QEMU runs with -no-reboot, so any exit path ends the QEMU process), unless
# l2.exit=shell (interactive debugging) or l2.exit=reboot.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1

while read -r m; do
	insmod "/lib/modules/$m.ko" || echo "GUEST: init insmod $m failed"
done </lib/modules/order

/bin/l2guest || echo "GUEST: done FAIL agent exited with status $?"

exitmode=poweroff
for a in $(cat /proc/cmdline); do
	case "$a" in
	l2.exit=*) exitmode=${a#*=} ;;
	esac
done
case "$exitmode" in
shell) exec sh ;;
reboot) reboot -f ;;
*) poweroff -f ;;
esac
sleep 5
