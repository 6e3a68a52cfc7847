//! Process-tree helpers shared by the binaries that run python3 in containers (escape,
//! privileges; named uses [`stat`]): their more generous deadline and poll interval,
//! /proc/PID/stat as `(parent, state)`, the live processes mentioning a marker, and
//! killing a whole tree.

// Each test binary compiles this module and uses a different subset of it.
#![allow(dead_code)]

use super::proc::{SIGKILL, cmdline, kill, pids};
use std::fs;
use std::thread;
use std::time::Duration;

/// How long one run may take before the test fails: only reached when something is broken,
/// so generous (python3 in a container, tests in parallel, small machines).
pub const DEADLINE: Duration = Duration::from_secs(60);

/// How often a condition is polled while waiting for it.
pub const POLL: Duration = Duration::from_millis(5);

/// `(parent, state)` of a process, from /proc/PID/stat.
pub fn stat(pid: i32) -> Option<(i32, char)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = text[text.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?.chars().next()?;
    Some((fields.next()?.parse().ok()?, state))
}

/// Live processes (this one excluded) whose arguments mention `marker`.
pub fn mentioning(marker: &str) -> Vec<(i32, String)> {
    let me = std::process::id() as i32;
    pids()
        .into_iter()
        .filter(|&pid| pid != me && stat(pid).is_some_and(|(_, state)| state != 'Z'))
        .map(|pid| (pid, cmdline(pid)))
        .filter(|(_, args)| args.contains(marker))
        .collect()
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
