//! Named containers (`--name`, `--detach`): claim the name in the registry before anything
//! is made, record the container once its init exists, and for `--detach` leave a
//! supervisor in the background with the output going through a logger (src/log.rs). When a
//! detached container ends, its supervisor records how (src/registry.rs) and the entry stays
//! until `husk rm`, or goes at once with `--rm`.

use rustix::fd::AsFd;
use rustix::fs::{Mode, OFlags, open};
use rustix::io::Errno;

use super::host::{self, Caller};
use crate::args::RunSpec;
use crate::config::{Config, Root};
use crate::cpath::PATH_MAX;
use crate::error::Failure;
use crate::out;
use crate::registry::{self, Entry, Registry};
use crate::rt::{Process, sys};
use crate::spawn::{self, CallerSignals};
use crate::status;

/// A named or detached run: returns the exit code to end with. Out of line, as is
/// [`detach`]: a run without a name needs neither in its frame, and the binary is smaller
/// with them apart.
#[inline(never)]
pub fn run(spec: &RunSpec, config: &Config, process: &Process, signals: &CallerSignals) -> u8 {
    // A detached container without a name is called husk-PID.
    let generated;
    let name = match spec.name {
        Some(name) => name,
        None => {
            generated =
                crate::cgroup::named(b"husk-", rustix::process::getpid().as_raw_nonzero().get() as u64);
            &generated
        }
    };
    let claimed = match Registry::open(process, true) {
        Ok(registry) => registry.claim(name),
        Err(failure) => Err(failure),
    };
    let entry = match claimed {
        Ok(entry) => entry,
        Err(failure) => return failure.report(),
    };
    if spec.detach {
        return detach(spec, config, process, signals, entry);
    }
    let caller = Caller {
        process,
        signals,
        take_terminal: spawn::holds_terminal(),
        companions: [0; 2],
        #[cfg(feature = "oci")]
        oci: None,
    };
    let code = host::start(config, &caller, Some(&entry), None);
    entry.remove();
    code
}

/// Records what `husk exec`, `ps` and `kill` need to know of the container (src/registry.rs),
/// before its init may start COMMAND (the gate): once COMMAND runs, the container can be
/// found. Out of line: a frame's every page is touched on entry (stack probes) and then
/// stays resident.
#[inline(never)]
pub fn record(entry: &Entry, config: &Config, process: &Process, init: i32) {
    let head = registry::Head {
        confinement: crate::registry::Confinement::of(config),
        pid: init,
        start: crate::procfs::start_time(init).unwrap_or(0),
        created: sys::realtime_s(),
        exit: None,
    };
    write(entry, &head, config, process);
}

/// A detached container has ended with `status`: its record says so from now on. Written
/// here, by the supervisor on the host, which the container cannot reach: nothing inside
/// can write or forge it.
#[inline(never)]
fn record_exit(entry: &Entry, config: &Config, process: &Process, status: u8) {
    if let Some(mut head) = entry.head() {
        head.exit = Some(registry::Exit { status, ended: sys::realtime_s() });
        write(entry, &head, config, process);
    }
}

/// Writes the record: `head`, then the hostname, the root as an absolute path, the command.
fn write(entry: &Entry, head: &registry::Head, config: &Config, process: &Process) {
    let command = (config.process.command..process.argc()).map(|i| process.arg(i).to_bytes());
    let mut buf = [0; PATH_MAX];
    let rootfs = match config.root {
        Root::Host => b"/",
        Root::Dir { path, .. } => absolute(path, &mut buf),
        #[cfg(feature = "images")]
        Root::Overlay { lower, .. } => absolute(lower, &mut buf),
    };
    if let Err(e) = entry.write_state(head, config.hostname, rootfs, command) {
        Failure::new("state", entry.name(), e).report();
    }
}

/// `path` made absolute for the record: a relative one joined to the working directory
/// (/proc/self/cwd), which `husk run` shares with the init that resolved it, without a
/// leading `./` or a trailing `/` or `/.`. Symlinks stay as given; when the directory cannot
/// be read or the whole does not fit, `path` as given.
fn absolute<'b>(path: &'b [u8], buf: &'b mut [u8; PATH_MAX]) -> &'b [u8] {
    if path.starts_with(b"/") {
        return path;
    }
    let Ok(len) = rustix::fs::readlinkat_raw(rustix::fs::CWD, c"/proc/self/cwd", &mut buf[..]) else {
        return path;
    };
    join(len, path, buf).unwrap_or(path)
}

/// The directory in `buf[..len]` joined with the relative `path` (see [`absolute`]).
fn join<'b>(mut len: usize, path: &[u8], buf: &'b mut [u8; PATH_MAX]) -> Option<&'b [u8]> {
    let mut rel = path;
    // Off come `./` and `/` in front, `/` and `/.` at the end, as often as they are there.
    while let [b'.', b'/', rest @ ..] | [b'/', rest @ ..] | [rest @ .., b'/'] | [rest @ .., b'/', b'.'] = rel
    {
        rel = rest;
    }
    if rel != b"." && !rel.is_empty() {
        if len > 1 {
            *buf.get_mut(len)? = b'/';
            len += 1;
        }
        buf.get_mut(len..len + rel.len())?.copy_from_slice(rel);
        len += rel.len();
    }
    Some(&buf[..len.min(PATH_MAX)])
}

/// `--detach`: a background copy of husk supervises the container, with stdin from
/// /dev/null and output through a logger into the entry's log (src/log.rs); this one
/// returns 0 as soon as COMMAND runs (or the code it could not start with, after showing
/// the log).
#[inline(never)]
fn detach(spec: &RunSpec, config: &Config, process: &Process, signals: &CallerSignals, entry: Entry) -> u8 {
    let pipe = || rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC);
    // The log, on a file system that punches holes: a cap that cannot be kept is an error.
    const NO_HOLES: &str = "the log cap needs a file system that punches holes (tmpfs, ext4, xfs, btrfs)";
    let opened = match (entry.create_log(), pipe(), pipe()) {
        (Ok(log), Ok(ready), Ok(output)) => match crate::log::check(log.as_fd()) {
            Ok(()) => Ok((log, ready, output)),
            Err(e) => Err((e, NO_HOLES)),
        },
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => Err((e, "")),
    };
    let (log, (ready_r, ready_w), (output_r, output_w)) = match opened {
        Ok(opened) => opened,
        Err((e, hint)) => {
            let code = Failure::new("log", entry.name(), e).with_hint(hint).report();
            entry.remove();
            return code;
        }
    };
    // Opened before the fork: the background side removes the entry (log included) before it
    // reports a failure, and what the log said must still reach the caller.
    let log_reader = entry.open_log().ok();
    match sys::fork() {
        Ok(0) => {
            // ready_r stays open here too: once COMMAND runs, the init writes two bytes, one
            // for the caller and one left for us (see below).
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
                    sys::close_all_but(&[sys::raw(Some(output_r.as_fd())), sys::raw(Some(log.as_fd()))]);
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
            // The caller's husk (waiting for "ready") and the logger share husk's cgroup with
            // us: a user's own group must be left to the container's alone (cgroup.rs).
            let parent = rustix::process::getppid().map_or(0, |pid| pid.as_raw_nonzero().get());
            let companions = [parent, logger.unwrap_or(0)];
            let caller = Caller {
                process,
                signals,
                take_terminal: false,
                companions,
                #[cfg(feature = "oci")]
                oci: None,
            };
            let code = match logger {
                Some(_) => host::start(config, &caller, Some(&entry), Some(ready_w.as_fd())),
                None => Failure::new("fork", b"logger", Errno::AGAIN).report(),
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
            // Whether COMMAND ran: the init wrote two bytes then, and the caller reads one.
            // Nothing else writes there before us, so a byte left means it ran.
            let ran = rustix::io::ioctl_fionread(&ready_r).is_ok_and(|n| n > 0);
            if ran && !spec.remove {
                // Exited: the record says how and when, the log stays, until husk rm.
                record_exit(&entry, config, process, code);
                sys::exit(code)
            }
            // --rm: the status stays readable by a husk wait that holds the lock file.
            if ran {
                entry.note_exit(code);
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
            let started = matches!(rustix::io::read(&ready_r, &mut byte[..]), Ok(1)) && byte[0] == 0;
            if started {
                print_name(entry.name());
            } else if let Some(log) = &log_reader {
                crate::log::copy(log.as_fd(), 2);
            }
            // 0 once started.
            byte[0]
        }
        Err(e) => {
            let code = Failure::new("fork", b"", e).report();
            entry.remove();
            code
        }
    }
}

/// The started container's name on stdout, as `docker run -d` prints its id. Out of line:
/// detach's frame lasts as long as the container (its supervisor runs in it), and this
/// line's buffer need not.
#[inline(never)]
fn print_name(name: &[u8]) {
    out::Line::new().bytes(name).write_to(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_roots_are_joined_to_the_working_directory() {
        let cases: &[(&str, &str, &str)] = &[
            ("/work", "root", "/work/root"),
            ("/work", "./root", "/work/root"),
            ("/work", "./root/", "/work/root"),
            ("/work", "root/.", "/work/root"),
            ("/work", ".//root//", "/work/root"),
            ("/work", ".", "/work"),
            ("/work", "./", "/work"),
            ("/work", "a/../b", "/work/a/../b"),
            ("/", "root", "/root"),
            ("/", ".", "/"),
        ];
        for (cwd, path, want) in cases {
            let mut buf = [0; PATH_MAX];
            buf[..cwd.len()].copy_from_slice(cwd.as_bytes());
            let got = join(cwd.len(), path.as_bytes(), &mut buf).unwrap();
            assert_eq!(std::str::from_utf8(got).unwrap(), *want, "{cwd} + {path}");
        }
        let mut buf = [0; PATH_MAX];
        assert_eq!(join(PATH_MAX - 2, b"ab", &mut buf), None, "too long for PATH_MAX");
        let mut buf = [0; PATH_MAX];
        assert_eq!(absolute(b"/abs/./x", &mut buf), b"/abs/./x", "absolute paths as given");
    }
}
