# benches/lib.sh: what the bench scripts share. Sourced, not run:
#   . "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# Needs SCRIPT (the script's name, for messages) set before sourcing.

die() { echo "$SCRIPT: error: $*" >&2; exit 1; }
log() { echo "$SCRIPT: $*" >&2; }

# A caller-supplied HUSK made absolute before the script changes directory, so that a
# relative path means the caller's working directory, as the caller would expect (a bare
# name is looked up in PATH). Unset, HUSK stays unset: the default is the script's to give.
resolve_husk() {
    [[ -n ${HUSK:-} ]] || return 0
    local given=$HUSK
    if [[ $given == */* ]]; then
        HUSK=$(realpath -e -- "$given" 2>/dev/null) || die "HUSK=$given does not exist"
    else
        HUSK=$(command -v -- "$given") || die "HUSK=$given not found in PATH"
    fi
}

# ROOTFS: $BUSYBOX when set, else a busybox-static tree built in $1; checked either way.
busybox_rootfs() {
    if [[ -n ${BUSYBOX:-} ]]; then
        ROOTFS=$BUSYBOX
        log "rootfs: $ROOTFS (BUSYBOX)"
    else
        ROOTFS=$1
        log "rootfs: building a busybox tree in $ROOTFS"
        # proc, dev and sys are mount points for the sandboxes, and a read-only
        # root cannot grow them on demand. tmp is what a container expects.
        mkdir -p -- "$ROOTFS"/{bin,proc,dev,sys,tmp}
        # cp follows a symlinked busybox, so the tree gets the binary itself.
        cp -- "$(command -v busybox)" "$ROOTFS/bin/busybox"
        # --list-full prints each applet's install path, e.g. usr/bin/[. The
        # links are absolute, so they resolve inside the container's root.
        while IFS= read -r applet; do
            # Never link busybox onto itself: ln -f would replace the binary
            # with a symlink to itself.
            [[ $applet == bin/busybox ]] && continue
            mkdir -p -- "$ROOTFS/$(dirname -- "$applet")"
            ln -sfn /bin/busybox "$ROOTFS/$applet"
        done < <("$ROOTFS/bin/busybox" --list-full)
    fi
    local path
    for path in bin/true bin/sleep; do
        [[ -x $ROOTFS/$path ]] || die "rootfs $ROOTFS has no executable /$path"
    done
    for path in proc dev; do
        [[ -d $ROOTFS/$path ]] || die "rootfs $ROOTFS has no /$path directory (a mount point the sandboxes need)"
    done
    # The tree has no shared libraries, so busybox must be static. A dynamic one
    # (Debian's "busybox" package) would make every sandbox fail, far from the
    # cause; this says what is wrong.
    chroot "$ROOTFS" /bin/true ||
        die "'chroot $ROOTFS /bin/true' failed: is its busybox statically linked? (apt-get install busybox-static)"
}

# Quote words for a shell, readably: plain words stay plain, others get single
# quotes. hyperfine splits a -N command with the same shell-word rules, and
# the report shows commands that can be pasted into a shell.
shell_join() {
    local word out=()
    for word; do
        if [[ $word =~ ^[A-Za-z0-9_./=+:,@%-]+$ ]]; then
            out+=("$word")
        else
            out+=("'${word//\'/\'\\\'\'}'")
        fi
    done
    echo "${out[*]}"
}

# Is anything mounted at or below DIR in our mount namespace? (Field 5 of mountinfo
# is the mount point.) Checked before rm -rf: through a leaked bind mount it would
# reach the host.
mounted_under() {
    awk -v t="$1" '$5 == t || index($5, t "/") == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo
}
