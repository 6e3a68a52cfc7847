//! `husk run`: the host side (check the input, clone into new namespaces, forward signals,
//! pass the status back) and the container side (build the root, then serve as its init).

use core::ffi::CStr;

use rustix::fd::{AsFd, BorrowedFd};
use rustix::fs::{Mode, OFlags, open, stat};
use rustix::io::Errno;
use rustix::process::PidfdFlags;

use crate::args::{MAX_ENV, Net, RunSpec, VolumeKind};
use crate::caps;
use crate::cgroup::{self, Group};
use crate::cpath::CPath;
use crate::out;
use crate::pid1::{Place, Supervisor};
use crate::rootfs;
use crate::rt::Process;
use crate::rt::sys;
use crate::signals::SIGKILL;
use crate::spawn::{self, CallerSignals, Launch};
use crate::status;

/// The namespaces every container gets (clone(2)); the network one unless `--net host`.
const NAMESPACES: u64 = (linux_raw_sys::general::CLONE_NEWPID
    | linux_raw_sys::general::CLONE_NEWNS
    | linux_raw_sys::general::CLONE_NEWUTS
    | linux_raw_sys::general::CLONE_NEWIPC
    | linux_raw_sys::general::CLONE_NEWCGROUP) as u64;
const NEWNET: u64 = linux_raw_sys::general::CLONE_NEWNET as u64;

/// `husk run`: returns the exit code to end with.
pub fn run(spec: &RunSpec, process: &Process) -> u8 {
    // Bad input is reported before anything changes anywhere (README, "Errors").
    if let Err(failure) = check_input(spec) {
        out::error(failure.step, failure.path, failure.errno);
        return status::FAILURE;
    }
    let signals = CallerSignals::take_over(process);
    // Decided here, where husk's group is visible: inside the new PID namespace the
    // terminal's foreground group is outside and reads as 0.
    let take_terminal = spawn::holds_terminal();
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
    let flags = NAMESPACES | if spec.net == Net::None { NEWNET } else { 0 };
    let child = match sys::clone(flags, group.as_ref().map(Group::fd)) {
        Ok(0) => container_init(spec, process, &signals, take_terminal, lifeline.as_fd(), group.is_some()),
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
    // The container's init forwards to COMMAND in turn; it exits with COMMAND's status.
    let supervisor = Supervisor { child, group: false, place: Place::Subreaper };
    let code = supervisor.wait(&mut |sig| Some(sig)).exit_code();
    if let Some(group) = group {
        report_and_remove(spec, &group, code);
    }
    code
}

/// The container's cgroup with the limits written, or the exit code after saying why not.
fn create_group(spec: &RunSpec) -> Result<Group, u8> {
    let settings = cgroup::settings(&spec.limits).map_err(|why| {
        out::message(&[b"run: ", why.as_bytes()]);
        status::FAILURE
    })?;
    Group::create(spec.cgroup_parent, &spec.limits, &settings).map_err(|cgroup::Reported| status::FAILURE)
}

/// After the container: say when the OOM killer ended it, print `--stats`, remove the
/// group (every process in it is gone: the container's init has been reaped).
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
fn check_input<'a>(spec: &RunSpec<'a>) -> Result<(), rootfs::Failure<'a>> {
    let mut path = CPath::new();
    if let Some(rootfs) = spec.rootfs {
        let c =
            path.of(&[rootfs]).map_err(|errno| rootfs::Failure { step: "rootfs", path: rootfs, errno })?;
        open(c, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|errno| rootfs::Failure { step: "rootfs", path: rootfs, errno })?;
    }
    for volume in spec.volumes.iter().filter(|v| v.kind != VolumeKind::Tmpfs) {
        let fail = |errno| rootfs::Failure { step: "bind", path: volume.source, errno };
        let c = path.of(&[volume.source]).map_err(fail)?;
        stat(c).map_err(fail)?;
    }
    Ok(())
}

/// The container's PID 1: builds the root, names the host, brings up loopback, then runs
/// COMMAND as `husk init` would. Never returns.
fn container_init(
    spec: &RunSpec,
    process: &Process,
    signals: &CallerSignals,
    take_terminal: bool,
    parent: BorrowedFd,
    in_group: bool,
) -> ! {
    // If `husk run` dies, even by SIGKILL, the container dies with it: the init's death
    // ends every process in the PID namespace (pid_namespaces(7)). Check the parent after
    // asking (prctl(2), PR_SET_PDEATHSIG): it may have died before the request took effect.
    let _ = sys::set_parent_death_signal(SIGKILL);
    if !sys::pidfd_alive(parent) {
        sys::exit(status::FAILURE);
    }
    // Non-dumpable: nothing in the container, root included, may ptrace the init, read its
    // memory or open /proc/1/exe (the runc CVE-2019-5736 class; ptrace(2), "access mode").
    // COMMAND is dumpable again after its execve.
    let _ = sys::prctl(linux_raw_sys::prctl::PR_SET_DUMPABLE, 0, 0);
    // No descriptor of the host's but stdio crosses into the container: an inherited
    // directory fd would be a way out of the root (the runc CVE-2024-21626 class).
    let _ = sys::close_from(3);
    sys::exit(match prepare_and_run(spec, process, signals, take_terminal, in_group) {
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
    take_terminal: bool,
    in_group: bool,
) -> Result<u8, rootfs::Failure<'a>> {
    let entered = rootfs::enter(spec, in_group)?;
    rustix::system::sethostname(spec.hostname).map_err(|errno| rootfs::Failure {
        step: "sethostname",
        path: spec.hostname,
        errno,
    })?;
    if spec.net == Net::None {
        sys::loopback_up().map_err(|errno| rootfs::Failure { step: "loopback", path: b"lo", errno })?;
    }

    let mut env = Environment::new();
    let envp = env.build(spec, process);
    let mut cwd = CPath::new();
    let cwd =
        cwd.of(&[spec.cwd]).map_err(|errno| rootfs::Failure { step: "chdir", path: spec.cwd, errno })?;
    let path = command_path(spec, process);
    let launch = Launch {
        name: process.arg(spec.command),
        argv: process.argv_from(spec.command),
        envp,
        path,
        take_terminal,
        user: spec.user,
        cwd: Some(cwd),
        caps: Some(privileges(spec, entered)),
    };
    let child = match spawn::spawn(&launch, signals) {
        Ok(child) => child,
        Err(e) => return Ok(e.report(&launch)),
    };
    let _ = sys::close_from(3);
    confine_init().map_err(|errno| rootfs::Failure { step: "capabilities", path: b"init", errno })?;
    let supervisor = Supervisor { child, group: false, place: Place::NamespaceInit };
    Ok(supervisor.wait(&mut |sig| Some(sig)).exit_code())
}

/// Once COMMAND runs, the init needs one capability: CAP_KILL, to forward signals to a
/// COMMAND of another uid. Everything else goes, from every set, bounding included.
fn confine_init() -> Result<(), Errno> {
    use rustix::thread::{CapabilitySet, CapabilitySets, set_capabilities};
    const KILL: u32 = 5;
    const SETPCAP: u32 = 8;
    // SETPCAP last: dropping from the bounding set needs it.
    for cap in (0..=caps::LAST).filter(|&c| c != KILL && c != SETPCAP).chain([SETPCAP]) {
        match sys::prctl(linux_raw_sys::prctl::PR_CAPBSET_DROP, cap as usize, 0) {
            Ok(()) | Err(Errno::INVAL) => {}
            Err(e) => return Err(e),
        }
    }
    let kill = CapabilitySet::from_bits_retain(1 << KILL);
    set_capabilities(
        None,
        CapabilitySets { effective: kill, permitted: kill, inheritable: CapabilitySet::empty() },
    )
}

/// COMMAND's capabilities: Docker's default set adjusted by --cap-add/--cap-drop bounds
/// them; root holds all of that, another user only what --cap-add gave it. In a chroot
/// (an initramfs host) CAP_SYS_CHROOT goes, whatever was asked: it is the way out.
fn privileges(spec: &RunSpec, entered: rootfs::Entered) -> spawn::Privileges {
    const SYS_CHROOT: u64 = 1 << 18;
    let mut bounding = caps::resolve(spec.caps_added, spec.caps_dropped);
    if entered == rootfs::Entered::Chrooted {
        bounding &= !SYS_CHROOT;
    }
    let root = spec.user.is_none_or(|(uid, _)| uid == 0);
    let granted = if root { bounding } else { bounding & spec.caps_added };
    spawn::Privileges { bounding, granted, seccomp: spec.seccomp }
}

/// COMMAND's environment: a clean start (PATH, HOME, HOSTNAME, and TERM when the host has
/// it), then each `-e KEY=VALUE` in order, a later one replacing an earlier one of the
/// same KEY.
struct Environment {
    pointers: [*const u8; MAX_ENV + 5],
    hostname: [u8; 80],
}

const DEFAULT_PATH_ENV: &CStr = c"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl Environment {
    fn new() -> Environment {
        Environment { pointers: [core::ptr::null(); MAX_ENV + 5], hostname: [0; 80] }
    }

    /// Fills the pointer array and returns it NULL-terminated for execve.
    fn build(&mut self, spec: &RunSpec, process: &Process) -> *const *const u8 {
        let user_entries = || spec.env.iter().map(|&i| process.arg(i).to_bytes());
        let overridden = |entry: &[u8]| user_entries().any(|e| key(e) == key(entry));
        let mut n = 0;
        // HOSTNAME=<name>, NUL-terminated in our own buffer.
        let prefix = b"HOSTNAME=";
        self.hostname[..prefix.len()].copy_from_slice(prefix);
        self.hostname[prefix.len()..prefix.len() + spec.hostname.len()].copy_from_slice(spec.hostname);
        self.hostname[prefix.len() + spec.hostname.len()] = 0;
        let home: &CStr = if spec.user.is_none_or(|(uid, _)| uid == 0) { c"HOME=/root" } else { c"HOME=/" };
        let term = process.env().find(|e| e.starts_with(b"TERM="));
        let defaults: [Option<&[u8]>; 4] = [
            Some(DEFAULT_PATH_ENV.to_bytes_with_nul()),
            Some(home.to_bytes_with_nul()),
            Some(&self.hostname[..]),
            term,
        ];
        let pointers = &mut self.pointers;
        for entry in defaults.into_iter().flatten() {
            if !overridden(entry) {
                pointers[n] = entry.as_ptr();
                n += 1;
            }
        }
        for (k, &i) in spec.env.iter().enumerate() {
            let entry = process.arg(i).to_bytes();
            // A later -e of the same key wins.
            if spec.env.iter().skip(k + 1).any(|&j| key(process.arg(j).to_bytes()) == key(entry)) {
                continue;
            }
            pointers[n] = entry.as_ptr();
            n += 1;
        }
        pointers[n] = core::ptr::null();
        pointers.as_ptr()
    }
}

/// The PATH COMMAND will have, to look COMMAND up with: the last `-e PATH=`, or the default.
fn command_path(spec: &RunSpec, process: &Process) -> &'static [u8] {
    spec.env
        .iter()
        .rev()
        .find_map(|&i| process.arg(i).to_bytes().strip_prefix(b"PATH="))
        .unwrap_or(spawn::DEFAULT_PATH)
}

/// The KEY of `KEY=VALUE`.
fn key(entry: &[u8]) -> &[u8] {
    let entry = entry.strip_suffix(b"\0").unwrap_or(entry);
    &entry[..entry.iter().position(|&b| b == b'=').unwrap_or(entry.len())]
}
