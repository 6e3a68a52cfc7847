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
/// Payload bases and comparison operators.
const NETWORK: u32 = 1;
const TRANSPORT: u32 = 2;
const EQ: u32 = 0;
const NEQ: u32 = 1;
/// Meta keys.
const OIFNAME: u32 = 7;
const L4PROTO: u32 = 16;

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
pub fn masquerade(s: &Socket, bridge: &[u8], net: [u8; 4], prefix: u8) -> Result<(), Errno> {
    let mut buf = [0; 768];
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
    let r = rule(m, b"husk", b"postrouting");
    let mask = super::mask(prefix);
    payload(m, NETWORK, 12, 4);
    // Registers are NFT_REG_1 (1) and NFT_REG_2 (2) throughout, as nft(8) picks them.
    expr(m, b"bitwise", &[(1, 1), (2, 1), (3, 4)], &[(4, &mask.to_be_bytes()), (5, &[0; 4])]);
    cmp(m, EQ, &(u32::from_be_bytes(net) & mask).to_be_bytes());
    expr(m, b"meta", &[(2, OIFNAME), (1, 1)], &[]);
    // The register holds the name NUL-padded to IFNAMSIZ; nft compares all 16 bytes.
    let mut name = [0; 16];
    name.get_mut(..bridge.len()).ok_or(Errno::NAMETOOLONG)?.copy_from_slice(bridge);
    cmp(m, NEQ, &name);
    expr(m, b"masq", &[], &[]);
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
/// answer). The caller keeps `s` open for the container's life. At most 16 ports fit.
pub fn publish(s: &Socket, table: &[u8], addr: [u8; 4], ports: &[Publish]) -> Result<(), Errno> {
    let mut buf = [0; 16384];
    let mut m = Msg::new(&mut buf);
    publish_batch(&mut m, table, addr, ports);
    s.ack(&mut m)
}

fn publish_batch(m: &mut Msg, table: &[u8], addr: [u8; 4], ports: &[Publish]) {
    batch(m, BATCH_BEGIN);
    self::table(m, table, NFT_TABLE_F_OWNER);
    for (name, hook) in [(&b"prerouting"[..], PREROUTING), (b"output", OUTPUT)] {
        chain(m, table, name, hook, -100);
        for p in ports {
            let r = rule(m, table, name);
            if let Some(ip) = p.host_ip {
                payload(m, NETWORK, 16, 4);
                cmp(m, EQ, &ip);
            } else {
                if hook == OUTPUT {
                    payload(m, NETWORK, 16, 1);
                    cmp(m, NEQ, &[127]);
                }
                // fib daddr type: flags NFTA_FIB_F_DADDR, result NFT_FIB_RESULT_ADDRTYPE.
                expr(m, b"fib", &[(3, 2), (2, 3), (1, 1)], &[]);
                cmp(m, EQ, &2u32.to_ne_bytes()); // RTN_LOCAL
            }
            expr(m, b"meta", &[(2, L4PROTO), (1, 1)], &[]);
            cmp(m, EQ, &[if p.udp { 17 } else { 6 }]);
            payload(m, TRANSPORT, 2, 2);
            cmp(m, EQ, &p.host_port.to_be_bytes());
            expr(m, b"immediate", &[(1, 1)], &[(2, &addr)]);
            expr(m, b"immediate", &[(1, 2)], &[(2, &p.port.to_be_bytes())]);
            // nat: type DNAT, family ipv4, address from reg 1, port from reg 2,
            // NF_NAT_RANGE_PROTO_SPECIFIED.
            expr(m, b"nat", &[(1, 1), (2, 2), (3, 1), (5, 2), (7, 2)], &[]);
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

/// One expression: its name, its big-endian u32 attributes, then its data attributes (each
/// a nest holding one NFTA_DATA_VALUE).
fn expr(m: &mut Msg, name: &[u8], u32s: &[(u16, u32)], data: &[(u16, &[u8])]) {
    let elem = m.nest(1);
    let body = m.str(1, name).nest(2);
    for &(kind, v) in u32s {
        m.be32(kind, v);
    }
    for &(kind, v) in data {
        let d = m.nest(kind);
        m.attr(1, v).close(d);
    }
    m.close(body).close(elem);
}

/// Loads `len` bytes at `offset` of header `base` into reg 1.
fn payload(m: &mut Msg, base: u32, offset: u32, len: u32) {
    expr(m, b"payload", &[(1, 1), (2, base), (3, offset), (4, len)], &[]);
}

/// Compares reg 1 with `value`.
fn cmp(m: &mut Msg, op: u32, value: &[u8]) {
    expr(m, b"cmp", &[(1, 1), (2, op)], &[(3, value)]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::testing::{can_run, new_netns, sh};
    use std::thread;

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
    fn a_bridge_name_longer_than_a_link_name_is_refused() {
        let mut buf = [0; 768];
        let r = masquerade_batch(&mut Msg::new(&mut buf), b"0123456789abcdefg", [10, 88, 0, 0], 16);
        assert_eq!(r, Err(Errno::NAMETOOLONG));
    }

    #[test]
    fn the_masquerade_once_and_published_ports_while_their_socket_lives_for_real() {
        if !can_run("net::nft real-kernel test") {
            return;
        }
        thread::spawn(|| {
            let _host = new_netns();
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
        })
        .join()
        .unwrap();
    }
}
