//! Black-box tests of rootless husk (issue 14): the release binary run by ordinary users —
//! `huskci`, with subordinate ids (uid/gid maps `0 UID 1` + `1 SUBSTART COUNT` written by
//! newuidmap/newgidmap), and `huskci2`, without (the single map `0 UID 1`) — and by root with
//! `--userns private` and with the default root, which always gets a user namespace.
//!
//! As the users: runs and exit codes, the maps and setgroups, `--userns keep-id`, volumes
//! whose new files are the caller's, what cannot be written, signalled, ptraced or chmodded,
//! the seccomp filter's refusal of new user namespaces, `chown` with and without subordinate
//! ids, the options (`--read-only`, `--tmpfs`, `--hostname`, `-e`, `-w`, `--net`), /proc's
//! masks and a read-only /sys, signals, the parent-death guarantee, named containers (and
//! another user who can neither see nor enter them), and apt's switch to `_apt` in a Debian
//! tree shifted into huskci's range. As root: the default root keeps root-only files and
//! sockets out of reach, and `--userns private` maps the container to a free range above
//! 0x40000000.
//!
//! Rules kept throughout (as in tests/run.rs): every test has its own directory
//! `/tmp/husk-rootless.<pid>.<test>.t` whose path is the marker passed to every container
//! command; after every run no process may mention the marker and nothing may be mounted
//! under the directory; waits poll against a deadline; every process started is killed and
//! reaped even when the test fails; the shared fixtures are never written to. The users and
//! their fixtures come from `common/user.rs` (`.ci/run` makes the users).

mod common;

use common::case::Case;
use common::proc::{
    Kill, Outcome, Proc, SIGKILL, SIGTERM, busybox, interfaces, kill_mentioning, path_str, send,
};
use common::tree::PATIENCE;
use common::user::{self, Range, User, huskci, huskci2};
use common::{host_branch, need};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Both users, huskci (subordinate ids) first.
fn users() -> Result<[&'static User; 2], String> {
    Ok([huskci()?, huskci2()?])
}

/// Each user with its busybox tree.
fn users_with_busybox() -> Result<Vec<(&'static User, &'static Path)>, String> {
    users()?.into_iter().map(|u| Ok((u, u.busybox()?))).collect()
}

/// A case whose waits allow for python3 and parallel tests.
fn case(test: &str, trees: &[&Path]) -> Case {
    Case::new(test, trees).patient(PATIENCE)
}

/// The maps a user's container gets (see /tmp/rules.md's contract): `0 ID 1`, plus
/// `1 SUBSTART COUNT` with subordinate ids; as /proc/PID/uid_map prints them, each number
/// right-aligned in 10 columns.
fn expected_maps(u: &User) -> (String, String) {
    let line = |inside: u32, outside: u32, count: u32| format!("{inside:>10} {outside:>10} {count:>10}\n");
    match u.subids {
        Some((uids, gids)) => (
            line(0, u.uid, 1) + &line(1, uids.start, uids.count),
            line(0, u.gid, 1) + &line(1, gids.start, gids.count),
        ),
        None => (line(0, u.uid, 1), line(0, u.gid, 1)),
    }
}

/// The host's python3 (the default root is the host's tree): /usr/bin/python3.
const PYTHON: &str = "/usr/bin/python3";

/// The processes (pid, cmdline) mentioning `marker` whose cmdline begins with `prefix`.
fn marked(marker: &str, prefix: &str) -> Vec<i32> {
    common::proc::mentioning(marker)
        .into_iter()
        .filter(|(_, c)| c.starts_with(prefix))
        .map(|(p, _)| p)
        .collect()
}

/// The `Uid:` (or `Gid:`) line of /proc/PID/status: real, effective, saved, filesystem.
fn status_ids(pid: i32, key: &str) -> Vec<u32> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = text.lines().find(|l| l.starts_with(key)).unwrap_or_else(|| panic!("no {key} in {text}"));
    line[key.len()..].split_whitespace().map(|n| n.parse().unwrap()).collect()
}

// ---------------------------------------------------------------------------------------
// Running as a user
// ---------------------------------------------------------------------------------------

#[test]
fn a_user_runs_a_command_and_gets_its_status() {
    let users = need!("a_user_runs_a_command_and_gets_its_status", users_with_busybox());
    let case = case("status", &users.iter().map(|(_, b)| *b).collect::<Vec<_>>());
    for (u, bb) in users {
        let rootfs = ["--rootfs", path_str(bb)];
        case.run(&mut u.sh(&rootfs, "echo hello; exit 7", &case.marker)).expect(7, "hello\n", "");
        case.run(&mut u.sh(&rootfs, "true", &case.marker)).expect(0, "", "");
        // A missing command is exit 127, as for root.
        let out = case.run(&mut u.run(&rootfs, &["/no/such/command", &case.marker]));
        assert_eq!(out.status.code(), Some(127), "{} as {}: {out}", "a missing command", u.name);
    }
}

#[test]
fn the_maps_and_setgroups_read_as_the_contract_says() {
    let users = need!("the_maps_and_setgroups_read_as_the_contract_says", users_with_busybox());
    let case = case("maps", &users.iter().map(|(_, b)| *b).collect::<Vec<_>>());
    for (u, bb) in users {
        let out = case.run(&mut u.sh(
            &["--rootfs", path_str(bb)],
            "cat /proc/self/uid_map; echo --; cat /proc/self/gid_map; echo --; cat /proc/self/setgroups; id -u; id -g",
            &case.marker,
        ));
        let (uid_map, gid_map) = expected_maps(u);
        let setgroups = if u.subids.is_some() { "allow" } else { "deny" };
        out.expect(0, &format!("{uid_map}--\n{gid_map}--\n{setgroups}\n0\n0\n"), "");
    }
}

#[test]
fn keep_id_keeps_the_callers_ids() {
    let users = need!("keep_id_keeps_the_callers_ids", users_with_busybox());
    let case = case("keepid", &users.iter().map(|(_, b)| *b).collect::<Vec<_>>());
    for (u, bb) in users {
        case.run(&mut u.sh(&["--rootfs", path_str(bb), "--userns", "keep-id"], "id -u; id -g", &case.marker))
            .expect(0, &format!("{}\n{}\n", u.uid, u.gid), "");
    }
}

#[test]
fn files_made_in_a_volume_belong_to_the_caller() {
    let users = need!("files_made_in_a_volume_belong_to_the_caller", users_with_busybox());
    let case = case("volume", &users.iter().map(|(_, b)| *b).collect::<Vec<_>>());
    for (u, bb) in users {
        let vol = u.mkdir(&case.join(&format!("vol-{}", u.name)), 0o755);
        let bind = format!("{}:/v", path_str(&vol));
        case.run(&mut u.sh(
            &["--rootfs", path_str(bb), "--bind", &bind],
            "echo data > /v/file && mkdir /v/dir && stat -c '%u:%g' /v/file",
            &case.marker,
        ))
        .expect(0, "0:0\n", "");
        for name in ["file", "dir"] {
            let meta = fs::metadata(vol.join(name)).unwrap_or_else(|e| panic!("{name} in the volume: {e}"));
            assert_eq!((meta.uid(), meta.gid()), (u.uid, u.gid), "{name} made by {} in a volume", u.name);
        }
        assert_eq!(fs::read_to_string(vol.join("file")).unwrap(), "data\n");
    }
}

#[test]
fn chown_to_another_id_works_only_with_subordinate_ids() {
    let users = need!("chown_to_another_id_works_only_with_subordinate_ids", users_with_busybox());
    let case = case("chown", &users.iter().map(|(_, b)| *b).collect::<Vec<_>>());
    for (u, bb) in users {
        let vol = u.mkdir(&case.join(&format!("vol-{}", u.name)), 0o755);
        let bind = format!("{}:/v", path_str(&vol));
        let out = case.run(&mut u.sh(
            &["--rootfs", path_str(bb), "--tmpfs", "/w", "--bind", &bind],
            "for f in /w/f /v/f; do touch $f; chown 42:42 $f; echo rc=$?; stat -c '%u:%g' $f; done",
            &case.marker,
        ));
        match u.subids {
            Some((uids, gids)) => {
                out.expect(0, "rc=0\n42:42\nrc=0\n42:42\n", "");
                // On the host, 42 inside is SUBSTART+41.
                let meta = fs::metadata(vol.join("f")).unwrap();
                assert_eq!(
                    (meta.uid(), meta.gid()),
                    (uids.start + 41, gids.start + 41),
                    "chowned in a volume"
                );
            }
            None => {
                let why = |f: &str| format!("chown: {f}: Invalid argument\n");
                out.expect(0, "rc=1\n0:0\nrc=1\n0:0\n", &(why("/w/f") + &why("/v/f")));
                let meta = fs::metadata(vol.join("f")).unwrap();
                assert_eq!((meta.uid(), meta.gid()), (u.uid, u.gid), "a failed chown in a volume");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// What a user's container cannot do
// ---------------------------------------------------------------------------------------

/// A script that tries to create each path given as an argument (`$1`...; the marker is
/// `$0`) and prints `PATH written` or `PATH refused`.
const TRY_WRITES: &str = "for p; do if ( : > \"$p\" ) 2>/dev/null || mkdir \"$p\" 2>/dev/null; \
                          then echo \"$p written\"; else echo \"$p refused\"; fi; done";

#[test]
fn nothing_outside_the_root_and_volumes_can_be_written() {
    let users = need!("nothing_outside_the_root_and_volumes_can_be_written", users_with_busybox());
    let shared = need!("nothing_outside_the_root_and_volumes_can_be_written", busybox());
    let mut case = case("writes", &[shared]);
    // Another owner's rootfs: a copy of root's.
    let foreign = case.rootfs_copy(shared);
    let host_dir = case.host_root_dir("hostdir");
    for (u, _) in users {
        // The rootfs of another owner (root): its files are nobody's inside.
        let targets = ["/etc/probe", "/bin/probe", "/probe"];
        let mut cmd = u.run(&["--rootfs", path_str(&foreign)], &["sh", "-c", TRY_WRITES, &case.marker]);
        cmd.args(targets);
        let expected: String = targets.iter().map(|t| format!("{t} refused\n")).collect();
        case.run(&mut cmd).expect(0, &expected, "");
        for t in targets {
            assert!(
                fs::symlink_metadata(foreign.join(&t[1..])).is_err(),
                "{} wrote {t} in root's rootfs",
                u.name
            );
        }
        // The default root, the host's tree: root's directories and the user's own.
        let own = u.mkdir(&case.join(&format!("own-{}", u.name)), 0o755);
        let probes = [
            format!("/etc/husk-rootless-probe.{}", std::process::id()),
            format!("{}/probe", path_str(&host_dir)),
            format!("{}/probe", path_str(&own)),
            format!("{}/probe", path_str(&u.home)),
        ];
        let mut cmd = u.run(&[], &["sh", "-c", TRY_WRITES, &case.marker]);
        cmd.args(&probes);
        let expected: String = probes.iter().map(|t| format!("{t} refused\n")).collect();
        case.run(&mut cmd).expect(0, &expected, "");
        for p in &probes {
            assert!(fs::symlink_metadata(p).is_err(), "{} wrote {p} through the default root", u.name);
        }
    }
}

#[test]
fn host_processes_cannot_be_signalled_or_traced() {
    let users = need!("host_processes_cannot_be_signalled_or_traced", users());
    let case = case("signal", &[]);
    // A host process of root's, and one of the user's own outside the container.
    let mut root_sleep = Proc::start(Command::new("sleep").arg("1000"));
    for u in users {
        let mut own_sleep = Proc::start(u.command("sleep").arg("1000"));
        let script = "import ctypes, errno, os, sys\n\
                      libc = ctypes.CDLL(None, use_errno=True)\n\
                      for pid in map(int, sys.argv[2:]):\n\
                      \x20   try:\n\
                      \x20       os.kill(pid, 0); k = 'OK'\n\
                      \x20   except OSError as e:\n\
                      \x20       k = errno.errorcode[e.errno]\n\
                      \x20   ctypes.set_errno(0)\n\
                      \x20   r = libc.ptrace(16, pid, None, None)\n\
                      \x20   t = 'OK' if r == 0 else errno.errorcode[ctypes.get_errno()]\n\
                      \x20   print('kill=%s ptrace=%s' % (k, t))\n";
        let pids = [root_sleep.pid().to_string(), own_sleep.pid().to_string()];
        let out = case.run(&mut u.run(&[], &[PYTHON, "-c", script, &case.marker, &pids[0], &pids[1]]));
        // Host pids are not in the container's PID namespace: no such process.
        out.expect(0, "kill=ESRCH ptrace=ESRCH\nkill=ESRCH ptrace=ESRCH\n", "");
        assert!(own_sleep.running() && root_sleep.running(), "a host sleep died");
    }
}

#[test]
fn the_bound_device_nodes_cannot_be_chmodded() {
    let users = need!("the_bound_device_nodes_cannot_be_chmodded", users_with_busybox());
    let case = case("devnull", &users.iter().map(|(_, b)| *b).collect::<Vec<_>>());
    let before = fs::metadata("/dev/null").unwrap();
    for (u, bb) in users {
        // The host's nodes, owned by the host's root: nobody (65534) inside.
        case.run(&mut u.sh(
            &["--rootfs", path_str(bb)],
            "chmod 600 /dev/null; echo rc=$?; stat -c '%u %t:%T' /dev/null; echo x > /dev/null && echo written",
            &case.marker,
        ))
        .expect(0, "rc=1\n65534 1:3\nwritten\n", "chmod: /dev/null: Operation not permitted\n");
        let after = fs::metadata("/dev/null").unwrap();
        assert_eq!(
            (after.mode(), after.uid()),
            (before.mode(), before.uid()),
            "the host's /dev/null changed"
        );
    }
}

#[test]
fn seccomp_still_refuses_a_new_user_namespace() {
    let users = need!("seccomp_still_refuses_a_new_user_namespace", users_with_busybox());
    let case = case("nested", &users.iter().map(|(_, b)| *b).collect::<Vec<_>>());
    for (u, bb) in users {
        let rootfs = ["--rootfs", path_str(bb)];
        let out = case.run(&mut u.sh(&rootfs, "unshare -U true; echo rc=$?", &case.marker));
        assert!(
            out.status.code() == Some(0)
                && out.stdout == "rc=1\n"
                && out.stderr.contains("unshare(0x10000000): Operation not permitted"),
            "unshare -U as {}: {out}",
            u.name
        );
        // The control: the same call unconfined is allowed (a user namespace in a user
        // namespace), so the refusal above is the filter's.
        let opts = [&rootfs[..], &["--seccomp", "unconfined"]].concat();
        case.run(&mut u.sh(&opts, "unshare -U true; echo rc=$?", &case.marker)).expect(0, "rc=0\n", "");
    }
}

// ---------------------------------------------------------------------------------------
// Options, /proc and /sys
// ---------------------------------------------------------------------------------------

#[test]
fn read_only_tmpfs_hostname_env_and_workdir_work() {
    let users = need!("read_only_tmpfs_hostname_env_and_workdir_work", users_with_busybox());
    let case = case("options", &users.iter().map(|(_, b)| *b).collect::<Vec<_>>());
    for (u, bb) in users {
        let opts = [
            "--rootfs",
            path_str(bb),
            "--read-only",
            "--tmpfs",
            "/mnt",
            "--hostname",
            "box",
            "-e",
            "GREETING=hi there",
            "-w",
            "/mnt",
        ];
        case.run(&mut u.sh(
            &opts,
            "touch /etc/probe 2>/dev/null && echo root-written || echo root-read-only; \
             touch /mnt/f /tmp/f && echo tmpfs-written; hostname; echo \"$GREETING\"; pwd",
            &case.marker,
        ))
        .expect(0, "root-read-only\ntmpfs-written\nbox\nhi there\n/mnt\n", "");
    }
}

/// Prints the interfaces' file, then `sys=` with /sys's mount options and whether a write
/// under /sys works.
const NET_SCRIPT: &str = "cat /proc/net/dev; echo; \
                          echo sys=$(awk '$2 == \"/sys\" { print substr($4, 1, 3) }' /proc/mounts | tr '\\n' ' '); \
                          if { echo 1 > /sys/kernel/profiling || mkdir /sys/probe; } 2>/dev/null; \
                          then echo sys-written; else echo sys-refused; fi";

#[test]
fn net_none_and_host_with_a_read_only_sys() {
    let users = need!("net_none_and_host_with_a_read_only_sys", users_with_busybox());
    let case = case("net", &users.iter().map(|(_, b)| *b).collect::<Vec<_>>());
    let host = interfaces(&fs::read_to_string("/proc/net/dev").unwrap());
    for (u, bb) in users {
        for (net, want) in [("none", vec!["lo".to_string()]), ("host", host.clone())] {
            let out =
                case.run(&mut u.sh(&["--rootfs", path_str(bb), "--net", net], NET_SCRIPT, &case.marker));
            assert!(
                out.status.code() == Some(0) && out.stderr.is_empty(),
                "--net {net} as {}: {out}",
                u.name
            );
            let (dev, rest) = out.stdout.split_once("\n\n").unwrap_or_else(|| panic!("{out}"));
            assert_eq!(interfaces(dev), want, "--net {net} as {}", u.name);
            assert_eq!(rest, "sys=ro,\nsys-refused\n", "/sys with --net {net} as {}", u.name);
        }
    }
}

/// Some of the paths tests/escape.rs checks are masked (the host's /dev/null over files, an
/// empty read-only tmpfs over directories): the ones that read kernel memory, keys, timers
/// and hardware. Only those this kernel has are checked.
const MASKED: [&str; 6] =
    ["/proc/kcore", "/proc/timer_list", "/proc/keys", "/proc/interrupts", "/proc/acpi", "/proc/scsi"];

#[test]
fn proc_is_masked_for_a_user_too() {
    let test = "proc_is_masked_for_a_user_too";
    let users = need!("proc_is_masked_for_a_user_too", users_with_busybox());
    let case = case("masked", &users.iter().map(|(_, b)| *b).collect::<Vec<_>>());
    let (have, absent): (Vec<&str>, Vec<&str>) = MASKED.iter().partition(|p| fs::symlink_metadata(p).is_ok());
    if !absent.is_empty() {
        host_branch(test, &format!("not on this kernel, so not checked: {}", absent.join(" ")));
    }
    let script = "for p; do if [ -d $p ]; then echo \"$p dir entries=$(ls -A $p | wc -l)\"; \
                  else echo \"$p $(stat -c %t:%T $p) bytes=$(cat $p | wc -c)\"; fi; done; \
                  { echo x > /proc/sys/kernel/domainname; } 2>/dev/null && echo sysctl-written || echo sysctl-refused";
    let expected: String = have
        .iter()
        .map(|p| {
            if Path::new(p).is_dir() { format!("{p} dir entries=0\n") } else { format!("{p} 1:3 bytes=0\n") }
        })
        .chain(["sysctl-refused\n".to_string()])
        .collect();
    for (u, bb) in users {
        let mut cmd = u.run(&["--rootfs", path_str(bb)], &["sh", "-c", script, &case.marker]);
        cmd.args(&have);
        case.run(&mut cmd).expect(0, &expected, "");
    }
}

// ---------------------------------------------------------------------------------------
// Signals and the end of husk run
// ---------------------------------------------------------------------------------------

#[test]
fn sigterm_to_husk_run_reaches_the_command_and_its_status_comes_back() {
    let users =
        need!("sigterm_to_husk_run_reaches_the_command_and_its_status_comes_back", users_with_busybox());
    let case = case("sigterm", &users.iter().map(|(_, b)| *b).collect::<Vec<_>>());
    for (u, bb) in users {
        let rootfs = ["--rootfs", path_str(bb)];
        // setpriv execs husk: the pid is husk run's.
        let mut proc = Proc::start(&mut u.sh(
            &rootfs,
            "trap 'echo got-TERM; exit 3' TERM; echo ready; while :; do sleep 0.05; done",
            &case.marker,
        ))
        .patient(PATIENCE);
        proc.wait_stdout("ready\n");
        send(proc.pid(), SIGTERM);
        proc.wait().expect(3, "ready\ngot-TERM\n", "");
        case.assert_clean("SIGTERM to husk run");
        // A command killed by a signal: 128 + its number.
        case.run(&mut u.sh(&rootfs, "kill -KILL $$", &case.marker)).expect(137, "", "");
    }
}

/// Once the container (a script printing `ready`, with a second process) runs: SIGKILL to
/// `proc`, its husk run, then nothing of the container may be left.
fn kill_husk_run(case: &Case, mut proc: Proc, what: &str) {
    proc.wait_stdout("ready\n");
    PATIENCE.wait_until(
        || format!("two processes of the container: {:?}", common::proc::mentioning(&case.marker)),
        || marked(&case.marker, "sh -c").len() >= 2,
    );
    send(proc.pid(), SIGKILL);
    let out = proc.wait();
    assert_eq!(out.status.signal(), Some(SIGKILL), "{out}");
    // Nothing mentioning the marker is left: the container went with husk run.
    case.assert_clean(what);
}

#[test]
fn sigkill_to_a_users_husk_run_ends_the_container() {
    let users = need!("sigkill_to_a_users_husk_run_ends_the_container", users_with_busybox());
    let case = case("sigkill", &users.iter().map(|(_, b)| *b).collect::<Vec<_>>());
    for (u, bb) in users {
        let proc = Proc::start(&mut u.sh(
            &["--rootfs", path_str(bb)],
            "(while :; do sleep 0.05; done; echo $0) & echo ready; while :; do sleep 0.05; done",
            &case.marker,
        ))
        .patient(PATIENCE);
        kill_husk_run(&case, proc, &format!("SIGKILL to {}'s husk run", u.name));
    }
}

// ---------------------------------------------------------------------------------------
// Named containers as a user
// ---------------------------------------------------------------------------------------

/// A named container of `user`: on drop, `husk kill NAME KILL` as the user, SIGKILL to
/// whatever mentions the marker, and the user's registry entry removed.
struct UserNamed {
    user: &'static User,
    name: String,
    marker: String,
}

impl Drop for UserNamed {
    fn drop(&mut self) {
        let _ = self.user.husk(&["kill", &self.name, "KILL"]).output();
        kill_mentioning(&self.marker);
        let _ = self.user.husk(&["rm", &self.name]).output();
        let entry = self.user.registry().join(&self.name);
        if let Ok(files) = fs::read_dir(&entry) {
            for f in files.flatten() {
                let _ = fs::remove_file(f.path());
            }
        }
        let _ = fs::remove_dir(&entry);
    }
}

/// Runs `cmd` to its end (a named container's husk commands).
fn run(cmd: &mut Command) -> Outcome {
    Proc::start(cmd).kill_on_drop(Kill::Process).patient(PATIENCE).wait()
}

/// `husk ps -q` as `u`: its lines.
fn ps_names(u: &User) -> Vec<String> {
    let out = run(&mut u.husk(&["ps", "-q"]));
    out.expect_success().lines().map(str::to_string).collect()
}

#[test]
fn named_containers_as_a_user_and_out_of_anothers_reach() {
    let test = "named_containers_as_a_user_and_out_of_anothers_reach";
    let (u, other) = (need!("named_containers_as_a_user_and_out_of_anothers_reach", huskci()), {
        need!("named_containers_as_a_user_and_out_of_anothers_reach", huskci2())
    });
    let bb = need!("named_containers_as_a_user_and_out_of_anothers_reach", u.busybox());
    let case = case("named", &[bb]);
    let name = format!("t{}-rootless", std::process::id());
    let _guard = UserNamed { user: u, name: name.clone(), marker: case.marker.clone() };
    run(&mut u.sh(
        &["-d", "--name", &name, "--rootfs", path_str(bb)],
        "echo started; while :; do sleep 0.05; done",
        &case.marker,
    ))
    .expect(0, &format!("{name}\n"), "");
    // Its record is in the user's registry, the user's.
    let entry = u.registry().join(&name);
    let meta = fs::symlink_metadata(&entry).unwrap_or_else(|e| panic!("{}: {e}", entry.display()));
    assert!(meta.is_dir() && meta.uid() == u.uid, "{} is not {}'s directory", entry.display(), u.name);
    assert!(ps_names(u).contains(&name), "husk ps -q as {} misses {name}", u.name);
    // husk exec joins the user namespace too.
    let (uid_map, _) = expected_maps(u);
    run(&mut u.husk(&["exec", &name, "--", "sh", "-c", "cat /proc/self/uid_map; id -u", &case.marker]))
        .expect(0, &format!("{uid_map}0\n"), "");
    PATIENCE.wait_until(
        || format!("husk logs {name} to show the start"),
        || run(&mut u.husk(&["logs", &name])).stdout == "started\n",
    );
    // Another user neither sees nor enters it.
    assert!(!ps_names(other).contains(&name), "{} sees {}'s container {name}", other.name, u.name);
    let out = run(&mut other.husk(&["exec", &name, "--", "sh", "-c", "echo entered", &case.marker]));
    assert!(out.is_refusal(), "{} entered {}'s container: {out}", other.name, u.name);
    let out = run(&mut other.husk(&["kill", &name, "KILL"]));
    assert!(out.is_refusal(), "{} killed {}'s container: {out}", other.name, u.name);
    assert!(ps_names(u).contains(&name), "{name} ended after {}'s attempts", other.name);
    // The user ends it.
    run(&mut u.husk(&["kill", &name, "KILL"])).expect(0, "", "");
    PATIENCE.wait_until(|| format!("{name} to leave husk ps -q"), || !ps_names(u).contains(&name));
    run(&mut u.husk(&["rm", &name])).expect(0, "", "");
    assert!(fs::symlink_metadata(&entry).is_err(), "{} left after husk rm", entry.display());
    case.assert_clean(test);
}

// ---------------------------------------------------------------------------------------
// The default root and --userns private, as root
// ---------------------------------------------------------------------------------------

/// Serves a unix socket at argv[1] (0600, root's), saying `hello` to each client (one that
/// has gone already, as the control's, does not end it).
const SERVER: &str = "import os, socket, sys\n\
                      s = socket.socket(socket.AF_UNIX)\n\
                      s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o600); s.listen(8)\n\
                      while True:\n\
                      \x20   c, _ = s.accept()\n\
                      \x20   try:\n\
                      \x20       c.sendall(b'hello')\n\
                      \x20   except OSError:\n\
                      \x20       pass\n\
                      \x20   c.close()\n";

/// Opens the file argv[2] and connects to the socket argv[3]: `open=… connect=…`.
const CLIENT: &str = "import errno, socket, sys\n\
                      def attempt(fn):\n\
                      \x20   try:\n\
                      \x20       fn(); return 'OK'\n\
                      \x20   except OSError as e:\n\
                      \x20       return errno.errorcode[e.errno]\n\
                      print('open=' + attempt(lambda: open(sys.argv[2]).read()))\n\
                      print('connect=' + attempt(lambda: socket.socket(socket.AF_UNIX).connect(sys.argv[3])))\n";

#[test]
fn the_default_root_keeps_root_only_files_and_sockets_out_of_reach() {
    let users = need!("the_default_root_keeps_root_only_files_and_sockets_out_of_reach", users());
    let mut case = case("secrets", &[]);
    let dir = case.host_root_dir("secrets");
    let secret = dir.join("secret");
    fs::write(&secret, "s3cret\n").unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
    let sock = dir.join("sock");
    let _server = Proc::start(Command::new(PYTHON).args(["-c", SERVER, path_str(&sock)]));
    // The control: root on the host reaches both.
    PATIENCE.wait_until(
        || format!("the server at {}", sock.display()),
        || fs::metadata(&sock).is_ok_and(|m| m.mode() & 0o777 == 0o600) && UnixStream::connect(&sock).is_ok(),
    );
    let args = [PYTHON, "-c", CLIENT, &case.marker, path_str(&secret), path_str(&sock)];
    // As root: the default root gets a private user namespace; host root's files are nobody's.
    let mut root = Command::new(common::proc::HUSK);
    root.arg("run").arg("--").args(args);
    case.run(&mut root).expect(0, "open=EACCES\nconnect=EACCES\n", "");
    for u in users {
        case.run(&mut u.run(&[], &args)).expect(0, "open=EACCES\nconnect=EACCES\n", "");
    }
}

/// The map of one line `0 BASE 65536` in /proc/PID/{uid,gid}_map: BASE.
fn private_base(pid: i32, file: &str) -> u32 {
    let text = fs::read_to_string(format!("/proc/{pid}/{file}")).unwrap();
    let fields: Vec<u32> = text.split_whitespace().map(|n| n.parse().unwrap()).collect();
    assert!(fields.len() == 3 && fields[0] == 0 && fields[2] == 65536, "{file} of {pid}: {text:?}");
    fields[1]
}

#[test]
fn userns_private_maps_root_to_a_free_unprivileged_range() {
    let bb = need!("userns_private_maps_root_to_a_free_unprivileged_range", busybox());
    let case = case("private", &[bb]);
    // Root's own copy: its files are root's (and user 1000's) on the host.
    let rootfs = case.rootfs_copy(bb);
    let opts = ["--userns", "private", "--rootfs", path_str(&rootfs), "--tmpfs", "/scratch"];
    let script = "touch /scratch/made; stat -c '%u:%g' /bin/busybox /home/user; echo ready; \
                  while :; do sleep 0.05; done";
    let mut procs: Vec<Proc> = (0..2)
        .map(|i| {
            let mut cmd = case.sh(&opts, script);
            cmd.arg(i.to_string());
            Proc::start(&mut cmd).patient(PATIENCE)
        })
        .collect();
    let mut bases = Vec::new();
    for (i, proc) in procs.iter().enumerate() {
        // The rootfs is idmapped: its owners look as on the host.
        assert_eq!(proc.wait_stdout("ready\n"), "0:0\n1000:1000\nready\n", "container {i}");
        let sh = PATIENCE.wait_for(
            || format!("container {i}'s sh: {:?}", common::proc::mentioning(&case.marker)),
            || {
                marked(&case.marker, "sh -c")
                    .into_iter()
                    .find(|&p| common::proc::cmdline(p).ends_with(&format!(" {i}")))
            },
        );
        let base = private_base(sh, "uid_map");
        assert_eq!(private_base(sh, "gid_map"), base, "container {i}'s gid range");
        assert!(base >= 0x4000_0000 && base.is_multiple_of(0x1_0000), "container {i}: base {base:#x}");
        // COMMAND, root inside, is BASE on the host.
        assert_eq!(status_ids(sh, "Uid:"), vec![base; 4], "container {i}'s uids");
        assert_eq!(status_ids(sh, "Gid:"), vec![base; 4], "container {i}'s gids");
        // A file made inside on a file system that is not idmapped is BASE's on the host.
        let made = fs::metadata(format!("/proc/{sh}/root/scratch/made")).unwrap();
        assert_eq!((made.uid(), made.gid()), (base, base), "container {i}'s file on its tmpfs");
        bases.push(base);
    }
    assert_ne!(bases[0], bases[1], "two running containers share a range");
    for proc in &procs {
        send(proc.pid(), SIGTERM);
    }
    for proc in &mut procs {
        let out = proc.wait();
        assert!(out.status.code() == Some(143) || out.status.code() == Some(0), "{out}");
    }
    case.assert_clean("two --userns private containers");
}

// ---------------------------------------------------------------------------------------
// Debian with subordinate ids
// ---------------------------------------------------------------------------------------

/// apt-get update from an empty local repository: its methods drop to `_apt` (setgroups,
/// setgid, setuid to 42) and it makes lists/partial `_apt`'s; then the same drop by python.
const APT_SCRIPT: &str = "mkdir /tmp/repo && : > /tmp/repo/Packages && \
                          echo 'deb [trusted=yes] file:/tmp/repo ./' > /tmp/sources.list && \
                          apt-get -qq -o Dir::Etc::SourceList=/tmp/sources.list -o Dir::Etc::SourceParts=/nonexistent \
                          update && echo apt=$? && stat -c '%U %u' /var/lib/apt/lists/partial && \
                          python3 -c 'import os; os.setgroups([42]); os.setgid(42); os.setuid(42); \
                          print(os.getuid(), os.getgid(), os.getgroups())'";

#[test]
fn apt_switches_to_apt_user_in_a_debian_tree_with_subordinate_ids() {
    let u = need!("apt_switches_to_apt_user_in_a_debian_tree_with_subordinate_ids", huskci());
    let deb = need!("apt_switches_to_apt_user_in_a_debian_tree_with_subordinate_ids", u.debian());
    let case = case("apt", &[deb]);
    // The shifted tree: root's files are the user's on the host, _apt's SUBSTART+41.
    let (uids, _): (Range, Range) = u.subids.unwrap();
    assert_eq!(fs::metadata(deb.join("usr/bin/apt-get")).unwrap().uid(), u.uid);
    assert_eq!(user::shifted(42, u.uid, uids), Some(uids.start + 41));
    let opts = [
        "--rootfs",
        path_str(deb),
        "--read-only",
        "--tmpfs",
        "/var/lib/apt/lists",
        "--tmpfs",
        "/var/cache/apt",
    ];
    let out = case.run(&mut u.sh(&opts, APT_SCRIPT, &case.marker));
    out.expect(0, "apt=0\n_apt 42\n42 42 [42]\n", "");
}

#[test]
fn husk_exec_joins_the_user_namespace_of_roots_containers() {
    // root's --userns private container and a default-root one: what husk exec starts is
    // in the container's user namespace too, never the host's root in the container's mounts.
    let bb = need!("husk_exec_joins_the_user_namespace_of_roots_containers", busybox());
    let mut case = case("exec", &[bb]);
    let rootfs = case.rootfs_copy(bb);
    let dir = case.host_root_dir("secrets");
    let secret = dir.join("secret");
    fs::write(&secret, "s3cret\n").unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
    let private = common::named::unique("exec-private");
    let _private = case.detach(
        &private,
        &["--userns", "private", "--rootfs", path_str(&rootfs)],
        "while :; do sleep 0.05; done",
    );
    let sh = PATIENCE.wait_for(
        || format!("the container's sh: {:?}", common::proc::mentioning(&case.marker)),
        || marked(&case.marker, "sh -c").into_iter().next(),
    );
    let base = private_base(sh, "uid_map");
    let map = format!("{:>10} {base:>10} {:>10}\n", 0, 65536);
    run(Command::new(common::proc::HUSK).args([
        "exec",
        &private,
        "--",
        "sh",
        "-c",
        "cat /proc/self/uid_map",
        &case.marker,
    ]))
    .expect(0, &map, "");
    let default = common::named::unique("exec-default");
    let _default = case.detach(&default, &[], "while :; do sleep 0.05; done");
    let out = run(Command::new(common::proc::HUSK).args([
        "exec",
        &default,
        "--",
        "sh",
        "-c",
        "cat \"$1\" 2>/dev/null || echo refused",
        &case.marker,
        path_str(&secret),
    ]));
    out.expect(0, "refused\n", "");
    for name in [&private, &default] {
        run(Command::new(common::proc::HUSK).args(["rm", "-f", name])).expect(0, "", "");
    }
    case.assert_clean("husk rm -f");
}

#[test]
fn without_xdg_runtime_dir_a_users_session_directory_holds_the_registry() {
    // A login gives /run/user/UID (0700, the user's): without $XDG_RUNTIME_DIR husk finds
    // the user's named containers in /run/user/UID/husk, where a session's would be.
    let u = need!("without_xdg_runtime_dir_a_users_session_directory_holds_the_registry", huskci2());
    let bb = need!("without_xdg_runtime_dir_a_users_session_directory_holds_the_registry", u.busybox());
    let case = case("session", &[bb]);
    let name = format!("t{}-session", std::process::id());
    let _guard = UserNamed { user: u, name: name.clone(), marker: case.marker.clone() };
    let husk = |args: &[&str]| {
        let mut cmd = u.husk(args);
        cmd.env_remove("XDG_RUNTIME_DIR");
        run(&mut cmd)
    };
    husk(&[
        "run",
        "-d",
        "--name",
        &name,
        "--rootfs",
        path_str(bb),
        "--",
        "sh",
        "-c",
        "while :; do sleep 0.05; done",
        &case.marker,
    ])
    .expect(0, &format!("{name}\n"), "");
    let entry = u.runtime_dir().join("husk").join(&name);
    let meta = fs::symlink_metadata(&entry).unwrap_or_else(|e| panic!("{}: {e}", entry.display()));
    assert!(meta.is_dir() && meta.uid() == u.uid, "{} is not {}'s directory", entry.display(), u.name);
    assert!(husk(&["ps", "-q"]).expect_success().lines().any(|l| l == name), "ps -q without XDG_RUNTIME_DIR");
    // The same registry as with the variable set.
    assert!(ps_names(u).contains(&name), "ps -q with XDG_RUNTIME_DIR misses {name}");
    husk(&["rm", "-f", &name]).expect(0, "", "");
    assert!(fs::symlink_metadata(&entry).is_err(), "{} left after husk rm -f", entry.display());
    case.assert_clean("husk rm -f");
}

#[test]
fn user_option_inside_a_users_namespace() {
    // -u 1000 with subordinate ids: 1000 inside, SUBSTART+999 on the host. Without them 1000
    // is not mapped: husk refuses before COMMAND runs.
    let users = need!("user_option_inside_a_users_namespace", users_with_busybox());
    let case = case("user", &users.iter().map(|(_, b)| *b).collect::<Vec<_>>());
    for (u, bb) in users {
        let vol = u.mkdir(&case.join(&format!("vol-{}", u.name)), 0o777);
        let bind = format!("{}:/v", path_str(&vol));
        let out = case.run(&mut u.sh(
            &["--rootfs", path_str(bb), "--bind", &bind, "-u", "1000"],
            "id -u; id -g; touch /v/made",
            &case.marker,
        ));
        match u.subids {
            Some((uids, gids)) => {
                out.expect(0, "1000\n1000\n", "");
                let meta = fs::metadata(vol.join("made")).unwrap();
                assert_eq!((meta.uid(), meta.gid()), (uids.start + 999, gids.start + 999), "made as 1000");
            }
            None => {
                assert!(out.is_refusal(), "-u 1000 without subordinate ids: {out}");
                assert!(fs::symlink_metadata(vol.join("made")).is_err(), "COMMAND ran");
            }
        }
    }
}

/// Runs argv[2:] as the session leader of a new pseudo-terminal; types Ctrl-C once the
/// screen shows argv[1]; prints what the screen showed (repr) and the exit status.
const PTY_DRIVER: &str = "import os, pty, select, sys, time\n\
                          pid, fd = pty.fork()\n\
                          if pid == 0:\n\
                          \x20   os.execvp(sys.argv[2], sys.argv[2:])\n\
                          screen, typed, deadline = b'', False, time.monotonic() + 30\n\
                          while time.monotonic() < deadline:\n\
                          \x20   if not typed and sys.argv[1].encode() in screen:\n\
                          \x20       os.write(fd, b'\\x03'); typed = True\n\
                          \x20   r, _, _ = select.select([fd], [], [], 0.2)\n\
                          \x20   if r:\n\
                          \x20       try:\n\
                          \x20           chunk = os.read(fd, 4096)\n\
                          \x20       except OSError:\n\
                          \x20           break\n\
                          \x20       if not chunk:\n\
                          \x20           break\n\
                          \x20       screen += chunk\n\
                          _, status = os.waitpid(pid, 0)\n\
                          print(repr(screen.decode()), os.waitstatus_to_exitcode(status))\n";

#[test]
fn a_users_container_on_a_terminal_takes_ctrl_c() {
    let users = need!("a_users_container_on_a_terminal_takes_ctrl_c", users_with_busybox());
    let case = case("terminal", &users.iter().map(|(_, b)| *b).collect::<Vec<_>>());
    for (u, bb) in users {
        let mut cmd = Command::new(PYTHON);
        cmd.args(["-c", PTY_DRIVER, "ready"])
            .args(["setpriv", &format!("--reuid={}", u.uid), &format!("--regid={}", u.gid), "--init-groups"])
            .args(["--reset-env", "--"])
            .arg(u.husk_binary())
            .args(["run", "-it", "--rootfs", path_str(bb), "--", "sh", "-c"])
            .args([
                "test -t 0 && test -t 1 && echo interactive; echo ready; while :; do sleep 0.05; done",
                &case.marker,
            ]);
        // Ctrl-C reaches COMMAND (the foreground of the terminal): 128 + SIGINT.
        case.run(&mut cmd).expect(0, "'interactive\\r\\nready\\r\\n^C' 130\n", "");
    }
}

#[test]
fn userns_private_refuses_a_rootfs_that_cannot_be_idmapped() {
    // overlayfs cannot be idmapped (mount_setattr MOUNT_ATTR_IDMAP: EINVAL): the rootfs would
    // show as nobody's inside, and root there could not write it. Exit 125 with the reason,
    // before COMMAND runs.
    let bb = need!("userns_private_refuses_a_rootfs_that_cannot_be_idmapped", busybox());
    let case = case("idmap", &[bb]);
    let (lower, upper, work, merged) =
        (case.rootfs_copy(bb), case.mkdir("upper"), case.mkdir("work"), case.mkdir("merged"));
    let options =
        format!("lowerdir={},upperdir={},workdir={}", path_str(&lower), path_str(&upper), path_str(&work));
    let mounted =
        Command::new("mount").args(["-t", "overlay", "overlay", "-o", &options, path_str(&merged)]).status();
    assert!(mounted.unwrap().success(), "mount -t overlay");
    let out = run(&mut case.cmd(&["--userns", "private", "--rootfs", path_str(&merged)], &["true"]));
    let _ = Command::new("umount").arg(&merged).status();
    assert!(out.is_refusal(), "{out}");
    assert!(
        out.stderr.starts_with(&format!("husk: idmap {}: Invalid argument (EINVAL)", path_str(&merged)))
            && out.stderr.contains("cannot be idmapped"),
        "{out}"
    );
    case.assert_clean("an overlay rootfs refused for --userns private");
    // The same tree runs without a private range (root's own ids need no idmapping).
    let _ =
        Command::new("mount").args(["-t", "overlay", "overlay", "-o", &options, path_str(&merged)]).status();
    let out = run(&mut case.cmd(&["--rootfs", path_str(&merged)], &["true"]));
    let _ = Command::new("umount").arg(&merged).status();
    assert_eq!(out.status.code(), Some(0), "{out}");
}

#[test]
fn sigkill_to_roots_husk_run_ends_a_private_container() {
    // Taking the range's ids (an effective-id change) clears the init's parent-death
    // signal (prctl(2)); before the red team's finding, a SIGKILLed husk run left root's
    // private container running and its range was handed out again.
    let bb = need!("sigkill_to_roots_husk_run_ends_a_private_container", busybox());
    let case = case("rootkill", &[bb]);
    let rootfs = case.rootfs_copy(bb);
    for opts in [&["--userns", "private", "--rootfs", path_str(&rootfs)][..], &[]] {
        let script = "(while :; do sleep 0.05; done; echo $0) & echo ready; while :; do sleep 0.05; done";
        let proc = Proc::start(&mut case.sh(opts, script)).patient(PATIENCE);
        kill_husk_run(&case, proc, &format!("SIGKILL to root's husk run {opts:?}"));
    }
}

#[test]
fn the_default_roots_volumes_are_not_idmapped_for_root() {
    // Root in the host's tree is nobody on the host, in its volumes too: what it makes there
    // is its range's on disk, so a setuid file it makes is no setuid-root one (the red
    // team's finding: idmapped, a volume took a setuid-root program from inside).
    let bb = need!("the_default_roots_volumes_are_not_idmapped_for_root", busybox());
    let case = case("novolmap", &[bb]);
    // Writable by anyone (root inside is nobody to a root-owned 0755 one).
    let vol = case.mkdir("vol");
    fs::set_permissions(&vol, fs::Permissions::from_mode(0o777)).unwrap();
    let bind = format!("{}:/mnt", path_str(&vol));
    let out = run(&mut case.sh(&["-v", &bind], "cp /bin/sh /mnt/prog && chmod 4755 /mnt/prog && echo made"));
    assert_eq!(out.expect_success(), "made\n");
    let meta = fs::metadata(vol.join("prog")).unwrap();
    assert!(meta.uid() >= 0x4000_0000 && meta.gid() >= 0x4000_0000, "uid {} gid {}", meta.uid(), meta.gid());
    case.assert_clean("a volume of the default root");
}
