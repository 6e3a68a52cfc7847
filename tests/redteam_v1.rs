//! Red-team tests of issue 15's cgroup v1 limits (the host's root running `husk run` with
//! limits, then `husk exec` into it): each one an attack found to work on the first v1
//! build, kept so that it stays closed. Black-box: judged by what the exec'd command sees
//! of its own groups, and by what is left in the host's hierarchies.

mod common;

use common::named::{husk, unique, wait_gone};
use common::proc::{HUSK, Proc, busybox, path_str};
use common::{host_branch, need};
use std::fs;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

/// The tests whose husk is PID 1 of its PID namespace (group `husk-1` below the same
/// parent), and the one that holds that parent locked (which stops the sweep the others
/// count on), run one at a time.
static PID_1: Mutex<()> = Mutex::new(());

/// Removes the cgroup directory `dir` and every group below it (cgroupfs removes a group by
/// rmdir alone, its files with it), deepest first; best effort.
fn remove_groups(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_groups(&entry.path());
            }
        }
    }
    let _ = fs::remove_dir(dir);
}

/// `top` removed from every hierarchy under /sys/fs/cgroup (and the unified one itself).
fn remove_parent_everywhere(top: &str) {
    let root = Path::new("/sys/fs/cgroup");
    remove_groups(&root.join(top));
    for entry in fs::read_dir(root).into_iter().flatten().flatten() {
        remove_groups(&entry.path().join(top));
    }
}

/// `husk exec` finds the container's v1 groups in its init's /proc/PID/cgroup. A long
/// `--cgroup-parent` (a path of 1,000 bytes, in every hierarchy the container has a group
/// in) makes that file longer than one small read: the first v1 build read 2,048 bytes of
/// it, so the memory, cpuacct and cpu lines were cut before `husk-PID`, those groups were
/// not joined, and the exec'd COMMAND ran in the caller's memory and cpu groups, outside
/// the container's limits, with no error. Every group must be the container's (each shows
/// as `/` inside, as the init's do), or husk exec must refuse.
#[test]
fn exec_joins_every_group_whatever_the_length_of_the_parent() {
    let bb = need!("exec_joins_every_group_whatever_the_length_of_the_parent", busybox());
    if !Path::new("/sys/fs/cgroup/memory/tasks").exists() {
        host_branch(
            "exec_joins_every_group_whatever_the_length_of_the_parent",
            "no v1 memory hierarchy: the same check on this host's layout",
        );
    }
    let top = format!("husk-redteam-{}", std::process::id());
    let level = "a".repeat(200);
    let parent = format!("/{top}/{level}/{level}/{level}/{level}/{level}");
    let name = unique("redlong");
    let mut run = Proc::start(Command::new(HUSK).args([
        "run",
        "--name",
        &name,
        "--memory",
        "64M",
        "--cpus",
        "1",
        "--cgroup-parent",
        &parent,
        "--rootfs",
        path_str(bb),
        "--",
        "sh",
        "-c",
        "echo ready; exec sleep 100031",
    ]));
    run.wait_stdout("ready");
    let seen = husk(&["exec", &name, "cat", "/proc/self/cgroup"]);
    husk(&["kill", &name]).expect(0, "", "");
    wait_gone(&name);
    let _ = run.wait();
    remove_parent_everywhere(&top);
    // Refused is acceptable; joined only part of the way is not.
    if seen.status.code() != Some(125) {
        assert_eq!(seen.status.code(), Some(0), "{seen}");
        let outside: Vec<&str> = seen.stdout.lines().filter(|l| !l.ends_with(":/")).collect();
        assert!(
            outside.is_empty(),
            "husk exec's COMMAND outside the container's groups: {outside:?}\n{seen}"
        );
    }
}

/// The container's group is `husk-PID`, PID being `husk run`'s pid as husk sees it: in its
/// own PID namespace. Two `husk run`s in two PID namespaces (two CI jobs in containers of
/// their own sharing the host's hierarchies, each husk their PID 1) have the same PID: the
/// first v1 build refused the second, `husk: cgroup memory …/husk: File exists (EEXIST)`,
/// with a hint that the controller is not delegated. Both must run.
#[test]
fn two_husks_in_pid_namespaces_of_their_own_both_get_limits() {
    let bb = need!("two_husks_in_pid_namespaces_of_their_own_both_get_limits", busybox());
    let unshare = need!(
        "two_husks_in_pid_namespaces_of_their_own_both_get_limits",
        common::tool("unshare", "util-linux")
    );
    let _one = PID_1.lock().unwrap_or_else(|e| e.into_inner());
    // The first ends when told (a file in a bound directory), not by a kill: a SIGKILLed
    // husk leaves its group, and `husk-1` is never swept (PID 1 is always alive).
    let dir = std::env::temp_dir().join(format!("husk-redteam.{}.two", std::process::id()));
    fs::create_dir_all(&dir).expect("create the test's directory");
    let bind = format!("{}:/stop", dir.display());
    let run = |script: &str| {
        pid_1_husk(&unshare, &["--bind", &bind, "--rootfs", path_str(bb)], &["sh", "-c", script])
    };
    let mut first = Proc::start(&mut run("echo ready; while [ ! -e /stop/now ]; do sleep 0.05; done"));
    first.wait_stdout("ready");
    // The limit as the container sees it: v1's file, else v2's (the same collision).
    let limit = if Path::new("/sys/fs/cgroup/memory/tasks").exists() {
        "/sys/fs/cgroup/memory/memory.limit_in_bytes"
    } else {
        "/sys/fs/cgroup/memory.max"
    };
    let second = common::named::run(&mut run(&format!("cat {limit}")));
    fs::write(dir.join("now"), "").expect("tell the first to end");
    first.wait().expect(0, "ready\n", "");
    let _ = fs::remove_file(dir.join("now"));
    let _ = fs::remove_dir(&dir);
    second.expect(0, &format!("{}\n", 64u64 << 20), "");
}

/// The memory hierarchy's group of this test process (`/`, `/process_api/ID`) on the host,
/// as a directory; None where memory is not a v1 hierarchy.
fn own_memory_group() -> Option<std::path::PathBuf> {
    let cgroup = fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = cgroup
        .lines()
        .find_map(|l| l.splitn(3, ':').nth(2).filter(|_| l.split(':').nth(1) == Some("memory")))?;
    Some(Path::new("/sys/fs/cgroup/memory").join(path.trim_start_matches('/')))
}

/// `husk run --memory 64M --rootfs BB -- COMMAND`, to its end.
fn limited(bb: &Path, command: &[&str]) -> common::proc::Outcome {
    common::named::run(
        Command::new(HUSK).args(["run", "--memory", "64M", "--rootfs", path_str(bb), "--"]).args(command),
    )
}

/// [`limited`] `true`, which must succeed (and sweeps the parent).
fn limited_true(bb: &Path) {
    limited(bb, &["true"]).expect(0, "", "");
}

/// `husk run --memory 64M OPTS -- COMMAND` as PID 1 of a PID namespace of its own (killed
/// with unshare).
fn pid_1_husk(unshare: &Path, opts: &[&str], command: &[&str]) -> Command {
    let mut cmd = Command::new(unshare);
    cmd.args(["--pid", "--fork", "--kill-child", HUSK, "run", "--memory", "64M"]);
    cmd.args(opts).arg("--").args(command);
    cmd
}

/// Starts `husk run --memory 64M` as PID 1 of a PID namespace of its own, SIGKILLs it, and
/// returns the group it left: `husk-1` below `own` (the memory hierarchy's group of this
/// process).
fn leave_husk_1(unshare: &Path, bb: &Path, own: &Path) -> std::path::PathBuf {
    let stale = own.join("husk/husk-1");
    let mut killed = Proc::start(&mut pid_1_husk(
        unshare,
        &["--rootfs", path_str(bb)],
        &["sh", "-c", "echo ready; exec sleep 100034"],
    ));
    killed.wait_stdout("ready");
    assert!(stale.is_dir(), "{} not made", stale.display());
    common::proc::send(killed.pid(), common::proc::SIGKILL);
    let _ = killed.wait();
    stale
}

/// A SIGKILLed `husk run` leaves its groups, for the next start to sweep when their PID is
/// no process. A husk that was PID 1 of its PID namespace (a container's entrypoint) leaves
/// `husk-1`, and PID 1 is always a process: the first v1 build never swept it, and every
/// later husk that is PID 1 somewhere was refused (EEXIST) for good.
#[test]
fn a_killed_husk_that_was_pid_1_is_swept_too() {
    let bb = need!("a_killed_husk_that_was_pid_1_is_swept_too", busybox());
    let unshare = need!("a_killed_husk_that_was_pid_1_is_swept_too", common::tool("unshare", "util-linux"));
    let Some(own) = own_memory_group() else {
        host_branch(
            "a_killed_husk_that_was_pid_1_is_swept_too",
            "no v1 memory hierarchy: nothing to sweep there",
        );
        return;
    };
    let _one = PID_1.lock().unwrap_or_else(|e| e.into_inner());
    let stale = leave_husk_1(&unshare, bb, &own);
    // The next start below the same parent sweeps it.
    limited_true(bb);
    let left = stale.is_dir();
    let _ = fs::remove_dir(&stale);
    assert!(!left, "{} left after the next start", stale.display());
}

/// A container given the host's root (`--userns host --cap-add SYS_ADMIN`, no seccomp
/// filter) may make groups below its own; husk removes them with its own. Made deeper than
/// husk's removal walks (8 levels), they kept the container's group on the host after the
/// run, and for good: the sweep removes only empty groups.
#[test]
fn groups_made_deep_below_the_containers_own_are_removed_with_it() {
    let bb = need!("groups_made_deep_below_the_containers_own_are_removed_with_it", busybox());
    let Some(own) = own_memory_group() else {
        host_branch(
            "groups_made_deep_below_the_containers_own_are_removed_with_it",
            "no v1 memory hierarchy: its view is cgroup2's",
        );
        return;
    };
    let script = "mount -o remount,bind,rw /sys/fs/cgroup/memory && \
                  mkdir -p /sys/fs/cgroup/memory/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16 && echo made";
    let mut run = Proc::start(Command::new(HUSK).args([
        "run",
        "--userns",
        "host",
        "--cap-add",
        "SYS_ADMIN",
        "--seccomp",
        "unconfined",
        "--memory",
        "64M",
        "--rootfs",
        path_str(bb),
        "--",
        "sh",
        "-c",
        script,
    ]));
    let pid = run.pid();
    run.wait().expect(0, "made\n", "");
    let group = own.join(format!("husk/husk-{pid}"));
    let left = group.is_dir();
    remove_groups(&group);
    assert!(!left, "{} left after the run", group.display());
}

/// A husk whose pid names a stale group (an earlier husk's, killed, whose pid it now has:
/// reused, or PID 1 of PID namespaces of their own) sweeps it before making its own: the
/// first v1 build kept it, its pid being alive (its own), and refused the run with EEXIST.
#[test]
fn a_stale_group_of_husks_own_pid_is_swept_not_refused() {
    let bb = need!("a_stale_group_of_husks_own_pid_is_swept_not_refused", busybox());
    let unshare =
        need!("a_stale_group_of_husks_own_pid_is_swept_not_refused", common::tool("unshare", "util-linux"));
    let Some(own) = own_memory_group() else {
        host_branch("a_stale_group_of_husks_own_pid_is_swept_not_refused", "no v1 memory hierarchy");
        return;
    };
    let _one = PID_1.lock().unwrap_or_else(|e| e.into_inner());
    let stale = leave_husk_1(&unshare, bb, &own);
    let next = common::named::run(&mut pid_1_husk(&unshare, &["--rootfs", path_str(bb)], &["echo", "ran"]));
    let left = stale.is_dir();
    let _ = fs::remove_dir(&stale);
    next.expect(0, "ran\n", "");
    assert!(!left, "{} left after the run", stale.display());
}

/// The container's groups go below husk's own (`OWN/husk/husk-PID`), so that the limits of
/// the group husk was started in hold its containers too. The first v1 build copied at most
/// 500 bytes of husk's own path: started in a group whose path is longer (610 bytes here),
/// it made a truncated sibling of that group and put the container there, outside it, with
/// no error. Below husk's own group, or refused.
#[test]
fn the_container_goes_below_a_long_own_group_or_is_refused() {
    let bb = need!("the_container_goes_below_a_long_own_group_or_is_refused", busybox());
    if !Path::new("/sys/fs/cgroup/memory/tasks").exists() {
        host_branch("the_container_goes_below_a_long_own_group_or_is_refused", "no v1 memory hierarchy");
        return;
    }
    let top = format!("husk-redteam-own-{}", std::process::id());
    let level = "q".repeat(200);
    let own = Path::new("/sys/fs/cgroup/memory").join(format!("{top}/{level}/{level}/{level}"));
    fs::create_dir_all(&own).expect("make the long group");
    // husk started in it: the shell moves itself there, then execs husk.
    let script = format!(
        "echo $$ > {}/cgroup.procs && exec {HUSK} run --memory 64M --rootfs {} -- sh -c 'echo ready; exec sleep 100035'",
        own.display(),
        path_str(bb)
    );
    let mut run = Proc::start(Command::new("sh").args(["-c", &script]));
    let mut made = Vec::new();
    // Until the container is up, or husk refused (and ended).
    let deadline = std::time::Instant::now() + common::proc::DEADLINE;
    while !run.stdout.text().contains("ready") && run.running() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let run_ran = run.stdout.text().contains("ready");
    if run_ran {
        let top_dir = Path::new("/sys/fs/cgroup/memory").join(&top);
        let mut stack = vec![top_dir];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    if entry.file_name().to_string_lossy().starts_with("husk-") {
                        made.push(entry.path());
                    }
                    stack.push(entry.path());
                }
            }
        }
    }
    if run_ran {
        common::proc::send(run.pid(), common::proc::SIGTERM);
    }
    let ended = run.wait();
    remove_parent_everywhere(&top);
    assert!(run_ran || ended.status.code() == Some(125), "{ended}");
    assert!(!made.is_empty() || !run_ran, "no group found, yet the container ran");
    for group in &made {
        assert!(group.starts_with(&own), "the container's group {} is not below husk's own", group.display());
    }
}

/// Anyone who may read a group's directory (cgroupfs makes them 0755) may flock it, and
/// husk's groups are told from a dead husk's by their locks (see src/cgroup/mod.rs, `make`).
/// A stranger — an ordinary user — holding the parent `husk` group locked, exclusively or
/// shared, and every group in it, must neither keep `husk run --memory` waiting (it waits
/// 100 ms at most for a sweep to end) nor make it fail, nor leave its group behind.
#[test]
fn a_strangers_locks_neither_stall_nor_fail_a_limited_run() {
    let bb = need!("a_strangers_locks_neither_stall_nor_fail_a_limited_run", busybox());
    let stranger = need!("a_strangers_locks_neither_stall_nor_fail_a_limited_run", common::user::huskci2());
    let Some(own) = own_memory_group() else {
        host_branch(
            "a_strangers_locks_neither_stall_nor_fail_a_limited_run",
            "no v1 memory hierarchy: the same locks are checked by the v2 tests' runs",
        );
        return;
    };
    let _one = PID_1.lock().unwrap_or_else(|e| e.into_inner());
    let parent = own.join("husk");
    // The parent exists once a limited run has made it.
    limited_true(bb);
    for mode in ["--exclusive", "--shared"] {
        // flock(1) holds the lock while its sleep runs (`-o`: only flock, not the sleep, so
        // that killing flock releases it); "locked" once it has it.
        let mut holder = Proc::start(stranger.command("flock").args([mode, "-o"]).arg(&parent).args([
            "sh",
            "-c",
            "echo locked; exec sleep 100036",
        ]));
        holder.wait_stdout("locked");
        let started = std::time::Instant::now();
        let run = limited(bb, &["cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]);
        let took = started.elapsed();
        // The sleep first: it holds flock's output pipes.
        common::proc::kill_mentioning("sleep 100036");
        common::proc::send(holder.pid(), common::proc::SIGKILL);
        let _ = holder.wait();
        run.expect(0, &format!("{}\n", 64u64 << 20), "");
        assert!(took < std::time::Duration::from_secs(2), "{mode}: the run took {took:?}");
    }
    let left: Vec<_> = fs::read_dir(&parent)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("husk-"))
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "groups left: {left:?}");
}
