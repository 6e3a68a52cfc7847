#!/usr/bin/env bash
# benches/cgroup.sh: what limits cost `husk run --rootfs BUSYBOX -- /bin/true`, in two places.
#
# 1. This host, whatever its cgroup layout (this development VM is hybrid: every limit is
#    cgroup v1): hyperfine (-N) runs of all three together, ROUNDS of them (5 warm-up each,
#    the order reversed every other round, RUNS runs of each in all, times pooled): husk with
#    no limits, husk with --memory 100M --pids-limit 100, and an OCI runtime with the same
#    limits (resources.memory.limit 104857600, resources.pids.limit 100) on the same host.
#    The runtime is crun when it accepts the host's layout, else runc (crun refuses a
#    hybrid layout whose cgroup2 holds any controller: the reason is printed and kept in
#    the table's notes). Its bundle: `crun spec` (or `runc spec`) with root.path the
#    busybox tree, terminal false, args /bin/true, the limits and a cgroup namespace (husk
#    makes one). Before timing, one run of each shows the limits really were applied.
#    Then the same three again, SPACED_RUNS runs of each 0.2 s apart (hyperfine --prepare):
#    on v1 a lone run may pay for moving its init into the groups more than back-to-back
#    runs do (the table's notes say why). SPACED_RUNS=0 leaves this out.
#    Targets (issue 15): the limits add <= 0.5 ms; husk's limited run <= 0.5x the runtime's.
# 2. Inside QEMU (the only place here with the whole cgroup v2 hierarchy): VM_RUNS runs of
#    husk with no cgroup, with a cgroup and no limits (--stats), and with memory, pids and
#    cpu limits; and the smallest --memory under which /bin/true still runs. Timing is guest
#    time from /proc/uptime (10 ms ticks) over all runs, so read the per-run figures as
#    ±10ms/VM_RUNS. Compare those rows with each other, not with the host.
#
# Usage (as root): benches/cgroup.sh   RUNS=300 ROUNDS=10 SPACED_RUNS=100 VM_RUNS=100 by default
#   HUSK=/path/to/husk BUSYBOX=/path/to/rootfs benches/cgroup.sh
# Needs (Debian): hyperfine crun runc busybox-static python3 qemu-system-x86 linux-image-amd64
# cpio. Progress goes to stderr; the tables go to stdout and to benches/results/cgroup.md.
set -euo pipefail
SCRIPT=cgroup.sh
# shellcheck source=benches/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

RUNS=${RUNS:-300}
ROUNDS=${ROUNDS:-10}
SPACED_RUNS=${SPACED_RUNS:-100}
GAP=0.2
VM_RUNS=${VM_RUNS:-100}
WARMUP=5
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, got '$RUNS'"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, got '$ROUNDS'"
[[ $VM_RUNS =~ ^[1-9][0-9]*$ ]] || die "VM_RUNS must be a positive integer, got '$VM_RUNS'"
[[ $SPACED_RUNS =~ ^[0-9]+$ ]] || die "SPACED_RUNS must be a number (0: none), got '$SPACED_RUNS'"
resolve_husk
if [[ -n ${BUSYBOX:-} ]]; then
    BUSYBOX=$(realpath -- "$BUSYBOX" 2>/dev/null) || die "BUSYBOX=$BUSYBOX does not exist"
fi
cd "$(dirname -- "${BASH_SOURCE[0]}")/.."
HUSK=${HUSK:-$PWD/target/release/husk}
[[ -x $HUSK && -f $HUSK ]] || die "no husk at $HUSK (cargo build --release, or HUSK=...)"
((EUID == 0)) || die "run as root (the sandboxes and the cgroups need it)"
for tool in hyperfine python3 busybox; do
    command -v -- "$tool" >/dev/null || die "$tool missing (see Needs: at the top of this script)"
done

work=$(mktemp -d)
# Nothing is mounted under $work in our mount namespace: the rootfs mounts are the
# sandboxes' own, in private namespaces.
trap 'rm -rf -- "$work"' EXIT
busybox_rootfs "$work/rootfs"
id=husk-cgroup-bench-$$

# ---------------------------------------------------------------------------
# 1. This host.
# ---------------------------------------------------------------------------
# A bundle for RUNTIME: its own spec, edited. ARGS... replace process.args.
bundle() { # RUNTIME DIR ARGS...
    local runtime=$1 dir=$2
    shift 2
    mkdir -p "$dir"
    (cd "$dir" && "$runtime" spec) || return 1
    python3 - "$dir/config.json" "$ROOTFS" "$@" <<'PY'
import json, sys
path, rootfs, args = sys.argv[1], sys.argv[2], sys.argv[3:]
config = json.load(open(path))
config["root"]["path"] = rootfs
config["process"]["terminal"] = False
config["process"]["args"] = args
linux = config["linux"]
linux.setdefault("resources", {})["memory"] = {"limit": 104857600}
linux["resources"]["pids"] = {"limit": 100}
if not any(ns["type"] == "cgroup" for ns in linux["namespaces"]):
    linux["namespaces"].append({"type": "cgroup"})
json.dump(config, open(path, "w"), indent=1)
PY
}

# What the container reads of its memory and pids limits, wherever the host keeps them.
show_limits='for f in memory/memory.limit_in_bytes memory.max pids/pids.max pids.max unified/pids.max; do
    [ -e /sys/fs/cgroup/$f ] && echo "$f=$(cat /sys/fs/cgroup/$f)"; done; true'
want_limits() { # WHO OUTPUT: OUTPUT must show memory 104857600 and pids 100
    grep -Eq '^(memory/memory\.limit_in_bytes|memory\.max)=104857600$' <<<"$2" &&
        grep -Eq '^(pids/|unified/)?pids\.max=100$' <<<"$2" ||
        die "$1 did not apply the limits; inside it saw: $(tr '\n' ' ' <<<"$2")"
}

runtime='' why_not_crun=''
if command -v crun >/dev/null; then
    bundle crun "$work/crun-check" /bin/sh -c "$show_limits" >/dev/null
    if out=$(crun run -b "$work/crun-check" "$id-check" 2>&1); then
        want_limits crun "$out"
        runtime=crun
    else
        why_not_crun=$(tail -n 1 <<<"$out")
        crun delete -f "$id-check" >/dev/null 2>&1 || true
        log "crun refuses this host: $why_not_crun; runc instead"
    fi
fi
if [[ -z $runtime ]]; then
    command -v runc >/dev/null || die "neither crun nor runc can run here (apt-get install -y crun runc)"
    bundle runc "$work/runc-check" /bin/sh -c "$show_limits" >/dev/null
    out=$(runc run -b "$work/runc-check" "$id-check" 2>&1) || die "runc failed: $out"
    want_limits runc "$out"
    runtime=runc
fi
bundle "$runtime" "$work/bundle" /bin/true >/dev/null

limits=(--memory 100M --pids-limit 100)
out=$("$HUSK" run --rootfs "$ROOTFS" "${limits[@]}" -- /bin/sh -c "$show_limits" 2>&1) ||
    die "husk run ${limits[*]} failed: $out"
want_limits husk "$out"

layout() { # this host's cgroup layout, in words
    if [[ $(stat -f -c %T /sys/fs/cgroup) == cgroup2fs ]]; then
        echo "cgroup v2"
    elif [[ -d /sys/fs/cgroup/unified && $(stat -f -c %T /sys/fs/cgroup/unified) == cgroup2fs ]]; then
        echo "hybrid (v1 controllers; cgroup2 at /sys/fs/cgroup/unified holding: $(xargs </sys/fs/cgroup/unified/cgroup.controllers))"
    else
        echo "cgroup v1"
    fi
}
read -r load _ </proc/loadavg
log "host: $(layout); load $load; hyperfine, $RUNS runs of each in $ROUNDS rounds"
# NAME\x1fCOMMAND per line: the three, under the names the tables look for.
host_runs=(
    "husk"$'\x1f'"$HUSK run --rootfs $ROOTFS -- /bin/true"
    "husk-limits"$'\x1f'"$HUSK run --rootfs $ROOTFS ${limits[*]} -- /bin/true"
    "$runtime-limits"$'\x1f'"$runtime run -b $work/bundle $id"
)
# The machine's load drifts (other work shares its two CPUs), and hyperfine times each
# command in a window of its own: as benches/run.sh does, the runs are split into ROUNDS
# rounds, the order reversed every other round, and each command's times pooled.
timed() { # NAME RUNS HYPERFINE-OPTIONS...: $work/NAME.json, hyperfine-shaped, pooled
    local name=$1 per_round=$((($2 + ROUNDS - 1) / ROUNDS)) round k entry order
    shift 2
    for ((round = 0; round < ROUNDS; round++)); do
        order=("${host_runs[@]}")
        if ((round % 2)); then
            for ((k = 0; k < ${#host_runs[@]}; k++)); do order[k]=${host_runs[${#host_runs[@]} - 1 - k]}; done
        fi
        local hf=(-N -r "$per_round" --style basic --export-json "$work/$name-$round.json" "$@")
        for entry in "${order[@]}"; do hf+=(-n "${entry%%$'\x1f'*}" "${entry#*$'\x1f'}"); done
        hyperfine "${hf[@]}" >&2
    done
    python3 - "$work/$name.json" "$work/$name"-*.json <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], sys.argv[2:]
pooled = {}
for path in rounds:
    for r in json.load(open(path))["results"]:
        pooled.setdefault(r["command"], []).extend(r["times"])
results = [{"command": c, "mean": statistics.mean(t), "stddev": statistics.stdev(t),
            "median": statistics.median(t)} for c, t in pooled.items()]
json.dump({"results": results}, open(out, "w"))
PY
}
timed host "$RUNS" -w "$WARMUP"
# Back to back, moving a thread group into a v1 group (cgroup.procs) is cheap: the last
# move left cgroup_threadgroup_rwsem in its slow mode. After a pause it first waits for an
# RCU grace period, as a lone run does. So the same commands once more, spaced.
if ((SPACED_RUNS)); then
    log "host: the same, $SPACED_RUNS runs of each, ${GAP}s apart"
    timed spaced "$SPACED_RUNS" -w 1 --prepare "sleep $GAP"
fi

# ---------------------------------------------------------------------------
# 2. Inside QEMU, cgroup v2.
# ---------------------------------------------------------------------------
cat >"$work/bench.sh" <<SCRIPT
#!/bin/sh
mkdir -p /c/bin /c/proc /c/dev /c/sys /c/tmp
cp /bin/busybox /c/bin/ && ln -s busybox /c/bin/true
ticks() { read up rest < /proc/uptime; echo \${up%.*}\${up#*.}; }
row() { # NAME OPTIONS...
    name=\$1; shift
    husk run --rootfs /c "\$@" -- /bin/true 2>/dev/null || { echo "row \$name failed"; return; }
    start=\$(ticks); i=0
    while [ \$i -lt $VM_RUNS ]; do husk run --rootfs /c "\$@" -- /bin/true 2>/dev/null; i=\$((i + 1)); done
    echo "row \$name \$(( (\$(ticks) - start) * 10000 / $VM_RUNS ))"
}
row none
row cgroup --stats
row limits --memory 100M --pids-limit 100 --cpus 1
for m in 512k 384k 256k 224k 192k 160k 128k; do
    if husk run --rootfs /c --memory \$m -- /bin/true 2>/dev/null; then echo "tiny \$m ok"; else echo "tiny \$m failed"; fi
done
SCRIPT
log "QEMU: $VM_RUNS runs of each row"
qemu/mkinitramfs "$work/bench.cpio" --init "$HUSK" --busybox --add "$work/bench.sh:/bench.sh" >/dev/null
console=$(qemu/boot --initrd "$work/bench.cpio" --timeout 600 -- sh /bench.sh </dev/null | tr -d '\r')

us() { awk -v n="$1" '$1 == "row" && $2 == n { print $3 }' <<<"$console"; }
none=$(us none) cg=$(us cgroup) lim=$(us limits)
[[ -n $none && -n $cg && -n $lim ]] || { echo "cgroup.sh: the VM did not report:"; echo "$console"; exit 1; } >&2
smallest=$(awk '$1 == "tiny" && $3 == "ok" { m = $2 } END { print m }' <<<"$console")

# ---------------------------------------------------------------------------
# The tables.
# ---------------------------------------------------------------------------
{
    python3 - "$work" "$runtime" "$RUNS" "$WARMUP" "$SPACED_RUNS" "$GAP" "$ROUNDS" "$(layout)" \
        "$why_not_crun" "$(hyperfine --version)" "$(uname -r)" "$load" <<'PY'
import json, os, sys
work, runtime, runs, warmup, spaced_runs, gap, rounds, layout, why_not_crun, hf, kernel, load = sys.argv[1:13]
ms = lambda s: s * 1e3
peer = f"{runtime}-limits"


def table(path, how):
    """The rows of one hyperfine run; returns (added ms, ratio to the peer), from means."""
    r = {x["command"]: x for x in json.load(open(path))["results"]}
    mean = {k: ms(v["mean"]) for k, v in r.items()}
    median = {k: ms(v["median"]) for k, v in r.items()}
    rows = [
        ("husk", "husk, no limits"),
        ("husk-limits", "husk `--memory 100M --pids-limit 100`"),
        (peer, f"{runtime}, the same limits"),
    ]
    print(f"| `/bin/true` from a busybox rootfs, this host ({layout.split(' (')[0]}), {how} "
          f"| mean ± sd | median | added by the limits | vs {runtime} |")
    print("|---|---:|---:|---:|---:|")
    for key, name in rows:
        added = "—"
        if key == "husk-limits":
            added = f"{mean[key] - mean['husk']:+.3f} ms (median {median[key] - median['husk']:+.3f})"
        print(f"| {name} | {mean[key]:.3f} ± {ms(r[key]['stddev']):.3f} ms | {median[key]:.3f} ms "
              f"| {added} | {mean[key] / mean[peer]:.2f}× |")
    print()
    return mean["husk-limits"] - mean["husk"], mean["husk-limits"] / mean[peer]


added, ratio = table(os.path.join(work, "host.json"), "back to back")
spaced = os.path.join(work, "spaced.json")
if os.path.exists(spaced):
    s_added, s_ratio = table(spaced, f"{gap} s apart")
print(f"Targets (issue 15): the limits add ≤ 0.5 ms: {added:+.3f} ms back to back, "
      f"{'met' if added <= 0.5 else 'NOT met'}"
      + (f" ({s_added:+.3f} ms spaced, {'met' if s_added <= 0.5 else 'NOT met'})" if os.path.exists(spaced) else "")
      + f"; husk's limited run ≤ 0.5× {runtime}'s: {ratio:.2f}×, {'met' if ratio <= 0.5 else 'NOT met'}"
      + (f" ({s_ratio:.2f}× spaced)" if os.path.exists(spaced) else "") + ".")
print()
print(f"{hf} with `-N`: {runs} runs of each back to back, in {rounds} rounds (each a hyperfine "
      f"run of all three, {warmup} warm-up, the order reversed every other round; times pooled)"
      + (f"; then {spaced_runs} runs of each with `--prepare 'sleep {gap}'`, likewise (1 warm-up)"
         if os.path.exists(spaced) else "")
      + f". Linux {kernel}, load average {load} at the start. Host layout: {layout}. Before "
      f"timing, each of the three printed its limits from inside (memory 104857600, pids 100).")
print("cgroup v1 has no CLONE_INTO_CGROUP: husk's init moves itself into its groups by writing "
      "to their `tasks` (one thread), while runc writes the init's pid to `cgroup.procs`, which "
      "moves a thread group and so write-locks cgroup_threadgroup_rwsem: after a pause that waits "
      "for an RCU grace period (milliseconds), right after another such move it mostly does not. "
      "The spaced runs show what a lone run pays.")
if why_not_crun:
    print(f"crun refuses this host (\"{why_not_crun}\": its hybrid mode allows no controller in "
          f"the cgroup2 hierarchy), so the peer is runc.")
print(f"The {runtime} bundle: `{runtime} spec` with root.path the busybox tree, terminal false, "
      f"args /bin/true, resources.memory.limit 104857600, resources.pids.limit 100 and a cgroup "
      f"namespace; run as `{runtime} run -b BUNDLE ID` (it deletes the container on exit).")
PY
    echo
    echo "| husk run --rootfs BUSYBOX -- /bin/true, in QEMU (cgroup v2) | per run | added |"
    echo "|---|---:|---:|"
    printf '| no cgroup | %d µs | — |\n' "$none"
    printf '| own cgroup, no limits (--stats) | %d µs | %+d µs |\n' "$cg" $((cg - none))
    printf '| memory + pids + cpu limits | %d µs | %+d µs |\n' "$lim" $((lim - none))
    echo
    echo "Smallest --memory under which /bin/true runs: ${smallest:-none of those tried} ($VM_RUNS runs per row, guest time)."
} | tee benches/results/cgroup.md
