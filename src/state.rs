//! The registry of named containers: `/run/husk/NAME/` (or `$XDG_RUNTIME_DIR/husk/NAME/`)
//! holding `state` (what exec, ps and kill need), `log` (a detached container's output) and
//! `lock`. The host-side `husk run` holds an exclusive flock(2) on `lock` for the
//! container's whole life: a held lock is a live container, a free one a stale entry (its
//! holder died, even by SIGKILL, and the kernel let go). Creating the directory with
//! mkdir(2) is what makes "two starts, one name: exactly one wins" true.

use core::ffi::CStr;

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, FlockOperation, Mode, OFlags, flock, mkdirat, open, openat, unlinkat};
use rustix::io::Errno;

use crate::cpath::CPath;
use crate::out::Line;
use crate::rt::Process;

/// The state file's keys, one `key=value` line each.
pub const PID: &[u8] = b"pid";
pub const START: &[u8] = b"start";
pub const CREATED: &[u8] = b"created";
pub const ROOTFS: &[u8] = b"rootfs";
pub const COMMAND: &[u8] = b"command";
pub const NET: &[u8] = b"net";
pub const USER: &[u8] = b"user";
pub const CAPS_ADDED: &[u8] = b"caps_added";
pub const CAPS_DROPPED: &[u8] = b"caps_dropped";
pub const SECCOMP: &[u8] = b"seccomp";
pub const HOSTNAME: &[u8] = b"hostname";

/// The registry directory, opened (and created when `create`).
pub struct Registry {
    dir: OwnedFd,
}

/// A name claimed by a running `husk run`: its directory and the lock held on it.
pub struct Entry {
    dir: OwnedFd,
    _lock: OwnedFd,
    name: heapless::Vec<u8, 64>,
    registry: OwnedFd,
}

/// Why a name could not be claimed.
pub enum Claim {
    InUse,
    Failed(&'static str, Errno),
}

impl Registry {
    /// `/run/husk` for root, `$XDG_RUNTIME_DIR/husk` for anyone else.
    pub fn open(process: &Process, create: bool) -> Result<Registry, Errno> {
        let mut path = CPath::new();
        let base = if rustix::process::geteuid().is_root() {
            path.of(&[b"/run/husk"])?
        } else {
            let runtime = process.getenv(b"XDG_RUNTIME_DIR").ok_or(Errno::NOENT)?;
            path.of(&[runtime, b"/husk"])?
        };
        if create {
            match rustix::fs::mkdir(base, Mode::from_raw_mode(0o700)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(e),
            }
        }
        let dir = open(base, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
        Ok(Registry { dir })
    }

    /// Claims `name`: a new directory, or a stale one whose holder is gone.
    pub fn claim(&self, name: &[u8]) -> Result<Entry, Claim> {
        let mut path = CPath::new();
        let c_name = path.of(&[name]).map_err(|e| Claim::Failed("name", e))?;
        match mkdirat(self.dir.as_fd(), c_name, Mode::from_raw_mode(0o700)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(Claim::Failed("mkdir", e)),
        }
        let dir = openat(
            self.dir.as_fd(),
            c_name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
        )
        .map_err(|e| Claim::Failed("state", e))?;
        let lock = openat(
            dir.as_fd(),
            c"lock",
            OFlags::CREATE | OFlags::RDWR | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| Claim::Failed("lock", e))?;
        // Whoever holds the lock owns the name; a lock nobody holds is a stale entry.
        match flock(&lock, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(Errno::WOULDBLOCK) => return Err(Claim::InUse),
            Err(e) => return Err(Claim::Failed("flock", e)),
        }
        let _ = unlinkat(dir.as_fd(), c"state", AtFlags::empty());
        let registry = rustix::io::dup(&self.dir).map_err(|e| Claim::Failed("dup", e))?;
        let mut owned = heapless::Vec::new();
        let _ = owned.extend_from_slice(name);
        Ok(Entry { dir, _lock: lock, name: owned, registry })
    }

    /// The state of the live container `name`, or ESRCH when there is none (a stale entry
    /// counts as none).
    pub fn read(&self, name: &[u8], state: &mut State) -> Result<(), Errno> {
        let dir = self.entry(name).map_err(|e| if e == Errno::NOENT { Errno::SRCH } else { e })?;
        if !held(dir.as_fd()) {
            return Err(Errno::SRCH);
        }
        state.load(dir.as_fd())
    }

    /// Opens the file `file` of entry `name` for reading.
    pub fn open_file(&self, name: &[u8], file: &CStr) -> Result<OwnedFd, Errno> {
        let dir = self.entry(name)?;
        openat(dir.as_fd(), file, OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW, Mode::empty())
    }

    /// The directory of entry `name` (never through a symlink).
    fn entry(&self, name: &[u8]) -> Result<OwnedFd, Errno> {
        let mut path = CPath::new();
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        openat(self.dir.as_fd(), path.of(&[name])?, flags, Mode::empty())
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.dir.as_fd()
    }
}

/// Whether some process holds the entry's lock (the container is alive).
fn held(dir: BorrowedFd) -> bool {
    let Ok(lock) = openat(dir, c"lock", OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW, Mode::empty())
    else {
        return false;
    };
    match flock(&lock, FlockOperation::NonBlockingLockShared) {
        Ok(()) => false,
        Err(_) => true,
    }
}

impl Entry {
    /// Writes the state file whole (via a temporary name and rename, so readers never see
    /// half of it).
    pub fn write_state(&self, state: &Line) -> Result<(), Errno> {
        let fd = openat(
            self.dir.as_fd(),
            c"state.new",
            OFlags::CREATE | OFlags::TRUNC | OFlags::WRONLY | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )?;
        rustix::io::write(&fd, state.as_bytes())?;
        rustix::fs::renameat(self.dir.as_fd(), c"state.new", self.dir.as_fd(), c"state")
    }

    /// The log file, created empty (0600), for a detached container's stdout and stderr.
    pub fn create_log(&self) -> Result<OwnedFd, Errno> {
        openat(
            self.dir.as_fd(),
            c"log",
            OFlags::CREATE | OFlags::TRUNC | OFlags::WRONLY | OFlags::APPEND,
            Mode::from_raw_mode(0o600),
        )
    }

    /// The log file, for reading.
    pub fn open_log(&self) -> Result<OwnedFd, Errno> {
        openat(self.dir.as_fd(), c"log", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
    }

    pub fn name(&self) -> &[u8] {
        &self.name
    }

    /// Removes the entry; the lock goes with the process.
    pub fn remove(self) {
        for file in [c"state", c"state.new", c"log", c"lock"] {
            let _ = unlinkat(self.dir.as_fd(), file, AtFlags::empty());
        }
        let mut path = CPath::new();
        if let Ok(c_name) = path.of(&[&self.name]) {
            let _ = unlinkat(self.registry.as_fd(), c_name, AtFlags::REMOVEDIR);
        }
    }
}

/// A state file's text, read whole; values looked up by key.
pub struct State {
    buf: [u8; 4096],
    len: usize,
}

impl State {
    pub fn new() -> State {
        State { buf: [0; 4096], len: 0 }
    }

    fn load(&mut self, dir: BorrowedFd) -> Result<(), Errno> {
        let fd = openat(dir, c"state", OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW, Mode::empty())
            .map_err(|e| if e == Errno::NOENT { Errno::SRCH } else { e })?;
        // A slice: rustix's read is generic, and each array size would be a copy of its own.
        self.len = rustix::io::read(&fd, &mut self.buf[..])?;
        Ok(())
    }

    /// The value of `key`, if the file has it.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        lookup(&self.buf[..self.len], key)
    }

    /// The value of `key` as a number.
    pub fn number(&self, key: &[u8]) -> Option<u64> {
        crate::args::parse_decimal(self.get(key)?, 19)
    }
}

impl Default for State {
    fn default() -> Self {
        State::new()
    }
}

/// `key=value` lines: the value of the first line with `key`.
pub fn lookup<'t>(text: &'t [u8], key: &[u8]) -> Option<&'t [u8]> {
    text.split(|&b| b == b'\n').find_map(|line| line.strip_prefix(key)?.strip_prefix(b"="))
}

/// The start time of process `pid` in clock ticks since boot (/proc/PID/stat, field 22):
/// with the pid, an identity that pid reuse cannot fake.
pub fn start_time(pid: i32) -> Option<u64> {
    let mut path = CPath::new();
    let mut number = heapless::String::<16>::new();
    let _ = ufmt::uwrite!(number, "{}", pid);
    let c = path.of(&[b"/proc/", number.as_bytes(), b"/stat"]).ok()?;
    let fd = open(c, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok()?;
    let mut buf = [0u8; 1024];
    // A slice: rustix's read is generic, and each array size would be a copy of its own.
    let n = rustix::io::read(&fd, &mut buf[..]).ok()?;
    let stat = &buf[..n];
    let close = stat.iter().rposition(|&b| b == b')')?;
    // Fields after the name start at field 3 (state); start time is field 22.
    let field = stat[close + 1..].split(|&b| b == b' ').filter(|f| !f.is_empty()).nth(22 - 3)?;
    crate::args::parse_decimal(field, 19)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        let text = b"pid=12\nstart=99\nrootfs=/r\ncommand=sh -c echo a=b\n";
        assert_eq!(lookup(text, b"pid"), Some(&b"12"[..]));
        assert_eq!(lookup(text, b"command"), Some(&b"sh -c echo a=b"[..]));
        assert_eq!(lookup(text, b"start"), Some(&b"99"[..]));
        assert_eq!(lookup(text, b"st"), None);
        assert_eq!(lookup(text, b"missing"), None);
    }

    #[test]
    fn own_start_time() {
        let me = std::process::id() as i32;
        assert!(start_time(me).is_some());
        assert_eq!(start_time(me), start_time(me));
        assert_eq!(start_time(i32::MAX), None);
    }
}
