//! `--net bridge`, `-p`, `--net container:NAME` and `--net pasta`, black-box, as root.
//!
//! Every test runs entirely inside a network namespace it makes (`unshare --net`), which
//! stands in for the host: the bridge, husk's nftables tables, IPv4 forwarding and every
//! packet stay inside it. A second namespace, linked to the stand-in by a veth pair, stands
//! in for "the outside world" (198.51.100.2, a documentation address that exists only in
//! these namespaces). Nothing ever addresses anything outside namespaces the test made.
//!
//! The tests run one at a time: they share husk's address claims (/run/husk/.net), which
//! each checks is empty when it is done. `--net bridge` is a build option (`--features
//! net`): its tests are in that build; `container:NAME` and `pasta` are in every build.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use common::proc::HUSK;
use common::rootfs;

/// One test at a time (see above).
static SERIAL: Mutex<()> = Mutex::new(());

/// The stand-in host and the outside world, and the checks every scenario shares: `run`
/// (husk run with the scenario's rootfs), `expect WHAT GOT WANTED`, `clean` (nothing of
/// husk's left: no veth, no claim, no table but husk's own masquerade table).
const PRELUDE: &str = r#"
set -u
fail() { echo "FAIL: $*"; kill -9 -1; exit 1; }
expect() { [ "$2" = "$3" ] || fail "$1: got [$2], wanted [$3]"; }
contains() { case "$2" in *"$3"*) ;; *) fail "$1: [$2] lacks [$3]";; esac; }
ip link set lo up
unshare --net sleep 600 & OUT=$!
while [ "$(readlink /proc/$OUT/ns/net)" = "$(readlink /proc/self/ns/net)" ]; do sleep 0.01; done
ip link add up0 type veth peer name down0 netns $OUT
ip addr add 198.51.100.1/24 dev up0 && ip link set up0 up
nsenter -t $OUT -n sh -c 'ip link set lo up; ip addr add 198.51.100.2/24 dev down0; ip link set down0 up; ip route add default via 198.51.100.1'
ip route add default via 198.51.100.2
outside() { nsenter -t $OUT -n "$@"; }
# A server that answers each connection with the address it came from.
PEER='import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(16)
while True:
    c,a=s.accept(); c.sendall(a[0].encode()+b"\n"); c.close()'
PROBE='import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 1).close()'
wait_port() { i=0; until $1 python3 -c "$PROBE" $2 $3 2>/dev/null; do i=$((i+1)); [ $i -lt 300 ] || fail "port $2:$3 never opened"; sleep 0.02; done; }
run() { "$HUSK" run --rootfs "$ROOTFS" "$@"; }
# husk run in the background, its own pid in SRV (not a subshell's).
run_bg() { "$HUSK" run --rootfs "$ROOTFS" "$@" & SRV=$!; }
clean() {
    # The veth pair goes with the container's namespace, which the kernel tears down in a
    # worker moments after its last process (cleanup_net): waited for, up to 5 s.
    i=0; while ip -o link show | grep -q ' hk' && [ $i -lt 500 ]; do i=$((i+1)); sleep 0.01; done
    links=$(ip -o link show | grep -c ' hk' || true); expect "veths left" "$links" 0
    claims=$(ls /run/husk/.net 2>/dev/null | wc -l); expect "address claims left" "$claims" 0
    tables=$(nft list tables | grep -c 'husk-' || true); expect "publish tables left" "$tables" 0
}
"#;

/// Runs `script` after the prelude in a new network namespace (and a private mount
/// namespace), with the rootfs in $ROOTFS; fails the test with its output unless it ends 0.
fn scenario(test: &str, rootfs: &Path, script: &str) {
    scenario_with(test, rootfs, script, &[])
}

/// [`scenario`], with more environment (`DEBIAN`, the Debian tree, say).
fn scenario_with(test: &str, rootfs: &Path, script: &str, env: &[(&str, &Path)]) {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let out = Command::new("unshare")
        // A PID namespace too: whatever the script leaves running ends with it.
        .args(["--net", "--mount", "--propagation", "private", "--pid", "--fork", "--mount-proc", "sh", "-c"])
        .arg(format!("{PRELUDE}\n{script}\necho SCENARIO-OK"))
        // The case's directory, where the scenario's own files go.
        .current_dir(rootfs.parent().unwrap_or(Path::new("/tmp")))
        .env("HUSK", HUSK)
        .env("ROOTFS", rootfs)
        .envs(env.iter().copied())
        .output()
        .expect("unshare");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let passed = out.status.success() && text.contains("SCENARIO-OK") && !text.contains("FAIL:");
    assert!(passed, "{test}: {}\n{text}", out.status);
}

/// `scenario` on a writable copy of the busybox tree.
fn on_busybox(test: &str, script: &str) {
    let case = common::case::Case::new(test, &[]);
    if let Some(rootfs) = busybox(&case) {
        scenario(test, &rootfs, script);
    }
}

/// A writable copy of the busybox tree (its /etc/hosts is made for the run, and removed).
fn busybox(case: &common::case::Case) -> Option<std::path::PathBuf> {
    if let Err(why) = rootfs::require_root() {
        common::skip("net", &why);
        return None;
    }
    match rootfs::busybox() {
        Ok(tree) => Some(case.rootfs_copy(tree)),
        Err(why) => {
            common::skip("net", &why);
            None
        }
    }
}

#[cfg(feature = "net")]
#[test]
fn bridge_links_the_container_both_ways_and_masquerades_it() {
    on_busybox(
        "bridge",
        r#"
python3 -c "$PEER" 9000 & wait_port "" 127.0.0.1 9000
outside python3 -c "$PEER" 9001 & wait_port outside 127.0.0.1 9001
# Inside: eth0 with an address of husk0's subnet, the default route via the gateway, lo up,
# /etc/hosts naming the container, the host's name servers.
inside=$(run --net bridge -h web1 -- sh -c 'ip -4 -o addr show eth0; ip route; ip -o link show lo; cat /etc/hosts; echo; cat /etc/resolv.conf')
contains "eth0" "$inside" "inet 10.87.0."
contains "route" "$inside" "default via 10.87.0.1 dev eth0"
contains "lo" "$inside" "LOOPBACK,UP"
contains "hosts" "$inside" "web1"
contains "resolv.conf" "$inside" "$(cat /etc/resolv.conf | head -1)"
expect "rootfs's /etc/hosts after" "$(ls "$ROOTFS/etc/hosts" 2>&1 | grep -c 'No such')" 1
gw=$(ip -4 -o addr show husk0 | awk '{print $4}'); expect "bridge" "$gw" "10.87.0.1/24"
expect forwarding "$(cat /proc/sys/net/ipv4/ip_forward)" 1
# Container -> host, by the gateway: the host sees the container's own address.
seen=$(run --net bridge -- nc 10.87.0.1 9000); contains "container -> host" "$seen" "10.87.0."
# Container -> outside, masqueraded: the outside sees the host's address, not the container's.
seen=$(run --net bridge -- nc 198.51.100.2 9001); expect "container -> outside" "$seen" "198.51.100.1"
# Host -> container.
rm -f "$ROOTFS/tmp/addr"
run_bg --net bridge -- sh -c 'ip -4 -o addr show eth0 | sed "s/.*inet \([0-9.]*\).*/\1/" > /tmp/addr; exec nc -ll -p 7000 -e echo from-container'
i=0; until [ -s "$ROOTFS/tmp/addr" ]; do i=$((i+1)); [ $i -lt 500 ] || fail "no address"; sleep 0.01; done
addr=$(cat "$ROOTFS/tmp/addr"); wait_port "" "$addr" 7000
expect "host -> container" "$(busybox nc "$addr" 7000)" "from-container"
kill $SRV; wait $SRV
# The masquerade table is husk's own, made once; the rules only for husk0's subnet.
rules=$(nft list table ip husk)
contains "masquerade" "$rules" 'ip saddr 10.87.0.0/24 oifname != "husk0" masquerade'
clean
"#,
    );
}

#[cfg(feature = "net")]
#[test]
fn published_ports_reach_the_container_from_outside_and_from_the_host() {
    let case = common::case::Case::new("publish", &[]);
    let Some(rootfs) = busybox(&case) else { return };
    let debian = match rootfs::debian() {
        Ok(tree) => tree,
        Err(why) => return common::skip("publish", &why),
    };
    scenario_with(
        "publish",
        &rootfs,
        r#"
run_bg --net bridge -p 8080:80 -p 198.51.100.1:8081:81 -- sh -c '
    nc -ll -p 80 -e echo tcp-80 & exec nc -ll -p 81 -e echo tcp-81'
wait_port outside 198.51.100.1 8080
expect "outside -> 8080" "$(outside busybox nc 198.51.100.1 8080)" "tcp-80"
expect "outside -> HOSTIP:8081" "$(outside busybox nc 198.51.100.1 8081)" "tcp-81"
# UDP, with the Debian tree's python3 (busybox has no UDP server).
"$HUSK" run --rootfs "$DEBIAN" --read-only --net bridge -p 5353:53/udp -- python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 53))
while True:
    d, a = s.recvfrom(100); s.sendto(b"udp-53", a)' &
UDP=$!
got=$(outside python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.1)
for _ in range(100):
    s.sendto(b"ping", ("198.51.100.1", 5353))
    try:
        print(s.recv(100).decode()); break
    except OSError:
        pass')
expect "outside -> 5353/udp" "$got" "udp-53"
kill $UDP; wait $UDP
# The host on its own non-loopback address; 127.0.0.1 is not forwarded (README).
expect "host -> own address" "$(busybox nc 198.51.100.1 8080)" "tcp-80"
got=$(busybox timeout 2 busybox nc 127.0.0.1 8080 2>&1 || true)
expect "host -> 127.0.0.1" "$(echo "$got" | grep -c tcp-80)" 0
# The table is the container's own; a port held by the container is refused to others.
rules=$(nft list tables); contains "own table" "$rules" "table ip husk-10.87.0."
err=$(run --net bridge -p 8080:80 -- true 2>&1); code=$?
expect "port in use: status" "$code" 125
contains "port in use: message" "$err" "husk: publish"
contains "port in use: reason" "$err" "EADDRINUSE"
kill $SRV; wait $SRV
clean
# A port some host program holds: refused before anything else, and nothing left behind.
python3 -c "$PEER" 8090 & HOLD=$!; wait_port "" 127.0.0.1 8090
err=$(run --net bridge -p 8090:80 -- true 2>&1); code=$?
expect "held port: status" "$code" 125
contains "held port" "$err" "the host port is in use"
kill $HOLD
clean
"#,
        &[("DEBIAN", debian)],
    );
}

#[cfg(feature = "net")]
#[test]
fn containers_reach_each_other_and_a_pod_shares_one_network() {
    on_busybox(
        "pod",
        r#"
NAME=husk-net-pod-$$
rm -f "$ROOTFS/tmp/addr"
run_bg --net bridge --name $NAME -- sh -c 'ip -4 -o addr show eth0 | sed "s/.*inet \([0-9.]*\).*/\1/" > /tmp/addr; nc -ll -p 6000 -e echo on-loopback & exec nc -ll -p 7000 -e echo on-eth0'
i=0; until [ -s "$ROOTFS/tmp/addr" ]; do i=$((i+1)); [ $i -lt 500 ] || fail "no address"; sleep 0.01; done
addr=$(cat "$ROOTFS/tmp/addr"); wait_port "" "$addr" 7000
# Another bridged container reaches it over the bridge.
expect "container -> container" "$(run --net bridge -- nc "$addr" 7000)" "on-eth0"
# --net container:NAME: the same namespace (its address, its loopback ports), its own PIDs.
joined=$(run --net container:$NAME -- sh -c 'ip -4 -o addr show eth0 | grep -c "$0"; nc 127.0.0.1 6000; for f in /proc/[0-9]*/cmdline; do tr "\0" " " < $f; echo; done | grep -c "^nc "' "$addr")
expect "pod" "$joined" "1
on-loopback
0"
# Not a running container: one line, 125.
err=$(run --net container:no-such-$$ -- true 2>&1); code=$?
expect "no such container: status" "$code" 125
contains "no such container" "$err" "no running container has that name"
kill $SRV; wait $SRV
clean
"#,
    );
}

#[cfg(feature = "net")]
#[test]
fn nothing_is_left_after_a_thousand_runs_failures_and_sigkill() {
    on_busybox(
        "leftovers",
        r#"
i=0; while [ $i -lt 1000 ]; do run --net bridge -p 9090:90 -- true || fail "run $i"; i=$((i+1)); done
clean
# A failing COMMAND, and a failure while building (a volume that does not exist).
run --net bridge -p 9090:90 -- /no/such/program 2>/dev/null; expect "127" $? 127
run --net bridge -v /no/such/dir:/x -- true 2>/dev/null; expect "125" $? 125
clean
# SIGKILL of husk run while the container runs: the kernel takes the veth and the owned
# table; the next start sweeps the claim.
run_bg --net bridge -p 9090:90 -- sleep 60; KILLED=$SRV
i=0; until nft list tables | grep -q husk-; do i=$((i+1)); [ $i -lt 500 ] || fail "never published"; sleep 0.01; done
kill -9 $KILLED; wait $KILLED 2>/dev/null
i=0; until [ "$(nft list tables | grep -c husk-)" = 0 ]; do i=$((i+1)); [ $i -lt 500 ] || fail "table left"; sleep 0.01; done
i=0; until [ "$(ip -o link show | grep -c ' hk')" = 0 ]; do i=$((i+1)); [ $i -lt 1000 ] || fail "veth left"; sleep 0.01; done
run --net bridge -p 9090:90 -- true || fail "after SIGKILL"
clean
# Concurrent starts get distinct addresses.
i=0; pids=""; while [ $i -lt 20 ]; do run_bg --net bridge -- sh -c 'ip -4 -o addr show eth0; sleep 0.3' > out.$i; pids="$pids $SRV"; i=$((i+1)); done
wait $pids
distinct=$(cat out.* | sed 's/.*inet \([0-9.]*\).*/\1/' | sort -u | wc -l)
expect "distinct addresses" "$distinct" 20
clean
"#,
    );
}

#[cfg(feature = "net")]
#[test]
fn bridge_errors_are_one_line_and_change_nothing() {
    on_busybox(
        "errors",
        r#"
# A subnet a host route overlaps, on first creation: refused, no bridge made.
err=$(run --net bridge --subnet 198.51.100.0/24 -- true 2>&1); code=$?
expect "overlap: status" "$code" 125
contains "overlap" "$err" "a route of the host's overlaps it"
expect "no bridge" "$(ip -o link show husk0 2>/dev/null | wc -l)" 0
# A subnet of one's own on first creation; later ones must agree.
run --net bridge --subnet 10.99.0.0/24 -- sh -c 'ip -4 -o addr show eth0' | grep -q 'inet 10.99.0.' || fail "--subnet"
err=$(run --net bridge --subnet 10.98.0.0/24 -- true 2>&1); code=$?
expect "other subnet: status" "$code" 125
contains "other subnet" "$err" "--subnet is for its first creation"
clean
"#,
    );
}

#[test]
fn pasta_links_an_ordinary_users_container() {
    let case = common::case::Case::new("pasta", &[]);
    let Some(_) = busybox(&case) else { return };
    let user = match common::user::huskci() {
        Ok(user) => user,
        Err(why) => return common::skip("pasta", &why),
    };
    let rootfs = match user.busybox() {
        Ok(tree) => tree,
        Err(why) => return common::skip("pasta", &why),
    };
    if let Err(why) = common::tool("pasta", "passt") {
        return common::skip("pasta", &why);
    }
    let husk = user.husk_binary();
    let as_user = format!(
        "setpriv --reuid={} --regid={} --init-groups env XDG_RUNTIME_DIR= HOME=/tmp",
        user.uid, user.gid
    );
    scenario(
        "pasta",
        rootfs,
        &format!(
            r#"
HUSK={husk:?}
AS_USER="{as_user}"
python3 -c "$PEER" 9000 & wait_port "" 198.51.100.1 9000
# The host's server, by the gateway's address, which pasta maps to the host's loopback
# (pasta(1), --map-host-loopback): the container has the host's own address.
# (A connection is tried again, each within 3 s: here pasta sometimes left one unanswered.)
seen=$($AS_USER "$HUSK" run --rootfs "$ROOTFS" --net pasta -- sh -c 'ip -4 -o addr show
    i=0; until timeout 3 nc -w 2 198.51.100.2 9000; do i=$((i+1)); [ $i -lt 10 ] || exit 1; done' 2>&1)
contains "pasta: the host's address" "$seen" "inet 198.51.100.1/24"
contains "pasta: container -> host" "$seen" "127.0.0.1"
# -p: the host's port forwarded in by pasta.
$AS_USER "$HUSK" run --rootfs "$ROOTFS" --net pasta -p 8088:80 -- nc -ll -p 80 -e echo via-pasta &
SRV=$!  # setpriv execs: this is husk's pid
wait_port "" 127.0.0.1 8088
i=0; until [ "$(busybox timeout 3 busybox nc 127.0.0.1 8088 2>/dev/null)" = via-pasta ]; do i=$((i+1)); [ $i -lt 300 ] || fail "pasta -p"; sleep 0.02; done
kill $SRV; wait $SRV
# An ordinary user's --net bridge: one line, 125.
err=$($AS_USER "$HUSK" run --rootfs "$ROOTFS" --net bridge -- true 2>&1); code=$?
expect "user bridge: status" "$code" 125
contains "user bridge" "$err" "need root"
"#
        ),
    );
}

#[test]
fn a_pod_shares_one_network_namespace() {
    on_busybox(
        "pod-none",
        r#"
NAME=husk-net-none-$$
run_bg --net none --name $NAME -- nc -ll -p 6000 -e echo on-loopback
POD=$SRV
i=0; until "$HUSK" ps -q 2>/dev/null | grep -q "^$NAME$"; do i=$((i+1)); [ $i -lt 500 ] || fail "never listed"; sleep 0.01; done
# The same loopback (its port), its own PIDs (none of the other's processes).
got=""; i=0
until [ "$got" = "on-loopback" ]; do
    got=$(run --net container:$NAME -- sh -c 'nc 127.0.0.1 6000' 2>/dev/null); i=$((i+1))
    [ $i -lt 200 ] || fail "pod: got [$got]"; sleep 0.02
done
expect "own PIDs" "$(run --net container:$NAME -- sh -c 'for f in /proc/[0-9]*/cmdline; do tr "\0" " " < $f; echo; done | grep -c "^nc "')" 0
# Its network is not the caller's: loopback's port is not there.
expect "not the host's" "$(busybox timeout 1 busybox nc 127.0.0.1 6000 2>/dev/null | grep -c on-loopback)" 0
# Not a running container; a container of the host's network: one line, 125.
err=$(run --net container:no-such-$$ -- true 2>&1); code=$?
expect "no such container: status" "$code" 125
contains "no such container" "$err" "no running container has that name"
HOSTNET=husk-net-host-$$
run_bg --net host --name $HOSTNET -- sleep 60
HOSTSRV=$SRV
i=0; until "$HUSK" ps -q 2>/dev/null | grep -q "^$HOSTNET$"; do i=$((i+1)); [ $i -lt 500 ] || fail "never listed"; sleep 0.01; done
err=$(run --net container:$HOSTNET -- true 2>&1); code=$?
expect "host network: status" "$code" 125
contains "host network" "$err" "use --net host"
kill $POD $HOSTSRV; wait $POD $HOSTSRV
"#,
    );
}

#[cfg(not(feature = "net"))]
#[test]
fn a_husk_without_the_net_option_says_how_to_get_bridge() {
    on_busybox(
        "no-bridge",
        r#"
err=$(run --net bridge -- true 2>&1); code=$?
expect "status" "$code" 125
expect "message" "$err" "husk: net bridge: Operation not supported (EOPNOTSUPP): this husk is built without it: cargo build --release --features net"
expect "nothing made" "$(ip -o link show husk0 2>/dev/null | wc -l)" 0
"#,
    );
}
