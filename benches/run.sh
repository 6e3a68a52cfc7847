#!/usr/bin/env bash
# benches/run.sh: compare the container start-up of `husk run` with other ways
# to start a command in fresh namespaces on a busybox root filesystem
# (bubblewrap, unshare + chroot, crun, runc). It prints a markdown table for
# the README and writes the same table to benches/results/run.md.
#
# The unprivileged case is in the same run: husk, bwrap and unshare + chroot
# started as an ordinary user (through setpriv), once for a user with
# subordinate ids (huskci: husk maps them with newuidmap/newgidmap) and once
# for one without (huskci2: the single map husk writes itself); these are the
# users .ci/run makes. A user that does not exist is skipped (USERS="a b"
# names others). Each user runs from its own copy of the rootfs, as someone
# who unpacked it would. A "setpriv alone" row times the switch to the user
# by itself (exec'ing busybox true), so its share can be read off.
# Users who cannot reach $HUSK (a checkout in root's home) run a copy in TMP.
#
# Usage (as root: every sandbox here needs it):
#   benches/run.sh                         # uses target/release/husk
#   HUSK=/path/to/husk benches/run.sh
#   BUSYBOX=/path/to/rootfs RUNS=300 benches/run.sh
#
# Needs (Debian):
#   apt-get install -y --no-install-recommends \
#     hyperfine bubblewrap crun runc util-linux busybox-static procps python3 uidmap
#
# Progress and hyperfine's own output go to stderr. Only the table goes to
# stdout, so `benches/run.sh > table.md` works.
#
# What is measured:
#   1. Start-up time of each sandbox running /bin/true from the rootfs, all in
#      ONE hyperfine run. Absolute times drift between machines and runs, so
#      the number that matters is the ratio to bwrap.
#   2. VmRSS of the sandbox's own processes while it runs `sleep`: every
#      process from the one we started down to (not including) the sleep. For
#      husk and bwrap that is the host-side process and the container's init.
#
# The root filesystem is busybox-static's /bin/busybox plus its applet links,
# built in a temporary directory. BUSYBOX=DIR uses an existing one instead; it
# needs bin/true, bin/sleep, proc/ and dev/.
set -euo pipefail

RUNS=${RUNS:-100}
WARMUP=5
# Deadline for anything we wait on (the sleep to appear), in seconds.
DEADLINE=5
# How long the measured sandboxes would sleep. They are killed as soon as
# they are measured, so this only has to outlast the measurement by far.
SLEEP_SECONDS=60

SCRIPT=run.sh
# shellcheck source=benches/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, got '$RUNS'"

# Paths the caller gave are resolved before the cd below (lib.sh, resolve_husk).
resolve_husk
if [[ -n ${BUSYBOX:-} ]]; then
    # Absolute, because bwrap, chroot and the OCI bundles all need it so.
    BUSYBOX=$(realpath -- "$BUSYBOX" 2>/dev/null) || die "BUSYBOX=$BUSYBOX does not exist"
fi
cd "$(dirname -- "${BASH_SOURCE[0]}")/.."
HUSK=${HUSK:-$PWD/target/release/husk}

# Namespaces, mounts and pivot_root need root. Say so once here, rather than
# have every sandbox fail its trial run with its own EPERM.
((EUID == 0)) || die "run as root (every sandbox here needs CAP_SYS_ADMIN)"

# A missing tool is reported with the Debian package that provides it. We
# never install anything ourselves: that is the caller's decision.
MISSING_PKGS=()
have() { # TOOL PACKAGE: is TOOL in PATH? If not, remember PACKAGE for the hint.
    command -v -- "$1" >/dev/null && return 0
    MISSING_PKGS+=("$2")
    return 1
}
apt_hint() {
    ((${#MISSING_PKGS[@]})) || return 0
    log "to install what is missing: apt-get install -y --no-install-recommends ${MISSING_PKGS[*]}"
}

# These the script itself needs. The sandboxes other than husk are checked
# further down, and a missing one is only skipped.
core_ok=1
have hyperfine hyperfine || core_ok=0
have python3 python3 || core_ok=0
have pgrep procps || core_ok=0
[[ -n ${BUSYBOX:-} ]] || have busybox busybox-static || core_ok=0
if ((!core_ok)); then
    apt_hint
    die "required tools are missing (see above)"
fi
# husk is the subject of the benchmark. Without it the table is meaningless,
# so this is fatal. A missing peer only gets skipped.
[[ -x $HUSK && -f $HUSK ]] || die "husk binary not found at $HUSK (run 'cargo build --release' or set HUSK=...)"

RESULTS_DIR=benches/results
JSON=$RESULTS_DIR/run.json # kept for inspection; ignored by $RESULTS_DIR/.gitignore
TABLE=$RESULTS_DIR/run.md
mkdir -p "$RESULTS_DIR"
TMP=$(mktemp -d)
# The unprivileged users must reach their rootfs copies and busybox in here.
chmod 0711 "$TMP"
# One ID per script run. crun and runc keep container state under /run, so
# a fixed name could collide with a container someone else runs.
CONTAINER_ID=husk-bench-$$

# ---------------------------------------------------------------------------
# Cleanup. During a VmRSS measurement IDLE_TOP is the sandbox process we
# started (our child) and IDLE_DESCENDANTS the processes found under it once
# it settled, as PID:STARTTIME, innermost first. On any exit, those and
# whatever is under IDLE_TOP by then get SIGKILL, innermost first, so
# nothing outlives the script: bwrap, for one, leaves its container running
# when only the host-side process dies. Once hyperfine is ended, OCI
# containers that an interrupted run left behind are deleted. Nothing is
# mounted in our own mount namespace (each sandbox mounts in a private one),
# and we check that before deleting $TMP: rm -rf through a leaked bind mount
# would reach the host.
# ---------------------------------------------------------------------------
IDLE_TOP=''
IDLE_DESCENDANTS=()
HYPERFINE='' # its PID while it runs

# Field 22 of /proc/PID/stat: start time in clock ticks since boot. A PID
# plus its start time names one process for good, even if the PID is reused.
starttime() {
    local stat fields
    stat=$(<"/proc/$1/stat") || return 1
    # The name (field 2) is in parentheses and may contain spaces, so split
    # only what follows its closing parenthesis. That starts at field 3.
    read -ra fields <<<"${stat##*) }"
    echo "${fields[19]}"
}
# Print the descendants of PID $1 as PID:STARTTIME, parents before children.
descendants() {
    local queue=("$1") pid kid start
    while ((${#queue[@]})); do
        pid=${queue[0]}
        queue=("${queue[@]:1}")
        while read -r kid; do
            start=$(starttime "$kid" 2>/dev/null) || continue # already gone
            echo "$kid:$start"
            queue+=("$kid")
        done < <(pgrep -P "$pid")
    done
}
stop_idle() {
    local entry pid found i targets
    [[ -n $IDLE_TOP ]] || return 0
    # The recorded processes come first: one may have been re-parented out
    # of the tree by now. Then the tree as it is, innermost first. When the
    # sleep dies every sandbox here winds down by itself, so the later kills
    # are mostly no-ops.
    targets=("${IDLE_DESCENDANTS[@]}")
    mapfile -t found < <(descendants "$IDLE_TOP")
    for ((i = ${#found[@]} - 1; i >= 0; i--)); do targets+=("${found[i]}"); done
    for entry in "${targets[@]}"; do
        pid=${entry%%:*}
        # These are not our children, so a PID may already belong to someone
        # else: kill only if the start time still matches.
        if [[ $(starttime "$pid" 2>/dev/null) == "${entry#*:}" ]]; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    # Our own child: its PID cannot be reused until we reap it.
    kill -KILL "$IDLE_TOP" 2>/dev/null || true
    wait "$IDLE_TOP" 2>/dev/null || true # reap; the exit status is irrelevant here
    IDLE_TOP=''
    IDLE_DESCENDANTS=()
}
delete_leftover_containers() {
    local mode
    for mode in true sleep; do
        if command -v crun >/dev/null && crun state "$CONTAINER_ID-$mode" >/dev/null 2>&1; then
            crun delete --force "$CONTAINER_ID-$mode" >/dev/null 2>&1 || true
        fi
        if command -v runc >/dev/null && runc state "$CONTAINER_ID-$mode" >/dev/null 2>&1; then
            runc delete --force "$CONTAINER_ID-$mode" >/dev/null 2>&1 || true
        fi
    done
}
cleanup() {
    if [[ -n $HYPERFINE ]]; then
        # The command it is timing runs /bin/true and ends by itself.
        kill -TERM "$HYPERFINE" 2>/dev/null || true
        wait "$HYPERFINE" 2>/dev/null || true
    fi
    stop_idle
    delete_leftover_containers
    if mounted_under "$TMP"; then
        log "something is mounted under $TMP; not deleting it (unmount it, then rm -rf $TMP)"
    else
        rm -rf -- "$TMP"
    fi
}
trap cleanup EXIT
# Turn signals into a normal exit, so the EXIT trap runs exactly once.
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
# The root filesystem.
# ---------------------------------------------------------------------------
busybox_rootfs "$TMP/rootfs"

# ---------------------------------------------------------------------------
# The unprivileged users: each present one gets its own copy of the rootfs,
# owned by it (root inside its user namespace), in $TMP (0711).
# ---------------------------------------------------------------------------
BENCH_USERS=() # the users present, in table order
for user in ${USERS:-huskci huskci2}; do
    if ! id -u -- "$user" >/dev/null 2>&1; then
        log "skipping the unprivileged rows of $user: no such user (.ci/run makes huskci and huskci2)"
        continue
    fi
    mkdir -- "$TMP/rootfs-$user"
    cp -a -- "$ROOTFS/." "$TMP/rootfs-$user/"
    chown -R -h -- "$user:$(id -g -- "$user")" "$TMP/rootfs-$user"
    BENCH_USERS+=("$user")
done
# setpriv execs the command as USER with a login's environment: the process
# hyperfine times is the sandbox itself, after one extra exec.
as_user() { # USER: sets AS to the prefix that runs a command as USER
    AS=(setpriv "--reuid=$(id -u -- "$1")" "--regid=$(id -g -- "$1")" --init-groups --reset-env --)
}
# The users run $HUSK itself when they can reach it; a checkout in root's
# 0700 home they cannot, and then they run a copy in $TMP.
USER_HUSK=$HUSK
for user in "${BENCH_USERS[@]}"; do
    as_user "$user"
    if ! "${AS[@]}" test -x "$HUSK"; then
        cp -- "$HUSK" "$TMP/husk"
        USER_HUSK=$TMP/husk
        log "$user cannot reach $HUSK: the unprivileged rows run a copy, $USER_HUSK"
        break
    fi
done

# ---------------------------------------------------------------------------
# OCI bundles for crun and runc: one runs /bin/true (timed), one runs sleep
# (VmRSS). Each starts from the runtime's own default `spec`, with
# only what this benchmark needs changed.
# ---------------------------------------------------------------------------
make_bundle() { # RUNTIME DIR ARG...
    local runtime=$1 dir=$2
    shift 2
    mkdir -p -- "$dir"
    (cd -- "$dir" && "$runtime" spec) || return 1
    python3 - "$dir/config.json" "$ROOTFS" "$@" <<'PY' || return 1
import json, sys

path, rootfs, args = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(path) as f:
    config = json.load(f)
# Read-only, like bwrap's --ro-bind: the runtime then never writes to it.
config["root"] = {"path": rootfs, "readonly": True}
# No terminal: a pty would cost time that none of the others spend, and
# hyperfine gives the command none to attach.
config["process"]["terminal"] = False
config["process"]["args"] = args
# The default spec has no cgroup namespace. husk and bwrap --unshare-all
# create one, so add it to compare like with like.
namespaces = config["linux"]["namespaces"]
if not any(ns["type"] == "cgroup" for ns in namespaces):
    namespaces.append({"type": "cgroup"})
with open(path, "w") as f:
    json.dump(config, f, indent=1)
PY
}

# crun refuses this host's hybrid cgroup layout (v1 controllers, see
# ENGINEERING.md section 4). In a private mount namespace we mount a plain
# cgroup2 over /sys/fs/cgroup, which satisfies its check, and tell it to leave
# cgroups alone. The benchmark's "crun harness" row times this wrapper alone
# (unshare, sh, the mount, an exec), so crun's own share can be read off.
# The mount stays in that namespace: the host never sees it.
CRUN_HARNESS=(unshare -m --propagation private
    sh -c 'mount -t cgroup2 none /sys/fs/cgroup && exec "$@"' sh)
# What the harness runs when timed alone. Not $ROOTFS/bin/true: that is an
# absolute symlink, which outside the container resolves on the host. The
# static busybox itself is the closest thing to what runs inside.
if [[ -x $ROOTFS/bin/busybox && ! -L $ROOTFS/bin/busybox ]]; then
    HARNESS_TRUE=("$ROOTFS/bin/busybox" true)
else
    HARNESS_TRUE=("$(command -v true)")
fi

# ---------------------------------------------------------------------------
# The sandboxes. sandbox_argv is the one place that knows how each one is
# invoked. It sets ARGV to the command line that runs /bin/true (MODE true)
# or a long sleep (MODE sleep) from the rootfs.
# ---------------------------------------------------------------------------
sandbox_argv() { # NAME MODE
    local name=$1 mode=$2 cmd user root
    case $mode in
        true) cmd=(/bin/true) ;;
        sleep) cmd=(/bin/sleep "$SLEEP_SECONDS") ;;
        *) die "unknown mode '$mode'" ;;
    esac
    # "SANDBOX as USER": the same sandbox started by USER, on USER's copy.
    if [[ $name == *" as "* ]]; then
        user=${name##* as }
        root=$TMP/rootfs-$user
        as_user "$user"
        case ${name% as *} in
            husk) ARGV=("${AS[@]}" "$USER_HUSK" run --rootfs "$root" -- "${cmd[@]}") ;;
            bwrap) ARGV=("${AS[@]}" bwrap --unshare-all --ro-bind "$root" / --proc /proc --dev /dev "${cmd[@]}") ;;
            # -U -r: a user namespace with the user as its root, which may
            # then make the other namespaces and chroot (by its full path:
            # --reset-env gives the user's PATH, without sbin).
            unshare+chroot) ARGV=("${AS[@]}" unshare -Urpmuinf --mount-proc="$root/proc" "$(command -v chroot)" "$root" "${cmd[@]}") ;;
            *) die "unknown sandbox '$name'" ;;
        esac
        return
    fi
    case $name in
        "setpriv alone")
            as_user "${BENCH_USERS[0]}"
            ARGV=("${AS[@]}" "${HARNESS_TRUE[@]}")
            ;;
        husk) ARGV=("$HUSK" run --rootfs "$ROOTFS" -- "${cmd[@]}") ;;
        bwrap) ARGV=(bwrap --unshare-all --ro-bind "$ROOTFS" / --proc /proc --dev /dev "${cmd[@]}") ;;
        # -f: the new PID namespace applies to children only, so unshare
        # must fork for chroot to be its PID 1.
        unshare+chroot) ARGV=(unshare -pmuinf --mount-proc="$ROOTFS/proc" chroot "$ROOTFS" "${cmd[@]}") ;;
        # crun run deletes its container when it exits (checked after the
        # benchmark), so one ID serves every run and no `crun delete` is
        # needed in between.
        crun) ARGV=("${CRUN_HARNESS[@]}" crun --cgroup-manager=disabled run -b "$TMP/crun-$mode" "$CONTAINER_ID-$mode") ;;
        "crun harness") ARGV=("${CRUN_HARNESS[@]}" "${HARNESS_TRUE[@]}") ;;
        # runc accepts the hybrid layout as it is, so it runs directly and
        # sets up its (v1) cgroups: it has no switch to skip them.
        runc) ARGV=(runc run -b "$TMP/runc-$mode" "$CONTAINER_ID-$mode") ;;
        *) die "unknown sandbox '$name'" ;;
    esac
}

SANDBOXES=() # the sandboxes that are present and work, in table order
UNPRIVILEGED=()
for user in "${BENCH_USERS[@]}"; do
    UNPRIVILEGED+=("husk as $user" "bwrap as $user" "unshare+chroot as $user")
done
((${#BENCH_USERS[@]})) && UNPRIVILEGED+=("setpriv alone")
for name in husk bwrap unshare+chroot crun "crun harness" runc "${UNPRIVILEGED[@]}"; do
    case $name in
        *" as "* | "setpriv alone")
            have setpriv util-linux || { log "skipping $name: setpriv not installed"; continue; }
            ;;& # and on to the sandbox's own checks
        bwrap | "bwrap as "*) have bwrap bubblewrap || { log "skipping $name: not installed"; continue; } ;;
        "unshare+chroot as "*)
            have unshare util-linux || { log "skipping $name: unshare not installed"; continue; }
            ;;
        unshare+chroot)
            have unshare util-linux || { log "skipping unshare+chroot: unshare not installed"; continue; }
            have chroot coreutils || { log "skipping unshare+chroot: chroot not installed"; continue; }
            ;;
        crun | runc)
            have "$name" "$name" || { log "skipping $name: not installed"; continue; }
            if [[ $name == crun ]] && ! have unshare util-linux; then
                log "skipping crun: its harness needs unshare"
                continue
            fi
            if ! make_bundle "$name" "$TMP/$name-true" /bin/true >/dev/null ||
                ! make_bundle "$name" "$TMP/$name-sleep" /bin/sleep "$SLEEP_SECONDS" >/dev/null; then
                log "skipping $name: could not make its OCI bundle with '$name spec'"
                continue
            fi
            ;;
        "crun harness")
            # Only meaningful next to crun itself.
            [[ " ${SANDBOXES[*]} " == *" crun "* ]] || continue
            ;;
    esac
    # Try it once first. A present but broken peer would otherwise make the
    # whole hyperfine run fail.
    sandbox_argv "$name" true
    if ! err=$("${ARGV[@]}" 2>&1 </dev/null >/dev/null); then
        # Unprivileged runs need a build with user namespaces (issue 14): an
        # older one only loses those rows.
        [[ $name == husk ]] &&
            die "'${ARGV[*]}' failed (does this build have 'husk run'?): ${err%%$'\n'*}"
        log "skipping $name: '${ARGV[*]}' failed: ${err%%$'\n'*}"
        continue
    fi
    SANDBOXES+=("$name")
done
apt_hint
log "benchmarking: ${SANDBOXES[*]}"

# ---------------------------------------------------------------------------
# 1. Start-up time, with every command in one hyperfine run.
#    -N: no intermediate shell. A shell spawn would add a millisecond to
#    every row and blur the ratios.
#    -n: stable names that the report uses to find each result in the JSON.
# ---------------------------------------------------------------------------
# The machine's load drifts, and hyperfine times each command in its own window: one
# long run per command lets that drift into the ratios (husk vs bwrap moved between 0.48x
# and 0.63x from run to run). So the runs are split into ROUNDS rounds, the commands'
# order reversed every other round, and the times of all rounds pooled per command.
ROUNDS=${ROUNDS:-5}
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, got '$ROUNDS'"
per_round=$(((RUNS + ROUNDS - 1) / ROUNDS))
log "start-up: hyperfine, $ROUNDS rounds of $WARMUP warm-up + $per_round runs per command"
for ((round = 0; round < ROUNDS; round++)); do
    order=("${SANDBOXES[@]}")
    if ((round % 2)); then
        for ((k = 0; k < ${#SANDBOXES[@]}; k++)); do order[k]=${SANDBOXES[${#SANDBOXES[@]} - 1 - k]}; done
    fi
    hf_args=(-N -w "$WARMUP" -r "$per_round" --style basic --export-json "$TMP/round-$round.json")
    for name in "${order[@]}"; do
        sandbox_argv "$name" true
        hf_args+=(-n "$name" "$(shell_join "${ARGV[@]}")")
    done
    # In the background, and we wait for it: bash delays a trapped signal until
    # a foreground command finishes, but it interrupts `wait`. So a SIGTERM to
    # this script stops the benchmark at once (cleanup ends hyperfine) instead
    # of minutes later.
    hyperfine "${hf_args[@]}" >&2 &
    HYPERFINE=$!
    wait "$HYPERFINE" # hyperfine's status: set -e ends the script if it failed
    HYPERFINE=''
done
# The unprivileged rows once more, with hyperfine itself run by the user, so that no
# setpriv is in the times: the figure the targets use for them (the pooled rows above,
# through setpriv, stay in the table).
for user in "${BENCH_USERS[@]}"; do
    as_user "$user"
    hf_args=(-N -w "$WARMUP" -r "$RUNS" --style basic --export-json "$TMP/direct-$user.json")
    for sandbox in husk bwrap unshare+chroot; do
        name="$sandbox as $user"
        [[ " ${SANDBOXES[*]} " == *" $name "* ]] || continue
        sandbox_argv "$name" true
        hf_args+=(-n "$name" "$(shell_join "${ARGV[@]:${#AS[@]}}")")
    done
    install -m 0600 -o "$user" /dev/null "$TMP/direct-$user.json"
    log "start-up as $user, hyperfine run by $user itself"
    "${AS[@]}" "$(command -v hyperfine)" "${hf_args[@]}" >&2 &
    HYPERFINE=$!
    wait "$HYPERFINE"
    HYPERFINE=''
done
# Pool every round's times per command into one hyperfine-shaped JSON.
python3 - "$JSON" "$TMP"/round-*.json <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], sys.argv[2:]
pooled, round_means = {}, {}
for path in rounds:
    for r in json.load(open(path))["results"]:
        pooled.setdefault(r["command"], []).extend(r["times"])
        round_means.setdefault(r["command"], []).append(statistics.mean(r["times"]))
results = [{"command": c, "times": t, "mean": statistics.mean(t), "stddev": statistics.stdev(t) if len(t) > 1 else 0.0,
            "median": statistics.median(t), "round_means": round_means[c]} for c, t in pooled.items()]
json.dump({"results": results}, open(out, "w"))
PY

# crun run is documented to delete the container when it exits. If it ever
# did not, every run after the first would have failed with "already
# exists"; this checks it directly, and cleans up if needed.
CRUN_CLEAN=''
if [[ " ${SANDBOXES[*]} " == *" crun "* ]]; then
    if crun state "$CONTAINER_ID-true" >/dev/null 2>&1; then
        log "crun left container $CONTAINER_ID-true behind; deleting it"
        crun delete --force "$CONTAINER_ID-true" >/dev/null 2>&1 || true
        CRUN_CLEAN=no
    else
        log "crun run removed its container on exit: no 'crun delete' needed"
        CRUN_CLEAN=yes
    fi
fi

# ---------------------------------------------------------------------------
# 2. VmRSS while running `sleep`, one sandbox at a time.
# ---------------------------------------------------------------------------

# VmRSS is in "kB" as /proc reports it. These are KiB.
vmrss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
proc_state() { awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# Walk from PID $1 down to the sandboxed `sleep`, from each process to its
# only child.
# Sets CHAIN (the sandbox's own processes, outermost first) and LEAF (the
# sleep). Fails while the tree is still being built: a process with no child
# or several, one not yet asleep (state S, i.e. still setting up), or a
# leaf that has not exec'd sleep yet (a forked child keeps its parent's name
# until it execs, so the name `sleep` also proves the exec).
walk_to_sleep() {
    local pid=$1 kids
    CHAIN=()
    LEAF=''
    while [[ $(cat "/proc/$pid/comm" 2>/dev/null) != sleep ]]; do
        [[ $(proc_state "$pid") == S ]] || return 1
        CHAIN+=("$pid")
        mapfile -t kids < <(pgrep -P "$pid")
        ((${#kids[@]} == 1)) || return 1
        pid=${kids[0]}
    done
    LEAF=$pid
}
wait_for_sleep() {
    local end=$((SECONDS + DEADLINE))
    while ((SECONDS < end)); do
        kill -0 "$1" 2>/dev/null || return 1 # the sandbox died
        walk_to_sleep "$1" && return 0
        sleep 0.01 # polling interval, not a wait for some guessed duration
    done
    return 1
}

declare -A RSS # name -> "KiB KiB ..." of CHAIN, outermost first
for name in "${SANDBOXES[@]}"; do
    # The harnesses run no container; there is nothing of theirs to measure.
    [[ $name == "crun harness" || $name == "setpriv alone" ]] && continue
    sandbox_argv "$name" sleep
    "${ARGV[@]}" </dev/null >/dev/null 2>&1 &
    IDLE_TOP=$!
    if wait_for_sleep "$IDLE_TOP"; then
        # Record who to kill before reading anything, so that cleanup finds
        # them even if a read fails.
        IDLE_DESCENDANTS=("$LEAF:$(starttime "$LEAF")")
        for ((i = ${#CHAIN[@]} - 1; i >= 1; i--)); do
            IDLE_DESCENDANTS+=("${CHAIN[i]}:$(starttime "${CHAIN[i]}")")
        done
        sizes=()
        for pid in "${CHAIN[@]}"; do sizes+=("$(vmrss_kib "$pid")"); done
        RSS[$name]=${sizes[*]}
        log "$name: VmRSS ${sizes[*]} KiB (pids ${CHAIN[*]}, sleep $LEAF)"
    else
        log "$name: no settled 'sleep' under it within ${DEADLINE}s; VmRSS skipped"
    fi
    stop_idle
done

# ---------------------------------------------------------------------------
# 3. The report. Facts go from bash to python as TSV:
#   name, VmRSS list in KiB (empty = not measured), the command as run.
# ---------------------------------------------------------------------------
for name in "${SANDBOXES[@]}"; do
    sandbox_argv "$name" true
    printf '%s\t%s\t%s\n' "$name" "${RSS[$name]:-}" "$(shell_join "${ARGV[@]}")"
done >"$TMP/facts.tsv"

python3 - "$JSON" "$TMP/facts.tsv" "$RUNS" "$WARMUP" "$ROOTFS" "$TMP" "$CONTAINER_ID" "$CRUN_CLEAN" \
    >"$TMP/run.md" <<'PY'
import json, os, platform, subprocess, sys

json_path, facts_path, runs, warmup, rootfs, tmp, cid, crun_clean = sys.argv[1:9]
results = {r["command"]: r for r in json.load(open(json_path))["results"]}
MS = 1e3  # hyperfine reports seconds
RSS_TARGET = 128  # KiB, per husk process

facts = []
for line in open(facts_path):
    name, rss, cmd = line.rstrip("\n").split("\t")
    facts.append((name, [int(k) for k in rss.split()], cmd))

bwrap = results["bwrap"]["mean"] if "bwrap" in results else None

def user_of(name):
    """The user of a "SANDBOX as USER" row, or None for root's rows."""
    return name.split(" as ", 1)[1] if " as " in name else None

def bwrap_for(name):
    """The mean of the bwrap row a row is compared with: the same user's."""
    user = user_of(name)
    key = f"bwrap as {user}" if user else "bwrap"
    return results[key]["mean"] if key in results else None

def mean_sd(name):
    r = results[name]
    return f"{r['mean']*MS:.3f} ± {r['stddev']*MS:.3f} ms"

def label(name):
    if name == "crun harness":
        return "crun's harness alone"
    if name == "setpriv alone":
        return "setpriv alone (the switch to the user)"
    return name

rows = []
for name, rss, _ in facts:
    anchor = bwrap if name == "setpriv alone" else bwrap_for(name)
    ratio = f"{results[name]['mean'] / anchor:.2f}×" if anchor else "n/a"
    rows.append([label(name), mean_sd(name), ratio,
                 " + ".join(map(str, rss)) + " KiB" if rss else "—"])

head = ["sandbox", "start-up mean ± sd", "vs bwrap (same user)", "processes' VmRSS"]
out = ["| " + " | ".join(head) + " |",
       "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
out += ["| " + " | ".join(r) + " |" for r in rows]

hf = subprocess.run(["hyperfine", "--version"], capture_output=True, text=True).stdout.strip()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
            if l.startswith("model name")), platform.machine())
out += ["",
        f"Start-up: `{hf}` with `-N`, {warmup} warm-up + {runs} runs of each sandbox "
        f"running `/bin/true` from a busybox-static root filesystem, all in one run. "
        f"Compare ratios, not absolute times. "
        f"VmRSS (from /proc/PID/status) is for each of the sandbox's own processes while it "
        f"runs `sleep`, outermost first: the one started from the host, then the container's "
        f"init where there is one; the sleep itself is not counted. "
        f"Linux {platform.release()}, {cpu}, {os.cpu_count()} CPUs."]
if "crun" in results and "crun harness" in results:
    own = results["crun"]["mean"] - results["crun harness"]["mean"]
    out += ["",
            f"crun refuses this host's hybrid cgroup layout, so it runs inside a harness: "
            f"`unshare -m` + `sh -c` mounting a private cgroup2 over /sys/fs/cgroup, with "
            f"`--cgroup-manager=disabled`. The harness alone (exec'ing busybox `true`) takes "
            f"{mean_sd('crun harness')}, so crun's own share is about {own*MS:.3f} ms."
            + (" `crun run` deleted its container on exit (checked with `crun state`), so one "
               "container ID served every run with no `crun delete`." if crun_clean == "yes" else "")]
users = [n.split(" as ", 1)[1] for n in results if n.startswith("husk as ")]
if users:
    setpriv = results.get("setpriv alone")
    out += ["",
            "The rows \"as USER\" run unprivileged, started through `setpriv` as "
            + " and ".join(f"`{u}`" for u in users)
            + " (huskci has subordinate ids, so husk maps them with newuidmap/newgidmap; huskci2 has "
            "none, so husk writes the single map itself), each on its own copy of the rootfs, owned by "
            "that user. Their ratio is to bwrap run by the same user"
            + (f"; setpriv's switch alone (exec'ing busybox `true`) takes {mean_sd('setpriv alone')}, "
               "included in every such row, so the ratio with it taken out is given in the targets."
               if setpriv else ".")]

out += ["", "Commands (ROOTFS is the busybox tree; crun/runc bundles come from `<runtime> spec` with "
        "root.path = ROOTFS, root.readonly, no terminal, args `/bin/true` and an added cgroup namespace):", ""]
for name, _, cmd in facts:
    cmd = cmd.replace(rootfs, "ROOTFS").replace(tmp, "TMP").replace(cid, "ID")
    # husk as the repository builds it, not the path of this machine's checkout.
    cmd = cmd.replace(os.getcwd() + "/", "")
    out.append(f"- {label(name)}: `{cmd}`")
out.append("")
out.append("Differences to keep in mind: husk mounts ROOTFS read-write (no `--read-only`), "
           "as unshare+chroot does; bwrap and the OCI runtimes mount it read-only. "
           "`unshare -pmuinf` creates no cgroup namespace (the others do). "
           "bwrap `--unshare-all` also creates a user namespace. "
           "runc creates and removes v1 cgroups (it cannot skip them).")

def verdict(ok):
    return "met" if ok else "**missed**"

out += ["", "Targets for husk:", ""]
husk = results["husk"]["mean"]
if bwrap:
    frac = husk / bwrap
    # Each round's own ratio too: how far the VM's drift moves it.
    per_round = [h / b for h, b in zip(results["husk"]["round_means"], results["bwrap"]["round_means"])]
    spread = f" (rounds: {min(per_round):.2f}–{max(per_round):.2f}×)" if len(per_round) > 1 else ""
    out.append(f"- start-up ≤ 0.5 × bwrap's: {frac:.2f}×{spread} — {verdict(frac <= 0.5)}")
else:
    out.append("- start-up ≤ 0.5 × bwrap's: n/a (bwrap not measured)")
if "unshare+chroot" in results:
    other = results["unshare+chroot"]["mean"]
    out.append(f"- faster than unshare+chroot: {husk*MS:.3f} vs {other*MS:.3f} ms — "
               f"{verdict(husk < other)}")
else:
    out.append("- faster than unshare+chroot: n/a (unshare+chroot not measured)")
husk_rss = next(rss for name, rss, _ in facts if name == "husk")
if husk_rss:
    out.append(f"- each husk process's VmRSS ≤ {RSS_TARGET} KiB: "
               + " + ".join(map(str, husk_rss)) + " KiB — "
               + verdict(all(k <= RSS_TARGET for k in husk_rss)))
else:
    out.append(f"- each husk process's VmRSS ≤ {RSS_TARGET} KiB: not measured")
for user in users:
    mine, theirs = f"husk as {user}", f"bwrap as {user}"
    if theirs not in results:
        out.append(f"- as {user}, start-up ≤ 0.5 × bwrap's: n/a (bwrap not measured)")
        continue
    frac = results[mine]["mean"] / results[theirs]["mean"]
    per_round = [h / b for h, b in zip(results[mine]["round_means"], results[theirs]["round_means"])]
    spread = f" (rounds: {min(per_round):.2f}–{max(per_round):.2f}×)" if len(per_round) > 1 else ""
    net = ""
    if "setpriv alone" in results:
        s = results["setpriv alone"]["mean"]
        net = f"; without setpriv's share {(results[mine]['mean'] - s) / (results[theirs]['mean'] - s):.2f}×"
    direct_path = os.path.join(tmp, f"direct-{user}.json")
    direct = {r["command"]: r for r in json.load(open(direct_path))["results"]} if os.path.exists(direct_path) else {}
    if mine in direct and theirs in direct:
        d = direct[mine]["mean"] / direct[theirs]["mean"]
        out.append(f"- as {user}, start-up ≤ 0.5 × bwrap's, hyperfine run by {user} itself (no setpriv in the "
                   f"times): {direct[mine]['mean']*MS:.3f} vs {direct[theirs]['mean']*MS:.3f} ms, {d:.2f}× — "
                   f"{verdict(d <= 0.5)} (through setpriv, pooled above: {frac:.2f}×{spread}{net})")
    else:
        out.append(f"- as {user}, start-up ≤ 0.5 × bwrap's: {frac:.2f}×{spread}{net} — {verdict(frac <= 0.5)}")
    rss = next(r for name, r, _ in facts if name == mine)
    if rss:
        out.append(f"- as {user}, each husk process's VmRSS ≤ {RSS_TARGET} KiB: "
                   + " + ".join(map(str, rss)) + " KiB — " + verdict(all(k <= RSS_TARGET for k in rss)))
print("\n".join(out))
PY

cp -- "$TMP/run.md" "$TABLE"
log "wrote $TABLE (raw hyperfine data: $JSON)"
cat -- "$TMP/run.md"
