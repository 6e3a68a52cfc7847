#!/bin/sh
# Runs as COMMAND of husk booted as the kernel's init: husk run as an ordinary user
# (huskuser, uid 1000, switched to by busybox su), where the VM lets root change what a
# user may do: the sysctls that forbid user namespaces, and cgroups delegated or not.
# `rootless.sh forbidden` or `rootless.sh limits`; prints one line per finding, which
# tests/boot.rs checks.
set -u
cg=/sys/fs/cgroup
mkdir -p /c/bin /c/proc /c/dev /c/sys /c/tmp
cp /bin/busybox /c/bin/
cp /test/memhog /c/bin/memhog
cp /test/forkbomb.sh /c/bin/forkbomb
for applet in sh cat id true wc; do ln -s busybox /c/bin/$applet; done
chown -R huskuser: /c

# The user's shell runs $1; its stdout and stderr go to /tmp/out and /tmp/err.
as_user() { su -s /bin/sh huskuser -c "$1" >/tmp/out 2>/tmp/err; }
# status, how many lines husk wrote on stderr, and the last of them.
said() { echo "$1 status $2 lines $(wc -l </tmp/err) err $(tail -n 1 /tmp/err)"; }

forbidden() {
    # The premise: the user gets a user namespace while nothing forbids it.
    as_user 'husk run --rootfs /c -- id -u'
    echo "user status $? uid $(cat /tmp/out) as $(su -s /bin/sh huskuser -c 'id -u')"
    max=$(cat /proc/sys/user/max_user_namespaces)
    echo 0 >/proc/sys/user/max_user_namespaces
    as_user 'husk run --rootfs /c -- true'
    said max $?
    echo "$max" >/proc/sys/user/max_user_namespaces
    # Debian's own switch (its kernels carry the patch that adds it).
    if [ -e /proc/sys/kernel/unprivileged_userns_clone ]; then
        echo 0 >/proc/sys/kernel/unprivileged_userns_clone
        as_user 'husk run --rootfs /c -- true'
        said debian $?
        echo 1 >/proc/sys/kernel/unprivileged_userns_clone
    else
        echo "debian absent"
    fi
    as_user 'husk run --rootfs /c -- true'
    echo "restored status $?"
}

limits() {
    # A group delegated to the user as cgroup-v2.rst's "Delegation" says (root's
    # subtree_control already has the controllers: husk as init enabled them), and the
    # test's shell moved into it, so that the user's processes start there.
    echo "+memory +pids +cpu" >$cg/cgroup.subtree_control
    mkdir $cg/u $cg/u/shell
    chown -R huskuser $cg/u
    echo $$ >$cg/u/shell/cgroup.procs
    echo "shell in $(cat /proc/self/cgroup)"

    # --cgroup-parent below the delegated group: the 10 MB steps are killed near 100 MB.
    as_user 'husk run --rootfs /c --cgroup-parent /u/ctr --memory 100M -- memhog 10 1000'
    echo "m100 status $? last $(grep got /tmp/out | tail -n 1) err $(cat /tmp/err)"
    # A fork bomb under --pids-limit 10 is contained.
    as_user 'husk run --rootfs /c --cgroup-parent /u/ctr --pids-limit 10 -- forkbomb'
    echo "bomb status $?"
    cat /tmp/out

    # The default parent: the user's own group, as a scope of husk's own gives it
    # (systemd-run --user --scope -p Delegate=yes): husk alone in it, by exec.
    as_user 'mkdir /sys/fs/cgroup/u/scope && echo $$ >/sys/fs/cgroup/u/scope/cgroup.procs &&
        exec husk run --rootfs /c --memory 100M -- sh -c "echo \"inside \$(cat /proc/self/cgroup) max \$(cat /sys/fs/cgroup/memory.max)\"; memhog 10 1000"'
    echo "scope status $? $(head -n 1 /tmp/out) err $(cat /tmp/err)"
    # ... and that group is as it was: no controllers, no groups, no process.
    echo "scope after [$(cat $cg/u/scope/cgroup.subtree_control)] groups $(find $cg/u/scope -mindepth 1 -type d | wc -l) procs $(wc -l <$cg/u/scope/cgroup.procs)"
    # Detached, in a scope of its own: the caller's husk and the logger share the scope with
    # the supervisor, and go into husk's leaf and back with it.
    as_user 'mkdir /sys/fs/cgroup/u/dscope && echo $$ >/sys/fs/cgroup/u/dscope/cgroup.procs &&
        exec husk run -d --name dl --rootfs /c --memory 64M -- sh -c "cat /sys/fs/cgroup/memory.max; sleep 100"'
    echo "detached status $? $(cat /tmp/out) err $(cat /tmp/err)"
    as_user 'husk logs dl; husk rm -f dl'
    echo "detached log $(cat /tmp/out) err $(cat /tmp/err)"
    for i in $(seq 50); do
        [ -z "$(cat $cg/u/dscope/cgroup.procs)" ] && [ "$(find $cg/u/dscope -mindepth 1 -type d | wc -l)" = 0 ] && break
        sleep 0.1
    done
    echo "dscope after [$(cat $cg/u/dscope/cgroup.subtree_control)] groups $(find $cg/u/dscope -mindepth 1 -type d | wc -l) procs $(wc -l <$cg/u/dscope/cgroup.procs)"
    # A group that holds other processes too (the user's shell's own) cannot take limits.
    as_user 'husk run --rootfs /c --memory 100M -- true'
    said busy $?
    echo "groups left $(find $cg/u -name 'husk-*' | wc -l)"

    # Not delegated: root's groups, which the user may not write.
    mkdir $cg/v
    as_user 'husk run --rootfs /c --cgroup-parent /v/ctr --memory 100M -- true'
    said v $?
    echo "+memory +pids" >$cg/v/cgroup.subtree_control
    as_user 'husk run --rootfs /c --cgroup-parent /v/ctr --memory 100M -- true'
    said vctr $?
    mkdir $cg/w
    echo $$ >$cg/w/cgroup.procs
    as_user 'husk run --rootfs /c --memory 100M -- true'
    said w $?
    echo "v w left $(find $cg/v $cg/w -mindepth 1 -type d | wc -l)"
}

"$1"
