//! File descriptors: the standard three, writing to one, and closing (or marking
//! close-on-exec) all but a few.

use linux_raw_sys::general as k;
use rustix::io::Errno;

use super::syscall::{Result, check, syscall3};

/// Writes all of `buf` to file descriptor `fd`, retrying on short writes and EINTR.
/// Errors are dropped: there is nowhere left to report a failed diagnostic write.
pub fn write_all(fd: i32, mut buf: &[u8]) {
    // SAFETY: see stdio: callers pass a descriptor they hold open (or 0-2, where a closed
    // one makes the write fail with EBADF).
    let fd = unsafe { rustix::fd::BorrowedFd::borrow_raw(fd) };
    while !buf.is_empty() {
        match rustix::io::write(fd, buf) {
            Ok(0) => return,
            Ok(n) => buf = &buf[n.min(buf.len())..],
            Err(Errno::INTR) => {}
            Err(_) => return,
        }
    }
}

/// The standard descriptors as rustix borrowed fds. A closed descriptor just makes the
/// syscalls that use it fail with EBADF.
pub fn stdio(fd: i32) -> rustix::fd::BorrowedFd<'static> {
    debug_assert!((0..=2).contains(&fd));
    // SAFETY: descriptors 0-2 are never closed by husk while borrowed; if the caller started
    // us with one closed, syscalls on it report EBADF, which every user handles.
    unsafe { rustix::fd::BorrowedFd::borrow_raw(fd) }
}

/// close_range(2): closes every file descriptor from `first` up.
/// Raw: rustix 1.1 has no close_range(2).
pub fn close_from(first: u32) -> Result<()> {
    close_range(first, u32::MAX)
}

/// A descriptor's number, -1 for none (for `close_all_but`).
pub fn raw(fd: Option<rustix::fd::BorrowedFd>) -> i32 {
    fd.map_or(-1, |fd| rustix::fd::AsRawFd::as_raw_fd(&fd))
}

/// Closes every descriptor from 3 up but those in `keep` (-1: none).
pub fn close_all_but(keep: &[i32]) {
    let last = keep.iter().copied().max().unwrap_or(-1);
    for fd in 3..last {
        if !keep.contains(&fd) {
            let _ = close_range(fd as u32, fd as u32);
        }
    }
    let _ = close_from(last.max(2) as u32 + 1);
}

/// close_range(2) with CLOSE_RANGE_CLOEXEC: marks every descriptor from `first` up
/// close-on-exec, so husk may still use them but no program it executes inherits them.
/// Raw: rustix 1.1 has no close_range(2).
pub fn cloexec_from(first: u32) -> Result<()> {
    const CLOSE_RANGE_CLOEXEC: usize = 4;
    // SAFETY: plain integer arguments; only descriptor flags change.
    check(unsafe { syscall3(k::__NR_close_range, first as usize, u32::MAX as usize, CLOSE_RANGE_CLOEXEC) })
        .map(|_| ())
}

/// close_range(2): closes the file descriptors `first..=last`.
/// Raw: rustix 1.1 has no close_range(2).
pub fn close_range(first: u32, last: u32) -> Result<()> {
    if first > last {
        return Ok(());
    }
    // SAFETY: plain integer arguments; closing descriptors never touches our memory.
    check(unsafe { syscall3(k::__NR_close_range, first as usize, last as usize, 0) }).map(|_| ())
}
