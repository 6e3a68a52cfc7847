//! What the container must not see or change in /proc and /sys, though they are its own
//! mounts: kernel memory, keys and timers are masked, kernel tunables are read-only
//! (the list Docker and runc use; see runc's `maskedPaths`/`readonlyPaths`).

use core::ffi::CStr;

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{CWD, FileType, Mode, OFlags, fstat, openat};
use rustix::io::Errno;
use rustix::mount::{MountAttrFlags, OpenTreeFlags, open_tree};

use crate::error::{Failure, fail};
use crate::rootfs::{attach, fresh};
use crate::rt::sys;

/// Masked: a file gets /dev/null over it, a directory an empty read-only tmpfs. Docker's
/// list: kernel memory, keys, timers and interrupt counts, hardware and firmware tables,
/// and the RAPL energy counters of powercap (a power side channel, CVE-2020-8694).
/// (Each list one string of paths: no array of pointers, see text::words.)
const MASKED: &[u8] = b"/proc/asound /proc/acpi /proc/interrupts /proc/kcore /proc/keys \
    /proc/latency_stats /proc/timer_list /proc/timer_stats /proc/sched_debug /proc/scsi /sys/firmware \
    /sys/devices/virtual/powercap";

/// Read-only: bind-mounted over themselves with MOUNT_ATTR_RDONLY.
const READ_ONLY: &[u8] = b"/proc/sys /proc/sysrq-trigger /proc/irq /proc/bus /proc/fs";

const CLONE_FLAGS: OpenTreeFlags = OpenTreeFlags::OPEN_TREE_CLONE.union(OpenTreeFlags::OPEN_TREE_CLOEXEC);

/// makedev(1, 3): the one device that may stand in for a masked file.
const DEV_NULL: u64 = (1 << 8) | 3;

/// What the masks share: the first masked directory gets an empty read-only tmpfs, the
/// first masked file a bind of the null device; the others get clones of those, once
/// attached (a clone needs an attached source). A new superblock costs far more than a mount.
#[derive(Default)]
pub struct Masks {
    empty: Option<OwnedFd>,
    null: Option<OwnedFd>,
}

impl Masks {
    /// Masks and write-protects the listed paths under `prefix` (`/proc/` or `/sys/`),
    /// looked up from `base`, the descriptor of husk's own fresh mount there (so no rootfs
    /// symlink is involved). Paths this kernel does not have are skipped.
    pub fn apply(&mut self, base: BorrowedFd, prefix: &'static [u8]) -> Result<(), Failure<'static>> {
        let attrs = MountAttrFlags::MOUNT_ATTR_RDONLY
            | MountAttrFlags::MOUNT_ATTR_NOSUID
            | MountAttrFlags::MOUNT_ATTR_NODEV
            | MountAttrFlags::MOUNT_ATTR_NOEXEC;
        let mut path = crate::cpath::CPath::new();
        for masked in crate::text::words(MASKED) {
            let Some(target) = existing(base, prefix, &mut path, "mask", masked)? else { continue };
            let st = fstat(&target).map_err(fail("mask", masked))?;
            let (first, make): (_, &dyn Fn() -> Result<OwnedFd, Errno>) =
                if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
                    (&mut self.empty, &|| fresh(c"tmpfs", &[(c"mode", c"0555"), (c"size", c"4k")], attrs))
                } else {
                    (&mut self.null, &verified_null)
                };
            let tree = match first {
                Some(first) => open_tree(first.as_fd(), c"", CLONE_FLAGS | OpenTreeFlags::AT_EMPTY_PATH),
                None => make(),
            }
            .map_err(fail("mask", masked))?;
            attach(tree.as_fd(), target.as_fd(), masked)?;
            first.get_or_insert(tree);
        }
        for protected in crate::text::words(READ_ONLY) {
            let Some(target) = existing(base, prefix, &mut path, "read-only", protected)? else { continue };
            let flags = CLONE_FLAGS | OpenTreeFlags::AT_EMPTY_PATH | OpenTreeFlags::AT_RECURSIVE;
            let copy = open_tree(target.as_fd(), c"", flags).map_err(fail("read-only", protected))?;
            sys::mount_setattr(copy.as_fd(), attrs.bits() as u64, true)
                .map_err(fail("read-only", protected))?;
            attach(copy.as_fd(), target.as_fd(), protected)?;
        }
        Ok(())
    }
}

/// `path`, if it is under `prefix` and this kernel has it: looked up from `base`, without
/// following a final symlink.
fn existing(
    base: BorrowedFd,
    prefix: &[u8],
    buf: &mut crate::cpath::CPath,
    step: &'static str,
    path: &'static [u8],
) -> Result<Option<rustix::fd::OwnedFd>, Failure<'static>> {
    let Some(name) = crate::text::after(path, prefix) else { return Ok(None) };
    let c = buf.of(&[name]).map_err(fail(step, path))?;
    match openat(base, c, OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty()) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(fail(step, path)(e)),
    }
}

/// A fresh bind of the host's /dev/null, checked to really be the null device (1:3): the
/// rootfs's own /dev/null could be anything, and a masked file must read as empty. The
/// bind is read-only, so a chmod or chown of the masked path inside gets EROFS instead of
/// changing the host's /dev/null.
fn verified_null() -> Result<rustix::fd::OwnedFd, Errno> {
    const HOST_NULL: &CStr = c"/dev/null";
    let tree = open_tree(CWD, HOST_NULL, CLONE_FLAGS)?;
    let st = fstat(&tree)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::CharacterDevice || st.st_rdev != DEV_NULL {
        return Err(Errno::NODEV);
    }
    let attrs = MountAttrFlags::MOUNT_ATTR_RDONLY
        | MountAttrFlags::MOUNT_ATTR_NOSUID
        | MountAttrFlags::MOUNT_ATTR_NOEXEC;
    sys::mount_setattr(tree.as_fd(), attrs.bits() as u64, false)?;
    Ok(tree)
}
