//! Namespaces: the set of them a process is cloned into or unshares, and unshare itself.

use linux_raw_sys::general as k;

/// A set of namespace kinds, held as the CLONE_NEW* bits that name them to clone3(2) and
/// unshare(2) — and only those: no other clone flag can be put in one.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(transparent)]
pub struct Namespaces(u32);

impl Namespaces {
    /// No new namespace: a plain fork.
    pub const NONE: Namespaces = Namespaces(0);
    pub const MOUNT: Namespaces = Namespaces(k::CLONE_NEWNS);
    pub const UTS: Namespaces = Namespaces(k::CLONE_NEWUTS);
    pub const IPC: Namespaces = Namespaces(k::CLONE_NEWIPC);
    pub const NET: Namespaces = Namespaces(k::CLONE_NEWNET);
    pub const PID: Namespaces = Namespaces(k::CLONE_NEWPID);
    pub const CGROUP: Namespaces = Namespaces(k::CLONE_NEWCGROUP);
    pub const USER: Namespaces = Namespaces(k::CLONE_NEWUSER);
    pub const TIME: Namespaces = Namespaces(k::CLONE_NEWTIME);

    /// Both sets (`|` as a const fn, for constants).
    pub const fn with(self, other: Namespaces) -> Namespaces {
        Namespaces(self.0 | other.0)
    }

    /// Whether every kind in `other` is in this set.
    pub const fn contains(self, other: Namespaces) -> bool {
        self.0 & other.0 == other.0
    }

    /// This set without the kinds in `other`.
    pub const fn without(self, other: Namespaces) -> Namespaces {
        Namespaces(self.0 & !other.0)
    }

    /// The CLONE_NEW* bits.
    pub const fn bits(self) -> u32 {
        self.0
    }
}

impl core::ops::BitOr for Namespaces {
    type Output = Namespaces;
    fn bitor(self, other: Namespaces) -> Namespaces {
        self.with(other)
    }
}

/// unshare(2): the calling process moves into new namespaces of the kinds in `new`.
pub fn unshare(new: Namespaces) -> rustix::io::Result<()> {
    let flags = rustix::thread::UnshareFlags::from_bits_retain(new.bits());
    // SAFETY: rustix marks unshare unsafe for CLONE_FILES, which would leave other threads
    // with descriptors this one no longer has; Namespaces holds CLONE_NEW* bits only (and
    // husk has one thread).
    unsafe { rustix::thread::unshare_unsafe(flags) }
}
