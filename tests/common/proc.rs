//! Process helpers shared by the black-box test binaries: waiting against a deadline,
//! signals, /proc readers, captured output and how a process ended.

// Each test binary compiles this module and uses a different subset of it.
#![allow(dead_code)]

use super::rootfs;
use super::tree::kill_tree;
use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The binary under test.
pub const HUSK: &str = env!("CARGO_BIN_EXE_husk");

/// How long any single wait may take before the test fails: only reached when something is
/// broken, so generous (tests run in parallel on small machines).
pub const DEADLINE: Duration = Duration::from_secs(30);

/// How often a condition is polled while waiting for it.
pub const POLL: Duration = Duration::from_millis(2);

pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
pub const SIGQUIT: i32 = 3;
pub const SIGKILL: i32 = 9;
pub const SIGUSR1: i32 = 10;
pub const SIGUSR2: i32 = 12;
pub const SIGTERM: i32 = 15;

/// `__NR_rt_sigtimedwait` on x86_64, as /proc/PID/syscall shows it.
pub const NR_RT_SIGTIMEDWAIT: &str = "128";

unsafe extern "C" {
    /// kill(2) from the C library std already links: std can only send SIGKILL.
    pub safe fn kill(pid: i32, sig: i32) -> i32;
}

/// Sends `sig` to `pid`, failing the test if the kernel refuses.
pub fn send(pid: i32, sig: i32) {
    if kill(pid, sig) != 0 {
        panic!("kill({pid}, {sig}): {}", io::Error::last_os_error());
    }
}

/// How long a wait may take before the test fails, and how often it polls meanwhile.
#[derive(Clone, Copy, Debug)]
pub struct Patience {
    pub deadline: Duration,
    pub poll: Duration,
}

impl Patience {
    /// [`DEADLINE`] and [`POLL`].
    pub const DEFAULT: Patience = Patience { deadline: DEADLINE, poll: POLL };

    /// Polls `probe` until it gives a value; after the deadline fails the test with
    /// `describe()` (called only then, so it can show the latest state of what was awaited).
    pub fn wait_for<T>(self, describe: impl Fn() -> String, mut probe: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + self.deadline;
        loop {
            if let Some(value) = probe() {
                return value;
            }
            if Instant::now() >= deadline {
                panic!("timed out after {:?} waiting for {}", self.deadline, describe());
            }
            thread::sleep(self.poll);
        }
    }

    /// [`Patience::wait_for`] a condition.
    pub fn wait_until(self, describe: impl Fn() -> String, mut condition: impl FnMut() -> bool) {
        self.wait_for(describe, || condition().then_some(()));
    }
}

/// Polls `probe` until it gives a value; after [`DEADLINE`] fails the test with `describe()`
/// (called only then, so it can show the latest state of what was awaited).
pub fn wait_for<T>(describe: impl Fn() -> String, probe: impl FnMut() -> Option<T>) -> T {
    Patience::DEFAULT.wait_for(describe, probe)
}

/// [`wait_for`] a condition.
pub fn wait_until(describe: impl Fn() -> String, condition: impl FnMut() -> bool) {
    Patience::DEFAULT.wait_until(describe, condition);
}

/// The pids in /proc.
pub fn pids() -> Vec<i32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect()
}

/// The argument vector of `pid`, joined by spaces (empty for zombies).
pub fn cmdline(pid: i32) -> String {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&raw).split('\0').filter(|a| !a.is_empty()).collect::<Vec<_>>().join(" ")
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

/// Everything read so far from one output pipe, and whether it reached end of file.
pub struct Capture {
    bytes: Mutex<Vec<u8>>,
    closed: AtomicBool,
}

impl Capture {
    /// Reads `pipe` on its own thread until end of file.
    pub fn start(mut pipe: impl Read + Send + 'static) -> Arc<Capture> {
        let capture = Arc::new(Capture { bytes: Mutex::new(Vec::new()), closed: AtomicBool::new(false) });
        let writer = Arc::clone(&capture);
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => writer.bytes.lock().unwrap().extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            writer.closed.store(true, Ordering::SeqCst);
        });
        capture
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes.lock().unwrap()).into_owned()
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

/// What dropping a [`Proc`] that was not reaped (a test that failed before waiting for it)
/// kills. Each binary chooses for its own processes; [`Proc::start`] means [`Kill::Tree`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kill {
    /// The process and every descendant ([`kill_tree`], again while new ones appear: a dying
    /// subreaper's orphans, a container's processes): `husk run` and `husk init` end with
    /// their command, so nothing of theirs may outlive a failed test.
    Tree,
    /// The process alone: named containers outlive the `husk run -d` that started them by
    /// design, and are ended by their own guard ([`Named`](super::named::Named): `husk
    /// kill`, then whatever still mentions the marker, then the registry entry).
    Process,
}

/// A started process with stdout and stderr captured, its waits held to [`Patience`]
/// ([`Patience::DEFAULT`] unless [`Proc::patient`] says otherwise). Dropped before it was
/// reaped, it is killed as its [`Kill`] says, and reaped.
pub struct Proc {
    pub what: String,
    pub child: Child,
    pub stdout: Arc<Capture>,
    pub stderr: Arc<Capture>,
    pub reaped: bool,
    pub patience: Patience,
    pub kill: Kill,
}

impl Proc {
    /// Starts `cmd` with stdin from /dev/null (a container never takes the test's terminal).
    pub fn start(cmd: &mut Command) -> Proc {
        Proc::start_with_stdin(cmd, Stdio::null())
    }

    pub fn start_with_stdin(cmd: &mut Command, stdin: Stdio) -> Proc {
        let what = format!("{cmd:?}");
        cmd.stdin(stdin).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let stdout = Capture::start(child.stdout.take().unwrap());
        let stderr = Capture::start(child.stderr.take().unwrap());
        Proc { what, child, stdout, stderr, reaped: false, patience: Patience::DEFAULT, kill: Kill::Tree }
    }

    /// The same process, killed on drop as `kill` says.
    pub fn kill_on_drop(mut self, kill: Kill) -> Proc {
        self.kill = kill;
        self
    }

    /// The same process, its waits held to `patience`.
    pub fn patient(mut self, patience: Patience) -> Proc {
        self.patience = patience;
        self
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// How the process ended, if it has: it is then reaped (and its pid no longer ours).
    pub fn ended(&mut self) -> Option<ExitStatus> {
        let status = self.child.try_wait().expect("waitpid")?;
        self.reaped = true;
        Some(status)
    }

    /// Whether the process is still running (not exited, not reaped).
    pub fn running(&mut self) -> bool {
        !self.reaped && self.ended().is_none()
    }

    /// Waits until stdout holds `needle`; returns all of stdout so far.
    pub fn wait_stdout(&self, needle: &str) -> String {
        self.patience.wait_for(
            || {
                format!(
                    "{needle:?} on the stdout of {}\n  stdout so far: {:?}\n  stderr so far: {:?}",
                    self.what,
                    self.stdout.text(),
                    self.stderr.text()
                )
            },
            || {
                let out = self.stdout.text();
                out.contains(needle).then_some(out)
            },
        )
    }

    /// Waits for the process to end and for its output pipes to close (a process left
    /// behind in the container would hold them open).
    pub fn wait(&mut self) -> Outcome {
        let (what, stdout, stderr, child) = (&self.what, &self.stdout, &self.stderr, &mut self.child);
        let status = self.patience.wait_for(
            || {
                format!(
                    "{what} to exit\n  stdout so far: {:?}\n  stderr so far: {:?}",
                    stdout.text(),
                    stderr.text()
                )
            },
            || child.try_wait().expect("waitpid"),
        );
        self.reaped = true;
        self.patience.wait_until(
            || {
                format!(
                    "the output pipes of {} to close after it ended with {status}: a leftover \
                     process holds them\n  stdout so far: {:?}\n  stderr so far: {:?}",
                    self.what,
                    self.stdout.text(),
                    self.stderr.text()
                )
            },
            || self.stdout.is_closed() && self.stderr.is_closed(),
        );
        Outcome { what: self.what.clone(), status, stdout: self.stdout.text(), stderr: self.stderr.text() }
    }
}

/// Unless it was reaped, the process is killed as its [`Kill`] says, and reaped. Once
/// reaped, the pid may belong to someone else: it is left alone.
impl Drop for Proc {
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        match self.kill {
            Kill::Tree => kill_tree(self.pid()),
            Kill::Process => {
                kill(self.pid(), SIGKILL);
            }
        }
        let _ = self.child.wait();
    }
}

/// How a process ended and what it printed.
pub struct Outcome {
    pub what: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// Asserts the exit code, stdout and stderr exactly.
    pub fn expect(&self, code: i32, stdout: &str, stderr: &str) {
        assert!(
            self.status.code() == Some(code) && self.stdout == stdout && self.stderr == stderr,
            "expected exit status {code}, stdout {stdout:?}, stderr {stderr:?}\n got {self}"
        );
    }

    /// Asserts a successful exit with an empty stderr; returns stdout.
    pub fn expect_success(&self) -> &str {
        assert!(
            self.status.code() == Some(0) && self.stderr.is_empty(),
            "expected exit status 0 and an empty stderr\n got {self}"
        );
        &self.stdout
    }

    /// Whether this is husk refusing: status 125, nothing on stdout (COMMAND did not run),
    /// exactly one line on stderr starting with `husk: `.
    pub fn is_refusal(&self) -> bool {
        self.status.code() == Some(125)
            && self.stdout.is_empty()
            && self.stderr.starts_with("husk: ")
            && self.stderr.ends_with('\n')
            && self.stderr.matches('\n').count() == 1
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "{} from {}\n  stdout: {:?}\n  stderr: {:?}",
            self.status, self.what, self.stdout, self.stderr
        )
    }
}

/// The busybox rootfs, or why this test cannot run.
pub fn busybox() -> Result<&'static Path, String> {
    rootfs::require_root()?;
    rootfs::busybox()
}

/// The Debian rootfs, or why this test cannot run.
pub fn debian() -> Result<&'static Path, String> {
    rootfs::require_root()?;
    rootfs::debian()
}

/// Live processes (this one excluded) whose arguments mention `marker`, with their cmdline.
pub fn mentioning(marker: &str) -> Vec<(i32, String)> {
    let me = std::process::id() as i32;
    pids()
        .into_iter()
        .filter(|&pid| pid != me)
        .map(|pid| (pid, cmdline(pid)))
        .filter(|(_, args)| args.contains(marker))
        .collect()
}

/// SIGKILLs every process that mentions `marker` until none is left (new ones may appear
/// while their parents die) or [`DEADLINE`] has passed: for processes a test let escape on
/// purpose, or a container's, which descend from nothing the test holds.
pub fn kill_mentioning(marker: &str) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let left = mentioning(marker);
        if left.is_empty() || Instant::now() >= deadline {
            break;
        }
        for (pid, _) in left {
            kill(pid, SIGKILL);
        }
        thread::sleep(POLL);
    }
}

/// On drop, [`kill_mentioning`] its marker: for processes a test lets escape on purpose.
pub struct KillMentioning(pub String);

impl Drop for KillMentioning {
    fn drop(&mut self) {
        kill_mentioning(&self.0);
    }
}

/// Whether /sys/fs/cgroup is a cgroup v2 mount here (it is not on the development host and
/// CI's, whose layout is hybrid: limits then go to v1 hierarchies).
pub fn host_has_cgroup2() -> bool {
    fs::read_to_string("/proc/self/mountinfo").unwrap_or_default().lines().any(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        let sep = f.iter().position(|&x| x == "-");
        f.get(4) == Some(&"/sys/fs/cgroup") && sep.and_then(|s| f.get(s + 1)) == Some(&"cgroup2")
    })
}

/// The interface names in a /proc/net/dev text, sorted.
pub fn interfaces(net_dev: &str) -> Vec<String> {
    let mut names: Vec<String> = net_dev
        .lines()
        .filter_map(|l| Some(l.split_once(':')?.0.trim().to_string()))
        .filter(|n| !n.is_empty() && !n.contains('|'))
        .collect();
    names.sort();
    names
}

/// The names in a directory, sorted.
pub fn dir_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
