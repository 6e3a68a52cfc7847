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
}

/// The root filesystem.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Root<'a> {
    /// The host's own `/`, always read-only; its /proc, /sys and /dev are taken away.
    Host,
    /// A directory tree (an extracted image, a debootstrap).
    Dir { path: &'a [u8], read_only: bool },
}

impl Root<'_> {
    pub fn read_only(&self) -> bool {
        match self {
            Root::Host => true,
            Root::Dir { read_only, .. } => *read_only,
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
    /// A fresh tmpfs with this mode.
    Tmpfs { mode: u16 },
    /// A read-only sysfs, masked. It shows the network namespace of whoever mounts it, so it
    /// is made once the container's network namespace is joined.
    Sysfs,
    /// The container's own cgroup (cgroup2, read-only; it is the root of the container's
    /// cgroup namespace).
    Cgroup2,
    /// The host's `source` bound, read-write or read-only.
    Bind { read_only: bool },
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
    /// argv indices of `KEY=VALUE` entries added to the clean environment.
    pub env: &'a [usize],
    pub cwd: &'a [u8],
    /// UID:GID with no supplementary groups; None: husk's own identity (root).
    pub user: Option<(u32, u32)>,
    /// Added to and dropped from Docker's default capabilities (`caps::resolve`).
    pub caps_added: u64,
    pub caps_dropped: u64,
    /// Always on: no setuid or file-capability binary adds privileges.
    pub no_new_privs: bool,
    /// husk's default seccomp filter, or none.
    pub seccomp: bool,
}

/// The container's own cgroup.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct Cgroup<'a> {
    /// Where it goes, relative to the cgroup2 mount; None: `husk` under husk's own group.
    pub parent: Option<&'a [u8]>,
    pub limits: Limits,
    /// Report peak memory, CPU time and peak pids at the end.
    pub stats: bool,
}
