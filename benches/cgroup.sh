#!/usr/bin/env bash
# benches/cgroup.sh: what a cgroup costs husk run, measured inside QEMU (the only place
# here with the whole cgroup v2 hierarchy): N runs of `husk run --rootfs BUSYBOX -- /bin/true`
# with no cgroup, with a cgroup and no limits (--stats), and with memory, pids and cpu
# limits; and the smallest --memory under which /bin/true still runs.
#
# Usage: benches/cgroup.sh            (RUNS=100 by default; needs what .ci/run installs)
# Timing is guest time from /proc/uptime (10 ms ticks) over all runs, so read the
# per-run figures as ±10ms/RUNS. Compare the rows with each other, not with the host.
set -euo pipefail
cd "$(dirname -- "${BASH_SOURCE[0]}")/.."
RUNS=${RUNS:-100}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "cgroup.sh: RUNS must be a positive integer" >&2; exit 1; }
HUSK=${HUSK:-target/release/husk}
[[ -x $HUSK ]] || { echo "cgroup.sh: no $HUSK (cargo build --release)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT
cat >"$work/bench.sh" <<SCRIPT
#!/bin/sh
mkdir -p /c/bin /c/proc /c/dev /c/sys /c/tmp
cp /bin/busybox /c/bin/ && ln -s busybox /c/bin/true
ticks() { read up rest < /proc/uptime; echo \${up%.*}\${up#*.}; }
row() { # NAME OPTIONS...
    name=\$1; shift
    husk run --rootfs /c "\$@" -- /bin/true 2>/dev/null || { echo "row \$name failed"; return; }
    start=\$(ticks); i=0
    while [ \$i -lt $RUNS ]; do husk run --rootfs /c "\$@" -- /bin/true 2>/dev/null; i=\$((i + 1)); done
    echo "row \$name \$(( (\$(ticks) - start) * 10000 / $RUNS ))"
}
row none
row cgroup --stats
row limits --memory 100M --pids-limit 100 --cpus 1
for m in 512k 384k 256k 224k 192k 160k 128k; do
    if husk run --rootfs /c --memory \$m -- /bin/true 2>/dev/null; then echo "tiny \$m ok"; else echo "tiny \$m failed"; fi
done
SCRIPT
qemu/mkinitramfs "$work/bench.cpio" --init "$HUSK" --busybox --add "$work/bench.sh:/bench.sh" >/dev/null
console=$(qemu/boot --initrd "$work/bench.cpio" --timeout 600 -- sh /bench.sh </dev/null | tr -d '\r')

us() { awk -v n="$1" '$1 == "row" && $2 == n { print $3 }' <<<"$console"; }
none=$(us none) cg=$(us cgroup) lim=$(us limits)
[[ -n $none && -n $cg && -n $lim ]] || { echo "cgroup.sh: the VM did not report:"; echo "$console"; exit 1; } >&2
smallest=$(awk '$1 == "tiny" && $3 == "ok" { m = $2 } END { print m }' <<<"$console")
{
    echo "| husk run --rootfs BUSYBOX -- /bin/true, in QEMU | per run | added |"
    echo "|---|---:|---:|"
    printf '| no cgroup | %d µs | — |\n' "$none"
    printf '| own cgroup, no limits (--stats) | %d µs | +%d µs |\n' "$cg" $((cg - none))
    printf '| memory + pids + cpu limits | %d µs | +%d µs |\n' "$lim" $((lim - none))
    echo
    echo "Smallest --memory under which /bin/true runs: ${smallest:-none of those tried} ($RUNS runs per row, guest time)."
} | tee benches/results/cgroup.md
