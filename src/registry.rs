//! The registry of named containers: `/run/husk/NAME/` (or `$XDG_RUNTIME_DIR/husk/NAME/`)
//! holding `state` (what exec, ps and kill need), `log` (a detached container's output) and
//! `lock`. The host-side `husk run` holds an exclusive flock(2) on `lock` for the
//! container's whole life: a held lock is a live container, a free one a stale entry (its
//! holder died, even by SIGKILL, and the kernel let go). Creating the directory with
//! mkdir(2) is what makes "two starts, one name: exactly one wins" true.
//!
//! A detached container stays after it ended, until `husk rm`: its supervisor (the host-side
//! `husk run`, which the container cannot reach) rewrites the record with the exit status
//! and the end time, then exits and lets go of the lock. So an entry is one of: running
//! (lock held, no status), exited (a status: only that supervisor writes one), or stale
//! (lock free, no status: its supervisor was killed), which the next start of the name reuses.

use core::cell::Cell;
use core::ffi::CStr;

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, FlockOperation, Mode, OFlags, flock, mkdirat, open, openat, unlinkat};
use rustix::io::Errno;

use crate::cpath::CPath;
use crate::error::{Failure, fail};
use crate::out::Line;
use crate::rt::Process;

/// The registry directory, opened (and created when `create`).
pub struct Registry {
    dir: OwnedFd,
}

/// A name claimed by a running `husk run`: its directory and the lock held on it.
pub struct Entry {
    dir: OwnedFd,
    lock: OwnedFd,
    name: heapless::Vec<u8, 64>,
    registry: OwnedFd,
    /// The head last recorded, for the record of the end.
    head: Cell<Option<Head>>,
}

/// An entry found by name, whatever its state: its directory, never through a symlink.
pub struct Found {
    dir: OwnedFd,
}

impl Registry {
    /// `/run/husk` for root; for anyone else `$XDG_RUNTIME_DIR/husk`, or where that is not
    /// set, `/run/user/UID/husk` when that directory is the user's (as a login session makes
    /// it), or else `/tmp/husk-UID`, the user's own (made when `create`). A failure names
    /// the directory it is in.
    pub fn open(process: &Process, create: bool) -> Result<Registry, Failure<'static>> {
        let uid = rustix::process::geteuid();
        let mut number = [0u8; 24];
        let id = crate::text::digits(uid.as_raw() as u64, 10, &mut number).to_bytes();
        let mut path = CPath::new();
        let (runtime, base): (&'static [u8], _) = if uid.is_root() {
            (b"/run", path.of(&[b"/run/husk"]))
        } else if let Some(dir) = process.getenv(b"XDG_RUNTIME_DIR").filter(|dir| !dir.is_empty()) {
            (dir, path.of(&[dir, b"/husk"]))
        } else {
            let session = path.of(&[b"/run/user/", id]).ok().and_then(|c| rustix::fs::stat(c).ok());
            if session.is_some_and(|st| st.st_uid == uid.as_raw() && st.st_mode & 0o777 == 0o700) {
                (b"/run/user", path.of(&[b"/run/user/", id, b"/husk"]))
            } else {
                (b"/tmp", path.of(&[b"/tmp/husk-", id]))
            }
        };
        let failed = |e| Failure::new("registry in", runtime, e);
        let base = base.map_err(failed)?;
        if create {
            match rustix::fs::mkdir(base, Mode::from_raw_mode(0o700)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(failed(e)),
            }
        }
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        let dir = open(base, flags, Mode::empty()).map_err(failed)?;
        // In a directory anyone may write (/tmp), someone else may have made it first:
        // only the user's own, closed to others, is theirs.
        let st = rustix::fs::fstat(&dir).map_err(failed)?;
        if st.st_uid != uid.as_raw() || st.st_mode & 0o077 != 0 {
            return Err(failed(Errno::PERM).with_hint("not the user's own directory, or open to others"));
        }
        Ok(Registry { dir })
    }

    /// Claims `name`: a new directory, or a stale one whose holder is gone. Out of line: a
    /// few bytes smaller so.
    #[inline(never)]
    pub fn claim<'n>(&self, name: &'n [u8]) -> Result<Entry, Failure<'n>> {
        let mut path = CPath::new();
        let c_name = path.of(&[name]).map_err(fail("name", name))?;
        match mkdirat(self.dir.as_fd(), c_name, Mode::from_raw_mode(0o700)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(Failure::new("mkdir", name, e)),
        }
        let dir = openat(
            self.dir.as_fd(),
            c_name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
        )
        .map_err(fail("state", name))?;
        let lock = openat(
            dir.as_fd(),
            c"lock",
            OFlags::CREATE | OFlags::RDWR | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(fail("lock", name))?;
        // Whoever holds the lock owns the name; a lock nobody holds is a stale entry. An
        // exited container keeps its name until it is removed, as docker's do.
        let found = Found { dir };
        let taken = match flock(&lock, FlockOperation::NonBlockingLockExclusive) {
            Err(Errno::WOULDBLOCK) => "a running container has it",
            Err(e) => return Err(Failure::new("flock", name, e)),
            Ok(()) if found.exited() => "an exited container has it (husk rm NAME)",
            Ok(()) => "",
        };
        if !taken.is_empty() {
            return Err(Failure::new("name", name, Errno::EXIST).with_hint(taken));
        }
        let dir = found.dir;
        let _ = unlinkat(dir.as_fd(), c"state", AtFlags::empty());
        let registry = rustix::io::dup(&self.dir).map_err(fail("dup", name))?;
        let mut owned = heapless::Vec::new();
        let _ = owned.extend_from_slice(name);
        Ok(Entry { dir, lock, name: owned, registry, head: Cell::new(None) })
    }

    /// The state of the live container `name`, or ESRCH when there is none (a stale entry
    /// counts as none). Whether the record parses is for [`State::record`] to say.
    pub fn read(&self, name: &[u8]) -> Result<State, Errno> {
        let found = self.find(name)?;
        if !found.held() {
            return Err(Errno::SRCH);
        }
        found.state()
    }

    /// The entry `name`, running, exited or stale; ESRCH when there is none.
    pub fn find(&self, name: &[u8]) -> Result<Found, Errno> {
        let mut path = CPath::new();
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        let dir = openat(self.dir.as_fd(), path.of(&[name])?, flags, Mode::empty()).map_err(srch)?;
        Ok(Found { dir })
    }

    /// Removes the entry `name` found as `found`: its files, then its directory. The
    /// caller holds its lock and has checked that no container runs there.
    pub fn remove(&self, name: &[u8], found: &Found) {
        remove(found.dir.as_fd(), self.dir.as_fd(), name);
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.dir.as_fd()
    }
}

/// The status a `--rm` container's supervisor left in its lock file ([`Entry::note_exit`]),
/// read through a descriptor of that file.
pub fn noted_exit(lock: BorrowedFd) -> Option<u8> {
    let mut text = [0u8; 10];
    let n = rustix::io::pread(lock, &mut text, 0).ok()?;
    parse_note(&text[..n])
}

/// The lock file's note of a `--rm` container's end: `exit=NNN\n`, three digits.
fn exit_note(status: u8) -> [u8; 9] {
    let mut text = *b"exit=000\n";
    text[5] += status / 100;
    text[6] += status / 10 % 10;
    text[7] += status % 10;
    text
}

/// [`exit_note`]'s status; None unless `text` is exactly such a note.
fn parse_note(text: &[u8]) -> Option<u8> {
    let digits = crate::text::before(crate::text::after(text, b"exit=")?, b"\n")?;
    crate::text::parse_decimal(digits, 3).filter(|&s| digits.len() == 3 && s <= 255).map(|s| s as u8)
}

/// ENOENT as ESRCH: no such container.
fn srch(e: Errno) -> Errno {
    if e == Errno::NOENT { Errno::SRCH } else { e }
}

impl Found {
    /// Whether some process holds the entry's lock exclusively (its container is alive, or
    /// a start or a removal is deciding about it this instant).
    pub fn held(&self) -> bool {
        self.lock(FlockOperation::NonBlockingLockShared).is_err()
    }

    /// The entry's lock file, locked with `how` (blocking or not); the lock goes with the
    /// descriptor. A shared lock, blocking, waits for the container's end.
    pub fn lock(&self, how: FlockOperation) -> Result<OwnedFd, Errno> {
        let lock = self.open(c"lock")?;
        flock(&lock, how)?;
        Ok(lock)
    }

    /// The state record's file, mapped whole, whatever its size: a record is never judged
    /// by a prefix. ESRCH when there is none. Whether it parses is for [`State::record`].
    pub fn state(&self) -> Result<State, Errno> {
        let fd = self.open(c"state").map_err(srch)?;
        Ok(State { text: crate::rt::sys::map_file(fd.as_fd())? })
    }

    /// How its container ended, by its record: Some once it has, None while it runs (or
    /// when its husk run died without saying: a stale entry). ESRCH without a record,
    /// EBADMSG when it does not parse.
    pub fn exit(&self) -> Result<Option<Exit>, Errno> {
        self.state()?.record().map(|record| record.head.exit)
    }

    /// Whether its container has ended with its end recorded.
    pub fn exited(&self) -> bool {
        matches!(self.exit(), Ok(Some(_)))
    }

    /// Opens the entry's file `file` for reading (never through a symlink).
    pub fn open(&self, file: &CStr) -> Result<OwnedFd, Errno> {
        openat(self.dir.as_fd(), file, OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW, Mode::empty())
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.dir.as_fd()
    }
}

/// Removes an entry: its files (unlinkat never follows a symlink), then its directory.
fn remove(dir: BorrowedFd, registry: BorrowedFd, name: &[u8]) {
    for file in [c"state", c"state.new", c"log", c"lock"] {
        let _ = unlinkat(dir, file, AtFlags::empty());
    }
    let mut path = CPath::new();
    if let Ok(c_name) = path.of(&[name]) {
        let _ = unlinkat(registry, c_name, AtFlags::REMOVEDIR);
    }
}

impl Entry {
    /// Writes the state record whole (via a temporary name and rename, so readers never see
    /// half of it): `head`, then the container's hostname, root and command (argv's
    /// strings), encoded so that no byte of them can be mistaken for the record's own.
    pub fn write_state<'s>(
        &self,
        head: &Head,
        hostname: &[u8],
        rootfs: &[u8],
        command: impl Iterator<Item = &'s [u8]>,
    ) -> Result<(), Errno> {
        let fd = openat(
            self.dir.as_fd(),
            c"state.new",
            OFlags::CREATE | OFlags::TRUNC | OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::from_raw_mode(0o600),
        )?;
        let mut out = Writer { fd: fd.as_fd(), buf: heapless::Vec::new(), failed: None };
        write_record(&mut out, head, hostname, rootfs, command);
        out.flush();
        if let Some(e) = out.failed {
            return Err(e);
        }
        self.head.set(Some(*head));
        rustix::fs::renameat(self.dir.as_fd(), c"state.new", self.dir.as_fd(), c"state")
    }

    /// The head last written with [`Entry::write_state`].
    pub fn head(&self) -> Option<Head> {
        self.head.get()
    }

    /// The log file, created empty (0600), for a detached container's output: the logger
    /// writes it at offsets of its own (src/log.rs).
    pub fn create_log(&self) -> Result<OwnedFd, Errno> {
        openat(
            self.dir.as_fd(),
            c"log",
            OFlags::CREATE | OFlags::TRUNC | OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
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

    /// `--rm`: the exit status, written into the lock file just before the entry goes. A
    /// `husk wait` holds that file open (it waits on its lock), so it reads the status of a
    /// container that is gone ([`noted_exit`]). Written only here, by the supervisor.
    pub fn note_exit(&self, status: u8) {
        let _ = rustix::io::pwrite(&self.lock, &exit_note(status), 0);
    }

    /// Removes the entry; the lock goes with the process.
    pub fn remove(self) {
        remove(self.dir.as_fd(), self.registry.as_fd(), &self.name);
    }
}

/// A state file, mapped whole; [`State::record`] parses it.
pub struct State {
    text: crate::rt::sys::Mapped,
}

impl State {
    /// The record, or EBADMSG when the file is not exactly one well-formed record: a
    /// record that does not parse is refused, never read in part or filled with defaults.
    pub fn record(&self) -> Result<Record<'_>, Errno> {
        parse(self.text.bytes()).ok_or(Errno::BADMSG)
    }
}

/// The first line of every record: the format and its version.
const HEADER: &[u8] = b"husk-state 3";
/// The version before containers could end and stay (issue 13): no `exit` and `ended`
/// lines. Still read, as a running container's, so that containers started before an
/// upgrade of husk can be listed, joined and stopped; never written.
const HEADER_2: &[u8] = b"husk-state 2";

/// How a named container was confined when it started: `husk exec` applies exactly this to
/// what it starts inside (not what the container or its arguments might say later).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Confinement {
    /// A network namespace of its own (`--net none`), or the host's.
    pub own_network: bool,
    /// COMMAND's UID:GID (supplementary groups none).
    pub user: (u32, u32),
    /// COMMAND's bounding set, as applied (CAP_SYS_CHROOT already gone on an initramfs
    /// host).
    pub bounding: u64,
    /// `--cap-add`: what a non-root user is granted of `bounding`.
    pub added: u64,
    /// Whether COMMAND has husk's default seccomp filter.
    pub seccomp: bool,
}

/// The confinement a named container is recorded with (src/registry.rs): what its COMMAND was
/// given, and so what `husk exec` gives what it starts there.
impl Confinement {
    pub fn of(config: &crate::config::Config) -> Confinement {
        let process = &config.process;
        let bounding = crate::caps::privileges(process, crate::procfs::root_is_initramfs()).bounding;
        Confinement {
            own_network: config.namespaces.network == crate::config::Namespace::New,
            user: process.user.map_or((0, 0), |u| (u.uid, u.gid)),
            bounding,
            added: process.caps_added & bounding,
            seccomp: process.seccomp,
        }
    }
}

/// The fixed part of a record: the confinement, then who the init is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    pub confinement: Confinement,
    /// The init's pid on the host, and its start time (clock ticks since boot): together an
    /// identity pid reuse cannot fake.
    pub pid: i32,
    pub start: u64,
    /// When it was started (seconds since the epoch).
    pub created: u64,
    /// How it ended, once it has: written by its supervisor, never by the container.
    pub exit: Option<Exit>,
}

/// How a container ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exit {
    /// The exit status `husk run` ended with: COMMAND's, 128+N for signal N, or 125.
    pub status: u8,
    /// When (seconds since the epoch).
    pub ended: u64,
}

/// A parsed record: the head, then the free-form fields, still encoded.
#[derive(Debug, PartialEq, Eq)]
pub struct Record<'r> {
    pub head: Head,
    pub hostname: Encoded<'r>,
    pub rootfs: Encoded<'r>,
    /// The command's arguments, a NUL between each two.
    pub command: Encoded<'r>,
}

/// The record's text: `husk-state 3`, then one `key=value` line per field in this fixed
/// order, then `end`. `exit` and `ended` are `-` while the container runs. Numbers are decimal, capability sets hexadecimal (as CapBnd in
/// /proc/PID/status); the free-form fields are percent-encoded ([`encode`]), so none of
/// their bytes can be a newline, and the record has no other reading.
fn write_record<'s>(
    out: &mut Writer,
    head: &Head,
    hostname: &[u8],
    rootfs: &[u8],
    command: impl Iterator<Item = &'s [u8]>,
) {
    let c = &head.confinement;
    let mut number = Line::new();
    out.put(HEADER);
    out.put(b"\nnet=");
    out.put(if c.own_network { b"none" } else { b"host" });
    number.str("\nuser=").num(c.user.0 as u64).str(":").num(c.user.1 as u64).str("\nbounding=");
    hex(&mut number, c.bounding);
    number.str("\nadded=");
    hex(&mut number, c.added);
    number.str("\nseccomp=").num(c.seccomp as u64);
    number.str("\npid=").num(head.pid as u64).str("\nstart=").num(head.start);
    number.str("\ncreated=").num(head.created);
    match head.exit {
        Some(exit) => number.str("\nexit=").num(exit.status as u64).str("\nended=").num(exit.ended),
        None => number.str("\nexit=-\nended=-"),
    };
    number.str("\nhostname=");
    out.put(number.as_bytes());
    encode(hostname, &mut |b| out.put(b));
    out.put(b"\nrootfs=");
    encode(rootfs, &mut |b| out.put(b));
    out.put(b"\ncommand=");
    for (i, arg) in command.enumerate() {
        if i > 0 {
            out.put(b"%00");
        }
        encode(arg, &mut |b| out.put(b));
    }
    out.put(b"\nend\n");
}

/// 16 hexadecimal digits.
fn hex(line: &mut Line, value: u64) {
    for shift in (0..16).rev() {
        let digit = (value >> (shift * 4)) as u8 & 0xf;
        line.bytes(&[HEX_DIGITS[digit as usize]]);
    }
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

fn hex_value(b: u8) -> Option<u8> {
    HEX_DIGITS.iter().position(|&d| d == b).map(|v| v as u8)
}

/// Percent-encoding: printable ASCII but `%` stands for itself; every other byte (space,
/// newline, control bytes, `%`, bytes above 0x7e) is `%` and two lower-case hex digits.
pub fn encode(text: &[u8], out: &mut dyn FnMut(&[u8])) {
    for &b in text {
        if (0x21..0x7f).contains(&b) && b != b'%' {
            out(&[b]);
        } else {
            out(&[b'%', HEX_DIGITS[(b >> 4) as usize], HEX_DIGITS[(b & 0xf) as usize]]);
        }
    }
}

/// A free-form field as the record holds it: checked well-formed at parse time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Encoded<'r>(&'r [u8]);

impl<'r> Encoded<'r> {
    /// Checks `text` is exactly what [`encode`] writes: no raw byte it would have escaped,
    /// every `%` followed by two hex digits.
    fn new(text: &'r [u8]) -> Option<Encoded<'r>> {
        let mut i = 0;
        while i < text.len() {
            match text[i] {
                b'%' => {
                    hex_value(*text.get(i + 1)?)?;
                    hex_value(*text.get(i + 2)?)?;
                    i += 3;
                }
                0x21..0x7f => i += 1,
                _ => return None,
            }
        }
        Some(Encoded(text))
    }

    /// The decoded bytes.
    pub fn bytes(self) -> impl Iterator<Item = u8> + 'r {
        let mut rest = self.0;
        core::iter::from_fn(move || {
            let (&b, tail) = rest.split_first()?;
            if b == b'%' {
                // Checked in new(): two hex digits follow.
                let [high, low, after @ ..] = tail else { return None };
                let v = (hex_value(*high)? << 4) | hex_value(*low)?;
                rest = after;
                Some(v)
            } else {
                rest = tail;
                Some(b)
            }
        })
    }
}

/// The keys of a record's lines after the first, in their fixed order (one string: no
/// array of pointers).
const KEYS: &[u8] = b"net user bounding added seccomp pid start created exit ended hostname rootfs command";

/// Parses a whole record; None unless every line is where and what it must be.
pub fn parse(text: &[u8]) -> Option<Record<'_>> {
    let mut lines = Lines(text);
    let version_2 = match lines.next()? {
        HEADER => false,
        HEADER_2 => true,
        _ => return None,
    };
    // Every key's line, in order, then `end` and nothing after it.
    let mut values: [&[u8]; 13] = [b"-"; 13];
    for (value, key) in values.iter_mut().zip(crate::text::fields(KEYS, b' ')) {
        if !(version_2 && (key == b"exit" || key == b"ended")) {
            *value = lines.field(key)?;
        }
    }
    if lines.next()? != b"end" || !lines.0.is_empty() {
        return None;
    }
    let [net, user, bounding, added, seccomp, pid, start, created, exit, ended, hostname, rootfs, command] =
        &values;
    let own_network = match *net {
        b"none" => true,
        b"host" => false,
        _ => return None,
    };
    let (uid, gid) = crate::text::split_once(user, b':');
    let id = |s: &[u8]| crate::text::parse_decimal(s, 10).filter(|&n| n <= u32::MAX as u64).map(|n| n as u32);
    let user = (id(uid)?, id(gid?)?);
    let seccomp = match *seccomp {
        b"1" => true,
        b"0" => false,
        _ => return None,
    };
    let confinement =
        Confinement { own_network, user, bounding: parse_hex(bounding)?, added: parse_hex(added)?, seccomp };
    let number = |s: &[u8]| crate::text::parse_decimal(s, 19);
    let pid = number(pid).filter(|&p| p > 0 && p <= i32::MAX as u64)? as i32;
    let exit = match (*exit, *ended) {
        (b"-", b"-") => None,
        (status, ended) => Some(Exit {
            status: crate::text::parse_decimal(status, 3).filter(|&s| s <= 255)? as u8,
            ended: number(ended)?,
        }),
    };
    let head = Head { confinement, pid, start: number(start)?, created: number(created)?, exit };
    Some(Record {
        head,
        hostname: Encoded::new(hostname)?,
        rootfs: Encoded::new(rootfs)?,
        command: Encoded::new(command)?,
    })
}

/// 16 hexadecimal digits, as [`hex`] writes them.
fn parse_hex(text: &[u8]) -> Option<u64> {
    if text.len() != 16 {
        return None;
    }
    text.iter().try_fold(0u64, |v, &b| Some(v << 4 | hex_value(b)? as u64))
}

/// The lines of a record, each ended by a newline (a last line without one is no line).
struct Lines<'t>(&'t [u8]);

impl<'t> Lines<'t> {
    fn next(&mut self) -> Option<&'t [u8]> {
        let end = self.0.iter().position(|&b| b == b'\n')?;
        let line = &self.0[..end];
        self.0 = &self.0[end + 1..];
        Some(line)
    }

    /// The value of the next line, which must be `key=value`.
    fn field(&mut self, key: &[u8]) -> Option<&'t [u8]> {
        crate::text::after(crate::text::after(self.next()?, key)?, b"=")
    }
}

/// Buffered writes to a file, the first error kept.
struct Writer<'f> {
    fd: BorrowedFd<'f>,
    buf: heapless::Vec<u8, 512>,
    failed: Option<Errno>,
}

impl Writer<'_> {
    fn put(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.buf.is_full() {
                self.flush();
            }
            let (now, later) = bytes.split_at(bytes.len().min(self.buf.capacity() - self.buf.len()));
            let _ = self.buf.extend_from_slice(now);
            bytes = later;
        }
    }

    fn flush(&mut self) {
        let mut done = 0;
        while done < self.buf.len() && self.failed.is_none() {
            match rustix::io::write(self.fd, &self.buf[done..]) {
                Ok(0) => self.failed = Some(Errno::IO),
                Ok(n) => done += n,
                Err(Errno::INTR) => {}
                Err(e) => self.failed = Some(e),
            }
        }
        self.buf.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Head {
        let confinement = Confinement {
            own_network: true,
            user: (1000, 100),
            bounding: 0xa80425fb,
            added: 1 << 10,
            seccomp: true,
        };
        Head { confinement, pid: 4242, start: 99, created: 1_700_000_000, exit: None }
    }

    /// The record's text as write_record writes it (to a temporary file).
    fn text(head: &Head, hostname: &[u8], rootfs: &[u8], command: &[&[u8]]) -> Vec<u8> {
        let path = std::env::temp_dir().join(format!(
            "husk-state-test.{}.{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let flags = OFlags::CREATE | OFlags::TRUNC | OFlags::WRONLY | OFlags::CLOEXEC;
        let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        let file = open(c_path.as_c_str(), flags, Mode::from_raw_mode(0o600)).unwrap();
        let mut out = Writer { fd: file.as_fd(), buf: heapless::Vec::new(), failed: None };
        write_record(&mut out, head, hostname, rootfs, command.iter().copied());
        out.flush();
        assert_eq!(out.failed, None);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        bytes
    }

    fn decoded(field: Encoded) -> Vec<u8> {
        field.bytes().collect()
    }

    #[test]
    fn a_record_reads_back_as_written() {
        let head = sample();
        let t = text(&head, b"box", b"/srv/root fs", &[b"sh", b"-c", b"echo a=b; x=%41"]);
        assert_eq!(
            String::from_utf8(t.clone()).unwrap(),
            "husk-state 3\nnet=none\nuser=1000:100\nbounding=00000000a80425fb\nadded=0000000000000400\n\
             seccomp=1\npid=4242\nstart=99\ncreated=1700000000\nexit=-\nended=-\nhostname=box\n\
             rootfs=/srv/root%20fs\ncommand=sh%00-c%00echo%20a=b;%20x=%2541\nend\n"
        );
        let record = parse(&t).expect("parses");
        assert_eq!(record.head, head);
        assert_eq!(decoded(record.hostname), b"box");
        assert_eq!(decoded(record.rootfs), b"/srv/root fs");
        assert_eq!(decoded(record.command), b"sh\0-c\0echo a=b; x=%41");
    }

    #[test]
    fn the_note_of_a_removed_container_reads_back_and_nothing_else_does() {
        for status in 0..=255u8 {
            assert_eq!(parse_note(&exit_note(status)), Some(status), "{status}");
        }
        assert_eq!(&exit_note(7), b"exit=007\n");
        for bad in
            ["", "exit=7\n", "exit=256\n", "exit=007", "exit=007\n\n", "exit=-07\n", "exit= 07\n", "x=007\n"]
        {
            assert_eq!(parse_note(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn an_exited_record_reads_back_with_its_status() {
        for status in [0, 1, 137, 255] {
            let head = Head { exit: Some(Exit { status, ended: 1_700_000_042 }), ..sample() };
            let t = text(&head, b"box", b"/r", &[b"sh"]);
            let s = String::from_utf8(t.clone()).unwrap();
            assert!(
                s.contains(&format!("\ncreated=1700000000\nexit={status}\nended=1700000042\nhostname=")),
                "{s}"
            );
            assert_eq!(parse(&t).expect("parses").head, head);
        }
    }

    #[test]
    fn hostile_bytes_stay_inside_their_field() {
        // The issue-11 forgery: an argument that writes extra lines, and every byte value.
        let forged: &[u8] = b"x\nuser=0:0\ncaps_added=ffffffffffffffff\nseccomp=0\nnet=host\nend\n";
        let all: Vec<u8> = (1..=255).collect();
        let head = sample();
        let t = text(&head, b"h", &all, &[b"sleep", forged, &all]);
        assert_eq!(t.iter().filter(|&&b| b == b'\n').count(), 15, "one line per field, no more");
        let record = parse(&t).expect("parses");
        assert_eq!(record.head, head, "the confinement is what was written");
        assert_eq!(decoded(record.rootfs), all);
        let mut command = b"sleep\0".to_vec();
        command.extend_from_slice(forged);
        command.push(0);
        command.extend_from_slice(&all);
        assert_eq!(decoded(record.command), command);
    }

    #[test]
    fn long_records_parse_whole() {
        let long = vec![b'a'; 300_000];
        let t = text(&sample(), b"h", b"/", &[&long, &long]);
        let record = parse(&t).expect("parses");
        assert_eq!(record.command.bytes().count(), 600_001);
    }

    #[test]
    fn a_record_of_the_version_before_reads_as_a_running_container() {
        let s = String::from_utf8(text(&sample(), b"h", b"/r", &[b"sh"])).unwrap();
        let old = s.replace("husk-state 3", "husk-state 2").replace("exit=-\nended=-\n", "");
        assert_eq!(parse(old.as_bytes()).expect("parses").head, sample());
        // With the lines of the newer version, or only one of them, it is no record at all.
        assert_eq!(parse(old.replace("created=", "exit=-\ncreated=").as_bytes()), None);
    }

    #[test]
    fn anything_but_a_whole_well_formed_record_is_refused() {
        let good = text(&sample(), b"h", b"/r", &[b"sh"]);
        assert!(parse(&good).is_some());
        // Every strict prefix (a truncated record) is refused.
        for n in 0..good.len() {
            assert_eq!(parse(&good[..n]), None, "prefix of {n} bytes");
        }
        let s = String::from_utf8(good).unwrap();
        let bad = [
            s.replace("husk-state 3", "husk-state 2"),
            s.replace("husk-state 3", "husk-state 4"),
            s.replace("net=none", "net=bridge"),
            s.replace("user=1000:100", "user=1000"),
            s.replace("user=1000:100", "user=99999999999:0"),
            s.replace("bounding=00000000a80425fb", "bounding=a80425fb"),
            s.replace("seccomp=1", "seccomp=yes"),
            s.replace("pid=4242", "pid=0"),
            s.replace("pid=4242\nstart=99", "start=99\npid=4242"),
            s.replace("rootfs=/r", "rootfs=/r s"),
            s.replace("rootfs=/r", "rootfs=/r%2"),
            s.replace("rootfs=/r", "rootfs=/r%zz"),
            s.replace("end\n", "end\nuser=0:0\n"),
            s.replace("end\n", "end"),
            s.replace("\nend", "\nseccomp=0\nend"),
            // The end: both fields or neither, a status of one byte, nothing else.
            s.replace("exit=-", "exit=0"),
            s.replace("ended=-", "ended=1700000001"),
            s.replace("exit=-\nended=-", "exit=256\nended=1"),
            s.replace("exit=-\nended=-", "exit=-1\nended=1"),
            s.replace("exit=-\nended=-", "exit=\nended=1"),
            s.replace("exit=-\nended=-", "exit=0\nended=x"),
            s.replace("exit=-\nended=-", "ended=-\nexit=-"),
            s.replace("exit=-\nended=-", "exit=-"),
            s.replace("exit=-\nended=-", "exit=0 \nended=1"),
        ];
        for text in bad {
            assert_eq!(parse(text.as_bytes()), None, "{text}");
        }
    }
}
