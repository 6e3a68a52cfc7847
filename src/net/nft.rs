//! nf_tables over NETLINK_NETFILTER: the masquerade for the bridge's subnet, and the DNAT of
//! published ports. Each is one batch (NFNL_MSG_BATCH_BEGIN … END), which the kernel applies
//! as one transaction: all of it or none of it (nft(8), "ATOMIC RULE REPLACEMENT",
//! https://man7.org/linux/man-pages/man8/nft.8.html). Numbers are linux/netfilter/nf_tables.h's
//! and nfnetlink.h's; the expressions are those `nft --debug=netlink` prints for the same rules,
//! byte for byte (tested below).

use super::netlink::{ACK, APPEND, CREATE, EXCL, Msg, Socket};
use rustix::io::Errno;

/// nfnetlink's message types: NFNL_SUBSYS_NFTABLES in the high byte.
const NEWTABLE: u16 = 10 << 8;
const GETTABLE: u16 = 10 << 8 | 1;
const NFTA_TABLE_NAME: u16 = 1;
const NEWCHAIN: u16 = 10 << 8 | 3;
const NEWRULE: u16 = 10 << 8 | 6;
const BATCH_BEGIN: u16 = 0x10;
const BATCH_END: u16 = 0x11;
/// struct nfgenmsg: family NFPROTO_IPV4, version 0, resource id 0.
const IPV4: [u8; 4] = [2, 0, 0, 0];
const NFT_TABLE_F_OWNER: u32 = 2;
/// Hook numbers (enum nf_inet_hooks).
const PREROUTING: u32 = 0;
const OUTPUT: u32 = 3;
const POSTROUTING: u32 = 4;
/// RTN_LOCAL, as `fib daddr type` leaves it in a register (a native-endian u32).
const RTN_LOCAL: [u8; 4] = 2u32.to_ne_bytes();

// The expressions, as data: each is its name, a NUL, then (attribute, value) byte pairs. A
// value below V0 is that number as a big-endian u32 attribute; V0 + i makes the attribute a
// nest whose NFTA_DATA_VALUE is the i-th of the values the rule is written with. Registers are
// NFT_REG_1 and NFT_REG_2, as nft(8) picks them. Each line is what `nft --debug=netlink`
// prints for it.
const V0: u8 = 0x80;

/// [ payload load LENb @ network|transport header + OFFSET => reg 1 ]
const fn payload(base: u8, offset: u8, len: u8) -> [u8; 16] {
    [b'p', b'a', b'y', b'l', b'o', b'a', b'd', 0, 1, 1, 2, base, 3, offset, 4, len]
}
const NETWORK: u8 = 1;
const TRANSPORT: u8 = 2;

/// [ cmp eq|neq reg 1 Vi ]
const fn cmp(op: u8, value: u8) -> [u8; 10] {
    [b'c', b'm', b'p', 0, 1, 1, 2, op, 3, V0 + value]
}
const EQ: u8 = 0;
const NEQ: u8 = 1;

/// [ meta load oifname|l4proto => reg 1 ]
const fn meta(key: u8) -> [u8; 9] {
    [b'm', b'e', b't', b'a', 0, 2, key, 1, 1]
}
const OIFNAME: u8 = 7;
const L4PROTO: u8 = 16;

/// [ immediate reg R Vi ]
const fn immediate(reg: u8, value: u8) -> [u8; 14] {
    [b'i', b'm', b'm', b'e', b'd', b'i', b'a', b't', b'e', 0, 1, reg, 2, V0 + value]
}

/// The rules, as lists of expressions. `ip saddr NET/PREFIX oifname != BRIDGE masquerade`,
/// with values [mask, 0, net, bridge]:
const MASQUERADE: &[&[u8]] = &[
    &payload(NETWORK, 12, 4),
    // [ bitwise reg 1 = ( reg 1 & V0 ) ^ V1 ], on 4 bytes
    b"bitwise\0\x01\x01\x02\x01\x03\x04\x04\x80\x05\x81",
    &cmp(EQ, 2),
    &meta(OIFNAME),
    &cmp(NEQ, 3),
    b"masq\0",
];
/// The parts of a published port's rules, with values
/// [host address, 127, RTN_LOCAL, protocol, host port, address, port]:
/// `ip daddr HOST_IP`,
const TO_HOST_IP: &[&[u8]] = &[&payload(NETWORK, 16, 4), &cmp(EQ, 0)];
/// `ip daddr != 127.0.0.0/8` (its first byte is enough),
const NOT_LOOPBACK: &[&[u8]] = &[&payload(NETWORK, 16, 1), &cmp(NEQ, 1)];
/// `fib daddr type local` ([ fib daddr type => reg 1 ]: flags NFTA_FIB_F_DADDR, result
/// NFT_FIB_RESULT_ADDRTYPE),
const TO_LOCAL: &[&[u8]] = &[b"fib\0\x03\x02\x02\x03\x01\x01", &cmp(EQ, 2)];
/// `meta l4proto tcp|udp th dport HOST_PORT dnat to ADDR:PORT`, the last as
/// [ nat dnat ip addr_min reg 1 proto_min reg 2 flags 0x2 ] (NF_NAT_RANGE_PROTO_SPECIFIED).
const TO_CONTAINER: &[&[u8]] = &[
    &meta(L4PROTO),
    &cmp(EQ, 3),
    &payload(TRANSPORT, 2, 2),
    &cmp(EQ, 4),
    &immediate(1, 5),
    &immediate(2, 6),
    b"nat\0\x01\x01\x02\x02\x03\x01\x05\x02\x07\x02",
];

/// A published port: traffic to `host_port` (on `host_ip`, or on any local address) goes to
/// the container's `port`.
#[derive(Clone, Copy, Debug)]
pub struct Publish {
    pub host_ip: Option<[u8; 4]>,
    pub host_port: u16,
    pub port: u16,
    pub udp: bool,
}

/// In ONE batch: table `ip husk`, chain `postrouting` (type nat hook postrouting priority 100),
/// rule `ip saddr NET/PREFIX oifname != BRIDGE masquerade`. The NEWTABLE carries NLM_F_EXCL,
/// so an existing table fails the whole batch with EEXIST, which is success here: the table
/// was made whole, atomically, before. One round trip checks and creates; no other table is
/// touched.
///
/// The batch is tried only when a plain NFT_MSG_GETTABLE does not find the table: a batch is
/// a transaction, and even one that fails at once costs milliseconds (9.4 ms here, under
/// strace -T: the abort waits for an RCU grace period), where the lookup costs microseconds.
pub fn masquerade(s: &Socket, bridge: &[u8], net: [u8; 4], prefix: u8) -> Result<(), Errno> {
    let mut buf = [0; 768];
    let mut m = Msg::new(&mut buf);
    m.start(GETTABLE, ACK, &IPV4).str(NFTA_TABLE_NAME, b"husk");
    match s.transact(&mut m, &mut |_| {}) {
        Err(Errno::NOENT) => {}
        found => return found,
    }
    let mut m = Msg::new(&mut buf);
    masquerade_batch(&mut m, bridge, net, prefix)?;
    match s.ack(&mut m) {
        Err(Errno::EXIST) => Ok(()),
        result => result,
    }
}

fn masquerade_batch(m: &mut Msg, bridge: &[u8], net: [u8; 4], prefix: u8) -> Result<(), Errno> {
    batch(m, BATCH_BEGIN);
    table(m, b"husk", 0);
    chain(m, b"husk", b"postrouting", POSTROUTING, 100);
    let mask = super::mask(prefix);
    // The register holds the name NUL-padded to IFNAMSIZ; nft compares all 16 bytes.
    let mut name = [0; 16];
    name.get_mut(..bridge.len()).ok_or(Errno::NAMETOOLONG)?.copy_from_slice(bridge);
    let net = (u32::from_be_bytes(net) & mask).to_be_bytes();
    let values: [&[u8]; 4] = [&mask.to_be_bytes(), &[0; 4], &net, &name];
    let r = rule(m, b"husk", b"postrouting");
    exprs(m, MASQUERADE, &values);
    m.close(r);
    batch(m, BATCH_END);
    Ok(())
}

/// In ONE batch: an owned table `ip <table>` (NFT_TABLE_F_OWNER: the kernel deletes it when
/// `s` is closed, so a SIGKILLed husk leaves no rule behind) with nat chains `prerouting`
/// (hook prerouting, -100) and `output` (hook output, -100); per port, in both:
/// `[ip daddr HOST_IP | fib daddr type local] meta l4proto tcp|udp th dport HOST_PORT
/// dnat to ADDR:PORT`, the output chain's without a host address also `ip daddr != 127.0.0.0/8`
/// (a connection to 127.0.0.1 would keep its loopback source, which the container cannot
/// answer). The caller keeps `s` open for the container's life. 16 ports always fit (each
/// takes about 1.1 KB of the batch); more than fit is ENOBUFS.
pub fn publish(s: &Socket, table: &[u8], addr: [u8; 4], ports: &[Publish]) -> Result<(), Errno> {
    let mut buf = [0; PUBLISH_BUFFER];
    let mut m = Msg::new(&mut buf);
    publish_batch(&mut m, table, addr, ports);
    s.ack(&mut m)
}

/// The batch for 16 ports, with a table name of husk- and the longest container name.
const PUBLISH_BUFFER: usize = 20480;

fn publish_batch(m: &mut Msg, table: &[u8], addr: [u8; 4], ports: &[Publish]) {
    batch(m, BATCH_BEGIN);
    self::table(m, table, NFT_TABLE_F_OWNER);
    for (name, hook) in [(&b"prerouting"[..], PREROUTING), (b"output", OUTPUT)] {
        chain(m, table, name, hook, -100);
        for p in ports {
            let r = rule(m, table, name);
            let proto = [if p.udp { 17 } else { 6 }];
            let ip = p.host_ip.unwrap_or_default();
            let values: [&[u8]; 7] =
                [&ip, &[127], &RTN_LOCAL, &proto, &p.host_port.to_be_bytes(), &addr, &p.port.to_be_bytes()];
            if p.host_ip.is_some() {
                exprs(m, TO_HOST_IP, &values);
            } else {
                if hook == OUTPUT {
                    exprs(m, NOT_LOOPBACK, &values);
                }
                exprs(m, TO_LOCAL, &values);
            }
            exprs(m, TO_CONTAINER, &values);
            m.close(r);
        }
    }
    batch(m, BATCH_END);
}

/// A batch marker. It carries no NLM_F_ACK: 6.1 never acknowledges one, 6.10 and later only
/// when asked; the batch's own messages are what get acknowledged.
fn batch(m: &mut Msg, kind: u16) {
    // nfgenmsg's res_id (big-endian) names the subsystem the batch is for.
    m.start(kind, 0, &[0, 0, 0, 10]);
}

fn table(m: &mut Msg, name: &[u8], flags: u32) {
    m.start(NEWTABLE, ACK | CREATE | EXCL, &IPV4).str(1, name).be32(2, flags);
}

/// A base chain of type nat on `hook` at `priority`.
fn chain(m: &mut Msg, table: &[u8], name: &[u8], hook: u32, priority: i32) {
    m.start(NEWCHAIN, ACK | CREATE, &IPV4).str(1, table).str(3, name).str(7, b"nat");
    let h = m.nest(4);
    m.be32(1, hook).be32(2, priority as u32).close(h);
}

/// Starts a rule appended to `chain`; returns its expression list for [`Msg::close`].
fn rule(m: &mut Msg, table: &[u8], chain: &[u8]) -> usize {
    m.start(NEWRULE, ACK | CREATE | APPEND, &IPV4).str(1, table).str(2, chain);
    m.nest(4)
}

/// Writes expressions given as data (see V0) with the rule's `values`.
fn exprs(m: &mut Msg, exprs: &[&[u8]], values: &[&[u8]]) {
    for e in exprs {
        let (name, pairs) = e.split_at(e.iter().position(|&b| b == 0).unwrap_or(0));
        let elem = m.nest(1);
        let body = m.str(1, name).nest(2);
        let mut pairs = pairs.get(1..).unwrap_or_default();
        while let [kind, v, ref rest @ ..] = *pairs {
            if v < V0 {
                m.be32(kind as u16, v as u32);
            } else {
                let d = m.nest(kind as u16);
                m.attr(1, values.get((v - V0) as usize).copied().unwrap_or_default()).close(d);
            }
            pairs = rest;
        }
        m.close(body).close(elem);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::link;
    use crate::net::testing::{inside, new_netns, on_a_stand_in_host, sh};
    use rustix::fd::AsFd;
    use std::net::{TcpListener, TcpStream};
    use std::thread;
    use std::time::Duration;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    /// The expression lists nft 1.x sent (strace -xx) for
    /// `ip saddr 10.88.0.0/20 oifname != "husk0" masquerade` and for
    /// `fib daddr type local meta l4proto tcp th dport 8080 dnat to 10.88.0.2:80`.
    const NFT_MASQUERADE: &str = "18010480\
        34000180 0c000100 7061796c6f616400 24000280 08000100 00000001 08000200 00000001 08000300 0000000c 08000400 00000004\
        44000180 0c000100 62697477697365 00 34000280 08000100 00000001 08000200 00000001 08000300 00000004 0c000480 08000100 fffff000 0c000580 08000100 00000000\
        2c000180 08000100 636d7000 20000280 08000100 00000001 08000200 00000000 0c000380 08000100 0a580000\
        24000180 09000100 6d657461 00000000 14000280 08000200 00000007 08000100 00000001\
        38000180 08000100 636d7000 2c000280 08000100 00000001 08000200 00000001 18000380 14000100 6875736b30000000 0000000000000000\
        14000180 09000100 6d617371 00000000 04000280";
    const NFT_DNAT: &str = "98010480\
        28000180 08000100 66696200 1c000280 08000300 00000002 08000200 00000003 08000100 00000001\
        2c000180 08000100 636d7000 20000280 08000100 00000001 08000200 00000000 0c000380 08000100 02000000\
        24000180 09000100 6d657461 00000000 14000280 08000200 00000010 08000100 00000001\
        2c000180 08000100 636d7000 20000280 08000100 00000001 08000200 00000000 0c000380 05000100 06000000\
        34000180 0c000100 7061796c6f616400 24000280 08000100 00000001 08000200 00000002 08000300 00000002 08000400 00000002\
        2c000180 08000100 636d7000 20000280 08000100 00000001 08000200 00000000 0c000380 06000100 1f900000\
        2c000180 0e000100 696d6d656469617465000000 18000280 08000100 00000001 0c000280 08000100 0a580002\
        2c000180 0e000100 696d6d656469617465000000 18000280 08000100 00000002 0c000280 06000100 00500000\
        38000180 08000100 6e617400 2c000280 08000100 00000001 08000200 00000002 08000300 00000001 08000500 00000002 08000700 00000002";

    fn batch_of(build: impl FnOnce(&mut Msg)) -> Vec<u8> {
        let mut buf = [0; 4096];
        let mut m = Msg::new(&mut buf);
        build(&mut m);
        m.finish().unwrap().to_vec()
    }

    #[test]
    fn the_rules_expressions_are_the_bytes_nft_sends() {
        let nft = |s: &str| hex(&s.replace(' ', ""));
        let masq = batch_of(|m| masquerade_batch(m, b"husk0", [10, 88, 0, 0], 20).unwrap());
        assert!(contains(&masq, &nft(NFT_MASQUERADE)), "{masq:02x?}");
        let port = Publish { host_ip: None, host_port: 8080, port: 80, udp: false };
        let dnat = batch_of(|m| publish_batch(m, b"pub", [10, 88, 0, 2], &[port]));
        assert!(contains(&dnat, &nft(NFT_DNAT)), "{dnat:02x?}");
    }

    #[test]
    fn sixteen_published_ports_fit_the_batch_and_too_many_are_enobufs_not_a_panic() {
        let port = Publish { host_ip: None, host_port: 65535, port: 65535, udp: true };
        // A table name as long as "husk-" and the longest container name (args::MAX_NAME).
        let table = [b'x'; 5 + crate::args::MAX_NAME];
        let mut buf = [0; PUBLISH_BUFFER];
        let mut m = Msg::new(&mut buf);
        publish_batch(&mut m, &table, [10, 88, 0, 2], &[port; 16]);
        assert!(m.finish().is_ok());
        let mut m = Msg::new(&mut buf);
        publish_batch(&mut m, b"husk-web", [10, 88, 0, 2], &[port; 64]);
        assert_eq!(m.finish().err(), Some(Errno::NOBUFS));
    }

    #[test]
    fn a_bridge_name_longer_than_a_link_name_is_refused() {
        let mut buf = [0; 768];
        let r = masquerade_batch(&mut Msg::new(&mut buf), b"0123456789abcdefg", [10, 88, 0, 0], 16);
        assert_eq!(r, Err(Errno::NAMETOOLONG));
    }

    #[test]
    fn the_masquerade_once_and_published_ports_while_their_socket_lives_for_real() {
        on_a_stand_in_host("net::nft real-kernel test", || {
            sh("nft add table ip other && nft add chain ip other c");
            let s = Socket::netfilter().unwrap();
            masquerade(&s, b"husk0", [10, 88, 0, 0], 16).unwrap();
            // The second finds the table (EEXIST) and the whole batch is undone: still one rule.
            masquerade(&s, b"husk0", [10, 88, 0, 0], 16).unwrap();
            let ports = [
                Publish { host_ip: None, host_port: 8080, port: 80, udp: false },
                Publish { host_ip: Some([192, 168, 1, 5]), host_port: 53, port: 5353, udp: true },
            ];
            let p = Socket::netfilter().unwrap();
            publish(&p, b"husk-web", [10, 88, 0, 2], &ports).unwrap();
            // The table is owned by `p`: another socket may not even try to make it again (EPERM).
            assert_eq!(publish(&s, b"husk-web", [10, 88, 0, 2], &ports), Err(Errno::PERM));
            let masq = "table ip husk {\n\
                \tchain postrouting {\n\
                \t\ttype nat hook postrouting priority srcnat; policy accept;\n\
                \t\tip saddr 10.88.0.0/16 oifname != \"husk0\" masquerade\n\
                \t}\n\
                }\n";
            let other = "table ip other {\n\tchain c {\n\t}\n}\n";
            let list = sh("nft list ruleset");
            let published = list.replace(other, "").replace(masq, "");
            assert_eq!(published.len() + other.len() + masq.len(), list.len(), "{list}");
            // nft names the owner by its program (here the test binary, husk-HASH).
            let (head, tail) = published.split_once(" # progname ").unwrap_or(("", ""));
            let published = format!("{head}{}", &tail[tail.find('\n').unwrap_or(0)..]);
            assert_eq!(
                published,
                "table ip husk-web {\n\
                \tflags owner\n\n\
                \tchain prerouting {\n\
                \t\ttype nat hook prerouting priority dstnat; policy accept;\n\
                \t\tfib daddr type local tcp dport 8080 dnat to 10.88.0.2:80\n\
                \t\tip daddr 192.168.1.5 udp dport 53 dnat to 10.88.0.2:5353\n\
                \t}\n\n\
                \tchain output {\n\
                \t\ttype nat hook output priority -100; policy accept;\n\
                \t\tip daddr != 127.0.0.0/8 fib daddr type local tcp dport 8080 dnat to 10.88.0.2:80\n\
                \t\tip daddr 192.168.1.5 udp dport 53 dnat to 10.88.0.2:5353\n\
                \t}\n\
                }\n"
            );
            // Closing the owner's socket, as the kernel does when husk is SIGKILLed, takes the
            // table with it; husk's shared table and the others stay.
            drop(p);
            assert_eq!(sh("nft list ruleset"), format!("{other}{masq}"));
        });
    }

    /// Connects to `to` and returns the address the listener saw the connection come from.
    fn seen_from(to: &str, listener: &TcpListener) -> String {
        TcpStream::connect_timeout(&to.parse().unwrap(), Duration::from_secs(5)).unwrap();
        listener.accept().unwrap().1.ip().to_string()
    }

    #[test]
    fn packets_go_out_masqueraded_and_come_in_through_published_ports_for_real() {
        // Three namespaces of our own: the stand-in host, a container on its bridge, and "the
        // outside", joined to the host by a veth of its own (192.0.2.0/24).
        on_a_stand_in_host("net::nft packet test", || {
            let container = thread::spawn(new_netns).join().unwrap();
            let outside = thread::spawn(new_netns).join().unwrap();
            let s = Socket::route().unwrap();
            let bridge = link::create_bridge(&s, b"husk0", [10, 88, 0, 1], 16).unwrap();
            link::veth(&s, b"vh0", bridge.index, b"eth0", container.as_fd()).unwrap();
            let outside_path =
                format!("/proc/{}/fd/{}", std::process::id(), rustix::fd::AsRawFd::as_raw_fd(&outside));
            sh(&format!(
                "ip link add wan up type veth peer name wan1 netns {outside_path} && \
                 ip addr add 192.0.2.1/24 dev wan && sysctl -qw net.ipv4.ip_forward=1"
            ));
            let (out_listener, outside_seen) = inside(&outside, || {
                sh("ip link set wan1 up && ip addr add 192.0.2.2/24 dev wan1");
                (TcpListener::bind("192.0.2.2:9000").unwrap(), TcpListener::bind("0.0.0.0:9001").unwrap())
            });
            let ctr_listener = inside(&container, || {
                let c = Socket::route().unwrap();
                link::configure(&c, b"eth0", [10, 88, 0, 2], 16, [10, 88, 0, 1]).unwrap();
                TcpListener::bind("0.0.0.0:80").unwrap()
            });
            let n = Socket::netfilter().unwrap();
            masquerade(&n, b"husk0", [10, 88, 0, 0], 16).unwrap();
            let port = Publish { host_ip: None, host_port: 8080, port: 80, udp: false };
            let p = Socket::netfilter().unwrap();
            publish(&p, b"husk-web", [10, 88, 0, 2], &[port]).unwrap();

            // Out: the outside, which has no route to 10.88.0.0/16, sees the host's address.
            let from = inside(&container, || seen_from("192.0.2.2:9000", &out_listener));
            assert_eq!(from, "192.0.2.1");
            // In: from the outside to the host's published port, and from the host itself to
            // its own non-loopback address (the output chain).
            let from = inside(&outside, || seen_from("192.0.2.1:8080", &ctr_listener));
            assert_eq!(from, "192.0.2.2");
            assert_eq!(seen_from("192.0.2.1:8080", &ctr_listener), "192.0.2.1");
            // The container reaches the outside on any port; the masquerade is not a DNAT.
            let from = inside(&container, || seen_from("192.0.2.2:9001", &outside_seen));
            assert_eq!(from, "192.0.2.1");
            // Gone with its socket: the published port no longer leads anywhere.
            drop(p);
            let refused = inside(&outside, || {
                TcpStream::connect_timeout(&"192.0.2.1:8080".parse().unwrap(), Duration::from_secs(5))
                    .unwrap_err()
            });
            assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
        });
    }
}
