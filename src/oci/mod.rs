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
pub mod cgroups;
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
    // An engine may start the runtime with a standard stream closed: /dev/null in its place,
    // so that no descriptor husk opens (a gate, a socket, a pid file) can land on 0-2 and be
    // taken for the container's stdio.
    for fd in 0..3 {
        if rustix::io::fcntl_getfd(sys::stdio(fd)) == Err(Errno::BADF) {
            let flags = rustix::fs::OFlags::RDWR | rustix::fs::OFlags::NOCTTY;
            let _ = rustix::fs::open(c"/dev/null", flags, rustix::fs::Mode::empty())
                .map(rustix::fd::IntoRawFd::into_raw_fd);
        }
    }
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
    /// The gate's FIFO and `started` (create: state.rs); None: `run`, whose init passes
    /// the gate at once.
    pub gate: Option<(OwnedFd, OwnedFd)>,
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
        // What create made for a container that failed, or that `run` ran.
        cgroups::remove(&dir);
        dir.remove(root.as_fd(), oci.id);
        return Ok(code);
    }
    if oci.verb == Verb::Run {
        // run -d: started at once.
        dir.open_gate().map_err(fail("start", oci.id))?;
        dir.wait_started();
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
        let line = state_json(created.oci.id, Status::Created, &head, extra.bundle, doc.get(b"annotations"));
        // husk's one init builds the runtime's side and the container's before this point:
        // createRuntime runs here, then createContainer (prestart runs at `start`).
        for point in [&b"createRuntime"[..], b"createContainer"] {
            hooks::run(doc, point, line)?;
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
    let (root, dir) = find(oci)?;
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
    let doc = dir.config().ok().and_then(|text| crate::json::parse(text).ok());
    let annotations = doc.and_then(|d| d.get(b"annotations"));
    // prestart hooks: after `start` is called, before COMMAND (config.md, "Prestart"); a
    // failing one fails start, and the container, which never runs, is stopped and
    // deleted (runtime.md, "Lifecycle": on to step 9).
    if let Some(doc) = doc {
        let line = state_json(oci.id, Status::Created, &head, bundle, annotations);
        if let Err(failure) = hooks::run(doc, b"prestart", line) {
            let code = failure.report();
            destroy(root.as_fd(), dir, oci.id, &head, bundle);
            return Ok(code);
        }
    }
    dir.open_gate().map_err(|e| {
        let e = if e == Errno::NXIO { Errno::SRCH } else { e };
        Failure::new("start", oci.id, e)
    })?;
    // poststart hooks: once COMMAND runs (config.md, "Poststart").
    dir.wait_started();
    if let Some(doc) = doc {
        let line = state_json(oci.id, Status::Running, &head, bundle, annotations);
        hooks::run_warning(doc, b"poststart", line);
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
    let line = state_json(oci.id, status, &head, bundle, doc.and_then(|d| d.get(b"annotations")));
    sys::write_all(1, line);
    sys::write_all(1, b"\n");
    Ok(0)
}

/// The state (runtime.md "State"), as JSON, in memory of its own sized for it (annotations
/// can be long: nothing is ever cut).
pub fn state_json(
    id: &[u8],
    status: Status,
    head: &Head,
    bundle: &[u8],
    annotations: Option<crate::json::Value>,
) -> &'static [u8] {
    let annotations = annotations.filter(|a| a.kind() == crate::json::Kind::Object);
    let room = 256 + 6 * (id.len() + bundle.len()) + annotations.map_or(0, |a| a.raw().len());
    let Ok(buf) = sys::scratch(room) else { return b"{}" };
    let mut len = 0;
    let mut put = |bytes: &[u8]| {
        let end = (len + bytes.len()).min(buf.len());
        buf[len..end].copy_from_slice(&bytes[..end - len]);
        len = end;
    };
    let mut line = Line::new();
    line.str("{\"ociVersion\":\"").str(SPEC_VERSION).str("\",\"id\":");
    put(line.as_bytes());
    json_string(id, &mut put);
    let mut line = Line::new();
    line.str(",\"status\":\"").str(status.name()).str("\",\"pid\":");
    line.num(if status == Status::Stopped { 0 } else { head.pid as u64 });
    line.str(",\"bundle\":");
    put(line.as_bytes());
    json_string(bundle, &mut put);
    let mut line = Line::new();
    line.str(",\"created\":\"");
    state::rfc3339(&mut line, head.created);
    line.str("\"");
    put(line.as_bytes());
    if let Some(a) = annotations {
        put(b",\"annotations\":");
        put(a.raw());
    }
    put(b"}");
    &buf[..len]
}

/// `text` as a JSON string to `put`: quotes, backslashes and control bytes escaped.
fn json_string(text: &[u8], put: &mut dyn FnMut(&[u8])) {
    put(b"\"");
    for &b in text {
        match b {
            b'"' => put(b"\\\""),
            b'\\' => put(b"\\\\"),
            0..=0x1f => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                put(&[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]])
            }
            _ => put(&[b]),
        };
    }
    put(b"\"");
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
    let (root, dir) = match find(oci) {
        Ok(found) => found,
        // --force: gone already is what was asked (engines delete twice on their way out).
        Err(failure) if oci.force && failure.errno == Errno::NOENT => return Ok(0),
        Err(failure) => return Err(failure),
    };
    let mut buf = [0; state::RECORD];
    let Ok((head, bundle)) = dir.read(&mut buf) else {
        // A create that never finished: nothing ran.
        cgroups::remove(&dir);
        dir.remove(root.as_fd(), oci.id);
        return Ok(0);
    };
    // Not stopped: an error with no effect (runtime.md, "Delete"), unless forced.
    let status = dir.status(&head);
    if status != Status::Stopped && !oci.force {
        let hint = if status == Status::Running { "it is running" } else { "it is created" };
        return Err(Failure::new("delete", oci.id, Errno::BUSY).with_hint(hint));
    }
    destroy(root.as_fd(), dir, oci.id, &head, bundle);
    Ok(0)
}

/// What `delete` does, and `start` when a prestart hook fails: the init killed and waited
/// for, the cgroups removed, the poststop hooks run, the record removed.
fn destroy(root: rustix::fd::BorrowedFd, dir: Dir, id: &[u8], head: &Head, bundle: &[u8]) {
    if let Some(pidfd) = pin(head) {
        let _ = sys::pidfd_signal(pidfd.as_fd(), crate::signals::SIGKILL);
        // Gone once its pidfd reads (it exited: its parent reaps it).
        let mut fds = [rustix::event::PollFd::new(&pidfd, rustix::event::PollFlags::IN)];
        let limit = rustix::event::Timespec { tv_sec: 10, tv_nsec: 0 };
        let _ = rustix::event::poll(&mut fds, Some(&limit));
    }
    cgroups::remove(&dir);
    if let Ok(text) = dir.config()
        && let Ok(doc) = crate::json::parse(text)
    {
        let line = state_json(id, Status::Stopped, head, bundle, doc.get(b"annotations"));
        hooks::run_warning(doc, b"poststop", line);
    }
    dir.remove(root, id);
}

/// poststop hooks of a `run` that ends (its record is there).
fn poststop(dir: &Dir, id: &[u8], extra: &bundle::Extra) {
    let mut buf = [0; state::RECORD];
    if let (Some(doc), Ok((head, bundle))) = (extra.doc, dir.read(&mut buf)) {
        let line = state_json(id, Status::Stopped, &head, bundle, doc.get(b"annotations"));
        hooks::run_warning(doc, b"poststop", line);
    }
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
        super::json_string(text.strip_suffix(b"\n").unwrap_or(text), &mut |b| {
            line.bytes(b);
        });
        line.str(",\"time\":\"");
        super::state::rfc3339(&mut line, super::state::now());
        line.str("\"}");
        line.write_to(fd);
    }
}
