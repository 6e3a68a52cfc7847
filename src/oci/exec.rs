//! `exec ID`: another process in a running container, as `husk exec` starts one (exec.rs:
//! setns through a pidfd, a small husk as its parent in the container's PID namespace, the
//! container's cgroup). What runs is `--process FILE` (a config's `process` object, as
//! podman and containerd write it), or the container's own `process` with the command and
//! options of the command line (`--env`, `--cwd`, `--user`, `--cap`, `--no-new-privs`).

use rustix::fd::AsFd;
use rustix::io::Errno;

use super::args::Oci;
use super::bundle::{Arena, exec_process};
use super::state::Status;
use crate::error::{Failure, fail};
use crate::rt::{Process, sys};

/// Runs the exec; with `--detach`, returns once the process runs (its pid in --pid-file).
pub fn exec(oci: &Oci<'static>, process: &'static Process) -> Result<u8, Failure<'static>> {
    let (_root, dir) = super::find(oci)?;
    let mut buf = [0; super::state::RECORD];
    let (head, _) = dir.read(&mut buf).map_err(fail("state", oci.id))?;
    if dir.status(&head) != Status::Running {
        return Err(Failure::new("exec", oci.id, Errno::INVAL).with_hint("the container is not running"));
    }
    let pidfd = super::pin(&head).ok_or(Failure::new("exec", oci.id, Errno::SRCH))?;
    let config = dir.config().map_err(fail("state", oci.id))?;
    let config = crate::json::parse(config).map_err(|_| Failure::new("state", oci.id, Errno::BADMSG))?;
    // The process: the file's, or the container's own with the command line's changes.
    let file;
    let object = match oci.process {
        Some(path) => {
            let mut c = crate::cpath::CPath::new();
            let flags = rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC;
            let fd = rustix::fs::open(
                c.of(&[path]).map_err(fail("process", path))?,
                flags,
                rustix::fs::Mode::empty(),
            )
            .map_err(fail("process", path))?;
            let text = sys::read_whole(fd.as_fd(), 4 << 20).map_err(fail("process", path))?;
            file = crate::json::parse(&text[..text.len() - 1])
                .map_err(|_| Failure::new("process", path, Errno::BADMSG))?;
            file
        }
        None => config.get(b"process").ok_or(Failure::new("state", oci.id, Errno::BADMSG))?,
    };
    let mut arena = Arena::new(2 * object.raw().len() + 16384).map_err(fail("exec", b""))?;
    let mut run = exec_process(object, &mut arena)?;
    let argv = match (run.argv, oci.command) {
        (_, 0) => {
            run.argv.ok_or(Failure::new("process", b"args", Errno::INVAL).with_hint("nothing to run"))?
        }
        (_, at) => process.argv_from(at),
    };
    if oci.process.is_none() {
        options(oci, process, &mut run, &mut arena)?;
    }
    let name = argv.iter().next().ok_or(Failure::new("process", b"args", Errno::INVAL))?;
    let console = oci.console_socket.map(super::terminal::connect).transpose()?;
    if run.terminal && console.is_none() && oci.detach {
        return Err(Failure::new("exec", b"", Errno::INVAL).with_hint("a terminal needs --console-socket"));
    }
    // The container's seccomp profile holds for its every process.
    let filter = match config.path(&[b"linux", b"seccomp"]) {
        Some(profile) => Some(super::bundle::seccomp(profile, &mut arena)?),
        None => None,
    };
    let caps = run.caps;
    let privileges = crate::caps::Privileges {
        bounding: caps.bounding,
        bounding_before: crate::caps::ALL,
        granted: caps.permitted,
        seccomp: false,
        no_new_privs: run.no_new_privs || oci.no_new_privs,
        oci: Some((caps, filter)),
    };
    let launch = crate::spawn::Launch {
        name,
        argv,
        envp: run.env,
        path: run.path,
        take_terminal: run.terminal && console.is_some(),
        user: Some((run.identity.uid, run.identity.gid)),
        groups: &run.identity.groups,
        cwd: Some(crate::spawn::Dir::Path(run.cwd)),
        caps: Some(privileges),
    };
    let size = object.get(b"consoleSize");
    // Opened here, on the host's side: once joined, a path is the container's.
    let pid_file = match oci.pid_file {
        Some(path) => {
            let mut c = crate::cpath::CPath::new();
            let flags = rustix::fs::OFlags::WRONLY
                | rustix::fs::OFlags::CREATE
                | rustix::fs::OFlags::TRUNC
                | rustix::fs::OFlags::CLOEXEC;
            let c = c.of(&[path]).map_err(fail("pid-file", path))?;
            Some(
                rustix::fs::open(c, flags, rustix::fs::Mode::from_raw_mode(0o644))
                    .map_err(fail("pid-file", path))?,
            )
        }
        None => None,
    };
    let detached = crate::exec::Detached {
        detach: oci.detach,
        console: console.as_ref().filter(|_| run.terminal).map(|c| (c.as_fd(), size)),
        pid_file: pid_file.as_ref().map(AsFd::as_fd),
    };
    drop(dir);
    match crate::exec::run_oci(pidfd, head.pid, &launch, &detached, process)? {
        Ok(_) => Ok(0),
        Err(code) => Ok(code),
    }
}

/// The command line's changes to the container's process: `--env` added, `--cwd`,
/// `--user UID[:GID]`, `--cap` added to every set.
fn options(
    oci: &Oci<'static>,
    process: &'static Process,
    run: &mut super::bundle::ExecProcess,
    arena: &mut Arena,
) -> Result<(), Failure<'static>> {
    let value = |i: u16| {
        let arg = process.arg(i as usize).to_bytes();
        crate::text::split_once(arg, b'=').1.filter(|_| arg.starts_with(b"--")).unwrap_or(arg)
    };
    if !oci.env.is_empty() {
        let count = run.env.iter().count() + oci.env.len();
        let extra = oci.env.iter().map(|&i| arena.bytes(&[value(i)]).unwrap_or(c""));
        let all: heapless::Vec<&'static core::ffi::CStr, 64> = extra.collect();
        run.env = crate::rt::c_str_array(count, run.env.iter().chain(all.iter().copied()))
            .map_err(fail("env", b""))?;
    }
    if let Some(cwd) = oci.cwd {
        run.cwd = arena.bytes(&[cwd]).ok_or(Failure::new("cwd", cwd, Errno::NAMETOOLONG))?;
    }
    if let Some(user) = oci.user {
        let (uid, gid) = crate::text::split_once(user, b':');
        let number = |s: &[u8]| crate::text::parse_decimal(s, 10).and_then(|n| u32::try_from(n).ok());
        run.identity.uid =
            number(uid).ok_or(Failure::new("user", user, Errno::INVAL).with_hint("UID[:GID], numbers"))?;
        run.identity.gid = match gid {
            Some(gid) => number(gid).ok_or(Failure::new("user", user, Errno::INVAL))?,
            None => run.identity.gid,
        };
    }
    for &i in &oci.caps {
        let cap = crate::caps::parse(value(i)).ok_or(Failure::new("cap", value(i), Errno::INVAL))?;
        for set in [
            &mut run.caps.bounding,
            &mut run.caps.effective,
            &mut run.caps.permitted,
            &mut run.caps.ambient,
            &mut run.caps.inheritable,
        ] {
            *set |= cap;
        }
    }
    Ok(())
}
