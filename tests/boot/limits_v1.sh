#!/bin/sh
# Runs as COMMAND of husk booted as the kernel's init: takes down the cgroup2 hierarchy husk
# mounted at /sys/fs/cgroup, builds another layout by hand, then runs husk run with limits
# there. Prints one line per finding; tests/boot.rs checks them.
#   v1      pure cgroup v1 as systemd mounts it: memory, pids, cpu,cpuacct (co-mounted, with
#           cpu and cpuacct symlinks), no unified hierarchy.
#   hybrid  v1 memory at /sys/fs/cgroup/memory, cgroup2 at /sys/fs/cgroup/unified holding
#           pids and cpu.
set -u
mode=$1
cg=/sys/fs/cgroup
mkdir -p /c/bin /c/proc /c/dev /c/sys /c/tmp
cp /bin/busybox /c/bin/
cp /test/memhog /c/bin/memhog
for applet in sh cat ls true wc echo sleep touch; do ln -s busybox /c/bin/$applet; done
# forkbomb.sh with the directory of the pids files as its argument (v1 and v2 both have
# pids.current and pids.events).
cat >/c/bin/forkbomb <<'BOMB'
#!/bin/sh
bomb() { bomb | bomb & }
bomb 2>/dev/null
i=0; while [ $i -lt 20000 ]; do i=$((i + 1)); done
read current < $1/pids.current
read events < $1/pids.events
echo "bomb current $current events $events"
kill -9 -1 2>/dev/null
exit 4
BOMB
chmod 755 /c/bin/forkbomb

# A controller can move to a v1 hierarchy only while no group of the v2 one uses it: take
# it out of the root's subtree_control first (no child group exists yet).
v1_mount() { # CONTROLLERS
    mkdir $cg/$1 && mount -t cgroup -o $1 cgroup $cg/$1 || echo "FAIL mount $1"
}
case $mode in
v1)
    echo "-memory -pids -cpu" >$cg/cgroup.subtree_control
    umount $cg
    mount -t tmpfs -o mode=755 cgroup $cg
    v1_mount memory
    v1_mount cpu,cpuacct
    ln -s cpu,cpuacct $cg/cpu
    ln -s cpu,cpuacct $cg/cpuacct
    # pids is mounted below, once its absence has been tried.
    pids=$cg/pids cpu=$cg/cpu,cpuacct hierarchies="$cg/memory $cg/pids $cg/cpu,cpuacct"
    ;;
hybrid)
    echo "-memory" >$cg/cgroup.subtree_control
    umount $cg
    mount -t tmpfs -o mode=755 cgroup $cg
    mkdir $cg/unified
    mount -t cgroup2 cgroup2 $cg/unified
    echo "+pids +cpu" >$cg/unified/cgroup.subtree_control
    v1_mount memory
    pids=$cg/unified cpu=$cg/unified hierarchies="$cg/memory $cg/unified"
    ;;
esac
echo "layout $(cat /proc/self/cgroup | tr '\n' ' ')"

run() { # NAME HUSK-RUN-OPTIONS... -- COMMAND...: "NAME status S out STDOUT lines N err STDERR"
    name=$1; shift
    husk run --rootfs /c "$@" >/tmp/out 2>/tmp/err
    echo "$name status $? out $(cat /tmp/out) lines $(wc -l </tmp/err) err $(cat /tmp/err)"
}

if [ $mode = v1 ]; then
    # No pids hierarchy anywhere: 125 with one line, the command never runs, and the memory
    # group made before the failure is gone.
    run nopids --memory 64M --pids-limit 10 -- echo ran
    echo "nopids left $(ls $cg/memory/husk 2>/dev/null | grep -c husk-)"
    v1_mount pids
fi

# Memory: 10 MB steps are killed near the limit; exit 137 and husk's OOM line.
husk run --rootfs /c --memory 100M -- memhog 10 1000 >/tmp/out 2>/tmp/err
echo "m100 status $? last $(grep got /tmp/out | tail -n 1) err $(cat /tmp/err)"
husk run --rootfs /c --memory 100M -- memhog 10 50 >/tmp/out 2>&1
echo "m50 status $? last $(tail -n 1 /tmp/out)"

# Inside: every group is the cgroup root; /sys/fs/cgroup shows the container's own groups,
# read-only, with its limits. Swap: memsw where the kernel accounts swap, else swappiness.
swap='if [ -e /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes ]; then
        echo memsw $(cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes)
      else echo swappiness $(cat /sys/fs/cgroup/memory/memory.swappiness); fi'
husk run --rootfs /c --memory 64M --pids-limit 20 --cpus 0.5 -- sh -c "
    echo \"inside cgroup \$(cat /proc/self/cgroup | tr '\n' ' ')\"
    echo \"inside ls \$(ls /sys/fs/cgroup | tr '\n' ' ')\"
    echo \"inside memory \$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes) \$($swap)\"
    echo \"inside pids \$(cat $pids/pids.max)\"
    if [ $mode = v1 ]; then
        echo \"inside cpu \$(cat /sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us) \$(cat /sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us)\"
        echo \"inside cpulink \$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) acct \$(ls /sys/fs/cgroup/cpuacct/cpuacct.usage)\"
    else
        echo \"inside cpu \$(cat /sys/fs/cgroup/unified/cpu.max)\"
        echo \"inside v2 memory \$(ls /sys/fs/cgroup/unified | grep -cxE 'memory\.(max|current)')\"
    fi
    echo \"inside rofs memory \$(echo 1 2>&1 >/sys/fs/cgroup/memory/memory.limit_in_bytes)\"
    echo \"inside rofs pids \$(echo 1 2>&1 >$pids/pids.max)\""
echo "inside status $?"
husk run --rootfs /c --memory 64M --memory-swap 128M -- sh -c "echo \"swap128 \$($swap)\""
husk run --rootfs /c --memory 64M --memory-swap -1 -- sh -c "echo \"swapmax \$($swap)\""

# The host's view while a container runs: its groups are husk/husk-PID (PID: husk run's) in
# each hierarchy, holding the limits.
rm -f /c/ready /c/go
husk run --rootfs /c --memory 64M --pids-limit 20 --cpus 0.5 -- sh -c \
    'touch /ready; while [ ! -e /go ]; do sleep 0.1; done' &
pid=$!
while [ ! -e /c/ready ] && kill -0 $pid 2>/dev/null; do sleep 0.1; done
g=husk/husk-$pid
echo "host memory $(cat $cg/memory/$g/memory.limit_in_bytes) pids $(cat $pids/$g/pids.max)"
if [ $mode = v1 ]; then
    echo "host cpu $(cat $cpu/$g/cpu.cfs_quota_us) $(cat $cpu/$g/cpu.cfs_period_us)"
else
    echo "host cpu $(cat $cpu/$g/cpu.max) v2 memory $(ls $cg/unified/$g | grep -cxE 'memory\.(max|current)')"
fi
touch /c/go
wait $pid
echo "host status $?"

# SIGKILL of husk run: its container dies with it, and the next start with the same limits
# (the same parent groups) removes the dead one's groups.
rm -f /c/ready
husk run --rootfs /c --memory 64M --pids-limit 20 -- sh -c 'touch /ready; sleep 1000' &
pid=$!
while [ ! -e /c/ready ] && kill -0 $pid 2>/dev/null; do sleep 0.1; done
kill -KILL $pid
wait $pid
tries=0
while [ $tries -lt 100 ] && [ -n "$(cat $cg/memory/husk/husk-$pid/cgroup.procs)" ]; do
    sleep 0.1; tries=$((tries + 1))
done
named() { # how many hierarchies hold a group husk-$pid
    found=0
    for h in $hierarchies; do [ -d $h/husk/husk-$pid ] && found=$((found + 1)); done
    echo $found
}
echo "killed stale $(named)"
husk run --rootfs /c --memory 64M --pids-limit 20 -- true
echo "killed swept $(named)"

# husk exec lands in the container's groups: every line of its /proc/self/cgroup is the
# container's root there, and the memory group lists the init, the command, exec's helper
# and the cat.
husk run -d --name lim --rootfs /c --memory 64M --pids-limit 20 -- /bin/sh -c \
    'while :; do read x < /proc/uptime; done' >/dev/null
echo "exec cgroup $(husk exec lim cat /proc/self/cgroup | tr '\n' ' ')"
echo "exec procs $(husk exec lim cat /sys/fs/cgroup/memory/cgroup.procs | wc -l)"
husk kill lim KILL
# Its supervisor removes its groups once it has ended.
left() { # how many groups husk-* there are, in all hierarchies
    found=0
    for h in $hierarchies; do found=$((found + $(ls $h/husk | grep -c husk-))); done
    echo $found
}
tries=0
while [ $tries -lt 100 ] && [ $(left) != 0 ]; do sleep 0.1; tries=$((tries + 1)); done

# A fork bomb under --pids-limit 10 is contained and the container still ends with its
# status.
husk run --rootfs /c --pids-limit 10 -- forkbomb $pids
echo "bomb status $?"

# --cpus 0.5: a busy loop for 2 s of wall time gets about half a CPU.
if [ $mode = v1 ]; then
    usage='read ns < /sys/fs/cgroup/cpuacct/cpuacct.usage; usage=$((ns / 1000))'
else
    usage='while read key value; do [ "$key" = usage_usec ] && usage=$value; done < /sys/fs/cgroup/unified/cpu.stat'
fi
husk run --rootfs /c --cpus 0.5 -- sh -c '
    read up rest < /proc/uptime; start=${up%.*}${up#*.}
    now=$start
    while [ $((now - start)) -lt 200 ]; do read up rest < /proc/uptime; now=${up%.*}${up#*.}; done
    '"$usage"'
    echo "cpu wall_cs $((now - start)) usage_us $usage"'

# --stats against what the group said from inside at the end.
husk run --rootfs /c --memory 100M --stats -- sh -c \
    'memhog 10 30 >/dev/null; echo "peak inside $(cat /sys/fs/cgroup/memory/memory.max_usage_in_bytes)"' 2>/tmp/err
echo "stats status $? $(cat /tmp/err)"

# Every container's group is gone afterwards (their parents, husk, stay).
parents=0
for h in $hierarchies; do [ -d $h/husk ] && parents=$((parents + 1)); done
echo "groups left $(left) parents $parents"

if [ $mode = v1 ]; then
    # The pids hierarchy unmounted (it lives on, holding husk/): its empty directory on the
    # tmpfs is no cgroup, and husk must not write limits into it.
    umount $cg/pids
    run gone --pids-limit 10 -- echo ran
    echo "gone dir [$(ls $cg/pids)]"
fi
