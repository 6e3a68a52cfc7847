//! Black-box tests of named containers: `husk run --name NAME [-d]`, `husk exec`, `husk ps`,
//! `husk kill` and `husk logs`, run as root against the registry in /run/husk.
//!
//! Rules kept throughout:
//! - every container has a name of its own, `t<pid>-<test>`: other containers in
//!   /run/husk (other tests, other runs, the user's) are never touched;
//! - every test has its own directory `/tmp/husk-named.<pid>.<test>.t` ([`Case`]) whose path
//!   is the test's marker: it is an argument of every container command (`sh -c SCRIPT
//!   MARKER`), so the host-side `husk run`, the container's init and COMMAND all mention it
//!   in their /proc/PID/cmdline;
//! - every container is covered by a guard ([`Named`]) that, even when the test fails,
//!   sends it SIGKILL (`husk kill NAME KILL`), SIGKILLs whatever still mentions the marker
//!   and removes the registry entry;
//! - no sleeping and hoping: every wait polls a condition against a deadline; readiness is
//!   announced by the container (a file in a bind volume, a line in its log);
//! - the shared busybox fixture is never written to: volumes go to its empty `/mnt`, /tmp is
//!   a `--tmpfs`, and the test that changes the rootfs copies it first.

// Only the busybox fixture is used here: the Debian one would be dead code.
#[allow(dead_code)]
mod common;

use common::case::Case;
use common::named::{Named, entry, husk, ps_all_names, ps_names, ps_stdout, run, start, unique, wait_gone};
use common::proc::{
    HUSK, Kill, Outcome, Proc, SIGKILL, SIGTERM, busybox, cmdline, dir_names, host_has_cgroup2, interfaces,
    mentioning, path_str, pids, send, wait_for, wait_until,
};
use common::rootfs;
use common::tree::{alive, in_pid_namespace, namespace, ppid};
use common::{host_branch, need};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// Helpers: waiting, signals, /proc
// ---------------------------------------------------------------------------------------

/// O_NONBLOCK (x86_64): opening a FIFO for writing fails with ENXIO while nobody reads it.
const O_NONBLOCK: i32 = 0o4000;

/// The start time of `pid` in clock ticks since boot (/proc/PID/stat field 22).
fn start_time(pid: i32) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    text[text.rfind(')')? + 1..].split_whitespace().nth(22 - 3)?.parse().ok()
}

/// The live children of `pid`.
fn children(pid: i32) -> Vec<i32> {
    pids().into_iter().filter(|&p| ppid(p) == Some(pid)).collect()
}

/// The `NSpid:` of a process: its pid in each PID namespace, outermost first.
fn nspid(pid: i32) -> Vec<i32> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .map(|v| v.split_whitespace().filter_map(|p| p.parse().ok()).collect())
        .unwrap_or_default()
}

/// The lines of a /proc/PID/status text that say what a process may do: `Cap*`,
/// `NoNewPrivs`, `Seccomp`, `Seccomp_filters`.
fn confinement(status: &str) -> Vec<String> {
    status
        .lines()
        .filter(|l| l.starts_with("Cap") || l.starts_with("NoNewPrivs") || l.starts_with("Seccomp"))
        .map(str::to_string)
        .collect()
}

/// One field of a /proc/PID/status text (`Uid`, `PPid`, ...), whitespace-normalised.
fn status_field(status: &str, key: &str) -> Option<String> {
    let value = status.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))?;
    Some(value.split_whitespace().collect::<Vec<_>>().join(" "))
}

// ---------------------------------------------------------------------------------------
// Helpers: processes and their output
// ---------------------------------------------------------------------------------------

impl Outcome {
    fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

/// What `husk exec` and `husk kill` say about a name no running container has.
fn no_such_container(name: &str) -> String {
    format!("husk: container {name}: No such process (ESRCH): no running container has that name (husk ps)\n")
}

/// What `husk run --name` says about a name a running container has.
fn name_in_use(name: &str) -> String {
    format!("husk: name {name}: File exists (EEXIST): a running container has it\n")
}

// ---------------------------------------------------------------------------------------
// Helpers: the registry
// ---------------------------------------------------------------------------------------

/// The titles of `husk ps`'s columns.
const PS_TITLES: [&str; 5] = ["NAME", "PID", "UPTIME", "ROOTFS", "COMMAND"];

/// `husk ps ARGS` as rows of fields, each cut where its title starts in the header: a
/// value that is not in its column shows up as a wrong field. Checks the layout on the way:
/// the titles in order, every column at least as wide as its widest value and two spaces
/// more (so the last character before each column is a space, the one after it is not) —
/// for the rows of `mine`. Other tests' containers may start or end between ps's two
/// passes (the widths, then the rows), which can leave their own row out of line.
fn ps_rows(args: &[&str], mine: &[&str]) -> Vec<Vec<String>> {
    let out = ps_stdout(args);
    let mut lines = out.lines();
    let header = lines.next().unwrap_or_default();
    let starts: Vec<usize> = PS_TITLES.iter().map(|t| header.find(t).unwrap_or(usize::MAX)).collect();
    assert!(
        starts[0] == 0 && starts.windows(2).all(|w| w[0] < w[1] && w[1] != usize::MAX),
        "the header of husk ps: {header:?}\n{out}"
    );
    for (k, title) in PS_TITLES.iter().enumerate().take(4) {
        let column = &header[starts[k]..starts[k + 1]];
        assert!(column.starts_with(title) && column.ends_with("  "), "header column {column:?}\n{out}");
    }
    let cut = |line: &str| -> Result<Vec<String>, String> {
        let chars: Vec<char> = line.chars().collect();
        let mut fields = Vec::new();
        for k in 0..5 {
            let end = if k == 4 { chars.len() } else { starts[k + 1] };
            if chars.len() <= starts[k] || end > chars.len() {
                return Err(format!("a short row: {line:?}"));
            }
            let field: String = chars[starts[k]..end].iter().collect();
            if k < 4 && !field.ends_with("  ") {
                return Err(format!("column {} of {line:?} is too narrow", PS_TITLES[k]));
            }
            if field.starts_with(' ') {
                return Err(format!("column {} of {line:?} is misaligned", PS_TITLES[k]));
            }
            fields.push(field.trim_end().to_string());
        }
        Ok(fields)
    };
    lines
        .filter_map(|line| match cut(line) {
            Ok(fields) => Some(fields),
            Err(why) => {
                let name = line.split(' ').next().unwrap_or_default();
                assert!(!mine.contains(&name), "{why}\n{out}");
                None
            }
        })
        .collect()
}

/// The fields of `name`'s row in `husk ps` (running containers).
fn ps_row(name: &str) -> Option<Vec<String>> {
    ps_rows(&[], &[name]).into_iter().find(|row| row[0] == name)
}

/// The pid `husk ps` shows for `name`.
fn ps_pid(name: &str) -> i32 {
    let row = ps_row(name).unwrap_or_else(|| panic!("husk ps has no row for {name}"));
    row[1].parse().unwrap_or_else(|_| panic!("pid in {row:?}"))
}

// ---------------------------------------------------------------------------------------
// Helpers: one test's container
// ---------------------------------------------------------------------------------------

impl Case {
    /// `husk run FIRST OPTS -- sh -c SCRIPT MARKER`.
    fn run_cmd(&self, first: &[&str], opts: &[&str], script: &str) -> Command {
        self.sh(&[first, opts].concat(), script)
    }

    /// The host pid of the init of this test's (only) running container: the process that
    /// mentions the marker and is PID 1 of a PID namespace one level down.
    fn init(&self) -> i32 {
        wait_for(
            || format!("the container's init among {:?}", mentioning(&self.marker)),
            || {
                let found: Vec<i32> = mentioning(&self.marker)
                    .into_iter()
                    .map(|(pid, _)| pid)
                    .filter(|&pid| nspid(pid).len() == 2 && nspid(pid)[1] == 1)
                    .collect();
                (found.len() == 1).then(|| found[0])
            },
        )
    }
}

/// The host pid of COMMAND (PID 2 inside) of the container whose init is `init`.
fn command_of(init: i32) -> i32 {
    wait_for(
        || format!("COMMAND, the child of the container's init {init}: children {:?}", children(init)),
        || children(init).into_iter().find(|&pid| nspid(pid).last() == Some(&2)),
    )
}

/// The container's control FIFO: writes `request` into `fifo` once the container's loop
/// has it open for reading (`read cmd < FIFO`), then waits for the file `done`.
fn ask(fifo: &Path, request: &str, done: &Path) {
    let _ = fs::remove_file(done);
    let mut writer = wait_for(
        || format!("the container to read its control FIFO {}", fifo.display()),
        || fs::OpenOptions::new().write(true).custom_flags(O_NONBLOCK).open(fifo).ok(),
    );
    writer.write_all(format!("{request}\n").as_bytes()).expect("write the control FIFO");
    drop(writer);
    wait_until(|| format!("the container to answer {request:?} with {}", done.display()), || done.exists());
}

/// Reads a file the container writes with one `echo ... > FILE` (waits for the newline).
fn read_line_file(path: &Path) -> String {
    wait_for(
        || format!("a line in {}", path.display()),
        || fs::read_to_string(path).ok().filter(|t| t.ends_with('\n')),
    )
}

/// `(pid, ppid, comm)` rows of a `ps -o pid,ppid,comm` output (header dropped).
fn ps_table(text: &str) -> Vec<(i32, i32, String)> {
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 3, "a ps row: {l:?} in\n{text}");
            (f[0].parse().unwrap(), f[1].parse().unwrap(), f[2].to_string())
        })
        .collect()
}

/// A loop that keeps a container alive with a stable set of processes: COMMAND (sh, PID 2)
/// waiting on a `sleep` (PID 3).
const IDLE: &str = "echo ready; while :; do sleep 100000; done";

// ---------------------------------------------------------------------------------------
// 1. husk exec enters the container: processes, hostname, network, mounts
// ---------------------------------------------------------------------------------------

#[test]
fn exec_sees_what_the_container_sees() {
    let bb = need!("exec_sees_what_the_container_sees", busybox());
    let case = Case::new("nsenter", &[bb]);
    let name = unique("nsenter");
    let vol = case.mkdir("vol");
    let fifo = vol.join("ctl");
    let mkfifo = run(Command::new("mkfifo").arg(&fifo));
    mkfifo.expect_success();
    let file = format!("/tmp/husk-named.{}.from-exec", std::process::id());
    let hostname = format!("hn-{}", std::process::id());
    // The container: a background sleep (PID 3), then a loop blocked on the control FIFO
    // (builtins only: no transient processes), answering "ps" (its own view of the
    // processes) and "check" (what it finds in the file exec writes into its /tmp).
    let script = format!(
        "sleep 100000 & echo $! > /mnt/sleeper; \
         while :; do read cmd < /mnt/ctl; case $cmd in \
         ps) ps -o pid,ppid,comm > /mnt/ps.out; echo > /mnt/ps.done;; \
         check) if test -e {file}; then cat {file} > /mnt/seen.out; else echo missing > /mnt/seen.out; fi; \
         echo > /mnt/seen.done;; \
         esac; done"
    );
    let bind = format!("{}:/mnt", path_str(&vol));
    let opts = ["--rootfs", path_str(bb), "--hostname", &hostname, "--tmpfs", "/tmp", "--bind", &bind];
    let guard = case.detach(&name, &opts, &script);
    assert_eq!(read_line_file(&vol.join("sleeper")), "3\n", "the container's background sleep is PID 3");
    let init = case.init();
    assert_eq!(ps_pid(&name), init, "husk ps shows the container's init");

    // The processes: exec's ps is inside the container's PID namespace and sees exactly what
    // the container's own ps sees, each seeing itself as the one extra process.
    let outside = husk(&["exec", &name, "--", "ps", "-o", "pid,ppid,comm"]);
    let exec_view = ps_table(outside.expect_success());
    ask(&fifo, "ps", &vol.join("ps.done"));
    let inside_text = fs::read_to_string(vol.join("ps.out")).unwrap();
    let inside_view = ps_table(&inside_text);
    // Left out: each view's own ps, and exec's helper (a husk other than PID 1: COMMAND's
    // parent inside the container, see src/exec.rs).
    let stable = |view: &[(i32, i32, String)]| -> Vec<(i32, i32, String)> {
        view.iter().filter(|(pid, _, comm)| comm != "ps" && !(comm == "husk" && *pid != 1)).cloned().collect()
    };
    assert_eq!(
        stable(&exec_view),
        stable(&inside_view),
        "exec's ps must see the container's processes\n exec: {outside}\n inside: {inside_text}"
    );
    let pids_ppids: Vec<(i32, i32)> = stable(&exec_view).iter().map(|&(p, pp, _)| (p, pp)).collect();
    assert_eq!(pids_ppids, [(1, 0), (2, 1), (3, 2)], "init, COMMAND, its sleep\n{outside}");
    assert!(["husk", "init"].contains(&exec_view[0].2.as_str()), "PID 1 is husk\n{outside}");
    assert_eq!((exec_view[1].2.as_str(), exec_view[2].2.as_str()), ("sh", "sleep"), "{outside}");
    let exec_ps: Vec<&(i32, i32, String)> = exec_view.iter().filter(|(_, _, c)| c == "ps").collect();
    let helper: Vec<&(i32, i32, String)> =
        exec_view.iter().filter(|(pid, _, c)| c == "husk" && *pid != 1).collect();
    assert!(
        exec_ps.len() == 1
            && exec_ps[0].0 > 3
            && helper.len() == 1
            && exec_ps[0].1 == helper[0].0
            && helper[0].1 == 0,
        "exec's own ps: one process, a new pid inside, its parent exec's helper (itself a child of \
         husk exec, outside: PPID 0)\n{outside}"
    );
    let own_ps: Vec<&(i32, i32, String)> = inside_view.iter().filter(|(_, _, c)| c == "ps").collect();
    assert!(own_ps.len() == 1 && own_ps[0].1 == 2, "the container's ps is COMMAND's child\n{inside_text}");
    // And from the host: the container's PID namespace holds those three processes.
    let ns = namespace(init, "pid").unwrap();
    let mut host_view: Vec<i32> =
        in_pid_namespace(&ns).iter().filter_map(|&p| nspid(p).last().copied()).collect();
    host_view.sort();
    assert_eq!(host_view, [1, 2, 3], "the host's view of the container's PID namespace");

    // Namespaces: exec's process is in every namespace of the init (no user namespace).
    let kinds = ["mnt", "uts", "ipc", "pid", "net", "cgroup"];
    let script = format!("for n in {}; do readlink /proc/self/ns/$n; done", kinds.join(" "));
    let out = husk(&["exec", &name, "sh", "-c", &script]);
    let expected: Vec<String> = kinds.iter().map(|k| namespace(init, k).unwrap() + "\n").collect();
    assert_eq!(out.expect_success(), expected.concat(), "exec's namespaces are the init's\n{out}");
    for kind in kinds {
        assert_ne!(namespace(init, kind), namespace(std::process::id() as i32, kind), "{kind} is new");
    }

    // Hostname and network.
    husk(&["exec", &name, "hostname"]).expect(0, &format!("{hostname}\n"), "");
    let out = husk(&["exec", &name, "cat", "/proc/net/dev"]);
    assert_eq!(interfaces(out.expect_success()), ["lo"], "exec's network is the container's\n{out}");

    // Mounts: a file exec writes into the container's /tmp (a tmpfs) is the container's.
    husk(&["exec", &name, "sh", "-c", &format!("echo written-by-exec > {file}")]).expect(0, "", "");
    ask(&fifo, "check", &vol.join("seen.done"));
    assert_eq!(fs::read_to_string(vol.join("seen.out")).unwrap(), "written-by-exec\n");
    assert!(!Path::new(&file).exists(), "exec wrote {file} on the host, not in the container");
    husk(&["exec", &name, "cat", &file]).expect(0, "written-by-exec\n", "");
    // The root: the rootfs, not the host's.
    let out = husk(&["exec", &name, "ls", "-A", "/"]);
    let listed: Vec<&str> = out.expect_success().lines().collect();
    assert_eq!(listed, dir_names(bb), "exec's / is the container's root\n{out}");

    husk(&["kill", &name]).expect(0, "", "");
    wait_gone(&name);
    drop(guard);
    case.assert_clean("husk kill");
}

// ---------------------------------------------------------------------------------------
// 2. husk exec: the container's identity, nothing of the caller's, exit status, signals
// ---------------------------------------------------------------------------------------

/// Runs `husk exec ARGS` from python3 with two descriptors leaked into it (fd 20: the host's
/// `/`, fd 21: a host file): what an exec'd process must never get.
fn with_leaked_fds(secret: &Path, args: &[&str]) -> Outcome {
    const LEAK: &str = "import os, sys\n\
        os.dup2(os.open('/', os.O_RDONLY | os.O_DIRECTORY), 20, inheritable=True)\n\
        os.dup2(os.open(sys.argv[1], os.O_RDONLY), 21, inheritable=True)\n\
        os.execv(sys.argv[2], sys.argv[2:])\n";
    run(Command::new("python3").args(["-c", LEAK]).arg(secret).args(args))
}

/// Root in a container cannot stop `husk exec` by making /etc/passwd unreadable: a user
/// given by number needs no file (a name still does, and says so).
#[test]
fn exec_as_a_number_needs_no_passwd() {
    let bb = need!("exec_as_a_number_needs_no_passwd", busybox());
    let case = Case::new("no-passwd", &[]);
    let root = case.rootfs_copy(bb);
    let name = unique("no-passwd");
    let _guard = case.detach(&name, &["--rootfs", path_str(&root)], IDLE);
    husk(&["exec", &name, "sh", "-c", "mv /etc/passwd /etc/passwd.was && mkdir /etc/passwd"])
        .expect(0, "", "");
    husk(&["exec", &name, "id", "-u"]).expect(0, "0\n", "");
    husk(&["exec", "-u", "1000:5", &name, "id", "-u"]).expect(0, "1000\n", "");
    let out = husk(&["exec", "-u", "user", &name, "true"]);
    out.expect(125, "", "husk: user /etc/passwd: Invalid argument (EINVAL)\n");
}

/// `husk exec` racing a named container's start never joins it half-built. (Found by a red
/// team: the record was written right after the clone, before the init had entered its root,
/// so an exec in that window ran in the host's mount namespace, or in the init's copy of the
/// host's tree, with the container's capabilities, and could write to the host's `/`.) A
/// directory that exists only on the host tells where the exec landed, and so does its mount
/// namespace.
#[test]
fn exec_never_joins_a_container_still_being_built() {
    let bb = need!("exec_never_joins_a_container_still_being_built", busybox());
    let mut case = Case::new("half-built", &[bb]);
    let mark = case.host_root_dir("mark");
    let name = unique("half-built");
    let host_mnt = fs::read_link("/proc/self/ns/mnt").unwrap().to_string_lossy().into_owned();
    let probe = format!("test -e {} && echo HIT; readlink /proc/self/ns/mnt", path_str(&mark));
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (mut joined, mut escaped) = (0, Vec::new());
    thread::scope(|s| {
        let execs: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let mut seen = Vec::new();
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let out = husk(&["exec", &name, "sh", "-c", &probe]);
                        if out.status.success() {
                            seen.push(out.stdout);
                        }
                    }
                    seen
                })
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(20);
        for _ in 0..600 {
            if Instant::now() > deadline {
                break;
            }
            run(Command::new(HUSK).args(["run", "--name", &name, "--rootfs", path_str(bb), "--", "true"]));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for exec in execs {
            for out in exec.join().unwrap() {
                joined += 1;
                if out.contains("HIT") || out.trim() == host_mnt {
                    escaped.push(out);
                }
            }
        }
    });
    eprintln!("{joined} execs joined a starting container");
    assert!(escaped.is_empty(), "husk exec joined a container still being built: {escaped:?}");
    assert!(joined > 0, "no exec joined at all: the race was not run");
}

#[test]
fn exec_gets_the_containers_identity_and_nothing_of_the_callers() {
    let bb = need!("exec_gets_the_containers_identity_and_nothing_of_the_callers", busybox());
    let case = Case::new("identity", &[bb]);
    let name = unique("identity");
    let guard = case.detach(&name, &["--rootfs", path_str(bb)], IDLE);
    let init = case.init();
    let command = command_of(init);
    let status = |pid: i32| fs::read_to_string(format!("/proc/{pid}/status")).unwrap();

    // Capabilities, no_new_privs, seccomp: COMMAND's.
    let grep = ["grep", "-E", "^(Cap|NoNewPrivs|Seccomp)", "/proc/self/status"];
    let out = husk(&[&["exec", name.as_str()][..], &grep].concat());
    let command_confinement = confinement(&status(command));
    assert_eq!(out.expect_success().lines().collect::<Vec<_>>(), command_confinement, "{out}");
    assert!(command_confinement.contains(&"Seccomp:\t2".to_string()), "{command_confinement:?}");
    assert!(command_confinement.contains(&"NoNewPrivs:\t1".to_string()), "{command_confinement:?}");

    // The environment: COMMAND's, unless -e adds to it.
    let environ = fs::read(format!("/proc/{command}/environ")).unwrap();
    let mut expected: Vec<String> =
        String::from_utf8_lossy(&environ).split('\0').filter(|v| !v.is_empty()).map(str::to_string).collect();
    expected.sort();
    let out = husk(&["exec", &name, "env"]);
    let mut got: Vec<String> = out.expect_success().lines().map(str::to_string).collect();
    got.sort();
    assert_eq!(got, expected, "exec's environment is COMMAND's\n{out}");
    husk(&["exec", "-e", "X=1", &name, "sh", "-c", "echo \"$X\""]).expect(0, "1\n", "");
    husk(&["exec", &name, "sh", "-c", "echo \"${X-unset}\""]).expect(0, "unset\n", "");

    // User and working directory.
    husk(&["exec", &name, "id"]).expect(0, "uid=0(root) gid=0(root)\n", "");
    husk(&["exec", "-u", "1000", &name, "id"]).expect(0, "uid=1000(user) gid=1000(user)\n", "");
    husk(&["exec", "-u", "1000:5", &name, "id"]).expect(0, "uid=1000(user) gid=5\n", "");
    // The helper COMMAND runs under shows `husk exec -- COMMAND…`, nothing of the host (the
    // path of husk, the container's name): as PID 1 does.
    let out = husk(&["exec", &name, "sh", "-c", "tr '\\0' ' ' < /proc/$PPID/cmdline; cat /proc/$PPID/comm"]);
    out.expect(0, "husk exec -- sh -c tr '\\0' ' ' < /proc/$PPID/cmdline; cat /proc/$PPID/comm husk\n", "");
    // Names, looked up in the container's /etc/passwd as husk run does (HOME too).
    husk(&["exec", "-u", "user", &name, "sh", "-c", "id; echo $HOME"]).expect(
        0,
        "uid=1000(user) gid=1000(user)\n/home/user\n",
        "",
    );
    let out = husk(&["exec", "-u", "ghost", &name, "true"]);
    out.expect(
        125,
        "",
        "husk: user ghost: No such file or directory (ENOENT): no such user in the container's /etc/passwd\n",
    );
    let out = husk(&[&["exec", "-u", "1000", name.as_str()][..], &grep].concat());
    let lines: BTreeMap<String, String> = out
        .expect_success()
        .lines()
        .filter_map(|l| l.split_once(':').map(|(k, v)| (k.to_string(), v.trim().to_string())))
        .collect();
    for cap in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
        assert_eq!(lines.get(cap).map(String::as_str), Some("0000000000000000"), "{cap} of -u 1000\n{out}");
    }
    assert_eq!(lines.get("NoNewPrivs").map(String::as_str), Some("1"), "{out}");
    assert_eq!(lines.get("Seccomp").map(String::as_str), Some("2"), "{out}");
    husk(&["exec", &name, "pwd"]).expect(0, "/\n", "");
    husk(&["exec", "-w", "/tmp", &name, "pwd"]).expect(0, "/tmp\n", "");

    // Exit status.
    husk(&["exec", &name, "sh", "-c", "exit 7"]).expect(7, "", "");
    husk(&["exec", &name, "--", "sh", "-c", "exit 0"]).expect(0, "", "");
    husk(&["exec", &name, "/nonexistent"]).expect(
        127,
        "",
        "husk: exec /nonexistent: No such file or directory (ENOENT)\n",
    );
    husk(&["exec", &name, "/etc/passwd"]).expect(
        126,
        "",
        "husk: exec /etc/passwd: Permission denied (EACCES)\n",
    );
    husk(&["exec", &name, "sh", "-c", "kill -USR1 $$"]).expect(138, "", "");
    let other = unique("identity-none");
    husk(&["exec", &other, "true"]).expect(125, "", &no_such_container(&other));
    husk(&["kill", &other]).expect(125, "", &no_such_container(&other));

    // SIGTERM to husk exec reaches its command: 143, and nothing is left in the container.
    let ns = namespace(init, "pid").unwrap();
    let sleeper = "100007";
    let mut exec = start(
        Command::new(HUSK).args(["exec", &name, "sh", "-c"]).arg(format!("echo ready; exec sleep {sleeper}")),
    );
    exec.wait_stdout("ready");
    send(exec.pid(), SIGTERM);
    exec.wait().expect(143, "ready\n", "");
    wait_until(
        || format!("sleep {sleeper} to end in the container: {:?}", in_pid_namespace(&ns)),
        || !in_pid_namespace(&ns).iter().any(|&p| cmdline(p) == format!("sleep {sleeper}")),
    );

    husk(&["kill", &name]).expect(0, "", "");
    wait_gone(&name);
    drop(guard);
    case.assert_clean("husk kill");
}

/// src/exec.rs: "The container's init adopts it if husk exec dies."
#[test]
fn exec_orphan_is_adopted_by_the_containers_init() {
    let bb = need!("exec_orphan_is_adopted_by_the_containers_init", busybox());
    let case = Case::new("orphan", &[bb]);
    let name = unique("orphan");
    let guard = case.detach(&name, &["--rootfs", path_str(bb)], IDLE);
    let init = case.init();
    let ns = namespace(init, "pid").unwrap();
    // SIGKILL to husk exec: its command stays, adopted by the container's init.
    let sleeper = "100009";
    let mut exec = Command::new(HUSK)
        .args(["exec", &name, "sleep", sleeper])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let orphan = wait_for(
        || format!("sleep {sleeper} in the container: {:?}", in_pid_namespace(&ns)),
        || in_pid_namespace(&ns).into_iter().find(|&p| cmdline(p) == format!("sleep {sleeper}")),
    );
    exec.kill().unwrap();
    exec.wait().unwrap();
    // exec's helper (COMMAND's parent, inside) dies by its parent-death signal just after:
    // then the container's init adopts COMMAND.
    wait_until(
        || {
            format!(
                "sleep {sleeper} (host pid {orphan}), orphaned by husk exec's SIGKILL, adopted by the \
                 container's init (host pid {init}); its parent is {:?}",
                ppid(orphan)
            )
        },
        || ppid(orphan) == Some(init),
    );

    husk(&["kill", &name]).expect(0, "", "");
    wait_gone(&name);
    assert!(!alive(orphan), "the exec'd process ended with the container");
    drop(guard);
    case.assert_clean("husk kill");
}

#[test]
fn exec_passes_no_descriptor_of_the_callers() {
    let bb = need!("exec_passes_no_descriptor_of_the_callers", busybox());
    let case = Case::new("fds", &[bb]);
    let name = unique("fds");
    let guard = case.detach(&name, &["--rootfs", path_str(bb)], IDLE);
    let secret = case.join("secret");
    fs::write(&secret, "host secret\n").unwrap();
    // Control: the launcher does leak fds 20 (the host's /) and 21 (a host file).
    let control = with_leaked_fds(&secret, &["/bin/sh", "-c", "ls /proc/$$/fd"]);
    let leaked: Vec<&str> = control.expect_success().lines().filter(|fd| ["20", "21"].contains(fd)).collect();
    assert_eq!(leaked, ["20", "21"], "the python launcher must leak fds 20 and 21 (control)\n{control}");
    // The exec'd process has 0-2 only: the host's root and files stay outside. (On failure
    // the output shows what the leak gives: the secret and the host's / listed.)
    let script = "ls /proc/$$/fd; cat /proc/self/fd/21 2>/dev/null; ls /proc/self/fd/20/ 2>/dev/null; true";
    with_leaked_fds(&secret, &[HUSK, "exec", &name, "sh", "-c", script]).expect(0, "0\n1\n2\n", "");
    // Whatever this test process itself inherited stays outside too. (`; true` keeps the
    // shell from exec'ing ls, whose own directory descriptor would then be listed.)
    husk(&["exec", &name, "sh", "-c", "ls /proc/$$/fd; true"]).expect(0, "0\n1\n2\n", "");
    husk(&["kill", &name]).expect(0, "", "");
    wait_gone(&name);
    drop(guard);
    case.assert_clean("husk kill");
}

// ---------------------------------------------------------------------------------------
// 3. A stale entry or a recycled pid cannot redirect exec or kill
// ---------------------------------------------------------------------------------------

/// `state` with its `pid=` and `start=` lines replaced.
fn forge(state: &str, pid: i32, start: u64) -> String {
    state
        .lines()
        .map(|l| {
            if l.starts_with("pid=") {
                format!("pid={pid}\n")
            } else if l.starts_with("start=") {
                format!("start={start}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect()
}

#[test]
fn exec_and_kill_refuse_stale_and_forged_entries() {
    let bb = need!("exec_and_kill_refuse_stale_and_forged_entries", busybox());
    let case = Case::new("stale", &[bb]);
    let name = unique("stale");
    let guard = case.detach(&name, &["--rootfs", path_str(bb)], IDLE);
    let init = ps_pid(&name);
    assert_eq!(init, case.init(), "husk ps shows the init's pid");
    let supervisor = ppid(init).unwrap();
    assert!(cmdline(supervisor).contains(&case.marker), "the init's parent is the detached husk run");
    husk(&["exec", &name, "true"]).expect(0, "", "");

    // The supervisor SIGKILLed: the container dies with it, the entry stays behind, stale.
    send(supervisor, SIGKILL);
    wait_until(|| format!("the container's init {init} to die"), || !alive(init) && !alive(supervisor));
    case.assert_clean("SIGKILL to the supervisor");
    let state_path = entry(&name).join("state");
    let state = fs::read_to_string(&state_path).expect("a stale entry keeps its state file");
    assert!(state.contains(&format!("pid={init}\n")), "{state}");
    husk(&["exec", &name, "true"]).expect(125, "", &no_such_container(&name));
    husk(&["kill", &name]).expect(125, "", &no_such_container(&name));
    husk(&["kill", &name, "KILL"]).expect(125, "", &no_such_container(&name));
    assert!(!ps_names().contains(&name), "husk ps -q lists a stale entry");
    assert!(!ps_all_names().contains(&name), "husk ps -a -q lists a stale entry");
    husk(&["wait", &name]).expect(
        125,
        "",
        &format!(
            "husk: wait {name}: No such process (ESRCH): it ended without a recorded status (its husk run \
             was killed)\n"
        ),
    );

    // The stale state now names a live, unrelated process, start time and all: the lock is
    // free, so it is still no container.
    let mut sleeper = start(Command::new("sleep").arg("100011"));
    let pid = sleeper.pid();
    let start = wait_for(|| format!("the start time of {pid}"), || start_time(pid));
    replace_record(&state_path, forge(&state, pid, start));
    let touched = format!("/tmp/husk-named.{}.stale-touched", std::process::id());
    husk(&["exec", &name, "touch", &touched]).expect(125, "", &no_such_container(&name));
    husk(&["kill", &name, "KILL"]).expect(125, "", &no_such_container(&name));
    husk(&["kill", &name]).expect(125, "", &no_such_container(&name));
    assert!(!Path::new(&touched).exists(), "exec ran a command for a stale entry");
    assert!(sleeper.running(), "husk kill signalled the unrelated process {pid}");
    assert!(!ps_names().contains(&name), "husk ps -q lists a stale entry");

    // Someone holds the lock (as a live husk run would) and the state has the right start
    // time: husk takes it for a container (control: the forgery is well-formed).
    let lock = entry(&name).join("lock");
    let holder = Proc::start_with_stdin(
        Command::new("python3")
            .args([
                "-c",
                "import fcntl, sys\nf = open(sys.argv[1], 'r+')\nfcntl.flock(f, fcntl.LOCK_EX)\n\
                 print('locked', flush=True)\nsys.stdin.read()\n",
            ])
            .arg(&lock),
        Stdio::piped(),
    )
    .kill_on_drop(Kill::Process);
    holder.wait_stdout("locked");
    husk(&["kill", &name, "CONT"]).expect(0, "", "");
    assert!(ps_names().contains(&name), "husk ps -q lists a held entry");
    // The same with a start time that is not the process's: a recycled pid. Refused.
    replace_record(&state_path, forge(&state, pid, start + 1));
    husk(&["exec", &name, "touch", &touched]).expect(125, "", &no_such_container(&name));
    husk(&["kill", &name, "KILL"]).expect(125, "", &no_such_container(&name));
    husk(&["kill", &name]).expect(125, "", &no_such_container(&name));
    assert!(!Path::new(&touched).exists(), "exec ran a command in a process with a recycled pid");
    assert!(sleeper.running(), "husk kill signalled {pid}, whose start time is not the recorded one");
    // A pid that is gone altogether.
    replace_record(&state_path, forge(&state, init, start));
    husk(&["exec", &name, "true"]).expect(125, "", &no_such_container(&name));
    husk(&["kill", &name]).expect(125, "", &no_such_container(&name));

    drop(holder);
    drop(guard);
    assert!(sleeper.running(), "the unrelated process {pid} survived");
    case.assert_clean("the forged entries");
}

// ---------------------------------------------------------------------------------------
// 4. A hostile rootfs: exec'd programs are the container's, and run confined
// ---------------------------------------------------------------------------------------

#[test]
fn hostile_sh_in_the_rootfs_runs_confined() {
    let bb = need!("hostile_sh_in_the_rootfs_runs_confined", busybox());
    let case = Case::new("hostile", &[bb]);
    let name = unique("hostile");
    let root = case.join("rootfs");
    rootfs::copy_tree(bb, &root);
    let vol = case.mkdir("vol");
    // /bin/sh replaced by a script that reports what it can see and do.
    let sh = root.join("bin/sh");
    fs::remove_file(&sh).unwrap();
    fs::write(
        &sh,
        "#!/bin/busybox sh\n\
         o=/mnt\n\
         cat /proc/$$/status > $o/status\n\
         ls -A / > $o/ls\n\
         readlink /proc/$$/root > $o/root\n\
         pwd > $o/cwd\n\
         for n in mnt uts ipc pid net cgroup; do readlink /proc/$$/ns/$n; done > $o/ns\n\
         if cat /proc/1/environ > /dev/null 2>&1; then echo readable; else echo refused; fi > $o/init-environ\n\
         echo \"$@\" > $o/args\n\
         echo done > $o/done\n",
    )
    .unwrap();
    fs::set_permissions(&sh, fs::Permissions::from_mode(0o755)).unwrap();
    let bind = format!("{}:/mnt", path_str(&vol));
    let guard = case.guard(&name);
    let start = run(Command::new(HUSK)
        .args(["run", "-d", "--name", &name, "--rootfs", path_str(&root)])
        .args(["--bind", &bind, "--", "sleep", "100013"]));
    start.expect(0, &format!("{name}\n"), "");
    let init = ps_pid(&name);
    assert_eq!(nspid(init).last(), Some(&1), "husk ps shows the init");
    let command = command_of(init);

    husk(&["exec", &name, "sh", "-c", "anything"]).expect(0, "", "");
    assert_eq!(
        fs::read_to_string(vol.join("done")).unwrap(),
        "done\n",
        "the hostile sh ran (via PATH, inside)"
    );
    let read = |f: &str| fs::read_to_string(vol.join(f)).unwrap();
    assert_eq!(read("args"), "-c anything\n");
    let status = read("status");
    let command_status = fs::read_to_string(format!("/proc/{command}/status")).unwrap();
    assert_eq!(confinement(&status), confinement(&command_status), "capabilities, no_new_privs, seccomp");
    assert_eq!(status_field(&status, "Seccomp").as_deref(), Some("2"), "{status}");
    assert_eq!(status_field(&status, "NoNewPrivs").as_deref(), Some("1"), "{status}");
    assert_eq!(status_field(&status, "CapBnd"), status_field(&command_status, "CapBnd"), "{status}");
    assert_eq!(status_field(&status, "Uid").as_deref(), Some("0 0 0 0"), "{status}");
    // Its parent is husk exec's helper, inside the container's PID namespace (so that the
    // container's init adopts it should husk exec die).
    let parent = status_field(&status, "PPid").unwrap_or_default();
    assert!(
        parent.parse::<i32>().is_ok_and(|p| p > 2),
        "its parent is exec's helper inside: {parent:?}\n{status}"
    );
    let inner = status_field(&status, "NSpid").unwrap_or_default();
    assert!(inner.parse::<i32>().is_ok_and(|p| p > 2), "one pid, inside the container: {inner:?}");
    let ls = read("ls");
    assert_eq!(
        ls.lines().collect::<Vec<_>>(),
        dir_names(&root),
        "the hostile sh saw a root that is not the rootfs"
    );
    assert_eq!(read("root"), "/\n");
    assert_eq!(read("cwd"), "/\n");
    let kinds = ["mnt", "uts", "ipc", "pid", "net", "cgroup"];
    let expected: Vec<String> = kinds.iter().map(|k| namespace(init, k).unwrap() + "\n").collect();
    assert_eq!(read("ns"), expected.concat(), "the hostile sh is in the container's namespaces");
    assert_eq!(read("init-environ"), "refused\n", "the container's init is not dumpable");

    husk(&["kill", &name]).expect(0, "", "");
    wait_gone(&name);
    drop(guard);
    case.assert_clean("husk kill");
}

// ---------------------------------------------------------------------------------------
// 5. --detach, logs, ps, kill
// ---------------------------------------------------------------------------------------

#[test]
fn detached_container_logs_ps_kill() {
    let bb = need!("detached_container_logs_ps_kill", busybox());
    let case = Case::new("detach", &[bb]);
    let name = unique("detach");
    let script = "trap 'echo got-usr1' USR1; echo line-out; echo line-err >&2; \
                  if read x; then echo stdin-not-empty; fi; echo ready; \
                  while :; do sleep 100015 & wait $!; done";
    let guard = case.detach(&name, &["--rootfs", path_str(bb)], script);
    let logs = || husk(&["logs", &name]).expect_success().to_string();
    wait_until(|| format!("ready in the log of {name}: {:?}", logs()), || logs().contains("ready"));
    assert_eq!(logs(), "line-out\nline-err\nready\n", "stdout and stderr in the log, stdin /dev/null");
    assert_eq!(
        fs::read_to_string(entry(&name).join("log")).unwrap(),
        "line-out\nline-err\nready\n",
        "the log file"
    );

    // husk ps: one row, the init's pid, the rootfs, the command.
    let init = case.init();
    let row = ps_row(&name).expect("husk ps lists the container");
    let uptime = row[2].clone();
    assert!(
        uptime.strip_suffix('s').is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())),
        "uptime in seconds: {row:?}"
    );
    let command = format!("sh -c {script} {}", case.marker);
    assert_eq!(row, [&name, &init.to_string(), &uptime, path_str(bb), &command], "the row of husk ps");
    assert!(ps_names().contains(&name), "husk ps -q lists the container");
    // The container's processes as the host sees them, with their start times (so that a
    // recycled pid is not taken for a survivor).
    let host_view: Vec<(i32, Option<u64>)> =
        in_pid_namespace(&namespace(init, "pid").unwrap()).into_iter().map(|p| (p, start_time(p))).collect();
    assert_eq!(host_view.len(), 3, "init, COMMAND and its sleep: {host_view:?}");

    // A signal goes to the init, which forwards it to COMMAND.
    husk(&["kill", &name, "USR1"]).expect(0, "", "");
    wait_until(|| format!("got-usr1 in the log: {:?}", logs()), || logs().contains("got-usr1"));
    assert_eq!(logs(), "line-out\nline-err\nready\ngot-usr1\n");

    // The default signal, TERM, ends it; everything goes.
    husk(&["kill", &name]).expect(0, "", "");
    wait_gone(&name);
    assert!(husk(&["logs", &name]).is_refusal(), "husk logs of a container that is gone");
    husk(&["exec", &name, "true"]).expect(125, "", &no_such_container(&name));
    husk(&["kill", &name]).expect(125, "", &no_such_container(&name));
    case.assert_clean("husk kill");
    for (pid, start) in host_view {
        assert!(
            !(alive(pid) && start_time(pid) == start),
            "container process {pid} ({}) outlived the container",
            cmdline(pid)
        );
    }
    drop(guard);
}

#[test]
fn detach_without_a_name_is_named_after_husk_run() {
    let bb = need!("detach_without_a_name_is_named_after_husk_run", busybox());
    let case = Case::new("unnamed", &[bb]);
    let mut start = start(&mut case.run_cmd(&["-d"], &["--rootfs", path_str(bb)], IDLE));
    let name = format!("husk-{}", start.pid());
    let guard = case.guard(&name);
    start.wait().expect(0, &format!("{name}\n"), "");
    assert!(ps_names().contains(&name), "husk ps -q lists {name}");
    husk(&["exec", &name, "echo", "in"]).expect(0, "in\n", "");
    husk(&["kill", &name]).expect(0, "", "");
    wait_gone(&name);
    drop(guard);
    case.assert_clean("husk kill");
}

#[test]
fn detached_failure_reports_and_leaves_nothing() {
    let bb = need!("detached_failure_reports_and_leaves_nothing", busybox());
    let case = Case::new("detach-fail", &[bb]);
    let name = unique("detach-fail");
    let _guard = case.guard(&name);
    let line = "husk: exec /nonexistent: No such file or directory (ENOENT)\n";
    // Repeated: the report and the removal of the entry must not depend on who runs first.
    let mut wrong = Vec::new();
    for round in 0..20 {
        let out = run(Command::new(HUSK)
            .args(["run", "-d", "--name", &name, "--rootfs", path_str(bb), "--", "/nonexistent"])
            .arg(&case.marker));
        let left = fs::symlink_metadata(entry(&name)).is_ok();
        if out.code() != Some(127) || !out.stdout.is_empty() || !out.stderr.contains(line) || left {
            wrong.push(format!("round {round}: entry left behind: {left}; {out}"));
        }
        wait_gone(&name);
    }
    assert!(wrong.is_empty(), "{} of 20 detached failures went wrong:\n{}", wrong.len(), wrong.join("\n"));
    case.assert_clean("the failed starts");
}

// ---------------------------------------------------------------------------------------
// 6. Names: the rules, one live container per name, stale entries reused
// ---------------------------------------------------------------------------------------

#[test]
fn invalid_names_are_refused() {
    let bb = need!("invalid_names_are_refused", busybox());
    let case = Case::new("badnames", &[bb]);
    let too_long = format!("{}{}", unique("x"), "x".repeat(64));
    for bad in ["", "-a", ".a", "_a", "a/b", "../x", "a b", "é", "a\tb", &too_long[..65]] {
        for detach in [false, true] {
            let mut first = vec!["--name", bad];
            if detach {
                first.push("-d");
            }
            let out = run(&mut case.run_cmd(&first, &["--rootfs", path_str(bb)], "echo ran"));
            assert!(out.is_refusal(), "--name {bad:?} must be refused\n{out}");
        }
        for sub in [&["exec", bad, "true"][..], &["kill", bad], &["logs", bad]] {
            let out = husk(sub);
            assert!(out.is_refusal(), "{sub:?} must be refused\n{out}");
        }
    }
    // 64 bytes is the longest.
    let longest = &too_long[..64];
    let guard = case.detach(longest, &["--rootfs", path_str(bb)], IDLE);
    assert!(ps_names().iter().any(|n| n == longest), "a 64-byte name is listed");
    husk(&["exec", longest, "true"]).expect(0, "", "");
    husk(&["kill", longest]).expect(0, "", "");
    wait_gone(longest);
    drop(guard);
    case.assert_clean("the names");
}

#[test]
fn a_live_name_is_refused_and_a_stale_one_reused() {
    let bb = need!("a_live_name_is_refused_and_a_stale_one_reused", busybox());
    let case = Case::new("samename", &[bb]);
    let name = unique("samename");
    let guard = case.detach(&name, &["--rootfs", path_str(bb)], IDLE);
    let init = ps_pid(&name);
    let state = fs::read_to_string(entry(&name).join("state")).unwrap();
    for first in [&["--name", name.as_str()][..], &["-d", "--name", name.as_str()]] {
        run(&mut case.run_cmd(first, &["--rootfs", path_str(bb)], "echo ran")).expect(
            125,
            "",
            &name_in_use(&name),
        );
    }
    assert!(alive(init), "the first container lives on");
    assert_eq!(ps_pid(&name), init, "and keeps its name");
    assert_eq!(fs::read_to_string(entry(&name).join("state")).unwrap(), state, "and its state");

    // Its supervisor SIGKILLed: the entry is stale, and the name can be taken again.
    let supervisor = ppid(init).unwrap();
    send(supervisor, SIGKILL);
    wait_until(|| format!("{init} and {supervisor} to die"), || !alive(init) && !alive(supervisor));
    assert!(entry(&name).join("lock").exists(), "the stale entry is still there");
    let again = case.detach(&name, &["--rootfs", path_str(bb)], IDLE);
    let second = ps_pid(&name);
    assert_ne!(second, init, "a new container");
    assert_eq!(second, case.init(), "husk ps shows the new init");
    husk(&["exec", &name, "true"]).expect(0, "", "");
    husk(&["kill", &name]).expect(0, "", "");
    wait_gone(&name);
    drop(again);
    drop(guard);
    case.assert_clean("the same name");
}

#[test]
fn a_foreground_named_container_is_registered_while_it_runs() {
    let bb = need!("a_foreground_named_container_is_registered_while_it_runs", busybox());
    let case = Case::new("foreground", &[bb]);
    let name = unique("foreground");
    let guard = case.guard(&name);
    let mut fg = start(&mut case.run_cmd(&["--name", &name], &["--rootfs", path_str(bb)], IDLE));
    fg.wait_stdout("ready");
    assert_eq!(ps_pid(&name), case.init(), "husk ps lists the foreground container");
    husk(&["exec", &name, "hostname"]).expect(0, "husk\n", "");
    assert!(husk(&["logs", &name]).is_refusal(), "a foreground container has no log");
    husk(&["kill", &name]).expect(0, "", "");
    fg.wait().expect(143, "ready\n", "");
    assert!(fs::symlink_metadata(entry(&name)).is_err(), "the entry is gone when husk run returns");
    husk(&["kill", &name]).expect(125, "", &no_such_container(&name));
    drop(guard);
    case.assert_clean("husk kill");
}

// ---------------------------------------------------------------------------------------
// 7. Concurrency
// ---------------------------------------------------------------------------------------

#[test]
fn twenty_containers_start_at_once() {
    let bb = need!("twenty_containers_start_at_once", busybox());
    let case = Case::new("twenty", &[bb]);
    let names: Vec<String> = (0..20).map(|i| unique(&format!("many{i}"))).collect();
    let guards: Vec<Named> = names.iter().map(|n| case.guard(n)).collect();
    let barrier = Barrier::new(names.len());
    let outcomes: Vec<Outcome> = thread::scope(|s| {
        let handles: Vec<_> = names
            .iter()
            .map(|name| {
                let (case, barrier) = (&case, &barrier);
                s.spawn(move || {
                    let mut cmd = case.run_cmd(&["-d", "--name", name], &["--rootfs", path_str(bb)], IDLE);
                    barrier.wait();
                    run(&mut cmd)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (name, out) in names.iter().zip(&outcomes) {
        out.expect(0, &format!("{name}\n"), "");
    }
    let listed = ps_names();
    for name in &names {
        assert!(listed.contains(name), "husk ps -q lacks {name}: {listed:?}");
        husk(&["exec", name, "true"]).expect(0, "", "");
    }
    let inits: BTreeSet<i32> = names.iter().map(|n| ps_pid(n)).collect();
    assert_eq!(inits.len(), names.len(), "twenty distinct inits");
    for name in &names {
        husk(&["kill", name]).expect(0, "", "");
    }
    for name in &names {
        wait_gone(name);
    }
    drop(guards);
    case.assert_clean("twenty containers");
}

#[test]
fn two_starts_one_name_exactly_one_wins() {
    let bb = need!("two_starts_one_name_exactly_one_wins", busybox());
    let case = Case::new("race", &[bb]);
    for round in 0..10 {
        let name = unique(&format!("race{round}"));
        let guard = case.guard(&name);
        let barrier = Barrier::new(2);
        let outcomes: Vec<Outcome> = thread::scope(|s| {
            let handles: Vec<_> = (0..2)
                .map(|_| {
                    let (case, barrier, name) = (&case, &barrier, &name);
                    s.spawn(move || {
                        let mut cmd =
                            case.run_cmd(&["-d", "--name", name], &["--rootfs", path_str(bb)], IDLE);
                        barrier.wait();
                        run(&mut cmd)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let won: Vec<&Outcome> = outcomes.iter().filter(|o| o.code() == Some(0)).collect();
        let lost: Vec<&Outcome> = outcomes.iter().filter(|o| o.code() != Some(0)).collect();
        assert_eq!(won.len(), 1, "round {round}: exactly one start wins\n{}\n{}", outcomes[0], outcomes[1]);
        won[0].expect(0, &format!("{name}\n"), "");
        lost[0].expect(125, "", &name_in_use(&name));
        let init = ps_pid(&name);
        assert_eq!(init, case.init(), "round {round}: one container runs");
        husk(&["kill", &name]).expect(0, "", "");
        wait_gone(&name);
        drop(guard);
        case.assert_clean(&format!("round {round}"));
    }
}

// ---------------------------------------------------------------------------------------
// The container's cgroup (its limits only where the host has cgroup v2 at /sys/fs/cgroup)
// ---------------------------------------------------------------------------------------

#[test]
fn exec_joins_the_containers_cgroup() {
    let test = "exec_joins_the_containers_cgroup";
    let bb = need!("exec_joins_the_containers_cgroup", busybox());
    let case = Case::new("cgroup", &[bb]);
    // Limits need a group husk may create and write: root's on v1 and hybrid hosts (this
    // development host and CI's: v1 controllers, cgroup2 at /sys/fs/cgroup/unified without
    // them), a delegated one on v2 (README).
    let name = unique("cgroup");
    let opts = ["--rootfs", path_str(bb), "--pids-limit", "20"];
    let guard = case.detach(&name, &opts, IDLE);
    // Inside, the container's groups are the roots of its cgroup namespace, with its limit.
    let script = if host_has_cgroup2() {
        "cat /proc/self/cgroup /sys/fs/cgroup/pids.max"
    } else {
        host_branch(test, "v1 controllers here: the pids limit is in /sys/fs/cgroup/pids");
        "grep -v ':/$' /proc/self/cgroup; cat /sys/fs/cgroup/pids/pids.max"
    };
    let expected = if host_has_cgroup2() { "0::/\n20\n" } else { "20\n" };
    husk(&["exec", &name, "sh", "-c", script]).expect(0, expected, "");
    let init = case.init();
    let host_group = fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap();
    let mut exec =
        start(Command::new(HUSK).args(["exec", &name, "sh", "-c", "echo ready; exec sleep 100017"]));
    exec.wait_stdout("ready");
    let ns = namespace(init, "pid").unwrap();
    let sleeper = wait_for(
        || "the exec'd sleep".to_string(),
        || in_pid_namespace(&ns).into_iter().find(|&p| cmdline(p) == "sleep 100017"),
    );
    assert_eq!(
        fs::read_to_string(format!("/proc/{sleeper}/cgroup")).unwrap(),
        host_group,
        "the init's group"
    );
    send(exec.pid(), SIGTERM);
    exec.wait().expect(143, "ready\n", "");
    husk(&["kill", &name]).expect(0, "", "");
    wait_gone(&name);
    drop(guard);
    case.assert_clean("husk kill");
}

// ---------------------------------------------------------------------------------------
// 8. The record, the log and ps hold against what the container and its arguments put in
//    them (issue 11)
// ---------------------------------------------------------------------------------------

/// `husk run -d --name NAME OPTS -- sh -c SCRIPT MARKER EXTRA...`: must print the name.
fn detach_with_args(case: &Case, name: &str, opts: &[&str], script: &str, extra: &[&str]) -> Named {
    case.detach_command(name, opts, &[&["sh", "-c", script, &case.marker], extra].concat())
}

/// The confinement lines (`Cap*`, `NoNewPrivs`, `Seccomp`) and uid of a `husk exec`.
fn exec_confinement(name: &str, opts: &[&str]) -> BTreeMap<String, String> {
    let script = "id -u; grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status; readlink /proc/self/ns/net";
    let out = husk(&[&["exec"][..], opts, &[name, "sh", "-c", script]].concat());
    let text = out.expect_success();
    let mut lines = text.lines();
    let mut map = BTreeMap::new();
    map.insert("uid".to_string(), lines.next().unwrap_or("").to_string());
    for line in lines {
        match line.split_once(':') {
            Some((k, v)) if !line.starts_with("net:") => map.insert(k.to_string(), v.trim().to_string()),
            _ => map.insert("net".to_string(), line.to_string()),
        };
    }
    map
}

#[test]
fn arguments_cannot_forge_or_push_out_the_record() {
    let bb = need!("arguments_cannot_forge_or_push_out_the_record", busybox());
    let case = Case::new("forge", &[bb]);
    let name = unique("forge");
    // Lines an argument once wrote into the record (the first match won), and a command
    // line long enough to push the confinement out of the 4 KiB that used to be read.
    let forged = "x\nuser=0:0\ncaps_added=18446744073709551615\ncaps_dropped=0\nseccomp=0\nnet=host\nend\n";
    let long = "L".repeat(20_000);
    let opts = ["-u", "1000:1000", "--cap-drop", "ALL", "--rootfs", path_str(bb)];
    let guard = detach_with_args(&case, &name, &opts, IDLE, &[forged, &long]);
    let got = exec_confinement(&name, &[]);
    let init = case.init();
    let container_net = namespace(init, "net").unwrap();
    assert_ne!(container_net, namespace(std::process::id() as i32, "net").unwrap());
    assert_eq!(got.get("uid").map(String::as_str), Some("1000"), "{got:?}");
    for cap in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(got.get(cap).map(String::as_str), Some("0000000000000000"), "{cap}: {got:?}");
    }
    assert_eq!(got.get("Seccomp").map(String::as_str), Some("2"), "{got:?}");
    assert_eq!(got.get("NoNewPrivs").map(String::as_str), Some("1"), "{got:?}");
    assert_eq!(got.get("net"), Some(&container_net), "exec joined the container's network: {got:?}");
    // `-u 0` changes the user, not the bounding set: still nothing.
    let root = exec_confinement(&name, &["-u", "0"]);
    assert_eq!(root.get("uid").map(String::as_str), Some("0"), "{root:?}");
    assert_eq!(root.get("CapBnd").map(String::as_str), Some("0000000000000000"), "{root:?}");
    assert_eq!(root.get("CapEff").map(String::as_str), Some("0000000000000000"), "{root:?}");

    // The record itself: one line per field, the arguments encoded, read back whole by ps.
    let record = fs::read_to_string(entry(&name).join("state")).unwrap();
    assert_eq!(record.lines().count(), 15, "{record}");
    assert!(
        record.starts_with("husk-state 3\nnet=none\nuser=1000:1000\nbounding=0000000000000000\n"),
        "{record}"
    );
    assert!(record.ends_with("\nend\n"), "{record}");
    assert!(record.contains(&format!("%00{long}\n")), "the long argument whole");
    let row = ps_row(&name).expect("husk ps lists it");
    let shown_forged = forged.replace('\n', "\\x0a");
    assert!(row[4].contains(&format!("{} {shown_forged} LLLL", case.marker)), "{row:?}");
    assert!(row[4].ends_with("L..."), "ps cuts a long command (4 KiB shown): {row:?}");

    // A record that does not parse (here: cut short) is refused, never defaulted.
    let path = entry(&name).join("state");
    let cut = &record[..record.len() - "end\n".len()];
    replace_record(&path, cut.to_string());
    let refused = format!("husk: state {name}: Bad message (EBADMSG): its record does not parse: refused\n");
    husk(&["exec", &name, "true"]).expect(125, "", &refused);
    husk(&["kill", &name, "KILL"]).expect(125, "", &refused);
    // Nor stopped or removed by what it says: refused at once, not waited for.
    husk(&["stop", &name]).expect(125, "", &refused);
    husk(&["rm", "-f", &name]).expect(125, "", &refused);
    let out = husk(&["ps", "-q"]);
    assert_eq!(out.code(), Some(125), "{out}");
    assert!(out.stderr.contains(&refused) && !out.stdout.contains(&name), "{out}");
    // Put back whole, it is the container again.
    replace_record(&path, record.clone());
    husk(&["exec", &name, "id", "-u"]).expect(0, "1000\n", "");

    husk(&["kill", &name]).expect(0, "", "");
    wait_gone(&name);
    drop(guard);
    case.assert_clean("husk kill");
}

#[test]
fn ps_and_errors_show_control_bytes_escaped() {
    let bb = need!("ps_and_errors_show_control_bytes_escaped", busybox());
    let case = Case::new("escapes", &[bb]);
    let name = unique("escapes");
    // A root whose path holds an escape sequence, and a command that is one.
    let root = case.join("root\x1b[31m");
    std::os::unix::fs::symlink(bb, &root).unwrap();
    let sequence = "\x1b]0;pwned\x07\x1b[2J\u{9b}6n";
    let guard = detach_with_args(&case, &name, &["--rootfs", root.to_str().unwrap()], IDLE, &[sequence]);
    let text = ps_stdout(&[]);
    assert!(!text.bytes().any(|b| b == 0x1b || b == 0x07), "raw control bytes reach the terminal: {text:?}");
    let row = ps_row(&name).unwrap();
    assert_eq!(row[3], format!("{}/root\\x1b[31m", case.dir.display()), "{row:?}");
    assert!(row[4].ends_with(" \\x1b]0;pwned\\x07\\x1b[2J\\xc2\\x9b6n"), "{row:?}");
    // husk logs stays byte-exact: what the container wrote, escape bytes and all.
    husk(&["exec", &name, "sh", "-c", "true"]).expect(0, "", "");
    // Error lines that echo an argument escape it too.
    let out = husk(&["exec", "-w", "/no\x1b[2Jwhere", &name, "true"]);
    assert_eq!(out.code(), Some(125), "{out}");
    assert_eq!(out.stderr, "husk: chdir /no\\x1b[2Jwhere: No such file or directory (ENOENT)\n", "{out}");
    let out = run(Command::new(HUSK).args(["run", "--rootfs", "/nonexistent\x1b[31m", "--", "true"]));
    out.expect(125, "", "husk: rootfs /nonexistent\\x1b[31m: No such file or directory (ENOENT)\n");
    husk(&["kill", &name]).expect(0, "", "");
    wait_gone(&name);
    drop(guard);
    case.assert_clean("husk kill");
}

#[test]
fn the_log_keeps_its_last_bytes_within_the_cap() {
    let bb = need!("the_log_keeps_its_last_bytes_within_the_cap", busybox());
    let case = Case::new("logcap", &[bb]);
    let name = unique("logcap");
    // 3000 numbered lines of 40 bytes (120,000 bytes) into a log capped at 16 KiB, with an
    // escape sequence among them: logs give back the newest bytes exactly.
    let script = "i=0; while [ $i -lt 3000 ]; do printf 'line %05d \\033[0m.........................\\n' $i; \
                  i=$((i+1)); done; echo done; while :; do sleep 100000; done";
    let full: String =
        (0..3000).map(|i| format!("line {i:05} \x1b[0m.........................\n")).collect::<String>()
            + "done\n";
    let guard = case.detach(&name, &["--rootfs", path_str(bb), "--log-size", "16k"], script);
    let logs = || husk(&["logs", &name]);
    wait_until(|| format!("done in the log of {name}"), || logs().stdout.ends_with("done\n"));
    let out = logs();
    assert_eq!(out.code(), Some(0), "{out}");
    let kept = out.stdout.len();
    assert!((16 * 1024..16 * 1024 + 4096).contains(&kept), "kept {kept} bytes of {}\n{out}", full.len());
    assert!(full.ends_with(&out.stdout), "the newest bytes, exactly\n{out}");
    let dropped = full.len() - kept;
    assert_eq!(
        out.stderr,
        format!(
            "husk: logs {name}: the first {dropped} bytes were dropped (the log keeps the last --log-size bytes)\n"
        )
    );
    // The file holds no more than that (the dropped pages are given back).
    let blocks =
        fs::metadata(entry(&name).join("log")).map(|m| std::os::unix::fs::MetadataExt::blocks(&m)).unwrap();
    assert!(blocks * 512 <= 24 * 1024, "the log occupies {} bytes", blocks * 512);
    husk(&["kill", &name]).expect(0, "", "");
    wait_gone(&name);
    drop(guard);

    // The option's own rules: a size, at least 8k, and only with --detach.
    let out = husk(&["run", "-d", "--log-size", "4k", "--rootfs", path_str(bb), "--", "true"]);
    assert!(out.is_refusal() && out.stderr.contains("--log-size"), "{out}");
    let out = husk(&["run", "--log-size", "1M", "--rootfs", path_str(bb), "--", "true"]);
    assert!(out.is_refusal() && out.stderr.contains("--detach"), "{out}");
    case.assert_clean("husk kill");
}

// ---------------------------------------------------------------------------------------
// 9. Detached containers that end (issue 13): kept as exited, with their log and status,
//    until husk rm; wait, stop, rm, logs -f, ps -a
// ---------------------------------------------------------------------------------------

/// What wait, stop and rm say about a name no container (running or exited) has.
fn no_container(name: &str) -> String {
    format!("husk: container {name}: No such process (ESRCH): no container has that name (husk ps -a)\n")
}

/// The fields of `name`'s row in `husk ps -a`.
fn ps_all_row(name: &str) -> Option<Vec<String>> {
    ps_rows(&["-a"], &[name]).into_iter().find(|row| row[0] == name)
}

/// Whether `text` is a duration as ps shows it: whole seconds, minutes, hours or days.
fn is_duration(text: &str) -> bool {
    text.strip_suffix(['s', 'm', 'h', 'd'])
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Checks ps's UPTIME of an exited container: `Exited (STATUS) 5s ago`.
fn assert_exited(row: &[String], status: u8) {
    let ago = row[2].strip_prefix(&format!("Exited ({status}) ")).and_then(|t| t.strip_suffix(" ago"));
    assert!(ago.is_some_and(is_duration), "Exited ({status}) N ago: {row:?}");
    assert_eq!(row[1], "-", "an exited container has no pid: {row:?}");
}

/// Starts a detached container `unique(label)` running `script` in `root` for each
/// `(label, script)`; returns their guards.
fn detach_each<'l>(
    case: &Case,
    root: &Path,
    runs: impl IntoIterator<Item = (&'l str, &'l str)>,
) -> Vec<Named> {
    runs.into_iter()
        .map(|(label, script)| case.detach(&unique(label), &["--rootfs", path_str(root)], script))
        .collect()
}

/// `husk rm NAME` must succeed for each `unique(label)`.
fn rm_each<'l>(labels: impl IntoIterator<Item = &'l str>) {
    for label in labels {
        husk(&["rm", &unique(label)]).expect(0, "", "");
    }
}

#[test]
fn an_ended_container_keeps_its_log_and_status_until_removed() {
    let bb = need!("an_ended_container_keeps_its_log_and_status_until_removed", busybox());
    let case = Case::new("ended", &[bb]);
    let name = unique("ended");
    let vol = case.mkdir("vol");
    let bind = format!("{}:/mnt", path_str(&vol));
    let script =
        "echo first; echo to-err >&2; while [ ! -e /mnt/go ]; do sleep 0.05; done; echo second; exit 3";
    let guard = case.detach(&name, &["--rootfs", path_str(bb), "--bind", &bind], script);
    let init = case.init();
    // A follower and a waiter, started while it runs.
    let mut follow = start(Command::new(HUSK).args(["logs", "-f", &name]));
    let mut waiter = start(Command::new(HUSK).args(["wait", &name]));
    follow.wait_stdout("to-err\n");
    assert!(follow.running(), "husk logs -f returned while the container runs");
    assert!(waiter.running(), "husk wait returned while the container runs");
    fs::write(vol.join("go"), "").unwrap();
    let all = "first\nto-err\nsecond\n";
    follow.wait().expect(0, all, "");
    waiter.wait().expect(0, "3\n", "");
    // Nothing runs any more: no supervisor, no logger, no container process.
    case.assert_clean("the container's end");
    assert!(!alive(init), "the init {init} ended");

    // Kept, at no cost but its files: its log, its status, its name.
    husk(&["logs", &name]).expect(0, all, "");
    husk(&["logs", "-f", &name]).expect(0, all, "");
    husk(&["wait", &name]).expect(0, "3\n", "");
    assert!(!ps_names().contains(&name), "husk ps lists running containers only");
    let row = ps_all_row(&name).expect("husk ps -a lists the exited container");
    assert_exited(&row, 3);
    assert_eq!(row[0], name);
    assert_eq!(row[3], path_str(bb));
    assert_eq!(row[4], format!("sh -c {script} {}", case.marker));
    assert!(ps_stdout(&["-a", "-q"]).lines().any(|n| n == name), "husk ps -a -q lists it");
    let record = fs::read_to_string(entry(&name).join("state")).unwrap();
    assert!(record.contains("\nexit=3\nended="), "{record}");
    let files: BTreeSet<String> = dir_names(&entry(&name)).into_iter().collect();
    assert_eq!(files, ["lock", "log", "state"].map(String::from).into(), "the entry's files");
    husk(&["exec", &name, "true"]).expect(125, "", &no_such_container(&name));
    husk(&["kill", &name]).expect(125, "", &no_such_container(&name));
    husk(&["stop", &name]).expect(0, "", "");
    for first in [&["-d", "--name", name.as_str()][..], &["--name", name.as_str()]] {
        run(&mut case.run_cmd(first, &["--rootfs", path_str(bb)], "echo ran")).expect(
            125,
            "",
            &format!("husk: name {name}: File exists (EEXIST): an exited container has it (husk rm NAME)\n"),
        );
    }
    assert!(ps_all_row(&name).is_some(), "still there after the refused starts");

    // Removed: nothing is left, and the name is free again.
    husk(&["rm", &name]).expect(0, "", "");
    assert!(fs::symlink_metadata(entry(&name)).is_err(), "the entry is gone");
    assert!(ps_all_row(&name).is_none(), "husk ps -a lists a removed container");
    assert!(husk(&["logs", &name]).is_refusal(), "husk logs of a removed container");
    for sub in ["wait", "stop", "rm"] {
        husk(&[sub, &name]).expect(125, "", &no_container(&name));
    }
    let again = case.detach(&name, &["--rootfs", path_str(bb)], "exit 0");
    husk(&["wait", &name]).expect(0, "0\n", "");
    husk(&["rm", &name]).expect(0, "", "");
    drop(again);
    drop(guard);
    case.assert_clean("husk rm");
}

#[test]
fn wait_prints_each_status_and_rm_option_leaves_nothing() {
    let bb = need!("wait_prints_each_status_and_rm_option_leaves_nothing", busybox());
    let case = Case::new("statuses", &[bb]);
    // Exit statuses, a signal from outside, a signal from inside.
    let cases: [(&str, &str, u8); 5] = [
        ("exit0", "exit 0", 0),
        ("exit1", "exit 1", 1),
        ("exit255", "exit 255", 255),
        ("self9", "kill -9 $$", 137),
        ("killed", IDLE, 143),
    ];
    let mut guards = detach_each(&case, bb, cases.map(|(label, script, _)| (label, script)));
    for (label, _, status) in cases {
        let name = unique(label);
        if label == "killed" {
            let mut waiter = start(Command::new(HUSK).args(["wait", &name]));
            assert!(waiter.running(), "husk wait returned while {name} runs");
            husk(&["kill", &name, "TERM"]).expect(0, "", "");
            waiter.wait().expect(0, &format!("{status}\n"), "");
        }
        husk(&["wait", &name]).expect(0, &format!("{status}\n"), "");
        assert_exited(&ps_all_row(&name).expect("listed by ps -a"), status);
    }
    husk(&["wait", &unique("nosuch")]).expect(125, "", &no_container(&unique("nosuch")));

    // --rm: the same, but nothing stays once it ended (docker run -d --rm).
    let name = unique("autoremove");
    let vol = case.mkdir("vol");
    let bind = format!("{}:/mnt", path_str(&vol));
    guards.push(case.detach(
        &name,
        &["--rm", "--rootfs", path_str(bb), "--bind", &bind],
        "echo out; while [ ! -e /mnt/go ]; do sleep 0.05; done; exit 4",
    ));
    wait_until(|| format!("out in the log of {name}"), || husk(&["logs", &name]).stdout == "out\n");
    assert!(ps_names().contains(&name), "listed while it runs");
    // A waiter started while it runs still gets the status of a container that is gone.
    let mut waiter = start(Command::new(HUSK).args(["wait", &name]));
    let lock = entry(&name).join("lock");
    let waiter_pid = waiter.pid();
    wait_until(
        || format!("husk wait to open {}", lock.display()),
        || {
            let fds = fs::read_dir(format!("/proc/{waiter_pid}/fd")).into_iter().flatten().flatten();
            fds.filter_map(|fd| fs::read_link(fd.path()).ok()).any(|target| target == lock)
        },
    );
    assert!(waiter.running(), "husk wait returned while {name} runs");
    fs::write(vol.join("go"), "").unwrap();
    waiter.wait().expect(0, "4\n", "");
    wait_until(
        || format!("the entry of {name} to go"),
        || fs::symlink_metadata(entry(&name)).is_err() && !ps_all_names().contains(&name),
    );
    assert!(husk(&["logs", &name]).is_refusal(), "husk logs of a --rm container that ended");
    husk(&["rm", &name]).expect(125, "", &no_container(&name));
    rm_each(cases.map(|(label, _, _)| label));
    drop(guards);
    case.assert_clean("the statuses");
}

#[test]
fn stop_sends_sigterm_then_sigkill_after_the_timeout() {
    let bb = need!("stop_sends_sigterm_then_sigkill_after_the_timeout", busybox());
    let case = Case::new("stop", &[bb]);
    // A COMMAND that ignores SIGTERM, twice (-t 2, and the default 10 s), and one that does not.
    let stubborn = "trap '' TERM; echo ready; while :; do sleep 1; done";
    let runs: [(&str, &str, &[&str], u8); 3] = [
        ("stubborn2", stubborn, &["-t", "2"], 137),
        ("stubborn", stubborn, &[], 137),
        ("polite", IDLE, &[], 143),
    ];
    let guards = detach_each(&case, bb, runs.map(|(label, script, _, _)| (label, script)));
    for (label, _, _, _) in runs {
        let name = unique(label);
        wait_until(|| format!("ready in the log of {name}"), || husk(&["logs", &name]).stdout == "ready\n");
    }
    // In parallel: the default timeout alone takes ten seconds.
    let took: Vec<(Outcome, Duration)> = thread::scope(|s| {
        let handles: Vec<_> = runs
            .iter()
            .map(|(label, _, opts, _)| {
                let name = unique(label);
                s.spawn(move || {
                    let began = Instant::now();
                    let out = husk(&[&["stop"][..], opts, &[&name]].concat());
                    (out, began.elapsed())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for ((label, _, _, status), (out, elapsed)) in runs.iter().zip(took) {
        let name = unique(label);
        out.expect(0, "", "");
        let (least, most) = match *label {
            "stubborn2" => (Duration::from_secs(2), Duration::from_secs(8)),
            "stubborn" => (Duration::from_secs(10), Duration::from_secs(20)),
            _ => (Duration::ZERO, Duration::from_secs(5)),
        };
        assert!(
            least <= elapsed && elapsed < most,
            "husk stop {name} took {elapsed:?}, not {least:?}-{most:?}"
        );
        // It has ended when stop returns: the status is already recorded.
        assert_exited(&ps_all_row(&name).expect("listed by ps -a"), *status);
        husk(&["wait", &name]).expect(0, &format!("{status}\n"), "");
        husk(&["logs", &name]).expect(0, "ready\n", "");
    }
    case.assert_clean("husk stop");
    husk(&["stop", &unique("nosuch")]).expect(125, "", &no_container(&unique("nosuch")));
    rm_each(runs.map(|(label, _, _, _)| label));
    drop(guards);
}

#[test]
fn rm_refuses_a_running_container_unless_forced() {
    let bb = need!("rm_refuses_a_running_container_unless_forced", busybox());
    let case = Case::new("rm", &[bb]);
    let name = unique("rm");
    let guard = case.detach(&name, &["--rootfs", path_str(bb)], IDLE);
    let init = case.init();
    husk(&["rm", &name]).expect(
        125,
        "",
        &format!(
            "husk: rm {name}: Device or resource busy (EBUSY): it is running (husk stop NAME first, or husk \
             rm -f NAME)\n"
        ),
    );
    assert!(alive(init) && ps_names().contains(&name), "a refused rm leaves it running");
    husk(&["rm", "-f", &name]).expect(0, "", "");
    assert!(fs::symlink_metadata(entry(&name)).is_err(), "the entry is gone when rm -f returns");
    case.assert_clean("husk rm -f");
    assert!(!ps_all_names().contains(&name));
    // The name is free at once.
    let again = case.detach(&name, &["--rootfs", path_str(bb)], IDLE);
    husk(&["rm", "--force", &name]).expect(0, "", "");
    case.assert_clean("husk rm --force");
    husk(&["rm", &name]).expect(125, "", &no_container(&name));
    husk(&["rm", "-f", &name]).expect(125, "", &no_container(&name));
    drop(again);
    drop(guard);
}

#[test]
fn ps_sorts_sizes_its_columns_and_shows_absolute_roots() {
    let bb = need!("ps_sorts_sizes_its_columns_and_shows_absolute_roots", busybox());
    let case = Case::new("pslayout", &[bb]);
    // Started out of order; one 64 bytes long; one with a relative root (through a link:
    // shown as given, made absolute); one ended.
    let long = format!("{}-c{}", unique("pslayout"), "x".repeat(64));
    let names = [unique("pslayout-b"), long[..64].to_string(), unique("pslayout-a")];
    std::os::unix::fs::symlink(bb, case.join("bb")).unwrap();
    let mut guards = Vec::new();
    for (i, name) in names.iter().enumerate() {
        guards.push(case.guard(name));
        let (root, script) = match i {
            0 => ("./bb/", IDLE),
            1 => (path_str(bb), IDLE),
            _ => (path_str(bb), "exit 5"),
        };
        let mut cmd = case.run_cmd(&["-d", "--name", name], &["--rootfs", root], script);
        run(cmd.current_dir(&case.dir)).expect(0, &format!("{name}\n"), "");
    }
    husk(&["wait", &names[2]]).expect(0, "5\n", "");
    let mine = |rows: Vec<Vec<String>>| -> Vec<Vec<String>> {
        rows.into_iter().filter(|row| names.contains(&row[0])).collect()
    };
    // husk ps: the running ones, by name.
    let rows = mine(ps_rows(&[], &names.each_ref().map(String::as_str)));
    let listed: Vec<&str> = rows.iter().map(|row| row[0].as_str()).collect();
    assert_eq!(listed, [&names[0], &names[1]], "sorted by name, running only: {rows:?}");
    for row in &rows {
        // The pid is the init's, as the host sees it: PID 1 of its own namespace, child of
        // the husk run -d that started it under this name.
        let pid: i32 = row[1].parse().unwrap_or_else(|_| panic!("a pid: {row:?}"));
        assert_eq!(nspid(pid).len(), 2, "{row:?}");
        assert_eq!(nspid(pid)[1], 1, "the init: {row:?}");
        let supervisor = ppid(pid).unwrap();
        assert!(cmdline(supervisor).contains(&format!("--name {}", row[0])), "{row:?}");
        assert!(is_duration(&row[2]), "uptime: {row:?}");
    }
    assert_eq!(rows[0][3], format!("{}/bb", case.dir.display()), "the relative root made absolute");
    assert_eq!(rows[1][3], path_str(bb));
    // husk ps -a: the ended one too, in its place.
    let rows = mine(ps_rows(&["-a"], &names.each_ref().map(String::as_str)));
    let listed: Vec<&str> = rows.iter().map(|row| row[0].as_str()).collect();
    assert_eq!(listed, [&names[2], &names[0], &names[1]], "sorted by name: {rows:?}");
    assert_exited(&rows[0], 5);
    let quiet: Vec<String> = ps_all_names().into_iter().filter(|n| names.contains(n)).collect();
    assert_eq!(quiet, [names[2].clone(), names[0].clone(), names[1].clone()], "ps -a -q sorted");
    for name in &names {
        husk(&["rm", "-f", name]).expect(0, "", "");
    }
    drop(guards);
    case.assert_clean("husk rm -f");
}

#[test]
fn a_user_without_xdg_runtime_dir_gets_a_registry_of_their_own() {
    // Without $XDG_RUNTIME_DIR (or with it empty) and without a /run/user/UID of their own,
    // a user's named containers live in /tmp/husk-UID, made 0700 and theirs (issue 14);
    // one that someone else made first is refused, never used.
    need!("a_user_without_xdg_runtime_dir_gets_a_registry_of_their_own", rootfs::require_root());
    let uid = 64_000 + std::process::id() % 1000;
    let dir = format!("/tmp/husk-{uid}");
    let _ = std::fs::remove_dir_all(&dir);
    let as_user = |xdg: Option<&str>, args: &[&str]| {
        let mut cmd = Command::new("setpriv");
        let id = uid.to_string();
        cmd.args(["--reuid", &id, "--regid", &id, "--clear-groups", "--", HUSK]).args(args);
        match xdg {
            None => cmd.env_remove("XDG_RUNTIME_DIR"),
            Some(value) => cmd.env("XDG_RUNTIME_DIR", value),
        };
        run(&mut cmd)
    };
    let name = unique("xdg");
    for xdg in [None, Some("")] {
        as_user(xdg, &["run", "-d", "--name", &name, "--", "sleep", "30"]).expect(
            0,
            &format!("{name}\n"),
            "",
        );
        let listed = as_user(xdg, &["ps", "-q"]);
        assert_eq!(listed.expect_success(), format!("{name}\n"));
        as_user(xdg, &["exec", &name, "true"]).expect(0, "", "");
        as_user(xdg, &["rm", "-f", &name]).expect(0, "", "");
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let meta = std::fs::symlink_metadata(&dir).expect("the registry is in /tmp/husk-UID");
        assert!(meta.is_dir() && meta.uid() == uid && meta.permissions().mode() & 0o777 == 0o700, "{meta:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
    // Made first by another user (root here): refused, and nothing runs.
    std::fs::create_dir(&dir).unwrap();
    let refused = as_user(None, &["run", "--name", &name, "--", "true"]);
    assert!(
        refused.is_refusal() && refused.stderr.starts_with("husk: registry in /tmp: Operation not permitted"),
        "{refused}"
    );
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn an_ended_container_cannot_steer_husk() {
    let bb = need!("an_ended_container_cannot_steer_husk", busybox());
    let case = Case::new("steer", &[bb]);
    let name = unique("steer");
    // The registry lives in /run, which the default root (the host's /) gets fresh.
    run(&mut case.run_cmd(&[], &[], "ls -A /run")).expect(0, "", "");
    // Root inside writes a record of its own to its output, looks for the registry, and
    // chooses its status: only the status is its to choose.
    let script = "printf 'husk-state 3\\nexit=0\\nend\\n'; ls /run/husk 2>&1; \
                  for f in /proc/self/fd/*; do echo fd ${f##*/}; done; exit 7";
    let guard = case.detach(&name, &["--rootfs", path_str(bb)], script);
    husk(&["wait", &name]).expect(0, "7\n", "");
    let log = husk(&["logs", &name]).expect_success().to_string();
    assert!(log.contains("/run/husk: No such file or directory"), "the registry is out of reach: {log}");
    let fds: Vec<&str> = log.lines().filter_map(|l| l.strip_prefix("fd ")).collect();
    assert_eq!(fds, ["0", "1", "2", "3"], "COMMAND has stdio (and ls's own directory) only: {log}");
    assert_exited(&ps_all_row(&name).unwrap(), 7);
    case.assert_clean("the container's end");

    // Its recorded pid now names another process (forged here: the pid reused, start time
    // and all), and something holds the lock (as a live husk run would): a record with an
    // end is no running container, whatever its pid names.
    let state_path = entry(&name).join("state");
    let state = fs::read_to_string(&state_path).unwrap();
    let mut sleeper = start(Command::new("sleep").arg("100021"));
    let pid = sleeper.pid();
    let start_ticks = wait_for(|| format!("the start time of {pid}"), || start_time(pid));
    fs::write(&state_path, forge(&state, pid, start_ticks)).unwrap();
    let holder = Proc::start_with_stdin(
        Command::new("python3")
            .args([
                "-c",
                "import fcntl, sys\nf = open(sys.argv[1], 'r+')\nfcntl.flock(f, fcntl.LOCK_EX)\n\
                 print('locked', flush=True)\nsys.stdin.read()\n",
            ])
            .arg(entry(&name).join("lock")),
        Stdio::piped(),
    )
    .kill_on_drop(Kill::Process);
    holder.wait_stdout("locked");
    let touched = case.join("touched");
    husk(&["exec", &name, "touch", path_str(&touched)]).expect(125, "", &no_such_container(&name));
    husk(&["kill", &name, "KILL"]).expect(125, "", &no_such_container(&name));
    husk(&["stop", "-t", "0", &name]).expect(0, "", "");
    assert!(!ps_names().contains(&name), "husk ps lists an ended container as running");
    assert!(!touched.exists(), "exec ran a command for an ended container");
    assert!(sleeper.running(), "a command for an ended container signalled {pid}");
    drop(holder);
    husk(&["rm", "-f", &name]).expect(0, "", "");
    assert!(sleeper.running(), "husk rm -f of an ended container signalled {pid}");
    drop(guard);
    case.assert_clean("the forged record");
}

/// Puts a forged record in place as husk writes its own, under another name and renamed over
/// the old: `husk ps` maps records, and one cut short in place under a concurrent `ps` (of
/// another test) faults it with SIGBUS.
fn replace_record(path: &Path, text: String) {
    let new = path.with_extension("forged");
    fs::write(&new, text).unwrap();
    fs::rename(&new, path).unwrap();
}
