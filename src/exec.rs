//! `husk exec NAME -- COMMAND`: the `nsenter` step of the walk, done safely. A pidfd of
//! the container's init, checked against the start time husk recorded (so a recycled pid
//! cannot redirect us), is the handle for setns(2) into all its namespaces; COMMAND is
//! started into the container's cgroup, with the container's user, capabilities,
//! no_new_privs and seccomp filter, and no descriptor of the caller's but 0-2.
//!
//! An orphan goes to the reaper of its dead parent's PID namespace, so COMMAND's parent is
//! a small husk inside the container's PID namespace (husk exec's child, which setns put
//! there): if husk exec dies, that helper dies with it and the container's init adopts
//! COMMAND.

use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{Mode, OFlags, open, openat};
use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags, pidfd_open};
use rustix::thread::{ThreadNameSpaceType, move_into_thread_name_spaces};

use crate::args::ExecSpec;
use crate::cpath::CPath;
use crate::identity;
use crate::out;
use crate::pid1::{Place, Supervisor};
use crate::rt::{Process, sys};
use crate::spawn::{self, CallerSignals, Launch};
use crate::state::{self, Registry, State};
use crate::status;

/// `husk exec`: returns the exit code to end with.
#[inline(never)] // a role's own frame: see main.rs
pub fn run(spec: &ExecSpec, process: &Process) -> u8 {
    let mut state = State::new();
    let pidfd = match find(spec.name, process, &mut state) {
        Ok(pidfd) => pidfd,
        Err(e) => {
            let hint = if e == Errno::SRCH { "no running container has that name (husk ps)" } else { "" };
            out::error_with_hint("container", spec.name, e, hint);
            return status::FAILURE;
        }
    };
    let signals = CallerSignals::take_over(process);
    let take_terminal = spawn::holds_terminal();
    // The container's cgroup, opened on the host side before we move into its namespaces.
    let pid = state.number(state::PID).unwrap_or(0) as i32;
    let cgroup = container_cgroup(pid);
    // setns(2) through the pidfd: all at once, atomically. The mount namespace's root and
    // cwd become ours: the container's pivoted root.
    // All but the cgroup namespace, which the helper below enters once it has moved into the
    // container's cgroup: from inside that namespace, a process outside its root cannot be
    // moved (cgroup_attach_permissions() refuses with ENOENT).
    let mut kinds = ThreadNameSpaceType::MOUNT
        | ThreadNameSpaceType::HOST_NAME_AND_NIS_DOMAIN_NAME
        | ThreadNameSpaceType::INTER_PROCESS_COMMUNICATION
        | ThreadNameSpaceType::PROCESS_ID;
    if state.get(state::NET) == Some(b"none") {
        kinds |= ThreadNameSpaceType::NETWORK;
    }
    if let Err(e) = move_into_thread_name_spaces(pidfd.as_fd(), kinds) {
        out::error("setns", spec.name, e);
        return status::FAILURE;
    }
    let user = spec.user.or_else(|| parse_user(state.get(state::USER)?));
    let hostname = rustix::system::uname();
    let mut env = identity::Environment::new();
    let envp = env.build(hostname.nodename().to_bytes(), user, &spec.env, process);
    let mut cwd = CPath::new();
    let cwd = match cwd.of(&[spec.cwd.unwrap_or(b"/")]) {
        Ok(c) => c,
        Err(e) => {
            out::error("chdir", spec.cwd.unwrap_or(b"/"), e);
            return status::FAILURE;
        }
    };
    let caps = (state.number(state::CAPS_ADDED).unwrap_or(0), state.number(state::CAPS_DROPPED).unwrap_or(0));
    let seccomp = state.number(state::SECCOMP) != Some(0);
    let launch = Launch {
        name: process.arg(spec.command),
        argv: process.argv_from(spec.command),
        envp,
        path: identity::command_path(&spec.env, process),
        take_terminal,
        user,
        cwd: Some(cwd),
        caps: Some(identity::privileges(user, caps, seccomp, host_root_is_initramfs())),
    };
    // Nothing of the caller's but stdio may reach the container: an fd to a host directory
    // would be a way out of its root (the CVE-2024-21626 class). Close-on-exec rather than
    // closed: the cgroup and pipe descriptors are still needed for the spawn itself.
    if let Err(e) = sys::cloexec_from(3) {
        out::error("close_range", b"", e);
        return status::FAILURE;
    }
    // COMMAND's parent lives in the container's PID namespace (see the module comment): a
    // small husk there starts COMMAND, forwards to it and passes its status up, and dies with
    // husk exec, leaving COMMAND to the container's init.
    let helper = match sys::fork() {
        Ok(0) => {
            let _ = sys::set_parent_death_signal(crate::signals::SIGKILL);
            if let Err((step, e)) = join_cgroup(cgroup.as_ref(), pidfd.as_fd()) {
                out::error(step, spec.name, e);
                sys::exit(status::FAILURE);
            }
            let code = match spawn::spawn(&launch, &signals) {
                Ok(child) => {
                    Supervisor { child, group: false, place: Place::Subreaper }.wait(&mut Some).exit_code()
                }
                Err(e) => e.report(&launch),
            };
            sys::exit(code)
        }
        Ok(pid) => pid,
        Err(e) => {
            out::error("fork", b"", e);
            return status::FAILURE;
        }
    };
    drop(pidfd);
    drop(cgroup);
    let _ = sys::close_from(3);
    Supervisor { child: helper, group: false, place: Place::Subreaper }.wait(&mut Some).exit_code()
}

/// The live container `name`: its state, and a pidfd of its init that is certainly that
/// process (same start time as recorded), not a later one with a recycled pid.
pub fn find(name: &[u8], process: &Process, state: &mut State) -> Result<OwnedFd, Errno> {
    let registry =
        Registry::open(process, false).map_err(|e| if e == Errno::NOENT { Errno::SRCH } else { e })?;
    registry.read(name, state)?;
    let pid = state.number(state::PID).and_then(|p| Pid::from_raw(p as i32)).ok_or(Errno::SRCH)?;
    let pidfd = pidfd_open(pid, PidfdFlags::empty())?;
    // The pidfd pins the process: if the start time matches now, it is the one recorded.
    if state::start_time(pid.as_raw_nonzero().get()) != state.number(state::START) {
        return Err(Errno::SRCH);
    }
    Ok(pidfd)
}

/// Moves this process into the container's cgroup (writing 0, "myself", to its
/// cgroup.procs) and then into its cgroup namespace, whose root that group is.
fn join_cgroup(cgroup: Option<&OwnedFd>, pidfd: rustix::fd::BorrowedFd) -> Result<(), (&'static str, Errno)> {
    if let Some(dir) = cgroup {
        let procs = openat(dir.as_fd(), c"cgroup.procs", OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| ("cgroup", e))?;
        rustix::io::write(&procs, b"0").map_err(|e| ("cgroup", e))?;
    }
    move_into_thread_name_spaces(pidfd, ThreadNameSpaceType::CONTROL_GROUP).map_err(|e| ("setns", e))
}

/// `UID:GID` from the state file.
fn parse_user(text: &[u8]) -> Option<(u32, u32)> {
    let colon = text.iter().position(|&b| b == b':')?;
    let uid = crate::args::parse_decimal(&text[..colon], 10)? as u32;
    let gid = crate::args::parse_decimal(&text[colon + 1..], 10)? as u32;
    Some((uid, gid))
}

/// The container's cgroup directory, from the init's /proc/PID/cgroup (`0::/path`), when the
/// host has cgroup v2 at /sys/fs/cgroup.
fn container_cgroup(pid: i32) -> Option<OwnedFd> {
    let mut number = heapless::String::<16>::new();
    let _ = ufmt::uwrite!(number, "{}", pid);
    let mut path = CPath::new();
    let fd = open(
        path.of(&[b"/proc/", number.as_bytes(), b"/cgroup"]).ok()?,
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let mut buf = [0u8; 1024];
    // A slice: rustix's read is generic, and each array size would be a copy of its own.
    let n = rustix::io::read(&fd, &mut buf[..]).ok()?;
    let own = crate::cgroup::own_path(&buf[..n])?.trim_ascii_end();
    let fs = rustix::fs::statfs(c"/sys/fs/cgroup").ok()?;
    if fs.f_type as u32 != linux_raw_sys::general::CGROUP2_SUPER_MAGIC || own == b"/" {
        return None;
    }
    let root =
        open(c"/sys/fs/cgroup", OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).ok()?;
    let rel = path.of(&[b".", own]).ok()?;
    openat(root.as_fd(), rel, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).ok()
}

/// Whether the host's root is the initial rootfs (an initramfs), where containers are
/// entered by chroot: then exec'd processes lose CAP_SYS_CHROOT as COMMAND did.
fn host_root_is_initramfs() -> bool {
    let Ok(fd) = open(c"/proc/self/mounts", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) else {
        return false;
    };
    let mut buf = [0u8; 256];
    let n = rustix::io::read(&fd, &mut buf).unwrap_or(0);
    buf[..n].starts_with(b"rootfs / ")
}
