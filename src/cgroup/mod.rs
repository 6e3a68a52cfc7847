//! Limits for a container: memory, swap, pids, cpu — enforced by the kernel, reported at
//! the end, and removed after. See cgroups(7) and the kernel's Documentation/admin-guide/
//! cgroup-v2.rst and cgroup-v1/ for each file written here.
//!
//! A host has one of three layouts ([`Layout`]): the unified hierarchy (cgroup v2) at
//! /sys/fs/cgroup; a tmpfs there with one v1 hierarchy per controller (the "legacy"
//! layout); or both, with cgroup2 at /sys/fs/cgroup/unified ("hybrid"). On the last, a
//! controller is used where it is attached: in the unified hierarchy when it is listed in
//! its cgroup.controllers, else in its v1 hierarchy. A container gets a group in each
//! hierarchy it needs (`unified.rs`, `legacy.rs`); [`Group`] is all of them.
//!
//! The pure part (sizes, values, parsing the kernel's files) is unit-tested; the groups do
//! the file system work.

mod legacy;
mod unified;

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{
    AtFlags, FlockOperation, Mode, OFlags, RawDir, flock, mkdirat, open, openat, statfs, unlinkat,
};
use rustix::io::Errno;

use crate::config::Cgroup;
use crate::cpath::CPath;
use crate::error::{Failure, fail};
use crate::out::Line;
use legacy::Legacy;
use unified::Unified;

pub(crate) use legacy::mount_view;

/// Where husk expects the unified hierarchy, and the hybrid layout's.
pub const MOUNT: &[u8] = b"/sys/fs/cgroup";
const HYBRID_MOUNT: &[u8] = b"/sys/fs/cgroup/unified";

/// The cpu.max period (cpu.cfs_period_us on v1): 100 ms, the kernel's default.
pub const CPU_PERIOD_US: u64 = 100_000;

/// The host's cgroup layout (see the module's comment).
#[derive(Debug, PartialEq, Eq, Clone, Copy, Default)]
pub enum Layout {
    #[default]
    Unified,
    Legacy,
    Hybrid,
}

/// What the host's cgroups are, read before anything is built (container::run): the
/// layout and husk's own groups (its /proc/self/cgroup), which the container's groups go
/// below and whose controller lists name the hierarchies the container sees.
#[derive(Debug, PartialEq, Eq, Clone, Copy, Default)]
pub struct Host<'a> {
    pub layout: Layout,
    pub own: &'a [u8],
}

/// The host's layout and husk's /proc/self/cgroup (into `buf`).
pub fn host(buf: &mut [u8]) -> Result<Host<'_>, Failure<'static>> {
    let layout = layout()
        .map_err(|e| Failure::new("cgroup", MOUNT, e).with_hint("limits need cgroups mounted there"))?;
    // (By read_at: the path is absolute, so the directory is not used.)
    let own = b"/proc/self/cgroup";
    let room = buf.len();
    let text = read_at(rustix::fs::CWD, own, buf).map_err(fail("cgroup", own))?;
    // Whole, or a hierarchy's line may be cut (see Joined::of).
    if text.len() == room {
        return Err(Failure::new("cgroup", own, Errno::NAMETOOLONG));
    }
    Ok(Host { layout, own: text })
}

/// The host's layout, by the file systems at /sys/fs/cgroup and /sys/fs/cgroup/unified.
fn layout() -> Result<Layout, Errno> {
    let cgroup2 = |fs: rustix::fs::StatFs| fs.f_type as u32 == linux_raw_sys::general::CGROUP2_SUPER_MAGIC;
    Ok(if cgroup2(statfs(c"/sys/fs/cgroup")?) {
        Layout::Unified
    } else if statfs(c"/sys/fs/cgroup/unified").is_ok_and(cgroup2) {
        Layout::Hybrid
    } else {
        Layout::Legacy
    })
}

/// Room for a /proc/PID/cgroup; one that fills it is refused, never read in part.
pub const CGROUP_FILE: usize = 2048;

/// A running container's groups (from its init's /proc/PID/cgroup), for `husk exec` to start
/// its helper in: the unified one, to be cloned into (CLONE_INTO_CGROUP), and each v1 one's
/// `tasks`, opened here, on the host's side of every namespace, for the helper to write
/// itself into (v1 has no CLONE_INTO_CGROUP). In v1 hierarchies only the groups husk
/// made (`husk-PID`) are joined: the init's others are its caller's, not the container's.
pub struct Joined {
    pub unified: Option<OwnedFd>,
    pub tasks: heapless::Vec<OwnedFd, 4>,
}

impl Joined {
    #[inline(never)]
    pub fn of(pid: i32) -> Result<Joined, Errno> {
        let mut buf = crate::procfs::buffer::<CGROUP_FILE>();
        let text = crate::procfs::read_pid_file(pid, b"cgroup", &mut buf).ok_or(Errno::SRCH)?;
        // Read whole or not at all: a line cut short (a long --cgroup-parent) loses its
        // husk-PID, and COMMAND would run outside that group's limits.
        if text.len() == CGROUP_FILE {
            return Err(Errno::NAMETOOLONG);
        }
        let layout = layout()?;
        let mut joined = Joined { unified: None, tasks: heapless::Vec::new() };
        let mut cpath = CPath::new();
        for (id, list, path) in crate::procfs::hierarchies(text) {
            let v2 = crate::procfs::unified(id, list);
            // The unified group (the directory, to clone into), or a v1 one's tasks.
            let (at, slash, file, flags): (_, &[u8], &[u8], _) = match layout {
                _ if !v2 => (MOUNT, b"/", b"/tasks", OFlags::WRONLY),
                Layout::Unified => (MOUNT, b"", b"", OFlags::PATH | OFlags::DIRECTORY),
                Layout::Hybrid => (HYBRID_MOUNT, b"", b"", OFlags::PATH | OFlags::DIRECTORY),
                Layout::Legacy => continue,
            };
            let ours = if v2 {
                path != b"/"
            } else {
                bits_of(list) != 0 && crate::text::basename(path).starts_with(b"husk-")
            };
            if !ours {
                continue;
            }
            let fd = beneath(&mut cpath, &[at, slash, list], path, file, flags)?;
            if v2 {
                joined.unified = Some(fd);
            } else {
                let _ = joined.tasks.push(fd);
            }
        }
        Ok(joined)
    }

    /// The helper: into each v1 group (see `legacy::Legacy::tasks`).
    pub fn enter(&self) -> Result<(), Errno> {
        self.tasks.iter().try_for_each(|tasks| legacy::enter(tasks.as_fd()))
    }
}

/// `path` + `file` opened below the hierarchy mounted at `mount` (its parts joined in
/// `cpath`), never above it (a path from /proc is the kernel's, but beneath is cheap to
/// insist on).
fn beneath(
    cpath: &mut CPath,
    mount: &[&[u8]],
    path: &[u8],
    file: &[u8],
    flags: OFlags,
) -> Result<OwnedFd, Errno> {
    let root = open_dir(cpath.of(mount)?)?;
    let resolve = rustix::fs::ResolveFlags::BENEATH | rustix::fs::ResolveFlags::NO_MAGICLINKS;
    rustix::fs::openat2(root, cpath.of(&[b".", path, file])?, flags | OFlags::CLOEXEC, Mode::empty(), resolve)
}

/// The controllers husk uses, as bits: limits for memory, pids and cpu; cpuacct only for
/// `--stats` on v1 (v2's cpu.stat needs no controller).
pub const MEMORY: u8 = 1;
pub const PIDS: u8 = 2;
pub const CPU: u8 = 4;
pub const CPUACCT: u8 = 8;
/// Not a controller: the container's group in the unified hierarchy.
pub const UNIFIED: u8 = 16;
/// The bits of v1 hierarchies.
pub const LEGACY: u8 = MEMORY | PIDS | CPU | CPUACCT;
const NAMES: [(u8, &str); 4] = [(MEMORY, "memory"), (PIDS, "pids"), (CPU, "cpu"), (CPUACCT, "cpuacct")];
/// Where each has its v1 hierarchy, as systemd and others mount them (a co-mounted one
/// through a link: cpu -> cpu,cpuacct).
const V1_MOUNTS: [&core::ffi::CStr; 4] =
    [c"/sys/fs/cgroup/memory", c"/sys/fs/cgroup/pids", c"/sys/fs/cgroup/cpu", c"/sys/fs/cgroup/cpuacct"];

/// What the user asked to limit.
#[derive(Debug, PartialEq, Eq, Clone, Copy, Default)]
pub struct Limits {
    /// `--memory`: memory.max in bytes.
    pub memory: Option<u64>,
    /// `--memory-swap`: memory plus swap, as Docker means it (`-1`: unlimited swap).
    /// None: not given, and then a `--memory` limit turns swap off (memory.swap.max 0).
    pub memory_swap: Option<Swap>,
    /// `--pids-limit`: pids.max.
    pub pids: Option<u64>,
    /// `--cpus`, in thousandths of a CPU.
    pub cpus_milli: Option<u64>,
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Swap {
    /// memory + swap together, in bytes.
    Total(u64),
    Unlimited,
}

impl Limits {
    pub fn any(&self) -> bool {
        self.memory.is_some()
            || self.memory_swap.is_some()
            || self.pids.is_some()
            || self.cpus_milli.is_some()
    }
}

/// One file to write in a group: name and value (as text). The name's first word is its
/// controller's (`memory.max`: memory).
pub type Setting = (&'static str, Text);

/// A short text made here: a value to write, a group's name. Bytes, not a heapless::String,
/// whose char-by-char push would encode each byte as UTF-8.
pub type Text = heapless::Vec<u8, 32>;

/// Turns the limits into cgroup files and values, v1 ones for the controllers in `legacy`
/// (bits), v2 ones for the others. Errors describe an inconsistent request.
pub fn settings(limits: &Limits, legacy: u8) -> Result<heapless::Vec<Setting, 6>, &'static str> {
    let mut out = heapless::Vec::new();
    // The value of each as a number, or None: unlimited, as its file says it (v1's memsw
    // `-1`, v2 `max`).
    let mut push = |file: &'static str, value: Option<u64>| {
        let value = value.map_or_else(|| text(if file == MEMSW { b"-1" } else { b"max" }), number);
        let _ = out.push((file, value));
    };
    let v1 = |bit: u8| legacy & bit != 0;
    if let Some(memory) = limits.memory {
        // Docker's meaning: --memory alone means no swap at all; --memory-swap is the total.
        // v2 limits swap alone (memory.swap.max); v1 memory and swap together (memsw), which
        // must be at least the memory limit, so that is written first.
        let total = match limits.memory_swap {
            None => Some(memory),
            Some(Swap::Unlimited) => None,
            Some(Swap::Total(total)) if total >= memory => Some(total),
            Some(Swap::Total(_)) => return Err("--memory-swap must be at least --memory"),
        };
        if v1(MEMORY) {
            push("memory.limit_in_bytes", Some(memory));
            push(MEMSW, total);
        } else {
            push("memory.max", Some(memory));
            push("memory.swap.max", total.map(|t| t - memory));
        }
    } else if limits.memory_swap.is_some() {
        return Err("--memory-swap needs --memory");
    }
    if let Some(pids) = limits.pids {
        push("pids.max", Some(pids));
    }
    if let Some(milli) = limits.cpus_milli {
        // The kernel's smallest quota is 1 ms.
        let quota = (milli * CPU_PERIOD_US / 1000).max(1000);
        if v1(CPU) {
            push("cpu.cfs_period_us", Some(CPU_PERIOD_US));
            push("cpu.cfs_quota_us", Some(quota));
        } else {
            // `QUOTA PERIOD`.
            push("cpu.max", Some(quota));
            if let Some((_, value)) = out.last_mut() {
                let _ = value.push(b' ');
                let _ = value.extend_from_slice(&number(CPU_PERIOD_US));
            }
        }
    }
    Ok(out)
}

/// v1's memory and swap limit; without swap accounting (no such file), swap is turned off
/// by memory.swappiness 0 instead, and a total above the memory limit cannot be had.
const MEMSW: &str = "memory.memsw.limit_in_bytes";

/// The controllers the limits need (bits).
pub fn required(limits: &Limits) -> u8 {
    let bit = |on: bool, bit: u8| if on { bit } else { 0 };
    bit(limits.memory.is_some(), MEMORY)
        | bit(limits.pids.is_some(), PIDS)
        | bit(limits.cpus_milli.is_some(), CPU)
}

/// The controllers of `bits` that are enabled in a unified hierarchy's subtree_control.
pub fn controllers(bits: u8) -> impl Iterator<Item = &'static str> {
    NAMES.iter().filter(move |(bit, _)| bits & bit & !CPUACCT != 0).map(|(_, name)| *name)
}

/// The controller bit of a setting's file.
fn controller_of(file: &str) -> u8 {
    bits_of(crate::text::split_once(file.as_bytes(), b'.').0)
}

/// The bits of the controllers husk uses in a list like `cpu,cpuacct`.
pub fn bits_of(list: &[u8]) -> u8 {
    bits_in(list, b',')
}

/// The bits of the controllers husk uses in a list of names separated by `sep`.
#[inline(never)]
fn bits_in(list: &[u8], sep: u8) -> u8 {
    let named =
        |part: &[u8]| NAMES.iter().find(|(_, name)| name.as_bytes() == part).map_or(0, |(bit, _)| *bit);
    crate::text::fields(list, sep).fold(0, |bits, part| bits | named(part))
}

/// Whether the space-separated list `text` (cgroup.controllers, subtree_control: one line)
/// has `name`.
fn listed(text: &[u8], name: &[u8]) -> bool {
    crate::text::fields(text.trim_ascii(), b' ').any(|w| w == name)
}

/// A container's groups, created for one run and removed after it: in the unified
/// hierarchy, in v1 hierarchies, or both (see the module's comment).
pub struct Group {
    unified: Option<Unified>,
    /// One per v1 hierarchy used (co-mounted controllers share one: cpu,cpuacct).
    legacy: heapless::Vec<Legacy, V1_GROUPS>,
    /// Groups an OCI container was given (`Group::adopt`): their maker removes them.
    #[cfg(feature = "oci")]
    adopted: bool,
}

/// The most v1 hierarchies a container has a group in: husk's four controllers, or for an
/// OCI container every hierarchy of the host (cpu, cpuset, memory, devices, freezer…).
#[cfg(not(feature = "oci"))]
const V1_GROUPS: usize = 4;
#[cfg(feature = "oci")]
pub const V1_GROUPS: usize = 16;

/// Room for the paths of the parent groups, which an error may name: the caller's, so that
/// the error can outlive `Group::create`. One per hierarchy: the unified one and up to four
/// v1 ones.
pub type ParentPath = [[u8; 600]; 5];

const NOT_DELEGATED: &str = "the controller is not available or not delegated here";
/// For a group the caller may not write (EACCES, EPERM, EROFS), or one that holds other
/// processes (EBUSY: see `Unified::create`).
const NOT_YOURS: &str = "limits need a group delegated to you and to husk alone: systemd-run --user --scope \
                         -p Delegate=yes husk run …, or --cgroup-parent with a group root chowned to you";

/// What to do when a group cannot be made or a controller not enabled.
fn hint(e: Errno) -> &'static str {
    match e {
        Errno::ACCESS | Errno::PERM | Errno::ROFS | Errno::BUSY => NOT_YOURS,
        _ => NOT_DELEGATED,
    }
}

impl Group {
    /// Creates the container's group in each hierarchy it needs (below `--cgroup-parent`,
    /// else `husk` under the group husk runs in: for a user, that group itself, see
    /// `Unified::create`) and writes the limits. A limit whose controller is nowhere, or
    /// whose group cannot be written, is an error, never a silent skip; nothing is left
    /// behind then.
    pub fn create<'a>(
        wanted: &Cgroup<'a>,
        scratch: &'a mut ParentPath,
        companions: [i32; 2],
    ) -> Result<Group, Failure<'a>> {
        let mut group = Group {
            unified: None,
            legacy: heapless::Vec::new(),
            #[cfg(feature = "oci")]
            adopted: false,
        };
        match group.build(wanted, scratch, companions) {
            Ok(()) => Ok(group),
            Err(failure) => {
                group.remove();
                Err(failure)
            }
        }
    }

    fn build<'a>(
        &mut self,
        wanted: &Cgroup<'a>,
        [v2_path, v1_paths @ ..]: &'a mut ParentPath,
        companions: [i32; 2],
    ) -> Result<(), Failure<'a>> {
        let host = wanted.host;
        let required = required(&wanted.limits);
        // In the unified hierarchy: everything on a v2 host; on a hybrid one, what is
        // attached there (listed in its cgroup.controllers).
        let (mount, unified_root) = match host.layout {
            Layout::Unified => (MOUNT, Some(open_dir(c"/sys/fs/cgroup").map_err(fail("cgroup", MOUNT))?)),
            Layout::Hybrid => (HYBRID_MOUNT, open_dir(c"/sys/fs/cgroup/unified").ok()),
            Layout::Legacy => (MOUNT, None),
        };
        let mut buf = [0u8; 256];
        let attached = match (&unified_root, host.layout) {
            (_, Layout::Unified) => CPU | MEMORY | PIDS,
            (Some(root), _) => {
                let list = read_at(root.as_fd(), b"cgroup.controllers", &mut buf).unwrap_or(b"");
                bits_in(list.trim_ascii(), b' ') & !CPUACCT
            }
            (None, _) => 0,
        };
        // --stats, or a parent alone: groups where the figures are, as far as the host has
        // them (in the unified hierarchy one group has them all).
        let stats = if wanted.stats || wanted.parent.is_some() { MEMORY | PIDS | CPUACCT } else { 0 };
        let legacy = (required | stats) & !attached;
        let v1 = NAMES.iter().zip(V1_MOUNTS).filter(|((bit, _), _)| legacy & bit != 0);
        for (((bit, name), mount), path) in v1.zip(v1_paths) {
            match legacy::hierarchy(mount) {
                // Co-mounted with one already used (cpu,cpuacct): the same group.
                Ok((_, dev)) if let Some(same) = self.legacy.iter_mut().find(|l| l.dev == dev) => {
                    same.serves |= bit
                }
                Ok(root) => {
                    let made =
                        Legacy::create(root, (*bit, name, mount.to_bytes()), wanted.parent, host.own, path)?;
                    let _ = self.legacy.push(made);
                }
                // For --stats alone, a controller the host lacks is `n/a`.
                Err(_) if required & bit == 0 => {}
                Err(e) => {
                    let hint = "the controller is not mounted there (a v1 hierarchy of its own, or \
                                listed in /sys/fs/cgroup/unified/cgroup.controllers)";
                    return Err(Failure::new("cgroup", mount.to_bytes(), e).with_hint(hint));
                }
            }
        }
        if let Some(root) =
            unified_root.filter(|_| host.layout == Layout::Unified || (required | stats) & attached != 0)
        {
            let own = crate::procfs::cgroup_path(host.own).unwrap_or(b"/");
            let (parent, move_out) = parent_path(wanted.parent, own, v2_path)?;
            let wanted = required & attached;
            Unified::create(&mut self.unified, root, mount, parent, move_out, wanted, companions)?;
        }
        if self.joined() == 0 {
            let hint = "no cgroup hierarchy here to put the container in";
            return Err(Failure::new("cgroup", MOUNT, Errno::NOENT).with_hint(hint));
        }
        // Validated when the options were parsed; checked again for any other front end.
        let settings = settings(&wanted.limits, required & !attached)
            .map_err(|why| Failure::new("run", b"", Errno::INVAL).with_hint(why))?;
        self.write(&settings, &wanted.limits)
    }

    /// Writes each setting into the group of its controller.
    fn write<'a>(&self, settings: &[Setting], limits: &Limits) -> Result<(), Failure<'a>> {
        for (file, value) in settings {
            let (dir, _) =
                self.serving(controller_of(file)).ok_or(Failure::new("cgroup", b"", Errno::NOENT))?;
            let written = match write_at(dir, file.as_bytes(), value) {
                // v1 without swap accounting: swap off another way, or not at all.
                Err(Errno::NOENT) if *file == MEMSW => match limits.memory_swap {
                    Some(Swap::Unlimited) => Ok(()),
                    Some(Swap::Total(total)) if Some(total) != limits.memory => {
                        let hint = "no swap accounting on this host (boot with swapaccount=1): \
                                    --memory-swap cannot be applied";
                        return Err(Failure::new("cgroup", MEMSW.as_bytes(), Errno::NOENT).with_hint(hint));
                    }
                    _ => write_at(dir, b"memory.swappiness", b"0"),
                },
                done => done,
            };
            if let Err(e) = written {
                let hint = match e {
                    Errno::NOENT => "the controller for this limit is not enabled (swap accounting off?)",
                    _ => "",
                };
                return Err(Failure::new("cgroup", file.as_bytes(), e).with_hint(hint));
            }
        }
        Ok(())
    }

    /// The group of controller `bit`: its v1 one (true), else the unified one (false).
    fn serving(&self, bit: u8) -> Option<(BorrowedFd<'_>, bool)> {
        match self.legacy.iter().find(|l| l.serves & bit != 0) {
            Some(hierarchy) => Some((hierarchy.dir(), true)),
            None => Some((self.unified.as_ref()?.dir.as_fd(), false)),
        }
    }

    /// The unified group's directory, for clone3's CLONE_INTO_CGROUP.
    pub fn clone_into(&self) -> Option<BorrowedFd<'_>> {
        self.unified.as_ref().map(|u| u.dir.as_fd())
    }

    /// The hierarchies the container has a group in: the v1 controllers there (bits) and
    /// UNIFIED.
    pub fn joined(&self) -> u8 {
        let unified = if self.unified.is_some() { UNIFIED } else { 0 };
        self.legacy.iter().fold(unified, |bits, l| bits | l.serves)
    }

    /// The container's init, first thing: into each v1 group (see `legacy::Legacy::tasks`).
    pub fn enter(&self) -> Result<(), Errno> {
        self.legacy.iter().try_for_each(|hierarchy| legacy::enter(hierarchy.tasks.as_fd()))
    }

    /// Whether the OOM killer killed anything in the group (the `oom_kill` count of v2's
    /// memory.events, v1's memory.oom_control since Linux 4.13), and if so the limit it kept
    /// (memory.max or memory.limit_in_bytes, with its value in `buf`).
    pub fn oom_kill<'b>(&self, buf: &'b mut [u8; 512]) -> Option<(&'static [u8], &'b [u8])> {
        let (dir, v1) = self.serving(MEMORY)?;
        let (events, limit): (&[u8], &'static [u8]) = match v1 {
            true => (b"memory.oom_control", b"memory.limit_in_bytes"),
            false => (b"memory.events", b"memory.max"),
        };
        keyed(read_at(dir, events, buf).ok()?, b"oom_kill").filter(|&kills| kills > 0)?;
        Some((limit, read_at(dir, limit, buf).ok()?.trim_ascii()))
    }

    /// The figures `--stats` reports, each from the first group that has it: the unified
    /// one, then the v1 one of its controller.
    pub fn stats(&self) -> Stats {
        [
            self.figure(b"memory.peak", b"", MEMORY, b"memory.max_usage_in_bytes"),
            self.figure(b"cpu.stat", b"user_usec", CPUACCT, b"cpuacct.usage_user"),
            self.figure(b"cpu.stat", b"system_usec", CPUACCT, b"cpuacct.usage_sys"),
            self.figure(b"pids.peak", b"", PIDS, b"pids.peak"),
        ]
    }

    /// One figure: the unified group's `v2` (or its `key` there), else `v1` in the group of
    /// controller `bit` (cpuacct's in nanoseconds, made microseconds).
    #[inline(never)]
    fn figure(&self, v2: &[u8], key: &[u8], bit: u8, v1: &[u8]) -> Option<u64> {
        let unified = self.unified.as_ref().and_then(|u| number_in(u.dir.as_fd(), v2, key));
        let legacy = || {
            let group = self.legacy.iter().find(|l| l.serves & bit != 0)?;
            let n = number_in(group.dir(), v1, b"")?;
            Some(if bit == CPUACCT { n / 1000 } else { n })
        };
        unified.or_else(legacy)
    }

    /// Removes every group. Called once every process in them is gone (the container's init
    /// has been reaped).
    pub fn remove(&self) {
        #[cfg(feature = "oci")]
        if self.adopted {
            return;
        }
        for hierarchy in &self.legacy {
            hierarchy.remove();
        }
        if let Some(unified) = &self.unified {
            unified.remove();
        }
    }
}

#[cfg(feature = "oci")]
impl Group {
    /// Groups made by someone else (an OCI container's, at its config's `cgroupsPath`:
    /// oci/cgroups.rs) as a Group, so that the container starts inside them as husk's own
    /// do: `unified`, its v2 group's directory (CLONE_INTO_CGROUP), and each v1 group's
    /// directory with its hierarchy's controller list (the init writes itself into their
    /// `tasks`, opened here). `remove` leaves them alone: they outlive `create`.
    pub fn adopt<'l>(
        unified: Option<OwnedFd>,
        legacy: impl Iterator<Item = (OwnedFd, &'l [u8])>,
    ) -> Result<Group, Errno> {
        let mut group = Group { unified: None, legacy: heapless::Vec::new(), adopted: true };
        if let Some(dir) = unified {
            group.unified = Some(Unified::adopt(dir)?);
        }
        for (dir, list) in legacy {
            let adopted = Legacy::adopt(dir, bits_of(list))?;
            group.legacy.push(adopted).map_err(|_| Errno::NOSPC)?;
        }
        Ok(group)
    }
}

/// A cgroup directory, for descending from.
fn open_dir(path: &core::ffi::CStr) -> Result<OwnedFd, Errno> {
    open(path, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
}

/// The parent group, relative to its hierarchy: `parent`, or `husk` under husk's own group
/// `own` (written into `scratch`) — for a user whose group is not the root, that group
/// itself, and then husk has to move out of it (true; see `Unified::create`). An own group
/// too long for `scratch` is an error: cut short, it would name another group, outside
/// husk's own and its limits.
fn parent_path<'a>(
    parent: Option<&'a [u8]>,
    own: &[u8],
    scratch: &'a mut [u8; 600],
) -> Result<(&'a [u8], bool), Failure<'a>> {
    if let Some(p) = parent {
        return Ok((p, false));
    }
    // The root group as "", so that its `husk` is `/husk`.
    let mine = crate::text::before(own, b"/").unwrap_or(own);
    let n = mine.len();
    if n > 500 {
        let hint = "husk's own group's path is too long to make groups below it: --cgroup-parent";
        return Err(Failure::new("cgroup", b"/proc/self/cgroup", Errno::NAMETOOLONG).with_hint(hint));
    }
    scratch[..n].copy_from_slice(mine);
    if n > 0 && !rustix::process::geteuid().is_root() {
        return Ok((&scratch[..n], true));
    }
    scratch[n..n + 5].copy_from_slice(b"/husk");
    Ok((&scratch[..n + 5], false))
}

/// Walks down from the hierarchy's root (`mount`, for errors) to `parent_rel`, creating
/// what is missing; in the unified hierarchy (`wanted`) it enables those controllers in
/// each level's cgroup.subtree_control so the next level may use them (the parent's own,
/// which its children need, is left to the caller). Returns the parent's directory. An
/// error names the level that failed.
fn descend<'a>(
    root: OwnedFd,
    mount: &'a [u8],
    parent_rel: &'a [u8],
    wanted: Option<u8>,
) -> Result<OwnedFd, Failure<'a>> {
    let mut cpath = CPath::new();
    let mut level = root;
    let mut done: &[u8] = mount;
    let mut end = 0;
    for part in crate::text::fields(parent_rel, b'/') {
        end += part.len() + 1;
        if part.is_empty() || part == b"." {
            continue;
        }
        if part == b".." {
            let hint = "the path must stay inside the hierarchy";
            return Err(Failure::new("cgroup-parent", parent_rel, Errno::INVAL).with_hint(hint));
        }
        if let Some(wanted) = wanted {
            unified::enable(level.as_fd(), wanted)
                .map_err(|e| Failure::new("cgroup.subtree_control", done, e).with_hint(hint(e)))?;
        }
        done = &parent_rel[..end - 1];
        let name = cpath.of(&[part]).map_err(fail("cgroup-parent", parent_rel))?;
        match mkdirat(level.as_fd(), name, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(Failure::new("mkdir", done, e).with_hint(hint(e))),
        }
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        level = openat(level.as_fd(), name, flags, Mode::empty()).map_err(fail("cgroup-parent", done))?;
    }
    Ok(level)
}

/// The container's own group, `husk-PID`, in `parent`: its directory, locked for as long
/// as husk keeps it (flock(2): the lock goes with husk, even SIGKILLed), and its name.
///
/// A group whose lock can be had is no live husk's: that is how the groups of earlier runs
/// whose husk was killed (its container died with it, but nothing removed the group) are
/// told apart and swept, whatever PID namespace made them — a pid says nothing across
/// those (two husks that are each PID 1 of their own both have 1), so the name is only
/// `husk-PID` while no live group has it, else `husk-PID.N`. The sweep runs under an
/// exclusive lock on `parent`; each maker holds it shared from its mkdir until its group
/// is locked, so no group is ever seen made but not yet locked. (Anyone who may read a
/// group may lock it: a stranger's lock can keep a dead husk's group from the sweep, or
/// the sweep from running, but never make husk wait long or fail.)
fn make<'a>(parent: BorrowedFd, parent_rel: &'a [u8]) -> Result<(OwnedFd, Text), Failure<'a>> {
    // Every error names the parent; the mkdir's also says what to do (see `hint`).
    let mut refused = false;
    make_locked(parent, &mut refused)
        .map_err(|e| Failure::new("cgroup", parent_rel, e).with_hint(if refused { hint(e) } else { "" }))
}

/// `make`'s steps; `refused`: the group's mkdir failed.
fn make_locked(parent: BorrowedFd, refused: &mut bool) -> Result<(OwnedFd, Text), Errno> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let here = openat(parent, c".", flags, Mode::empty())?;
    if flock(&here, FlockOperation::NonBlockingLockExclusive).is_ok() {
        sweep(here.as_fd());
    }
    // (Converting the exclusive lock, or waiting a moment for another maker's sweep.) Never
    // waited on without end: anyone who may read the directory (0755) may lock it too, and
    // a sweep takes well under the 100 ms tried here; past that, go on without.
    for _ in 0..100 {
        match flock(&here, FlockOperation::NonBlockingLockShared) {
            Err(Errno::WOULDBLOCK) => crate::rt::sys::sleep_ns(1_000_000),
            _ => break,
        }
    }
    let mut cpath = CPath::new();
    let mut name = named(b"husk-", rustix::process::getpid().as_raw_nonzero().get() as u64);
    let pid_len = name.len();
    // `husk-PID`, else `husk-PID.1` to `.9`.
    let mut n = b'0';
    loop {
        let c_name = cpath.of(&[&name])?;
        match mkdirat(parent, c_name, Mode::from_raw_mode(0o755)) {
            Err(Errno::EXIST) if n < b'9' => {
                n += 1;
                name.truncate(pid_len);
                let _ = name.extend_from_slice(&[b'.', n]);
            }
            made => {
                *refused = made.is_err();
                made?;
                let dir = openat(parent, c_name, flags, Mode::empty())?;
                // Refused only if someone else locked it first: then it is not swept either.
                let _ = flock(&dir, FlockOperation::NonBlockingLockExclusive);
                return Ok((dir, name));
            }
        }
    }
}

/// Removes the groups of killed husks in `parent` (locked exclusively: see `make`):
/// `husk-…` whose lock can be had, with any groups below them, and a user's leaf `X.sup`
/// beside them unless `X` is locked. A group that still holds a process is not removed
/// (EBUSY); best effort.
#[inline(never)]
fn sweep(parent: BorrowedFd) {
    // (`parent` is make's own descriptor, read by nothing else.)
    let mut buf = [core::mem::MaybeUninit::uninit(); 1024];
    let mut entries = RawDir::new(parent, &mut buf);
    while let Some(Ok(entry)) = entries.next() {
        let name = entry.file_name();
        // (Every `husk-…` is a group: the kernel's own files are named for their controller.)
        if !name.to_bytes().starts_with(b"husk-") {
            continue;
        }
        // A leaf `X.sup` is made after `X`, which its husk has locked by then.
        let group = crate::text::before(name.to_bytes(), unified::LEAF).unwrap_or(name.to_bytes());
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        let mut cpath = CPath::new();
        let owned =
            cpath.of(&[group]).and_then(|group| openat(parent, group, flags, Mode::empty())).is_ok_and(
                |group| flock(&group, FlockOperation::NonBlockingLockExclusive) == Err(Errno::WOULDBLOCK),
            );
        if !owned {
            let _ = remove_tree(parent, name);
        }
    }
}

/// Removes the group `name` in `parent`. Called once every process in it is gone; a group
/// that still holds a zombie for a moment says EBUSY, so try a few times.
fn remove(parent: BorrowedFd, name: &[u8]) {
    let mut cpath = CPath::new();
    if let Ok(name) = cpath.of(&[name]) {
        for _ in 0..100 {
            match remove_tree(parent, name) {
                Err(Errno::BUSY) => crate::rt::sys::sleep_ns(10_000_000),
                _ => break,
            }
        }
    }
}

/// Removes the group `name` in `parent` and every group below it, however deep: a
/// container allowed to write its groups (the host's root with CAP_SYS_ADMIN, `--userns
/// host`) may have made some, and a group with children cannot be removed (EBUSY). The
/// deepest first: down through the first child of each group, removing it where it can be
/// (then again from the top), so the stack stays one directory's whatever the depth. EBUSY
/// from a group without children: a process is still there (see `remove`).
fn remove_tree(parent: BorrowedFd, name: &core::ffi::CStr) -> Result<(), Errno> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    while let Err(e) = unlinkat(parent, name, AtFlags::REMOVEDIR) {
        if e != Errno::BUSY {
            return Err(e);
        }
        let mut dir = openat(parent, name, flags, Mode::empty())?;
        // Down while the first child is refused; a group without one holds a process.
        loop {
            let mut buf = [core::mem::MaybeUninit::uninit(); 1024];
            let mut entries = RawDir::new(&dir, &mut buf);
            let mut below = Err(Errno::BUSY);
            while let Some(Ok(entry)) = entries.next() {
                let child = entry.file_name();
                // (`.` and `..` only: a group named `.x` is a group too.)
                if matches!(child.to_bytes(), b"." | b"..") {
                    continue;
                }
                below = match unlinkat(&dir, child, AtFlags::REMOVEDIR) {
                    // One of the kernel's files.
                    Err(Errno::NOTDIR) => continue,
                    Err(Errno::BUSY) => openat(&dir, child, flags, Mode::empty()).map(Some),
                    removed => removed.map(|()| None),
                };
                break;
            }
            match below? {
                Some(child) => dir = child,
                None => break,
            }
        }
    }
    Ok(())
}

/// The number in `dir`'s `file` (memory.peak, pids.peak), or with a `key`, the value of that
/// key there (cpu.stat's `user_usec`).
fn number_in(dir: BorrowedFd, file: &[u8], key: &[u8]) -> Option<u64> {
    let mut buf = [0u8; 1024];
    let text = read_at(dir, file, &mut buf).ok()?;
    match key {
        b"" => crate::text::parse_decimal(text.trim_ascii(), 19),
        key => keyed(text, key),
    }
}

fn write_at(dir: BorrowedFd, file: &[u8], value: &[u8]) -> Result<(), Errno> {
    let mut cpath = CPath::new();
    let c = cpath.of(&[file])?;
    let fd = openat(dir, c, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())?;
    rustix::io::write(&fd, value).map(|_| ())
}

/// What one read(2) of `dir`'s `file` gives, into `buf`.
fn read_at<'b>(dir: BorrowedFd, file: &[u8], buf: &'b mut [u8]) -> Result<&'b [u8], Errno> {
    let mut cpath = CPath::new();
    let c = cpath.of(&[file])?;
    let fd = openat(dir, c, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    let n = rustix::io::read(&fd, &mut *buf)?;
    Ok(&buf[..n])
}

fn number(n: u64) -> Text {
    named(b"", n)
}

/// `prefix` and `n` in decimal, as a string.
pub fn named(prefix: &[u8], n: u64) -> Text {
    let mut buf = [0; 24];
    let mut s = text(prefix);
    let _ = s.extend_from_slice(crate::text::digits(n, 10, &mut buf).to_bytes());
    s
}

fn text(t: &[u8]) -> Text {
    let mut s = Text::new();
    let _ = s.extend_from_slice(t);
    s
}

/// A size like `100M`, `512k`, `1G`, `2t` or plain bytes (suffixes are powers of 1024, any
/// case, an optional trailing `b`).
pub fn parse_size(s: &[u8]) -> Option<u64> {
    let s = match s {
        [rest @ .., b'b' | b'B'] if !rest.is_empty() => rest,
        _ => s,
    };
    let (digits, shift) = match s {
        [digits @ .., b'k' | b'K'] => (digits, 10),
        [digits @ .., b'm' | b'M'] => (digits, 20),
        [digits @ .., b'g' | b'G'] => (digits, 30),
        [digits @ .., b't' | b'T'] => (digits, 40),
        _ => (s, 0),
    };
    let n = crate::text::parse_decimal(digits, 19)?;
    n.checked_mul(1 << shift)
}

/// CPUs as `N`, `N.N` (up to three decimals) → thousandths; at least 0.001.
pub fn parse_cpus(s: &[u8]) -> Option<u64> {
    let ms = crate::args::parse_seconds_ms(s)?; // same shape: whole part and 3 decimals
    (ms > 0).then_some(ms)
}

/// The value of `key` in a flat-keyed file (memory.events, cpu.stat: `key value` lines).
pub fn keyed(text: &[u8], key: &[u8]) -> Option<u64> {
    crate::text::fields(text, b'\n').find_map(|line| {
        let rest = crate::text::after(crate::text::after(line, key)?, b" ")?;
        crate::text::parse_decimal(rest.trim_ascii(), 19)
    })
}

/// What `--stats` prints at the end, from the group's files: one figure per [`LABELS`]
/// entry, in its order (None: the kernel has no such file; see `Group::stats`).
pub type Stats = [Option<u64>; 4];

/// The figures of `--stats`, as the line shows them: label, and whether a time (in
/// microseconds, shown as seconds).
const LABELS: [(&str, bool); 4] =
    [("memory.peak", false), ("cpu.user", true), ("cpu.system", true), ("pids.peak", false)];

/// `husk: stats: memory.peak=… cpu.user=…s cpu.system=…s pids.peak=…` (n/a where the kernel
/// has no such file). Times are microseconds, shown as seconds with three decimals.
pub fn format_stats(line: &mut Line, stats: &Stats) {
    line.str("husk: stats:");
    for ((label, time), value) in LABELS.iter().zip(stats) {
        line.str(" ").str(label).str("=");
        match (value, time) {
            (None, _) => line.str("n/a"),
            (Some(n), false) => line.num(*n),
            (Some(us), true) => {
                // The milliseconds' three digits, from those of 1000 + ms.
                let ms = us / 1000;
                let mut buf = [0; 24];
                let frac = crate::text::digits(1000 + ms % 1000, 10, &mut buf).to_bytes();
                line.num(ms / 1000).str(".").bytes(&frac[1..]).str("s")
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        let cases: &[(&str, Option<u64>)] = &[
            ("100M", Some(100 << 20)),
            ("100m", Some(100 << 20)),
            ("100MB", Some(100 << 20)),
            ("512k", Some(512 << 10)),
            ("1G", Some(1 << 30)),
            ("2t", Some(2 << 40)),
            ("4096", Some(4096)),
            ("4096b", Some(4096)),
            ("0", Some(0)),
            ("", None),
            ("M", None),
            ("b", None),
            ("1.5G", None),
            ("-1", None),
            ("10X", None),
            ("99999999999999999t", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_size(s.as_bytes()), *want, "{s}");
        }
    }

    #[test]
    fn cpus() {
        assert_eq!(parse_cpus(b"0.5"), Some(500));
        assert_eq!(parse_cpus(b"2"), Some(2000));
        assert_eq!(parse_cpus(b"0.001"), Some(1));
        assert_eq!(parse_cpus(b"0"), None);
        assert_eq!(parse_cpus(b"abc"), None);
    }

    fn values(limits: Limits) -> Vec<(String, String)> {
        values_in(limits, 0)
    }

    fn values_in(limits: Limits, legacy: u8) -> Vec<(String, String)> {
        settings(&limits, legacy)
            .unwrap()
            .iter()
            .map(|(f, v)| (f.to_string(), String::from_utf8(v.to_vec()).unwrap()))
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(f, v)| (f.to_string(), v.to_string())).collect()
    }

    #[test]
    fn settings_on_v1_mean_the_same() {
        let m = 100 << 20;
        let memory = Limits { memory: Some(m), ..Default::default() };
        // Swap off: memory and swap together no more than memory alone.
        assert_eq!(
            values_in(memory, MEMORY),
            pairs(&[("memory.limit_in_bytes", "104857600"), ("memory.memsw.limit_in_bytes", "104857600")])
        );
        let total = Limits { memory_swap: Some(Swap::Total(3 * m)), ..memory };
        assert_eq!(values_in(total, MEMORY)[1], ("memory.memsw.limit_in_bytes".into(), (3 * m).to_string()));
        let unlimited = Limits { memory_swap: Some(Swap::Unlimited), ..memory };
        assert_eq!(values_in(unlimited, MEMORY)[1], ("memory.memsw.limit_in_bytes".into(), "-1".into()));
        let cpu = Limits { cpus_milli: Some(500), ..Default::default() };
        assert_eq!(
            values_in(cpu, CPU),
            pairs(&[("cpu.cfs_period_us", "100000"), ("cpu.cfs_quota_us", "50000")])
        );
        // A hybrid host: memory in v1, cpu and pids in the unified hierarchy.
        let all = Limits { pids: Some(7), cpus_milli: Some(2000), ..memory };
        assert_eq!(
            values_in(all, MEMORY),
            pairs(&[
                ("memory.limit_in_bytes", "104857600"),
                ("memory.memsw.limit_in_bytes", "104857600"),
                ("pids.max", "7"),
                ("cpu.max", "200000 100000"),
            ])
        );
        // Each file goes to its controller's group.
        for (file, bit) in
            [("memory.memsw.limit_in_bytes", MEMORY), ("pids.max", PIDS), ("cpu.cfs_quota_us", CPU)]
        {
            assert_eq!(controller_of(file), bit, "{file}");
        }
        assert_eq!(bits_of(b"cpu,cpuacct"), CPU | CPUACCT);
        assert_eq!(bits_of(b"name=systemd"), 0);
        assert_eq!(bits_of(b"net_cls,net_prio"), 0);
    }

    #[test]
    fn settings_follow_dockers_meaning() {
        let m = 100 << 20;
        assert_eq!(
            values(Limits { memory: Some(m), ..Default::default() }),
            [("memory.max".into(), "104857600".into()), ("memory.swap.max".into(), "0".into())]
        );
        assert_eq!(
            values(Limits { memory: Some(m), memory_swap: Some(Swap::Total(3 * m)), ..Default::default() })
                [1],
            ("memory.swap.max".into(), (2 * m).to_string())
        );
        assert_eq!(
            values(Limits { memory: Some(m), memory_swap: Some(Swap::Unlimited), ..Default::default() })[1],
            ("memory.swap.max".into(), "max".into())
        );
        assert!(
            settings(
                &Limits { memory: Some(m), memory_swap: Some(Swap::Total(m - 1)), ..Default::default() },
                0
            )
            .is_err()
        );
        assert!(settings(&Limits { memory_swap: Some(Swap::Total(m)), ..Default::default() }, 0).is_err());
        assert_eq!(
            values(Limits { pids: Some(10), ..Default::default() }),
            [("pids.max".into(), "10".into())]
        );
        assert_eq!(
            values(Limits { cpus_milli: Some(500), ..Default::default() }),
            [("cpu.max".into(), "50000 100000".into())]
        );
        assert_eq!(
            values(Limits { cpus_milli: Some(1), ..Default::default() }),
            [("cpu.max".into(), "1000 100000".into())]
        );
        assert_eq!(controllers(MEMORY | PIDS | CPU | CPUACCT).collect::<Vec<_>>(), ["memory", "pids", "cpu"]);
    }

    #[test]
    fn hints_say_how_to_get_a_group() {
        // Not the caller's to write, or not husk's alone: how to get a delegated one.
        for e in [Errno::ACCESS, Errno::PERM, Errno::ROFS, Errno::BUSY] {
            assert!(hint(e).contains("systemd-run --user --scope -p Delegate=yes husk run"), "{e:?}");
        }
        // ENOENT from cgroup.subtree_control: the controller is not in cgroup.controllers.
        assert_eq!(hint(Errno::NOENT), NOT_DELEGATED);
        assert_eq!(controllers(required(&Limits::default())).count(), 0);
        assert_eq!(
            controllers(required(&Limits { pids: Some(1), ..Default::default() })).collect::<Vec<_>>(),
            ["pids"]
        );
    }

    #[test]
    fn kernel_files() {
        let events = b"low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n";
        assert_eq!(keyed(events, b"oom_kill"), Some(2));
        assert_eq!(keyed(events, b"oom"), Some(3));
        assert_eq!(keyed(events, b"missing"), None);
    }

    #[test]
    fn stats_line() {
        let mut line = Line::new();
        format_stats(&mut line, &[Some(5 << 20), Some(1_234_567), Some(5_000), Some(3)]);
        assert_eq!(
            std::str::from_utf8(line.as_bytes()).unwrap(),
            "husk: stats: memory.peak=5242880 cpu.user=1.234s cpu.system=0.005s pids.peak=3"
        );
        let mut line = Line::new();
        format_stats(&mut line, &[None; 4]);
        assert_eq!(
            std::str::from_utf8(line.as_bytes()).unwrap(),
            "husk: stats: memory.peak=n/a cpu.user=n/a cpu.system=n/a pids.peak=n/a"
        );
    }
}
