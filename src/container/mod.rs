//! `husk run`: a container from a [`Config`](crate::config::Config). The map:
//!
//! - here: check the input before anything changes, then a plain run, or a named one
//!   (`named.rs`: claim the name, record the container, `--detach`);
//! - `host.rs`, the host side: the container's cgroup, clone3 into a new PID namespace,
//!   the network namespace made beside the init, supervising the init, the report at the
//!   end;
//! - `init.rs`, the container's PID 1: its namespaces, hostname and root (`rootfs.rs` walks
//!   the config's mounts), then the gate, then COMMAND, then reaping and forwarding;
//! - `sync.rs`: every handshake between the two (the network namespace, the gate).
//!
//! Creating and starting are two steps: the init builds everything up to the gate and
//! starts COMMAND only once the host side opens it (`husk run` opens it as soon as it has
//! what it must do first: the record of a named container).

mod host;
mod init;
mod named;
pub mod report;
pub mod sync;

use rustix::fs::{Mode, OFlags, open, stat};
use rustix::io::Errno;

use crate::args::RunSpec;
use crate::caps;
use crate::config::{Config, MountKind, Root};
use crate::cpath::CPath;
use crate::error::{Failure, fail};
use crate::rt::{Process, sys};
use crate::spawn::{self, CallerSignals};

/// `husk run`: returns the exit code to end with.
#[inline(never)] // a role's own frame: see main.rs
pub fn run(spec: &RunSpec, process: &Process) -> u8 {
    let config = spec.config();
    // Bad input is reported before anything changes anywhere (README, "Errors").
    if let Err(failure) = check_input(&config) {
        return failure.report();
    }
    // Non-dumpable before the container exists, and so is every process forked from here
    // on (the init, the detached supervisor, COMMAND until its execve, which gives COMMAND
    // the usual state back): nothing in the container, root included, may ptrace them, read
    // their memory or open /proc/PID/exe or fd/N (the runc CVE-2019-5736 class; ptrace(2),
    // "Ptrace access mode checking").
    if let Err(e) = sys::make_non_dumpable() {
        return Failure::new("prctl dumpable", b"", e).report();
    }
    let signals = CallerSignals::take_over(process);
    if spec.name.is_none() && !spec.detach {
        // Decided here, where husk's group is visible: inside the new PID namespace the
        // terminal's foreground group is outside and reads as 0.
        let caller = host::Caller { process, signals: &signals, take_terminal: spawn::holds_terminal() };
        return host::start(&config, &caller, None, None);
    }
    named::run(spec, &config, process, &signals)
}

/// Checks what can be checked without changing anything: the capabilities asked for are
/// husk's to give, the root filesystem is a directory and every bind source exists.
#[inline(never)] // out of the init's frame: see host::record
fn check_input<'a>(config: &Config<'a>) -> Result<(), Failure<'a>> {
    if let Some(name) = caps::missing_capability(config.process.caps_added) {
        return Err(Failure::new("cap-add", name, Errno::PERM));
    }
    let mut path = CPath::new();
    if let Root::Dir { path: rootfs, .. } = config.root {
        let c = path.of(&[rootfs]).map_err(fail("rootfs", rootfs))?;
        open(c, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .map_err(fail("rootfs", rootfs))?;
    }
    for mount in config.mounts.iter().filter(|m| matches!(m.kind, MountKind::Bind { .. })) {
        let c = path.of(&[mount.source]).map_err(fail("bind", mount.source))?;
        stat(c).map_err(fail("bind", mount.source))?;
    }
    Ok(())
}
