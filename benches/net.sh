#!/usr/bin/env bash
# benches/net.sh: what `husk run --net bridge` costs, in one hyperfine run:
#   1. start-up: `husk run --net bridge -- /bin/true` against `--net none` (the added
#      cost; target <= 1 ms) and `podman run --network bridge` of the same rootfs where
#      podman can run here;
#   2. TCP throughput container -> host (iperf3, 5 s) against the same pair of network
#      namespaces joined by a veth pair made by hand with `ip` (target >= 0.95x).
# Everything runs inside a network namespace this script makes (unshare --net), which
# stands in for the host: the bridge, husk's nftables tables and every packet stay in it.
# It prints a markdown table for the README and writes it to benches/results/net.md.
#
# Usage (as root):  benches/net.sh          HUSK=/path/to/husk RUNS=300 benches/net.sh
# Needs (Debian): hyperfine busybox-static iperf3 nftables iproute2 (podman: optional)
set -euo pipefail

RUNS=${RUNS:-300}
SCRIPT=net.sh
SELF=$(realpath -- "$0")
# shellcheck source=benches/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
resolve_husk
cd "$(dirname -- "${BASH_SOURCE[0]}")/.."
HUSK=${HUSK:-$PWD/target/release/husk}
((EUID == 0)) || die "run as root"
for tool in hyperfine iperf3 busybox ip nft; do
    command -v "$tool" >/dev/null || die "$tool is missing (apt-get install hyperfine iperf3 busybox-static iproute2 nftables)"
done
[[ -x $HUSK ]] || die "no husk at $HUSK (cargo build --release)"

if [[ ${1:-} != --inside ]]; then
    # Re-run in the stand-in host: a network namespace of our own, and a private mount
    # namespace (podman's and ip's state stay in it).
    exec unshare --net --mount --propagation private "$SELF" --inside
fi

TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$TMP"' EXIT
busybox_rootfs "$TMP/rootfs"
ip link set lo up
mkdir -p benches/results
TABLE=benches/results/net.md

# --- 1. start-up, one hyperfine run ------------------------------------------------
"$HUSK" run --rootfs "$ROOTFS" --read-only --net bridge -- /bin/true # the bridge, made once
cmds=(
    "$HUSK run --rootfs $ROOTFS --read-only --net none -- /bin/true"
    "$HUSK run --rootfs $ROOTFS --read-only --net bridge -- /bin/true"
)
names=("husk run --net none" "husk run --net bridge")
if command -v podman >/dev/null &&
    podman run --rm --network bridge --rootfs "$ROOTFS" /bin/true >/dev/null 2>&1; then
    cmds+=("podman run --rm --network bridge --rootfs $ROOTFS /bin/true")
    names+=("podman run --network bridge")
else
    log "podman run --network bridge does not run here: its row is left out"
fi
args=()
for i in "${!cmds[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
hyperfine -N -w 5 -r "$RUNS" --export-json "$TMP/start.json" "${args[@]}" >&2

# --- 2. throughput, container -> host against a hand-made veth pair ----------------
iperf3 -s -D -1 -p 5201 --logfile "$TMP/s1.log" >/dev/null
sleep 0.2
"$HUSK" run --rootfs / --read-only --net bridge -- iperf3 -c 10.87.0.1 -p 5201 -t 5 -J >"$TMP/husk.json"
unshare --net sleep 600 &
PEER=$!
while [[ $(readlink /proc/$PEER/ns/net) == $(readlink /proc/self/ns/net) ]]; do sleep 0.01; done
ip link add hand0 type veth peer name hand1 netns "$PEER"
ip addr add 192.0.2.1/24 dev hand0 && ip link set hand0 up
nsenter -t "$PEER" -n sh -c 'ip link set lo up; ip addr add 192.0.2.2/24 dev hand1; ip link set hand1 up'
iperf3 -s -D -1 -p 5202 --logfile "$TMP/s2.log" >/dev/null
sleep 0.2
nsenter -t "$PEER" -n iperf3 -c 192.0.2.1 -p 5202 -t 5 -J >"$TMP/hand.json"

python3 - "$TMP" "$RUNS" <<'EOF' | tee "$TABLE"
import json, sys
tmp, runs = sys.argv[1], sys.argv[2]
start = json.load(open(f"{tmp}/start.json"))["results"]
mean = {r["command"]: r["mean"] * 1000 for r in start}
low = {r["command"]: r["min"] * 1000 for r in start}
none = mean["husk run --net none"]
print(f"| start-up ({runs} runs, one hyperfine run) | mean | min | vs --net none |")
print("|---|---|---|---|")
for r in start:
    name = r["command"]
    print(f"| `{name}` | {mean[name]:.2f} ms | {low[name]:.2f} ms | {mean[name] - none:+.2f} ms |")
if "podman run --network bridge" in mean:
    ratio = mean["husk run --net bridge"] / mean["podman run --network bridge"]
    print(f"\nhusk run --net bridge / podman run --network bridge: **{ratio:.3f}x**")
gbit = lambda f: json.load(open(f))["end"]["sum_received"]["bits_per_second"] / 1e9
husk, hand = gbit(f"{tmp}/husk.json"), gbit(f"{tmp}/hand.json")
print(f"\n| TCP container -> host (iperf3, 5 s) | Gbit/s |\n|---|---|")
print(f"| husk --net bridge (veth + bridge + masquerade table) | {husk:.2f} |")
print(f"| hand-made veth pair with ip | {hand:.2f} |")
print(f"\nthroughput ratio: **{husk / hand:.2f}x**")
EOF
