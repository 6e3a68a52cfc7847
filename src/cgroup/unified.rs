//! A container's group in the unified hierarchy (cgroup v2): made below its parent with the
//! controllers enabled on the way down, its limits written, its figures read at the end.
//! The container's init is cloned straight into it (clone3's CLONE_INTO_CGROUP). See the
//! kernel's Documentation/admin-guide/cgroup-v2.rst for each file written here.

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, Mode, OFlags, mkdirat, openat, unlinkat};
use rustix::io::Errno;

use super::{CPU, MEMORY, PIDS, controllers, descend, hint, keyed, make, number, read_at, write_at};
use crate::cpath::CPath;
use crate::error::Failure;

/// A container's v2 group, created for one run and removed after it.
pub struct Unified {
    /// The group directory, for CLONE_INTO_CGROUP and for reading its files.
    pub dir: OwnedFd,
    /// The parent directory, to remove the group from.
    parent: OwnedFd,
    name: super::Text,
    /// Whether husk moved itself out of the parent into the leaf `NAME.sup` beside the
    /// group (see `Unified::create`).
    moved: bool,
    /// husk's other processes in the caller's group, moved into the leaf and back with it
    /// (a detached container's caller and logger; 0: none).
    companions: [i32; 2],
}

impl Unified {
    /// Creates `PARENT/husk-PID` below `root` (the v2 mount, `mount` for errors) and enables
    /// the `wanted` controllers on the way down. `move_out`: `PARENT` is the group a user
    /// runs in, which husk leaves first (below). The group goes into `slot` as soon as it
    /// is made, so that on a later failure (whose hint says what to do) the caller's
    /// `Group::create` removes it with the rest, and undoes the move.
    ///
    /// A user may write only a group delegated to them (cgroup-v2.rst, "Delegation": root
    /// chowns the directory and its cgroup.procs, cgroup.threads and cgroup.subtree_control;
    /// systemd's `Delegate=yes`), and the one they run in is the one delegated: a scope
    /// started for husk holds husk itself. cgroup v2's "No Internal Process Constraint"
    /// allows no controller in the subtree_control of a (non-root) group that holds
    /// processes (EBUSY), so husk first moves itself into a leaf of its own beside the
    /// container's group, `husk-PID.sup` (which needs write access to the common ancestor's
    /// cgroup.procs: the delegated group's own), then enables the controllers in its group
    /// and makes the container's group there. `remove` undoes it all. Only for users: what
    /// root may write says nothing about who manages a group (systemd's own), so root keeps
    /// `husk/` below its group.
    pub fn create<'a>(
        slot: &mut Option<Unified>,
        root: OwnedFd,
        mount: &'a [u8],
        parent_rel: &'a [u8],
        move_out: bool,
        wanted: u8,
        companions: [i32; 2],
    ) -> Result<(), Failure<'a>> {
        let level = descend(root, mount, parent_rel, Some(wanted))?;
        let (dir, name) = make(level.as_fd(), parent_rel)?;
        let companions = if move_out { companions } else { [0; 2] };
        let group = slot.insert(Unified { dir, parent: level, name, moved: move_out, companions });
        if move_out {
            group.enter_leaf().map_err(|e| Failure::new("cgroup", parent_rel, e).with_hint(hint(e)))?;
        }
        // Right after husk left it, the group still counts as holding a process for a
        // moment (EBUSY within a millisecond or so, seen on Linux 6.1 under QEMU): retry.
        let mut tries = if group.moved { 100 } else { 1 };
        let enabled = loop {
            match enable(group.parent.as_fd(), wanted) {
                Err(Errno::BUSY) if tries > 1 => crate::rt::sys::sleep_ns(1_000_000),
                done => break done,
            }
            tries -= 1;
        };
        enabled.map_err(|e| Failure::new("cgroup.subtree_control", parent_rel, e).with_hint(hint(e)))
    }

    /// A group made by someone else (see `super::Group::adopt`).
    #[cfg(feature = "oci")]
    pub fn adopt(dir: OwnedFd) -> Result<Unified, Errno> {
        // (Never removed through it: `parent` is only there to be one.)
        let parent = rustix::io::fcntl_dupfd_cloexec(&dir, 0)?;
        Ok(Unified { dir, parent, name: super::Text::new(), moved: false, companions: [0; 2] })
    }

    /// Removes the group (see `super::remove`), then puts husk back where it was.
    pub fn remove(&self) {
        super::remove(self.parent.as_fd(), &self.name);
        if self.moved {
            self.leave_leaf();
        }
    }

    /// Makes `NAME.sup` beside the group and moves husk into it (`0` in cgroup.procs: the
    /// writer itself).
    fn enter_leaf(&self) -> Result<(), Errno> {
        let mut cpath = CPath::new();
        let leaf = cpath.of(&[&self.name, LEAF])?;
        mkdirat(self.parent.as_fd(), leaf, Mode::from_raw_mode(0o755))?;
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        let dir = openat(self.parent.as_fd(), leaf, flags, Mode::empty())?;
        write_at(dir.as_fd(), b"cgroup.procs", b"0")?;
        // (One already gone, a caller that returned: nothing to move.)
        self.move_companions(dir.as_fd())
    }

    /// Writes each companion's pid to `dir`'s cgroup.procs.
    fn move_companions(&self, dir: BorrowedFd) -> Result<(), Errno> {
        for pid in self.companions.into_iter().filter(|&pid| pid > 0) {
            match write_at(dir, b"cgroup.procs", &number(pid as u64)) {
                Ok(()) | Err(Errno::SRCH) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Back where husk was, once the container's group is gone: a group with controllers
    /// in its subtree_control takes no process (EBUSY), so they are disabled first — only
    /// husk can have enabled them, since the group held husk — and only while the leaf is
    /// the parent's last child (cgroup.stat `nr_descendants`), else another group may be
    /// using them and the empty leaf stays (systemd removes a scope's groups with the
    /// scope). No process could have entered the parent meanwhile, for the same reason.
    /// Best effort: husk is on its way out.
    fn leave_leaf(&self) {
        let parent = self.parent.as_fd();
        let mut buf = [0u8; 256];
        if read_at(parent, b"cgroup.stat", &mut buf)
            .is_ok_and(|stat| keyed(stat, b"nr_descendants") == Some(1))
        {
            for name in controllers(MEMORY | PIDS | CPU) {
                let _ = switch(parent, b'-', name);
            }
        }
        let _ = self.move_companions(parent);
        let _ = write_at(parent, b"cgroup.procs", b"0");
        // Refused (EBUSY) while husk is still in it.
        let mut cpath = CPath::new();
        if let Ok(leaf) = cpath.of(&[&self.name, LEAF]) {
            let _ = unlinkat(parent, leaf, AtFlags::REMOVEDIR);
        }
    }
}

/// The suffix of the leaf husk moves itself into (see `Unified::create`).
pub const LEAF: &[u8] = b".sup";

/// Writes `+NAME` for each controller not yet enabled in `dir`'s cgroup.subtree_control.
pub fn enable(dir: BorrowedFd, wanted: u8) -> Result<(), Errno> {
    let mut current = [0u8; 256];
    let current = read_at(dir, b"cgroup.subtree_control", &mut current)?;
    for name in controllers(wanted) {
        if !super::listed(current, name.as_bytes()) {
            switch(dir, b'+', name)?;
        }
    }
    Ok(())
}

/// Writes `+NAME` or `-NAME` (`sign`) to `dir`'s cgroup.subtree_control.
fn switch(dir: BorrowedFd, sign: u8, name: &str) -> Result<(), Errno> {
    let mut word = [0u8; 16];
    word[0] = sign;
    word[1..=name.len()].copy_from_slice(name.as_bytes());
    write_at(dir, b"cgroup.subtree_control", &word[..=name.len()])
}
