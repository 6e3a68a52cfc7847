#!/usr/bin/env bash
# benches/images.sh: what starting from an image costs `husk run` (issue 16), in three
# comparisons, each timed by hyperfine (-N) with husk and its peer in the same run; the
# tables give ratios to the peer. This VM is shared and its load drifts while hyperfine times
# one command after the other, so each comparison is split into alternating rounds (the
# order reversed every other round; the times pooled), as benches/run.sh does: ROUNDS=1
# makes each a single hyperfine run.
#
# 1. Cold start: `husk run --rootfs rootfs.tar.gz -- /bin/true` with an empty store
#    (HUSK_STORE=DIR, removed before every run) against `mkdir d && tar -xzf rootfs.tar.gz -C d`
#    (GNU tar + gzip; its d removed likewise). Both write the whole tree (~260 MB), so every
#    run's prepare step ends with `sync`: no run starts with the previous one's dirty pages
#    still to write back. Disk writes on this VM vary a lot from run to run (system time by
#    2x), so the table gives min and mean of COLD_RUNS runs (default 8), each round one run
#    of each, and the ratio of each round's pair. Target: husk <= 1.0x of GNU tar.
# 2. Warm start: the same rootfs.tar.gz with its image already in the store against the same
#    tree as a plain directory (GNU tar's extraction of it); and, warm too, `oci:DIR` and
#    `docker-archive:FILE` of the same tree. RUNS runs each (default 300) in ROUNDS rounds
#    (default 5), WARMUP warm-up per round (default 20). Target: rootfs.tar.gz warm
#    <= +0.2 ms over the directory.
# 3. `husk run --rootfs docker-archive:app.tar -- /bin/true` (warm) against `podman run --rm`
#    of the same image, loaded with `podman load -i app.tar` into a private store (--root,
#    --runroot and --tmpdir under WORK, overlay storage, --cgroup-manager cgroupfs,
#    --network none; nothing is pulled). PODMAN_RUNS runs each (default 30) in ROUNDS rounds
#    (3 warm-up per round). What
#    podman needs to run on this host is found by trying it and reading its error (rlimits
#    it may not raise, crun refusing a hybrid cgroup layout): the table's notes say what was
#    added, and a podman that cannot run is reported in one line with its error.
#
# The inputs, made in WORK (a temporary directory under target/, removed at the end):
#   rootfs.tar.gz   `tar -C DEBIAN --numeric-owner -czf rootfs.tar.gz .`
#   tree/           `tar -xzf rootfs.tar.gz -C tree` (GNU tar as root keeps owners and modes)
#   app.tar, oci/   `podman import rootfs.tar.gz`, then `podman save` as docker-archive
#                   (uncompressed layer) and as oci-dir (gzip layer); one layer, podman's
#                   default config. Without podman these rows are skipped, with the reason.
# DEBIAN is the tests' Debian fixture, target/rootfs/debian-bookworm (debootstrap
# --variant=minbase --include=python3 bookworm; a test that uses it builds it), or DEBIAN=DIR.
# After the warm-up of row 2, husk's cached tree is compared with GNU tar's (type, mode,
# owner, size, mtime, symlink target and content of every entry): both did the same work.
#
# Usage (as root), on a husk built with images (a build option while they do not fit the
# size budget: cargo build --release --features images; a husk without them fails its
# trial run of each image row, and the row is left out with its message):
#   benches/images.sh                       # target/release/husk
#   HUSK=/path/to/husk DEBIAN=/path/to/tree RUNS=500 COLD_RUNS=10 ROUNDS=5 benches/images.sh
# Needs (Debian): hyperfine tar gzip python3 podman runc (crun, uidmap come with podman).
# It installs nothing. Progress and hyperfine's output go to stderr; the tables to stdout
# and to benches/results/images.md (raw hyperfine data: benches/results/images-*.json).
# podman import/save/load also record blob digests in /var/lib/containers/cache
# (containers/image's blob-info cache has no option to move it): the one thing written
# outside WORK.
set -euo pipefail
SCRIPT=images.sh
# shellcheck source=benches/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

COLD_RUNS=${COLD_RUNS:-8}
RUNS=${RUNS:-300}
WARMUP=${WARMUP:-20}
PODMAN_RUNS=${PODMAN_RUNS:-30}
ROUNDS=${ROUNDS:-5}
for var in COLD_RUNS RUNS WARMUP PODMAN_RUNS ROUNDS; do
    [[ ${!var} =~ ^[1-9][0-9]*$ ]] || die "$var must be a positive integer, got '${!var}'"
done
resolve_husk
if [[ -n ${DEBIAN:-} ]]; then
    DEBIAN=$(realpath -e -- "$DEBIAN" 2>/dev/null) || die "DEBIAN=$DEBIAN does not exist"
fi
cd "$(dirname -- "${BASH_SOURCE[0]}")/.."
REPO=$PWD
HUSK=${HUSK:-$REPO/target/release/husk}
DEBIAN=${DEBIAN:-$REPO/target/rootfs/debian-bookworm}
((EUID == 0)) || die "run as root (husk's unpack keeps owners, podman's store is root's)"
for tool in hyperfine tar gzip python3 sha256sum; do
    command -v -- "$tool" >/dev/null || die "$tool missing (see Needs: at the top of this script)"
done
tar --version | head -n 1 | grep -q 'GNU tar' || die "tar is not GNU tar: the peer is GNU tar + gzip"
[[ -x $HUSK && -f $HUSK ]] || die "no husk at $HUSK (cargo build --release, or HUSK=...)"
[[ -x $DEBIAN/usr/bin/python3 ]] ||
    die "no Debian fixture at $DEBIAN (a test using tests/common's debian() builds it, or" \
        "debootstrap --variant=minbase --include=python3 bookworm DIR; then DEBIAN=DIR)"

mkdir -p target benches/results
WORK=$(mktemp -d -p "$REPO/target" images-bench.XXXXXX)
IMAGE=localhost/husk-bench:latest
# podman refuses a runroot longer than 50 characters (its sockets live there): a short
# one in /tmp when WORK's would be longer.
RUNROOT=$WORK/pm/run
if ((${#RUNROOT} > 50)); then
    RUNROOT=$(mktemp -d /tmp/husk-pm.XXXXXX)
fi
PODMAN=(podman --root "$WORK/pm/root" --runroot "$RUNROOT" --tmpdir "$WORK/pm/tmp"
    --storage-driver "${PODMAN_DRIVER:-overlay}" --cgroup-manager cgroupfs --events-backend file)
HAVE_PODMAN=0
HYPERFINE=''
cleanup() {
    if [[ -n $HYPERFINE ]]; then
        kill -TERM "$HYPERFINE" 2>/dev/null || true
        wait "$HYPERFINE" 2>/dev/null || true
    fi
    if ((HAVE_PODMAN)); then
        # Its containers are --rm'd and its store is WORK's; this unmounts what it may
        # still hold mounted (an interrupted run) before the rm -rf below.
        "${PODMAN[@]}" rm -af >/dev/null 2>&1 || true
        "${PODMAN[@]}" rmi -af >/dev/null 2>&1 || true
    fi
    local dir
    for dir in "$RUNROOT" "$WORK"; do
        if mounted_under "$dir"; then
            log "something is mounted under $dir; not deleting it (unmount it, then rm -rf $dir)"
        else
            rm -rf -- "$dir"
        fi
    done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Times COMMANDs, each a group of hyperfine arguments ([--prepare P] -n NAME CMD) joined by
# \x1f, in ROUNDS hyperfine runs of them all, the order reversed every other round, RUNS
# runs of each in all; pools each command's times into WORK/BLOCK.json, hyperfine's shape
# plus each round's mean. One hyperfine run times each command in a window of its own, and
# the load of this shared VM drifts between windows by more than what is measured here:
# alternating rounds spread the drift over all commands. hyperfine runs in the background
# and we wait: a trapped signal interrupts `wait` (not a foreground command), so a SIGTERM
# stops the benchmark at once.
bench() { # BLOCK ROUNDS WARMUP RUNS COMMAND...
    local block=$1 rounds=$2 warmup=$3 per_round=$((($4 + $2 - 1) / $2)) round k i args parts
    shift 4
    local groups=("$@")
    for ((round = 0; round < rounds; round++)); do
        args=(-N -w "$warmup" -r "$per_round" --style basic --export-json "$WORK/$block-$round.json")
        for ((k = 0; k < ${#groups[@]}; k++)); do
            i=$k
            ((round % 2)) && i=$((${#groups[@]} - 1 - k))
            IFS=$'\x1f' read -ra parts <<<"${groups[i]}"
            args+=("${parts[@]}")
        done
        hyperfine "${args[@]}" >&2 &
        HYPERFINE=$!
        wait "$HYPERFINE"
        HYPERFINE=''
    done
    python3 - "$WORK/$block.json" "$rounds" "$WORK/$block" <<'PY'
import json, statistics, sys
out, rounds, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
pooled = {}
for n in range(rounds):
    for r in json.load(open(f"{prefix}-{n}.json"))["results"]:
        p = pooled.setdefault(r["command"], {"times": [], "user": [], "system": [], "round_means": []})
        p["times"] += r["times"]
        p["user"] += [r["user"]] * len(r["times"])
        p["system"] += [r["system"]] * len(r["times"])
        p["round_means"].append(r["mean"])
results = []
for command, p in pooled.items():
    t = p["times"]
    results.append({"command": command, "times": t, "mean": statistics.mean(t),
                    "stddev": statistics.stdev(t) if len(t) > 1 else None, "median": statistics.median(t),
                    "min": min(t), "max": max(t), "user": statistics.mean(p["user"]),
                    "system": statistics.mean(p["system"]), "round_means": p["round_means"]})
json.dump({"results": results}, open(out, "w"))
PY
}
# What the tables show of a command: paths relative to the repository, WORK for the
# temporary directory.
shown() {
    local line
    line=$(shell_join "$@")
    line=${line//$WORK/WORK}
    echo "${line//$REPO\//}"
}
# One line per row for the report: BLOCK NAME STATUS COMMAND (tab-separated); STATUS is
# "ok" or the reason the row was left out.
ROWS=$WORK/rows.tsv
: >"$ROWS"
row() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$ROWS"; }
# The first line of an error worth showing (podman's own log lines start with time=).
first_error() { grep -v '^time=' <<<"$1" | grep -m 1 . || echo "(no message)"; }

# ---------------------------------------------------------------------------
# The inputs.
# ---------------------------------------------------------------------------
TGZ=$WORK/rootfs.tar.gz
log "inputs: $TGZ from $DEBIAN"
tar -C "$DEBIAN" --numeric-owner -czf "$TGZ" .
mkdir "$WORK/tree"
tar -xzf "$TGZ" -C "$WORK/tree"
TGZ_HEX=$(sha256sum -- "$TGZ")
TGZ_HEX=${TGZ_HEX%% *}

why_no_images=''
if ! command -v podman >/dev/null; then
    why_no_images="podman is not installed (apt-get install podman): no docker-archive or oci image to start from"
elif ! err=$("${PODMAN[@]}" import "$TGZ" "$IMAGE" 2>&1 >/dev/null) ||
    ! err=$("${PODMAN[@]}" save --format docker-archive -o "$WORK/app.tar" "$IMAGE" 2>&1 >/dev/null) ||
    ! err=$("${PODMAN[@]}" save --format oci-dir -o "$WORK/oci" "$IMAGE" 2>&1 >/dev/null) ||
    ! err=$("${PODMAN[@]}" rmi "$IMAGE" 2>&1 >/dev/null) ||
    ! err=$("${PODMAN[@]}" load -i "$WORK/app.tar" 2>&1 >/dev/null); then
    HAVE_PODMAN=1
    why_no_images="podman could not make the images: $(first_error "$err")"
else
    HAVE_PODMAN=1
fi
[[ -z $why_no_images ]] || log "skipping the docker-archive and oci rows: $why_no_images"

# ---------------------------------------------------------------------------
# 2 first: warming the store is also each husk row's trial run. Then 3, and 1 last: the
# cold runs write and delete gigabytes, and the disk stays busy for a while after
# (this VM's ext4 has online discard), which the millisecond figures must not see.
# ---------------------------------------------------------------------------
export HUSK_STORE=$WORK/store
WARM_CMDS=()
try_husk() { # BLOCK NAME ROOTFS: one run; on success the command joins WARM_CMDS
    local argv=("$HUSK" run --rootfs "$3" -- /bin/true) err start=$EPOCHREALTIME
    if err=$("${argv[@]}" 2>&1 </dev/null >/dev/null); then
        log "$2: first run took $(python3 -c "print(f'{$EPOCHREALTIME - $start:.2f}')") s"
        row "$1" "$2" ok "$(shown "${argv[@]}")"
        WARM_CMDS+=("-n"$'\x1f'"$2"$'\x1f'"$(shell_join "${argv[@]}")")
        return 0
    fi
    log "skipping $2: '$(shown "${argv[@]}")' failed: $(first_error "$err")"
    row "$1" "$2" "failed: $(first_error "$err")" "$(shown "${argv[@]}")"
    return 1
}
try_husk warm directory "$WORK/tree" || die "husk run from a plain directory failed (see above)"
TGZ_OK=0
try_husk warm rootfs.tar.gz "$TGZ" && TGZ_OK=1
ARCHIVE_OK=0
if [[ -z $why_no_images ]]; then
    try_husk warm oci:DIR "oci:$WORK/oci" || true
    try_husk warm docker-archive:FILE "docker-archive:$WORK/app.tar" && ARCHIVE_OK=1
else
    row warm oci:DIR "skipped: $why_no_images" ""
    row warm docker-archive:FILE "skipped: $why_no_images" ""
fi

# husk's cached tree against GNU tar's: the same entries with the same metadata and bytes.
SAME_TREE=''
if ((TGZ_OK)); then
    SAME_TREE=$(python3 - "$HUSK_STORE/images/$TGZ_HEX/rootfs" "$WORK/tree" <<'PY'
import collections, filecmp, os, stat, sys
a, b = sys.argv[1:3]
if not os.path.isdir(a):
    print(f"not compared: no {a} (the store layout of issue 16)")
    sys.exit()
def entries(root):
    out = {}
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(d, n)
            out[os.path.relpath(p, root)] = os.lstat(p)
    return out
KINDS = {stat.S_IFDIR: "directories", stat.S_IFREG: "files", stat.S_IFLNK: "symlinks"}
ea, eb = entries(a), entries(b)
diffs = collections.Counter()  # (kind, what) -> entries
first = []
for k in sorted(ea.keys() | eb.keys()):
    x, y = ea.get(k), eb.get(k)
    if x is None or y is None:
        what = ["only in GNU tar's" if x is None else "only in husk's"]
    else:
        what = [f for f, u, v in (("mode", x.st_mode, y.st_mode), ("owner", (x.st_uid, x.st_gid), (y.st_uid, y.st_gid)),
                                  ("mtime", x.st_mtime_ns // 10**9, y.st_mtime_ns // 10**9)) if u != v]
        if not what and stat.S_ISREG(x.st_mode) and not (
                x.st_size == y.st_size and filecmp.cmp(os.path.join(a, k), os.path.join(b, k), shallow=False)):
            what = ["content"]
        if not what and stat.S_ISLNK(x.st_mode) and os.readlink(os.path.join(a, k)) != os.readlink(os.path.join(b, k)):
            what = ["link target"]
    for w in what:
        diffs[KINDS.get(stat.S_IFMT((x or y).st_mode), "other entries"), w] += 1
    if what:
        first.append(k)
if diffs:
    print(f"**{len(first)} of {len(ea.keys() | eb.keys())} entries differ**: "
          + ", ".join(f"{kind}' {w}: {n}" for (kind, w), n in sorted(diffs.items()))
          + f" (first: {', '.join(first[:3])})")
else:
    print(f"the same {len(ea)} entries (type, mode, owner, mtime; bytes of files; link targets)")
PY
    )
    log "husk's cached tree against GNU tar's: $SAME_TREE"
fi

# What the inputs and the warm-up wrote (about a gigabyte) goes to disk before timing.
sync
log "warm start: hyperfine, $ROUNDS alternating rounds of $WARMUP warm-up + $((RUNS / ROUNDS)) runs of each"
bench warm "$ROUNDS" "$WARMUP" "$RUNS" "${WARM_CMDS[@]}"

# ---------------------------------------------------------------------------
# 3. podman, from the same docker-archive.
# ---------------------------------------------------------------------------
PODMAN_CMDS=()
PODMAN_NEEDS=() # what podman needed on this host, in words, for the notes
why_no_podman=''
if ((ARCHIVE_OK)); then
    argv=("$HUSK" run --rootfs "docker-archive:$WORK/app.tar" -- /bin/true)
    PODMAN_CMDS+=("-n"$'\x1f'"husk, docker-archive (warm)"$'\x1f'"$(shell_join "${argv[@]}")")
    row podman "husk, docker-archive (warm)" ok "$(shown "${argv[@]}")"
fi
if [[ -n $why_no_images ]]; then
    why_no_podman=$why_no_images
else
    # Try it, and add what its error asks for, once each.
    run_opts=(run --rm --network none)
    while ! err=$("${PODMAN[@]}" "${run_opts[@]}" "$IMAGE" /bin/true 2>&1 </dev/null >/dev/null); do
        if [[ $err == *[Rr][Ll][Ii][Mm][Ii][Tt]*"ot permitted"* && " ${run_opts[*]} " != *" --ulimit "* ]]; then
            # The container's rlimits default to more than this host's hard limits, and root
            # here has no CAP_SYS_RESOURCE to raise them; podman itself also lowers its own
            # RLIMIT_NPROC to 32768 before starting the runtime (seen with strace).
            nofile=$(ulimit -Hn) nproc=$(ulimit -Hu)
            [[ $nproc == unlimited || $nproc -gt 32768 ]] && nproc=32768
            run_opts+=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc")
            PODMAN_NEEDS+=("\`--ulimit nofile=$nofile:$nofile --ulimit nproc=$nproc:$nproc\` (\"$(first_error "$err")\": no CAP_SYS_RESOURCE here to raise the hard limits podman's defaults ask for)")
        elif [[ $err == *"hybrid mode not supported"* && " ${PODMAN[*]} " != *" --runtime "* ]] &&
            command -v runc >/dev/null; then
            PODMAN+=(--runtime runc)
            PODMAN_NEEDS+=("\`--runtime runc\` (crun: \"$(first_error "$err")\")")
        else
            why_no_podman="podman cannot run here: $(first_error "$err")"
            break
        fi
        log "podman needs ${PODMAN_NEEDS[-1]}"
    done
    if [[ -z $why_no_podman ]]; then
        argv=("${PODMAN[@]}" "${run_opts[@]}" "$IMAGE" /bin/true)
        PODMAN_CMDS+=("-n"$'\x1f'"podman run --rm"$'\x1f'"$(shell_join "${argv[@]}")")
        row podman "podman run --rm" ok "$(shown "${argv[@]}")"
    fi
fi
if [[ -n $why_no_podman ]]; then
    log "$why_no_podman"
    row podman "podman run --rm" "skipped: $why_no_podman" ""
fi
if ((${#PODMAN_CMDS[@]})); then
    sync
    log "podman: hyperfine, $ROUNDS alternating rounds of 3 warm-up + $((PODMAN_RUNS / ROUNDS)) runs of each"
    bench podman "$ROUNDS" 3 "$PODMAN_RUNS" "${PODMAN_CMDS[@]}"
    if [[ -z $why_no_podman ]] && [[ -n $("${PODMAN[@]}" ps -aq) ]]; then
        log "podman run --rm left containers behind: $("${PODMAN[@]}" ps -a --format '{{.ID}}' | xargs)"
    fi
fi

# ---------------------------------------------------------------------------
# 1. Cold start.
# ---------------------------------------------------------------------------
sync
COLD_STORE=$WORK/store-cold
TAR_OUT=$WORK/tar-out
COLD_CMDS=()
if ((TGZ_OK)); then
    argv=("$HUSK" run --rootfs "$TGZ" -- /bin/true)
    prep=(sh -c 'rm -rf -- "$1" && sync' sh "$COLD_STORE")
    COLD_CMDS+=("--prepare"$'\x1f'"$(shell_join "${prep[@]}")"$'\x1f'"-n"$'\x1f'"husk, empty store"$'\x1f'"$(shell_join "${argv[@]}")")
    row cold "husk, empty store" ok "HUSK_STORE=WORK/store-cold $(shown "${argv[@]}") (prepare: $(shown "${prep[@]}"))"
else
    row cold "husk, empty store" "skipped: the warm trial of rootfs.tar.gz failed" ""
fi
argv=(sh -c 'mkdir -- "$1" && exec tar -xzf "$2" -C "$1"' sh "$TAR_OUT" "$TGZ")
prep=(sh -c 'rm -rf -- "$1" && sync' sh "$TAR_OUT")
COLD_CMDS+=("--prepare"$'\x1f'"$(shell_join "${prep[@]}")"$'\x1f'"-n"$'\x1f'"GNU tar + gzip"$'\x1f'"$(shell_join "${argv[@]}")")
row cold "GNU tar + gzip" ok "$(shown "${argv[@]}") (prepare: $(shown "${prep[@]}"))"
log "cold start: hyperfine, $COLD_RUNS alternating rounds of 1 run of each"
HUSK_STORE=$COLD_STORE bench cold "$COLD_RUNS" 0 "$COLD_RUNS" "${COLD_CMDS[@]}"
rm -rf -- "$COLD_STORE" "$TAR_OUT"

# ---------------------------------------------------------------------------
# The report.
# ---------------------------------------------------------------------------
read -r load _ </proc/loadavg
for name in warm cold podman; do
    [[ -f $WORK/$name.json ]] && cp -- "$WORK/$name.json" "benches/results/images-$name.json"
done
gz_bytes=$(stat -c %s -- "$TGZ")
tree_bytes=$(du -sb -- "$WORK/tree" | cut -f 1)
podman_version=$(podman --version 2>/dev/null || true)
NEEDS=$(printf '%s; ' "${PODMAN_NEEDS[@]}")
python3 - "$WORK" "$ROWS" "$COLD_RUNS" "$RUNS" "$WARMUP" "$PODMAN_RUNS" "$gz_bytes" "$tree_bytes" \
    "$(hyperfine --version)" "$(uname -r)" "$load" "$SAME_TREE" "${NEEDS%; }" "$podman_version" \
    "${PODMAN_DRIVER:-overlay}" "$ROUNDS" >"$WORK/images.md" <<'PY'
import json, os, sys

(work, rows_path, cold_runs, runs, warmup, podman_runs, gz_bytes, tree_bytes, hf, kernel, load,
 same_tree, needs, podman_version, driver, rounds) = sys.argv[1:17]
ms = lambda s: s * 1e3
mb = lambda b: f"{int(b) / 1e6:.0f} MB"
rows = {}
for line in open(rows_path):
    block, name, status, command = line.rstrip("\n").split("\t")
    rows.setdefault(block, []).append((name, status, command))


def results(block):
    path = os.path.join(work, f"{block}.json")
    return {r["command"]: r for r in json.load(open(path))["results"]} if os.path.exists(path) else {}


def verdict(ok):
    return "met" if ok else "**missed**"


def skipped(block, r):
    lines = [f"- {n}: {s}" for n, s, _ in rows.get(block, []) if n not in r]
    return [""] + lines if lines else []


out = []
# 1. Cold.
r = results("cold")
peer = r.get("GNU tar + gzip")
out.append(f"| cold start from rootfs.tar.gz ({mb(gz_bytes)}, {mb(tree_bytes)} unpacked) "
           "| min | mean ± sd | max | user | system | vs GNU tar (min / mean) |")
out.append("|---|---:|---:|---:|---:|---:|---:|")
for name, x in r.items():
    ratio = f"{x['min'] / peer['min']:.2f}× / {x['mean'] / peer['mean']:.2f}×"
    out.append(f"| {name} | {x['min']:.3f} s | {x['mean']:.3f} ± {x['stddev'] or 0:.3f} s | {x['max']:.3f} s "
               f"| {x['user']:.3f} s | {x['system']:.3f} s | {ratio} |")
out += skipped("cold", r)
husk = r.get("husk, empty store")
out.append("")
if husk:
    pairs = sorted(h / t for h, t in zip(husk["times"], peer["times"]))
    out.append(f"Target: cold start ≤ 1.0× GNU tar: {husk['min'] / peer['min']:.2f}× (min), "
               f"{husk['mean'] / peer['mean']:.2f}× (mean) — {verdict(husk['mean'] <= peer['mean'])}; "
               f"each round's pair: {pairs[0]:.2f}× to {pairs[-1]:.2f}×, median {pairs[len(pairs) // 2]:.2f}×.")
    out.append("")

# 2. Warm.
r = results("warm")
base = r["directory"]
out.append("| warm start, `/bin/true` | mean ± sd | median | min | vs directory | added (mean / median) |")
out.append("|---|---:|---:|---:|---:|---:|")
for name, x in r.items():
    added = "—" if name == "directory" else \
        f"{ms(x['mean'] - base['mean']):+.3f} / {ms(x['median'] - base['median']):+.3f} ms"
    out.append(f"| {name} | {ms(x['mean']):.3f} ± {ms(x['stddev'] or 0):.3f} ms | {ms(x['median']):.3f} ms "
               f"| {ms(x['min']):.3f} ms | {x['mean'] / base['mean']:.2f}× | {added} |")
out += skipped("warm", r)
out.append("")
if "rootfs.tar.gz" in r:
    x = r["rootfs.tar.gz"]
    added = ms(x["mean"] - base["mean"])
    per_round = sorted(ms(a - b) for a, b in zip(x["round_means"], base["round_means"]))
    out.append(f"Target: warm start from rootfs.tar.gz ≤ +0.2 ms over the directory: {added:+.3f} ms "
               f"(median {ms(x['median'] - base['median']):+.3f} ms; rounds {per_round[0]:+.3f} to "
               f"{per_round[-1]:+.3f} ms) — {verdict(added <= 0.2)}.")
    out.append("")

# 3. podman.
r = results("podman")
peer = r.get("podman run --rm")
if r:
    out.append("| the same image, `/bin/true` | mean ± sd | median | min | vs podman |")
    out.append("|---|---:|---:|---:|---:|")
    for name, x in r.items():
        ratio = f"{x['mean'] / peer['mean']:.3f}×" if peer else "—"
        out.append(f"| {name} | {ms(x['mean']):.2f} ± {ms(x['stddev'] or 0):.2f} ms | {ms(x['median']):.2f} ms "
                   f"| {ms(x['min']):.2f} ms | {ratio} |")
out += skipped("podman", r)
out.append("")

# Notes.
out.append(f"{hf} with `-N`, in alternating rounds (the order reversed every other round, times "
           f"pooled): cold {cold_runs} rounds of one run of each (every run's prepare removes the last "
           f"one's output and runs `sync`), warm {runs} runs of each in {rounds} rounds ({warmup} warm-up "
           f"each), podman {podman_runs} in {rounds} rounds (3 warm-up each). Warm and podman run "
           f"first, cold last (its writes and deletions keep the disk busy for a while). "
           f"Linux {kernel}, load average {load} at the end.")
if same_tree:
    out.append(f"husk's cached tree against GNU tar's extraction: {same_tree}.")
if podman_version:
    out.append(f"{podman_version}, {driver} storage; what it needed on this host: {needs or 'nothing'}.")
out.append("")
out.append("Commands (WORK is the script's temporary directory; HUSK_STORE=WORK/store unless said):")
out.append("")
for block in ("cold", "warm", "podman"):
    for name, status, command in rows.get(block, []):
        if command:
            out.append(f"- {block}, {name}: `{command}`")
print("\n".join(out))
PY
cp -- "$WORK/images.md" benches/results/images.md
log "wrote benches/results/images.md (raw hyperfine data: benches/results/images-*.json)"
cat -- "$WORK/images.md"
