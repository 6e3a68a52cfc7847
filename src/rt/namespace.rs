//! Namespaces: the flags that name them, and leaving the caller's for new ones.

use linux_raw_sys::general as k;

use super::syscall::{Result, check, syscall1};

/// unshare(2) with CLONE_NEW* `flags`: the calling process moves into new namespaces.
pub fn unshare(flags: u32) -> Result<()> {
    // SAFETY: a plain integer argument; namespaces are no memory or descriptor of ours.
    check(unsafe { syscall1(k::__NR_unshare, flags as usize) }).map(|_| ())
}
