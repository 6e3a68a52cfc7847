//! An OCI container's state directory, `ROOT/ID/` (ROOT: `--root`, /run/husk-oci by default;
//! made 0700 by whoever runs husk, so no one else can read or change it, and the container
//! never sees it: it is on the host's side of pivot_root):
//!
//! - `state`: `PID START CREATED\n` then the bundle's path: the init's pid, its start time
//!   (/proc/PID/stat field 22, so a pid reused by another process is never taken for the
//!   init) and when it was created. Written once, by `create`, to a new file renamed into
//!   place: a reader sees the whole record or none.
//! - `config.json`: the bundle's, as it was at `create` (the annotations `state` shows, the
//!   hooks `delete` runs, whatever the bundle becomes meanwhile).
//! - `gate`: a FIFO the init holds open (read and write) and waits on until `start` writes a
//!   byte into it (runc's exec.fifo, without the reopening through /proc); removed by
//!   `start`. So: created while it is there, running after.
//!
//! Every verb but `create` takes an exclusive flock(2) on the directory for its whole
//! run, so two `delete`s, or a `start` and a `delete`, never interleave.

use core::ffi::CStr;

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, FlockOperation, Mode, OFlags, flock, mkdirat, openat, renameat, unlinkat};
use rustix::io::Errno;

use crate::cpath::CPath;
use crate::error::{Failure, fail};
use crate::out::Line;

/// The longest record read: a pid line and a bundle path (PATH_MAX).
pub const RECORD: usize = 4200;

/// One container's directory, locked.
pub struct Dir {
    pub fd: OwnedFd,
}

/// What a container is now (runtime-spec runtime.md "State").
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Status {
    Created,
    Running,
    Stopped,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Stopped => "stopped",
        }
    }
}

/// The record's first line.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct Head {
    pub pid: i32,
    pub start: u64,
    /// Seconds and nanoseconds since the epoch.
    pub created: (u64, u32),
}

/// The state root, made when `create` (0700, as runc makes its own).
pub fn root(path: &[u8], create: bool) -> Result<OwnedFd, Failure<'_>> {
    let mut c = CPath::new();
    if create {
        // Its parents too, as runc makes them (containerd's shim names
        // /run/containerd/runc/NAMESPACE): 0711 for those, the root itself 0700.
        let mut parent = CPath::new();
        for (i, _) in path.iter().enumerate().filter(|&(i, &b)| b == b'/' && i > 0) {
            let c = parent.of(&[&path[..i]]).map_err(fail("state root", path))?;
            match rustix::fs::mkdir(c, Mode::from_raw_mode(0o711)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(Failure::new("state root", path, e)),
            }
        }
        match rustix::fs::mkdir(c.of(&[path]).map_err(fail("state root", path))?, Mode::from_raw_mode(0o700))
        {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(Failure::new("state root", path, e)),
        }
    }
    let cpath = c.of(&[path]).map_err(fail("state root", path))?;
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let fd = rustix::fs::open(cpath, flags, Mode::empty()).map_err(fail("state root", path))?;
    // Another user's root, or one they may write into, could hold a record naming any pid.
    let st = rustix::fs::fstat(&fd).map_err(fail("state root", path))?;
    if st.st_uid != rustix::process::geteuid().as_raw() || st.st_mode & 0o022 != 0 {
        let hint = "not husk's own: owned by someone else, or writable by others";
        return Err(Failure::new("state root", path, Errno::PERM).with_hint(hint));
    }
    Ok(fd)
}

impl Dir {
    /// Makes ID's directory: exactly one `create` of an ID wins (mkdir(2)).
    pub fn create<'i>(root: BorrowedFd, id: &'i [u8]) -> Result<Dir, Failure<'i>> {
        let mut c = CPath::new();
        let name = c.of(&[id]).map_err(fail("create", id))?;
        mkdirat(root, name, Mode::from_raw_mode(0o700)).map_err(|e| {
            let hint = if e == Errno::EXIST { "a container of that ID exists (delete it first)" } else { "" };
            Failure::new("create", id, e).with_hint(hint)
        })?;
        let fd = openat(
            root,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
        )
        .map_err(fail("create", id))?;
        flock(&fd, FlockOperation::LockExclusive).map_err(fail("flock", id))?;
        Ok(Dir { fd })
    }

    /// ID's directory, locked for the verb's run.
    pub fn open<'i>(root: BorrowedFd, id: &'i [u8]) -> Result<Dir, Failure<'i>> {
        let mut c = CPath::new();
        let name = c.of(&[id]).map_err(fail("container", id))?;
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        let fd = openat(root, name, flags, Mode::empty()).map_err(|e| {
            let hint = if e == Errno::NOENT { "no container of that ID" } else { "" };
            Failure::new("container", id, e).with_hint(hint)
        })?;
        flock(&fd, FlockOperation::LockExclusive).map_err(fail("flock", id))?;
        Ok(Dir { fd })
    }

    /// The gate, and `started` beside it: FIFOs, opened for reading and writing (so neither
    /// end ever waits for the other, and a read waits for the other side's byte, never sees
    /// an end of file). The init waits on the gate for `start`'s byte, and writes one into
    /// `started` once COMMAND runs, which `start` waits for (poststart hooks run after it).
    pub fn make_gate(&self) -> Result<(OwnedFd, OwnedFd), Errno> {
        let flags = OFlags::RDWR | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        let fifo = |name: &CStr| {
            rustix::fs::mknodat(&self.fd, name, rustix::fs::FileType::Fifo, Mode::from_raw_mode(0o600), 0)?;
            openat(&self.fd, name, flags, Mode::empty())
        };
        Ok((fifo(c"gate")?, fifo(c"started")?))
    }

    /// `start`, once the gate is open: waits (10 s at most) until the init says COMMAND runs,
    /// or has ended (no writer left: POLLHUP).
    pub fn wait_started(&self) {
        let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        if let Ok(started) = openat(&self.fd, c"started", flags, Mode::empty()) {
            let mut fds = [rustix::event::PollFd::new(&started, rustix::event::PollFlags::IN)];
            let limit = rustix::event::Timespec { tv_sec: 10, tv_nsec: 0 };
            let _ = rustix::event::poll(&mut fds, Some(&limit));
        }
        let _ = unlinkat(&self.fd, c"started", AtFlags::empty());
    }

    /// `start`: one byte into the gate, which only a living init holds open for reading
    /// (ENXIO: no one reads, the init is gone), then the gate goes.
    pub fn open_gate(&self) -> Result<(), Errno> {
        let flags = OFlags::WRONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        let gate = openat(&self.fd, c"gate", flags, Mode::empty())?;
        rustix::io::write(&gate, &[0])?;
        unlinkat(&self.fd, c"gate", AtFlags::empty())
    }

    pub fn has_gate(&self) -> bool {
        rustix::fs::statat(&self.fd, c"gate", AtFlags::SYMLINK_NOFOLLOW).is_ok()
    }

    /// Writes the record (see the module's doc) and the config's copy.
    pub fn write(&self, head: Head, bundle: &[u8], config: &[u8]) -> Result<(), Errno> {
        let mut line = Line::new();
        line.num(head.pid as u64).str(" ").num(head.start).str(" ").num(head.created.0).str(".");
        line.num(head.created.1 as u64).str("\n").bytes(bundle);
        self.put(c"config.json", c".config.json", config)?;
        self.put(c"state", c".state", line.as_bytes())
    }

    pub fn put(&self, name: &CStr, temporary: &CStr, text: &[u8]) -> Result<(), Errno> {
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        let fd = openat(&self.fd, temporary, flags, Mode::from_raw_mode(0o600))?;
        let mut rest = text;
        while !rest.is_empty() {
            let n = rustix::io::write(&fd, rest)?;
            rest = &rest[n..];
        }
        renameat(&self.fd, temporary, &self.fd, name)
    }

    /// The record: its head, and the bundle's path in `buf`.
    pub fn read<'b>(&self, buf: &'b mut [u8; RECORD]) -> Result<(Head, &'b [u8]), Errno> {
        let fd =
            openat(&self.fd, c"state", OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW, Mode::empty())?;
        let mut n = 0;
        loop {
            let k = rustix::io::read(&fd, &mut buf[n..])?;
            if k == 0 || n + k == buf.len() {
                n += k;
                break;
            }
            n += k;
        }
        parse(&buf[..n]).ok_or(Errno::INVAL)
    }

    /// The config.json copied at `create`, in memory of its own.
    pub fn config(&self) -> Result<&'static [u8], Errno> {
        self.file(c"config.json")
    }

    /// The file `name` of the directory, in memory of its own.
    pub fn file(&self, name: &CStr) -> Result<&'static [u8], Errno> {
        let fd = openat(&self.fd, name, OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW, Mode::empty())?;
        let text = crate::rt::sys::read_whole(fd.as_fd(), 4 << 20)?;
        Ok(&text[..text.len() - 1])
    }

    /// Removes the directory and what is in it.
    pub fn remove(self, root: BorrowedFd, id: &[u8]) {
        for name in [
            c"state",
            c"config.json",
            c"gate",
            c"started",
            c".state",
            c".config.json",
            c"cgroups",
            c".cgroups",
        ] {
            let _ = unlinkat(&self.fd, name, AtFlags::empty());
        }
        let mut c = CPath::new();
        if let Ok(name) = c.of(&[id]) {
            let _ = unlinkat(root, name, AtFlags::REMOVEDIR);
        }
    }

    /// What the container is now: stopped once its init is gone (or a zombie, or another
    /// process has its pid), created while the gate is there, else running.
    pub fn status(&self, head: &Head) -> Status {
        if !alive(head) {
            Status::Stopped
        } else if self.has_gate() {
            Status::Created
        } else {
            Status::Running
        }
    }
}

/// Whether the init of `head` still runs: its pid has its start time and is no zombie.
pub fn alive(head: &Head) -> bool {
    let mut buf = [core::mem::MaybeUninit::<u8>::uninit(); 1024];
    let Some(stat) = crate::procfs::read_pid_file(head.pid, b"stat", &mut buf) else { return false };
    let state = crate::procfs::stat_field(stat, 3);
    let start = crate::procfs::stat_field(stat, 22).and_then(|s| crate::text::parse_decimal(s, 20));
    start == Some(head.start) && !matches!(state, Some(b"Z" | b"X"))
}

/// `PID START SECS.NANOS\nBUNDLE`.
pub fn parse(text: &[u8]) -> Option<(Head, &[u8])> {
    let (first, bundle) = crate::text::split_once(text, b'\n');
    let mut fields = crate::text::fields(first, b' ');
    let pid = crate::text::parse_decimal(fields.next()?, 10)?;
    let start = crate::text::parse_decimal(fields.next()?, 20)?;
    let (secs, nanos) = crate::text::split_once(fields.next()?, b'.');
    let created = (crate::text::parse_decimal(secs, 20)?, crate::text::parse_decimal(nanos?, 9)? as u32);
    let pid = i32::try_from(pid).ok().filter(|&p| p > 0)?;
    Some((Head { pid, start, created }, bundle?))
}

/// The time now, for `created`.
pub fn now() -> (u64, u32) {
    crate::rt::sys::realtime()
}

/// RFC 3339 in UTC with nanoseconds, as runc writes `created` (`2026-12-03T21:13:32.123456789Z`).
pub fn rfc3339(line: &mut Line, (secs, nanos): (u64, u32)) {
    let days = secs / 86_400;
    let rest = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let two = |line: &mut Line, n: u64| {
        if n < 10 {
            line.str("0");
        }
        line.num(n);
    };
    line.num(year as u64).str("-");
    two(line, month as u64);
    line.str("-");
    two(line, day as u64);
    line.str("T");
    two(line, rest / 3600);
    line.str(":");
    two(line, rest % 3600 / 60);
    line.str(":");
    two(line, rest % 60);
    line.str(".");
    let mut digits = [0u8; 24];
    let n = crate::text::digits(nanos as u64 + 1_000_000_000, 10, &mut digits).to_bytes();
    line.bytes(&n[1..]).str("Z");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trip() {
        let (head, bundle) = parse(b"42 123456 1700000000.5\n/b/c").unwrap();
        assert_eq!(head, Head { pid: 42, start: 123456, created: (1_700_000_000, 5) });
        assert_eq!(bundle, b"/b/c");
        assert!(parse(b"0 1 2.3\n/b").is_none());
        assert!(parse(b"x 1 2.3\n/b").is_none());
        assert!(parse(b"1 1 2.3").is_none());
    }

    #[test]
    fn times() {
        let mut line = Line::new();
        rfc3339(&mut line, (1_764_796_412, 5));
        assert_eq!(line.as_bytes(), b"2025-12-03T21:13:32.000000005Z");
        let mut line = Line::new();
        rfc3339(&mut line, (951_782_400, 0));
        assert_eq!(line.as_bytes(), b"2000-02-29T00:00:00.000000000Z");
    }
}
