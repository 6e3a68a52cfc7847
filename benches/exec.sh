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
set -euo pipefail

RUNS=${RUNS:-500}
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
    PID=$("$1" ps | awk -v n="$2" '$1 == n { print $2 }')
    [[ -n $PID ]] || die "no pid for $2"
}

start "$HUSK" "bench-exec-$$"
commands=("$HUSK exec bench-exec-$$ /bin/true" "nsenter -t $PID -a /bin/true")
labels=("husk exec" "nsenter -a")
if [[ -n ${OLD:-} ]]; then
    start "$OLD" "bench-exec-old-$$"
    commands+=("$OLD exec bench-exec-old-$$ /bin/true")
    labels+=("husk exec (OLD)")
fi
JSON=$TMP/exec.json
log "timing ${#commands[@]} commands, $RUNS runs each"
hyperfine -N -w 10 -r "$RUNS" --export-json "$JSON" "${commands[@]}" >&2

python3 - "$JSON" "${labels[@]}" <<'PY' | tee benches/results/exec.md
import json, sys
results = json.load(open(sys.argv[1]))["results"]
labels = sys.argv[2:]
base = results[1]["mean"]
print("| joining a container, then `/bin/true` | mean ± sd | vs nsenter -a |")
print("|---|---:|---:|")
for label, r in zip(labels, results):
    print("| %s | %.3f ± %.3f ms | %.2f× |" % (label, r["mean"] * 1e3, r["stddev"] * 1e3, r["mean"] / base))
PY
