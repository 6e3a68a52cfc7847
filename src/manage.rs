//! `husk ps`, `kill`, `logs`, `wait`, `stop`, `rm`: looking at, waiting for, stopping and
//! removing named containers. What an entry is (running, exited, stale) and who may write
//! what in it: src/registry.rs.

use core::mem::MaybeUninit;

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{FlockOperation, RawDir, SeekFrom};
use rustix::io::Errno;

use crate::error::Failure;
use crate::out::Line;
use crate::registry::{self, Found, Record, Registry};
use crate::rt::{Process, sys};
use crate::signals::{SIGKILL, SIGTERM};

/// The registry, or None when there is none yet (nothing ever ran here). A failure to open
/// it is reported (exit 125): a non-root user without $XDG_RUNTIME_DIR learns what is
/// missing, not that nothing runs.
fn registry(process: &Process) -> Result<Option<Registry>, u8> {
    match Registry::open(process, false) {
        Ok(registry) => Ok(Some(registry)),
        // The directory is not there (the unset variable is the failure with a hint).
        Err(failure) if failure.errno == Errno::NOENT && failure.hint.is_empty() => Ok(None),
        Err(failure) => Err(failure.report()),
    }
}

/// Why wait, stop and rm find no entry by that name.
const NO_CONTAINER: &str = "no container has that name (husk ps -a)";

/// The entry `name`, running, exited or stale; else the failure reported ([`missing`]).
/// Only rm needs the registry after this (the others let it go at once).
fn entry(
    name: &[u8],
    process: &Process,
    step: &'static str,
    hint: &'static str,
) -> Result<(Registry, Found), u8> {
    let found = match registry(process)? {
        Some(registry) => registry.find(name).map(|found| (registry, found)),
        None => Err(Errno::SRCH),
    };
    found.map_err(|e| missing(name, e, step, hint))
}

/// `husk: STEP NAME: No such process (ESRCH): HINT`, exit 125: ENOENT counts as ESRCH (the
/// name is not there); any other errno is reported without the hint. Out of line: every
/// command that takes a NAME ends here when there is no such entry.
#[inline(never)]
fn missing(name: &[u8], e: Errno, step: &'static str, hint: &'static str) -> u8 {
    let e = if e == Errno::NOENT { Errno::SRCH } else { e };
    Failure::new(step, name, e).with_hint(if e == Errno::SRCH { hint } else { "" }).report()
}

/// A running container not found or its record refused (exec::not_found), reported: exit
/// 125. Out of line, one copy for every command.
#[inline(never)]
fn refused(name: &[u8], e: Errno) -> u8 {
    crate::exec::not_found(name, e).report()
}

/// Sends `signal` to the running container `name`'s init, through a pidfd verified to be
/// that process (exec::find), and returns the pidfd; None when it runs no more (ESRCH). Any
/// other failure (a record that does not parse: nothing to signal it by) is reported.
fn signal(name: &[u8], process: &Process, signal: i32) -> Result<Option<OwnedFd>, u8> {
    match crate::exec::find(name, process) {
        Ok((pidfd, _)) => {
            let _ = sys::pidfd_signal(pidfd.as_fd(), signal);
            Ok(Some(pidfd))
        }
        Err(Errno::SRCH) => Ok(None),
        Err(e) => Err(refused(name, e)),
    }
}

/// Whether the entry's container has ended: its end recorded, its record gone (removed,
/// `--rm`) or refused, or nobody holding the lock (its husk run died).
fn ended(found: &Found) -> bool {
    !matches!(found.exit(), Ok(None)) || !found.held()
}

/// Waits until nobody holds the entry's lock: its husk run has recorded the end and exited.
fn wait_unlocked(found: &Found) {
    drop(found.lock(FlockOperation::LockShared));
}

/// The commands that block until a container ends can be interrupted (Ctrl-C): husk runs
/// with every signal blocked, so the caller's mask comes back first.
fn interruptible(process: &Process) {
    sys::set_signal_mask(process.caller_mask());
}

/// The titles of ps's columns: the padded ones, then COMMAND (the last, not padded); one
/// string (text::words).
const TITLES: &[u8] = b"NAME PID UPTIME ROOTFS COMMAND";

/// `husk ps [-a] [-q]`: NAME PID UPTIME ROOTFS COMMAND of every running container (and
/// with `-a` every exited one), sorted by name, each column as wide as its widest value.
#[inline(never)] // a role's own frame: see main.rs
pub fn ps(quiet: bool, all: bool, process: &Process) -> u8 {
    let registry = match registry(process) {
        Ok(registry) => registry,
        Err(code) => return code,
    };
    let now = sys::realtime_s();
    let mut widths = [0; 4];
    let mut code = 0;
    // Two passes over the titles and the entries: the widths they need, then the lines.
    for print in [false, true] {
        if !quiet {
            row(None, now, &mut widths, print);
        }
        let Some(registry) = &registry else { continue };
        by_name(registry, &mut |name| {
            let Ok(found) = registry.find(name) else { return };
            let held = found.held();
            let Ok(state) = found.state() else { return }; // starting, or just removed
            let record = match state.record() {
                Ok(record) => record,
                Err(e) => {
                    if print && (held || all) {
                        code = refused(name, e);
                    }
                    return;
                }
            };
            let exited = record.head.exit.is_some();
            // Listed: running ones (their lock is held), and with -a exited ones. A stale
            // entry (its husk run died without recording an end) is no container.
            if !(exited && all || !exited && held) {
                return;
            }
            if !quiet {
                row(Some((name, &record)), now, &mut widths, print);
            } else if print {
                Line::new().bytes(name).write_to(1);
            }
        });
    }
    code
}

/// Calls `each` with every entry's name, in byte order: a scan of the registry for each
/// name, the smallest after the last (no allocator to sort with, and registries are small).
fn by_name(registry: &Registry, each: &mut dyn FnMut(&[u8])) {
    let mut last = heapless::Vec::<u8, { crate::args::MAX_NAME }>::new();
    loop {
        // Empty while there is none: a name never is.
        let mut next = heapless::Vec::<u8, { crate::args::MAX_NAME }>::new();
        let _ = rustix::fs::seek(registry.fd(), SeekFrom::Start(0));
        let mut buf = [MaybeUninit::<u8>::uninit(); 2048];
        let mut dir = RawDir::new(registry.fd(), &mut buf);
        while let Some(Ok(entry)) = dir.next() {
            let name = entry.file_name().to_bytes();
            if crate::args::valid_name(name) && name > &last[..] && (next.is_empty() || name < &next[..]) {
                next.clear();
                let _ = next.extend_from_slice(name);
            }
        }
        if next.is_empty() {
            return;
        }
        each(&next);
        last = next;
    }
}

/// One line of `husk ps`: a container's row (`entry`, its name and record) or the titles
/// (None), each field but COMMAND padded to its column's width in `widths`. Written when
/// `print`; else only measured: `widths` grow to what its fields need.
fn row(entry: Option<(&[u8], &Record)>, now: u64, widths: &mut [usize; 4], print: bool) {
    let mut line = Line::new();
    for (k, title) in crate::text::words(TITLES).enumerate() {
        // The field's text as it is, then as shown.
        let mut text = Line::new();
        match entry {
            None => text.bytes(title),
            Some((name, record)) => {
                let head = &record.head;
                match (k, head.exit) {
                    (0, _) => text.bytes(name),
                    (1, None) => text.num(head.pid as u64),
                    (1, Some(_)) => text.str("-"),
                    (2, None) => ago(&mut text, now.saturating_sub(head.created)),
                    (2, Some(exit)) => {
                        text.str("Exited (").num(exit.status as u64).str(") ");
                        ago(&mut text, now.saturating_sub(exit.ended)).str(" ago")
                    }
                    // Decoded, with the NULs between a command's arguments as spaces.
                    _ => {
                        for b in if k == 3 { record.rootfs } else { record.command }.bytes() {
                            text.bytes(&[if b == 0 { b' ' } else { b }]);
                        }
                        &mut text
                    }
                }
            }
        };
        // Safe for the caller's terminal: the container chose these bytes (out::Line::quoted
        // cuts them at out::MAX_QUOTED, with `...`).
        let mut field = Line::new();
        field.quoted(text.as_bytes());
        let Some(width) = widths.get_mut(k) else {
            line.bytes(field.as_bytes());
            break;
        };
        let need = chars(field.as_bytes());
        column(&mut line, field.as_bytes(), need, *width);
        if !print {
            *width = (*width).max(need);
        }
    }
    if print {
        line.write_to(1);
    }
}

/// A duration as ps shows it: `42s`, `5m`, `3h`, `4d` (whole units, rounded down).
fn ago(line: &mut Line, seconds: u64) -> &mut Line {
    let (unit, size) = match seconds {
        0..60 => ("s", 1),
        60..3600 => ("m", 60),
        3600..86_400 => ("h", 3600),
        _ => ("d", 86_400),
    };
    line.num(seconds / size).str(unit)
}

/// How many characters a terminal shows for `text`, which `Line::shown` made safe (so
/// valid UTF-8): the bytes that start a character.
fn chars(text: &[u8]) -> usize {
    text.iter().filter(|&&b| b & 0xc0 != 0x80).count()
}

/// `text` (`chars` characters wide) padded with spaces to `width`, then two more (two
/// after a value wider than its column: one that changed since the widths were taken).
fn column(line: &mut Line, text: &[u8], chars: usize, width: usize) {
    line.bytes(text);
    for _ in chars..width.max(chars) + 2 {
        line.str(" ");
    }
}

/// `husk kill NAME [SIGNAL]`: to the container's init through a verified pidfd.
#[inline(never)] // a role's own frame: see main.rs
pub fn kill(name: &[u8], signal: i32, process: &Process) -> u8 {
    if let Err(code) = registry(process) {
        return code;
    }
    let result =
        crate::exec::find(name, process).and_then(|(pidfd, _)| sys::pidfd_signal(pidfd.as_fd(), signal));
    match result {
        Ok(()) => 0,
        Err(e) => refused(name, e),
    }
}

/// `husk logs [-f] NAME`: the output of a detached container, running or exited; with
/// `-f`, then what it writes until it ends.
#[inline(never)] // a role's own frame: see main.rs
pub fn logs(name: &[u8], follow: bool, process: &Process) -> u8 {
    // ESRCH, as exec and kill say of a name no container has.
    const HINT: &str = "no detached container has that name";
    let (_, found) = match entry(name, process, "logs", HINT) {
        Ok(entry) => entry,
        Err(code) => return code,
    };
    let log = match found.open(c"log") {
        Ok(log) => log,
        Err(e) => return missing(name, e, "logs", HINT),
    };
    // Byte for byte what the container wrote, as `docker logs`; a note on stderr when the
    // oldest output went to keep the log within --log-size.
    let (dropped, at) = crate::log::copy_from(log.as_fd(), 1, 0);
    if dropped > 0 {
        let mut line = Line::new();
        line.str("husk: logs ").bytes(name).str(": the first ").num(dropped);
        line.str(" bytes were dropped (the log keeps the last --log-size bytes)");
        line.write_to(2);
    }
    if follow {
        interruptible(process);
        follow_log(&found, log.as_fd(), at);
    }
    0
}

/// `logs -f`: copies what the container writes into `log` from `at` on until it ends.
/// Sleeps in inotify between writes: the entry's directory is watched for the logger's
/// writes and its last close, and for the record rewritten (the end) or removed.
fn follow_log(found: &Found, log: BorrowedFd, mut at: u64) {
    use rustix::fs::inotify::{self, CreateFlags, WatchFlags};
    let mut path = [0; 40];
    let events = WatchFlags::MODIFY | WatchFlags::CLOSE_WRITE | WatchFlags::MOVED_TO | WatchFlags::DELETE;
    let watch = inotify::init(CreateFlags::CLOEXEC).and_then(|fd| {
        inotify::add_watch(&fd, crate::procfs::fd_path(found.fd(), &mut path), events)?;
        Ok(fd)
    });
    // Watched first, then looked at: whatever happens after the look wakes the read.
    loop {
        at = crate::log::copy_from(log, 1, at).1;
        let Ok(watch) = &watch else { return };
        if ended(found) {
            crate::log::copy_from(log, 1, at);
            return;
        }
        let mut events = [0u8; 1024];
        if let Err(e) = rustix::io::read(watch, &mut events[..])
            && e != Errno::INTR
        {
            return;
        }
    }
}

/// `husk wait NAME`: blocks until the container ends, then prints its exit status.
#[inline(never)] // a role's own frame: see main.rs
pub fn wait(name: &[u8], process: &Process) -> u8 {
    let (_, found) = match entry(name, process, "container", NO_CONTAINER) {
        Ok(entry) => entry,
        Err(code) => return code,
    };
    interruptible(process);
    // Blocks while its husk run holds the lock: until it has recorded the end and exited.
    let lock = found.lock(FlockOperation::LockShared);
    let status = match found.exit() {
        Ok(exit) => exit.map(|exit| exit.status),
        // Removed as it ended (--rm): the status is in the lock file we hold.
        Err(Errno::SRCH) => lock.ok().and_then(|lock| registry::noted_exit(lock.as_fd())),
        Err(e) => return refused(name, e),
    };
    match status {
        Some(status) => {
            Line::new().num(status as u64).write_to(1);
            0
        }
        None => {
            missing(name, Errno::SRCH, "wait", "it ended without a recorded status (its husk run was killed)")
        }
    }
}

/// `husk stop [-t SECONDS] NAME`: SIGTERM to the container's init, which forwards it to
/// COMMAND; SIGKILL to the init (and so to the whole container) if it has not ended after
/// `timeout_ms`; returns once its end is recorded. An exited container: nothing to do.
#[inline(never)] // a role's own frame: see main.rs
pub fn stop(name: &[u8], timeout_ms: u64, process: &Process) -> u8 {
    let (_, found) = match entry(name, process, "container", NO_CONTAINER) {
        Ok(entry) => entry,
        Err(code) => return code,
    };
    interruptible(process);
    match signal(name, process, SIGTERM) {
        Ok(Some(pidfd)) => {
            if !ends_within(pidfd.as_fd(), Some(timeout_ms)) {
                let _ = sys::pidfd_signal(pidfd.as_fd(), SIGKILL);
                ends_within(pidfd.as_fd(), None);
            }
        }
        // Exited: its end is recorded, nothing to do.
        Ok(None) if found.exited() => return 0,
        // Not running any more: its husk run may be recording the end.
        Ok(None) => {}
        Err(code) => return code,
    }
    wait_unlocked(&found);
    0
}

/// Whether the process of `pidfd` ends within `timeout_ms` (None: however long it takes).
/// One poll(2): husk sets no signal handler, so nothing interrupts it but what ends husk
/// (a stop and continue restarts it with the time left).
fn ends_within(pidfd: BorrowedFd, timeout_ms: Option<u64>) -> bool {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let timeout =
        timeout_ms.map(|ms| Timespec { tv_sec: (ms / 1000) as i64, tv_nsec: (ms % 1000 * 1_000_000) as i64 });
    // A pidfd polls readable once its process has ended.
    !matches!(poll(&mut [PollFd::new(&pidfd, PollFlags::IN)], timeout.as_ref()), Ok(0))
}

/// `husk rm [-f] NAME`: removes an exited container's record and log. A running one is
/// refused, or with `-f` killed (SIGKILL to its init) and removed once its end is recorded.
#[inline(never)] // a role's own frame: see main.rs
pub fn rm(name: &[u8], force: bool, process: &Process) -> u8 {
    let (registry, found) = match entry(name, process, "container", NO_CONTAINER) {
        Ok(entry) => entry,
        Err(code) => return code,
    };
    // Removed under the lock, taken exclusively: while it is held no container starts or
    // ends there. Free at once: nothing runs (exited, or stale).
    let lock = match found.lock(FlockOperation::NonBlockingLockExclusive) {
        Err(Errno::WOULDBLOCK) => {
            // Held: the container runs, unless its end is recorded and its husk run is on
            // its way out (or another husk looks at it this instant).
            if !found.exited() {
                if !force {
                    let hint = "it is running (husk stop NAME first, or husk rm -f NAME)";
                    return Failure::new("rm", name, Errno::BUSY).with_hint(hint).report();
                }
                // Not found running: ending already, its husk run lets go of the lock in a
                // moment. A record that does not parse: nothing to kill it by, no waiting.
                if let Err(code) = signal(name, process, SIGKILL) {
                    return code;
                }
            }
            interruptible(process);
            found.lock(FlockOperation::LockExclusive)
        }
        other => other,
    };
    match lock {
        Ok(_lock) => {
            registry.remove(name, &found);
            0
        }
        // Its lock file gone: someone removed it first (its husk run with --rm, another rm).
        Err(e) => missing(name, e, "container", NO_CONTAINER),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_whole_units() {
        let cases = [
            (0, "0s"),
            (59, "59s"),
            (60, "1m"),
            (3599, "59m"),
            (3600, "1h"),
            (86_399, "23h"),
            (86_400, "1d"),
            (200_000, "2d"),
        ];
        for (seconds, want) in cases {
            let mut line = Line::new();
            ago(&mut line, seconds);
            assert_eq!(line.as_bytes(), want.as_bytes(), "{seconds}");
        }
    }

    #[test]
    fn widths_count_characters() {
        assert_eq!(chars(b"abc"), 3);
        assert_eq!(chars("r\u{e9}sum\u{e9} \u{2713}".as_bytes()), 8);
        let mut line = Line::new();
        column(&mut line, "\u{e9}".as_bytes(), 1, 3);
        assert_eq!(line.as_bytes(), "\u{e9}    ".as_bytes(), "to the width, then two spaces");
        let mut line = Line::new();
        column(&mut line, b"wider", 5, 3);
        assert_eq!(line.as_bytes(), b"wider  ", "two spaces after a value wider than its column");
    }
}
