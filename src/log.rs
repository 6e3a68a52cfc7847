//! A detached container's log, kept to a size: COMMAND's output reaches a small husk
//! process (the logger) through a pipe, and the logger writes it into the log at the offset
//! it came at, so the file's size is everything ever written. Past the cap, the oldest whole
//! pages are punched out (fallocate(2), FALLOC_FL_PUNCH_HOLE): they give back their memory
//! on a tmpfs like /run, and the first byte still held, found with lseek(2) SEEK_DATA, is
//! how many were dropped. No rotation, no second file, no rename race with a reader.

use rustix::fd::BorrowedFd;
use rustix::fs::{FallocateFlags, SeekFrom, fallocate, seek};
use rustix::io::Errno;

/// The default cap (`--log-size`): as Kubernetes' kubelet keeps per container.
pub const DEFAULT_SIZE: u64 = 10 << 20;

/// The smallest cap: holes are punched in whole pages, and a page must always be left.
pub const MIN_SIZE: u64 = 2 * PAGE;

const PAGE: u64 = 4096;

/// Checks `log` is on a file system that punches holes (tmpfs, ext4, xfs, btrfs do), before
/// anything starts: a cap that cannot be kept is an error, not an unbounded log.
pub fn check(log: BorrowedFd) -> Result<(), Errno> {
    fallocate(log, FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE, 0, PAGE)
}

/// The logger: copies `pipe` into `log` until every writer has closed it, keeping at least
/// the last `cap` bytes (and at most a page more). Returns when the pipe is done.
pub fn keep(pipe: BorrowedFd, log: BorrowedFd, cap: u64) {
    let mut buf = [0u8; 8192];
    let mut written: u64 = 0;
    let mut dropped: u64 = 0;
    loop {
        // A slice: rustix's read is generic, and each array size would be a copy of its own.
        let n = match rustix::io::read(pipe, &mut buf[..]) {
            Ok(0) => return,
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            Err(_) => return,
        };
        let mut chunk = &buf[..n];
        while !chunk.is_empty() {
            match rustix::io::pwrite(log, chunk, written) {
                Ok(k) => {
                    chunk = &chunk[k..];
                    written += k as u64;
                }
                Err(Errno::INTR) => {}
                // A full disk: this output is lost, the offsets stay true.
                Err(_) => {
                    written += chunk.len() as u64;
                    break;
                }
            }
        }
        let keep_from = written.saturating_sub(cap) / PAGE * PAGE;
        if keep_from > dropped {
            let _ = fallocate(
                log,
                FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE,
                dropped,
                keep_from - dropped,
            );
            dropped = keep_from;
        }
    }
}

/// Copies what `log` still holds to `out`; returns how many bytes were dropped before it.
pub fn copy(log: BorrowedFd, out: i32) -> u64 {
    copy_from(log, out, 0).0
}

/// Copies what `log` holds from offset `at` on to `out`, past any hole the cap punched;
/// returns where the copy started and where it ended (the offset to follow on from).
pub fn copy_from(log: BorrowedFd, out: i32, at: u64) -> (u64, u64) {
    let Ok(start) = seek(log, SeekFrom::Data(at)) else {
        // ENXIO: no data at or after `at` (nothing new).
        return (at, at);
    };
    let mut end = start;
    let mut buf = [0u8; 8192];
    while let Ok(n @ 1..) = rustix::io::read(log, &mut buf[..]) {
        crate::rt::sys::write_all(out, &buf[..n]);
        end += n as u64;
    }
    (start, end)
}
