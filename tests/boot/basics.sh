#!/bin/sh
# Runs as COMMAND of husk booted as the kernel's init. Prints "ok NAME" for each check that
# holds and "FAIL NAME: detail" for each that does not, then exits with status $1.

check() { # NAME COMMAND...
    name=$1; shift
    if "$@" >/dev/null 2>&1; then echo "ok $name"; else echo "FAIL $name: $*"; fi
}
mounted() { # TARGET FSTYPE
    awk -v t="$1" -v f="$2" '$2 == t && $3 == f { found = 1 } END { exit !found }' /proc/mounts
}

check proc mounted /proc proc
check sysfs mounted /sys sysfs
check devtmpfs mounted /dev devtmpfs
check devpts mounted /dev/pts devpts
check "/dev/shm tmpfs" mounted /dev/shm tmpfs
check "/run tmpfs" mounted /run tmpfs
check "/tmp tmpfs" mounted /tmp tmpfs
check cgroup2 mounted /sys/fs/cgroup cgroup2
# Every available controller is enabled for child groups.
check controllers sh -c '[ -n "$(cat /sys/fs/cgroup/cgroup.controllers)" ] &&
    [ "$(cat /sys/fs/cgroup/cgroup.subtree_control)" = "$(cat /sys/fs/cgroup/cgroup.controllers)" ]'
# This script's own fds 0-2 (inherited from husk) are the console. (Checked here, not
# through check(), whose redirections would be in force while it runs.)
bad=
for fd in 0 1 2; do [ "$(readlink /proc/$$/fd/$fd)" = /dev/console ] || bad="$bad $fd"; done
if [ -z "$bad" ]; then echo "ok console"; else echo "FAIL console: fds$bad"; fi
check hostname sh -c '[ "$(hostname)" = husk-vm ]'
check path sh -c 'case "$PATH" in */usr/bin*/bin*) exit 0;; *) exit 1;; esac'
# husk is PID 1 and COMMAND (this shell) runs in a process group of its own.
check pid1 sh -c '[ "$(cat /proc/1/comm)" = init ]'
check pgroup sh -c "[ \"\$(cut -d' ' -f5 /proc/$$/stat)\" = $$ ]"
exit "${1:-0}"
