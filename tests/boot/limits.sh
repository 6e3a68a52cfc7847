#!/bin/sh
# Runs as COMMAND of husk booted as the kernel's init, where cgroup v2 is whole: husk run
# with limits. Prints one line per finding; tests/boot.rs checks them.
set -u
mkdir -p /c/bin /c/proc /c/dev /c/sys /c/tmp
cp /bin/busybox /c/bin/
cp /test/memhog /c/bin/memhog
cp /test/forkbomb.sh /c/bin/forkbomb
for applet in sh cat ls true wc; do ln -s busybox /c/bin/$applet; done

# Memory: 10 MB steps are killed near the limit; exit 137 and husk's OOM line.
husk run --rootfs /c --memory 100M -- memhog 10 1000 >/tmp/out 2>/tmp/err
echo "m100 status $? last $(grep got /tmp/out | tail -n 1) err $(cat /tmp/err)"
husk run --rootfs /c --memory 10M -- memhog 10 1000 >/tmp/out 2>/tmp/err
echo "m10 status $? last $(grep got /tmp/out | tail -n 1) err $(cat /tmp/err)"
husk run --rootfs /c --memory 100M -- memhog 10 50 >/tmp/out 2>&1
echo "m50 status $? last $(tail -n 1 /tmp/out)"

# Inside, the container's group is the cgroup root and shows its own limits.
husk run --rootfs /c --memory 64M --pids-limit 20 -- sh -c \
    'echo "inside $(cat /proc/self/cgroup) max $(cat /sys/fs/cgroup/memory.max) swap $(cat /sys/fs/cgroup/memory.swap.max) pids $(cat /sys/fs/cgroup/pids.max)"'

# A fork bomb under --pids-limit 10 is contained and the container still ends with its
# status.
husk run --rootfs /c --pids-limit 10 -- forkbomb
echo "bomb status $?"

# --cpus 0.5: a busy loop for 2 s of wall time gets about half a CPU.
husk run --rootfs /c --cpus 0.5 -- sh -c '
    read up rest < /proc/uptime; start=${up%.*}${up#*.}
    now=$start
    while [ $((now - start)) -lt 200 ]; do read up rest < /proc/uptime; now=${up%.*}${up#*.}; done
    while read key value; do [ "$key" = usage_usec ] && usage=$value; done < /sys/fs/cgroup/cpu.stat
    echo "cpu wall_cs $((now - start)) usage_us $usage"'

# --stats against what the group said from inside at the end.
husk run --rootfs /c --memory 100M --stats -- sh -c \
    'memhog 10 30 >/dev/null; echo "peak inside $(cat /sys/fs/cgroup/memory.peak)"' 2>/tmp/err
echo "stats status $? $(cat /tmp/err)"

# The smallest --memory under which /bin/true still runs.
for m in 512k 384k 256k 224k 192k 160k 128k 64k; do
    if husk run --rootfs /c --memory $m -- /bin/true 2>/dev/null; then echo "tiny $m ok"; else echo "tiny $m failed $?"; fi
done

# Every container's group is gone afterwards (their parent, husk, stays).
echo "groups left $(ls /sys/fs/cgroup/husk | grep -c husk-)"

# husk exec joins a named container's cgroup (and sees its limits from inside).
husk run -d --name lim --rootfs /c --memory 64M -- /bin/sh -c 'while :; do read x < /proc/uptime; done' >/dev/null
echo "exec cgroup $(husk exec lim cat /proc/self/cgroup) max $(husk exec lim cat /sys/fs/cgroup/memory.max)"
echo "exec procs $(husk exec lim cat /sys/fs/cgroup/cgroup.procs | wc -l)"
husk kill lim KILL

# Root's private range (issue 14), which the host's own tree always gets: the limit holds in
# a user namespace, and husk exec lands in the same group, in the container's user namespace
# (the cgroup namespace joined from there). (Not --userns private with a --rootfs here: this
# kernel, 6.1, cannot idmap the initramfs's file system nor a tmpfs, only from 6.3.)
husk run -d --name plim --memory 64M -- /bin/sh -c 'while :; do read x < /proc/uptime; done' 2>&1 | sed "s/^/private start /"
echo "private exec cgroup $(husk exec plim cat /proc/self/cgroup 2>&1) max $(husk exec plim cat /sys/fs/cgroup/memory.max 2>&1) map $(husk exec plim cat /proc/self/uid_map 2>&1)"
echo "private exec procs $(husk exec plim cat /sys/fs/cgroup/cgroup.procs | wc -l)"
husk kill plim KILL
husk run --memory 10M -- /test/memhog 10 1000 >/tmp/out 2>/tmp/err
echo "private m10 status $? err $(cat /tmp/err)"
