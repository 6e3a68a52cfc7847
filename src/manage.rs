//! `husk ps`, `husk kill`, `husk logs`: looking at and stopping named containers.

use core::mem::MaybeUninit;

use rustix::fd::AsFd;
use rustix::fs::RawDir;
use rustix::io::Errno;

use crate::out::{self, Line};
use crate::rt::{Process, sys};
use crate::state::{self, Registry, State};
use crate::status;

/// `husk ps [-q]`: NAME PID UPTIME ROOTFS COMMAND for every live container.
#[inline(never)] // a role's own frame: see main.rs
pub fn ps(quiet: bool, process: &Process) -> u8 {
    if !quiet {
        out::print("NAME                PID       UPTIME  ROOTFS                  COMMAND\n");
    }
    let registry = match Registry::open(process, false) {
        Ok(registry) => registry,
        Err(Errno::NOENT) => return 0, // nothing ever ran here
        Err(e) => {
            out::error("state", b"", e);
            return status::FAILURE;
        }
    };
    let mut buf = [MaybeUninit::<u8>::uninit(); 2048];
    let mut dir = RawDir::new(registry.fd(), &mut buf);
    let now = sys::realtime_s();
    while let Some(Ok(entry)) = dir.next() {
        let name = entry.file_name().to_bytes();
        if name.starts_with(b".") {
            continue;
        }
        let mut state = State::new();
        if registry.read(name, &mut state).is_err() {
            continue; // stale: its husk run is gone
        }
        let mut line = Line::new();
        if quiet {
            line.bytes(name);
        } else {
            column(&mut line, name, 20);
            column(&mut line, state.get(state::PID).unwrap_or(b"-"), 10);
            let up = now.saturating_sub(state.number(state::CREATED).unwrap_or(now));
            let mut uptime = Line::new();
            uptime.num(up).str("s");
            column(&mut line, uptime.as_bytes(), 8);
            column(&mut line, state.get(state::ROOTFS).unwrap_or(b"-"), 24);
            line.bytes(state.get(state::COMMAND).unwrap_or(b""));
        }
        line.write_to(1);
    }
    0
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
    let mut state = State::new();
    let result = crate::exec::find(name, process, &mut state)
        .and_then(|pidfd| sys::pidfd_signal(pidfd.as_fd(), signal));
    match result {
        Ok(()) => 0,
        Err(e) => {
            out::error_with_hint(
                "container",
                name,
                e,
                if e == Errno::SRCH { "no running container has that name (husk ps)" } else { "" },
            );
            status::FAILURE
        }
    }
}

/// `husk logs NAME`: the output of a detached container, so far.
#[inline(never)] // a role's own frame: see main.rs
pub fn logs(name: &[u8], process: &Process) -> u8 {
    let log = Registry::open(process, false).and_then(|r| r.open_file(name, c"log"));
    match log {
        Ok(log) => {
            let mut buf = [0u8; 4096];
            // A slice: rustix's read is generic, and each array size would be a copy of its own.
            while let Ok(n @ 1..) = rustix::io::read(&log, &mut buf[..]) {
                sys::write_all(1, &buf[..n]);
            }
            0
        }
        Err(e) => {
            out::error_with_hint(
                "logs",
                name,
                e,
                if e == Errno::NOENT { "no detached container has that name" } else { "" },
            );
            status::FAILURE
        }
    }
}
