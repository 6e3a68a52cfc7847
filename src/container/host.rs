//! The host side of `husk run`: makes the container's cgroup, clones its init into a new PID
//! namespace (straight into that cgroup), makes the network namespace beside it, records a
//! named container and opens the gate, then supervises the init until it ends and reports
//! what the cgroup saw.

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{FlockOperation, Mode, OFlags, flock};
use rustix::process::PidfdFlags;
use rustix::thread::{ThreadNameSpaceType, move_into_thread_name_spaces};

use super::init::{self, Context};
use super::named;
use super::report::{self, Note, Report};
use super::sync::{Gate, Handshake, IdMaps};
use crate::cgroup::{self, Group};
use crate::config::{Config, Namespace, Root};
use crate::error::{Failure, fail};
use crate::out;
use crate::pid1::{Place, Supervisor};
use crate::registry::Entry;
use crate::rt::{Process, sys};
use crate::signals::SIGKILL;
use crate::spawn::CallerSignals;

/// The container's init is cloned into a new PID namespace, which makes it PID 1 (that
/// cannot come later: unshare(2) of one moves only the children).
const NEW_PID: sys::Namespaces = sys::Namespaces::PID;

/// Who started husk: its arguments, its signal state, whether it holds the terminal.
pub struct Caller<'c> {
    pub process: &'c Process,
    pub signals: &'c CallerSignals,
    pub take_terminal: bool,
    /// husk's other processes that share the caller's cgroup (a detached container's caller
    /// and logger: see cgroup::Group::create); 0: none.
    pub companions: [i32; 2],
    /// An OCI container's record and gate (oci/): recorded once built, and with a gate of
    /// its own, left there for `start`.
    #[cfg(feature = "oci")]
    pub oci: Option<&'c crate::oci::Created<'c>>,
}

/// Creates the container, starts it and supervises it until it ends; returns the exit code.
/// With `entry`, the container is recorded there before COMMAND may start; with `ready`,
/// the init reports "COMMAND started" there (--detach).
pub fn start(config: &Config, caller: &Caller, entry: Option<&Entry>, ready: Option<BorrowedFd>) -> u8 {
    // A handle on ourselves for the child: inside its PID namespace getppid() is always 0,
    // so this is how it can tell whether we died before its parent-death signal was set.
    let lifeline = match rustix::process::pidfd_open(rustix::process::getpid(), PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(e) => return Failure::new("pidfd_open", b"", e).report(),
    };
    // The host's end of the container's network (--net bridge, container:NAME), prepared in
    // the host's namespaces before anything else of the container exists.
    let net = match crate::net::setup::prepare(config, caller.process) {
        Ok(net) => net,
        Err(failure) => return failure.report(),
    };
    // Limits come from cgroups of the container's own, made before the container so that
    // it starts inside (CLONE_INTO_CGROUP on v2; on v1 the init moves itself in first
    // thing: init.rs). A limit that cannot be applied is an error, never a silent skip.
    let mut scratch: cgroup::ParentPath = [[0; 600]; 5];
    let made = config.cgroup.as_ref().map(|wanted| create_group(wanted, &mut scratch, caller.companions));
    // An OCI container's groups are where its config.json says, made by oci/cgroups.rs
    // (and removed by its `delete`, not here: they outlive `create`).
    #[cfg(feature = "oci")]
    let made = match caller.oci {
        Some(created) => crate::oci::cgroups::create(created).transpose(),
        None => made,
    };
    let group = match made.transpose() {
        Ok(group) => group,
        Err(failure) => return failure.report(),
    };
    let stats = config.cgroup.is_some_and(|c| c.stats);
    // Root's private range: a slot claimed for the container's life (userns.rs).
    let slot = match config.namespaces.user.filter(|u| u.private).map(|_| crate::userns::Slot::claim()) {
        Some(Err(failure)) => return failure.report(),
        slot => slot.and_then(Result::ok),
    };
    let user = config
        .namespaces
        .user
        .map(|u| slot.as_ref().map_or(u, |slot| crate::userns::private(slot.base, u.idmap)));
    // Trees to idmap (root's `--userns private`) are cloned here, still in the host's
    // namespaces, where the host side may idmap them (rootfs::Trees). All others are
    // cloned by the init from its own mount namespace, a copy the kernel locks: root inside
    // cannot unmount or remount what came from the host, even given CAP_SYS_ADMIN.
    let host_clones = user.is_some_and(|u| u.idmap);
    // (Root's host side keeps its own privileges: in a user namespace its init makes the
    // network namespace itself, init.rs.)
    let root = rustix::process::geteuid().is_root();
    let trees = match host_clones.then(|| crate::rootfs::Trees::clone(config, None)).transpose() {
        Ok(trees) => trees,
        Err(failure) => return failure.report(),
    };
    // Mount points the init creates in a writable rootfs directory are removed after the
    // run: the init reports them (report.rs), and this lock keeps another run of the same
    // directory, read-only or not, from losing its mounts to that removal (see `clean_up`).
    #[cfg(feature = "oci")]
    let oci = caller.oci;
    #[cfg(not(feature = "oci"))]
    let oci: Option<()> = None;
    // (An OCI container's init outlives `create`: an engine's bundle is its own to clean.)
    let rootfs = if oci.is_none() { lock_rootfs(config.root) } else { None };
    let handshakes = (
        (config.namespaces.network == Namespace::New && (user.is_none() || !root))
            .then(Handshake::new)
            .transpose(),
        // A named container must be recorded before COMMAND runs: the gate waits for that.
        if entry.is_some() || oci.is_some() { gate(oci) } else { Ok(Gate::open()) },
        (stats || (rootfs.is_some() && !config.root.read_only())).then(Report::new).transpose(),
    );
    let (network, mut gate, report) = match handshakes {
        (Ok(network), Ok(gate), Ok(report)) => (network, gate, report),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return Failure::new("pipe", b"", e).report(),
    };
    let maps = match user.map(|_| IdMaps::new()).transpose() {
        Ok(maps) => maps,
        Err(e) => return Failure::new("pipe", b"", e).report(),
    };
    let context = Context {
        take_terminal: caller.take_terminal,
        parent: lifeline.as_fd(),
        ready,
        network: network.as_ref(),
        gate: &gate,
        report: report.as_ref().map(Report::fd),
        maps: maps.as_ref(),
        cgroups: group.as_ref(),
        trees: trees.as_ref(),
        hosts: net.as_ref().and_then(crate::net::setup::Network::hosts),
    };
    // A user namespace comes with the PID namespace, in the same clone3: the PID namespace
    // is then the user namespace's, so its procfs may be mounted there (pid_namespaces(7)).
    let namespaces = if user.is_some() { NEW_PID | sys::Namespaces::USER } else { NEW_PID };
    let child = match sys::clone(namespaces, group.as_ref().and_then(Group::clone_into)) {
        Ok(0) => init::run(config, caller.process, caller.signals, &context),
        Ok(pid) => pid,
        Err(e) => {
            if let Some(group) = &group {
                group.remove();
            }
            // Where a user namespace was refused, the setting that refuses it, if one does.
            let hint = if user.is_some() { crate::nsknobs::why_forbidden(e) } else { "" };
            return Failure::new("clone", b"", e).with_hint(hint).report();
        }
    };
    drop(lifeline);
    // The init waits for its id maps before it builds anything (sync.rs, IdMaps).
    if let (Some(user), Some(maps)) = (&user, maps) {
        match write_maps(config, child, user, trees.as_ref(), network.is_some()) {
            Ok(()) => {
                maps.written();
                // Now in the container's user namespace (an ordinary user's host side, with
                // a network namespace of its own: write_maps), where killed runs' layers
                // can be removed.
                #[cfg(feature = "images")]
                if let (Root::Overlay { run, .. }, true, false) = (config.root, network.is_some(), root) {
                    crate::image::store::sweep_beside(run);
                }
            }
            // The init ends with 125 on its own, hearing nothing.
            Err(failure) => drop(failure.report()),
        }
    }
    drop(trees);
    // Beside the init (see sync.rs): the network namespace, then the record, then the gate.
    if let Some(Err(failure)) = network.map(|network| network.make(child, net.as_ref(), config.publish)) {
        // The init ends with 125 on its own; its status is the one passed on.
        failure.report();
    }
    // An OCI container: recorded once built; `create` leaves it at its gate for `start`.
    #[cfg(feature = "oci")]
    let mut failed = None;
    #[cfg(feature = "oci")]
    if let Some(created) = oci
        && gate.wait_built()
    {
        match crate::oci::built(created, child) {
            Ok(()) if created.gate.is_some() => return 0,
            Ok(()) => {}
            // The init goes (it never passes the gate), and the run ends with this failure.
            Err(failure) => {
                failed = Some(failure.report());
                let _ = sys::kill(child, SIGKILL);
            }
        }
    }
    // Only once built (see Gate): an init that ended before has nothing to record, and its
    // status says why.
    if let Some(entry) = entry
        && gate.wait_built()
    {
        named::record(entry, config, caller.process, child);
    }
    gate.release();
    // The container's init forwards to COMMAND in turn; it exits with COMMAND's status.
    let supervisor = Supervisor { child, group: false, place: Place::Subreaper };
    let code = supervisor.wait(&mut |sig| Some(sig)).exit_code();
    clean_up(config, report, rootfs, group, code);
    drop(slot);
    #[cfg(feature = "oci")]
    if let Some(code) = failed {
        return code;
    }
    code
}

/// The gate of a named container (a pipe), or of an OCI container's `create` (its FIFO,
/// which `start` opens: oci/state.rs).
#[cfg(feature = "oci")]
fn gate(oci: Option<&crate::oci::Created>) -> Result<Gate, rustix::io::Errno> {
    match oci.and_then(|created| created.gate.as_ref()) {
        Some((fifo, started)) => Gate::fifo(
            // (From 3 on: never where the container's stdio goes.)
            rustix::io::fcntl_dupfd_cloexec(fifo, 3)?,
            rustix::io::fcntl_dupfd_cloexec(started, 3)?,
        ),
        None => Gate::closed(),
    }
}

#[cfg(not(feature = "oci"))]
fn gate(_: Option<()>) -> Result<Gate, rustix::io::Errno> {
    Gate::closed()
}

/// The init's id maps (userns.rs), and root's trees idmapped through its namespace.
#[inline(never)] // out of the supervising frame
fn write_maps<'a>(
    config: &Config<'a>,
    child: i32,
    user: &crate::userns::UserNs,
    trees: Option<&crate::rootfs::Trees>,
    network: bool,
) -> Result<(), Failure<'a>> {
    crate::userns::write_maps(child, user)?;
    let mut path = crate::cpath::CPath::new();
    let c = crate::procfs::pid_path(&mut path, child, b"ns/user").map_err(fail("userns", b""))?;
    let ns =
        rustix::fs::open(c, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).map_err(fail("userns", b""))?;
    if let Some(trees) = trees.filter(|_| user.idmap) {
        trees.idmap(config, ns.as_fd())?;
    }
    // An ordinary user's host side makes the network namespace beside the init, as root's
    // does (sync.rs), but from inside the container's user namespace, which must own it
    // for the init's sysfs: it moves there for good (still the caller's uid, with the
    // capabilities of the namespace's owner, which are the caller's own anyway). Root's
    // host side would lose its own there: its init makes the namespace itself (init.rs).
    // (It stays dumpable, as it was for the maps: the init joins its network namespace
    // through it, which a non-dumpable process would refuse the init, ptrace(2). Nothing in
    // the container can reach it: it is no process of the container's PID namespace.)
    if network {
        move_into_thread_name_spaces(ns.as_fd(), ThreadNameSpaceType::USER)
            .map_err(fail("setns user", b""))?;
    }
    Ok(())
}

/// A rootfs directory, opened and share-locked (flock(2)) for the whole run; None for the
/// host's root, or where the lock cannot be had (nothing is removed then).
#[inline(never)] // its path buffer off the frame that supervises the container
fn lock_rootfs(root: Root) -> Option<OwnedFd> {
    // Every run of a directory takes it, read-only ones too: their mount points are as
    // much in use as a writable run's.
    let Root::Dir { path, .. } = root else { return None };
    let mut c = crate::cpath::CPath::new();
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let fd = rustix::fs::open(c.of(&[path]).ok()?, flags, Mode::empty()).ok()?;
    // Never waited on without end: anyone who may read the directory may lock it, a
    // container with it mounted too. husk's own exclusive holders (a cleanup) hold it for
    // milliseconds: a second of tries covers them; past that, the run goes on without the
    // lock (and so removes nothing itself).
    for _ in 0..LOCK_TRIES {
        if flock(&fd, FlockOperation::NonBlockingLockShared).is_ok() {
            return Some(fd);
        }
        sys::sleep_ns(LOCK_PAUSE_NS);
    }
    None
}

/// How often, and how long apart, the rootfs's lock is tried: a second in all.
const LOCK_TRIES: u32 = 200;
const LOCK_PAUSE_NS: u64 = 5_000_000;

/// After the container, with what its init reported: removes the mount points it created
/// in the rootfs directory (`rootfs::remove_made`) — unless another run of the same
/// directory holds it too — then reports on the cgroup and removes it.
///
/// Removing a directory is allowed even where it is a mount point in another mount
/// namespace, and then takes that mount away (the kernel detaches it): a second container
/// using the same mount point would lose its volume. So: only with the directory's lock
/// held exclusively, never waited for; a run that starts meanwhile waits for its shared
/// lock until this is done, then creates what it needs anew.
#[inline(never)] // see create_group
fn clean_up(
    config: &Config,
    report: Option<Report>,
    rootfs: Option<OwnedFd>,
    group: Option<Group>,
    code: u8,
) {
    let mut buf = [0u8; report::BYTES];
    let notes = report.map_or(&[][..], |report| report.read(&mut buf));
    if let Some(rootfs) = rootfs.filter(|fd| flock(fd, FlockOperation::NonBlockingLockExclusive).is_ok()) {
        crate::rootfs::remove_made(rootfs.as_fd(), &config.mounts, notes);
    }
    if let Some(group) = group {
        report_and_remove(config, &group, code, Note::all(notes).any(|note| note == Note::STARTED));
    }
    // An image's writable layer is the run's alone.
    #[cfg(feature = "images")]
    if let Root::Overlay { run, .. } = config.root {
        crate::image::store::Store::remove_run(run);
    }
}

/// The container's cgroups with the limits written.
#[inline(never)] // out of the caller's frame: see named::record
fn create_group<'a>(
    wanted: &crate::config::Cgroup<'a>,
    scratch: &'a mut cgroup::ParentPath,
    companions: [i32; 2],
) -> Result<Group, Failure<'a>> {
    Group::create(wanted, scratch, companions)
}

/// After the container: say when the OOM killer ended it, print `--stats` if COMMAND
/// started (`ran`; a container that was never built has nothing to report), remove the
/// group (every process in it is gone: the container's init has been reaped).
#[inline(never)] // see create_group
fn report_and_remove(config: &Config, group: &Group, code: u8, ran: bool) {
    let mut max = [0u8; 512];
    if code == 128 + SIGKILL as u8
        && let Some((file, limit)) = group.oom_kill(&mut max)
    {
        out::message(&[b"out of memory (", file, b"=", limit, b")"]);
    }
    if ran && config.cgroup.is_some_and(|c| c.stats) {
        let mut line = out::Line::new();
        cgroup::format_stats(&mut line, &group.stats());
        line.write_to(2);
    }
    group.remove();
}
