//! The OCI runtime interface (README, "OCI runtime"): the verbs of runc and crun over a
//! bundle's config.json, so that podman, containerd and the conformance suite can run their
//! containers with husk. Built with `--features oci`.
//!
//! The lifecycle, as runc's: `create` builds the container and leaves its init (husk, PID 1
//! inside) waiting at the gate, records it under `--root` and exits; whoever reaps orphans
//! (the engine's subreaper, conmon or a shim) becomes the init's parent and gets its exit
//! status, which is COMMAND's. `start` opens the gate, `kill` signals the init through a
//! pidfd (it forwards to COMMAND), `delete` removes what is left. The map:
//!
//! - args.rs: the command line; bundle.rs: config.json → the container as data;
//! - state.rs: the state directory; hooks.rs: hooks; mounts.rs: the OCI-only mount steps;
//! - here: one function per verb.

pub mod args;
pub mod bundle;
pub mod cgroups; // oci-cgroups: linux.cgroupsPath and linux.resources
pub mod exec;
pub mod hooks;
pub mod mounts;
pub mod process;
pub mod seccomp;
pub mod state;
pub mod terminal;

use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;

use crate::error::{Failure, fail};
use crate::out::Line;
use crate::rt::{Process, sys};
use args::{Oci, Verb};
use state::{Dir, Head, Status};

/// The runtime-spec version husk implements.
pub const SPEC_VERSION: &str = "1.2.0";

/// The OCI command line from argv index `at`: returns the exit status.
#[inline(never)] // a role's own frame: see main.rs
pub fn main(process: &'static Process, at: usize) -> u8 {
    let oci = match args::parse(process, at) {
        Ok(oci) => oci,
        Err(m) => {
            crate::out::message(&[
                b"oci: ",
                m.arg,
                if m.arg.is_empty() { b"" } else { b": " },
                m.why.as_bytes(),
            ]);
            return crate::status::FAILURE;
        }
    };
    if let Some(log) = oci.global.log {
        log::open(log, oci.global.log_json);
    }
    let done = match oci.verb {
        Verb::Create | Verb::Run => create(&oci, process),
        Verb::Start => start(&oci),
        Verb::State => state(&oci),
        Verb::Kill => kill(&oci),
        Verb::Delete => delete(&oci),
        Verb::Ps => ps(&oci),
        Verb::Features => {
            crate::out::print(FEATURES);
            Ok(0)
        }
        Verb::Spec => spec(&oci),
        Verb::Version => {
            crate::out::print(VERSION);
            Ok(0)
        }
        Verb::Exec => exec::exec(&oci, process),
        Verb::Pause | Verb::Resume => {
            Err(Failure::new("oci", b"", Errno::OPNOTSUPP).with_hint("not in this husk yet"))
        }
    };
    done.unwrap_or_else(|failure| failure.report())
}

const VERSION: &str = concat!("husk version ", env!("CARGO_PKG_VERSION"), "\nspec: 1.2.0\n");

/// What the host side needs to record a container it creates (container::run_oci).
pub struct Created<'c> {
    pub dir: Dir,
    /// The gate's FIFO (create); None: `run`, whose init passes the gate at once.
    pub gate: Option<OwnedFd>,
    pub oci: &'c Oci<'static>,
    pub extra: &'static bundle::Extra,
}

/// `create` and `run`: the container built and recorded; with `create` (and `run -d`) its
/// init is left for the engine (waiting at the gate, or running), with `run` husk waits
/// for it and removes it.
fn create(oci: &Oci<'static>, process: &'static Process) -> Result<u8, Failure<'static>> {
    let root = state::root(oci.global.root, true)?;
    let attached = oci.verb == Verb::Run && !oci.detach;
    let console = oci.console_socket.map(terminal::connect).transpose()?;
    let engine = bundle::Engine {
        id: oci.id,
        cgroups: oci.global.cgroups,
        console: sys::raw(console.as_ref().map(AsFd::as_fd)),
        preserve_fds: oci.preserve_fds,
        attached,
    };
    let mut config = bundle::load(oci.bundle, engine)?;
    let extra = config.process.oci.ok_or(Failure::new("config.json", b"", Errno::INVAL))?;
    let dir = Dir::create(root.as_fd(), oci.id)?;
    let gate = match attached {
        true => None,
        false => match dir.make_gate() {
            Ok(gate) => Some(gate),
            Err(e) => {
                dir.remove(root.as_fd(), oci.id);
                return Err(Failure::new("gate", b"", e));
            }
        },
    };
    let created = Created { dir, gate, oci, extra };
    let code = crate::container::run_oci(&mut config, process, &created);
    let Created { dir, .. } = created;
    let mut buf = [0; state::RECORD];
    let built = dir.read(&mut buf).is_ok() && (attached || code == 0);
    if !built || attached {
        if built {
            poststop(&dir, oci.id, extra);
        }
        // oci-cgroups: what create made for a container that failed, or that `run` ran.
        cgroups::remove(&dir);
        dir.remove(root.as_fd(), oci.id);
        return Ok(code);
    }
    if oci.verb == Verb::Run {
        // run -d: started at once.
        dir.open_gate().map_err(fail("start", oci.id))?;
    }
    Ok(code)
}

/// Called by the host side once the init has built the container (container/host.rs): the
/// record, the pid file, the hooks of creation. An error here fails `create`: the host side
/// then kills the init.
pub fn built(created: &Created, pid: i32) -> Result<(), Failure<'static>> {
    let start = crate::procfs::start_time(pid).ok_or(Failure::new("create", b"", Errno::SRCH))?;
    let head = Head { pid, start, created: state::now() };
    let extra = created.extra;
    let text = extra.doc.map_or(&b""[..], |d| d.raw());
    created.dir.write(head, extra.bundle, text).map_err(fail("state", created.oci.id))?;
    if let Some(file) = created.oci.pid_file {
        write_pid_file(file, pid)?;
    }
    if let Some(doc) = extra.doc {
        let mut line = Line::new();
        state_json(&mut line, created.oci.id, Status::Created, &head, extra.bundle, doc.get(b"annotations"));
        // husk's one init builds the runtime's side and the container's before this point:
        // prestart and createRuntime run here, then createContainer.
        for point in [&b"prestart"[..], b"createRuntime", b"createContainer"] {
            hooks::run(doc, point, line.as_bytes())?;
        }
    }
    Ok(())
}

/// The pid file, written whole under a temporary name and renamed (an engine polling it
/// never reads half a number).
pub(crate) fn write_pid_file(file: &'static [u8], pid: i32) -> Result<(), Failure<'static>> {
    let mut line = Line::new();
    line.num(pid as u64);
    let mut tmp = crate::cpath::CPath::new();
    let mut dst = crate::cpath::CPath::new();
    let tmp = tmp.of(&[file, b".husk-tmp"]).map_err(fail("pid-file", file))?;
    let dst = dst.of(&[file]).map_err(fail("pid-file", file))?;
    let flags = rustix::fs::OFlags::WRONLY
        | rustix::fs::OFlags::CREATE
        | rustix::fs::OFlags::TRUNC
        | rustix::fs::OFlags::CLOEXEC;
    let fd = rustix::fs::open(tmp, flags, rustix::fs::Mode::from_raw_mode(0o644))
        .map_err(fail("pid-file", file))?;
    rustix::io::write(&fd, line.as_bytes()).map_err(fail("pid-file", file))?;
    rustix::fs::rename(tmp, dst).map_err(fail("pid-file", file))
}

/// The container's record, or a failure naming it.
pub(crate) fn find(oci: &Oci<'static>) -> Result<(OwnedFd, Dir), Failure<'static>> {
    let root = state::root(oci.global.root, false)?;
    let dir = Dir::open(root.as_fd(), oci.id)?;
    Ok((root, dir))
}

/// `start`: opens the gate of a created container.
fn start(oci: &Oci<'static>) -> Result<u8, Failure<'static>> {
    let (_root, dir) = find(oci)?;
    let mut buf = [0; state::RECORD];
    let (head, bundle) = dir.read(&mut buf).map_err(fail("state", oci.id))?;
    let status = dir.status(&head);
    if status != Status::Created {
        return Err(Failure::new("start", oci.id, Errno::INVAL).with_hint(if status == Status::Running {
            "already started"
        } else {
            "stopped: create it again"
        }));
    }
    dir.open_gate().map_err(|e| {
        let e = if e == Errno::NXIO { Errno::SRCH } else { e };
        Failure::new("start", oci.id, e)
    })?;
    if let Ok(text) = dir.config()
        && let Ok(doc) = crate::json::parse(text)
    {
        let mut line = Line::new();
        state_json(&mut line, oci.id, Status::Running, &head, bundle, doc.get(b"annotations"));
        hooks::run_warning(doc, b"poststart", line.as_bytes());
    }
    Ok(0)
}

/// `state`: the state as JSON on stdout.
fn state(oci: &Oci<'static>) -> Result<u8, Failure<'static>> {
    let (_root, dir) = find(oci)?;
    let mut buf = [0; state::RECORD];
    let (head, bundle) = dir.read(&mut buf).map_err(fail("state", oci.id))?;
    let status = dir.status(&head);
    let config = dir.config().ok();
    let doc = config.and_then(|text| crate::json::parse(text).ok());
    let mut line = Line::new();
    state_json(&mut line, oci.id, status, &head, bundle, doc.and_then(|d| d.get(b"annotations")));
    line.write_to(1);
    Ok(0)
}

/// The state (runtime.md "State"), as JSON.
pub fn state_json(
    line: &mut Line,
    id: &[u8],
    status: Status,
    head: &Head,
    bundle: &[u8],
    annotations: Option<crate::json::Value>,
) {
    line.str("{\"ociVersion\":\"").str(SPEC_VERSION).str("\",\"id\":");
    json_string(line, id);
    line.str(",\"status\":\"").str(status.name()).str("\",\"pid\":");
    line.num(if status == Status::Stopped { 0 } else { head.pid as u64 });
    line.str(",\"bundle\":");
    json_string(line, bundle);
    line.str(",\"created\":\"");
    state::rfc3339(line, head.created);
    line.str("\"");
    if let Some(a) = annotations.filter(|a| a.kind() == crate::json::Kind::Object) {
        line.str(",\"annotations\":").bytes(a.raw());
    }
    line.str("}");
}

/// `text` as a JSON string: quotes, backslashes and control bytes escaped.
fn json_string(line: &mut Line, text: &[u8]) {
    line.str("\"");
    for &b in text {
        match b {
            b'"' => line.str("\\\""),
            b'\\' => line.str("\\\\"),
            0..=0x1f => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                line.str("\\u00").bytes(&[HEX[(b >> 4) as usize], HEX[(b & 15) as usize]])
            }
            _ => line.bytes(&[b]),
        };
    }
    line.str("\"");
}

/// `kill ID [SIGNAL]`: to the init through a pidfd (it forwards to COMMAND); `--all`: to
/// every process of the container's PID namespace too.
fn kill(oci: &Oci<'static>) -> Result<u8, Failure<'static>> {
    let (_root, dir) = find(oci)?;
    let mut buf = [0; state::RECORD];
    let (head, _) = dir.read(&mut buf).map_err(fail("state", oci.id))?;
    let pidfd =
        pin(&head).ok_or(Failure::new("kill", oci.id, Errno::SRCH).with_hint("the container is stopped"))?;
    if oci.all {
        each_process(&head, |pid| {
            let _ = sys::kill(pid, oci.signal);
        });
    }
    sys::pidfd_signal(pidfd.as_fd(), oci.signal).map_err(fail("kill", oci.id))?;
    Ok(0)
}

/// A pidfd of the recorded init if it still runs: opened first, then checked, so the pid
/// cannot have gone to another process in between.
pub(crate) fn pin(head: &Head) -> Option<OwnedFd> {
    let pid = rustix::process::Pid::from_raw(head.pid)?;
    let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()?;
    state::alive(head).then_some(pidfd)
}

/// Each pid in the init's PID namespace (its own included), by /proc.
fn each_process(head: &Head, mut f: impl FnMut(i32)) {
    let mut path = crate::cpath::CPath::new();
    let ns_of = |path: &mut crate::cpath::CPath, pid: i32| {
        let c = crate::procfs::pid_path(path, pid, b"ns/pid").ok()?;
        rustix::fs::stat(c).ok().map(|st| (st.st_dev, st.st_ino))
    };
    let Some(ns) = ns_of(&mut path, head.pid) else { return };
    let Ok(proc) = rustix::fs::open(
        c"/proc",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    ) else {
        return;
    };
    let mut space = [core::mem::MaybeUninit::<u8>::uninit(); 4096];
    let mut dir = rustix::fs::RawDir::new(&proc, &mut space);
    while let Some(Ok(entry)) = dir.next() {
        let Some(pid) = crate::procfs::parse_pid(entry.file_name().to_bytes()) else { continue };
        if ns_of(&mut path, pid) == Some(ns) {
            f(pid);
        }
    }
}

/// `ps ID`: the container's processes' pids (host view), one per line after `PID`, or as a
/// JSON array with `--format json`.
fn ps(oci: &Oci<'static>) -> Result<u8, Failure<'static>> {
    let (_root, dir) = find(oci)?;
    let mut buf = [0; state::RECORD];
    let (head, _) = dir.read(&mut buf).map_err(fail("state", oci.id))?;
    let mut line = Line::new();
    let mut first = true;
    if oci.all {
        line.str("[");
    } else {
        line.str("PID\n");
    }
    if pin(&head).is_some() {
        each_process(&head, |pid| {
            if oci.all && !first {
                line.str(",");
            }
            first = false;
            line.num(pid as u64);
            if !oci.all {
                line.str("\n");
            }
        });
    }
    if oci.all {
        line.str("]\n");
    }
    crate::rt::sys::write_all(1, line.as_bytes());
    Ok(0)
}

/// `delete [--force] ID`: a stopped (or created) container's record and cgroup removed, its
/// poststop hooks run; a running one only with --force, which kills it first.
fn delete(oci: &Oci<'static>) -> Result<u8, Failure<'static>> {
    let (root, dir) = find(oci)?;
    let mut buf = [0; state::RECORD];
    let Ok((head, _)) = dir.read(&mut buf) else {
        // A create that never finished: nothing ran.
        remove_cgroups(&dir); // oci-cgroups
        dir.remove(root.as_fd(), oci.id);
        return Ok(0);
    };
    let status = dir.status(&head);
    if status == Status::Running && !oci.force {
        return Err(
            Failure::new("delete", oci.id, Errno::BUSY).with_hint("it is running: kill it first, or --force")
        );
    }
    if let Some(pidfd) = pin(&head) {
        let _ = sys::pidfd_signal(pidfd.as_fd(), crate::signals::SIGKILL);
        // Gone once its pidfd reads (it exited: its parent reaps it).
        let mut fds = [rustix::event::PollFd::new(&pidfd, rustix::event::PollFlags::IN)];
        let limit = rustix::event::Timespec { tv_sec: 10, tv_nsec: 0 };
        let _ = rustix::event::poll(&mut fds, Some(&limit));
    }
    if let Ok(text) = dir.config()
        && let Ok(doc) = crate::json::parse(text)
    {
        remove_cgroups(&dir);
        let mut line = Line::new();
        state_json(&mut line, oci.id, Status::Stopped, &head, b"", doc.get(b"annotations"));
        hooks::run_warning(doc, b"poststop", line.as_bytes());
    }
    dir.remove(root.as_fd(), oci.id);
    Ok(0)
}

/// poststop hooks of a `run` that ends (its record is there).
fn poststop(dir: &Dir, id: &[u8], extra: &bundle::Extra) {
    let mut buf = [0; state::RECORD];
    if let (Some(doc), Ok((head, bundle))) = (extra.doc, dir.read(&mut buf)) {
        let mut line = Line::new();
        state_json(&mut line, id, Status::Stopped, &head, bundle, doc.get(b"annotations"));
        hooks::run_warning(doc, b"poststop", line.as_bytes());
    }
}

/// The container's own cgroups (recorded by create), removed: every process in them is gone.
/// oci-cgroups: see oci/cgroups.rs.
fn remove_cgroups(dir: &Dir) {
    cgroups::remove(dir);
}

/// `spec`: a default config.json in the bundle directory (never over an existing one).
fn spec(oci: &Oci<'static>) -> Result<u8, Failure<'static>> {
    let mut path = crate::cpath::CPath::new();
    let c = path.of(&[oci.bundle, b"/config.json"]).map_err(fail("spec", oci.bundle))?;
    let flags = rustix::fs::OFlags::WRONLY
        | rustix::fs::OFlags::CREATE
        | rustix::fs::OFlags::EXCL
        | rustix::fs::OFlags::CLOEXEC;
    let fd = rustix::fs::open(c, flags, rustix::fs::Mode::from_raw_mode(0o644))
        .map_err(fail("spec", b"config.json"))?;
    let mut rest = SPEC.as_bytes();
    while !rest.is_empty() {
        let n = rustix::io::write(&fd, rest).map_err(fail("spec", b"config.json"))?;
        rest = &rest[n..];
    }
    Ok(0)
}

/// What `spec` writes: runc's default, a shell in ./rootfs.
const SPEC: &str = include_str!("spec.json");

/// What `features` prints (runtime-spec features.md).
const FEATURES: &str = include_str!("features.json");

/// `--log FILE`: errors go there too (conmon shows them from there), as text or as JSON
/// lines (`--log-format json`).
pub mod log {
    use core::sync::atomic::{AtomicI32, Ordering};

    static FD: AtomicI32 = AtomicI32::new(-1);
    static JSON: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

    pub fn open(path: &[u8], json: bool) {
        let mut c = crate::cpath::CPath::new();
        let Ok(c) = c.of(&[path]) else { return };
        let flags = rustix::fs::OFlags::WRONLY
            | rustix::fs::OFlags::CREATE
            | rustix::fs::OFlags::APPEND
            | rustix::fs::OFlags::CLOEXEC;
        if let Ok(fd) = rustix::fs::open(c, flags, rustix::fs::Mode::from_raw_mode(0o644)) {
            FD.store(rustix::fd::IntoRawFd::into_raw_fd(fd), Ordering::Relaxed);
            JSON.store(json, Ordering::Relaxed);
        }
    }

    /// One error line (`husk: …\n`), to the log as well.
    pub fn error(text: &[u8]) {
        let fd = FD.load(Ordering::Relaxed);
        if fd < 0 {
            return;
        }
        if !JSON.load(Ordering::Relaxed) {
            crate::rt::sys::write_all(fd, text);
            return;
        }
        let mut line = crate::out::Line::new();
        line.str("{\"level\":\"error\",\"msg\":");
        super::json_string(&mut line, text.strip_suffix(b"\n").unwrap_or(text));
        line.str(",\"time\":\"");
        super::state::rfc3339(&mut line, super::state::now());
        line.str("\"}");
        line.write_to(fd);
    }
}
