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

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{Mode, OFlags, open};
use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags, pidfd_open};
use rustix::thread::{ThreadNameSpaceType, move_into_thread_name_spaces};

use crate::args::ExecSpec;
use crate::caps;
use crate::config::Identity;
use crate::cpath::CPath;
use crate::environment;
use crate::error::{Failure, fail};
use crate::pid1::{Place, Supervisor};
use crate::registry::{Head, Registry};
use crate::rt::{Process, sys};
use crate::spawn::{self, CallerSignals, Dir, Launch};
use crate::users::{Id, UserSpec};

/// `husk exec`: returns the exit code to end with.
#[inline(never)] // a role's own frame: see main.rs
pub fn run(spec: &ExecSpec, process: &Process) -> u8 {
    match join_and_run(spec, process) {
        Ok(code) => code,
        Err(failure) => failure.report(),
    }
}

fn join_and_run<'a>(spec: &ExecSpec<'a>, process: &Process) -> Result<u8, Failure<'a>> {
    // Non-dumpable before anything of the container is touched, and so is every process
    // forked from here (the helper, and COMMAND until its execve): nothing inside may
    // ptrace them, write their memory, or open their /proc/PID/exe or /proc/PID/fd/N — the
    // runc CVE-2016-9962 and CVE-2019-5736 class (ptrace(2), "Ptrace access mode checking").
    sys::make_non_dumpable().map_err(fail("prctl dumpable", b""))?;
    // A non-root user without $XDG_RUNTIME_DIR has no registry: say so (the failure with a
    // hint), not that no container has the name.
    if let Err(failure) = Registry::open(process, false)
        && !failure.hint.is_empty()
    {
        return Err(failure);
    }
    let (pidfd, head) = find(spec.name, process).map_err(|e| not_found(spec.name, e))?;
    let userns = in_user_namespace(head.pid);
    // In a user namespace of its own, the container is joined through COMMAND, not the
    // init: the init never executes anything after it was started on the host, so its
    // memory stays the host's user namespace's, and being non-dumpable, it can be joined
    // only with CAP_SYS_PTRACE there (ptrace(2), "Ptrace access mode checking"), which an
    // ordinary user never has — nor husk exec's helper, once in the container. COMMAND's
    // memory is the container's (execve(2) made it there): its owner may join it.
    let pidfd = if userns { command_of(head.pid).map_err(|e| not_found(spec.name, e))? } else { pidfd };
    let signals = CallerSignals::take_over(process);
    let take_terminal = spawn::holds_terminal();
    // The container's cgroups, opened on the host side before we move into its namespaces.
    let cgroups = crate::cgroup::Joined::of(head.pid).map_err(fail("cgroup", spec.name))?;
    // Nothing of the caller's but stdio may reach the container: an fd of a host directory
    // would be a way out of its root (the runc CVE-2024-21626 class). Closed, not just
    // close-on-exec, and before joining: the helper below lives in the container's PID
    // namespace and never execs. What is left is husk's own, the helper's to close.
    let mut keep =
        [sys::raw(Some(pidfd.as_fd())), sys::raw(cgroups.unified.as_ref().map(AsFd::as_fd)), -1, -1, -1, -1];
    for (slot, tasks) in keep[2..].iter_mut().zip(&cgroups.tasks) {
        *slot = sys::raw(Some(tasks.as_fd()));
    }
    sys::close_all_but(&keep);
    join(pidfd.as_fd(), userns, head.confinement.own_network).map_err(fail("setns", spec.name))?;
    // Who COMMAND is comes from the record of what the container was given; `-u` may only
    // change the user, within the same bounding set. Either is looked up in the container's
    // own /etc/passwd and /etc/group, as `husk run` does (HOME, supplementary groups).
    let (uid, gid) = head.confinement.user;
    let recorded = UserSpec { user: Id::Number(uid), group: Some(Id::Number(gid)) };
    let identity = own_user(spec.user.as_ref().unwrap_or(&recorded))?;
    let user = (identity.uid, identity.gid);
    let hostname = rustix::system::uname();
    let mut env = environment::Environment::new();
    let mut cwd = CPath::new();
    let dir = spec.cwd.unwrap_or(b"/");
    let launch = Launch {
        name: process.arg(spec.command),
        argv: process.argv_from(spec.command),
        envp: env.build(hostname.nodename().to_bytes(), Some(&identity), &spec.env, &[], process),
        path: environment::command_path(&spec.env, &[], process),
        take_terminal,
        user: Some(user),
        groups: &identity.groups,
        cwd: Some(Dir::Path(cwd.of(&[dir]).map_err(fail("chdir", dir))?)),
        caps: Some(caps::recorded_privileges(&head.confinement, user)),
    };
    let helper = start_helper(&launch, &signals, pidfd, cgroups, process, &Detached::default())
        .map_err(fail("clone", spec.name))?;
    Ok(Supervisor { child: helper, group: false, place: Place::Subreaper }.wait(&mut Some).exit_code())
}

/// What an OCI `exec` adds: the helper outlives husk (`--detach`: the engine's subreaper
/// adopts it and gets COMMAND's status from it), and a terminal made inside for COMMAND
/// whose master goes to the engine's console socket.
#[derive(Default)]
pub struct Detached<'d> {
    pub detach: bool,
    #[cfg(feature = "oci")]
    pub console: Option<(BorrowedFd<'d>, Option<crate::json::Value<'static>>)>,
    #[cfg(not(feature = "oci"))]
    pub console: Option<(BorrowedFd<'d>, ())>,
    /// Where the helper's pid goes, opened on the host before the container is joined.
    pub pid_file: Option<BorrowedFd<'d>>,
}

/// An OCI `exec` (oci/exec.rs): `launch` run in the container whose init `pidfd` pins
/// (`pid`), as `husk exec` runs COMMAND; returns the helper's pid once it runs when
/// `detached.detach`, else waits and returns COMMAND's status (as Ok(Err(code))).
#[cfg(feature = "oci")]
pub fn run_oci(
    pidfd: OwnedFd,
    pid: i32,
    launch: &Launch,
    detached: &Detached,
    process: &Process,
) -> Result<Result<i32, u8>, Failure<'static>> {
    sys::make_non_dumpable().map_err(fail("prctl dumpable", b""))?;
    let userns = in_user_namespace(pid);
    let own_network = !same_namespace(pid, b"ns/net");
    let signals = CallerSignals::take_over(process);
    let cgroups = crate::cgroup::Joined::of(pid).map_err(fail("cgroup", b""))?;
    let mut keep = [
        sys::raw(Some(pidfd.as_fd())),
        sys::raw(cgroups.unified.as_ref().map(AsFd::as_fd)),
        sys::raw(detached.console.map(|c| c.0)),
        sys::raw(detached.pid_file),
        -1,
        -1,
        -1,
        -1,
    ];
    for (slot, tasks) in keep[4..].iter_mut().zip(&cgroups.tasks) {
        *slot = sys::raw(Some(tasks.as_fd()));
    }
    sys::close_all_but(&keep);
    join(pidfd.as_fd(), userns, own_network).map_err(fail("setns", b""))?;
    let helper =
        start_helper(launch, &signals, pidfd, cgroups, process, detached).map_err(fail("clone", b""))?;
    if let Some(file) = detached.pid_file {
        let mut line = crate::out::Line::new();
        line.num(helper as u64);
        rustix::io::write(file, line.as_bytes()).map_err(fail("pid-file", b""))?;
    }
    if detached.detach {
        return Ok(Ok(helper));
    }
    Ok(Err(Supervisor { child: helper, group: false, place: Place::Subreaper }.wait(&mut Some).exit_code()))
}

/// Whether the process `pid` shares our namespace of this kind (`ns/net`).
#[cfg(feature = "oci")]
fn same_namespace(pid: i32, kind: &[u8]) -> bool {
    let mut path = CPath::new();
    let theirs = crate::procfs::pid_path(&mut path, pid, kind).map(rustix::fs::stat);
    let mut own = CPath::new();
    let ours = own.of(&[b"/proc/self/", kind]).map(rustix::fs::stat);
    match (theirs, ours) {
        (Ok(Ok(a)), Ok(Ok(b))) => (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino),
        _ => true,
    }
}

/// setns(2) through the pidfd: all at once, atomically. The mount namespace's root and cwd
/// become ours: the container's pivoted root. All but the cgroup namespace, which the
/// helper enters once it is in the container's cgroup: from inside that namespace, a
/// process outside its root cannot be moved (cgroup_attach_permissions() refuses, ENOENT).
///
/// The user namespace too, when the container has its own: for an ordinary user it is what
/// gives the right to join the others; for root it is what keeps COMMAND from being the
/// host's root among the container's files (its ids become the container's: spawn.rs).
fn join(init: BorrowedFd, userns: bool, own_network: bool) -> Result<(), Errno> {
    let mut kinds = ThreadNameSpaceType::MOUNT
        | ThreadNameSpaceType::HOST_NAME_AND_NIS_DOMAIN_NAME
        | ThreadNameSpaceType::INTER_PROCESS_COMMUNICATION
        | ThreadNameSpaceType::PROCESS_ID;
    if own_network {
        kinds |= ThreadNameSpaceType::NETWORK;
    }
    if userns {
        kinds |= ThreadNameSpaceType::USER;
    }
    move_into_thread_name_spaces(init, kinds)
}

/// Whether the container whose init is `pid` has a user namespace of its own: always for
/// an ordinary user (husk runs them only so), for root when it is not root's own (setns(2)
/// refuses to join one's own: EINVAL).
#[inline(never)] // smaller so
fn in_user_namespace(pid: i32) -> bool {
    if !rustix::process::geteuid().is_root() {
        return true;
    }
    let mut path = CPath::new();
    let theirs = crate::procfs::pid_path(&mut path, pid, b"ns/user").map(rustix::fs::stat);
    match (theirs, rustix::fs::stat(c"/proc/self/ns/user")) {
        (Ok(Ok(a)), Ok(b)) => (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino),
        _ => false,
    }
}

/// A pidfd of COMMAND: the child of the container's init (`init`, a host pid) that is PID 2
/// in the container. Checked once the pidfd pins it, so a recycled pid cannot stand in.
fn command_of(init: i32) -> Result<OwnedFd, Errno> {
    let mut number = [0u8; 24];
    let init_text = crate::text::digits(init as u64, 10, &mut number).to_bytes();
    let mut path = heapless::Vec::<u8, 48>::new();
    let _ = path.extend_from_slice(b"task/");
    let _ = path.extend_from_slice(init_text);
    let _ = path.extend_from_slice(b"/children");
    let mut children = crate::procfs::buffer::<256>();
    let children = crate::procfs::read_pid_file(init, &path, &mut children).ok_or(Errno::SRCH)?;
    for child in crate::text::fields(children, b' ').filter_map(crate::procfs::parse_pid) {
        let Ok(pidfd) = pidfd_open(Pid::from_raw(child).ok_or(Errno::SRCH)?, PidfdFlags::empty()) else {
            continue;
        };
        let mut status = crate::procfs::buffer::<2048>();
        let status = crate::procfs::read_pid_file(child, b"status", &mut status).unwrap_or(b"");
        let mut stat = crate::procfs::buffer::<1024>();
        let stat = crate::procfs::read_pid_file(child, b"stat", &mut stat).unwrap_or(b"");
        if crate::procfs::innermost_pid(status) == Some(2) && crate::procfs::stat_parent(stat) == Some(init) {
            return Ok(pidfd);
        }
    }
    Err(Errno::SRCH)
}

/// COMMAND's parent lives in the container's PID namespace (see the module comment): a
/// small husk there starts COMMAND, forwards to it and passes its status up, and dies with
/// husk exec, leaving COMMAND to the container's init. It is cloned straight into the
/// container's cgroup (CLONE_INTO_CGROUP), or put itself into its v1 ones first thing, so it
/// never runs anything outside the limits. Returns its pid; the descriptors are the helper's
/// alone from here.
fn start_helper(
    launch: &Launch,
    signals: &CallerSignals,
    pidfd: OwnedFd,
    cgroups: crate::cgroup::Joined,
    process: &Process,
    detached: &Detached,
) -> Result<i32, Errno> {
    // What the container sees of the helper (`ps`, /proc/PID/cmdline, which anyone may read,
    // non-dumpable or not): `husk exec -- COMMAND…`, not the caller's line with the host's
    // path of husk and exec's options, as for the container's PID 1 (container/init.rs).
    // Rewritten here, before the clone, so the helper is born with it: done in the helper,
    // a process in the container watching for new pids read the old line first. (The
    // caller's side shows the same from now on.) Best effort: cosmetic where the kernel
    // refuses.
    if let Some(map) = process.memory_map() {
        let _ = sys::show_command_line(&map, b"husk\0exec\0--\0", launch.argv, c"husk");
    }
    let helper = sys::clone(sys::Namespaces::NONE, cgroups.unified.as_ref().map(AsFd::as_fd))?;
    if helper != 0 {
        return Ok(helper);
    }
    if !detached.detach {
        let _ = sys::set_parent_death_signal(crate::signals::SIGKILL);
    }
    // Its cgroup namespace is rooted where the container's is: joined once in its groups.
    if let Err(e) = cgroups.enter() {
        sys::exit(Failure::new("cgroup", b"tasks", e).report());
    }
    if let Err(e) = move_into_thread_name_spaces(pidfd.as_fd(), ThreadNameSpaceType::CONTROL_GROUP) {
        sys::exit(Failure::new("setns cgroup", b"", e).report());
    }
    // An OCI exec's terminal, made in the container (oci/terminal.rs).
    #[cfg(feature = "oci")]
    if let Some((socket, size)) = detached.console
        && let Err(failure) = crate::oci::terminal::set_up(size, socket)
    {
        sys::exit(failure.report());
    }
    // husk's own descriptors go too: from here on only stdio (and spawn's pipe).
    let _ = sys::close_from(3);
    sys::exit(help_command(launch, signals))
}

/// The helper inside the container: cuts its bounding set to COMMAND's (once, for both:
/// COMMAND inherits it), starts COMMAND, then keeps CAP_KILL alone (to forward signals to a
/// COMMAND of another uid), as the container's own init does, and passes COMMAND's status
/// up.
fn help_command(launch: &Launch, signals: &CallerSignals) -> u8 {
    let bounding = launch.caps.map_or(caps::ALL, |privileges| privileges.bounding);
    if let Err(e) = caps::shrink_bounding_set(!bounding) {
        return Failure::new("capabilities", b"", e).report();
    }
    let child = match spawn::spawn(launch, signals) {
        Ok(child) => child,
        Err(failure) => return failure.report(),
    };
    if let Err(e) = caps::keep_only_kill(bounding) {
        Failure::new("capabilities", b"", e).report();
        let _ = sys::kill(child, crate::signals::SIGKILL);
    }
    Supervisor { child, group: false, place: Place::Subreaper }.wait(&mut Some).exit_code()
}

/// Why the container `name` was not found or was refused.
pub fn not_found(name: &[u8], e: Errno) -> Failure<'_> {
    let (step, hint) = match e {
        Errno::SRCH => ("container", "no running container has that name (husk ps)"),
        Errno::BADMSG => ("state", "its record does not parse: refused"),
        _ => ("container", ""),
    };
    Failure::new(step, name, e).with_hint(hint)
}

/// The live container `name`: its record's head, and a pidfd of its init that is certainly
/// that process (same start time as recorded), not a later one with a recycled pid. A
/// record that does not parse is EBADMSG.
pub fn find(name: &[u8], process: &Process) -> Result<(OwnedFd, Head), Errno> {
    let registry = Registry::open(process, false)
        .map_err(|failure| if failure.errno == Errno::NOENT { Errno::SRCH } else { failure.errno })?;
    let head = registry.read(name)?.record()?.head;
    // Its end recorded: its init is gone, whatever the pid now names.
    if head.exit.is_some() {
        return Err(Errno::SRCH);
    }
    let pid = Pid::from_raw(head.pid).ok_or(Errno::SRCH)?;
    let pidfd = pidfd_open(pid, PidfdFlags::empty())?;
    // The pidfd pins the process: if the start time matches now, it is the one recorded.
    if crate::procfs::start_time(head.pid) != Some(head.start) {
        return Err(Errno::SRCH);
    }
    Ok((pidfd, head))
}

/// `user` looked up in the container joined (its root is ours now). Out of line: the lookup's
/// frame is needed only here.
#[inline(never)]
fn own_user<'a>(user: &UserSpec<'a>) -> Result<Identity, Failure<'a>> {
    let root = open(c"/", OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(fail("user", b"/"))?;
    crate::users::resolve_in(root.as_fd(), user)
}
