//! rtnetlink (rtnetlink(7), https://man7.org/linux/man-pages/man7/rtnetlink.7.html): the
//! bridge, the veth pair, the container's address and default route, and the host's routes
//! a new subnet must not overlap. Attribute numbers are linux/if_link.h's, if_addr.h's,
//! rtnetlink.h's and veth.h's.

use super::netlink::{ACK, CREATE, DUMP, EXCL, Msg, Socket, attr, u32_at};
use rustix::fd::{AsRawFd, BorrowedFd};
use rustix::io::Errno;

const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;
const IFLA_IFNAME: u16 = 3;
const IFLA_MASTER: u16 = 10;
const IFLA_LINKINFO: u16 = 18;
const IFLA_NET_NS_FD: u16 = 28;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_LABEL: u16 = 3;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const AF_INET: u8 = 2;
const RT_TABLE_MAIN: u8 = 254;
/// ifaddrmsg is 8 bytes, rtmsg 12, ifinfomsg 16.
const IFADDRMSG: usize = 8;
const RTMSG: usize = 12;

/// A host bridge and the gateway address it holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Bridge {
    pub index: u32,
    pub gateway: [u8; 4],
    pub prefix: u8,
}

/// struct ifinfomsg for link `index` (0: a new one), set up (IFF_UP in flags and in change):
/// family, pad, type, index, flags, change, as one little-endian number (x86_64's order, the
/// only one husk builds for).
fn ifinfo_up(index: u32) -> [u8; 16] {
    ((index as u128) << 32 | 1 << 64 | 1 << 96).to_le_bytes()
}

/// Starts an RTM_NEWLINK that creates link `name` of `kind`, up (NLM_F_EXCL: an existing
/// link is EEXIST, never changed); returns its IFLA_LINKINFO nest, open for the kind's data.
fn new_link(m: &mut Msg, name: &[u8], kind: &[u8]) -> usize {
    m.start(RTM_NEWLINK, ACK | CREATE | EXCL, &ifinfo_up(0)).str(IFLA_IFNAME, name);
    let info = m.nest(IFLA_LINKINFO);
    m.str(IFLA_INFO_KIND, kind);
    info
}

/// The index of link `name` (RTM_GETLINK by IFLA_IFNAME; ENODEV when there is none).
fn index(s: &Socket, name: &[u8]) -> Result<u32, Errno> {
    let mut buf = [0; 256];
    let mut m = Msg::new(&mut buf);
    m.start(RTM_GETLINK, ACK, &[0; 16]).str(IFLA_IFNAME, name);
    let mut index = 0;
    s.transact(&mut m, &mut |body| index = u32_at(body, 4))?;
    Ok(index)
}

/// Dumps the IPv4 objects of a GET request `kind` (addresses, routes), each to `each`. Its
/// family header (ifaddrmsg, rtmsg) is all zero but for the family: the kernel filters by
/// that alone unless the socket asks for strict checking.
fn dump(s: &Socket, kind: u16, each: &mut dyn FnMut(&[u8])) -> Result<(), Errno> {
    let mut buf = [0; 32];
    let mut m = Msg::new(&mut buf);
    m.start(kind, DUMP, &[AF_INET, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    s.transact(&mut m, each)
}

/// The bridge named `name` with its IPv4 address (one RTM_GETADDR dump, matched by IFA_LABEL
/// == name, which the kernel sets to the link's name), or None.
pub fn find_bridge(s: &Socket, name: &[u8]) -> Result<Option<Bridge>, Errno> {
    let mut found = None;
    dump(s, RTM_GETADDR, &mut |body| {
        if attr(body, IFADDRMSG, IFA_LABEL).and_then(|l| l.strip_suffix(b"\0")) == Some(name)
            && let Some(&[a, b, c, d]) = attr(body, IFADDRMSG, IFA_LOCAL)
        {
            found.get_or_insert(Bridge { index: u32_at(body, 4), gateway: [a, b, c, d], prefix: body[1] });
        }
    })?;
    Ok(found)
}

/// Creates bridge `name` (NLM_F_EXCL; IFF_UP), adds gateway/prefix to it. EEXIST passes
/// through to the caller.
pub fn create_bridge(s: &Socket, name: &[u8], gateway: [u8; 4], prefix: u8) -> Result<Bridge, Errno> {
    let mut buf = [0; 256];
    let mut m = Msg::new(&mut buf);
    let info = new_link(&mut m, name, b"bridge");
    m.close(info);
    s.ack(&mut m)?;
    let index = address(s, name, gateway, prefix, None)?;
    Ok(Bridge { index, gateway, prefix })
}

/// The first IPv4 route of the main table (RTM_GETROUTE dump) whose destination overlaps
/// net/prefix (a default route does not count), skipping routes whose output interface is
/// `skip_index`.
pub fn overlapping_route(
    s: &Socket,
    net: [u8; 4],
    prefix: u8,
    skip_index: u32,
) -> Result<Option<([u8; 4], u8)>, Errno> {
    let mut found = None;
    let net = u32::from_be_bytes(net);
    dump(s, RTM_GETROUTE, &mut |body| {
        // rtm_table is the main table's number (a table past 255 shows as RT_TABLE_COMPAT).
        let dst = u32::from_be(u32_at(attr(body, RTMSG, RTA_DST).unwrap_or_default(), 0));
        let oif = u32_at(attr(body, RTMSG, RTA_OIF).unwrap_or_default(), 0);
        let len = body[1];
        // Two prefixes overlap when they agree on the bits of the shorter one.
        if body[4] == RT_TABLE_MAIN
            && len != 0
            && oif != skip_index
            && (dst ^ net) & super::mask(len.min(prefix)) == 0
        {
            found.get_or_insert((dst.to_be_bytes(), len));
        }
    })?;
    Ok(found)
}

/// A veth pair: `host_name` in the socket's namespace, enslaved to `bridge` (IFLA_MASTER at
/// creation) and up; its peer `peer_name` created directly in the network namespace `ns`
/// (IFLA_NET_NS_FD in VETH_INFO_PEER), down: [`configure`] brings it up there. (IFF_UP in the
/// peer's own ifinfomsg fails the creation with ENOTCONN: veth_newlink opens the peer before
/// it has linked the two ends, and veth_open refuses an end without its peer.) One
/// RTM_NEWLINK: the kernel registers the peer first, so a name taken in `ns` fails the whole
/// pair and leaves nothing behind (veth(4), https://man7.org/linux/man-pages/man4/veth.4.html).
pub fn veth(
    s: &Socket,
    host_name: &[u8],
    bridge: u32,
    peer_name: &[u8],
    ns: BorrowedFd,
) -> Result<(), Errno> {
    let mut buf = [0; 256];
    let mut m = Msg::new(&mut buf);
    let info = new_link(&mut m, host_name, b"veth");
    let data = m.nest(IFLA_INFO_DATA);
    // VETH_INFO_PEER holds a struct ifinfomsg for the peer, then the peer's own attributes.
    let peer = m.nest(VETH_INFO_PEER);
    m.put(&[0; 16]).str(IFLA_IFNAME, peer_name).u32(IFLA_NET_NS_FD, ns.as_raw_fd() as u32);
    m.close(peer).close(data).close(info).u32(IFLA_MASTER, bridge);
    s.ack(&mut m)
}

/// Removes link `name` (and a veth's peer with it): RTM_DELLINK by IFLA_IFNAME.
pub fn delete(s: &Socket, name: &[u8]) -> Result<(), Errno> {
    let mut buf = [0; 64];
    let mut m = Msg::new(&mut buf);
    m.start(RTM_DELLINK, ACK, &[0; 16]).str(IFLA_IFNAME, name);
    s.ack(&mut m)
}

/// Inside the container's namespace (a socket opened there): `name` gets addr/prefix, is up,
/// and the default route goes via `gateway`.
pub fn configure(s: &Socket, name: &[u8], addr: [u8; 4], prefix: u8, gateway: [u8; 4]) -> Result<(), Errno> {
    address(s, name, addr, prefix, Some(gateway)).map(drop)
}

/// Sets link `name` up with the address `addr`/`prefix` and, given a gateway, a default
/// route via it; returns the link's index. One send after the index lookup (RTM_NEWADDR
/// names its link by index alone; 6.1 does not echo a new link back, NLM_F_ECHO or not), in
/// the order the kernel needs: the link up first (an address on a down link gets no prefix
/// route), then the address (whose prefix route makes the gateway reachable), then the route
/// via it (else ENETUNREACH). netlink(7) has the kernel handle a datagram's messages in order
/// (https://man7.org/linux/man-pages/man7/netlink.7.html), and each still gets its own answer.
fn address(
    s: &Socket,
    name: &[u8],
    addr: [u8; 4],
    prefix: u8,
    gateway: Option<[u8; 4]>,
) -> Result<u32, Errno> {
    let index = index(s, name)?;
    let mut buf = [0; 256];
    let mut m = Msg::new(&mut buf);
    m.start(RTM_NEWLINK, ACK, &ifinfo_up(index));
    // IFA_LOCAL is the address; the kernel copies it to IFA_ADDRESS (the peer's, on a
    // point-to-point link), as ip(8) would send it.
    // ifaddrmsg: family, prefix length, flags, scope, index.
    let ifaddrmsg = (AF_INET as u64 | (prefix as u64) << 8 | (index as u64) << 32).to_le_bytes();
    m.start(RTM_NEWADDR, ACK | CREATE | EXCL, &ifaddrmsg).attr(IFA_LOCAL, &addr);
    if let Some(gateway) = gateway {
        // rtmsg: AF_INET, dst_len 0 (default), src_len, tos, main table, RTPROT_BOOT (as
        // ip(8)), scope universe, RTN_UNICAST, flags.
        let rtmsg = [AF_INET, 0, 0, 0, RT_TABLE_MAIN, 3, 0, 1, 0, 0, 0, 0];
        m.start(RTM_NEWROUTE, ACK | CREATE | EXCL, &rtmsg).attr(RTA_GATEWAY, &gateway);
    }
    s.ack(&mut m)?;
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::testing::{inside, new_netns, on_a_stand_in_host, sh};
    use rustix::fd::AsFd;

    #[test]
    fn a_bridge_a_veth_into_another_namespace_and_the_container_side_for_real() {
        on_a_stand_in_host("net::link real-kernel test", || {
            let s = Socket::route().unwrap();
            assert_eq!(find_bridge(&s, b"husk0"), Ok(None));
            let bridge = create_bridge(&s, b"husk0", [10, 88, 0, 1], 16).unwrap();
            assert_eq!(find_bridge(&s, b"husk0"), Ok(Some(bridge)));
            assert_eq!(find_bridge(&s, b"husk"), Ok(None));
            assert_eq!(create_bridge(&s, b"husk0", [10, 88, 0, 1], 16), Err(Errno::EXIST));

            // The container's namespace, made by a thread of ours and held by its fd.
            let ns = std::thread::spawn(new_netns).join().unwrap();
            veth(&s, b"vh0", bridge.index, b"eth0", ns.as_fd()).unwrap();
            assert_eq!(veth(&s, b"vh1", bridge.index, b"eth0", ns.as_fd()), Err(Errno::EXIST));
            assert_eq!(sh("ip -br link show master husk0 | cut -d' ' -f1"), "vh0@if2\n");
            assert_eq!(sh("ip -br link show vh1 2>&1 || true"), "Device \"vh1\" does not exist.\n");

            let (addr, route, listener) = inside(&ns, || {
                let c = Socket::route().unwrap();
                assert_eq!(configure(&c, b"eth1", [10, 88, 0, 2], 16, [10, 88, 0, 1]), Err(Errno::NODEV));
                configure(&c, b"eth0", [10, 88, 0, 2], 16, [10, 88, 0, 1]).unwrap();
                let listener = std::net::TcpListener::bind("0.0.0.0:7000").unwrap();
                (sh("ip -4 -br addr show eth0"), sh("ip -j route"), listener)
            });
            assert_eq!(addr, "eth0@if3         UP             10.88.0.2/16 \n");
            assert_eq!(
                route,
                "[{\"dst\":\"default\",\"gateway\":\"10.88.0.1\",\"dev\":\"eth0\",\"flags\":[]},\
                 {\"dst\":\"10.88.0.0/16\",\"dev\":\"eth0\",\"protocol\":\"kernel\",\"scope\":\"link\",\
                 \"prefsrc\":\"10.88.0.2\",\"flags\":[]}]\n"
            );
            // Packets cross: the stand-in host reaches the container through the bridge.
            let to = "10.88.0.2:7000".parse().unwrap();
            std::net::TcpStream::connect_timeout(&to, std::time::Duration::from_secs(10)).unwrap();
            let (_, from) = listener.accept().unwrap();
            assert_eq!(from.ip().to_string(), "10.88.0.1");

            // Routes: the bridge's own are skipped by its index, a default route never counts,
            // an overlapping one is found whichever prefix is the shorter, a disjoint one is not.
            assert_eq!(overlapping_route(&s, [10, 88, 0, 0], 16, bridge.index), Ok(None));
            assert_eq!(overlapping_route(&s, [10, 88, 0, 0], 16, 0), Ok(Some(([10, 88, 0, 0], 16))));
            sh(
                "ip link add d0 up type veth peer name d1 && ip link set d1 up && ip addr add 192.168.7.1/24 dev d0 && \
                ip route add default via 192.168.7.254 && ip route add 172.16.0.0/12 via 192.168.7.254 && \
                ip route add 10.200.0.0/16 via 10.88.0.2",
            );
            let overlap = |net, prefix| overlapping_route(&s, net, prefix, bridge.index).unwrap();
            assert_eq!(overlap([172, 17, 0, 0], 16), Some(([172, 16, 0, 0], 12)));
            assert_eq!(overlap([172, 0, 0, 0], 8), Some(([172, 16, 0, 0], 12)));
            assert_eq!(overlap([192, 168, 0, 0], 16), Some(([192, 168, 7, 0], 24)));
            assert_eq!(overlap([172, 32, 0, 0], 16), None);
            assert_eq!(overlap([10, 89, 0, 0], 16), None);
            assert_eq!(overlap([10, 200, 5, 0], 24), None);
            assert_eq!(overlapping_route(&s, [10, 200, 5, 0], 24, 0), Ok(Some(([10, 200, 0, 0], 16))));
        });
    }
}
