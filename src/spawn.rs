//! Starting COMMAND: fork, put it in its own process group (and in the terminal's
//! foreground), give back the caller's signal state, search PATH, execve — and carry an exec
//! failure back to the parent over a close-on-exec pipe.

use core::ffi::CStr;

use rustix::fd::BorrowedFd;
use rustix::io::Errno;
use rustix::pipe::{PipeFlags, pipe_with};
use rustix::process::{Pid, getpgrp, getpid, setpgid};
use rustix::termios::{tcgetpgrp, tcsetpgrp};

use crate::error::{Failure, fail};
use crate::rt::Process;
use crate::rt::sys::{self, Disposition, SigSet};
use crate::signals::SIGCHLD;
use crate::status;

/// The signal state husk was started with, kept to hand back to COMMAND unchanged.
pub struct CallerSignals {
    mask: SigSet,
    sigchld_ignored: bool,
}

impl CallerSignals {
    /// Records the caller's signal state and makes sure SIGCHLD is not ignored: an ignored
    /// SIGCHLD would make the kernel reap children itself and lose their status (wait(2),
    /// NOTES). All signals are already blocked since husk's first instruction (rt::Process).
    pub fn take_over(process: &Process) -> CallerSignals {
        let mask = process.caller_mask();
        let sigchld_ignored = sys::signal_disposition(SIGCHLD, None) == Ok(Disposition::Ignore);
        if sigchld_ignored {
            let _ = sys::signal_disposition(SIGCHLD, Some(Disposition::Default));
        }
        CallerSignals { mask, sigchld_ignored }
    }

    /// In the child, just before execve: the caller's mask and SIGCHLD disposition again.
    /// Other dispositions were never changed (husk installs no handlers).
    fn restore(&self) {
        if self.sigchld_ignored {
            let _ = sys::signal_disposition(SIGCHLD, Some(Disposition::Ignore));
        }
        sys::set_signal_mask(self.mask);
    }
}

/// What to run and with which environment.
pub struct Launch<'a> {
    /// COMMAND's name as given (argv[0] of the new program).
    pub name: &'a CStr,
    /// NULL-terminated argv, `name` first.
    pub argv: crate::rt::CStrArray<'a>,
    /// NULL-terminated environment.
    pub envp: crate::rt::CStrArray<'a>,
    /// The PATH to search when `name` has no slash.
    pub path: &'a [u8],
    /// Make COMMAND the terminal's foreground group (see `holds_terminal`).
    pub take_terminal: bool,
    /// Run as UID:GID with these supplementary groups; None keeps husk's identity.
    pub user: Option<(u32, u32)>,
    pub groups: &'a [u32],
    /// Change to this directory (after taking the identity); None keeps husk's.
    pub cwd: Option<Dir<'a>>,
    /// The capabilities COMMAND keeps, with no_new_privs; None leaves them as they are.
    pub caps: Option<crate::caps::Privileges>,
}

/// A working directory for COMMAND: a path, or one held open (`O_PATH`), so that husk can
/// have left it before COMMAND starts.
#[derive(Clone, Copy)]
pub enum Dir<'a> {
    Path(&'a CStr),
    Open(BorrowedFd<'a>),
}

/// Whether husk's process group holds the terminal on stdin: only then does COMMAND take
/// it, so a husk started in the background never steals the terminal from the shell.
pub fn holds_terminal() -> bool {
    tcgetpgrp(sys::stdio(0)).ok() == Some(getpgrp())
}

/// The step of becoming COMMAND that failed, as carried over the pipe.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u32)]
pub enum Step {
    Exec = 0,
    Chdir = 1,
    SetGroups = 2,
    SetGid = 3,
    SetUid = 4,
    Capabilities = 5,
}

impl Step {
    /// The failure of this step, carried back over the pipe, as the parent reports it.
    fn failure<'l>(self, launch: &Launch<'l>, errno: Errno) -> Failure<'l> {
        let (step, path): (&'static str, &'l [u8]) = match self {
            // An empty name would leave the message without one: show it quoted.
            Step::Exec if launch.name.to_bytes().is_empty() => (crate::error::EXEC, b"''"),
            Step::Exec => (crate::error::EXEC, launch.name.to_bytes()),
            Step::Chdir => match launch.cwd {
                Some(Dir::Path(path)) => ("chdir", path.to_bytes()),
                _ => ("chdir", b""),
            },
            Step::SetGroups => ("setgroups", b""),
            Step::SetGid => ("setgid", b""),
            Step::SetUid => ("setuid", b""),
            Step::Capabilities => ("capabilities", b""),
        };
        Failure::new(step, path, errno)
    }
}

/// The default search path when the environment has none (the kernel starts init without
/// PATH): the usual FHS directories, sbin first as an init expects.
pub const DEFAULT_PATH: &[u8] = DEFAULT_PATH_ENV.to_bytes().split_at(b"PATH=".len()).1;

/// The same as an environment entry, for a COMMAND whose environment has no PATH.
pub const DEFAULT_PATH_ENV: &CStr = c"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Starts COMMAND and returns its pid once it has been exec'd, or why it was not: a step of
/// becoming COMMAND (exec's failures give 126/127 when reported, the others 125).
pub fn spawn<'l>(launch: &Launch<'l>, signals: &CallerSignals) -> Result<i32, Failure<'l>> {
    let (read_end, write_end) = pipe_with(PipeFlags::CLOEXEC).map_err(fail("pipe", b""))?;
    // The child borrows our memory until its execve (vfork-style: no copy of the address
    // space, which a fork of even a small process costs) and we wait until then, so it is
    // in its own process group before anyone can signal that group.
    let pid = sys::vfork_run(&mut || {
        let (step, errno) = become_command(launch, signals);
        let mut record = [0u8; 8];
        record[..4].copy_from_slice(&(step as u32).to_ne_bytes());
        record[4..].copy_from_slice(&errno.raw_os_error().to_ne_bytes());
        sys::write_all(rustix::fd::AsRawFd::as_raw_fd(&write_end), &record);
        sys::exit(status::exec_failure_code(errno))
    })
    .map_err(fail("fork", b""))?;
    drop(write_end);
    // The verdict: EOF means the close-on-exec write end vanished in a successful execve;
    // 8 bytes are the step and errno of a failure. Signals stay blocked (and pending)
    // meanwhile.
    let mut buf = [0u8; 8];
    let mut got = 0;
    while got < buf.len() {
        match rustix::io::read(&read_end, &mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(Errno::INTR) => {}
            Err(e) => return Err(Failure::new("read", b"", e)),
        }
    }
    if got == buf.len() {
        // The child exits right after reporting; reap it so no zombie stays behind.
        let _ = rustix::process::waitpid(
            Some(Pid::from_raw(pid).unwrap()),
            rustix::process::WaitOptions::empty(),
        );
        let step = match u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]) {
            1 => Step::Chdir,
            2 => Step::SetGroups,
            3 => Step::SetGid,
            4 => Step::SetUid,
            5 => Step::Capabilities,
            _ => Step::Exec,
        };
        let errno = Errno::from_raw_os_error(i32::from_ne_bytes([buf[4], buf[5], buf[6], buf[7]]));
        return Err(step.failure(launch, errno));
    }
    Ok(pid)
}

/// In the child: own process group, the terminal's foreground, the identity and working
/// directory asked for, the caller's signal state, then execve. Returns only on failure.
fn become_command(launch: &Launch, signals: &CallerSignals) -> (Step, Errno) {
    let _ = setpgid(None, None);
    // SIGTTOU is still blocked here, so tcsetpgrp from what is now a background group does
    // not stop us (tcsetpgrp(3)).
    if launch.take_terminal {
        let _ = tcsetpgrp(sys::stdio(0), getpid());
    }
    if let Err(failed) = take_identity_and_cwd(launch) {
        return failed;
    }
    signals.restore();
    (Step::Exec, exec_search(launch))
}

fn take_identity_and_cwd(launch: &Launch) -> Result<(), (Step, Errno)> {
    let non_root = launch.user.is_some_and(|(uid, _)| uid != 0);
    if let Some(privileges) = launch.caps {
        crate::caps::filter_before_identity(privileges).map_err(|e| (Step::Capabilities, e))?;
        // The bounding set first: shrinking it needs CAP_SETPCAP, which goes with it.
        // Without this, a root COMMAND would regain every capability at execve.
        crate::caps::shrink_bounding_set(privileges.bounding_before & !privileges.bounding)
            .map_err(|e| (Step::Capabilities, e))?;
        // Keep the permitted set across the uid change below (else it is cleared).
        if non_root && privileges.granted != 0 {
            sys::prctl(linux_raw_sys::prctl::PR_SET_KEEPCAPS, 1, 0).map_err(|e| (Step::Capabilities, e))?;
        }
    }
    if let Some((uid, gid)) = launch.user {
        // Groups, then gid, then uid: once the uid is dropped the others can no longer be
        // changed (setresuid(2), setgroups(2)).
        let mut groups = [rustix::process::Gid::ROOT; crate::config::MAX_GROUPS];
        for (slot, &gid) in groups.iter_mut().zip(launch.groups) {
            *slot = rustix::process::Gid::from_raw(gid);
        }
        let groups = &groups[..launch.groups.len().min(crate::config::MAX_GROUPS)];
        // Where an ordinary user's namespace has `setgroups` denied (userns.rs), no process
        // in it may change its groups: COMMAND keeps the caller's own (they show as
        // nobody's), which is no more than the caller has (user_namespaces(7)).
        match rustix::thread::set_thread_groups(groups) {
            Err(Errno::PERM) if setgroups_denied() => {}
            done => done.map_err(|e| (Step::SetGroups, e))?,
        }
        let gid = rustix::process::Gid::from_raw(gid);
        rustix::thread::set_thread_res_gid(gid, gid, gid).map_err(|e| (Step::SetGid, e))?;
        let uid = rustix::process::Uid::from_raw(uid);
        rustix::thread::set_thread_res_uid(uid, uid, uid).map_err(|e| (Step::SetUid, e))?;
    }
    if let Some(privileges) = launch.caps {
        crate::caps::grant(privileges, non_root).map_err(|e| (Step::Capabilities, e))?;
    }
    // After taking the identity, so the directory is checked with COMMAND's permissions.
    match launch.cwd {
        Some(Dir::Path(path)) => rustix::process::chdir(path),
        Some(Dir::Open(fd)) => rustix::process::fchdir(fd),
        None => Ok(()),
    }
    .map_err(|e| (Step::Chdir, e))?;
    Ok(())
}

/// Whether /proc/self/setgroups says `deny` (user_namespaces(7)).
fn setgroups_denied() -> bool {
    let mut text = [0u8; 8];
    let read =
        rustix::fs::open(c"/proc/self/setgroups", rustix::fs::OFlags::RDONLY, rustix::fs::Mode::empty())
            .and_then(|fd| rustix::io::read(&fd, &mut text[..]));
    matches!(read, Ok(n) if text[..n].starts_with(b"deny"))
}

/// execvpe(3) without libc: a name with a slash is run as is; otherwise each PATH entry is
/// tried in order. EACCES from one entry is remembered but the search goes on, and ENOENT
/// wins only if nothing was found at all, as glibc and POSIX shells do.
fn exec_search(launch: &Launch) -> Errno {
    let name = launch.name.to_bytes();
    if name.is_empty() {
        return Errno::NOENT;
    }
    if crate::text::has_byte(name, b'/') {
        return sys::execve(launch.name, launch.argv, launch.envp);
    }
    let mut denied = false;
    let mut buf = [0u8; 4096];
    for dir in crate::text::fields(launch.path, b':') {
        let dir: &[u8] = if dir.is_empty() { b"." } else { dir };
        let Some(candidate) = join_path(&mut buf, dir, name) else {
            continue;
        };
        match sys::execve(candidate, launch.argv, launch.envp) {
            Errno::ACCESS => denied = true,
            Errno::NOENT | Errno::NOTDIR | Errno::STALE | Errno::NODEV | Errno::TIMEDOUT => {}
            other => return other,
        }
    }
    if denied { Errno::ACCESS } else { Errno::NOENT }
}

/// `dir/name` as a C string in `buf`, or None when it does not fit.
fn join_path<'b>(buf: &'b mut [u8], dir: &[u8], name: &[u8]) -> Option<&'b CStr> {
    let len = dir.len() + 1 + name.len();
    if len + 1 > buf.len() {
        return None;
    }
    buf[..dir.len()].copy_from_slice(dir);
    buf[dir.len()] = b'/';
    buf[dir.len() + 1..len].copy_from_slice(name);
    buf[len] = 0;
    crate::rt::c_str(&buf[..=len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_paths() {
        let mut buf = [0u8; 16];
        assert_eq!(join_path(&mut buf, b"/bin", b"sh").unwrap().to_bytes(), b"/bin/sh");
        assert_eq!(join_path(&mut buf, b".", b"x").unwrap().to_bytes(), b"./x");
        assert!(join_path(&mut buf, b"/very/long/dir", b"name").is_none());
        // names with a NUL inside cannot happen (argv strings), but must not panic
        assert!(join_path(&mut buf, b"/a", b"b\0c").is_none());
    }
}
