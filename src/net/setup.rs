//! The container's network beyond loopback, by `--net`: what the host side prepares before
//! the clone ([`prepare`]) and does once the container's namespace exists ([`Network::make`],
//! called beside the init: sync.rs).

use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{Mode, OFlags, open};
use rustix::io::Errno;
use rustix::thread::{ThreadNameSpaceType, move_into_thread_name_spaces};

#[cfg(feature = "net")]
use super::bridge::{self, Bridged};
use crate::config::{Config, Link, Publish};
use crate::error::{Failure, fail};
use crate::rt::{Process, sys};

/// What the host side holds for the container's network. (One per run, on the host side's
/// frame, and there is no heap to box the bridge's part into.)
#[allow(clippy::large_enum_variant)]
pub enum Network {
    /// `--net bridge`.
    #[cfg(feature = "net")]
    Bridge(Bridged),
    /// `--net container:NAME`: a pidfd of that container's init, whose network namespace is
    /// joined rather than made.
    Container(OwnedFd),
    /// `--net pasta`: the launcher of pasta(1), waiting in the host's namespaces.
    Pasta(Pasta),
}

/// The host side, before the clone and in the host's namespaces: None for a network
/// namespace with loopback alone, or none of its own.
#[inline(never)] // its frame off the supervising one
pub fn prepare(config: &Config, process: &Process) -> Result<Option<Network>, Failure<'static>> {
    let root = rustix::process::geteuid().is_root();
    let link = config.link;
    // In a user namespace of the container's own, its network namespace is made by the
    // init (root) or from inside it (a user; host.rs): neither can reach the host's bridge
    // or another container's namespace.
    let reaches_out = matches!(link, Link::Bridge { .. } | Link::Container(_));
    if (config.namespaces.user.is_some() && reaches_out)
        || (root && config.namespaces.user.is_some() && link == Link::Pasta)
    {
        let why = if root {
            "--net bridge, pasta and container: go without --userns (root's container of its own user namespace makes its network itself)"
        } else {
            "an ordinary user has --net none, host or pasta (bridge and container: need root)"
        };
        return Err(Failure::new("net", b"", Errno::PERM).with_hint(why));
    }
    match link {
        #[cfg(feature = "net")]
        Link::Bridge { subnet } => {
            bridge::prepare(subnet, config.publish, config.hostname).map(|b| Some(Network::Bridge(b)))
        }
        #[cfg(not(feature = "net"))]
        Link::Bridge { .. } => Err(Failure::new("net", b"bridge", Errno::OPNOTSUPP)
            .with_hint("this husk is built without it: cargo build --release --features net")),
        Link::Container(name) => {
            let found = crate::exec::find(name, process).map_err(|e| {
                Failure::new("container", b"", e).with_hint(if e == Errno::SRCH {
                    "no running container has that name (husk ps)"
                } else {
                    ""
                })
            })?;
            // A container of the host's network has no namespace of its own to share.
            if !found.1.confinement.own_network {
                return Err(Failure::new("container", b"", Errno::INVAL)
                    .with_hint("it shares the host's network: use --net host"));
            }
            Ok(Some(Network::Container(found.0)))
        }
        Link::Pasta => Pasta::launch(config.publish, !root).map(|p| Some(Network::Pasta(p))),
        // The namespace file an engine made (setns(2) takes it as it takes a pidfd).
        #[cfg(feature = "oci")]
        Link::Join(path) => {
            let why = |e| Failure::new("network namespace", b"", e).with_hint("linux.namespaces' path");
            let mut c = crate::cpath::CPath::new();
            let fd = open(c.of(&[path]).map_err(why)?, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty());
            let fd = fd.map_err(why)?;
            Ok(Some(Network::Container(fd)))
        }
        Link::None => Ok(None),
    }
}

impl Network {
    /// The host side, beside the init (sync.rs): the container's network namespace, made (and
    /// plugged into the bridge), or joined. Loopback is up either way.
    #[cfg_attr(not(feature = "net"), allow(unused_variables))]
    pub fn make(&self, publish: &[crate::config::Publish]) -> Result<(), Failure<'static>> {
        match self {
            Network::Container(init) => {
                move_into_thread_name_spaces(init.as_fd(), ThreadNameSpaceType::NETWORK)
                    .map_err(fail("setns network", b""))
            }
            #[cfg(feature = "net")]
            Network::Bridge(bridged) => {
                new_namespace()?;
                bridged.plug(publish)
            }
            Network::Pasta(pasta) => {
                new_namespace()?;
                pasta.start()
            }
        }
    }

    /// A bridged container's /etc/hosts on the host (net/bridge.rs); its /etc/resolv.conf is
    /// the same path and `RESOLV`.
    pub fn hosts(&self) -> Option<&[u8]> {
        match self {
            #[cfg(feature = "net")]
            Network::Bridge(bridged) => Some(bridged.hosts()),
            _ => None,
        }
    }
}

/// The suffix of a bridged container's resolv.conf, beside its /etc/hosts (net/bridge.rs).
pub const RESOLV: &[u8] = b".resolv";

/// A new network namespace, loopback up.
pub fn new_namespace() -> Result<(), Failure<'static>> {
    sys::unshare(sys::Namespaces::NET).map_err(fail("unshare network", b""))?;
    sys::loopback_up().map_err(fail("loopback network", b""))
}

/// The C string at the start of `bytes`.
fn c(bytes: &[u8]) -> &core::ffi::CStr {
    core::ffi::CStr::from_bytes_until_nul(bytes).unwrap_or(c"")
}

/// Where Debian's passt package puts pasta.
const PASTA: &core::ffi::CStr = c"/usr/bin/pasta";

/// pasta(1) links a namespace to the host's network through a tap device inside and
/// ordinary sockets outside: addresses and routes copied from the host, outbound traffic
/// as the host's own, `-p`'s ports forwarded in. It must start in the host's namespaces
/// (its sockets are the host's) and then join the container's, which exists only once the
/// host side has made it — by then the host side of an ordinary user has left the host's
/// user namespace for good (host.rs, write_maps). So a launcher is forked first, still in
/// the host's namespaces, and waits for the word; it then becomes pasta, in the foreground
/// (`-f`): husk's child for the container's life, ended with it (and by the parent-death
/// signal if husk is killed), never a daemon left behind.
pub struct Pasta {
    /// The word: a byte, or end of file (the container failed: the launcher exits).
    go: OwnedFd,
    /// The launcher, then pasta (an exec: the same process), by pidfd.
    process: OwnedFd,
}

impl Pasta {
    #[inline(never)]
    fn launch(publish: &[Publish], user: bool) -> Result<Pasta, Failure<'static>> {
        if let Err(e) = rustix::fs::access(PASTA, rustix::fs::Access::EXEC_OK) {
            return Err(Failure::new("net", PASTA.to_bytes(), e)
                .with_hint("--net pasta needs Debian's passt package"));
        }
        // pasta's -t and -u: `[IP/]HOSTPORT:PORT,…`, or none.
        let mut specs = [heapless::Vec::<u8, 512>::new(), heapless::Vec::new()];
        for p in publish {
            let spec = &mut specs[p.udp as usize];
            let (mut a, mut b, mut c) = ([0u8; 24], [0u8; 24], [0u8; 24]);
            let ip = p.host_ip.map(|ip| dotted(ip, &mut a).to_bytes());
            let parts = [
                if spec.is_empty() { b"".as_slice() } else { b"," },
                ip.unwrap_or(b""),
                if ip.is_some() { b"/" } else { b"" },
                crate::text::digits(p.host_port as u64, 10, &mut b).to_bytes(),
                b":",
                crate::text::digits(p.port as u64, 10, &mut c).to_bytes(),
            ];
            for part in parts {
                let _ = spec.extend_from_slice(part); // 16 ports of at most 28 bytes
            }
        }
        for spec in &mut specs {
            let _ = spec.extend_from_slice(if spec.is_empty() { b"none\0" } else { b"\0" });
        }
        let pipe = || rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(fail("pipe", b""));
        let (wait, go) = pipe()?;
        let parent = rustix::process::getpid();
        let launcher = sys::fork().map_err(fail("fork", b"pasta"))?;
        if launcher != 0 {
            let pid =
                rustix::process::Pid::from_raw(launcher).ok_or(Errno::SRCH).map_err(fail("pasta", b""))?;
            let process = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
                .map_err(fail("pidfd_open", b"pasta"))?;
            return Ok(Pasta { go, process });
        }
        drop(go);
        // Ends with husk, however husk ends: checked after asking, as the init does.
        let _ = sys::set_parent_death_signal(crate::signals::SIGKILL);
        let mut byte = [0u8];
        if rustix::process::getppid() != Some(parent) || rustix::io::read(&wait, &mut byte[..]) != Ok(1) {
            sys::exit(0);
        }
        // The host side, our parent, is in the container's network namespace now (and an
        // ordinary user's in its user namespace too).
        let (mut net, mut userns, mut number) = ([0u8; 40], [0u8; 40], [0u8; 24]);
        let parent = crate::text::digits(parent.as_raw_nonzero().get() as u64, 10, &mut number).to_bytes();
        let join = |buf: &mut [u8; 40], parts: &[&[u8]]| {
            let mut at = 0;
            for part in parts {
                buf[at..at + part.len()].copy_from_slice(part);
                at += part.len();
            }
        };
        join(&mut net, &[b"/proc/", parent, b"/ns/net\0"]);
        join(&mut userns, &[b"/proc/", parent, b"/ns/user\0"]);
        let mut slots = crate::rt::CStrSlots::<20>::new();
        let mut argv = slots.writer();
        let fixed = [PASTA, c"-f", c"--config-net", c"--quiet", c"-T", c"none", c"-U", c"none", c"--netns"];
        for arg in fixed.into_iter().chain([c(&net)]) {
            argv.push(arg);
        }
        if user {
            argv.push(c"--userns");
            argv.push(c(&userns));
        }
        for (option, spec) in [(c"-t", &specs[0]), (c"-u", &specs[1])] {
            argv.push(option);
            argv.push(c(spec));
        }
        let mut empty = crate::rt::CStrSlots::<1>::new();
        sys::execve(PASTA, argv.finish(), empty.writer().finish());
        sys::exit(127)
    }

    /// The host side, in the container's new network namespace: pasta links it, and is
    /// waited for until it has — its last step is the default route, which this namespace's
    /// routing table then shows (proc(5), /proc/net/route) — or has ended (its message is
    /// above), or ten seconds have passed.
    fn start(&self) -> Result<(), Failure<'static>> {
        sys::write_all(rustix::fd::AsRawFd::as_raw_fd(&self.go), &[0]);
        let mut buf = [0u8; 4096];
        for _ in 0..10_000 {
            let table = open(c"/proc/self/net/route", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty());
            let n = table.and_then(|fd| rustix::io::read(fd, &mut buf[..])).unwrap_or(0);
            if buf[..n].windows(10).any(|w| w == b"\t00000000\t") {
                return Ok(());
            }
            if !sys::pidfd_alive(self.process.as_fd()) {
                break;
            }
            sys::sleep_ns(1_000_000);
        }
        Err(Failure::new("pasta", b"", Errno::NETUNREACH)
            .with_hint("pasta could not link the container's network (its message is above)"))
    }
}

impl Drop for Pasta {
    /// Ends pasta with the container (it would otherwise outlive the namespace it serves).
    fn drop(&mut self) {
        let _ = sys::pidfd_signal(self.process.as_fd(), crate::signals::SIGKILL);
        let _ = rustix::process::waitid(
            rustix::process::WaitId::PidFd(self.process.as_fd()),
            rustix::process::WaitIdOptions::EXITED,
        );
    }
}

/// `a.b.c.d`, NUL-terminated, in `buf`.
pub fn dotted(address: [u8; 4], buf: &mut [u8; 24]) -> &core::ffi::CStr {
    let mut at = 0;
    for (i, byte) in address.iter().enumerate() {
        let mut digits = [0u8; 24];
        for &d in crate::text::digits(*byte as u64, 10, &mut digits).to_bytes() {
            buf[at] = d;
            at += 1;
        }
        buf[at] = if i == 3 { 0 } else { b'.' };
        at += 1;
    }
    core::ffi::CStr::from_bytes_until_nul(&buf[..]).unwrap_or(c"")
}
