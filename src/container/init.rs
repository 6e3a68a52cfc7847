//! The container's PID 1: moves into its namespaces, names the host, builds the root (the
//! config's mounts, joining the network namespace the host side makes meanwhile), waits at
//! the gate, then runs COMMAND as `husk init` would and reaps and forwards until it ends.

use rustix::fd::BorrowedFd;

use super::report::Note;
use super::sync::{Gate, Handshake, IdMaps};
use crate::caps;
use crate::config::{Config, Namespace};
use crate::cpath::CPath;
use crate::environment;
use crate::error::{Failure, fail};
use crate::pid1::{Place, Supervisor};
use crate::rootfs;
use crate::rootfs::Trees;
use crate::rt::{Process, sys};
use crate::signals::SIGKILL;
use crate::spawn::{self, CallerSignals, Dir, Launch};
use crate::status;
use rustix::process::{Gid, Uid};
#[cfg(feature = "oci")]
use rustix::thread::ThreadNameSpaceType;

/// The namespaces the init moves into itself, so that making them (the mount table copied,
/// IPC's sysctls registered) runs alongside the network namespace the host side makes (see
/// sync.rs). The network one, unless the host's, is joined later.
const NEW_OTHERS: sys::Namespaces = sys::Namespaces::MOUNT
    .with(sys::Namespaces::UTS)
    .with(sys::Namespaces::IPC)
    .with(sys::Namespaces::CGROUP);

/// What the container's init needs to know from the host side.
pub struct Context<'f> {
    pub take_terminal: bool,
    /// A pidfd of husk run, to check it did not die before the parent-death signal was set.
    pub parent: BorrowedFd<'f>,
    /// Where to report "COMMAND started" (a byte 0) for --detach.
    pub ready: Option<BorrowedFd<'f>>,
    /// A network namespace of its own: the way to the one the host side makes meanwhile.
    pub network: Option<&'f Handshake>,
    /// Passed once the host side lets COMMAND start.
    pub gate: &'f Gate,
    /// Where to report the mount points made in the root and that COMMAND started
    /// (report.rs), when the host side listens.
    pub report: Option<BorrowedFd<'f>>,
    /// In a user namespace of its own: the word that the host side wrote its id maps.
    pub maps: Option<&'f IdMaps>,
    /// The container's cgroups, as the host side made them (the init moves itself into its
    /// v1 ones, and shows them all at /sys/fs/cgroup).
    pub cgroups: Option<&'f crate::cgroup::Group>,
    /// The host trees, when the host side cloned them to idmap them (`--userns private`:
    /// rootfs::Trees).
    pub trees: Option<&'f Trees>,
    /// A bridged container's /etc/hosts on the host (net/bridge.rs).
    pub hosts: Option<&'f [u8]>,
}

/// The init, right after clone3. Never returns.
pub fn run(config: &Config, process: &Process, signals: &CallerSignals, context: &Context) -> ! {
    // If `husk run` dies, even by SIGKILL, the container dies with it: the init's death
    // ends every process in the PID namespace (pid_namespaces(7)). Check the parent after
    // asking (prctl(2), PR_SET_PDEATHSIG): it may have died before the request took effect.
    let _ = sys::set_parent_death_signal(SIGKILL);
    if !sys::pidfd_alive(context.parent) {
        sys::exit(status::FAILURE);
    }
    // Into its v1 cgroups, first thing: before anything of the container runs, and before
    // its cgroup namespace is made, whose root is where it is then (cgroup_namespaces(7)).
    // (v2 needs nothing: it was cloned into its group.)
    if let Some(Err(e)) = context.cgroups.map(crate::cgroup::Group::enter) {
        sys::exit(Failure::new("cgroup", b"tasks", e).report());
    }
    // (Non-dumpable already, from husk run: see container::run.)
    // No descriptor of the host's but stdio crosses into the container: an inherited
    // directory fd would be a way out of the root (the runc CVE-2024-21626 class).
    // (Kept, all close-on-exec so COMMAND never has them: the readiness pipe of --detach,
    // the report's, the gate's end, and until the init has joined the network namespace,
    // its pipe and the host's pidfd.)
    close_inherited(config, context);
    sys::exit(match create_and_start(config, process, signals, context) {
        Ok(code) => code,
        Err(failure) => failure.report(),
    })
}

/// Closes every descriptor but stdio and those listed at the start of `run`. Out of line: its
/// list off the frame that lives as long as the init.
#[inline(never)]
fn close_inherited(_config: &Config, context: &Context) {
    let network = context.network.map(Handshake::ready_fd);
    let mut keep: heapless::Vec<i32, { 9 + crate::config::MAX_MOUNTS + OCI_KEPT }> = heapless::Vec::new();
    let _ = keep.extend_from_slice(&[
        sys::raw(context.ready),
        sys::raw(context.report),
        sys::raw(context.gate.fd()),
        sys::raw(context.gate.built_fd()),
        sys::raw(context.gate.started_fd()),
        sys::raw(network),
        // (Also kept until the init has taken its ids in a user namespace: see take_mapped_ids.)
        sys::raw((network.is_some() || context.maps.is_some()).then_some(context.parent)),
        sys::raw(context.maps.map(IdMaps::fd)),
    ]);
    for fd in context.trees.iter().flat_map(|trees| trees.fds()) {
        let _ = keep.push(fd);
    }
    // An OCI container's console socket and the descriptors it passes on.
    #[cfg(feature = "oci")]
    for fd in _config.process.oci.iter().flat_map(|extra| extra.kept()) {
        let _ = keep.push(fd);
    }
    sys::close_all_but(&keep);
}

/// The descriptors an OCI container keeps while it is built: its console socket and those
/// it passes on (oci/bundle.rs, `Extra::kept`).
#[cfg(feature = "oci")]
const OCI_KEPT: usize = 1 + crate::oci::bundle::MAX_PRESERVED as usize;
#[cfg(not(feature = "oci"))]
const OCI_KEPT: usize = 0;

/// After the gate, as at the start: no descriptor but stdio, --detach's pipe, the report,
/// `started` (and what an OCI container passes on).
#[inline(never)]
fn close_after_gate(_process: &crate::config::Process, context: &Context) {
    let mut keep: heapless::Vec<i32, { 3 + OCI_KEPT }> = heapless::Vec::new();
    let _ = keep.extend_from_slice(&[
        sys::raw(context.ready),
        sys::raw(context.report),
        sys::raw(context.gate.started_fd()),
    ]);
    #[cfg(feature = "oci")]
    for fd in _process.oci.iter().flat_map(|extra| extra.preserved()) {
        let _ = keep.push(fd);
    }
    sys::close_all_but(&keep);
}

/// Creates the container up to the gate, then starts COMMAND and serves as PID 1.
fn create_and_start<'a>(
    config: &Config<'a>,
    process: &Process,
    signals: &CallerSignals,
    context: &Context,
) -> Result<u8, Failure<'a>> {
    let mut privileges = create(config, context)?;
    // What the container sees of its PID 1 (`ps`, /proc/1/cmdline, which anyone may read):
    // `husk init -- COMMAND…`, not husk run's line with the host's paths. Before the gate, so
    // nothing in the container (COMMAND, husk exec) ever sees the old one. Best effort:
    // cosmetic where the kernel refuses (its environment is not shown: non-dumpable).
    let p = &config.process;
    // COMMAND: argv's tail, or what an image's config made of it.
    let (name, argv) = match p.argv {
        Some(argv) => (argv.iter().next().unwrap_or(c""), argv),
        None => (process.arg(p.command), process.argv_from(p.command)),
    };
    if let Some(map) = process.memory_map() {
        let _ = sys::show_command_line(&map, b"husk\0init\0--\0", argv, c"husk");
    }
    // An OCI container's terminal: its master goes to the engine while it creates.
    #[cfg(feature = "oci")]
    if let Some(extra) = p.oci.filter(|extra| extra.terminal && extra.console >= 0) {
        let size = extra.doc.and_then(|d| d.path(&[b"process", b"consoleSize"]));
        crate::oci::terminal::set_up(size, sys::stdio(extra.console))?;
    }
    // The gate: a named container is recorded once built (so that `husk exec` never joins
    // it half-built) and before its COMMAND runs.
    context.gate.built();
    context.gate.pass();
    close_after_gate(p, context);
    privileges.bounding_before = privileges.bounding;
    let mut env = environment::Environment::new();
    #[cfg_attr(not(feature = "oci"), allow(unused_mut))]
    let mut envp = env.build(config.hostname, p.user, p.env, p.env_files, process);
    #[cfg_attr(not(feature = "oci"), allow(unused_mut))]
    let mut path = environment::command_path(p.env, p.env_files, process);
    // An OCI config's process: its environment exactly, its limits, then its
    // startContainer hooks, in the container.
    #[cfg(feature = "oci")]
    if let Some(extra) = p.oci {
        (envp, path) = (extra.env.unwrap_or(envp), extra.path);
        crate::oci::process::prepare(extra)?;
    }
    let mut cwd = CPath::new();
    let launch = Launch {
        name,
        argv,
        envp,
        path,
        take_terminal: context.take_terminal || oci_terminal(p),
        // Always an identity, root's by default: COMMAND never keeps the supplementary
        // groups husk itself was started with (a service's `docker` group, say).
        user: Some(p.user.map_or((0, 0), |u| (u.uid, u.gid))),
        groups: p.user.map_or(&[][..], |u| &u.groups),
        cwd: Some(Dir::Path(cwd.of(&[p.cwd]).map_err(fail("chdir", p.cwd))?)),
        caps: Some(privileges),
    };
    let child = match spawn::spawn(&launch, signals) {
        Ok(child) => child,
        Err(failure) => return Ok(failure.report()),
    };
    // Two bytes: one for `husk run -d`, which returns on it, and one left in the pipe for
    // the detached supervisor, which learns from it that COMMAND ran (container/named.rs).
    if let Some(ready) = context.ready {
        sys::write_all(rustix::fd::AsRawFd::as_raw_fd(&ready), &[0, 0]);
    }
    Note::STARTED.send(context.report);
    context.gate.ran();
    let _ = sys::close_from(3);
    caps::keep_only_kill(privileges.bounding).map_err(fail("capabilities", b""))?;
    let supervisor = Supervisor { child, group: false, place: Place::NamespaceInit };
    Ok(supervisor.wait(&mut |sig| Some(sig)).exit_code())
}

/// Whether an OCI config's process has the terminal the init made (oci/terminal.rs).
fn oci_terminal(_process: &crate::config::Process) -> bool {
    #[cfg(feature = "oci")]
    if let Some(extra) = _process.oci {
        return extra.terminal && extra.console >= 0;
    }
    false
}

/// Everything but COMMAND: namespaces, hostname, the bounding set, the root and its mounts.
/// Returns COMMAND's privileges.
fn create<'a>(config: &Config<'a>, context: &Context) -> Result<caps::Privileges, Failure<'a>> {
    // Everything up to the root's network step runs while the host side makes the network
    // namespace (see sync.rs). The terminal is cloned first, while the init still shares
    // the host's mount namespace (rootfs::clone_console). unshare(2) moves only the init,
    // which is all there is yet; the new cgroup namespace is rooted where the init is
    // (cgroup_namespaces(7)): in the container's own cgroup when there is one, since it was
    // cloned into it, or had moved itself into it (v1: `run`).
    let user = config.namespaces.user;
    let console = if user.is_none() { rootfs::clone_console()? } else { None };
    // In root's user namespace the network namespace is the init's own making: one made by
    // root's host side would belong to the host's user namespace, and a sysfs shows only a
    // network namespace its mounter's user namespace owns (user_namespaces(7)); an ordinary
    // user's host side makes it from inside the container's (host.rs, write_maps).
    let own_network =
        user.is_some() && config.namespaces.network == Namespace::New && context.network.is_none();
    let network = if own_network { sys::Namespaces::NET } else { sys::Namespaces::NONE };
    #[cfg(feature = "oci")]
    let others = match config.process.oci {
        Some(extra) => oci_namespaces(extra)?,
        None => NEW_OTHERS,
    };
    #[cfg(not(feature = "oci"))]
    let others = NEW_OTHERS;
    // The first privileged step in a user namespace: where a security module denies the
    // namespace its capabilities (Ubuntu's AppArmor setting), this is where it shows.
    sys::unshare(others | network).map_err(|e| {
        let hint = if user.is_some() { crate::nsknobs::why_forbidden(e) } else { "" };
        Failure::new("unshare", b"", e).with_hint(hint)
    })?;
    if own_network {
        sys::loopback_up().map_err(fail("loopback network", b""))?;
    }
    let console = match (user, context.maps) {
        (Some(user), Some(maps)) => take_mapped_ids(&user, maps, context.parent)?,
        _ => console,
    };
    // (An OCI config may name none: the UTS namespace keeps the name it was made with.)
    if !config.hostname.is_empty() {
        rustix::system::sethostname(config.hostname).map_err(fail("sethostname", config.hostname))?;
    }
    // The bounding set is shrunk here, once, for COMMAND (which inherits it) and for the init
    // itself, which later keeps even less (keep_only_kill): each drop builds new
    // credentials. (Only the effective set matters for building the root, and that stays
    // whole.)
    let shrink = |privileges: caps::Privileges| {
        caps::shrink_bounding_set(!privileges.bounding).map_err(fail("capabilities", b""))
    };
    let mut privileges = caps::privileges(&config.process, false);
    shrink(privileges)?;
    let join = context.network.map(|network| (network, context.parent));
    let entered = rootfs::enter(
        config,
        context.trees,
        join,
        console.as_ref(),
        context.report,
        context.cgroups.map_or(0, crate::cgroup::Group::joined),
        context.hosts,
    )?;
    drop(console);
    // An OCI config's devices, sysctls, masked and read-only paths, in the root entered.
    #[cfg(feature = "oci")]
    if let Some(extra) = config.process.oci {
        crate::oci::mounts::finish(extra)?;
    }
    if entered == rootfs::Entered::Chrooted {
        privileges = caps::privileges(&config.process, true);
        shrink(privileges)?;
    }
    Ok(privileges)
}

/// An OCI config's namespaces besides PID, mount and network: those it names by path joined
/// (setns(2)), those it leaves out kept (the host's); the rest are made new. Returns the
/// kinds to unshare.
#[cfg(feature = "oci")]
fn oci_namespaces<'a>(extra: &crate::oci::bundle::Extra) -> Result<sys::Namespaces, Failure<'a>> {
    let mut new = NEW_OTHERS.without(extra.shared);
    for &(kind, path) in &extra.joined {
        let fd = rustix::fs::open(
            path,
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| Failure::new("setns", b"", e).with_hint("linux.namespaces' path"))?;
        let kind_flag = ThreadNameSpaceType::from_bits_retain(kind.bits());
        rustix::thread::move_into_thread_name_spaces(rustix::fd::AsFd::as_fd(&fd), kind_flag)
            .map_err(|e| Failure::new("setns", b"", e).with_hint("linux.namespaces' path"))?;
        new = new.without(kind);
    }
    Ok(new)
}

/// In a user namespace of its own, once the host side says the maps are written: the
/// namespace's own ids, non-dumpable, and the terminal (by path: see rootfs.rs).
fn take_mapped_ids<'a>(
    user: &crate::userns::UserNs,
    maps: &IdMaps,
    parent: BorrowedFd,
) -> Result<Option<rustix::fd::OwnedFd>, Failure<'a>> {
    // Until the maps are there, the init's ids are unmapped and it can make nothing.
    maps.wait();
    // The host side left it dumpable for the maps (container::run): no longer.
    sys::make_non_dumpable().map_err(fail("prctl dumpable", b""))?;
    // Root's own ids (0 on the host) are unmapped in a private range: take the namespace's,
    // else whatever the init makes would overflow (EOVERFLOW).
    let (uid, gid) = (Uid::from_raw(user.ids.0), Gid::from_raw(user.ids.1));
    rustix::thread::set_thread_res_gid(gid, gid, gid).map_err(fail("setgid", b""))?;
    rustix::thread::set_thread_res_uid(uid, uid, uid).map_err(fail("setuid", b""))?;
    // Root's supplementary groups (a service's `disk`, `adm`) are no business of the init's
    // where they may be dropped.
    if !user.deny_setgroups {
        rustix::thread::set_thread_groups(&[]).map_err(fail("setgroups", b""))?;
    }
    // Changing the effective ids cleared the parent-death signal (prctl(2), PR_SET_PDEATHSIG):
    // without it again, a SIGKILLed husk run would leave root's private container running.
    // Asked for again, then the parent checked once more for the race, as at the start.
    let _ = sys::set_parent_death_signal(SIGKILL);
    if !sys::pidfd_alive(parent) {
        sys::exit(status::FAILURE);
    }
    rootfs::clone_console_by_path()
}
