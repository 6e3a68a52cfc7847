//! `husk init`: run COMMAND as the init of a container (or as a subreaper anywhere), the
//! way tini, catatonit and dumb-init do.

use core::ffi::CStr;

use rustix::fd::AsFd;
use rustix::fs::{Mode, OFlags, open};

use crate::args::InitSpec;
use crate::out::Line;
use crate::pid1::{Place, Router, Supervisor};
use crate::rt::Process;
use crate::rt::sys;
use crate::spawn::{self, CallerSignals, Dir, Launch};
use crate::status::Ending;

/// The command run when none is given (only when started under the name `init`).
pub const DEFAULT_COMMAND: &CStr = c"/bin/sh";

/// Role 1: start COMMAND, serve as its init, and return the exit code to end with.
#[inline(never)] // a role's own frame: see main.rs
pub fn run(spec: &InitSpec, process: &Process) -> u8 {
    let signals = CallerSignals::take_over(process);
    let place = Place::take();
    let path = process.getenv(b"PATH").unwrap_or(spawn::DEFAULT_PATH);
    let code = match run_command(spec, process, process.envp(), path, &signals, place, &mut |sig| Some(sig)) {
        Ok((supervisor, ending)) => {
            if let Some(ms) = spec.grace_ms {
                supervisor.end_the_rest(ms);
            }
            ending.exit_code()
        }
        Err(code) => code,
    };
    if spec.verbosity > 0 {
        let mut line = Line::new();
        line.str("husk: exiting with ").num(code as u64);
        line.write_to(2);
    }
    code
}

/// Starts COMMAND (or the default shell), steps out of the caller's way, and supervises it
/// until it ends, forwarding signals as `-r` and then `route` say. Its ending comes back
/// remapped by `-e`; `Err` carries the exit code for a COMMAND that never started.
pub fn run_command(
    spec: &InitSpec,
    process: &Process,
    envp: crate::rt::CStrArray<'_>,
    path: &[u8],
    signals: &CallerSignals,
    place: Place,
    route: Router,
) -> Result<(Supervisor, Ending), u8> {
    let mut default_argv = crate::rt::CStrSlots::<2>::new();
    let (name, argv) = match spec.command {
        Some(i) => (process.arg(i), process.argv_from(i)),
        None => {
            let mut argv = default_argv.writer();
            argv.push(DEFAULT_COMMAND);
            (DEFAULT_COMMAND, argv.finish())
        }
    };
    if let Some(sig) = spec.parent_death {
        let parent = rustix::process::getppid();
        let _ = sys::set_parent_death_signal(sig);
        // The parent may have died before the request took effect: then send it ourselves.
        if rustix::process::getppid() != parent {
            let _ = sys::kill(rustix::process::getpid().as_raw_nonzero().get(), sig);
        }
    }
    // husk leaves the caller's directory before COMMAND starts, so that even a COMMAND that
    // looks at once (at /proc/1/cwd) finds husk at `/`, and COMMAND starts in it all the
    // same, through a descriptor (close-on-exec: COMMAND does not get it). Should the
    // directory not open, COMMAND gets it as husk's cwd, which step_aside leaves after.
    let here = open(c".", OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).ok();
    if here.is_some() {
        let _ = rustix::process::chdir(c"/");
    }
    let launch = Launch {
        name,
        argv,
        envp,
        path,
        take_terminal: spawn::holds_terminal(),
        user: None,
        groups: &[],
        cwd: here.as_ref().map(|fd| Dir::Open(fd.as_fd())),
        caps: None,
    };
    let child = spawn::spawn(&launch, signals).map_err(|failure| failure.report())?;
    drop(here);
    step_aside();
    if spec.verbosity > 0 {
        let mut line = Line::new();
        line.str("husk: started pid ").num(child as u64).str(": ").quoted(name.to_bytes());
        line.write_to(2);
    }
    let supervisor = Supervisor { child, group: spec.process_group, place };
    let mut forward = |sig| spec.rewrite.apply(sig).and_then(&mut *route);
    let ending = spec.remap.apply(supervisor.watch(&mut forward, spec.verbosity));
    Ok((supervisor, ending))
}

/// Once COMMAND runs, husk keeps nothing of the caller's: its cwd is `/` (so it pins no
/// mount) and it holds no descriptor above 2 (COMMAND has its own copies).
fn step_aside() {
    let _ = rustix::process::chdir(c"/");
    let _ = sys::close_from(3);
}
