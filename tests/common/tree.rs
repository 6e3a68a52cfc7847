//! Process-tree helpers: /proc/PID/stat as `(parent, state)`, whether a process lives, its
//! namespaces and who shares its PID namespace (run, named), killing a whole
//! tree (a [`Proc`](super::proc::Proc) dropped unreaped, unless it says
//! [`Kill::Process`](super::proc::Kill::Process)), and the more generous [`PATIENCE`] of the
//! binaries that run python3 in containers (escape, privileges, exec_race).

// Each test binary compiles this module and uses a different subset of it.
#![allow(dead_code)]

use super::proc::{Patience, SIGKILL, kill, pids};
use std::fs;
use std::thread;
use std::time::Duration;

/// How long one run may take before the test fails: only reached when something is broken,
/// so generous (python3 in a container, tests in parallel, small machines).
pub const DEADLINE: Duration = Duration::from_secs(60);

/// How often a condition is polled while waiting for it.
pub const POLL: Duration = Duration::from_millis(5);

/// [`DEADLINE`] and [`POLL`], for waits and for a [`Proc`](super::proc::Proc).
pub const PATIENCE: Patience = Patience { deadline: DEADLINE, poll: POLL };

/// `(parent, state)` of a process, from /proc/PID/stat.
pub fn stat(pid: i32) -> Option<(i32, char)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = text[text.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?.chars().next()?;
    Some((fields.next()?.parse().ok()?, state))
}

/// The parent of a live process (none for a zombie).
pub fn ppid(pid: i32) -> Option<i32> {
    stat(pid).filter(|&(_, state)| state != 'Z').map(|(ppid, _)| ppid)
}

/// Whether `pid` exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    ppid(pid).is_some()
}

/// The namespace `kind` of `pid` (`kind:[inode]`).
pub fn namespace(pid: i32, kind: &str) -> Option<String> {
    Some(fs::read_link(format!("/proc/{pid}/ns/{kind}")).ok()?.to_string_lossy().into_owned())
}

/// Live processes in the PID namespace `ns`.
pub fn in_pid_namespace(ns: &str) -> Vec<i32> {
    pids().into_iter().filter(|&pid| alive(pid) && namespace(pid, "pid").as_deref() == Some(ns)).collect()
}

/// Kills every live descendant of `root` (repeating while new ones appear), then `root`.
pub fn kill_tree(root: i32) {
    for _ in 0..200 {
        let table: Vec<(i32, i32)> = pids()
            .into_iter()
            .filter_map(|pid| stat(pid).filter(|&(_, state)| state != 'Z').map(|(ppid, _)| (pid, ppid)))
            .collect();
        let mut live = Vec::new();
        let mut queue = vec![root];
        while let Some(parent) = queue.pop() {
            for &(pid, _) in table.iter().filter(|&&(_, ppid)| ppid == parent) {
                queue.push(pid);
                live.push(pid);
            }
        }
        if live.is_empty() {
            break;
        }
        for pid in live {
            kill(pid, SIGKILL);
        }
        thread::sleep(POLL);
    }
    kill(root, SIGKILL);
}
