//! `hooks` (runtime-spec config.md "POSIX-platform Hooks"): programs run at points of the
//! lifecycle, each given the container's state as JSON on its standard input, each with its
//! `timeout` (seconds; none: no limit). A failing prestart, createRuntime, createContainer
//! or startContainer hook fails the operation; a failing poststart or poststop hook is a
//! warning (runtime.md "Lifecycle").

use rustix::fd::AsFd;
use rustix::io::Errno;
use rustix::pipe::{PipeFlags, pipe_with};

use super::bundle::Arena;
use crate::error::Failure;
use crate::json::Value;
use crate::rt::sys;

/// Runs each hook of `hooks.<point>` in order with `state` on its stdin; the first that
/// fails (exit status, signal, timeout, not found) ends the run with its failure.
pub fn run(doc: Value<'static>, point: &'static [u8], state: &[u8]) -> Result<(), Failure<'static>> {
    let Some(list) = doc.path(&[b"hooks", point]) else { return Ok(()) };
    for hook in list.items() {
        run_one(hook, point, state)?;
    }
    Ok(())
}

/// As `run`, a failure only a warning (poststart, poststop).
/// Each hook is run, whatever the one before it did (runtime.md "Lifecycle": the remaining
/// hooks and the lifecycle continue).
pub fn run_warning(doc: Value<'static>, point: &'static [u8], state: &[u8]) {
    for hook in doc.path(&[b"hooks", point]).into_iter().flat_map(Value::items) {
        if let Err(failure) = run_one(hook, point, state) {
            crate::out::message(&[b"warning: a ", point, b" hook failed; going on"]);
            let _ = failure.report();
        }
    }
}

fn run_one(hook: Value<'static>, point: &'static [u8], state: &[u8]) -> Result<(), Failure<'static>> {
    let fail = |e: Errno| Failure::new("hook", point, e);
    let mut arena = Arena::new(hook.raw().len() * 2 + 4096).map_err(fail)?;
    let path = hook.get(b"path").and_then(|p| arena.string(p)).ok_or(fail(Errno::INVAL))?;
    let list = |key: &[u8], arena: &mut Arena| -> Result<crate::rt::CStrArray<'static>, Failure<'static>> {
        let items = hook.get(key);
        let count = items.map_or(0, |v| v.items().count());
        let strings = items.into_iter().flat_map(Value::items).map(|v| arena.string(v).unwrap_or(c""));
        crate::rt::c_str_array(count, strings).map_err(fail)
    };
    // No args: the path alone, as argv[0].
    let args = if hook.get(b"args").is_some_and(|a| a.items().next().is_some()) {
        list(b"args", &mut arena)?
    } else {
        crate::rt::c_str_array(1, core::iter::once(path)).map_err(fail)?
    };
    let env = list(b"env", &mut arena)?;
    let timeout = hook.get(b"timeout").and_then(|t| t.as_i64());
    if timeout.is_some_and(|t| t <= 0) {
        return Err(fail(Errno::INVAL).with_hint("a timeout must be more than 0"));
    }
    let (read, write) = pipe_with(PipeFlags::CLOEXEC).map_err(fail)?;
    let child = sys::fork().map_err(fail)?;
    if child == 0 {
        // The hook: the state on stdin, the runtime's stdout and stderr.
        drop(write);
        if rustix::stdio::dup2_stdin(&read).is_err() {
            sys::exit(127);
        }
        let _ = sys::close_from(3);
        let e = sys::execve(path, args, env);
        crate::out::error("hook", path.to_bytes(), e);
        sys::exit(127);
    }
    drop(read);
    // The hook may not read it all: a short or failed write is its business.
    let _ = rustix::io::write(&write, state);
    drop(write);
    let pidfd = rustix::process::pidfd_open(
        rustix::process::Pid::from_raw(child).ok_or(fail(Errno::SRCH))?,
        rustix::process::PidfdFlags::empty(),
    )
    .map_err(fail)?;
    let limit = timeout.map(|t| rustix::event::Timespec { tv_sec: t.min(86_400), tv_nsec: 0 });
    let mut fds = [rustix::event::PollFd::new(&pidfd, rustix::event::PollFlags::IN)];
    let ended = loop {
        match rustix::event::poll(&mut fds, limit.as_ref()) {
            Err(Errno::INTR) => continue,
            other => break other.map_err(fail)?,
        }
    };
    if ended == 0 {
        let _ = sys::pidfd_signal(pidfd.as_fd(), crate::signals::SIGKILL);
    }
    let pid = rustix::process::Pid::from_raw(child);
    let status = rustix::process::waitpid(pid, rustix::process::WaitOptions::empty());
    let passed = matches!(status, Ok(Some((_, s))) if s.exit_status() == Some(0));
    match (ended, passed) {
        (0, _) => Err(fail(Errno::TIMEDOUT).with_hint("the hook ran past its timeout")),
        (_, true) => Ok(()),
        _ => Err(fail(Errno::CHILD).with_hint("the hook failed (a status other than 0)")),
    }
}
