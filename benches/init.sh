#!/usr/bin/env bash
# benches/init.sh: compare `husk init -- CMD` with other container inits
# (tini, tini-static, catatonit, dumb-init). It prints a markdown table for the
# README and writes the same table to benches/results/init.md.
#
# Usage:
#   benches/init.sh                        # uses target/release/husk
#   HUSK=/path/to/husk benches/init.sh
#   RUNS=500 IDLE_SECONDS=30 benches/init.sh
#
# Needs (Debian):
#   apt-get install -y --no-install-recommends \
#     hyperfine tini tini-static catatonit dumb-init procps
#
# Progress and hyperfine's own output go to stderr. Only the table goes to
# stdout, so `benches/init.sh > table.md` works.
#
# What is measured:
#   1. Start-up time of `<init> /bin/true` against bare /bin/true, all in ONE
#      hyperfine run. Absolute times drift between machines and runs, so the
#      numbers that matter are the ratios ("added over /bin/true" and "vs tini").
#   2. On-disk size of each binary. Dynamically linked ones also need shared
#      libraries at run time, and the table says so.
#   3. Idle VmRSS of the init process while it supervises a sleeping child.
#   4. Idle wakeups: the context switches of the init process during an
#      IDLE_SECONDS window. A well-behaved init blocks and switches 0 times.
#      tini, for example, wakes once a second.
set -euo pipefail

RUNS=${RUNS:-200}
WARMUP=5
IDLE_SECONDS=${IDLE_SECONDS:-10}
# Deadline for anything we wait on (child start-up, init shutdown), in seconds.
DEADLINE=5

SCRIPT=init.sh
# shellcheck source=benches/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, got '$RUNS'"
[[ $IDLE_SECONDS =~ ^[1-9][0-9]*$ ]] || die "IDLE_SECONDS must be a positive integer, got '$IDLE_SECONDS'"

# HUSK as the caller gave it is resolved before the cd below (lib.sh, resolve_husk).
resolve_husk
cd "$(dirname -- "${BASH_SOURCE[0]}")/.."
HUSK=${HUSK:-$PWD/target/release/husk}

for tool in hyperfine python3 pgrep; do
    command -v "$tool" >/dev/null || die "'$tool' is missing (see the apt-get line at the top of this script)"
done
# husk is the subject of the benchmark. Without it the table is meaningless,
# so this is fatal. A missing peer only gets skipped.
[[ -x $HUSK && -f $HUSK ]] || die "husk binary not found at $HUSK (run 'cargo build --release' or set HUSK=...)"

RESULTS_DIR=benches/results
JSON=$RESULTS_DIR/init.json # kept for inspection; ignored by $RESULTS_DIR/.gitignore
TABLE=$RESULTS_DIR/init.md
mkdir -p "$RESULTS_DIR"
TMP=$(mktemp -d)

# ---------------------------------------------------------------------------
# Cleanup. Every background process we start is recorded: our own children
# (the inits and the window timer) in BG_PIDS, and the inits' sleeps in
# BG_GRANDCHILDREN. On any exit, each of our children gets SIGTERM, which an
# init should forward to its child. Anything still alive after the deadline
# gets SIGKILL, so nothing outlives the script.
# ---------------------------------------------------------------------------
BG_PIDS=()
BG_GRANDCHILDREN=()

stop_processes() {
    local pid end=$((SECONDS + DEADLINE))
    for pid in "${BG_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${BG_PIDS[@]}"; do
        while kill -0 "$pid" 2>/dev/null && ((SECONDS < end)); do sleep 0.05; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true # reap; the exit status is irrelevant here
    done
    # The sleeps are not our children, so we cannot wait for them. Normally
    # they are already gone, because the init forwarded SIGTERM. Check the
    # name before killing, so a recycled PID is never hit.
    for pid in "${BG_GRANDCHILDREN[@]}"; do
        if [[ $(cat "/proc/$pid/comm" 2>/dev/null) == sleep ]]; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    BG_PIDS=()
    BG_GRANDCHILDREN=()
}
cleanup() {
    stop_processes
    rm -rf -- "$TMP"
}
trap cleanup EXIT
# Turn signals into a normal exit, so the EXIT trap runs exactly once.
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
# The inits. init_argv is the one place that knows how each init is invoked.
# It sets ARGV to the prefix that goes in front of the supervised command.
# ---------------------------------------------------------------------------
declare -A BIN # name -> absolute path of the init's binary
init_argv() {
    case $1 in
        husk) ARGV=("${BIN[husk]}" init --) ;;
        # -s: we are not PID 1, so tini must register as a child subreaper.
        # Otherwise it warns on every start-up, and that output would be timed.
        tini | tini-static) ARGV=("${BIN[$1]}" -s --) ;;
        catatonit) ARGV=("${BIN[catatonit]}" --) ;;
        dumb-init) ARGV=("${BIN[dumb-init]}") ;;
        *) die "unknown init '$1'" ;;
    esac
}

INITS=() # the inits that are present and work, in table order
BIN[husk]=$HUSK
for name in husk tini tini-static catatonit dumb-init; do
    if [[ $name != husk ]]; then
        if ! BIN[$name]=$(command -v -- "$name"); then
            log "skipping $name: not installed"
            continue
        fi
    fi
    # Try it once first. A present but broken peer would otherwise make the
    # whole hyperfine run fail.
    init_argv "$name"
    if ! "${ARGV[@]}" /bin/true >/dev/null 2>&1; then
        [[ $name == husk ]] && die "'$HUSK init -- /bin/true' failed"
        log "skipping $name: '${ARGV[*]} /bin/true' failed"
        continue
    fi
    INITS+=("$name")
done
log "benchmarking: ${INITS[*]}"

# ---------------------------------------------------------------------------
# 1. Start-up time, with every command in one hyperfine run.
#    -N: no intermediate shell. Here the whole cost is a few hundred
#    microseconds, so a shell spawn would swamp it.
#    -n: stable names that the report uses to find each result in the JSON.
# ---------------------------------------------------------------------------
hf_args=(-N -w "$WARMUP" -r "$RUNS" --style basic --export-json "$JSON")
hf_args+=(-n /bin/true /bin/true)
for name in "${INITS[@]}"; do
    init_argv "$name"
    # hyperfine splits a -N command with shell-word rules, so quote each word.
    hf_args+=(-n "$name" "$(printf '%q ' "${ARGV[@]}" /bin/true)")
done
log "start-up: hyperfine, $WARMUP warm-up + $RUNS runs per command"
hyperfine "${hf_args[@]}" >&2

# ---------------------------------------------------------------------------
# 3 + 4. Idle VmRSS and wakeups. All inits start together around a sleep and
#    share one IDLE_SECONDS window, so this takes ~IDLE_SECONDS rather than
#    one window per init. The sleep outlives the window by a wide margin,
#    because the init must still be supervising it when the window ends.
#    We kill everything once we are done.
# ---------------------------------------------------------------------------

# Sum the context switches over all threads. /proc/PID/status only counts the
# main thread, and a threaded init would hide its wakeups there.
ctxt_switches() {
    awk '/^(non)?voluntary_ctxt_switches:/ { s += $2 } END { print s }' /proc/"$1"/task/*/status
}
# VmRSS is in "kB" as /proc reports it. These are KiB.
vmrss_kib() { awk '/^VmRSS:/ { print $2 }' /proc/"$1"/status; }
proc_state() { awk '/^State:/ { print $2 }' /proc/"$1"/status 2>/dev/null; }

# Wait until init PID $1 has a child that has already exec'd `sleep`, and
# the init itself is asleep (state S), i.e. blocked in its main loop. Until
# then its start-up work would count as idle wakeups. On success this prints
# the child's PID.
wait_until_idle() {
    local pid=$1 child end=$((SECONDS + DEADLINE))
    while ((SECONDS < end)); do
        kill -0 "$pid" 2>/dev/null || return 1 # the init died
        # A forked child keeps the parent's name until it execs, so -x sleep
        # also proves that the exec has happened.
        child=$(pgrep -P "$pid" -x sleep | head -n1) || true
        if [[ -n $child && $(proc_state "$pid") == S ]]; then
            echo "$child"
            return 0
        fi
        sleep 0.01 # polling interval, not a wait for some guessed duration
    done
    return 1
}

declare -A IDLE_PID RSS WAKE CHILD
log "idle: starting all inits around 'sleep'"
for name in "${INITS[@]}"; do
    init_argv "$name"
    "${ARGV[@]}" sleep $((IDLE_SECONDS + 60)) </dev/null >/dev/null 2>&1 &
    IDLE_PID[$name]=$!
    BG_PIDS+=("$!")
done
for name in "${INITS[@]}"; do
    if CHILD[$name]=$(wait_until_idle "${IDLE_PID[$name]}"); then
        BG_GRANDCHILDREN+=("${CHILD[$name]}")
    else
        log "$name: no idle 'sleep' child within ${DEADLINE}s; idle figures skipped"
        unset 'IDLE_PID[$name]'
    fi
done
declare -A CTXT_BEFORE
for name in "${!IDLE_PID[@]}"; do
    RSS[$name]=$(vmrss_kib "${IDLE_PID[$name]}")
    CTXT_BEFORE[$name]=$(ctxt_switches "${IDLE_PID[$name]}")
done
log "idle: measuring wakeups over ${IDLE_SECONDS}s"
# This is the measurement window itself. The sleep runs in the background
# and we wait for it: bash delays a trapped signal until a foreground command
# finishes, but it interrupts `wait`, so Ctrl-C and SIGTERM take effect at
# once.
sleep "$IDLE_SECONDS" &
BG_PIDS+=("$!")
wait "$!"
unset 'BG_PIDS[-1]' # reaped; its PID may be reused, so never signal it again
for name in "${!IDLE_PID[@]}"; do
    # The figure is valid only if the init still supervised its child for the
    # whole window.
    if [[ -d /proc/${CHILD[$name]} ]] && after=$(ctxt_switches "${IDLE_PID[$name]}" 2>/dev/null); then
        WAKE[$name]=$((after - CTXT_BEFORE[$name]))
    else
        log "$name: init or its child exited during the window; wakeups skipped"
    fi
done
stop_processes

# ---------------------------------------------------------------------------
# 2 + 5. Sizes and the report. Facts go from bash to python as TSV:
#   name, binary path, idle VmRSS in KiB, wakeups (empty = not measured).
# ---------------------------------------------------------------------------
for name in "${INITS[@]}"; do
    printf '%s\t%s\t%s\t%s\n' "$name" "${BIN[$name]}" "${RSS[$name]:-}" "${WAKE[$name]:-}"
done >"$TMP/facts.tsv"

python3 - "$JSON" "$TMP/facts.tsv" "$IDLE_SECONDS" "$RUNS" "$WARMUP" >"$TMP/init.md" <<'PY'
import json, os, platform, struct, subprocess, sys

json_path, facts_path, idle_s, runs, warmup = sys.argv[1:6]
results = {r["command"]: r for r in json.load(open(json_path))["results"]}
MS = 1e3  # hyperfine reports seconds

def linkage(path):
    """'static' or 'dynamic' from the ELF program headers.

    A PT_INTERP entry (an ELF interpreter, i.e. ld.so) means the binary loads
    shared libraries at run time. We read the headers ourselves because
    `file` may be missing, and because it calls static-pie binaries
    "dynamically linked" (they are ET_DYN, but need no libraries).
    """
    with open(path, "rb") as f:
        hdr = f.read(64)
        if hdr[:4] != b"\x7fELF":
            return "not ELF"
        bits64, end = hdr[4] == 2, "<" if hdr[5] == 1 else ">"
        if bits64:
            phoff, = struct.unpack_from(end + "Q", hdr, 0x20)
            phentsize, phnum = struct.unpack_from(end + "HH", hdr, 0x36)
        else:
            phoff, = struct.unpack_from(end + "I", hdr, 0x1C)
            phentsize, phnum = struct.unpack_from(end + "HH", hdr, 0x2A)
        f.seek(phoff)
        for _ in range(phnum):
            p_type, = struct.unpack_from(end + "I", f.read(phentsize), 0)
            if p_type == 3:  # PT_INTERP
                return "dynamic"
    return "static"

bare = results["/bin/true"]["mean"]
tini_added = results["tini"]["mean"] - bare if "tini" in results else None

rows, husk = [], {}
rows.append(["/bin/true (bare)", "—", "—", "—",
             f"{bare*MS:.3f} ± {results['/bin/true']['stddev']*MS:.3f} ms", "—", "—"])
for line in open(facts_path):
    name, path, rss, wake = line.rstrip("\n").split("\t")
    r = results[name]
    added = r["mean"] - bare
    link = linkage(path)
    size = f"{os.path.getsize(path):,} B"
    size += " + shared libs" if link == "dynamic" else f" ({link})"
    ratio = f"{added / tini_added:.2f}×" if tini_added and tini_added > 0 else "n/a"
    rows.append([name, size,
                 f"{rss} KiB" if rss else "n/a",
                 wake if wake else "n/a",
                 f"{r['mean']*MS:.3f} ± {r['stddev']*MS:.3f} ms",
                 f"{added*MS:+.3f} ms", ratio])
    if name == "husk":
        husk = dict(added=added, rss=rss, wake=wake)

head = ["init", "size", "idle VmRSS", f"wakeups/{idle_s}s",
        "start-up mean ± sd", "added over /bin/true", "vs tini"]
out = ["| " + " | ".join(head) + " |",
       "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
out += ["| " + " | ".join(r) + " |" for r in rows]

def verdict(ok):
    return "met" if ok else "**missed**"

hf = subprocess.run(["hyperfine", "--version"], capture_output=True, text=True).stdout.strip()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
            if l.startswith("model name")), platform.machine())
out += ["",
        f"Start-up: `{hf}` with `-N`, {warmup} warm-up + {runs} runs of `<init> /bin/true` "
        f"per init, all in one run. Compare ratios, not absolute times. "
        f"Idle figures are for the init process alone while it supervises `sleep`: "
        f"VmRSS from /proc/PID/status, and wakeups are voluntary + involuntary "
        f"context switches over {idle_s} s. "
        f"Linux {platform.release()}, {cpu}, {os.cpu_count()} CPUs.",
        "",
        "Targets for husk:",
        ""]
if tini_added and tini_added > 0:
    frac = husk["added"] / tini_added
    out.append(f"- start-up overhead ≤ 1/3 of tini's: {frac:.2f}× — {verdict(frac <= 1/3)}")
elif tini_added is None:
    out.append("- start-up overhead ≤ 1/3 of tini's: n/a (tini not measured)")
else:
    out.append("- start-up overhead ≤ 1/3 of tini's: n/a (tini's added time came out"
               " ≤ 0, so the run was too noisy; rerun with a larger RUNS)")
out.append("- idle VmRSS ≤ 128 KiB: "
           + (f"{husk['rss']} KiB — {verdict(int(husk['rss']) <= 128)}" if husk["rss"] else "not measured"))
out.append(f"- idle wakeups = 0 per {idle_s} s: "
           + (f"{husk['wake']} — {verdict(int(husk['wake']) == 0)}" if husk["wake"] else "not measured"))
print("\n".join(out))
PY

cp -- "$TMP/init.md" "$TABLE"
log "wrote $TABLE (raw hyperfine data: $JSON)"
cat -- "$TMP/init.md"
