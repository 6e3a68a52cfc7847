//! What husk reads from /proc: one process's stat fields, its cgroup, the mount table's
//! first line. Each reader opens, reads once into a buffer on its own frame, and parses;
//! the parsers are pure and unit-tested.

use core::ffi::CStr;
use core::mem::MaybeUninit;

use rustix::fd::BorrowedFd;
use rustix::fs::{Mode, OFlags, open, openat};

use crate::cpath::CPath;
use crate::text::parse_decimal;

/// `/proc/self/fd/N` for `fd`, in `buf`: the path that reopens exactly the file `fd` holds
/// (or names it for a call that takes only paths, as inotify does).
pub fn fd_path<'b>(fd: BorrowedFd, buf: &'b mut [u8; 40]) -> &'b CStr {
    const PREFIX: &[u8] = b"/proc/self/fd/";
    let mut number = [0u8; 24];
    let n =
        crate::text::digits(rustix::fd::AsRawFd::as_raw_fd(&fd) as u64, 10, &mut number).to_bytes_with_nul();
    buf[..PREFIX.len()].copy_from_slice(PREFIX);
    buf[PREFIX.len()..PREFIX.len() + n.len()].copy_from_slice(n);
    crate::rt::c_str(&buf[..PREFIX.len() + n.len()]).unwrap_or(c"/proc/self/fd")
}

/// `/proc/PID/<file>` as a C string in `path`.
pub fn pid_path<'p>(path: &'p mut CPath, pid: i32, file: &[u8]) -> rustix::io::Result<&'p CStr> {
    let mut number = [0u8; 24];
    path.of(&[b"/proc/", crate::text::digits(pid as u64, 10, &mut number).to_bytes(), b"/", file])
}

/// Reads `/proc/PID/<file>` into `buf` (what one read(2) gives: these files are small).
/// The buffer may be uninitialised: zeroing it first would only cost code.
pub fn read_pid_file<'b>(pid: i32, file: &[u8], buf: &'b mut [MaybeUninit<u8>]) -> Option<&'b [u8]> {
    let mut path = CPath::new();
    let c = pid_path(&mut path, pid, file).ok()?;
    let fd = open(c, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok()?;
    // A slice: rustix's read is generic, and each array size would be a copy of its own.
    let (read, _) = rustix::io::read(&fd, buf).ok()?;
    Some(read)
}

/// A buffer for [`read_pid_file`], left uninitialised.
pub const fn buffer<const N: usize>() -> [MaybeUninit<u8>; N] {
    [MaybeUninit::uninit(); N]
}

/// The last pid of a /proc/PID/status `NSpid:` line: the process's pid in its own PID
/// namespace.
pub fn innermost_pid(status: &[u8]) -> Option<i32> {
    let line = crate::text::fields(status, b'\n').find_map(|line| crate::text::after(line, b"NSpid:"))?;
    // The kernel separates the pids with tabs.
    parse_pid(crate::text::fields(line, b'\t').filter(|f| !f.is_empty()).last()?)
}

/// Field `n` (1-based, as proc(5) numbers them) of a /proc/PID/stat text; the name (field
/// 2) may hold spaces and parentheses, so fields are counted after its last `)`.
pub fn stat_field(stat: &[u8], n: usize) -> Option<&[u8]> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    crate::text::fields(&stat[close + 1..], b' ').filter(|f| !f.is_empty()).nth(n.checked_sub(3)?)
}

/// The start time of process `pid` in clock ticks since boot (/proc/PID/stat, field 22):
/// with the pid, an identity that pid reuse cannot fake.
pub fn start_time(pid: i32) -> Option<u64> {
    parse_decimal(stat_field(read_pid_file(pid, b"stat", &mut buffer::<1024>())?, 22)?, 19)
}

/// The parent of process `pid` (named by its /proc entry, read through `proc_dir`):
/// /proc/PID/stat field 4.
pub fn parent(proc_dir: BorrowedFd, pid: &CStr) -> Option<i32> {
    let mut path = CPath::new();
    let c = path.of(&[pid.to_bytes(), b"/stat"]).ok()?;
    let fd = openat(proc_dir, c, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok()?;
    let mut stat = [0u8; 512];
    let n = rustix::io::read(&fd, &mut stat[..]).ok()?;
    stat_parent(&stat[..n])
}

/// The parent pid in the text of /proc/PID/stat.
pub fn stat_parent(stat: &[u8]) -> Option<i32> {
    parse_pid(stat_field(stat, 4)?)
}

/// A decimal pid.
pub fn parse_pid(s: &[u8]) -> Option<i32> {
    parse_decimal(s, 9).map(|n| n as i32)
}

/// The cgroup v2 path in a /proc/PID/cgroup text (its `0::/path` line).
pub fn cgroup_path(text: &[u8]) -> Option<&[u8]> {
    cgroup_line(text, b"")
}

/// The path in a /proc/PID/cgroup text of the hierarchy `controller` is in (a v1 line
/// `ID:memory:/path`, `ID:cpu,cpuacct:/path`); `b""`: the v2 one, `0::/path` (cgroups(7)).
pub fn cgroup_line<'t>(text: &'t [u8], controller: &[u8]) -> Option<&'t [u8]> {
    hierarchies(text).find_map(|(id, list, path)| {
        let found = if controller.is_empty() {
            unified(id, list)
        } else {
            crate::text::fields(list, b',').any(|c| c == controller)
        };
        found.then_some(path)
    })
}

/// Whether a /proc/PID/cgroup line's hierarchy ID and controller list are the unified
/// hierarchy's (`0::`).
pub fn unified(id: &[u8], list: &[u8]) -> bool {
    id == b"0" && list.is_empty()
}

/// Each line of a /proc/PID/cgroup text: (hierarchy ID, controller list, path).
pub fn hierarchies(text: &[u8]) -> impl Iterator<Item = (&[u8], &[u8], &[u8])> {
    crate::text::fields(text, b'\n').filter_map(|line| {
        let (id, rest) = crate::text::split_once(line, b':');
        let (list, path) = crate::text::split_once(rest?, b':');
        Some((id, list, path?.trim_ascii_end()))
    })
}

/// Process `pid`'s cgroup v2 path, into `buf`.
pub fn cgroup_of(pid: i32, buf: &mut [MaybeUninit<u8>]) -> Option<&[u8]> {
    cgroup_path(read_pid_file(pid, b"cgroup", buf)?)
}

/// Whether the host's root is the initial rootfs (an initramfs, the first line of the mount
/// table), where containers are entered by chroot (pivot_root(2) refuses it).
pub fn root_is_initramfs() -> bool {
    read_pid_file(rustix::process::getpid().as_raw_nonzero().get(), b"mounts", &mut buffer::<256>())
        .is_some_and(|mounts| mounts.starts_with(b"rootfs / "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields() {
        assert_eq!(stat_parent(b"123 (sleep) S 45 123 45 0 -1"), Some(45));
        assert_eq!(stat_parent(b"7 (a) b) (c) R 1 7 7"), Some(1));
        assert_eq!(stat_parent(b"1 (init) S 0 1 1"), Some(0));
        assert_eq!(stat_parent(b"garbage"), None);
        assert_eq!(stat_parent(b"1 (x) S"), None);
        assert_eq!(stat_field(b"1 (x y) S 0", 3), Some(&b"S"[..]));
        assert_eq!(stat_field(b"1 (x y) S 0", 2), None);
    }

    #[test]
    fn innermost_pids() {
        assert_eq!(innermost_pid(b"Name:\tsh\nNSpid:\t4049\t2\nNSpgid:\t1\n"), Some(2));
        assert_eq!(innermost_pid(b"NSpid:\t77\n"), Some(77));
        assert_eq!(innermost_pid(b"Name:\tsh\n"), None);
    }

    #[test]
    fn pids() {
        assert_eq!(parse_pid(b"1"), Some(1));
        assert_eq!(parse_pid(b"4194304"), Some(4194304));
        assert_eq!(parse_pid(b"self"), None);
        assert_eq!(parse_pid(b""), None);
        assert_eq!(parse_pid(b"1234567890"), None);
    }

    #[test]
    fn cgroup_paths() {
        assert_eq!(cgroup_path(b"12:pids:/x\n0::/user.slice/a.scope\n"), Some(&b"/user.slice/a.scope"[..]));
        assert_eq!(cgroup_path(b"0::/\n"), Some(&b"/"[..]));
        assert_eq!(cgroup_path(b"1:name=systemd:/\n"), None);
        let hybrid = b"9:name=systemd:/s\n4:memory:/a/b\n2:cpu,cpuacct:/c:d\n0::/u\n";
        assert_eq!(cgroup_line(hybrid, b"memory"), Some(&b"/a/b"[..]));
        assert_eq!(cgroup_line(hybrid, b"cpuacct"), Some(&b"/c:d"[..]));
        assert_eq!(cgroup_line(hybrid, b"cpu"), Some(&b"/c:d"[..]));
        assert_eq!(cgroup_line(hybrid, b"pids"), None);
        assert_eq!(cgroup_line(hybrid, b""), Some(&b"/u"[..]));
        assert_eq!(hierarchies(hybrid).count(), 4);
    }

    #[test]
    fn own_start_time_and_cgroup() {
        let me = std::process::id() as i32;
        assert!(start_time(me).is_some());
        assert_eq!(start_time(me), start_time(me));
        assert_eq!(start_time(i32::MAX), None);
        let mut buf = buffer::<1024>();
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        let expected = own.lines().find_map(|l| l.strip_prefix("0::")).map(str::as_bytes);
        assert_eq!(cgroup_of(me, &mut buf), expected);
    }
}
