//! Black-box tests of `husk run`: the release binary run as a user runs it, judged by its
//! exit status, stdout and stderr, by what the command sees inside, and by what is left on
//! the host afterwards.
//!
//! Rules kept throughout:
//! - every test has its own directory `/tmp/husk-run.<pid>.<test>.t` ([`Case`]); its path is
//!   the test's marker: it is an argument of every container command (`sh -c SCRIPT MARKER`),
//!   so husk's and the command's /proc/PID/cmdline hold it;
//! - after every run, nothing may be left: no process whose cmdline holds the marker, and no
//!   change in the lines of the host's /proc/self/mountinfo that mention the test's own
//!   directories or the rootfs it used (only those: other tests run in parallel);
//! - no sleeping and hoping: waits poll a condition against a deadline ([`wait_for`]);
//!   readiness is announced by the container (`echo ready`);
//! - every process a test starts is killed and reaped even when the test fails ([`Proc`]);
//! - the shared rootfs fixtures are never written to: tests that change a rootfs (symlink
//!   traps, missing bind destinations) copy it into their own directory first.
//!
//! Fixtures come from `common/rootfs.rs`: busybox (always) and Debian bookworm with python3
//! (debootstrap; skipped with a printed reason when it is not installed, a failure in CI).

mod common;

use common::case::Case;
use common::proc::{
    HUSK, NR_RT_SIGTIMEDWAIT, Outcome, Proc, SIGHUP, SIGINT, SIGKILL, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2,
    busybox, cmdline, debian, dir_names, host_has_cgroup2, interfaces, mentioning, path_str, pids, send,
    wait_for, wait_until,
};
use common::rootfs;
use common::tree::{in_pid_namespace, namespace, stat};
use common::{host_branch, need, tool};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

// ---------------------------------------------------------------------------------------
// Helpers: waiting, signals, /proc
// ---------------------------------------------------------------------------------------

/// The namespace `kind` of this test process, as `readlink /proc/self/ns/KIND` shows it.
fn host_namespace(kind: &str) -> String {
    fs::read_link(format!("/proc/self/ns/{kind}"))
        .unwrap_or_else(|e| panic!("readlink /proc/self/ns/{kind}: {e}"))
        .to_string_lossy()
        .into_owned()
}

/// The `(mount point, type, options)` of each line of a /proc/mounts text.
fn mounts(text: &str) -> Vec<(String, String, String)> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            Some((f.get(1)?.to_string(), f.get(2)?.to_string(), f.get(3)?.to_string()))
        })
        .collect()
}

/// The last (topmost) mount at `point` in a /proc/mounts text: `(type, options)`.
fn mount_at(text: &str, point: &str) -> Option<(String, String)> {
    mounts(text).into_iter().rev().find(|(p, _, _)| p == point).map(|(_, t, o)| (t, o))
}

/// Whether a mount's options start with `ro`.
fn is_read_only(options: &str) -> bool {
    options.split(',').next() == Some("ro")
}

// ---------------------------------------------------------------------------------------
// Helpers: processes and their output
// ---------------------------------------------------------------------------------------

impl Outcome {
    /// Asserts exit status 0; returns stdout's lines (stderr may hold what the script
    /// redirected there itself).
    fn success_lines(&self) -> Vec<&str> {
        assert!(self.status.code() == Some(0), "expected exit status 0\n got {self}");
        self.stdout.lines().collect()
    }
}

// ---------------------------------------------------------------------------------------
// 1. Namespaces: processes, hostname, network
// ---------------------------------------------------------------------------------------

#[test]
fn ps_sees_only_the_containers_processes() {
    let bb = need!("ps_sees_only_the_containers_processes", busybox());
    let case = Case::new("ps", &[bb]);
    let out = case.run(&mut case.sh(&["--rootfs", path_str(bb)], "echo pid=$$; ps -o pid,comm; true"));
    let stdout = out.expect_success();
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("pid=2"), "COMMAND is PID 2\n{out}");
    assert_eq!(
        lines.next().map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec!["PID", "COMMAND"]),
        "{out}"
    );
    let rows: Vec<(String, String)> = lines
        .map(|l| {
            let mut f = l.split_whitespace();
            (f.next().unwrap_or("").to_string(), f.next().unwrap_or("").to_string())
        })
        .collect();
    let pids: Vec<&str> = rows.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(pids, ["1", "2", "3"], "ps must see husk, sh and itself only\n{out}");
    assert!(["husk", "init"].contains(&rows[0].1.as_str()), "PID 1 is husk\n{out}");
    assert_eq!((rows[1].1.as_str(), rows[2].1.as_str()), ("sh", "ps"), "{out}");
}

#[test]
fn pid_1_shows_husk_init_and_nothing_of_the_host() {
    // PID 1 once showed husk run's whole command line, the host's paths of the binary and
    // the rootfs included (/proc/PID/cmdline is anyone's to read), and a renamed binary's
    // name. Its environment, the host's, stays unreadable (the init is non-dumpable).
    let bb = need!("pid_1_shows_husk_init_and_nothing_of_the_host", busybox());
    // Under target/, where the fixtures' binaries run too (a temporary directory may be noexec).
    let case = Case::at(Path::new(env!("CARGO_TARGET_TMPDIR")), "pid1-cmdline", &[bb]);
    let root = case.rootfs_copy(bb);
    let renamed = case.join("renamed-runtime");
    fs::copy(HUSK, &renamed).unwrap();
    let mut cmd = Command::new(&renamed);
    cmd.args(["run", "--rootfs", path_str(&root), "--", "cat", "/proc/1/cmdline", "/proc/1/comm"]);
    case.run(&mut cmd).expect(0, "husk\0init\0--\0cat\0/proc/1/cmdline\0/proc/1/comm\0husk\n", "");
    let out = case.run(&mut case.sh(
        &["--rootfs", path_str(&root)],
        "ps -o pid,args | grep '^ *1 '; cat /proc/1/environ 2>&1; echo environ=$?",
    ));
    let lines = out.success_lines();
    let script_args = format!(
        "sh -c ps -o pid,args | grep '^ *1 '; cat /proc/1/environ 2>&1; echo environ=$? {}",
        case.marker
    );
    assert_eq!(
        lines.first().map(|l| l.trim_start()),
        Some(format!("1 husk init -- {script_args}").as_str()),
        "{out}"
    );
    assert!(lines.len() == 3 && lines[1].contains("Permission denied") && lines[2] == "environ=1", "{out}");
    // The rest of the init's memory map is as the kernel set it for husk run, of which the
    // init is a copy (seen from the host: the code, data, brk, stack and environment fields
    // of /proc/PID/stat); only the argument area moved.
    let mut run = Proc::start(&mut case.sh(&["--rootfs", path_str(&root)], "echo ready; exec sleep 100"));
    run.wait_stdout("ready");
    let children = fs::read_to_string(format!("/proc/{0}/task/{0}/children", run.pid())).unwrap();
    let init: i32 = children.split_whitespace().next().unwrap().parse().unwrap();
    let map = |pid: i32| {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let fields: Vec<String> =
            stat[stat.rfind(')').unwrap() + 2..].split(' ').map(str::to_string).collect();
        [26, 27, 28, 45, 46, 47, 48, 49, 50, 51].map(|n| fields[n - 3].clone())
    };
    let (outside, inside) = (map(run.pid()), map(init));
    assert!(inside[..6] == outside[..6] && inside[8..] == outside[8..], "{outside:?} became {inside:?}");
    assert!(inside[6..8] != outside[6..8], "the argument area did not move: {inside:?}");
    send(run.pid(), SIGTERM);
    run.wait().expect(143, "ready\n", "");
    case.assert_clean("the SIGTERM run");
}

#[test]
fn host_processes_cannot_be_seen_or_killed() {
    let bb = need!("host_processes_cannot_be_seen_or_killed", busybox());
    let case = Case::new("hostproc", &[bb]);
    let mut sleeper = Proc::start(Command::new("sleep").arg("1000"));
    let pid = sleeper.pid();
    let script = format!(
        "exec 2>&1; if test -e /proc/{pid}; then echo visible; else echo invisible; fi; \
         kill -KILL {pid}; echo kill=$?; kill -0 {pid}; echo probe=$?"
    );
    let out = case.run(&mut case.sh(&["--rootfs", path_str(bb)], &script));
    let lines = out.success_lines();
    assert_eq!(lines.first(), Some(&"invisible"), "host pid {pid} is in the container's /proc\n{out}");
    for probe in ["kill=", "probe="] {
        let status = lines.iter().find_map(|l| l.strip_prefix(probe));
        assert!(status.is_some_and(|s| s != "0"), "`kill` of host pid {pid} from inside must fail\n{out}");
    }
    assert!(out.stdout.contains("No such process"), "kill must fail with ESRCH\n{out}");
    assert!(sleeper.running(), "the host's sleep {pid} was killed from inside");
}

#[test]
fn hostname_defaults_to_husk() {
    let bb = need!("hostname_defaults_to_husk", busybox());
    let case = Case::new("hostname-default", &[bb]);
    case.run(&mut case.sh(&["--rootfs", path_str(bb)], "hostname; cat /proc/sys/kernel/hostname")).expect(
        0,
        "husk\nhusk\n",
        "",
    );
}

#[test]
fn hostname_option_sets_it() {
    let bb = need!("hostname_option_sets_it", busybox());
    let case = Case::new("hostname-option", &[bb]);
    case.run(&mut case.sh(
        &["--rootfs", path_str(bb), "--hostname", "box-7.example"],
        "hostname; cat /proc/sys/kernel/hostname",
    ))
    .expect(0, "box-7.example\nbox-7.example\n", "");
}

#[test]
fn hostname_changed_inside_stays_inside() {
    let bb = need!("hostname_changed_inside_stays_inside", busybox());
    let case = Case::new("hostname-change", &[bb]);
    let read = || fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let host_before = read();
    // sethostname needs CAP_SYS_ADMIN, which the default set leaves out: grant it here.
    let opts = ["--rootfs", path_str(bb), "--cap-add", "SYS_ADMIN"];
    case.run(&mut case.sh(&opts, "hostname other-name; hostname")).expect(0, "other-name\n", "");
    assert_eq!(read(), host_before, "the host's hostname changed");
    // Without it, root in the container cannot rename its host at all.
    case.run(&mut case.sh(&["--rootfs", path_str(bb)], "hostname other-name 2>/dev/null; echo $?; hostname"))
        .expect(0, "1\nhusk\n", "");
}

#[test]
fn namespaces_are_new_except_user() {
    let bb = need!("namespaces_are_new_except_user", busybox());
    let case = Case::new("namespaces", &[bb]);
    let kinds = ["pid", "mnt", "uts", "ipc", "net", "cgroup", "user"];
    let script = format!("for n in {}; do echo $n $(readlink /proc/self/ns/$n); done", kinds.join(" "));
    for (opts, shared) in [
        (vec!["--rootfs", path_str(bb)], vec!["user"]),
        (vec!["--rootfs", path_str(bb), "--net", "host"], vec!["user", "net"]),
    ] {
        let out = case.run(&mut case.sh(&opts, &script));
        let inside: BTreeMap<&str, &str> =
            out.expect_success().lines().filter_map(|l| l.split_once(' ')).collect();
        for kind in kinds {
            let host = host_namespace(kind);
            let same = inside.get(kind) == Some(&host.as_str());
            if shared.contains(&kind) {
                assert!(same, "{kind} namespace must be the host's ({host})\n{out}");
            } else {
                assert!(
                    !same && inside.get(kind).is_some_and(|ns| ns.starts_with(kind)),
                    "{kind} namespace must be new (host: {host})\n{out}"
                );
            }
        }
    }
}

#[test]
fn net_none_has_only_lo_and_it_is_up() {
    let bb = need!("net_none_has_only_lo_and_it_is_up", busybox());
    let case = Case::new("net-none", &[bb]);
    for opts in [vec!["--rootfs", path_str(bb)], vec!["--rootfs", path_str(bb), "--net", "none"]] {
        let out = case.run(&mut case.sh(
            &opts,
            "ls /sys/class/net; echo --; cat /sys/class/net/lo/flags; echo --; \
             cat /proc/net/dev; echo --; ping -c 1 -W 10 127.0.0.1 >/dev/null && echo ping-ok",
        ));
        let stdout = out.expect_success();
        let parts: Vec<&str> = stdout.split("--\n").collect();
        assert_eq!(parts.len(), 4, "{out}");
        assert_eq!(parts[0], "lo\n", "/sys/class/net must hold lo only\n{out}");
        let flags = u32::from_str_radix(parts[1].trim().trim_start_matches("0x"), 16)
            .unwrap_or_else(|_| panic!("lo's flags: {:?}\n{out}", parts[1]));
        assert_eq!(flags & 0x1, 0x1, "lo must be UP (IFF_UP)\n{out}");
        assert_eq!(interfaces(parts[2]), ["lo"], "/proc/net/dev must list lo only\n{out}");
        assert_eq!(parts[3], "ping-ok\n", "127.0.0.1 must answer\n{out}");
    }
}

#[test]
fn net_host_shares_the_hosts_interfaces() {
    let bb = need!("net_host_shares_the_hosts_interfaces", busybox());
    let case = Case::new("net-host", &[bb]);
    let out = case.run(&mut case.sh(&["--rootfs", path_str(bb), "--net", "host"], "cat /proc/net/dev"));
    let host = fs::read_to_string("/proc/net/dev").unwrap();
    assert_eq!(
        interfaces(out.expect_success()),
        interfaces(&host),
        "--net host must see the host's interfaces\n{out}"
    );
}

/// The `Cpus_allowed_list` of process `pid` (`self` for this one).
fn cpus_allowed(pid: &str) -> String {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("Cpus_allowed_list:")).unwrap().to_string();
    line.split_whitespace().nth(1).unwrap().to_string()
}

#[test]
fn the_network_namespace_is_made_beside_the_root_and_cpus_are_kept() {
    // husk run's host side makes the container's network namespace while the init builds
    // the root, and sends the init, not yet running, to another CPU meanwhile (network.rs).
    // Whatever CPUs husk was given (all of them, or one: then nothing moves), the host
    // side, the init and COMMAND all end with exactly those; the host side is in the
    // container's network namespace, which the init joined, and not in the host's.
    let bb = need!("the_network_namespace_is_made_beside_the_root_and_cpus_are_kept", busybox());
    let taskset = need!(
        "the_network_namespace_is_made_beside_the_root_and_cpus_are_kept",
        tool("taskset", "util-linux")
    );
    let case = Case::new("cpus", &[bb]);
    let all = cpus_allowed("self");
    let first = all.split([',', '-']).next().unwrap().to_string();
    for cpus in [all.clone(), first] {
        let mut cmd = Command::new(&taskset);
        cmd.args(["-c", &cpus, HUSK, "run", "--rootfs", path_str(bb), "--", "sh", "-c"])
            .args(["grep Cpus_allowed_list: /proc/self/status; echo ready; exec sleep 1000", &case.marker]);
        let mut proc = Proc::start(&mut cmd);
        let out = proc.wait_stdout("ready\n");
        let husk = proc.pid();
        let init = wait_for(
            || format!("the container's init, a child of husk {husk}"),
            || pids().into_iter().find(|&p| stat(p).is_some_and(|(ppid, _)| ppid == husk)),
        );
        let net = |pid: i32| fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
        let seen = (cpus_allowed(&husk.to_string()), cpus_allowed(&init.to_string()), net(husk), net(init));
        send(husk, SIGKILL);
        proc.wait();
        case.assert_clean("SIGKILL to husk run");
        assert_eq!(
            out,
            format!("Cpus_allowed_list:\t{cpus}\nready\n"),
            "COMMAND's CPUs under taskset -c {cpus}"
        );
        assert_eq!((&seen.0, &seen.1), (&cpus, &cpus), "husk's and the init's CPUs under taskset -c {cpus}");
        assert_eq!(seen.2, seen.3, "husk run must be in the container's network namespace");
        assert_ne!(
            seen.2.to_string_lossy(),
            host_namespace("net"),
            "the container's network namespace is new"
        );
    }
}

#[test]
fn a_network_namespace_that_cannot_be_made_or_joined_is_refused() {
    // Failures made with strace's fault injection: the host side's unshare (only the
    // process strace starts is traced) and the init's setns (-f). Either way 125 with one
    // line naming the step, COMMAND never runs, nothing is left. Moving between CPUs is only
    // a speed-up: when those calls fail, the container runs as usual.
    let bb = need!("a_network_namespace_that_cannot_be_made_or_joined_is_refused", busybox());
    let strace =
        need!("a_network_namespace_that_cannot_be_made_or_joined_is_refused", tool("strace", "strace"));
    let case = Case::new("net-fails", &[bb]);
    let vol = case.join("vol");
    fs::create_dir(&vol).unwrap();
    let bind = format!("{}:/mnt", path_str(&vol));
    let inject = |children: bool, call: &str, error: &str| {
        let mut cmd = Command::new(&strace);
        cmd.args(children.then_some("-f"))
            .args(["-qq", "-o", "/dev/null", "-e", &format!("trace={call}")])
            .args(["-e", &format!("inject={call}:error={error}"), HUSK, "run", "--rootfs", path_str(bb)])
            .args(["--bind", &bind, "--", "sh", "-c", "touch /mnt/ran && echo ran", &case.marker]);
        cmd
    };
    for (children, call, error, line) in [
        (false, "unshare", "ENOMEM", "husk: unshare network: Cannot allocate memory (ENOMEM)\n"),
        (true, "setns", "EPERM", "husk: setns network: Operation not permitted (EPERM)\n"),
    ] {
        case.run(&mut inject(children, call, error)).expect(125, "", line);
        assert!(!vol.join("ran").exists(), "COMMAND ran although {call} failed");
    }
    for call in ["sched_getaffinity", "sched_setaffinity", "getcpu"] {
        case.run(&mut inject(true, call, "EINVAL")).expect(0, "ran\n", "");
        fs::remove_file(vol.join("ran")).unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// 2. The root: pivot_root, /proc, /sys, /dev, read-only, the default root
// ---------------------------------------------------------------------------------------

#[test]
fn no_host_path_is_reachable() {
    let bb = need!("no_host_path_is_reachable", busybox());
    let case = Case::new("pivot", &[bb]);
    let script = format!(
        "cut -d' ' -f5 /proc/self/mountinfo; echo --; ls -A /; echo --; ls -A /..; echo --; \
         readlink /proc/1/root 2>/dev/null || echo denied; \
         readlink /proc/1/cwd 2>/dev/null || echo denied; \
         readlink /proc/self/root; echo --; \
         for p in {} /work {}; do test -e $p && echo reachable $p; done; true",
        path_str(bb),
        case.marker
    );
    let out = case.run(&mut case.sh(&["--rootfs", path_str(bb)], &script));
    let stdout = out.expect_success();
    let parts: Vec<&str> = stdout.split("--\n").collect();
    assert_eq!(parts.len(), 5, "{out}");
    let allowed = |point: &str| {
        point == "/"
            || ["/proc", "/sys", "/dev"]
                .iter()
                .any(|top| point == *top || point.starts_with(&format!("{top}/")))
    };
    let strays: Vec<&str> = parts[0].lines().filter(|p| !allowed(p)).collect();
    assert!(
        strays.is_empty(),
        "mount points outside / /proc /sys /dev (the old root must be gone): {strays:?}\n{out}"
    );
    assert_eq!(parts[0].lines().filter(|p| *p == "/").count(), 1, "one mount at /\n{out}");
    let listing = |text: &str| {
        let mut v: Vec<String> = text.lines().map(str::to_string).collect();
        v.sort();
        v
    };
    assert_eq!(listing(parts[1]), dir_names(bb), "/ must be the rootfs\n{out}");
    assert_eq!(listing(parts[2]), dir_names(bb), "/.. must be /\n{out}");
    for (i, line) in parts[3].lines().enumerate() {
        assert!(
            line == "/" || (i < 2 && line == "denied"),
            "PID 1's and our root and cwd must be / (or unreadable)\n{out}"
        );
    }
    assert_eq!(parts[3].lines().count(), 3, "{out}");
    assert_eq!(parts[4], "", "host paths reachable inside\n{out}");
}

#[test]
fn proc_is_fresh_and_sys_read_only() {
    let bb = need!("proc_is_fresh_and_sys_read_only", busybox());
    let case = Case::new("procsys", &[bb]);
    let out = case.run(&mut case.sh(
        &["--rootfs", path_str(bb)],
        "cat /proc/mounts; echo --; touch /sys/husk-probe 2>&1; echo touch=$?",
    ));
    let stdout = out.expect_success();
    let (table, rest) = stdout.split_once("--\n").expect("two parts");
    let proc_mount = mount_at(table, "/proc");
    assert_eq!(proc_mount.as_ref().map(|(t, _)| t.as_str()), Some("proc"), "a proc at /proc\n{out}");
    let sys = mount_at(table, "/sys");
    assert!(
        sys.as_ref().is_some_and(|(t, o)| t == "sysfs" && is_read_only(o)),
        "a read-only sysfs at /sys\n{out}"
    );
    assert!(
        rest.contains("Read-only file system") && !rest.contains("touch=0"),
        "writing under /sys must fail with EROFS\n{out}"
    );
}

#[test]
fn dev_devices_work() {
    let bb = need!("dev_devices_work", busybox());
    let case = Case::new("dev-work", &[bb]);
    let out = case.run(&mut case.sh(
        &["--rootfs", path_str(bb)],
        "exec 2>&1
         head -c 16 /dev/urandom | wc -c
         head -c 16 /dev/random | wc -c
         head -c 4 /dev/zero | od -An -tx1
         echo discarded > /dev/null && echo null-ok
         wc -c < /dev/null
         echo x > /dev/full; echo full=$?
         echo shm-ok > /dev/shm/probe && cat /dev/shm/probe
         echo --
         ls /dev/pts
         echo --
         exec 3<>/dev/ptmx && ls /dev/pts",
    ));
    let stdout = out.success_lines().join("\n");
    let parts: Vec<&str> = stdout.split("\n--\n").collect();
    assert_eq!(parts.len(), 3, "{out}");
    let lines: Vec<&str> = parts[0].lines().collect();
    assert_eq!(lines.len(), 8, "{out}");
    assert_eq!(&lines[..5], ["16", "16", " 00 00 00 00", "null-ok", "0"], "{out}");
    assert!(lines[5].contains("No space left on device"), "/dev/full must refuse writes with ENOSPC\n{out}");
    assert!(lines[6].starts_with("full=") && lines[6] != "full=0", "{out}");
    assert_eq!(lines[7], "shm-ok", "{out}");
    assert_eq!(parts[1], "ptmx", "/dev/pts must be a new devpts instance: no host ptys\n{out}");
    assert_eq!(parts[2], "0\nptmx", "opening /dev/ptmx must make pty 0 of the container's devpts\n{out}");
}

#[test]
fn dev_holds_only_the_minimal_set() {
    let bb = need!("dev_holds_only_the_minimal_set", busybox());
    let case = Case::new("dev-set", &[bb]);
    let out = case.run(&mut case.sh(
        &["--rootfs", path_str(bb)],
        "ls -A /dev; echo --
         stat -c '%n %F %t:%T' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty
         echo --
         for l in fd stdin stdout stderr; do echo $l $(readlink /dev/$l); done
         echo --
         test -e /dev/ptmx && echo ptmx-ok
         echo --
         cat /proc/mounts",
    ));
    let stdout = out.expect_success();
    let parts: Vec<&str> = stdout.split("--\n").collect();
    assert_eq!(parts.len(), 5, "{out}");
    let mut names: Vec<&str> = parts[0].lines().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty",
            "urandom", "zero"
        ],
        "/dev must hold the minimal set and nothing of the host\n{out}"
    );
    assert_eq!(
        parts[1],
        "/dev/null character special file 1:3\n\
         /dev/zero character special file 1:5\n\
         /dev/full character special file 1:7\n\
         /dev/random character special file 1:8\n\
         /dev/urandom character special file 1:9\n\
         /dev/tty character special file 5:0\n",
        "{out}"
    );
    assert_eq!(
        parts[2], "fd /proc/self/fd\nstdin /proc/self/fd/0\nstdout /proc/self/fd/1\nstderr /proc/self/fd/2\n",
        "{out}"
    );
    assert_eq!(parts[3], "ptmx-ok\n", "{out}");
    for (point, fstype) in [("/dev", "tmpfs"), ("/dev/pts", "devpts"), ("/dev/shm", "tmpfs")] {
        assert_eq!(
            mount_at(parts[4], point).map(|(t, _)| t),
            Some(fstype.to_string()),
            "{point} must be a {fstype}\n{out}"
        );
    }
}

#[test]
fn read_only_rootfs_with_fresh_tmp() {
    let bb = need!("read_only_rootfs_with_fresh_tmp", busybox());
    let case = Case::new("read-only", &[bb]);
    let probe = format!("husk-probe.{}", std::process::id());
    let script = format!(
        "touch /{probe} 2>&1; echo root=$?; ls -A /tmp; touch /tmp/{probe} && echo tmp-ok; \
         echo --; cat /proc/mounts"
    );
    let out = case.run(&mut case.sh(&["--rootfs", path_str(bb), "--read-only"], &script));
    let stdout = out.expect_success();
    let (head, table) = stdout.split_once("--\n").expect("two parts");
    let lines: Vec<&str> = head.lines().collect();
    assert!(
        lines.len() == 3
            && lines[0].contains("Read-only file system")
            && lines[1] != "root=0"
            && lines[2] == "tmp-ok",
        "/ must be read-only and /tmp an empty writable tmpfs\n{out}"
    );
    assert!(mount_at(table, "/").is_some_and(|(_, o)| is_read_only(&o)), "/ must be mounted ro\n{out}");
    assert_eq!(mount_at(table, "/tmp").map(|(t, _)| t), Some("tmpfs".to_string()), "{out}");
    assert!(!bb.join(&probe).exists() && !bb.join("tmp").join(&probe).exists());
}

#[test]
fn tmpfs_option_mounts_a_fresh_tmpfs() {
    let bb = need!("tmpfs_option_mounts_a_fresh_tmpfs", busybox());
    let case = Case::new("tmpfs", &[bb]);
    let out = case.run(&mut case.sh(
        &["--rootfs", path_str(bb), "--read-only", "--tmpfs", "/srv"],
        "ls -A /srv; touch /srv/a && ls -A /srv; echo --; cat /proc/mounts",
    ));
    let stdout = out.expect_success();
    let (head, table) = stdout.split_once("--\n").expect("two parts");
    assert_eq!(head, "a\n", "/srv must be empty, then writable under --read-only\n{out}");
    assert_eq!(mount_at(table, "/srv").map(|(t, _)| t), Some("tmpfs".to_string()), "{out}");
    assert!(dir_names(&bb.join("srv")).is_empty(), "the write reached the rootfs");
}

#[test]
fn default_root_is_the_hosts_read_only_with_fresh_tmp() {
    need!("default_root_is_the_hosts_read_only_with_fresh_tmp", rootfs::require_root());
    let case = Case::new("default-root", &[]);
    let probe = format!("husk-probe.{}", std::process::id());
    let script = format!(
        "echo pid=$$; hostname; touch /usr/{probe} 2>&1; echo usr=$?; \
         echo tmp=$(ls -A /tmp | wc -l); touch /tmp/{probe} && echo tmp-ok; \
         test -e {marker} && echo host-tmp-visible; \
         head -n 1 /etc/os-release; echo --; cat /proc/mounts",
        marker = case.marker
    );
    let out = case.run(&mut case.sh(&[], &script));
    let stdout = out.expect_success();
    let (head, table) = stdout.split_once("--\n").expect("two parts");
    let lines: Vec<&str> = head.lines().collect();
    let host_release = fs::read_to_string("/etc/os-release").unwrap();
    assert_eq!(lines.len(), 7, "{out}");
    assert_eq!(lines[..2], ["pid=2", "husk"], "{out}");
    assert!(
        lines[2].contains("Read-only file system") && lines[3] != "usr=0",
        "the host's /usr must be read-only inside\n{out}"
    );
    assert_eq!(
        lines[4..6],
        ["tmp=0", "tmp-ok"],
        "/tmp must be a fresh, empty, writable tmpfs (not the host's)\n{out}"
    );
    assert_eq!(Some(lines[6]), host_release.lines().next(), "the root must be the host's\n{out}");
    assert!(mount_at(table, "/").is_some_and(|(_, o)| is_read_only(&o)), "/ must be mounted ro\n{out}");
    assert_eq!(mount_at(table, "/tmp").map(|(t, _)| t), Some("tmpfs".to_string()), "{out}");
    assert!(!Path::new("/usr").join(&probe).exists());
    assert!(!Path::new("/tmp").join(&probe).exists(), "the container's /tmp write reached the host's /tmp");
}

#[test]
fn rootfs_may_be_given_in_any_spelling() {
    // `.` and `./` once failed with pivot_root's EBUSY while the same directory given whole
    // worked: the root was attached over the working directory and then looked up again,
    // which found the directory under the new mount.
    let bb = need!("rootfs_may_be_given_in_any_spelling", busybox());
    let case = Case::new("rootfs-spelling", &[bb]);
    let root = case.rootfs_copy(bb);
    fs::write(root.join("etc/which-root"), "the copy\n").unwrap();
    std::os::unix::fs::symlink(&root, case.join("link")).unwrap();
    let whole = path_str(&root).to_string();
    let spellings: Vec<(PathBuf, String)> = vec![
        (root.clone(), ".".into()),
        (root.clone(), "./".into()),
        (root.join("bin"), "..".into()),
        (root.join("etc"), "../.".into()),
        (case.dir.clone(), "rootfs".into()),
        (case.dir.clone(), "./rootfs/".into()),
        (case.dir.clone(), "link".into()),
        (root.clone(), whole.clone()),
        (PathBuf::from("/"), format!("{whole}/")),
    ];
    let mut failures = Vec::new();
    for (cwd, rootfs) in &spellings {
        let mut cmd = case.sh(&["--rootfs", rootfs], "echo pid=$$; cat /etc/which-root; pwd");
        cmd.current_dir(cwd);
        let out = case.run(&mut cmd);
        if out.status.code() != Some(0) || out.stdout != "pid=2\nthe copy\n/\n" || !out.stderr.is_empty() {
            failures.push(format!("--rootfs {rootfs:?} from {}: {out}", cwd.display()));
        }
    }
    assert!(failures.is_empty(), "spellings of one rootfs that did not work:\n{}", failures.join("\n"));
}

/// Removes the directory at `path` when dropped (a host path a test may leave behind).
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.0);
    }
}

#[test]
fn rootfs_slash_is_the_hosts_root_read_write() {
    // `--rootfs DIR` is DIR read-write, and `/` (however spelt) is no exception: the host's
    // own tree, writable, with the container's own /proc, /dev, /sys. It once failed with
    // pivot_root's EBUSY (the root attached over itself). A missing mount point is made
    // at the host's root and removed after the run.
    need!("rootfs_slash_is_the_hosts_root_read_write", rootfs::require_root());
    let case = Case::new("rootfs-slash", &[]);
    let vol = PathBuf::from(format!("/husk-run.{}.rootfs-slash.vol", std::process::id()));
    let _vol_guard = RemoveOnDrop(vol.clone());
    let written = case.join("written-from-inside");
    let script = format!(
        "echo pid=$$; cat /proc/1/comm; echo yes > {written}; test -d {vol} && echo vol-made",
        written = path_str(&written),
        vol = path_str(&vol)
    );
    let mut failures = Vec::new();
    for (cwd, rootfs) in [("/", "/"), ("/", "."), ("/tmp", ".."), ("/", "/tmp/..")] {
        let mut cmd = case.sh(&["--rootfs", rootfs, "--tmpfs", path_str(&vol)], &script);
        cmd.current_dir(cwd);
        let out = case.run(&mut cmd);
        let wrote = fs::read_to_string(&written).unwrap_or_default();
        let _ = fs::remove_file(&written);
        if out.status.code() != Some(0)
            || out.stdout != "pid=2\nhusk\nvol-made\n"
            || !out.stderr.is_empty()
            || wrote != "yes\n"
            || vol.exists()
        {
            failures.push(format!(
                "--rootfs {rootfs:?} from {cwd}: {out}\n  written on the host: {wrote:?}; \
                 {} left at the host's root: {}",
                vol.display(),
                vol.exists()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "--rootfs / did not give the host's root, writable:\n{}",
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// 3. Volumes
// ---------------------------------------------------------------------------------------

#[test]
fn ro_bind_is_readable_and_not_writable() {
    let bb = need!("ro_bind_is_readable_and_not_writable", busybox());
    let case = Case::new("ro-bind", &[bb]);
    let vol = case.join("ro");
    fs::create_dir(&vol).unwrap();
    fs::write(vol.join("data.txt"), "ro-data\n").unwrap();
    let bind = format!("{}:/mnt", path_str(&vol));
    let out = case.run(&mut case.sh(
        &["--rootfs", path_str(bb), "--ro-bind", &bind],
        "exec 2>&1; cat /mnt/data.txt; echo overwritten > /mnt/data.txt; echo write=$?; \
         touch /mnt/new; echo touch=$?",
    ));
    let lines = out.success_lines();
    assert_eq!(lines.first(), Some(&"ro-data"), "{out}");
    assert_eq!(
        lines.iter().filter(|l| l.contains("Read-only file system")).count(),
        2,
        "both writes must fail with EROFS\n{out}"
    );
    for probe in ["write=", "touch="] {
        assert!(lines.iter().any(|l| l.strip_prefix(probe).is_some_and(|s| s != "0")), "{out}");
    }
    assert_eq!(fs::read_to_string(vol.join("data.txt")).unwrap(), "ro-data\n");
    assert_eq!(dir_names(&vol), ["data.txt"]);
}

#[test]
fn bind_writes_reach_the_host() {
    let bb = need!("bind_writes_reach_the_host", busybox());
    let case = Case::new("bind", &[bb]);
    let vol = case.join("rw");
    fs::create_dir(&vol).unwrap();
    fs::write(vol.join("in.txt"), "from-host\n").unwrap();
    let bind = format!("{}:/mnt", path_str(&vol));
    case.run(&mut case.sh(
        &["--rootfs", path_str(bb), "--bind", &bind],
        "cat /mnt/in.txt; echo from-container > /mnt/out.txt && echo wrote",
    ))
    .expect(0, "from-host\nwrote\n", "");
    assert_eq!(fs::read_to_string(vol.join("out.txt")).unwrap(), "from-container\n");
}

#[test]
fn bind_destinations_are_created_in_the_rootfs() {
    let bb = need!("bind_destinations_are_created_in_the_rootfs", busybox());
    let case = Case::new("bind-create", &[bb]);
    let root = case.rootfs_copy(bb);
    let (rw, ro) = (case.join("rw"), case.join("ro"));
    fs::create_dir(&rw).unwrap();
    fs::create_dir(&ro).unwrap();
    fs::write(rw.join("in.txt"), "from-host\n").unwrap();
    fs::write(ro.join("data.txt"), "ro-data\n").unwrap();
    let bind = format!("{}:/new/deep/dir", path_str(&rw));
    let ro_bind = format!("{}:/opt/ro", path_str(&ro));
    case.run(&mut case.sh(
        &["--rootfs", path_str(&root), "--bind", &bind, "--ro-bind", &ro_bind],
        "cat /new/deep/dir/in.txt /opt/ro/data.txt; echo x > /new/deep/dir/out.txt && echo wrote",
    ))
    .expect(0, "from-host\nro-data\nwrote\n", "");
    assert_eq!(fs::read_to_string(rw.join("out.txt")).unwrap(), "x\n");
    // Made for the run, gone after it (mount_points_made_in_the_rootfs_are_removed_after_the_run).
    for dst in ["new", "opt/ro"] {
        assert!(!root.join(dst).exists(), "the destination /{dst} made for the run is left in the rootfs");
    }
}

#[test]
fn bind_a_single_file() {
    let bb = need!("bind_a_single_file", busybox());
    let case = Case::new("bind-file", &[bb]);
    let root = case.rootfs_copy(bb);
    let (ro, rw) = (case.join("ro.conf"), case.join("rw.txt"));
    fs::write(&ro, "injected\n").unwrap();
    fs::write(&rw, "start\n").unwrap();
    let ro_bind = format!("{}:/etc/injected.conf", path_str(&ro));
    let bind = format!("{}:/srv/rw.txt", path_str(&rw));
    let out = case.run(&mut case.sh(
        &["--rootfs", path_str(&root), "--ro-bind", &ro_bind, "--bind", &bind],
        "exec 2>&1; cat /etc/injected.conf; echo appended >> /srv/rw.txt && echo wrote; \
         echo x > /etc/injected.conf; echo ro=$?",
    ));
    let lines = out.success_lines();
    assert!(
        lines.len() == 4
            && lines[..2] == ["injected", "wrote"]
            && lines[2].contains("Read-only file system")
            && lines[3] != "ro=0",
        "{out}"
    );
    assert_eq!(fs::read_to_string(&rw).unwrap(), "start\nappended\n");
    assert_eq!(fs::read_to_string(&ro).unwrap(), "injected\n");
    assert!(
        !root.join("srv/rw.txt").exists() && !root.join("etc/injected.conf").exists(),
        "mount points left"
    );
}

/// Every entry under `root`, recursively, as `path kind` (symlinks not followed), sorted.
fn listing(root: &Path) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let kind = if meta.is_symlink() {
                "link"
            } else if meta.is_dir() {
                "dir"
            } else {
                "file"
            };
            out.push(format!("{} {kind} {}", path.strip_prefix(root).unwrap().display(), meta.len()));
            if meta.is_dir() {
                walk(&path, root, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

#[test]
fn mount_points_made_in_the_rootfs_are_removed_after_the_run() {
    // What husk creates in a writable rootfs directory to mount on — missing volume
    // destinations and their parents, an empty file for a file bind, /proc, /dev, /sys —
    // is removed when the container ends, and after a failure half-way through building it:
    // the directory is as it was.
    let bb = need!("mount_points_made_in_the_rootfs_are_removed_after_the_run", busybox());
    let case = Case::new("made-removed", &[bb]);
    let root = case.rootfs_copy(bb);
    for dir in ["proc", "dev", "sys"] {
        let _ = fs::remove_dir(root.join(dir));
    }
    let before = listing(&root);
    let src = case.mkdir("src");
    fs::write(src.join("in.txt"), "from-host\n").unwrap();
    let file = case.join("file.conf");
    fs::write(&file, "conf\n").unwrap();
    let (src, file) = (path_str(&src), path_str(&file));
    let binds = [
        "--bind",
        &format!("{src}:/var/readonlyfiles"),
        "--ro-bind",
        &format!("{src}:/data"),
        "--bind",
        &format!("{file}:/etc/new/deep/file.conf"),
        "--tmpfs",
        "/new/t",
        "--bind",
        &format!("{src}:/new/t/inside"),
    ]
    .map(String::from);
    let mut opts = vec!["--rootfs", path_str(&root)];
    opts.extend(binds.iter().map(String::as_str));
    let check = "cat /var/readonlyfiles/in.txt /data/in.txt /etc/new/deep/file.conf /new/t/inside/in.txt; \
                 test -d /proc/1 && test -c /dev/null && test -d /sys/kernel && echo mounted";
    case.run(&mut case.sh(&opts, check)).expect(0, "from-host\nfrom-host\nconf\nfrom-host\nmounted\n", "");
    assert_eq!(listing(&root), before, "the rootfs directory changed after the run");

    // A failure while the root is built: the first two volumes made /m, /m/k and /m/n.
    let failing = [
        "--rootfs",
        path_str(&root),
        "--bind",
        &format!("{src}:/m/k"),
        "--bind",
        &format!("{file}:/m/n"),
        "--bind",
        &format!("{src}:/m/n/o"),
    ]
    .map(String::from);
    let failing: Vec<&str> = failing.iter().map(String::as_str).collect();
    let out = case.run(&mut case.sh(&failing, "echo ran"));
    assert!(out.is_refusal() && out.stderr.contains("(ENOTDIR)"), "{out}");
    assert_eq!(listing(&root), before, "the rootfs directory changed after a failed run");
}

#[test]
fn mount_point_removal_is_fooled_by_nothing_the_container_does() {
    // Root in the container may rename the directories husk made, put symlinks to a host
    // path (absolute: followed on the host, it leads out) in their place, make the same names
    // there, or fill them. husk removes only what is still the very entry it made, empty,
    // and never looks outside the rootfs: the host's directory keeps everything.
    let bb = need!("mount_point_removal_is_fooled_by_nothing_the_container_does", busybox());
    let mut case = Case::new("made-attack", &[bb]);
    let root = case.rootfs_copy(bb);
    let host = case.host_root_dir("target");
    fs::create_dir_all(host.join("a/b")).unwrap();
    fs::write(host.join("f"), "").unwrap();
    let host_before = listing(&host);
    let src = case.mkdir("src");
    let file = case.join("file.conf");
    fs::write(&file, "conf\n").unwrap();
    let binds = [
        "--rootfs",
        path_str(&root),
        "--bind",
        &format!("{}:/data/a/b", path_str(&src)),
        "--bind",
        &format!("{}:/etc/x/f", path_str(&file)),
        "--tmpfs",
        "/keep/t",
        "--tmpfs",
        "/gone/t",
    ]
    .map(String::from);
    let opts: Vec<&str> = binds.iter().map(String::as_str).collect();
    let script = format!(
        "mv /data /moved && ln -s {host} /data && mv /etc/x /etc/moved-x && ln -s {host} /etc/x && \
         mkdir -p {host}/a/b && touch {host}/f && touch /keep/file && echo planted",
        host = path_str(&host)
    );
    case.run(&mut case.sh(&opts, &script)).expect(0, "planted\n", "");
    assert_eq!(listing(&host), host_before, "the host's directory changed");
    let inside = root.join(host.strip_prefix("/").unwrap());
    assert!(inside.join("a/b").is_dir() && inside.join("f").is_file(), "the container's own entries went");
    assert!(root.join("moved/a/b").is_dir() && root.join("etc/moved-x/f").is_file(), "renamed entries went");
    assert!(fs::symlink_metadata(root.join("data")).unwrap().is_symlink(), "the container's symlink went");
    assert!(
        root.join("keep/file").is_file() && !root.join("keep/t").exists(),
        "/keep/t stayed or /keep went"
    );
    assert!(!root.join("gone").exists(), "the untouched mount point /gone/t stayed");
}

/// The rootfs directory's lock is never waited on without end: anyone who may read the
/// directory may flock it (a user on the host, a container with it mounted).
#[test]
fn a_lock_held_on_the_rootfs_does_not_hang_husk_run() {
    let bb = need!("a_lock_held_on_the_rootfs_does_not_hang_husk_run", busybox());
    let flock = need!("a_lock_held_on_the_rootfs_does_not_hang_husk_run", tool("flock", "util-linux"));
    let case = Case::new("held-lock", &[bb]);
    let root = case.rootfs_copy(bb);
    // The holder's command line must not name the test's directory (its marker).
    let holder = Proc::start(
        Command::new("sh")
            .args(["-c", "exec 9<\"$LOCKED\"; \"$FLOCK\" -x 9; echo held; exec sleep 60"])
            .env("LOCKED", &root)
            .env("FLOCK", &flock),
    );
    holder.wait_stdout("held");
    let started = std::time::Instant::now();
    case.run(&mut case.sh(&["--rootfs", path_str(&root)], "echo ran")).expect(0, "ran\n", "");
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(10), "husk run waited {took:?} for the lock");
    drop(holder);
}

#[test]
fn mount_points_stay_while_another_run_of_the_rootfs_uses_them() {
    // Removing a directory takes away whatever another mount namespace has mounted on it:
    // a run that ends while another run of the same rootfs uses the mount points it made
    // must leave them. A run alone removes what it made.
    let bb = need!("mount_points_stay_while_another_run_of_the_rootfs_uses_them", busybox());
    let case = Case::new("made-shared", &[bb]);
    let root = case.rootfs_copy(bb);
    let src = case.mkdir("src");
    fs::write(src.join("in.txt"), "from-host\n").unwrap();
    let sync = case.mkdir("sync");
    let opts = [
        "--rootfs",
        path_str(&root),
        "--bind",
        &format!("{}:/vol", path_str(&src)),
        "--bind",
        &format!("{}:/sync", path_str(&sync)),
    ]
    .map(String::from);
    let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
    let mut first =
        Proc::start(&mut case.sh(&opts, "echo first-up; until test -e /sync/second-up; do sleep 0.02; done"));
    first.wait_stdout("first-up");
    let mut second = Proc::start(&mut case.sh(
        &opts,
        "touch /sync/second-up; until test -e /sync/first-gone; do sleep 0.02; done; cat /vol/in.txt",
    ));
    first.wait().expect(0, "first-up\n", "");
    fs::write(sync.join("first-gone"), "").unwrap();
    second.wait().expect(0, "from-host\n", "");
    case.assert_clean("the two runs");
    // The same with the second run --read-only (a fresh destination the first makes): it
    // holds the directory too, and keeps its mounts.
    for file in ["second-up", "first-gone"] {
        fs::remove_file(sync.join(file)).unwrap();
    }
    let third = [format!("{}:/vol3", path_str(&src)), format!("{}:/sync", path_str(&sync))];
    let writable = ["--rootfs", path_str(&root), "--bind", &third[0], "--bind", &third[1]];
    let mut first = Proc::start(
        &mut case.sh(&writable, "echo first-up; until test -e /sync/second-up; do sleep 0.02; done"),
    );
    first.wait_stdout("first-up");
    let read_only = ["--read-only", "--rootfs", path_str(&root), "--bind", &third[0], "--bind", &third[1]];
    let mut second = Proc::start(&mut case.sh(
        &read_only,
        "touch /sync/second-up; until test -e /sync/first-gone; do sleep 0.02; done; cat /vol3/in.txt",
    ));
    first.wait().expect(0, "first-up\n", "");
    fs::write(sync.join("first-gone"), "").unwrap();
    second.wait().expect(0, "from-host\n", "");
    case.assert_clean("a writable and a read-only run");
    // Alone, a run removes what it made.
    let alone =
        ["--rootfs", path_str(&root), "--bind", &format!("{}:/vol2", path_str(&src))].map(String::from);
    let alone: Vec<&str> = alone.iter().map(String::as_str).collect();
    case.run(&mut case.sh(&alone, "cat /vol2/in.txt")).expect(0, "from-host\n", "");
    assert!(!root.join("vol2").exists(), "/vol2, made by a run alone, stayed");
}

// ---------------------------------------------------------------------------------------
// 4. Environment, working directory, user
// ---------------------------------------------------------------------------------------

/// The environment `env` printed, as a map.
fn env_map(out: &Outcome) -> BTreeMap<String, String> {
    out.expect_success()
        .lines()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or_else(|| panic!("not KEY=VALUE: {l:?}\n{out}"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

#[test]
fn environment_starts_clean() {
    let bb = need!("environment_starts_clean", busybox());
    let case = Case::new("env", &[bb]);
    let host_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    let mut cmd =
        case.cmd(&["--rootfs", path_str(bb), "-e", "FOO=bar", "--env", "EQ=a=b"], &["/usr/bin/env"]);
    cmd.env_clear().env("PATH", host_path).env("TERM", "xterm-husk-test").env("HUSK_HOST_SECRET", "leaked");
    let out = case.run(&mut cmd);
    let env = env_map(&out);
    let keys: Vec<&str> = env.keys().map(String::as_str).collect();
    assert_eq!(keys, ["EQ", "FOO", "HOME", "HOSTNAME", "PATH", "TERM"], "{out}");
    assert_eq!(env["FOO"], "bar", "{out}");
    assert_eq!(env["EQ"], "a=b", "{out}");
    assert_eq!(env["HOSTNAME"], "husk", "{out}");
    assert_eq!(env["TERM"], "xterm-husk-test", "{out}");
    assert!(!env["HOME"].is_empty() && env["PATH"].split(':').any(|d| d == "/bin"), "{out}");

    // Without TERM on the host, no TERM inside; -e overrides the defaults.
    let mut cmd = case.cmd(
        &["--rootfs", path_str(bb), "--hostname", "envbox", "-e", "PATH=/bin", "-e", "HOME=/home/user"],
        &["/usr/bin/env"],
    );
    cmd.env_clear().env("PATH", host_path);
    let out = case.run(&mut cmd);
    let env = env_map(&out);
    let expected: BTreeMap<String, String> =
        [("HOME", "/home/user"), ("HOSTNAME", "envbox"), ("PATH", "/bin")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    assert_eq!(env, expected, "{out}");
}

#[test]
fn working_directory_defaults_to_root_and_is_set_by_w() {
    let bb = need!("working_directory_defaults_to_root_and_is_set_by_w", busybox());
    let case = Case::new("cwd", &[bb]);
    let script = "pwd; readlink /proc/self/cwd";
    case.run(&mut case.sh(&["--rootfs", path_str(bb)], script)).expect(0, "/\n/\n", "");
    case.run(&mut case.sh(&["--rootfs", path_str(bb), "-w", "/etc"], script)).expect(0, "/etc\n/etc\n", "");
    case.run(&mut case.sh(&["--rootfs", path_str(bb), "--cwd", "/home/user"], script)).expect(
        0,
        "/home/user\n/home/user\n",
        "",
    );
}

#[test]
fn user_defaults_to_root_and_is_set_by_u() {
    let bb = need!("user_defaults_to_root_and_is_set_by_u", busybox());
    let case = Case::new("user", &[bb]);
    let script = "id -u; id -g; id -G; grep -E '^(Uid|Gid|Groups):' /proc/self/status";
    let expect = |out: &Outcome, id: &str| {
        let lines: Vec<&str> = out.expect_success().lines().collect();
        assert_eq!(lines.len(), 6, "{out}");
        assert_eq!(lines[..3], [id, id, id], "{out}");
        let ids = format!("{id}\t{id}\t{id}\t{id}");
        assert_eq!(lines[3], format!("Uid:\t{ids}"), "{out}");
        assert_eq!(lines[4], format!("Gid:\t{ids}"), "{out}");
        assert_eq!(lines[5].trim_end(), "Groups:", "supplementary groups must be cleared\n{out}");
    };
    expect(&case.run(&mut case.sh(&["--rootfs", path_str(bb)], script)), "0");
    expect(&case.run(&mut case.sh(&["--rootfs", path_str(bb), "-u", "1000:1000"], script)), "1000");
    expect(&case.run(&mut case.sh(&["--rootfs", path_str(bb), "--user", "1000:1000"], script)), "1000");
    // UID alone: the gid is not pinned by the interface, the uid is.
    let out = case.run(&mut case.sh(&["--rootfs", path_str(bb), "-u", "1000"], "id -u"));
    out.expect(0, "1000\n", "");
}

// ---------------------------------------------------------------------------------------
// 5. Exit status, exec failures, stdin, descriptors
// ---------------------------------------------------------------------------------------

#[test]
fn exit_status_passes_through() {
    let bb = need!("exit_status_passes_through", busybox());
    let case = Case::new("exit", &[bb]);
    for (script, code) in [
        ("exit 0", 0),
        ("exit 7", 7),
        ("exit 125", 125),
        ("exit 255", 255),
        ("kill -TERM $$", 143),
        ("kill -KILL $$", 137),
        ("kill -USR1 $$", 138),
    ] {
        case.run(&mut case.sh(&["--rootfs", path_str(bb)], script)).expect(code, "", "");
    }
}

#[test]
fn exec_failures_give_126_and_127() {
    let bb = need!("exec_failures_give_126_and_127", busybox());
    let case = Case::new("exec", &[bb]);
    for (command, code, error) in [
        ("nosuchcmd", 127, "No such file or directory (ENOENT)"),
        ("/bin/nosuch", 127, "No such file or directory (ENOENT)"),
        ("/etc/passwd", 126, "Permission denied (EACCES)"),
        ("/etc", 126, "Permission denied (EACCES)"),
    ] {
        case.run(&mut case.cmd(&["--rootfs", path_str(bb)], &[command, case.marker.as_str()])).expect(
            code,
            "",
            &format!("husk: exec {command}: {error}\n"),
        );
    }
}

#[test]
fn stdin_stdout_and_stderr_pass_through() {
    let bb = need!("stdin_stdout_and_stderr_pass_through", busybox());
    let case = Case::new("stdio", &[bb]);
    let input = case.join("input");
    fs::write(&input, "line one\nline two\n").unwrap();
    let mut proc = Proc::start_with_stdin(
        &mut case.sh(&["--rootfs", path_str(bb)], "cat; echo to-stderr >&2"),
        fs::File::open(&input).unwrap().into(),
    );
    proc.wait().expect(0, "line one\nline two\n", "to-stderr\n");
    case.assert_clean("the stdio run");
}

#[test]
fn only_fds_0_to_2_reach_the_command() {
    let bb = need!("only_fds_0_to_2_reach_the_command", busybox());
    let case = Case::new("fds", &[bb]);
    // sh opens fds 7 and 9 without close-on-exec and execs husk with them.
    let mut cmd = Command::new("sh");
    cmd.args(["-c", r#"exec 7</dev/null 9>/dev/null; exec "$@""#, "sh"])
        .args([HUSK, "run", "--rootfs", path_str(bb), "--"])
        .args(["ls", "/proc/self/fd"]);
    case.run(&mut cmd).expect(0, "0\n1\n2\n3\n", "");
}

// ---------------------------------------------------------------------------------------
// 6. Signals and the end of the container
// ---------------------------------------------------------------------------------------

#[test]
fn signals_reach_the_command() {
    let bb = need!("signals_reach_the_command", busybox());
    let case = Case::new("signals", &[bb]);
    for (sig, name) in [
        (SIGTERM, "TERM"),
        (SIGINT, "INT"),
        (SIGHUP, "HUP"),
        (SIGQUIT, "QUIT"),
        (SIGUSR1, "USR1"),
        (SIGUSR2, "USR2"),
    ] {
        let script = format!("trap 'echo got-{name}; exit 42' {name}; sleep 1000 & echo ready; wait");
        let mut proc = Proc::start(&mut with_default_signals(case.sh(&["--rootfs", path_str(bb)], &script)));
        proc.wait_stdout("ready\n");
        send(proc.pid(), sig);
        proc.wait().expect(42, &format!("ready\ngot-{name}\n"), "");
        case.assert_clean(&format!("the SIG{name} run"));
    }
}

/// `cmd` started with every signal at its default disposition. husk hands COMMAND the
/// dispositions it was given, and a shell cannot trap a signal that was ignored when it
/// started (POSIX, "trap"): run from a non-interactive shell's background job, the test
/// itself would have SIGINT and SIGQUIT ignored.
fn with_default_signals(cmd: Command) -> Command {
    let mut wrapped = Command::new("python3");
    wrapped.args([
        "-c",
        "import os, signal, sys\n\
         for s in (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGTERM):\n\
         \x20   signal.signal(s, signal.SIG_DFL)\n\
         os.execv(sys.argv[1], sys.argv[1:])",
    ]);
    wrapped.arg(cmd.get_program()).args(cmd.get_args());
    wrapped
}

#[test]
fn sigterm_to_husk_run_ends_the_command_with_143() {
    let bb = need!("sigterm_to_husk_run_ends_the_command_with_143", busybox());
    let case = Case::new("sigterm", &[bb]);
    let mut proc = Proc::start(&mut case.sh(&["--rootfs", path_str(bb)], "echo ready; sleep 1000; exit 0"));
    proc.wait_stdout("ready\n");
    send(proc.pid(), SIGTERM);
    proc.wait().expect(143, "ready\n", "");
    case.assert_clean("the SIGTERM run");
}

/// Whether husk (`pid`) runs its own code yet: it blocks every signal at its first
/// instruction, and then (outside set-up) waits in rt_sigtimedwait, which unblocks the set it
/// waits for while it sleeps (so SigBlk alone may read 0 then).
fn husk_has_started(pid: i32) -> bool {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let blocking = status.lines().any(|l| {
        l.strip_prefix("SigBlk:").is_some_and(|mask| !mask.trim().trim_start_matches('0').is_empty())
    });
    let syscall = fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
    blocking || syscall.split(' ').next() == Some(NR_RT_SIGTIMEDWAIT)
}

#[test]
fn sigterm_while_the_container_is_built_is_not_lost() {
    let bb = need!("sigterm_while_the_container_is_built_is_not_lost", busybox());
    let case = Case::new("sigterm-early", &[bb]);
    for _ in 0..10 {
        let mut proc = Proc::start(&mut case.sh(&["--rootfs", path_str(bb)], "echo started; sleep 1000"));
        // As soon as husk runs its own code (it blocks every signal first): the container
        // may not exist yet, or COMMAND may not have started.
        wait_until(|| format!("husk {} to start", proc.pid()), || husk_has_started(proc.pid()));
        send(proc.pid(), SIGTERM);
        let out = proc.wait();
        assert!(
            out.status.code() == Some(143)
                && (out.stdout.is_empty() || out.stdout == "started\n")
                && out.stderr.is_empty(),
            "a SIGTERM sent during set-up must reach COMMAND (143)\n got {out}"
        );
        case.assert_clean("an early SIGTERM");
    }
}

#[test]
fn signals_sent_to_pid_1_inside_reach_the_command() {
    let bb = need!("signals_sent_to_pid_1_inside_reach_the_command", busybox());
    let case = Case::new("signal-pid1", &[bb]);
    case.run(&mut case.sh(
        &["--rootfs", path_str(bb)],
        "trap 'echo got-TERM; exit 3' TERM; sleep 1000 & kill -TERM 1; wait",
    ))
    .expect(3, "got-TERM\n", "");
}

#[test]
fn sigkill_to_husk_run_ends_the_whole_container() {
    let bb = need!("sigkill_to_husk_run_ends_the_whole_container", busybox());
    let case = Case::new("sigkill", &[bb]);
    let mut proc = Proc::start(
        &mut case.sh(&["--rootfs", path_str(bb)], "(sleep 1000; :) & (sleep 1000; :) & echo ready; wait"),
    );
    proc.wait_stdout("ready\n");
    let my_ns = namespace(std::process::id() as i32, "pid").unwrap();
    // The container's PID namespace, from a marked process inside it (sh or a subshell).
    let ns = wait_for(
        || format!("a process of the container: {:?}", mentioning(&case.marker)),
        || {
            mentioning(&case.marker)
                .into_iter()
                .filter_map(|(pid, _)| namespace(pid, "pid"))
                .find(|ns| *ns != my_ns)
        },
    );
    // Both sleeps started: the container holds husk, sh, two subshells and two sleeps.
    wait_until(
        || format!("6 processes in {ns}: {:?}", in_pid_namespace(&ns)),
        || in_pid_namespace(&ns).len() >= 6,
    );
    send(proc.pid(), SIGKILL);
    let out = proc.wait();
    assert_eq!(out.status.signal(), Some(SIGKILL), "{out}");
    wait_until(
        || {
            format!(
                "the container to end after SIGKILL to husk run: left in {ns}: {:?}",
                in_pid_namespace(&ns).into_iter().map(|p| (p, cmdline(p))).collect::<Vec<_>>()
            )
        },
        || in_pid_namespace(&ns).is_empty(),
    );
    case.assert_clean("SIGKILL to husk run");
}

#[test]
fn husk_and_the_containers_init_stay_small() {
    // What each container costs the machine: the private memory (stack, data, bss: RssAnon)
    // of the host-side husk and of the container's init, each at most 64 KiB while COMMAND
    // runs (bwrap's two processes: about 2 and 1.4 MB resident). husk's text (RssFile) is
    // page cache shared by every husk process on the machine, counted once however many
    // containers run; it is bounded by the binary's size, which has its own budget (README,
    // Numbers). Both are printed.
    let bb = need!("husk_and_the_containers_init_stay_small", busybox());
    let case = Case::new("rss", &[bb]);
    let mut proc = Proc::start(&mut case.sh(&["--rootfs", path_str(bb)], "echo ready; exec sleep 1000"));
    proc.wait_stdout("ready\n");
    let husk = proc.pid();
    let init = wait_for(
        || format!("the container's init, a child of husk {husk}"),
        || pids().into_iter().find(|&p| stat(p).is_some_and(|(ppid, _)| ppid == husk)),
    );
    let resident = |pid: i32, field: &str| -> u64 {
        let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let line = status.lines().find(|l| l.starts_with(field)).unwrap().to_string();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    let private = (resident(husk, "RssAnon:"), resident(init, "RssAnon:"));
    let total = (resident(husk, "VmRSS:"), resident(init, "VmRSS:"));
    send(husk, SIGKILL);
    proc.wait();
    eprintln!(
        "RssAnon: husk {} KiB, init {} KiB; VmRSS: husk {} KiB, init {} KiB",
        private.0, private.1, total.0, total.1
    );
    assert!(private.0 <= 64 && private.1 <= 64, "RssAnon: husk {} KiB, init {} KiB", private.0, private.1);
    let text_kib = fs::metadata(HUSK).unwrap().len().div_ceil(4096) * 4;
    assert!(total.0 <= 64 + text_kib && total.1 <= 64 + text_kib, "VmRSS {total:?} KiB, text {text_kib} KiB");
    case.assert_clean("SIGKILL to husk run");
}

#[test]
fn processes_left_by_the_command_end_with_it() {
    let bb = need!("processes_left_by_the_command_end_with_it", busybox());
    let case = Case::new("leftovers", &[bb]);
    let vol = case.join("vol");
    fs::create_dir(&vol).unwrap();
    let bind = format!("{}:/mnt", path_str(&vol));
    // The subshells keep the marker in their cmdline; Case::run checks they are gone.
    case.run(&mut case.sh(
        &["--rootfs", path_str(bb), "--bind", &bind, "--read-only", "--tmpfs", "/srv"],
        "(sleep 1000; :) & (sleep 1000; :) & echo started",
    ))
    .expect(0, "started\n", "");
}

#[test]
fn mounts_do_not_propagate_to_a_shared_parent() {
    let bb = need!("mounts_do_not_propagate_to_a_shared_parent", busybox());
    let case = Case::new("propagation", &[bb]);
    let root = case.rootfs_copy(bb);
    let vol = case.join("vol");
    fs::create_dir(&vol).unwrap();
    // In a mount namespace whose mounts are all shared (as on a systemd host), husk's mounts
    // would come back to it unless husk makes its own tree private or slave first.
    let script = r#"grep -F "$1" /proc/self/mountinfo
        echo -- run
        "$2" run --rootfs "$1/rootfs" --bind "$1/vol:/mnt" --tmpfs /srv -- sh -c 'echo inside' "$1"
        echo status=$?
        echo -- after
        grep -F "$1" /proc/self/mountinfo
        true"#;
    let out = case.run(
        Command::new("unshare").args(["--mount", "--propagation", "shared", "--", "sh", "-c"]).args([
            script,
            "sh",
            &case.marker,
            HUSK,
        ]),
    );
    out.expect(0, "-- run\ninside\nstatus=0\n-- after\n", "");
    assert!(root.join("bin/busybox").is_file());
}

// ---------------------------------------------------------------------------------------
// 7. Bad input: status 125, one line, nothing run, nothing mounted
// ---------------------------------------------------------------------------------------

#[test]
fn bad_input_is_refused_with_125_and_one_line() {
    let bb = need!("bad_input_is_refused_with_125_and_one_line", busybox());
    let case = Case::new("bad-input", &[bb]);
    let bb = path_str(bb);
    let missing = path_str(&case.join("missing")).to_string();
    let src = case.join("src");
    fs::create_dir(&src).unwrap();
    let src = path_str(&src).to_string();
    let file = case.join("file");
    fs::write(&file, "not a directory\n").unwrap();
    let file = path_str(&file).to_string();
    let nonexistent = format!("/nonexistent-husk-rootfs.{}", std::process::id());
    let long_name = "h".repeat(65);
    let o = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<String>>();
    // (options, what the error line must mention; "" for: no particular word)
    let cases: Vec<(Vec<String>, String)> = vec![
        (o(&["--rootfs", &nonexistent]), nonexistent.clone()),
        (o(&["--rootfs", &file]), file.clone()),
        (o(&["--bogus-flag"]), "--bogus-flag".into()),
        (o(&["--rootfs", bb, "--bogus-flag"]), "--bogus-flag".into()),
        (o(&["--rootfs", bb, "--bind", &format!("{missing}:/mnt")]), missing.clone()),
        (o(&["--rootfs", bb, "--ro-bind", &format!("{missing}:/mnt")]), missing.clone()),
        (o(&["--bind", "nocolon"]), "nocolon".into()),
        (o(&["--ro-bind", "nocolon"]), "nocolon".into()),
        (o(&["--rootfs", bb, "--bind", &format!("{src}:relative/dst")]), "relative/dst".into()),
        (o(&["--rootfs", bb, "--ro-bind", &format!("{src}:rel-ro-dst")]), "rel-ro-dst".into()),
        (o(&["--rootfs", bb, "--tmpfs", "rel-tmpfs-dst"]), "rel-tmpfs-dst".into()),
        (o(&["--rootfs", bb, "--user", "abc"]), "abc".into()),
        (o(&["--rootfs", bb, "-u", "1000:xyz"]), "xyz".into()),
        (o(&["--rootfs", bb, "--net", "bogus"]), "bogus".into()),
        (o(&["--rootfs", bb, "--hostname", &long_name]), "".into()),
    ];
    let mut failures = Vec::new();
    for (opts, needle) in &cases {
        let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
        let out = case.run(&mut case.sh(&opts, "echo ran"));
        if !out.is_refusal() || !out.stderr.contains(needle.as_str()) {
            failures.push(format!(
                "{opts:?}: expected status 125, no stdout, one line `husk: ...{needle}...` \
                 on stderr\n  got {out}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad inputs not refused as they should be:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn a_failure_while_the_root_is_built_leaves_nothing_and_runs_nothing() {
    // A failure while the root is built (here the second volume, whose destination runs
    // through a regular file) happens in the container's init, after the namespaces and the
    // first volume's mount exist: still 125 with one line, nothing left behind (Case::run
    // checks processes and mounts), and COMMAND never ran.
    let bb = need!("a_failure_while_the_root_is_built_leaves_nothing_and_runs_nothing", busybox());
    let case = Case::new("gate", &[bb]);
    let host_dir = case.join("host-dir");
    fs::create_dir(&host_dir).unwrap();
    let bind = format!("{}:/tmp", path_str(&host_dir));
    let out = case.run(&mut case.sh(
        &[
            "--rootfs",
            path_str(bb),
            "--bind",
            &bind,
            "--bind",
            &format!("{}:/bin/busybox/x", path_str(&host_dir)),
        ],
        "touch /tmp/ran",
    ));
    assert!(out.is_refusal() && out.stderr.contains("/bin/busybox/x"), "{out}");
    assert!(out.stderr.contains("(ENOTDIR)"), "{out}");
    assert!(!host_dir.join("ran").exists(), "COMMAND ran although the root was never finished");
}

// ---------------------------------------------------------------------------------------
// 8. Symlinks in the rootfs never lead a mount to the host
// ---------------------------------------------------------------------------------------

/// Runs `husk run --rootfs ROOT OPTS -- sh -c 'CHECK && echo ran'` and asserts that the host
/// was not touched: `host_dir` is still an empty directory, and (in [`Case::run`]) the host
/// mount table lines of the test's directories are unchanged. husk may refuse (125 and one
/// line) or keep the mount inside the root: then CHECK, run inside, must find the mount where
/// the symlink leads *inside the root* (a mount made on the host path in the container's own
/// namespace leaves the host as it was, but is lost with the old root at pivot_root).
fn assert_host_untouched(case: &Case, root: &Path, opts: &[&str], host_dir: &Path, check: &str) {
    let mut all = vec!["--rootfs", path_str(root)];
    all.extend_from_slice(opts);
    let out = case.run(&mut case.sh(&all, &format!("{check} && echo ran")));
    let confined = out.status.code() == Some(0) && out.stdout == "ran\n" && out.stderr.is_empty();
    assert!(
        out.is_refusal() || confined,
        "expected a refusal (125, one line) or a run confined to the root, where `{check}` \
         holds inside (0, \"ran\")\n got {out}"
    );
    let meta = fs::symlink_metadata(host_dir)
        .unwrap_or_else(|e| panic!("host dir {} is gone: {e}", host_dir.display()));
    assert!(meta.is_dir(), "host dir {} replaced", host_dir.display());
    assert_eq!(
        dir_names(host_dir),
        Vec::<String>::new(),
        "husk created things in the host dir {}\n{out}",
        host_dir.display()
    );
    if confined {
        eprintln!("{}: confined to the root", case.test);
    } else {
        eprintln!("{}: refused: {}", case.test, out.stderr.trim_end());
    }
}

/// [`assert_host_untouched`] twice: first with the symlink's target missing inside the root
/// (resolved inside the root, the destination does not exist; followed on the host, it
/// does), then with the same path made inside the root as well, so that a husk resolving
/// inside the root goes on to mount there.
fn assert_host_untouched_both_ways(case: &Case, root: &Path, opts: &[&str], host_dir: &Path, check: &str) {
    assert_host_untouched(case, root, opts, host_dir, check);
    let inside = root.join(host_dir.strip_prefix("/").unwrap());
    fs::create_dir_all(&inside).unwrap_or_else(|e| panic!("mkdir {}: {e}", inside.display()));
    assert_host_untouched(case, root, opts, host_dir, check);
}

/// Replaces `root/name` by a symlink to `target`.
fn plant_symlink(root: &Path, name: &str, target: &Path) {
    let link = root.join(name);
    if link.is_dir() {
        fs::remove_dir(&link).unwrap();
    }
    std::os::unix::fs::symlink(target, &link).unwrap_or_else(|e| panic!("symlink {}: {e}", link.display()));
}

/// A relative symlink target that, followed on the host from a link directly in `root`,
/// climbs to `/` and then down to `host_dir` (`../../../<host dir>` for a root three deep).
fn climbing_target(root: &Path, host_dir: &Path) -> PathBuf {
    let depth = root.components().filter(|c| matches!(c, Component::Normal(_))).count();
    let name = host_dir.strip_prefix("/").unwrap();
    PathBuf::from("../".repeat(depth)).join(name)
}

#[test]
fn rootfs_dev_symlink_to_host_tmp() {
    let bb = need!("rootfs_dev_symlink_to_host_tmp", busybox());
    let case = Case::new("trap-dev", &[bb]);
    let root = case.rootfs_copy(bb);
    let host = case.join("host-dev");
    fs::create_dir(&host).unwrap();
    plant_symlink(&root, "dev", &host);
    assert_host_untouched_both_ways(&case, &root, &[], &host, "test -c /dev/null && test -c /dev/urandom");
}

#[test]
fn rootfs_proc_symlink_to_host_dir() {
    let bb = need!("rootfs_proc_symlink_to_host_dir", busybox());
    let mut case = Case::new("trap-proc", &[bb]);
    let root = case.rootfs_copy(bb);
    let host = case.host_root_dir("host");
    plant_symlink(&root, "proc", &host);
    assert_host_untouched_both_ways(&case, &root, &[], &host, "test -e /proc/self/stat");
}

#[test]
fn rootfs_sys_symlink_to_host_dir() {
    let bb = need!("rootfs_sys_symlink_to_host_dir", busybox());
    let mut case = Case::new("trap-sys", &[bb]);
    let root = case.rootfs_copy(bb);
    let host = case.host_root_dir("host");
    plant_symlink(&root, "sys", &host);
    assert_host_untouched_both_ways(&case, &root, &[], &host, "test -d /sys/kernel");
}

#[test]
fn rootfs_tmp_symlink_with_read_only() {
    let bb = need!("rootfs_tmp_symlink_with_read_only", busybox());
    let mut case = Case::new("trap-tmp", &[bb]);
    let root = case.rootfs_copy(bb);
    let host = case.host_root_dir("host");
    plant_symlink(&root, "tmp", &host);
    assert_host_untouched_both_ways(&case, &root, &["--read-only"], &host, "touch /tmp/probe");
}

#[test]
fn bind_destination_through_a_climbing_symlink() {
    let bb = need!("bind_destination_through_a_climbing_symlink", busybox());
    let mut case = Case::new("trap-bind", &[bb]);
    let root = case.rootfs_copy(bb);
    let host = case.host_root_dir("host");
    plant_symlink(&root, "escape", &climbing_target(&root, &host));
    assert!(
        root.join("escape").canonicalize().unwrap() == host,
        "the trap must lead to the host dir on the host"
    );
    let src = case.join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("file"), "x\n").unwrap();
    let bind = format!("{}:/escape/x", path_str(&src));
    assert_host_untouched_both_ways(&case, &root, &["--bind", &bind], &host, "test -f /escape/x/file");
}

#[test]
fn ro_bind_destination_through_a_climbing_symlink() {
    let bb = need!("ro_bind_destination_through_a_climbing_symlink", busybox());
    let mut case = Case::new("trap-ro-bind", &[bb]);
    let root = case.rootfs_copy(bb);
    let host = case.host_root_dir("host");
    plant_symlink(&root, "escape", &climbing_target(&root, &host));
    let src = case.join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("file"), "x\n").unwrap();
    let bind = format!("{}:/escape/x", path_str(&src));
    assert_host_untouched_both_ways(&case, &root, &["--ro-bind", &bind], &host, "test -f /escape/x/file");
}

#[test]
fn tmpfs_destination_through_a_climbing_symlink() {
    let bb = need!("tmpfs_destination_through_a_climbing_symlink", busybox());
    let mut case = Case::new("trap-tmpfs", &[bb]);
    let root = case.rootfs_copy(bb);
    let host = case.host_root_dir("host");
    plant_symlink(&root, "escape", &climbing_target(&root, &host));
    assert_host_untouched_both_ways(
        &case,
        &root,
        &["--tmpfs", "/escape/x"],
        &host,
        "test \"$(stat -f -c %T /escape/x)\" = tmpfs",
    );
}

#[test]
fn bind_destination_through_an_absolute_symlink() {
    let bb = need!("bind_destination_through_an_absolute_symlink", busybox());
    let mut case = Case::new("trap-bind-abs", &[bb]);
    let root = case.rootfs_copy(bb);
    let host = case.host_root_dir("host");
    plant_symlink(&root, "abs", &host);
    let src = case.join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("file"), "x\n").unwrap();
    let bind = format!("{}:/abs/x", path_str(&src));
    assert_host_untouched_both_ways(&case, &root, &["--bind", &bind], &host, "test -f /abs/x/file");
}

#[test]
fn bind_destination_that_is_a_symlink() {
    let bb = need!("bind_destination_that_is_a_symlink", busybox());
    let mut case = Case::new("trap-bind-leaf", &[bb]);
    let root = case.rootfs_copy(bb);
    let host = case.host_root_dir("host");
    plant_symlink(&root, "mnt", &host);
    let src = case.join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("file"), "x\n").unwrap();
    let bind = format!("{}:/mnt", path_str(&src));
    assert_host_untouched_both_ways(&case, &root, &["--bind", &bind], &host, "test -f /mnt/file");
}

// ---------------------------------------------------------------------------------------
// 9. Debian rootfs: python3
// ---------------------------------------------------------------------------------------

#[test]
fn debian_rootfs_runs_python3() {
    let deb = need!("debian_rootfs_runs_python3", debian());
    let case = Case::new("debian-python", &[deb]);
    case.run(&mut case.cmd(
        &["--rootfs", path_str(deb), "--read-only"],
        &[
            "python3",
            "-c",
            "import os, sys; print(os.getpid(), sys.version_info.major, \
             open('/etc/debian_version').read().split('.')[0])",
            &case.marker,
        ],
    ))
    .expect(0, "2 3 12\n", "");
}

/// Starts `python3 -m http.server` on 127.0.0.1 in the background, polls it with urllib until
/// it answers (or 30 s pass), prints the body.
const HTTP_SCRIPT: &str = r#"
import os, subprocess, sys, time, urllib.request
os.makedirs('/tmp/www')
with open('/tmp/www/index.html', 'w') as f:
    f.write('husk-http-marker\n')
server = subprocess.Popen(
    [sys.executable, '-m', 'http.server', '8080', '--bind', '127.0.0.1', '--directory', '/tmp/www'],
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
deadline = time.monotonic() + 30
while True:
    try:
        with urllib.request.urlopen('http://127.0.0.1:8080/index.html', timeout=10) as r:
            body = r.read().decode()
        break
    except OSError:
        if time.monotonic() > deadline or server.poll() is not None:
            raise
        time.sleep(0.01)
print(body, end='')
server.terminate()
server.wait()
"#;

#[test]
fn python_serves_and_fetches_http_inside() {
    let deb = need!("python_serves_and_fetches_http_inside", debian());
    let case = Case::new("debian-http", &[deb]);
    case.run(
        &mut case
            .cmd(&["--rootfs", path_str(deb), "--read-only"], &["python3", "-c", HTTP_SCRIPT, &case.marker]),
    )
    .expect(0, "husk-http-marker\n", "");
}

#[test]
fn limits_fail_loudly_where_their_controller_is_missing() {
    // A host without the controller a limit needs: husk runs in a mount namespace of the
    // test's own where /sys/fs/cgroup is an empty tmpfs (a v1 layout with no hierarchy at
    // all). Every limit is refused with the controller's place named, never run unlimited;
    // --stats and --cgroup-parent alone have no group to go in either.
    let bb = need!("limits_fail_loudly_where_their_controller_is_missing", busybox());
    let case = Case::new("no-controller", &[bb]);
    let missing = |controller: &str| {
        format!(
            "husk: cgroup /sys/fs/cgroup/{controller}: No such file or directory (ENOENT): the controller is \
             not mounted there (a v1 hierarchy of its own, or listed in /sys/fs/cgroup/unified/cgroup.controllers)\n"
        )
    };
    let nowhere = "husk: cgroup /sys/fs/cgroup: No such file or directory (ENOENT): no cgroup hierarchy here to \
                   put the container in\n";
    for (opts, stderr) in [
        (&["--memory", "100M"][..], missing("memory")),
        (&["--memory", "100M", "--memory-swap", "200M"], missing("memory")),
        (&["--pids-limit", "10"], missing("pids")),
        (&["--cpus", "0.5"], missing("cpu")),
        (&["--stats"], nowhere.to_string()),
        (&["--cgroup-parent", "/mine"], nowhere.to_string()),
    ] {
        let mut cmd = Command::new("unshare");
        let script = "mount -t tmpfs none /sys/fs/cgroup && exec \"$@\"";
        cmd.args(["--mount", "--propagation", "private", "--", "sh", "-c", script, "sh", HUSK, "run"]);
        cmd.args(["--rootfs", path_str(bb)]).args(opts).args(["--", "sh", "-c", "echo ran", &case.marker]);
        // The command would print if it ran: it must not run unlimited.
        case.run(&mut cmd).expect(125, "", &stderr);
    }
    // No limits, no cgroup: works there too.
    case.run(&mut case.sh(&["--rootfs", path_str(bb)], "echo ran")).expect(0, "ran\n", "");
    case.assert_clean("limit refusals");
}

#[test]
fn stats_are_printed_only_when_the_container_ran() {
    // `--stats` once printed its line after a container that was never built (and under a
    // COMMAND that never started). It needs cgroup v2 at /sys/fs/cgroup: this host's, or,
    // on a hybrid host, one mounted in a mount namespace of the test's own.
    let test = "stats_are_printed_only_when_the_container_ran";
    let bb = need!("stats_are_printed_only_when_the_container_ran", busybox());
    let case = Case::new("stats-ran", &[bb]);
    let unified = host_has_cgroup2();
    if !unified {
        host_branch(test, "hybrid cgroups: husk runs with cgroup2 mounted in a private mount namespace");
    }
    let run = |opts: &[&str], command: &[&str]| {
        let mut cmd = if unified {
            Command::new(HUSK)
        } else {
            let mut c = Command::new("unshare");
            let script = "mount -t cgroup2 none /sys/fs/cgroup && exec \"$@\"";
            c.args(["--mount", "--propagation", "private", "--", "sh", "-c", script, "sh", HUSK]);
            c
        };
        cmd.args(["run", "--stats", "--rootfs", path_str(bb)])
            .args(opts)
            .arg("--")
            .args(command)
            .arg(&case.marker);
        case.run(&mut cmd)
    };
    let ran = run(&[], &["sh", "-c", "echo ran"]);
    assert!(
        ran.status.code() == Some(0)
            && ran.stdout == "ran\n"
            && ran.stderr.starts_with("husk: stats: memory.peak=")
            && ran.stderr.lines().count() == 1,
        "{ran}"
    );
    let unbuilt = run(&["--read-only", "--tmpfs", "/husk-missing/t"], &["sh", "-c", "echo ran"]);
    unbuilt.expect(125, "", "husk: mkdir /husk-missing/t: Read-only file system (EROFS)\n");
    let never_started = run(&[], &["/no/such/command"]);
    never_started.expect(127, "", "husk: exec /no/such/command: No such file or directory (ENOENT)\n");
}
