//! `husk run`: the host side (check the input, clone into new namespaces, forward signals,
//! pass the status back) and the container side (build the root, then serve as its init).

use rustix::fd::{AsFd, BorrowedFd};
use rustix::fs::{Mode, OFlags, open, stat};
use rustix::io::Errno;
use rustix::process::PidfdFlags;

use crate::args::{Net, RunSpec, VolumeKind};
use crate::cgroup::{self, Group};
use crate::cpath::CPath;
use crate::identity;
use crate::network::Handshake;
use crate::out;
use crate::pid1::{Place, Supervisor};
use crate::rootfs::{self, fail};
use crate::rt::Process;
use crate::rt::sys;
use crate::signals::SIGKILL;
use crate::spawn::{self, CallerSignals, Launch};
use crate::state::{self, Claim, Entry, Registry};
use crate::status;

/// The container's init is cloned into a new PID namespace, which makes it PID 1 (that
/// cannot come later: unshare(2) of one moves only the children).
const NEW_PID: u64 = linux_raw_sys::general::CLONE_NEWPID as u64;

/// The namespaces the init then moves into itself, so that making them (the mount table
/// copied, IPC's sysctls registered) runs alongside the network namespace the host side
/// makes (see network.rs). The network one, unless `--net host`, is joined later.
const NEW_OTHERS: u32 = linux_raw_sys::general::CLONE_NEWNS
    | linux_raw_sys::general::CLONE_NEWUTS
    | linux_raw_sys::general::CLONE_NEWIPC
    | linux_raw_sys::general::CLONE_NEWCGROUP;

/// `husk run`: returns the exit code to end with.
#[inline(never)] // a role's own frame: see main.rs
pub fn run(spec: &RunSpec, process: &Process) -> u8 {
    // Bad input is reported before anything changes anywhere (README, "Errors").
    if let Err(failure) = check_input(spec) {
        out::error(failure.step, failure.path, failure.errno);
        return status::FAILURE;
    }
    // Non-dumpable before the container exists, and so is every process forked from here
    // on (the init, the detached supervisor, COMMAND until its execve, which gives COMMAND
    // the usual state back): nothing in the container, root included, may ptrace them, read
    // their memory or open /proc/PID/exe or fd/N (the runc CVE-2019-5736 class; ptrace(2),
    // "Ptrace access mode checking").
    if let Err(e) = sys::make_non_dumpable() {
        out::error("prctl", b"dumpable", e);
        return status::FAILURE;
    }
    let signals = CallerSignals::take_over(process);
    if spec.name.is_none() && !spec.detach {
        // Decided here, where husk's group is visible: inside the new PID namespace the
        // terminal's foreground group is outside and reads as 0.
        return start(spec, process, &signals, None, spawn::holds_terminal(), None);
    }
    // A named container: claim the name first (a name in use is an error before anything
    // is made); a detached one without a name is called husk-PID.
    let mut generated = heapless::String::<16>::new();
    let name = match spec.name {
        Some(name) => name,
        None => {
            let _ = ufmt::uwrite!(generated, "husk-{}", rustix::process::getpid().as_raw_nonzero().get());
            generated.as_bytes()
        }
    };
    let registry = match Registry::open(process, true) {
        Ok(registry) => registry,
        Err(e) => {
            out::error("state", b"/run/husk", e);
            return status::FAILURE;
        }
    };
    let entry = match registry.claim(name) {
        Ok(entry) => entry,
        Err(Claim::InUse) => {
            out::error_with_hint("name", name, Errno::EXIST, "a running container has it");
            return status::FAILURE;
        }
        Err(Claim::Failed(step, e)) => {
            out::error(step, name, e);
            return status::FAILURE;
        }
    };
    if spec.detach {
        return detach(spec, process, &signals, entry);
    }
    let code = start(spec, process, &signals, Some(&entry), spawn::holds_terminal(), None);
    entry.remove();
    code
}

/// `--detach`: a background copy of husk supervises the container, with stdin from
/// /dev/null and output through a logger into the entry's log (src/log.rs); this one
/// returns 0 as soon as COMMAND runs (or the code it could not start with, after showing
/// the log).
fn detach(spec: &RunSpec, process: &Process, signals: &CallerSignals, entry: Entry) -> u8 {
    let pipe = || rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC);
    let (log, (ready_r, ready_w), (output_r, output_w)) = match (entry.create_log(), pipe(), pipe()) {
        (Ok(log), Ok(ready), Ok(output)) => (log, ready, output),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            out::error("log", entry.name(), e);
            entry.remove();
            return status::FAILURE;
        }
    };
    if let Err(e) = crate::log::check(log.as_fd()) {
        let hint = "the log cap needs a file system that punches holes (tmpfs, ext4, xfs, btrfs)";
        out::error_with_hint("log", entry.name(), e, hint);
        entry.remove();
        return status::FAILURE;
    }
    // Opened before the fork: the background side removes the entry (log included) before it
    // reports a failure, and what the log said must still reach the caller.
    let log_reader = entry.open_log().ok();
    match sys::fork() {
        Ok(0) => {
            drop(ready_r);
            drop(log_reader);
            // Out of the caller's session and terminal; output to the logger from here on.
            let _ = rustix::process::setsid();
            // Nothing of the caller's stdio stays open here (the logger included): the caller
            // may wait for its pipes to close.
            let null = open(c"/dev/null", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty());
            if let Ok(null) = &null {
                let _ = rustix::stdio::dup2_stdin(null);
                let _ = rustix::stdio::dup2_stdout(null);
                let _ = rustix::stdio::dup2_stderr(null);
            }
            let logger = match sys::fork() {
                Ok(0) => {
                    sys::close_all_but([sys::raw(Some(output_r.as_fd())), sys::raw(Some(log.as_fd())), -1]);
                    crate::log::keep(
                        output_r.as_fd(),
                        log.as_fd(),
                        spec.log_size.unwrap_or(crate::log::DEFAULT_SIZE),
                    );
                    sys::exit(0)
                }
                Ok(pid) => Some(pid),
                Err(_) => None,
            };
            drop(output_r);
            drop(log);
            let _ = rustix::stdio::dup2_stdout(&output_w);
            let _ = rustix::stdio::dup2_stderr(&output_w);
            drop(output_w);
            let code = match logger {
                Some(_) => start(spec, process, signals, Some(&entry), false, Some(ready_w.as_fd())),
                None => {
                    out::error("fork", b"logger", Errno::AGAIN);
                    status::FAILURE
                }
            };
            // The container is gone, and with it every other writer: once our own copies of
            // the pipe are closed, the logger sees its end and has written everything.
            if let Ok(null) = &null {
                let _ = rustix::stdio::dup2_stdout(null);
                let _ = rustix::stdio::dup2_stderr(null);
            }
            if let Some(pid) = logger.and_then(rustix::process::Pid::from_raw) {
                let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty());
            }
            // The entry goes first: once the caller has the code, the name must be free.
            entry.remove();
            // If COMMAND never started, this is what the caller is waiting for.
            sys::write_all(rustix::fd::AsRawFd::as_raw_fd(&ready_w), &[code]);
            sys::exit(code)
        }
        Ok(_) => {
            drop(ready_w);
            drop(output_r);
            drop(output_w);
            let mut byte = [status::FAILURE];
            let started = matches!(rustix::io::read(&ready_r, &mut byte), Ok(1)) && byte[0] == 0;
            if started {
                let mut line = out::Line::new();
                line.bytes(entry.name());
                line.write_to(1);
                return 0;
            }
            if let Some(log) = log_reader {
                crate::log::copy(log.as_fd(), 2);
            }
            byte[0]
        }
        Err(e) => {
            out::error("fork", b"", e);
            entry.remove();
            status::FAILURE
        }
    }
}

/// Creates the container and supervises it until it ends; returns the exit code.
fn start(
    spec: &RunSpec,
    process: &Process,
    signals: &CallerSignals,
    entry: Option<&Entry>,
    take_terminal: bool,
    ready: Option<BorrowedFd>,
) -> u8 {
    // A handle on ourselves for the child: inside its PID namespace getppid() is always 0,
    // so this is how it can tell whether we died before its parent-death signal was set.
    let lifeline = match rustix::process::pidfd_open(rustix::process::getpid(), PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(e) => {
            out::error("pidfd_open", b"", e);
            return status::FAILURE;
        }
    };
    // Limits come from a cgroup of the container's own, made before the container so that
    // it starts inside (CLONE_INTO_CGROUP). A limit that cannot be applied is an error,
    // never a silent skip.
    let group = if spec.limits.any() || spec.stats || spec.cgroup_parent.is_some() {
        match create_group(spec) {
            Ok(group) => Some(group),
            Err(code) => return code,
        }
    } else {
        None
    };
    let network = match spec.net {
        Net::None => match Handshake::new() {
            Ok(handshake) => Some(handshake),
            Err(e) => {
                out::error("pipe", b"", e);
                return status::FAILURE;
            }
        },
        Net::Host => None,
    };
    let context = Context {
        take_terminal,
        parent: lifeline.as_fd(),
        in_group: group.is_some(),
        ready,
        network: network.as_ref(),
    };
    let child = match sys::clone(NEW_PID, group.as_ref().map(Group::fd)) {
        Ok(0) => container_init(spec, process, signals, &context),
        Ok(pid) => pid,
        Err(e) => {
            let hint = match e {
                Errno::PERM | Errno::NOSPC => {
                    "creating namespaces needs root (user namespaces are not supported yet)"
                }
                _ => "",
            };
            out::error_with_hint("clone", b"", e, hint);
            if let Some(group) = &group {
                group.remove();
            }
            return status::FAILURE;
        }
    };
    drop(lifeline);
    if let Some(Err((step, e))) = network.map(|network| network.make(child)) {
        // The init ends with 125 on its own (network.rs); its status is the one passed on.
        out::error(step, b"network", e);
    }
    if let Some(entry) = entry {
        record_state(entry, spec, process, child);
    }
    // The container's init forwards to COMMAND in turn; it exits with COMMAND's status.
    let supervisor = Supervisor { child, group: false, place: Place::Subreaper };
    let code = supervisor.wait(&mut |sig| Some(sig)).exit_code();
    if let Some(group) = group {
        report_and_remove(spec, &group, code);
    }
    code
}

/// Records what `husk exec`, `ps` and `kill` need to know of the container (src/state.rs).
/// Out of line, like the other steps only some runs take: a frame's every page is touched
/// on entry (stack probes) and then stays resident.
#[inline(never)]
fn record_state(entry: &Entry, spec: &RunSpec, process: &Process, init: i32) {
    let head = state::Head {
        confinement: identity::confinement(spec),
        pid: init,
        start: state::start_time(init).unwrap_or(0),
        created: sys::realtime_s(),
    };
    let command = (spec.command..process.argc()).map(|i| process.arg(i).to_bytes());
    if let Err(e) = entry.write_state(&head, spec.hostname, spec.rootfs.unwrap_or(b"/"), command) {
        out::error("state", entry.name(), e);
    }
}

/// What the container's init needs to know from the host side.
struct Context<'f> {
    take_terminal: bool,
    /// A pidfd of husk run, to check it did not die before the parent-death signal was set.
    parent: BorrowedFd<'f>,
    in_group: bool,
    /// Where to report "COMMAND started" (a byte 0) for --detach.
    ready: Option<BorrowedFd<'f>>,
    /// `--net none`: the way to the network namespace the host side makes meanwhile.
    network: Option<&'f Handshake>,
}

/// The container's cgroup with the limits written, or the exit code after saying why not.
#[inline(never)] // see record_state
fn create_group(spec: &RunSpec) -> Result<Group, u8> {
    let settings = cgroup::settings(&spec.limits).map_err(|why| {
        out::message(&[b"run: ", why.as_bytes()]);
        status::FAILURE
    })?;
    Group::create(spec.cgroup_parent, &spec.limits, &settings).map_err(|cgroup::Reported| status::FAILURE)
}

/// After the container: say when the OOM killer ended it, print `--stats`, remove the
/// group (every process in it is gone: the container's init has been reaped).
#[inline(never)] // see record_state
fn report_and_remove(spec: &RunSpec, group: &Group, code: u8) {
    if code == 128 + SIGKILL as u8 && group.oom_killed() {
        let mut max = [0u8; 32];
        let n = group.read_value(b"memory.max", &mut max);
        out::message(&[b"out of memory (memory.max=", max[..n].trim_ascii(), b")"]);
    }
    if spec.stats {
        let mut line = out::Line::new();
        cgroup::format_stats(&mut line, &group.stats());
        line.write_to(2);
    }
    group.remove();
}

/// Checks what can be checked without changing anything: the root filesystem is a
/// directory and every bind source exists.
#[inline(never)] // see record_state
fn check_input<'a>(spec: &RunSpec<'a>) -> Result<(), rootfs::Failure<'a>> {
    if let Some(name) = identity::missing_capability(spec.caps_added) {
        return Err(rootfs::Failure { step: "cap-add", path: name, errno: Errno::PERM });
    }
    let mut path = CPath::new();
    if let Some(rootfs) = spec.rootfs {
        let c = path.of(&[rootfs]).map_err(fail("rootfs", rootfs))?;
        open(c, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .map_err(fail("rootfs", rootfs))?;
    }
    for volume in spec.volumes.iter().filter(|v| v.kind != VolumeKind::Tmpfs) {
        let c = path.of(&[volume.source]).map_err(fail("bind", volume.source))?;
        stat(c).map_err(fail("bind", volume.source))?;
    }
    Ok(())
}

/// The container's PID 1: moves into its namespaces, names the host, builds the root
/// (joining the network namespace `husk run` makes meanwhile), then runs COMMAND as `husk
/// init` would. Never returns.
fn container_init(spec: &RunSpec, process: &Process, signals: &CallerSignals, context: &Context) -> ! {
    // If `husk run` dies, even by SIGKILL, the container dies with it: the init's death
    // ends every process in the PID namespace (pid_namespaces(7)). Check the parent after
    // asking (prctl(2), PR_SET_PDEATHSIG): it may have died before the request took effect.
    let _ = sys::set_parent_death_signal(SIGKILL);
    if !sys::pidfd_alive(context.parent) {
        sys::exit(status::FAILURE);
    }
    // (Non-dumpable already, from husk run: see run().)
    // No descriptor of the host's but stdio crosses into the container: an inherited
    // directory fd would be a way out of the root (the runc CVE-2024-21626 class).
    // (Kept, all close-on-exec so COMMAND never has them: the readiness pipe of --detach,
    // and until the init has joined the network namespace, its pipe and the host's pidfd.)
    let network = context.network.map(Handshake::ready_fd);
    sys::close_all_but([
        sys::raw(context.ready),
        sys::raw(network),
        sys::raw(network.and(Some(context.parent))),
    ]);
    sys::exit(match prepare_and_run(spec, process, signals, context) {
        Ok(code) => code,
        Err(failure) => {
            out::error(failure.step, failure.path, failure.errno);
            status::FAILURE
        }
    })
}

fn prepare_and_run<'a>(
    spec: &RunSpec<'a>,
    process: &Process,
    signals: &CallerSignals,
    context: &Context,
) -> Result<u8, rootfs::Failure<'a>> {
    // Everything up to the root's network step runs while the host side makes the network
    // namespace (see network.rs). unshare(2) moves only the init, which is all there is
    // yet; the new cgroup namespace is rooted where the init is (cgroup_namespaces(7)): in
    // the container's own cgroup when there is one, since it was cloned into it.
    let console = rootfs::clone_console()?;
    sys::unshare(NEW_OTHERS).map_err(fail("unshare", b"namespaces"))?;
    rustix::system::sethostname(spec.hostname).map_err(fail("sethostname", spec.hostname))?;
    let mut env = identity::Environment::new();
    let envp = env.build(spec.hostname, spec.user, &spec.env, process);
    let mut cwd = CPath::new();
    let cwd = cwd.of(&[spec.cwd]).map_err(fail("chdir", spec.cwd))?;
    let path = identity::command_path(&spec.env, process);
    // The bounding set is shrunk here, once, for COMMAND (which inherits it) and for the init
    // itself, which later keeps even less (confine_init): each drop builds new credentials.
    // (Only the effective set matters for building the root, and that stays whole.)
    let caps = (spec.caps_added, spec.caps_dropped);
    let shrink = |privileges: spawn::Privileges| {
        spawn::shrink_bounding_set(!privileges.bounding).map_err(fail("capabilities", b"init"))
    };
    let mut privileges = identity::privileges(spec.user, caps, spec.seccomp, false);
    shrink(privileges)?;
    let join = context.network.map(|network| (network, context.parent));
    let entered = rootfs::enter(spec, context.in_group, join, console.as_ref())?;
    drop(console);
    if entered == rootfs::Entered::Chrooted {
        privileges = identity::privileges(spec.user, caps, spec.seccomp, true);
        shrink(privileges)?;
    }
    // Done with the host side's pidfd and the handshake: from here on, as at the start, no
    // descriptor but stdio and --detach's pipe.
    sys::close_all_but([sys::raw(context.ready), -1, -1]);
    privileges.bounding_before = privileges.bounding;
    let launch = Launch {
        name: process.arg(spec.command),
        argv: process.argv_from(spec.command),
        envp,
        path,
        take_terminal: context.take_terminal,
        user: spec.user,
        cwd: Some(cwd),
        caps: Some(privileges),
    };
    let child = match spawn::spawn(&launch, signals) {
        Ok(child) => child,
        Err(e) => return Ok(e.report(&launch)),
    };
    if let Some(ready) = context.ready {
        sys::write_all(rustix::fd::AsRawFd::as_raw_fd(&ready), &[0]);
    }
    let _ = sys::close_from(3);
    identity::keep_only_kill(privileges.bounding).map_err(fail("capabilities", b"init"))?;
    let supervisor = Supervisor { child, group: false, place: Place::NamespaceInit };
    Ok(supervisor.wait(&mut |sig| Some(sig)).exit_code())
}
