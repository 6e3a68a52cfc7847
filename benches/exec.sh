#!/usr/bin/env bash
# benches/exec.sh: what joining a running container costs. `husk exec NAME /bin/true`
# against `nsenter -t PID -a /bin/true` (util-linux: setns into every namespace, fork,
# exec; no cgroup, capabilities, no_new_privs or seccomp), and against a second husk
# binary (OLD=path) when given, each in ONE hyperfine run. Prints a markdown table and
# writes it to benches/results/exec.md.
#
# Usage:
#   benches/exec.sh                          # target/release/husk
#   OLD=/path/to/other/husk RUNS=1000 benches/exec.sh
#
# Needs (Debian): hyperfine util-linux busybox-static. As root.
# Each husk binary gets a detached container of its own (busybox rootfs, `sleep`), made
# by that binary: the registry record is the binary's own format.
# hyperfine times each command in a window of its own, and on a small VM the windows drift
# apart by more than two builds of husk differ; so the same commands are then also run
# alternately, one after the other ALTERNATE times (default 1000), and their medians
# compared: that is the figure for "what did this change cost".
set -euo pipefail

RUNS=${RUNS:-500}
ALTERNATE=${ALTERNATE:-1000}
SCRIPT=exec.sh
# shellcheck source=benches/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, got '$RUNS'"
resolve_husk
if [[ -n ${OLD:-} ]]; then
    OLD=$(realpath -e -- "$OLD") || die "OLD=$OLD does not exist"
fi
cd "$(dirname -- "${BASH_SOURCE[0]}")/.."
HUSK=${HUSK:-$PWD/target/release/husk}
[[ -x $HUSK ]] || die "husk binary not found at $HUSK (run 'cargo build --release' or set HUSK=...)"
for tool in hyperfine nsenter busybox; do
    command -v "$tool" >/dev/null || die "'$tool' is missing (see the top of this script)"
done

TMP=$(mktemp -d)
NAMES=()
cleanup() {
    local i
    for i in "${!NAMES[@]}"; do
        # rm -f kills and removes (an ended detached container stays until removed);
        # a husk before issue 13 has no rm: kill, and its entry goes by itself.
        "${BINS[$i]}" rm -f "${NAMES[$i]}" >/dev/null 2>&1 ||
            "${BINS[$i]}" kill "${NAMES[$i]}" KILL >/dev/null 2>&1 || true
    done
    rm -rf -- "$TMP"
}
BINS=()
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

busybox_rootfs "$TMP/rootfs"

# A detached container made by husk binary $1, named $2; sets PID to its init's pid.
start() {
    BINS+=("$1")
    NAMES+=("$2")
    "$1" run -d --name "$2" --rootfs "$ROOTFS" --read-only -- sleep 1000000 >/dev/null ||
        die "$1 run -d failed"
    # (A husk before issue 13 lists its own containers but exits 125 on a newer record.)
    PID=$({ "$1" ps 2>/dev/null || true; } | awk -v n="$2" '$1 == n { print $2 }')
    [[ -n $PID ]] || die "no pid for $2"
}

start "$HUSK" "bench-exec-$$"
commands=("$HUSK exec bench-exec-$$ /bin/true" "$(command -v nsenter) -t $PID -a /bin/true")
labels=("husk exec" "nsenter -a")
if [[ -n ${OLD:-} ]]; then
    start "$OLD" "bench-exec-old-$$"
    commands+=("$OLD exec bench-exec-old-$$ /bin/true")
    labels+=("husk exec (OLD)")
fi
JSON=$TMP/exec.json
log "timing ${#commands[@]} commands, $RUNS runs each"
hyperfine -N -w 10 -r "$RUNS" --export-json "$JSON" "${commands[@]}" >&2

log "alternating the same commands, $ALTERNATE rounds"
python3 - "$JSON" "$ALTERNATE" "${#commands[@]}" "${commands[@]}" "${labels[@]}" <<'PY' | tee benches/results/exec.md
import json, os, statistics, sys, time
results = json.load(open(sys.argv[1]))["results"]
rounds, n = int(sys.argv[2]), int(sys.argv[3])
commands, labels = [c.split() for c in sys.argv[4:4 + n]], sys.argv[4 + n:]
null = os.open("/dev/null", os.O_RDWR)
actions = [(os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, null, 1)]
times = [[] for _ in commands]
for i in range(rounds):
    # Each round in the other order, so neither command always follows the other.
    for k in (range(n) if i % 2 == 0 else reversed(range(n))):
        start = time.perf_counter()
        pid = os.posix_spawn(commands[k][0], commands[k], os.environ, file_actions=actions)
        if os.waitpid(pid, 0)[1] != 0:
            sys.exit("%s failed" % " ".join(commands[k]))
        times[k].append(time.perf_counter() - start)
medians = [statistics.median(t) for t in times]
print("| joining a container, then `/bin/true` | hyperfine mean ± sd | vs nsenter -a | alternating median | vs nsenter -a |")
print("|---|---:|---:|---:|---:|")
for k, (label, r) in enumerate(zip(labels, results)):
    print("| %s | %.3f ± %.3f ms | %.2f× | %.3f ms | %.2f× |" % (
        label, r["mean"] * 1e3, r["stddev"] * 1e3, r["mean"] / results[1]["mean"],
        medians[k] * 1e3, medians[k] / medians[1]))
PY
