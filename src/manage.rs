//! `husk ps`, `husk kill`, `husk logs`: looking at and stopping named containers.

use core::mem::MaybeUninit;

use rustix::fd::AsFd;
use rustix::fs::RawDir;
use rustix::io::Errno;

use crate::out::{self, Line};
use crate::registry::Registry;
use crate::rt::{Process, sys};
use crate::status;

/// `husk ps [-q]`: NAME PID UPTIME ROOTFS COMMAND for every live container.
#[inline(never)] // a role's own frame: see main.rs
pub fn ps(quiet: bool, process: &Process) -> u8 {
    if !quiet {
        out::print("NAME                PID       UPTIME  ROOTFS                  COMMAND\n");
    }
    let registry = match Registry::open(process, false) {
        Ok(registry) => registry,
        Err(failure) if failure.errno == Errno::NOENT => return 0, // nothing ever ran here
        Err(failure) => return failure.report(),
    };
    let mut buf = [MaybeUninit::<u8>::uninit(); 2048];
    let mut dir = RawDir::new(registry.fd(), &mut buf);
    let now = sys::realtime_s();
    let mut code = 0;
    while let Some(Ok(entry)) = dir.next() {
        let name = entry.file_name().to_bytes();
        if name.starts_with(b".") {
            continue;
        }
        let Ok(state) = registry.read(name) else {
            continue; // stale: its husk run is gone
        };
        let record = match state.record() {
            Ok(record) => record,
            Err(e) => {
                crate::exec::not_found(name, e).report();
                code = status::FAILURE;
                continue;
            }
        };
        let mut line = Line::new();
        if quiet {
            line.bytes(name);
        } else {
            column(&mut line, name, 20);
            let mut number = Line::new();
            number.num(record.head.pid as u64);
            column(&mut line, number.as_bytes(), 10);
            let mut uptime = Line::new();
            uptime.num(now.saturating_sub(record.head.created)).str("s");
            column(&mut line, uptime.as_bytes(), 8);
            column(&mut line, Decoded::of(record.rootfs).shown().as_bytes(), 24);
            line.bytes(Decoded::of(record.command).shown().as_bytes());
        }
        line.write_to(1);
    }
    code
}

/// A record's field decoded (up to out::MAX_QUOTED bytes; `...` marks a cut), with the
/// NULs between a command's arguments as spaces.
struct Decoded {
    bytes: heapless::Vec<u8, { out::MAX_QUOTED }>,
    cut: bool,
}

impl Decoded {
    fn of(field: crate::registry::Encoded) -> Decoded {
        let mut decoded = Decoded { bytes: heapless::Vec::new(), cut: false };
        for b in field.bytes() {
            if decoded.bytes.push(if b == 0 { b' ' } else { b }).is_err() {
                decoded.cut = true;
                break;
            }
        }
        decoded
    }

    /// Safe for the caller's terminal: the container chose these bytes (out::Line::shown).
    fn shown(&self) -> Line {
        let mut line = Line::new();
        line.shown(&self.bytes);
        if self.cut {
            line.str("...");
        }
        line
    }
}

/// `text` padded with spaces to `width` (at least one space after).
fn column(line: &mut Line, text: &[u8], width: usize) {
    line.bytes(text);
    for _ in text.len()..width.max(text.len() + 1) {
        line.str(" ");
    }
}

/// `husk kill NAME [SIGNAL]`: to the container's init through a verified pidfd.
#[inline(never)] // a role's own frame: see main.rs
pub fn kill(name: &[u8], signal: i32, process: &Process) -> u8 {
    let result =
        crate::exec::find(name, process).and_then(|(pidfd, _)| sys::pidfd_signal(pidfd.as_fd(), signal));
    match result {
        Ok(()) => 0,
        Err(e) => {
            crate::exec::not_found(name, e).report();
            status::FAILURE
        }
    }
}

/// `husk logs NAME`: the output of a detached container, so far.
#[inline(never)] // a role's own frame: see main.rs
pub fn logs(name: &[u8], process: &Process) -> u8 {
    let log = Registry::open(process, false).map_err(|f| f.errno).and_then(|r| r.open_file(name, c"log"));
    match log {
        Ok(log) => {
            // Byte for byte what the container wrote, as `docker logs`; a note on stderr
            // when the oldest output went to keep the log within --log-size.
            let dropped = crate::log::copy(log.as_fd(), 1);
            if dropped > 0 {
                let mut line = Line::new();
                line.str("husk: logs ").bytes(name).str(": the first ").num(dropped);
                line.str(" bytes were dropped (the log keeps the last --log-size bytes)");
                line.write_to(2);
            }
            0
        }
        Err(e) => {
            // ESRCH, as exec and kill say of a name no container has.
            let e = if e == Errno::NOENT { Errno::SRCH } else { e };
            out::error_with_hint(
                "logs",
                name,
                e,
                if e == Errno::SRCH { "no detached container has that name" } else { "" },
            );
            status::FAILURE
        }
    }
}
