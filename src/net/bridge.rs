//! `--net bridge`: the container's own network namespace linked to the host's by a veth
//! pair on husk's bridge, as docker's and podman's default network is:
//!
//! ```text
//!   host's namespace                                   container's namespace
//!   husk0 (bridge, 10.87.0.1/24) ── hk0a570005 ═══ veth ═══ eth0 (10.87.0.5/24, up)
//!   nft table ip husk: masquerade 10.87.0.0/24           default via 10.87.0.1
//!   nft table ip husk-10.87.0.5 (owned): -p's DNAT        lo (up)
//! ```
//!
//! Before the clone, in the host's namespace ([`prepare`]): the bridge (made on first use,
//! under a lock), the masquerade table, IPv4 forwarding, an address claimed for the
//! container's life (claim.rs), the published host ports bound (held, so that nobody else
//! takes them meanwhile) and the container's /etc/hosts. Beside the init, once the host side
//! is in the new namespace ([`Bridged::plug`]): the veth pair (its host end made by a socket
//! of the host's namespace, its peer straight into the new one), the address and route
//! inside, and the published ports' DNAT rules.
//!
//! Nothing is left behind: the veth pair goes with the container's namespace, the address's
//! claim with the host side's descriptor of it (swept by the next claim after SIGKILL),
//! and the DNAT table is owned by the host side's netlink socket, which the kernel removes
//! it with however husk ends (NFT_TABLE_F_OWNER).

use core::ffi::CStr;

use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{FlockOperation, Mode, OFlags, flock, open};
use rustix::io::Errno;

use super::link::{self, Bridge};
use super::netlink::Socket;
use super::nft;
use super::setup::dotted;
use crate::claim::Claim;
use crate::config::{Publish, Subnet};
use crate::error::{Failure, fail};

/// husk's bridge in the host's namespace.
pub const BRIDGE: &[u8] = b"husk0";
/// The bridge's subnet unless `--subnet` says otherwise when husk first makes it: a /24 of
/// the private 10/8 outside what others pick by default — docker (172.17.0.0/16 and its
/// pools in 172.16/12 and 192.168/16), podman (10.88.0.0/16), Kubernetes' pod and service
/// networks (10.244/16, 10.42/16, 10.43/16, 10.96/12), libvirt (192.168.122.0/24), and
/// the cloud VPC ranges that begin at 10.128/9 — and checked against the host's routes.
pub const DEFAULT_SUBNET: Subnet = Subnet { net: [10, 87, 0, 0], prefix: 24 };
/// Where addresses are claimed (claim.rs): one file per address, named by it, holding the
/// container's /etc/hosts.
const ADDRESSES: &CStr = c"/run/husk/.net";

/// A bridged container's network, prepared in the host's namespace.
pub struct Bridged {
    /// rtnetlink, in the host's namespace.
    route: Socket,
    /// nf_tables, in the host's namespace: the owner of the published ports' table, kept
    /// for the container's life.
    nat: Option<Socket>,
    bridge: Bridge,
    pub address: [u8; 4],
    _claim: Claim,
    /// The published ports, bound for the container's life.
    _ports: heapless::Vec<OwnedFd, { crate::args::MAX_PUBLISH }>,
    /// The claim's path, the source of the container's /etc/hosts.
    hosts: heapless::Vec<u8, 40>,
}

/// The host side, before the clone: everything of the host's namespace the container's
/// link needs. Fails (125) with nothing changed on the host but the bridge and the
/// masquerade table, which stay for the next container.
#[inline(never)]
pub fn prepare(
    subnet: Option<Subnet>,
    publish: &[Publish],
    hostname: &[u8],
) -> Result<Bridged, Failure<'static>> {
    // The ports first: one in use is refused before anything is made.
    let ports = reserve(publish)?;
    let route = Socket::route().map_err(fail("netlink", b""))?;
    let bridge = bridge(&route, subnet)?;
    let net = u32::from_be_bytes(bridge.gateway) & super::mask(bridge.prefix);
    let net_bytes = net.to_be_bytes();
    // Outbound traffic: forwarded, and masqueraded as the host's address (ip-sysctl.rst,
    // ip_forward). Written each time: cheap when already 1, and what was switched off
    // since would otherwise leave the container without a way out.
    write_file(c"/proc/sys/net/ipv4/ip_forward", b"1")
        .map_err(fail("sysctl", b"/proc/sys/net/ipv4/ip_forward"))?;
    let nf = Socket::netfilter().map_err(fail("netlink", b"nf_tables"))?;
    nft::masquerade(&nf, BRIDGE, net_bytes, bridge.prefix).map_err(|e| {
        Failure::new("nftables", b"husk", e).with_hint(
            if e == Errno::NOENT || e == Errno::OPNOTSUPP || e == Errno::PROTONOSUPPORT {
                "the kernel lacks nf_tables or its NAT (modules nf_tables, nft_nat, nft_masq, nft_chain_nat)"
            } else {
                ""
            },
        )
    })?;
    // An address of the subnet: not the network's, not the gateway's (host 1), not the
    // broadcast address.
    let hosts = 1u32 << (32 - bridge.prefix);
    let usable = |k: u32| k >= 2 && k < hosts - 1;
    let name: crate::claim::Namer = |k, buf| dotted(k.to_be_bytes(), buf);
    // Looked for from a place of this husk's own (its pid's), not from the first: the last
    // container's veth pair, named after its address, lingers a few milliseconds while the
    // kernel tears its namespace down (cleanup_net), and taking its address at once would
    // mean removing that pair first, synchronously (14.6 ms here).
    let from = rustix::process::getpid().as_raw_nonzero().get() as u32 % hosts;
    let mut claim = crate::claim::claim(ADDRESSES, (net, from, hosts), &usable, name).map_err(|e| {
        let failure = Failure::new("address", ADDRESSES.to_bytes(), e);
        if e == Errno::AGAIN {
            failure.with_hint("every address of husk0's subnet is in use")
        } else {
            failure
        }
    })?;
    let address = (net | claim.number).to_be_bytes();
    claim.sweep();
    let mut text = [0u8; 24];
    let mut hosts = heapless::Vec::new();
    for part in [ADDRESSES.to_bytes(), b"/", dotted(address, &mut text).to_bytes()] {
        let _ = hosts.extend_from_slice(part); // 15 + 1 + at most 15 bytes
    }
    write_etc(&mut claim, address, hostname)?;
    Ok(Bridged {
        route,
        nat: (!publish.is_empty()).then_some(nf),
        bridge,
        address,
        _claim: claim,
        _ports: ports,
        hosts,
    })
}

impl Bridged {
    /// The host side, now in the container's new network namespace (sync.rs): the veth
    /// pair, the address and default route inside, the published ports.
    pub fn plug(&self, publish: &[Publish]) -> Result<(), Failure<'static>> {
        let ns = open(c"/proc/thread-self/ns/net", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            .map_err(fail("netns", b""))?;
        // The host end is named after the address, which this container holds: one of the
        // same name is a killed holder's, whose namespace the kernel has not yet torn down
        // (cleanup_net runs later, in a worker): take it away.
        let mut name = [0u8; 24];
        let veth = veth_name(self.address, &mut name);
        let made = match link::veth(&self.route, veth, self.bridge.index, b"eth0", ns.as_fd()) {
            Err(Errno::EXIST) => link::delete(&self.route, veth)
                .and_then(|()| link::veth(&self.route, veth, self.bridge.index, b"eth0", ns.as_fd())),
            made => made,
        };
        made.map_err(fail("veth", b"husk0"))?;
        let inside = Socket::route().map_err(fail("netlink", b""))?;
        link::configure(&inside, b"eth0", self.address, self.bridge.prefix, self.bridge.gateway)
            .map_err(fail("address", b"eth0"))?;
        if let Some(nat) = &self.nat {
            let mut table = [0u8; 24];
            let table = table_name(self.address, &mut table);
            let ports: heapless::Vec<nft::Publish, { crate::args::MAX_PUBLISH }> = publish
                .iter()
                .map(|p| nft::Publish {
                    host_ip: p.host_ip,
                    host_port: p.host_port,
                    port: p.port,
                    udp: p.udp,
                })
                .collect();
            nft::publish(nat, table, self.address, &ports).map_err(fail("nftables", b"husk-"))?;
        }
        Ok(())
    }

    /// The container's /etc/hosts on the host (the claim's file).
    pub fn hosts(&self) -> &[u8] {
        &self.hosts
    }
}

/// husk0, found, or made on first use under the addresses' lock (two first containers make
/// it once), on a subnet no host route overlaps.
fn bridge(route: &Socket, subnet: Option<Subnet>) -> Result<Bridge, Failure<'static>> {
    let failed = |e| Failure::new("bridge", BRIDGE, e);
    let found = |route: &Socket| {
        let bridge = link::find_bridge(route, BRIDGE).map_err(failed)?;
        match (bridge, subnet) {
            (Some(b), Some(s)) if u32::from_be_bytes(b.gateway) & super::mask(b.prefix) != u32::from_be_bytes(s.net) || b.prefix != s.prefix => {
                Err(failed(Errno::EXIST).with_hint("it has another subnet: --subnet is for its first creation (ip link del husk0 to start anew)"))
            }
            (bridge, _) => Ok(bridge),
        }
    };
    if let Some(bridge) = found(route)? {
        return Ok(bridge);
    }
    crate::claim::make_dir(ADDRESSES).map_err(fail("address", ADDRESSES.to_bytes()))?;
    let lock = open(
        ADDRESSES,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
    )
    .map_err(fail("address", ADDRESSES.to_bytes()))?;
    flock(&lock, FlockOperation::LockExclusive).map_err(fail("address", ADDRESSES.to_bytes()))?;
    if let Some(bridge) = found(route)? {
        return Ok(bridge);
    }
    let Subnet { net, prefix } = subnet.unwrap_or(DEFAULT_SUBNET);
    if link::overlapping_route(route, net, prefix, 0).map_err(failed)?.is_some() {
        return Err(Failure::new("subnet", b"", Errno::ADDRINUSE)
            .with_hint("a route of the host's overlaps it (ip route): choose another with --subnet CIDR"));
    }
    let gateway = (u32::from_be_bytes(net) | 1).to_be_bytes();
    // Under the lock, a husk0 without an address is one whose making was cut short (the
    // bridge is made, then given its address): made anew.
    match link::create_bridge(route, BRIDGE, gateway, prefix) {
        Err(Errno::EXIST) => {
            link::delete(route, BRIDGE).and_then(|()| link::create_bridge(route, BRIDGE, gateway, prefix))
        }
        made => made,
    }
    .map_err(failed)
}

/// The published host ports, bound (not listening) in the host's namespace for the
/// container's life: one in use is an error now, not a rule that silently never matches,
/// and no other program (or container) takes it meanwhile.
fn reserve(
    publish: &[Publish],
) -> Result<heapless::Vec<OwnedFd, { crate::args::MAX_PUBLISH }>, Failure<'static>> {
    use rustix::net::{AddressFamily, SocketAddrV4, SocketFlags, SocketType, bind, socket_with};
    let mut held = heapless::Vec::new();
    for p in publish {
        let kind = if p.udp { SocketType::DGRAM } else { SocketType::STREAM };
        let socket = socket_with(AddressFamily::INET, kind, SocketFlags::CLOEXEC, None)
            .map_err(fail("publish", b""))?;
        let ip = p.host_ip.unwrap_or([0; 4]);
        let at = SocketAddrV4::new(ip.into(), p.host_port);
        bind(&socket, &at).map_err(|e| {
            let hint = if e == Errno::ADDRINUSE { "the host port is in use" } else { "" };
            Failure::new("publish", b"", e).with_hint(hint)
        })?;
        let _ = held.push(socket);
    }
    Ok(held)
}

/// The container's /etc/hosts in its claim's file (localhost, and its hostname at its
/// address), and its /etc/resolv.conf in a file beside it (`RESOLV`): copies, never the
/// host's own files, which a container given CAP_SYS_ADMIN could remount writable.
fn write_etc(claim: &mut Claim, address: [u8; 4], hostname: &[u8]) -> Result<(), Failure<'static>> {
    let mut text = [0u8; 24];
    let address = dotted(address, &mut text).to_bytes();
    let mut hosts: heapless::Vec<u8, 160> = heapless::Vec::new();
    for part in [
        b"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n".as_slice(),
        address,
        b"\t",
        hostname,
        b"\n",
    ] {
        let _ = hosts.extend_from_slice(part); // 64 + 16 + 64 + 2 bytes at most
    }
    let file = claim.file();
    rustix::fs::ftruncate(file, 0)
        .and_then(|()| rustix::io::pwrite(file, &hosts, 0))
        .map_err(fail("hosts", b""))?;
    let mut buf = [0u8; 4096];
    let resolv = resolv_conf(&mut buf);
    let file = claim.beside(super::setup::RESOLV).map_err(fail("resolv.conf", b""))?;
    rustix::io::write(file, resolv).map(drop).map_err(fail("resolv.conf", b""))
}

/// /etc/resolv.conf for the container (its first 4 KiB): the host's, unless it names only
/// servers on the host's loopback (systemd-resolved's 127.0.0.53, a local dnsmasq), which
/// the container cannot reach: then the upstream list systemd-resolved keeps, as docker
/// and podman do.
fn resolv_conf(buf: &mut [u8; 4096]) -> &[u8] {
    let read = |path: &CStr, buf: &mut [u8; 4096]| {
        let host = open(path, OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK, Mode::empty());
        host.and_then(|fd| rustix::io::read(fd, &mut buf[..])).unwrap_or(0)
    };
    let n = read(c"/etc/resolv.conf", buf);
    let loopback_only = crate::text::fields(&buf[..n], b'\n')
        .filter_map(|line| crate::text::after(line, b"nameserver"))
        .all(|server| {
            let server = &server[server.iter().position(|&b| b != b' ' && b != b'\t').unwrap_or(0)..];
            server.starts_with(b"127.") || server.starts_with(b"::1")
        });
    let n = match (n, loopback_only) {
        // Without it, the host's as it is: nothing better is known.
        (1.., true) => match read(c"/run/systemd/resolve/resolv.conf", buf) {
            0 => read(c"/etc/resolv.conf", buf),
            n => n,
        },
        _ => n,
    };
    &buf[..n]
}

/// The veth pair's host end: `hk` and the address in hex (10 bytes; IFNAMSIZ is 16).
fn veth_name(address: [u8; 4], buf: &mut [u8; 24]) -> &[u8] {
    (buf[0], buf[1]) = (b'h', b'k');
    for (i, nibble) in (0..8).rev().map(|k| (u32::from_be_bytes(address) >> (4 * k)) & 0xf).enumerate() {
        buf[2 + i] = b"0123456789abcdef"[nibble as usize];
    }
    &buf[..10]
}

/// The published ports' table: `husk-a.b.c.d`.
fn table_name(address: [u8; 4], buf: &mut [u8; 24]) -> &[u8] {
    let mut text = [0u8; 24];
    let address = dotted(address, &mut text).to_bytes();
    buf[..5].copy_from_slice(b"husk-");
    buf[5..5 + address.len()].copy_from_slice(address);
    &buf[..5 + address.len()]
}

/// Writes `text` to a file that exists (a sysctl).
fn write_file(path: &CStr, text: &[u8]) -> Result<(), Errno> {
    let fd = open(path, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())?;
    rustix::io::write(fd, text).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let mut buf = [0u8; 24];
        assert_eq!(dotted([10, 87, 0, 5], &mut buf), c"10.87.0.5");
        assert_eq!(dotted([255, 0, 100, 9], &mut buf), c"255.0.100.9");
        assert_eq!(veth_name([10, 87, 0, 5], &mut buf), b"hk0a570005");
        assert_eq!(veth_name([0, 0, 0, 1], &mut buf), b"hk00000001");
        assert_eq!(table_name([10, 87, 0, 5], &mut buf), b"husk-10.87.0.5");
        assert_eq!(!super::super::mask(24), 0xff);
        assert_eq!(!super::super::mask(8), 0x00ff_ffff);
    }
}
