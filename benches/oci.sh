#!/usr/bin/env bash
# benches/oci.sh: the OCI runtime interface against crun and runc, in ONE hyperfine run each:
#   1. the bare lifecycle on one bundle (busybox rootfs, /bin/true): `create` + `start` +
#      `delete --force` (the container has ended or is killed), as an engine drives it;
#   2. `podman run --rm IMAGE /bin/true` with each runtime (podman's own cost in all three).
# The number that matters is the ratio to crun (issue 18's target: husk <= 0.5x crun for 1).
#
# Usage (as root):  HUSK=target/full/release/husk benches/oci.sh   (a husk built with oci)
#   RUNS=200 (default)
# Needs (Debian): hyperfine crun runc podman busybox-static python3 util-linux
#
# crun refuses this host's hybrid cgroups: every crun call runs in the harness benches/run.sh
# uses (a private mount namespace with a cgroup2 over /sys/fs/cgroup, --cgroup-manager
# disabled); its "harness alone" row times that wrapper by itself, so crun's own share can be
# read off. podman allows --cgroups=disabled only for a runtime called crun: husk runs under
# a symlink of that name; runc under podman uses the cgroupfs manager.
set -euo pipefail
SCRIPT=oci.sh
# shellcheck source=benches/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
RUNS=${RUNS:-200}
resolve_husk
HUSK=${HUSK:-$(realpath target/full/release/husk)}
"$HUSK" oci features >/dev/null 2>&1 || die "$HUSK is not built with the oci option (cargo build --release --features oci)"
TMP=$(mktemp -d /tmp/husk-oci-bench.XXXXXX)
trap 'rm -rf -- "$TMP"' EXIT
busybox_rootfs "$TMP/rootfs"
mkdir -p "$TMP/bin"
ln -s "$HUSK" "$TMP/bin/husk-oci"
ln -s "$HUSK" "$TMP/bin/crun"

# One bundle per runtime, from husk's own default spec (the same config for all three).
for name in husk crun runc; do
    mkdir -p "$TMP/$name"
    (cd "$TMP/$name" && "$HUSK" oci spec)
    python3 - "$TMP/$name/config.json" "$TMP/rootfs" <<'PY'
import json, sys
path, rootfs = sys.argv[1:3]
c = json.load(open(path))
c["ociVersion"] = "1.0.2"  # what crun 1.8 and runc 1.1 know
c["root"] = {"path": rootfs, "readonly": True}
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
json.dump(c, open(path, "w"))
PY
done
# Each cycle is a shell script (hyperfine -N runs one program). The harness is spelled out
# in each line: no eval, whose second parse would lose its quoting.
H='unshare -m --propagation private sh -c '\''mount -t cgroup2 none /sys/fs/cgroup && exec "$@"'\'' sh'
cat > "$TMP/cycle-husk" <<SH
#!/bin/sh -e
$TMP/bin/husk-oci --root $TMP/state-husk create --bundle $TMP/husk c >/dev/null
$TMP/bin/husk-oci --root $TMP/state-husk start c
$TMP/bin/husk-oci --root $TMP/state-husk delete --force c
SH
cat > "$TMP/cycle-crun" <<SH
#!/bin/sh -e
$H crun --root $TMP/state-crun --cgroup-manager=disabled create --bundle $TMP/crun c >/dev/null
$H crun --root $TMP/state-crun --cgroup-manager=disabled start c
$H crun --root $TMP/state-crun --cgroup-manager=disabled delete --force c
SH
cat > "$TMP/harness" <<SH
#!/bin/sh -e
$H true; $H true; $H true
SH
cat > "$TMP/cycle-runc" <<SH
#!/bin/sh -e
runc --root $TMP/state-runc create --bundle $TMP/runc c >/dev/null
runc --root $TMP/state-runc start c
runc --root $TMP/state-runc delete --force c
SH
chmod +x "$TMP"/cycle-* "$TMP/harness"
log "bare lifecycle: create + start + delete --force, $RUNS runs each"
hyperfine -N --runs "$RUNS" --warmup 5 --export-json "$TMP/cycle.json" \
    -n husk "$TMP/cycle-husk" -n crun "$TMP/cycle-crun" -n "crun's harness alone (x3)" "$TMP/harness" \
    -n runc "$TMP/cycle-runc" >&2

if command -v podman >/dev/null; then
    image=localhost/husk-oci-bench
    tar -C "$TMP/rootfs" -c . | podman import - "$image" >/dev/null
    opts="--rm --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024"
    # crun under podman, in the same harness (podman calls it by this wrapper's name).
    mkdir -p "$TMP/crun-wrap"
    printf '#!/bin/sh\nexec %s %s "$@"\n' "$H" "$(command -v crun)" > "$TMP/crun-wrap/crun"
    printf '#!/bin/sh\nexec podman --runtime %s run %s --cgroups=disabled %s /bin/true\n' \
        "$TMP/crun-wrap/crun" "$opts" "$image" > "$TMP/podman-crun"
    chmod +x "$TMP/crun-wrap/crun" "$TMP/podman-crun"
    log "podman run --rm $image /bin/true, $((RUNS / 4)) runs each"
    hyperfine -N --runs "$((RUNS / 4))" --warmup 3 --export-json "$TMP/podman.json" \
        -n "podman + husk" "podman --runtime $TMP/bin/crun run $opts --cgroups=disabled $image /bin/true" \
        -n "podman + crun" "$TMP/podman-crun" \
        -n "podman + runc" "podman --runtime runc --cgroup-manager cgroupfs run $opts $image /bin/true" >&2 || true
    podman rmi "$image" >/dev/null 2>&1 || true
fi
python3 - "$TMP/cycle.json" "$TMP/podman.json" <<'PY'
import json, os, sys
def table(path, base):
    if not os.path.exists(path):
        return
    rs = {r["command"]: r for r in json.load(open(path))["results"]}
    b = rs.get(base)
    print("| command | mean ± sd | vs " + base + " |\n|---|---:|---:|")
    for name, r in rs.items():
        ratio = f"{r['mean'] / b['mean']:.2f}×" if b else "—"
        print(f"| {name} | {r['mean']*1000:.3f} ± {r['stddev']*1000:.3f} ms | {ratio} |")
    print()
table(sys.argv[1], "crun")
table(sys.argv[2], "podman + crun")
PY
