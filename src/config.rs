//! The container as data: what to build, decided before anything is built. A front end
//! produces it (today `husk run`'s options, in `args::run::RunSpec::config`, where every
//! default and policy is decided in one place; later a `config.json` or an image's config)
//! and the walk (`container`, `rootfs`) only carries it out.
//!
//! Strings are borrowed from whatever the front end read (argv today), never copied into
//! fixed-size buffers. The one capacity is the number of mounts, a named constant whose
//! overflow is a usage error.

use crate::cgroup::Limits;

/// The most mounts one container may have: husk's own (/proc, /dev, /tmp, /run, /sys,
/// /sys/fs/cgroup) and the volumes asked for.
pub const MAX_MOUNTS: usize = crate::args::MAX_VOLUMES + 8;

/// A container, as data.
#[derive(Debug, PartialEq, Eq)]
pub struct Config<'a> {
    pub root: Root<'a>,
    /// In the order they are made: a later one may sit inside an earlier one.
    pub mounts: heapless::Vec<Mount<'a>, MAX_MOUNTS>,
    pub namespaces: Namespaces,
    pub hostname: &'a [u8],
    pub process: Process<'a>,
    /// A cgroup of the container's own (limits, `--stats`, a chosen parent), or none.
    pub cgroup: Option<Cgroup<'a>>,
    /// What links a network namespace of the container's own to the world (net/).
    pub link: Link<'a>,
    /// Host ports forwarded to the container's (`-p`): with `Link::Bridge` or `Link::Pasta`.
    pub publish: &'a [Publish],
}

/// What links the container's own network namespace (`Namespace::New`) to others.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Link<'a> {
    /// Nothing: loopback alone (`--net none`), or the host's namespace (`--net host`).
    None,
    /// A veth pair to husk's bridge, an address of the bridge's subnet, outbound traffic
    /// masqueraded (`--net bridge`); `subnet` is the bridge's when husk first makes it.
    Bridge { subnet: Option<Subnet> },
    /// The namespace of the running container of that name, joined (`--net container:NAME`).
    Container(&'a [u8]),
    /// pasta(1), from Debian's passt, linking it to the host's network (`--net pasta`).
    Pasta,
    /// The network namespace at this path, joined (an OCI config's `linux.namespaces` path:
    /// what engines make and hand the runtime).
    #[cfg(feature = "oci")]
    Join(&'a [u8]),
}

/// An IPv4 subnet: its network address and prefix length.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct Subnet {
    pub net: [u8; 4],
    pub prefix: u8,
}

/// One published port (`-p [HOSTIP:]HOSTPORT:PORT[/tcp|/udp]`).
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct Publish {
    /// Only traffic to this host address; None: any of the host's own addresses.
    pub host_ip: Option<[u8; 4]>,
    pub host_port: u16,
    pub port: u16,
    pub udp: bool,
}

/// The root filesystem.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Root<'a> {
    /// The host's own `/`, always read-only; its /proc, /sys and /dev are taken away.
    Host,
    /// A directory tree (an extracted image, a debootstrap).
    Dir { path: &'a [u8], read_only: bool },
    /// An image in husk's store (`lower`, never written) under a writable layer of the
    /// run's own (`run`/upper, with overlayfs's `run`/work).
    #[cfg(feature = "images")]
    Overlay { lower: &'a [u8], run: &'a [u8] },
}

impl Config<'_> {
    /// Whether this is an OCI config's container (oci/).
    pub fn process_is_oci(&self) -> bool {
        #[cfg(feature = "oci")]
        return self.process.oci.is_some();
        #[cfg(not(feature = "oci"))]
        false
    }
}

impl Root<'_> {
    pub fn read_only(&self) -> bool {
        match self {
            Root::Host => true,
            Root::Dir { read_only, .. } => *read_only,
            #[cfg(feature = "images")]
            Root::Overlay { .. } => false,
        }
    }
}

/// One mount inside the root.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct Mount<'a> {
    pub kind: MountKind,
    /// The host path for binds; empty for the others.
    pub source: &'a [u8],
    /// Absolute, inside the root.
    pub dest: &'a [u8],
}

/// What a mount is. Each kind is one function of `rootfs::apply`.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum MountKind {
    /// A new procfs (the container's PID namespace), its dangerous files masked and its
    /// tunables read-only.
    Proc,
    /// The minimal /dev: a small tmpfs with husk's own device nodes, the terminal as
    /// /dev/console, a new devpts, /dev/shm and the usual links.
    Dev,
    /// A fresh tmpfs with this mode, at most `size` bytes (0: the kernel's default, half of
    /// RAM).
    Tmpfs { mode: u16, size: u64 },
    /// A read-only sysfs, masked. It shows the network namespace of whoever mounts it, so it
    /// is made once the container's network namespace is joined.
    Sysfs,
    /// The container's own cgroups, read-only, as the roots of its cgroup namespace: a
    /// cgroup2, or on a v1 or hybrid host a tmpfs of each hierarchy (cgroup::mount_view).
    Cgroup,
    /// The host's `source` bound, read-write or read-only.
    Bind { read_only: bool },
    /// A file husk provides a bridged container (its /etc/hosts, /etc/resolv.conf: see
    /// net/bridge.rs), bound read-only; none where a read-only root lacks the file.
    Etc,
    /// Any other filesystem of an OCI config: `mounts[i]`, whose type and options the init
    /// reads from the document (oci/mounts.rs).
    #[cfg(feature = "oci")]
    Fs(u16),
    /// For the host's own root: a fresh tmpfs over /run, and over /var/run when that is a
    /// directory of its own rather than a link to /run (the host's daemons' sockets and
    /// FIFOs, which a read-only mount does not stop).
    HostRun,
}

impl MountKind {
    /// Whether the mount must be made in the container's network namespace (see `Sysfs`):
    /// the walk pivots and joins that namespace before the first such mount.
    pub fn needs_network(self) -> bool {
        self == MountKind::Sysfs
    }
}

/// The namespaces besides PID, mount, UTS, IPC and cgroup, which are always new.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct Namespaces {
    pub network: Namespace,
    /// A user namespace of the container's own and its id maps (userns.rs), or the host's.
    pub user: Option<crate::userns::UserNs>,
}

/// Where a namespace comes from.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Namespace {
    /// A new one (network: with loopback up).
    New,
    /// The host's (husk's own).
    Host,
}

/// COMMAND: what runs, as whom, with which privileges.
#[derive(Debug, PartialEq, Eq)]
pub struct Process<'a> {
    /// argv index where COMMAND starts; its tail is execve's argv as it is.
    pub command: usize,
    /// COMMAND's argv when it is not argv's tail (an image's Entrypoint and Cmd).
    pub argv: Option<crate::rt::CStrArray<'static>>,
    /// `KEY=VALUE` (or `KEY`: the caller's value) entries in argv, added to the clean
    /// environment after the `--env-file` ones.
    pub env: &'a [EnvArg],
    /// Entries read from `--env-file`s (on the host, before anything is built).
    pub env_files: &'a [&'static core::ffi::CStr],
    pub cwd: &'a [u8],
    /// Who COMMAND runs as, resolved in the container's /etc/passwd and /etc/group (see
    /// users.rs); None: husk's own identity (root).
    pub user: Option<&'a Identity>,
    /// Added to and dropped from Docker's default capabilities (`caps::resolve`).
    pub caps_added: u64,
    pub caps_dropped: u64,
    /// No setuid or file-capability binary adds privileges (the default; off only when asked
    /// with `--security-opt no-new-privileges=false`).
    pub no_new_privs: bool,
    /// husk's default seccomp filter, or none.
    pub seccomp: bool,
    /// What an OCI config says beyond this (oci/bundle.rs): its exact environment and
    /// capability sets, rlimits, its seccomp profile, its mounts' options.
    #[cfg(feature = "oci")]
    pub oci: Option<&'a crate::oci::bundle::Extra>,
}

/// One environment entry in argv: argument `index`, after the option's `=` when given
/// inline (`--env=KEY=VALUE`). Kept as a place in argv, not a copy: the argument is already a
/// NUL-terminated string that execve can take as it is.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct EnvArg {
    pub index: u32,
    pub inline: bool,
}

/// A user and its groups, as COMMAND will have them.
#[derive(Debug, PartialEq, Eq, Clone)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups (the groups of /etc/group that list the user by name).
    pub groups: heapless::Vec<u32, MAX_GROUPS>,
    /// HOME from /etc/passwd; empty: `/` (or `/root` for root).
    pub home: heapless::Vec<u8, 256>,
}

/// The most supplementary groups COMMAND may have (more in /etc/group: the first ones).
pub const MAX_GROUPS: usize = 32;

impl Identity {
    /// `uid:gid` and nothing else.
    pub fn ids(uid: u32, gid: u32) -> Identity {
        Identity { uid, gid, groups: heapless::Vec::new(), home: heapless::Vec::new() }
    }

    pub fn is_root(user: Option<&Identity>) -> bool {
        user.is_none_or(|u| u.uid == 0)
    }
}

/// The container's own cgroup.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct Cgroup<'a> {
    /// Where it goes, relative to each hierarchy's root; None: `husk` under husk's own
    /// group.
    pub parent: Option<&'a [u8]>,
    pub limits: Limits,
    /// Report peak memory, CPU time and peak pids at the end.
    pub stats: bool,
    /// The host's cgroups, read before anything is built (container::run; the front end
    /// leaves the default).
    pub host: crate::cgroup::Host<'a>,
}
