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
use crate::config::{Config, Identity, MountKind, Root};
use crate::cpath::CPath;
use crate::environment;
use crate::error::{Failure, fail};
use crate::rt::{Process, sys};
use crate::spawn::{self, CallerSignals};

/// `husk run`: returns the exit code to end with.
#[inline(never)] // a role's own frame: see main.rs
pub fn run(spec: &RunSpec, process: &Process) -> u8 {
    // Declared first: the config borrows them once they are read.
    let (identity, env_files);
    #[cfg(feature = "images")]
    let image;
    #[cfg(feature = "images")]
    let mut defaults = crate::image::Defaults::default();
    // An image's USER, where -u does not say (images only).
    #[cfg_attr(not(feature = "images"), allow(unused_mut))]
    let mut image_user = None;
    let mut own_cgroups = [0u8; crate::cgroup::CGROUP_FILE];
    let mut config = spec.config();
    // Bad input is reported before anything changes anywhere (README, "Errors").
    if let Err(failure) = check_input(spec, &config) {
        return failure.report();
    }
    // An archive or an image: found in husk's store, or unpacked there first (image/); the
    // run's writable layer goes when `image` does, after the container.
    #[cfg(feature = "images")]
    if let Some(source @ (crate::image::Source::Archive(_) | crate::image::Source::Image(_))) =
        spec.rootfs.map(crate::image::Source::of)
    {
        image = match crate::image::prepare(source, spec.max_unpacked, spec.read_only, process) {
            Ok(image) => image,
            Err(failure) => return failure.report(),
        };
        config.root = match image.run() {
            Some(run) => Root::Overlay { lower: image.lower(), run },
            None => Root::Dir { path: image.lower(), read_only: true },
        };
        defaults = match image.defaults() {
            Ok(defaults) => defaults,
            Err(failure) => return failure.report(),
        };
        if let Err(failure) = apply_defaults(spec, &defaults, &mut config, process) {
            return failure.report();
        }
        image_user = crate::users::parse(defaults.user);
    }
    // What the config needs read from files, also before anything changes: who COMMAND is
    // (the root's /etc/passwd and /etc/group) and the env files.
    config.namespaces.user = match user_namespace(spec, &config) {
        Ok(user) => user,
        Err(failure) => return failure.report(),
    };
    // `--userns keep-id` without `-u`: the caller's own ids, as an ordinary user's.
    let own = config.namespaces.user.map(|u| u.ids).filter(|&ids| ids != (0, 0));
    identity = match spec
        .user
        .as_ref()
        .or(image_user.as_ref())
        .map(|user| resolve_user(&config.root, user))
        .transpose()
    {
        Ok(None) => own.map(|(uid, gid)| Identity::ids(uid, gid)),
        Ok(identity) => identity,
        Err(failure) => return failure.report(),
    };
    // A user namespace maps only some ids: COMMAND's must be among them (else setresuid
    // fails, EINVAL, once everything is built).
    if let (Some(user), Some(who)) = (config.namespaces.user, identity.as_ref())
        && !(user.uids.contains(who.uid) && user.gids.contains(who.gid))
    {
        let hint = "not mapped in the container's user namespace (a user's own id is 0 there; \
                    more need subordinate ids: /etc/subuid, /etc/subgid and newuidmap)";
        return Failure::new("user", b"", Errno::INVAL).with_hint(hint).report();
    }
    // The host's cgroup layout and husk's own groups, which the container's go below.
    if let Some(cgroup) = config.cgroup.as_mut() {
        cgroup.host = match crate::cgroup::host(&mut own_cgroups) {
            Ok(host) => host,
            Err(failure) => return failure.report(),
        };
    }
    env_files = match environment::read_files(&spec.env_files, process) {
        Ok(files) => files,
        Err(failure) => return failure.report(),
    };
    // The image's environment comes first: env files and -e override it.
    #[cfg(feature = "images")]
    let env_files = match defaults_env(&defaults.env, env_files) {
        Ok(files) => files,
        Err(failure) => return failure.report(),
    };
    config.process.user = identity.as_ref();
    config.process.env_files = env_files;
    // Non-dumpable before the container exists, and so is every process forked from here
    // on (the init, the detached supervisor, COMMAND until its execve, which gives COMMAND
    // the usual state back): nothing in the container, root included, may ptrace them, read
    // their memory or open /proc/PID/exe or fd/N (the runc CVE-2019-5736 class; ptrace(2),
    // "Ptrace access mode checking").
    // But an ordinary user's init must stay dumpable until its id maps are written: a
    // non-dumpable process's /proc/PID files belong to root, so its owner could not open
    // uid_map (proc(5), /proc/pid). The init goes non-dumpable right after the maps
    // (init.rs), before anything of the container runs, and so is everything forked from it
    // (COMMAND until its execve); the host side, which no process of the container can
    // name (it is not in their PID namespace), stays as it is (host.rs, write_maps).
    let maps_first = config.namespaces.user.is_some() && !rustix::process::geteuid().is_root();
    if !maps_first && let Err(e) = sys::make_non_dumpable() {
        return Failure::new("prctl dumpable", b"", e).report();
    }
    let signals = CallerSignals::take_over(process);
    if spec.name.is_none() && !spec.detach {
        // Decided here, where husk's group is visible: inside the new PID namespace the
        // terminal's foreground group is outside and reads as 0.
        let caller = host::Caller {
            process,
            signals: &signals,
            take_terminal: spawn::holds_terminal(),
            companions: [0; 2],
            #[cfg(feature = "oci")]
            oci: None,
        };
        return host::start(&config, &caller, None, None);
    }
    named::run(spec, &config, process, &signals)
}

/// The image's defaults: its Entrypoint and Cmd as COMMAND (with `--entrypoint` and a
/// COMMAND as docker takes them), its WorkingDir where -w is not given.
#[cfg(feature = "images")]
#[inline(never)]
fn apply_defaults<'a>(
    spec: &RunSpec<'a>,
    defaults: &crate::image::Defaults,
    config: &mut Config<'a>,
    process: &Process,
) -> Result<(), Failure<'a>> {
    use crate::rt::{CStrSlots, Reserved};
    static ARGV: Reserved<CStrSlots<{ 2 * crate::image::MAX_LIST + 2 }>> = Reserved::new(CStrSlots::new());
    if !spec.cwd_given && !defaults.cwd.is_empty() {
        config.process.cwd = defaults.cwd;
    }
    let slots = ARGV.take().ok_or(Failure::new("image config", b"", Errno::BUSY))?;
    let mut argv = slots.writer();
    let given = spec.command < process.argc();
    let program = match spec.entrypoint {
        Some(program) => {
            let copy = sys::scratch(program.len() + 1).map_err(fail("entrypoint", program))?;
            copy[..program.len()].copy_from_slice(program);
            let copy: &'static [u8] = copy;
            Some(crate::rt::c_str(copy).ok_or(Failure::new("entrypoint", program, Errno::INVAL))?)
        }
        None => None,
    };
    let entrypoint = program.as_ref().map_or(&defaults.entrypoint[..], core::slice::from_ref);
    let command = (spec.command..process.argc()).map(|i| process.arg(i));
    let cmd = defaults.cmd.iter().copied().filter(|_| !given && spec.entrypoint.is_none());
    for arg in entrypoint.iter().copied().chain(command).chain(cmd) {
        if !argv.push(arg) {
            return Err(Failure::new("image config", b"", Errno::TOOBIG).with_hint("too many arguments"));
        }
    }
    let argv = argv.finish();
    if argv.iter().next().is_none() {
        let hint = "the image names no command (Entrypoint, Cmd): give one after --";
        return Err(Failure::new("image config", b"", Errno::INVAL).with_hint(hint));
    }
    config.process.argv = Some(argv);
    Ok(())
}

/// The image's Env, then the env files' entries (which override it, as -e does both).
#[cfg(feature = "images")]
fn defaults_env(
    image: &[&'static core::ffi::CStr],
    files: &'static [&'static core::ffi::CStr],
) -> Result<&'static [&'static core::ffi::CStr], Failure<'static>> {
    static ALL: crate::rt::Reserved<
        heapless::Vec<&'static core::ffi::CStr, { environment::MAX_FILE_ENTRIES }>,
    > = crate::rt::Reserved::new(heapless::Vec::new());
    if image.is_empty() {
        return Ok(files);
    }
    let all = ALL.take().ok_or(Failure::new("image config", b"", Errno::BUSY))?;
    for &entry in image.iter().chain(files) {
        all.push(entry).map_err(|_| Failure::new("env-file", b"", Errno::TOOBIG))?;
    }
    Ok(all)
}

/// Checks what can be checked without changing anything: a terminal is there for `-t`, the
/// capabilities asked for are husk's to give, the root filesystem is a directory and every
/// bind source exists.
#[inline(never)] // out of the init's frame: see host::record
fn check_input<'a>(spec: &RunSpec, config: &Config<'a>) -> Result<(), Failure<'a>> {
    // Docker's -t makes a terminal; husk passes the caller's through, so there must be one.
    if spec.tty && !rustix::termios::isatty(sys::stdio(0)) {
        return Err(Failure::new("-t", b"", Errno::NOTTY).with_hint("standard input is not a terminal"));
    }
    if let Some(name) = caps::missing_capability(config.process.caps_added) {
        return Err(Failure::new("cap-add", name, Errno::PERM));
    }
    let mut path = CPath::new();
    if let Root::Dir { path: rootfs, .. } = config.root
        && (!cfg!(feature = "images")
            || crate::image::Source::of(rootfs) == crate::image::Source::Dir(rootfs))
    {
        let c = path.of(&[rootfs]).map_err(fail("rootfs", rootfs))?;
        open(c, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).map_err(|e| {
            let hint = "this husk runs archives only when built with them (cargo build --features images)";
            let failure = Failure::new("rootfs", rootfs, e);
            if e == Errno::NOTDIR && !cfg!(feature = "images") { failure.with_hint(hint) } else { failure }
        })?;
    }
    for mount in config.mounts.iter().filter(|m| matches!(m.kind, MountKind::Bind { .. })) {
        let c = path.of(&[mount.source]).map_err(fail("bind", mount.source))?;
        stat(c).map_err(fail("bind", mount.source))?;
    }
    Ok(())
}

/// The container's user namespace, from `--userns`, who the caller is (their effective ids:
/// those the kernel lets them map) and their subordinate ranges (userns.rs).
#[inline(never)]
fn user_namespace<'a>(spec: &RunSpec, config: &Config) -> Result<Option<crate::userns::UserNs>, Failure<'a>> {
    let (uid, gid) = (rustix::process::geteuid().as_raw(), rustix::process::getegid().as_raw());
    let asked = spec.userns;
    let sub = if uid != 0 && asked != crate::userns::Request::KeepId {
        crate::userns::caller_subordinate(uid)
    } else {
        None
    };
    crate::userns::plan(asked, (uid, gid), config.root == Root::Host, sub)
        .map_err(|why| Failure::new("userns", b"", Errno::INVAL).with_hint(why))
}

/// `--user`, looked up in the root's own /etc/passwd and /etc/group (users.rs).
#[inline(never)]
fn resolve_user<'a>(root: &Root<'a>, user: &crate::users::UserSpec<'a>) -> Result<Identity, Failure<'a>> {
    let dir = match *root {
        Root::Host => &b"/"[..],
        Root::Dir { path, .. } => path,
        #[cfg(feature = "images")]
        Root::Overlay { lower, .. } => lower,
    };
    let mut path = CPath::new();
    let c = path.of(&[dir]).map_err(fail("rootfs", dir))?;
    let fd = open(c, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(fail("rootfs", dir))?;
    crate::users::resolve_in(rustix::fd::AsFd::as_fd(&fd), user)
}

/// An OCI container (oci/): built from its config.json, recorded through `created` once
/// built; returns the exit code (`create`: 0 once the init waits at the gate).
#[cfg(feature = "oci")]
#[inline(never)] // a role's own frame: see main.rs
pub fn run_oci(config: &mut Config, process: &Process, created: &crate::oci::Created) -> u8 {
    static OWN: crate::rt::Reserved<[u8; crate::cgroup::CGROUP_FILE]> =
        crate::rt::Reserved::new([0; crate::cgroup::CGROUP_FILE]);
    if let Some(cgroup) = config.cgroup.as_mut() {
        let Some(own) = OWN.take() else { return Failure::new("cgroup", b"", Errno::BUSY).report() };
        cgroup.host = match crate::cgroup::host(own) {
            Ok(host) => host,
            Err(failure) => return failure.report(),
        };
    }
    // Non-dumpable from here on, as for `husk run` (see `run`); an ordinary user's init
    // after its id maps.
    let maps_first = config.namespaces.user.is_some() && !rustix::process::geteuid().is_root();
    if !maps_first && let Err(e) = sys::make_non_dumpable() {
        return Failure::new("prctl dumpable", b"", e).report();
    }
    let signals = CallerSignals::take_over(process);
    let caller = host::Caller {
        process,
        signals: &signals,
        take_terminal: false,
        companions: [0; 2],
        oci: Some(created),
    };
    host::start(config, &caller, None, None)
}
