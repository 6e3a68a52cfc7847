#!/bin/sh
# Runs as COMMAND of husk booted as the kernel's init: `husk run` inside the VM, whose root
# is the initramfs (pivot_root refuses it, so husk falls back to move-mount + chroot).
set -u
mkdir -p /c/bin /c/proc /c/dev /c/sys /c/tmp
cp /bin/busybox /c/bin/
for applet in sh ps ls cat hostname grep mkdir chroot; do ln -s busybox /c/bin/$applet; done
husk run --rootfs /c --hostname box -- sh -c 'echo "inside pid $$ host $(hostname) procs $(ps -o pid | wc -l)"; ls /c 2>&1 | head -1; exit 6'
echo "run status $?"
# In the chroot, CAP_SYS_CHROOT (bit 18) is gone from the default set: no climbing out.
husk run --rootfs /c -- sh -c 'grep CapBnd /proc/self/status; mkdir -p /x; chroot /x /bin/sh 2>&1 | head -1'
husk run -- sh -c 'echo "default root $(cat /etc/hostname)"; touch /etc/x 2>&1'
echo "run status $?"
# The initramfs itself as the rootfs, however spelt: writable, entered by move-mount +
# chroot (it cannot be attached over itself); a mount point made there goes after the run.
cd / && husk run --rootfs / --tmpfs /made -- sh -c 'echo "slash root $(cat /etc/hostname)"; touch /from-slash'
echo "slash status $? $(ls /from-slash) made $(ls -d /made 2>&1)"
cd /c && husk run --rootfs . -- sh -c 'echo "dot root $(ls /bin/busybox)"'
