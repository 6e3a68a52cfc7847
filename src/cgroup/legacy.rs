//! A container's groups in v1 hierarchies (cgroup v1: Documentation/admin-guide/cgroup-v1/),
//! one per hierarchy it needs: memory (memory.limit_in_bytes, memory.memsw.limit_in_bytes
//! or memory.swappiness), pids (pids.max), cpu (cpu.cfs_quota_us, cpu.cfs_period_us),
//! cpuacct (for `--stats`); and what the container sees of them at /sys/fs/cgroup.
//!
//! v1 has no CLONE_INTO_CGROUP: the container's init moves itself into each group first
//! thing, before it makes its cgroup namespace (whose root in each hierarchy is where the
//! init is then: cgroup_namespaces(7)) and before anything of the container runs
//! (container/init.rs), through the group's `tasks` file that the host side opened.

use core::ffi::CStr;

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{Mode, OFlags, fstat, fstatfs};
use rustix::io::Errno;
use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags, MoveMountFlags};

use super::{descend, make, open_dir, parent_path};
use crate::cpath::CPath;
use crate::error::{Failure, fail};
use crate::rootfs::Tree;

/// A container's group in one v1 hierarchy.
pub struct Legacy {
    dir: OwnedFd,
    /// The group's `tasks`, opened for writing by the host side, where the container's
    /// init writes `0` (itself) — not `cgroup.procs`, nor its pid from the host side:
    /// moving a whole thread group write-locks cgroup_threadgroup_rwsem, a percpu rwsem
    /// whose writer waits for an RCU grace period (~7.6 ms measured here, per run), while
    /// a single thread moving itself needs no such lock on current kernels
    /// (cgroup_procs_write_start(): 40 µs here); the init has one thread. The write is
    /// allowed by the opener's credentials (Linux 5.16 and later), and before that by the
    /// writer's: the init's own uid is its target's.
    pub tasks: OwnedFd,
    /// The parent directory, to remove the group from.
    parent: OwnedFd,
    name: super::Text,
    /// The hierarchy's device: one per hierarchy, so co-mounted controllers share a group.
    pub dev: u64,
    /// The controllers husk uses here (bits: `super::MEMORY`…); more than one where they
    /// are mounted together (cpu,cpuacct).
    pub serves: u8,
}

/// The step an error names, by controller (`super::NAMES`' order).
const STEPS: [&str; 4] = ["cgroup memory", "cgroup pids", "cgroup cpu", "cgroup cpuacct"];

/// The v1 hierarchy at `mount` (/sys/fs/cgroup/CONTROLLER, through the link systemd makes
/// for a co-mounted one: cpu -> cpu,cpuacct) and its device; ENOENT if none is mounted
/// there.
pub fn hierarchy(mount: &CStr) -> Result<(OwnedFd, u64), Errno> {
    let root = open_dir(mount)?;
    if fstatfs(&root)?.f_type as u32 != linux_raw_sys::general::CGROUP_SUPER_MAGIC {
        return Err(Errno::NOENT);
    }
    let dev = fstat(&root)?.st_dev;
    Ok((root, dev))
}

impl Legacy {
    /// Makes the container's group in the hierarchy `root` (at `mount`, of `controller`),
    /// below `parent` or husk's own group there (`own`: husk's /proc/self/cgroup); the
    /// parent's path goes into `scratch`, for errors.
    pub fn create<'a>(
        (root, dev): (OwnedFd, u64),
        (bit, controller, mount): (u8, &str, &'a [u8]),
        parent: Option<&'a [u8]>,
        own: &[u8],
        scratch: &'a mut [u8; 600],
    ) -> Result<Legacy, Failure<'a>> {
        let own = crate::procfs::cgroup_line(own, controller.as_bytes()).unwrap_or(b"/");
        let (parent_rel, _) = parent_path(parent, own, scratch)?;
        let made = descend(root, mount, parent_rel, None)
            .and_then(|level| make(level.as_fd(), parent_rel).map(|(dir, name)| (dir, name, level)));
        let (dir, name, parent) = made.map_err(|mut failure| {
            // Which hierarchy: a path in it alone does not say.
            failure.step = crate::rt::Short::new(STEPS[bit.trailing_zeros() as usize]);
            if matches!(failure.errno, Errno::ACCESS | Errno::PERM | Errno::ROFS) {
                failure = failure.with_hint(
                    "v1 hierarchies are root's: limits there need root, or --cgroup-parent \
                     naming a group made and chowned for you in each",
                );
            }
            failure
        })?;
        let tasks = rustix::fs::openat(&dir, c"tasks", OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| Failure::new(STEPS[bit.trailing_zeros() as usize], b"tasks", e))?;
        Ok(Legacy { dir, tasks, parent, name, dev, serves: bit })
    }

    /// A group made by someone else (see `super::Group::adopt`), serving `serves`.
    #[cfg(feature = "oci")]
    pub fn adopt(dir: OwnedFd, serves: u8) -> Result<Legacy, Errno> {
        let tasks = rustix::fs::openat(&dir, c"tasks", OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())?;
        let dev = fstat(&dir)?.st_dev;
        // (Never removed through it: `parent` is only there to be one.)
        let parent = rustix::io::fcntl_dupfd_cloexec(&dir, 0)?;
        Ok(Legacy { dir, tasks, parent, name: super::Text::new(), dev, serves })
    }

    pub fn dir(&self) -> BorrowedFd<'_> {
        self.dir.as_fd()
    }

    pub fn remove(&self) {
        super::remove(self.parent.as_fd(), &self.name);
    }
}

/// Moves the calling thread (`0`), husk's only one, into the group whose `tasks` is open as
/// `tasks`.
pub fn enter(tasks: BorrowedFd) -> Result<(), Errno> {
    rustix::io::write(tasks, b"0").map(drop)
}

/// The container's /sys/fs/cgroup (at `dest` in `root`), as a v1 or hybrid host lays it
/// out, as runc does: a small read-only tmpfs holding each hierarchy the container has a
/// group in (`joined`: super::Group::joined), named as /proc/self/cgroup lists them
/// (`host_own`: husk's; `memory`, `cpu,cpuacct`), with a link for each of several
/// co-mounted controllers (cpu -> cpu,cpuacct), and the unified one as `unified`. Each is a
/// new mount made from inside the container's cgroup namespace, so it shows the
/// container's own group as its root (cgroup_namespaces(7)), read-only. (The hierarchies
/// it has no group in would show husk's own group and all below: the host's, as often as
/// not. They are left out.)
pub(crate) fn mount_view<'a>(
    root: Tree,
    dest: &'a [u8],
    host_own: &[u8],
    joined: u8,
) -> crate::error::Result<'a, ()> {
    let read_only = MountAttrFlags::MOUNT_ATTR_NOSUID
        | MountAttrFlags::MOUNT_ATTR_NODEV
        | MountAttrFlags::MOUNT_ATTR_NOEXEC
        | MountAttrFlags::MOUNT_ATTR_RDONLY;
    let options = [(c"mode", c"755"), (c"size", c"64k")];
    let writable = read_only.difference(MountAttrFlags::MOUNT_ATTR_RDONLY);
    let tmpfs = crate::rootfs::attach_fresh(root, dest, c"tmpfs", &options, writable)?;
    fill_view(tmpfs.as_fd(), host_own, joined, read_only).map_err(fail("mount cgroup", dest))
}

/// The hierarchies and links of `mount_view`, in the tmpfs `dir`, which is then made
/// read-only.
#[inline(never)]
fn fill_view(dir: BorrowedFd, host_own: &[u8], joined: u8, read_only: MountAttrFlags) -> Result<(), Errno> {
    let mut path = CPath::new();
    let mut link = CPath::new();
    for (id, list, _) in crate::procfs::hierarchies(host_own) {
        let v2 = crate::procfs::unified(id, list);
        if joined & if v2 { super::UNIFIED } else { super::bits_of(list) } == 0 {
            continue;
        }
        let name = path.of(&[if v2 { b"unified" } else { list }])?;
        rustix::fs::mkdirat(dir, name, rustix::fs::Mode::from_raw_mode(0o755))?;
        let fs = rustix::mount::fsopen(if v2 { c"cgroup2" } else { c"cgroup" }, FsOpenFlags::FSOPEN_CLOEXEC)?;
        // v1: the hierarchy's controllers as flags, to be found among the existing ones;
        // for several (`cpu,cpuacct`), a link named as each (`cpu` -> `cpu,cpuacct`).
        for part in crate::text::fields(list, b',').filter(|part| !part.is_empty()) {
            let part = link.of(&[part])?;
            rustix::mount::fsconfig_set_flag(fs.as_fd(), part)?;
            if part.to_bytes().len() < list.len() {
                rustix::fs::symlinkat(name, dir, part)?;
            }
        }
        rustix::mount::fsconfig_create(fs.as_fd())?;
        let mount = rustix::mount::fsmount(fs.as_fd(), FsMountFlags::FSMOUNT_CLOEXEC, read_only)?;
        rustix::mount::move_mount(mount.as_fd(), c"", dir, name, MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH)?;
    }
    crate::rt::sys::mount_setattr(dir, MountAttrFlags::MOUNT_ATTR_RDONLY.bits() as u64, false)
}
