//! Black-box attack on `husk exec` from inside the container, as the container's root would
//! make it (ENGINEERING.md section 7, items 1, 2 and 10): a process that watches the
//! container's PID namespace for new pids and races every process `husk exec` puts there.
//!
//! `husk exec` joins the container's namespaces, and its helper — a husk holding every
//! capability, inside the container's PID namespace — starts COMMAND vfork-style: until its
//! execve, COMMAND is a husk process that shares the helper's memory and, once its
//! capabilities are cut down to the container's, would be open to the container's root if it
//! were dumpable: `/proc/PID/exe` (the host's husk binary, the runc CVE-2019-5736 class),
//! `PTRACE_SEIZE` (and with it the memory of the privileged helper), and `/proc/PID/fd/N`
//! (the caller's descriptors, marked close-on-exec but still open until the execve: a host
//! directory there is a way out of the root, the CVE-2024-21626 class).
//!
//! The attacker (python3 in the Debian fixture, default confinement: root, Docker's default
//! capabilities, the default seccomp filter) spins on `/proc/sys/kernel/ns_last_pid` and
//! attacks the newest pid as fast as it can until it has become COMMAND or is gone; the
//! host meanwhile runs `husk exec NAME true` [`EXECS`] times with a host directory open on
//! fd [`LEAKED_FD`]. Every attempt is judged by what it got, not by its errno alone: an
//! opened exe is a hole when it is the host's husk binary, an opened fd when it is the
//! caller's directory or anything but a regular file (the new program's ld.so opens regular
//! files; husk's own descriptors are pipes, a pidfd, directories), a seized process when it
//! stops inside husk. The test fails on any hole, and also when the race was not really run:
//! too few husk processes attacked, or too few attacked both before and after their execve.
//!
//! Rules kept throughout (as in tests/named.rs): the container has a name of its own,
//! `t<pid>-<test>`; the test's directory `/tmp/husk-exec-race.<pid>.<test>.t` is its marker,
//! in every container command; a guard kills the container and removes its registry entry
//! even when the test fails; waits poll against a deadline; the shared Debian fixture is
//! never written to (`--read-only`, results go to a bind volume).

// Only the Debian fixture is used here: the busybox one would be dead code.
#[allow(dead_code)]
mod common;

use common::case::Case;
use common::named::{run, unique, wait_gone_within};
use common::proc::{HUSK, Outcome, debian, path_str};
use common::tree::PATIENCE;
use common::{missing, need};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::Instant;

/// How many times the host runs `husk exec NAME true` while the attacker races it: each is
/// two husk processes in the container (the helper and COMMAND before its execve).
const EXECS: usize = 300;

/// The caller's descriptor that holds a host directory (as a shell's `exec 7<DIR` would).
const LEAKED_FD: i32 = 7;

/// The race was run when the attacker reached at least this many distinct husk processes
/// while they were husk: of the 600 there are, 300-580 were reached on this two-CPU machine
/// (idle, with another test suite running, or with two CPU hogs beside it)...
const MIN_TRIED: usize = 50;

/// ...and attacked at least this many COMMANDs both before and after their execve, so across
/// the whole window: 78-270 of 300 here. On one CPU the race cannot be run (the attacker is
/// not running while husk is: 0 of 300), hence [`two_cpus`].
const MIN_SPANNED: usize = 10;

/// The attacker, run as the container's COMMAND: `python3 -c ATTACKER MARKER HUSK_DEV
/// HUSK_INO CANARY_DEV CANARY_INO COMM HUSK_PATH`, with the test's volume on /mnt. Writes /mnt/ready
/// when it watches, stops when /mnt/stop appears and then writes /mnt/report: `count KIND
/// OUTCOME N` lines (KIND exe, fd, ptrace, cmdline — which must never show the host's path
/// of husk; OUTCOME denied, gone, errnoN, command — reached
/// after the execve, harmless — or HOLE), `tried N`, `spanned N`, then one `hole WHAT` line per hole
/// (the first 50) and an `error TRACEBACK` line if the attacker itself broke.
const ATTACKER: &str = r#"
import ctypes, os, stat, sys, traceback

HUSK = (int(sys.argv[2]), int(sys.argv[3]))    # the host's husk binary, (st_dev, st_ino)
CANARY = (int(sys.argv[4]), int(sys.argv[5]))  # the caller's host directory
COMM = sys.argv[6] + '\n'                      # /proc/PID/comm of a husk process
HUSK_PATH = sys.argv[7].encode()               # the host's path of husk, never to be shown
DENIED, GONE = (1, 13), (2, 3)                 # EPERM, EACCES; ENOENT, ESRCH
SYS_PTRACE, SEIZE, INTERRUPT, DETACH = 101, 0x4206, 0x4207, 17
O_TRACEEXEC, WALL, EVENT_EXEC = 0x10, 0x40000000, 4

libc = ctypes.CDLL(None, use_errno=True)
syscall = libc.syscall
syscall.restype = ctypes.c_long
syscall.argtypes = [ctypes.c_long] * 5

counts, holes, tried, spanned, errors = {}, [], set(), set(), []

def count(kind, outcome):
    counts[kind, outcome] = counts.get((kind, outcome), 0) + 1

def failed(kind, err):
    count(kind, 'denied' if err in DENIED else 'gone' if err in GONE else 'errno%d' % err)
    return err

def hole(kind, pid, what):
    count(kind, 'HOLE')
    if len(holes) < 50:
        holes.append('%s of pid %d: %s' % (kind, pid, what))

def link(path):
    try:
        return os.readlink(path)
    except OSError as e:
        return '(%s)' % e.strerror

def ident(fd):
    st = os.fstat(fd)
    return (st.st_dev, st.st_ino), st.st_mode

def explore(fd):
    # What the caller's directory gives away: its files, and the host's / above it.
    try:
        secret = os.open('canary', os.O_RDONLY, dir_fd=fd)
        found = 'canary %r' % os.read(secret, 100)
        os.close(secret)
        up = os.open('.', os.O_RDONLY, dir_fd=fd)
        for _ in range(40):
            parent = os.open('..', os.O_RDONLY, dir_fd=up)
            os.close(up)
            up = parent
        found += ', the host\'s / holds %s' % sorted(os.listdir(up))[:12]
        os.close(up)
        return found
    except OSError as e:
        return 'explored until %s' % e

def attack_exe(pid, p):
    # 'husk' while it is a husk process (refused, or reached: a hole), 'gone' or 'command'.
    try:
        fd = os.open(p + b'exe', os.O_RDONLY)
    except OSError as e:
        return 'husk' if failed('exe', e.errno) in DENIED else 'gone'
    who, _ = ident(fd)
    if who != HUSK:
        os.close(fd)
        count('exe', 'command')
        return 'command'
    hole('exe', pid, 'opened the host\'s husk binary (%s)' % link('/proc/self/fd/%d' % fd))
    os.close(fd)
    return 'husk'

def attack_fd(pid, p, n):
    try:
        fd = os.open(p + b'fd/%d' % n, os.O_RDONLY)
    except OSError as e:
        failed('fd', e.errno)
        return
    who, mode = ident(fd)
    if who == CANARY:
        hole('fd', pid, 'fd %d is the caller\'s directory: %s' % (n, explore(fd)))
    elif stat.S_ISREG(mode) and who != HUSK:
        count('fd', 'command')  # a file the new program opened (ld.so's)
    else:
        hole('fd', pid, 'fd %d -> %s' % (n, link('/proc/self/fd/%d' % fd)))
    os.close(fd)

def attack_ptrace(pid, p):
    # Seized with PTRACE_O_TRACEEXEC, then stopped: a stop inside husk is a hole; a stop at
    # or after the execve, or none before the end, is COMMAND's and proves nothing.
    if syscall(SYS_PTRACE, SEIZE, pid, 0, O_TRACEEXEC) != 0:
        failed('ptrace', ctypes.get_errno())
        return
    syscall(SYS_PTRACE, INTERRUPT, pid, 0, 0)
    try:
        status = os.waitpid(pid, WALL)[1]
    except OSError:
        status = 0
    if not os.WIFSTOPPED(status):
        count('ptrace', 'command')
        return
    try:
        comm = open(p + b'comm').read()
    except OSError:
        comm = '?'
    if status >> 16 != EVENT_EXEC and comm == COMM:
        hole('ptrace', pid, 'seized and stopped inside husk (wait status %#x)' % status)
    else:
        count('ptrace', 'command')
    syscall(SYS_PTRACE, DETACH, pid, 0, 0)

def race():
    # The newest pid of the namespace, attacked from the moment it is allocated until it is
    # gone or has become COMMAND: exe on every round, with one of its fds and PTRACE_SEIZE
    # while it is a husk process.
    last_pid = os.open('/proc/sys/kernel/ns_last_pid', os.O_RDONLY)
    open('/mnt/ready', 'w').close()
    current, state, fds, p, i = None, None, None, b'', 0
    while True:
        i += 1
        if i == 4096:
            i = 0
            if os.path.exists('/mnt/stop'):
                return
        pid = int(os.pread(last_pid, 16, 0))
        if pid != current:
            current, state, fds, p = pid, 'new', None, b'/proc/%d/' % pid
        if state in ('command', 'dead'):
            continue
        was, state = state, attack_exe(pid, p)
        if state == 'gone':
            # Not in /proc yet, or ended.
            state = 'dead' if was == 'husk' else 'new'
            continue
        if state == 'command':
            if was == 'husk':
                spanned.add(pid)
            continue
        try:
            shown = open(p + b'cmdline', 'rb').read()
            if HUSK_PATH in shown:
                hole('cmdline', pid, 'shows the host\'s command line %r' % shown[:200])
            else:
                count('cmdline', 'denied')
        except OSError as e:
            failed('cmdline', e.errno)
        if fds is None:
            fds = ()
            try:
                if open(p + b'comm').read() == COMM:
                    tried.add(pid)
                fds = [int(n) for n in os.listdir(p + b'fd') if int(n) > 2]
            except OSError:
                pass
        if fds:
            attack_fd(pid, p, fds[i % len(fds)])
        attack_ptrace(pid, p)

try:
    race()
except Exception:
    errors.append(traceback.format_exc().replace('\n', ' | '))
with open('/mnt/report.tmp', 'w') as out:
    for (kind, outcome), n in sorted(counts.items()):
        out.write('count %s %s %d\n' % (kind, outcome, n))
    out.write('tried %d\nspanned %d\n' % (len(tried), len(spanned)))
    for line in holes:
        out.write('hole %s\n' % line)
    for line in errors:
        out.write('error %s\n' % line)
os.rename('/mnt/report.tmp', '/mnt/report')
"#;

// ---------------------------------------------------------------------------------------
// Helpers: the machine, the caller's leaked directory, the attacker's report
// ---------------------------------------------------------------------------------------

/// `Ok` when this process may run on two CPUs or more, as the race needs: the attacker on
/// one, husk on another.
fn two_cpus() -> Result<(), String> {
    match thread::available_parallelism() {
        Ok(n) if n.get() >= 2 => Ok(()),
        other => Err(missing(format!("needs two CPUs to race husk exec, has {other:?}"))),
    }
}

unsafe extern "C" {
    /// dup2(2) from the C library std already links.
    safe fn dup2(old: i32, new: i32) -> i32;
}

/// `dir` opened as a directory, on a descriptor other than [`LEAKED_FD`] (dup2 onto itself
/// would leave it close-on-exec).
fn open_dir(dir: &Path) -> File {
    let open = || {
        fs::OpenOptions::new()
            .read(true)
            .custom_flags(0o200000) // O_DIRECTORY
            .open(dir)
            .unwrap_or_else(|e| panic!("open {}: {e}", dir.display()))
    };
    let file = open();
    if file.as_raw_fd() != LEAKED_FD { file } else { open() }
}

/// Runs `cmd` to its end with `dir` open on [`LEAKED_FD`], not close-on-exec: a caller that
/// has a host directory open, as a shell with `exec 7<DIR` has.
fn run_leaking(cmd: &mut Command, dir: &File) -> Outcome {
    let fd = dir.as_raw_fd();
    let leak = move || match dup2(fd, LEAKED_FD) {
        LEAKED_FD => Ok(()),
        _ => Err(io::Error::last_os_error()),
    };
    // SAFETY: `leak` runs in the child between fork and exec and only calls dup2(2), which
    // is async-signal-safe; an io::Error made from an errno allocates nothing.
    unsafe {
        cmd.pre_exec(leak);
    }
    run(cmd)
}

/// What the attacker wrote to /mnt/report.
struct Report {
    text: String,
    /// `KIND OUTCOME` -> attempts.
    counts: BTreeMap<String, u64>,
    /// Distinct husk processes the attacker reached while they were husk.
    tried: usize,
    /// Of those, the ones it attacked again after their execve (COMMANDs attacked across
    /// the whole window).
    spanned: usize,
    holes: Vec<String>,
    errors: Vec<String>,
}

impl Report {
    fn parse(text: String) -> Report {
        let mut report = Report {
            text: String::new(),
            counts: BTreeMap::new(),
            tried: 0,
            spanned: 0,
            holes: vec![],
            errors: vec![],
        };
        for line in text.lines() {
            let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
            let number = || rest.parse().unwrap_or_else(|_| panic!("a number in {line:?}\n{text}"));
            match key {
                "count" => {
                    let (what, n) = rest.rsplit_once(' ').unwrap_or_else(|| panic!("{line:?}\n{text}"));
                    report.counts.insert(what.to_string(), n.parse().unwrap());
                }
                "tried" => report.tried = number(),
                "spanned" => report.spanned = number(),
                "hole" => report.holes.push(rest.to_string()),
                "error" => report.errors.push(rest.to_string()),
                _ => panic!("unexpected report line {line:?}\n{text}"),
            }
        }
        report.text = text;
        report
    }

    fn count(&self, what: &str) -> u64 {
        self.counts.get(what).copied().unwrap_or(0)
    }

    /// The counts, one `KIND OUTCOME=N` per line, and the totals.
    fn summary(&self) -> String {
        let counts: Vec<String> = self.counts.iter().map(|(k, n)| format!("  {k}={n}")).collect();
        format!("{}\n  tried={} spanned={}", counts.join("\n"), self.tried, self.spanned)
    }
}

// ---------------------------------------------------------------------------------------
// The race
// ---------------------------------------------------------------------------------------

#[test]
fn exec_cannot_be_raced_from_inside_the_container() {
    let deb = need!("exec_cannot_be_raced_from_inside_the_container", debian());
    need!("exec_cannot_be_raced_from_inside_the_container", two_cpus());
    let case = Case::new("race", &[deb]);
    let name = unique("race");
    let vol = case.mkdir("vol");
    // The caller's directory, and a file in it that must stay unreadable from inside.
    let secret = case.mkdir("secret");
    let canary = format!("canary of {}", case.marker);
    fs::write(secret.join("canary"), &canary).unwrap();
    let husk = fs::metadata(HUSK).unwrap();
    let dir = fs::metadata(&secret).unwrap();
    let comm: String = Path::new(HUSK).file_name().unwrap().to_string_lossy().chars().take(15).collect();
    let (husk_dev, husk_ino) = (husk.dev().to_string(), husk.ino().to_string());
    let (dir_dev, dir_ino) = (dir.dev().to_string(), dir.ino().to_string());

    // The attacker: the container's COMMAND, default confinement, the volume on /mnt.
    let bind = format!("{}:/mnt", path_str(&vol));
    let opts = ["--rootfs", path_str(deb), "--read-only", "--bind", &bind];
    let attacker = [
        "python3",
        "-c",
        ATTACKER,
        &case.marker,
        &husk_dev,
        &husk_ino,
        &dir_dev,
        &dir_ino,
        comm.as_str(),
        HUSK,
    ];
    let guard = case.detach_command(&name, &opts, &attacker);
    let logs = || run(Command::new(HUSK).args(["logs", &name])).stdout;
    PATIENCE.wait_until(
        || format!("the attacker to watch ({}); its output: {:?}", vol.join("ready").display(), logs()),
        || vol.join("ready").exists(),
    );

    // The caller: a host directory on fd 7. First a control that the descriptor really
    // reaches what the caller runs, then the execs.
    let leaked = open_dir(&secret);
    let control = run_leaking(Command::new("readlink").arg(format!("/proc/self/fd/{LEAKED_FD}")), &leaked);
    control.expect(0, &format!("{}\n", path_str(&secret)), "");
    let started = Instant::now();
    let mut failures = Vec::new();
    for i in 0..EXECS {
        let out = run_leaking(Command::new(HUSK).args(["exec", &name, "true"]), &leaked);
        if !(out.status.code() == Some(0) && out.stdout.is_empty() && out.stderr.is_empty()) {
            failures.push(format!("exec {i}: {out}"));
        }
    }
    let took = started.elapsed();
    drop(leaked);

    // Stop the attacker and read what it got; it ends, and the container with it.
    fs::write(vol.join("stop"), "").unwrap();
    let report_path = vol.join("report");
    let report = Report::parse(PATIENCE.wait_for(
        || format!("the attacker's report {}; its output: {:?}", report_path.display(), logs()),
        || fs::read_to_string(&report_path).ok(),
    ));
    eprintln!("{EXECS} execs in {took:?}; the attacker's counts:\n{}", report.summary());

    assert!(report.errors.is_empty(), "the attacker broke: {:?}\n{}", report.errors, report.text);
    assert!(
        report.holes.is_empty() && !report.text.contains(&canary),
        "the container's root reached a husk process of husk exec (exe: the host's binary; fd: a \
         descriptor of the caller's or husk's; ptrace: a process stopped inside husk; cmdline: the \
         host's command line shown); the first \
         holes:\n  {}\ncounts:\n{}",
        report.holes.join("\n  "),
        report.summary()
    );
    assert!(
        failures.is_empty(),
        "{} of {EXECS} execs failed, the first:\n{}",
        failures.len(),
        failures.iter().take(3).cloned().collect::<Vec<_>>().join("\n")
    );
    // The race was run: enough husk processes attacked, some across their execve, and each
    // kind of attack made on them.
    assert!(
        report.tried >= MIN_TRIED && report.spanned >= MIN_SPANNED,
        "the race was not really run: {} husk processes attacked (at least {MIN_TRIED} needed), \
         {} across their execve (at least {MIN_SPANNED} needed)\n{}",
        report.tried,
        report.spanned,
        report.summary()
    );
    for kind in ["exe", "fd", "ptrace", "cmdline"] {
        assert!(
            report.count(&format!("{kind} denied")) > 0,
            "no {kind} attempt was refused\n{}",
            report.summary()
        );
    }

    wait_gone_within(&name, PATIENCE);
    drop(guard);
    case.assert_clean("the race");
}
