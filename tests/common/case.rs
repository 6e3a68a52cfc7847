//! One test's world, as the `husk run` binaries keep it (run, named, privileges, escape): a
//! fresh directory whose path is the test's marker, `husk run` commands that carry the
//! marker, the wait for whatever mentions it to end, and the host mount table lines a test
//! watches.

// Each test binary compiles this module and uses a different subset of it.
#![allow(dead_code)]

use super::proc::{HUSK, Patience, mentioning, path_str};
use super::rootfs;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh, empty directory at `path` (whatever an earlier run left there removed): its
/// canonical path, and that path as the test's marker.
pub fn fresh_dir(path: &Path) -> (PathBuf, String) {
    rootfs::remove_tree(path).unwrap_or_else(|why| panic!("{why}"));
    fs::create_dir_all(path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
    let dir = path.canonicalize().unwrap();
    let marker = path_str(&dir).to_string();
    (dir, marker)
}

/// `husk run OPTS -- COMMAND...`
pub fn husk_run(opts: &[&str], command: &[&str]) -> Command {
    let mut cmd = Command::new(HUSK);
    cmd.arg("run").args(opts).arg("--").args(command);
    cmd
}

/// `husk run OPTS -- sh -c SCRIPT MARKER` (the marker is the script's `$0`).
pub fn husk_sh(opts: &[&str], script: &str, marker: &str) -> Command {
    husk_run(opts, &["sh", "-c", script, marker])
}

/// Waits, within `patience`, until no process mentions `marker` any more: the ones `after`
/// left have ended.
pub fn wait_unmentioned(marker: &str, after: &str, patience: Patience) {
    patience.wait_until(
        || format!("the processes left by {after} to end: {:?}", mentioning(marker)),
        || mentioning(marker).is_empty(),
    );
}

/// The lines of the host's /proc/self/mountinfo that mention the watched paths, and what they
/// were when the last path was added: only those, since other tests run in parallel.
pub struct MountWatch {
    watched: Vec<String>,
    before: BTreeSet<String>,
}

impl MountWatch {
    /// Watches the lines mentioning any of `paths`.
    pub fn new(paths: &[&Path]) -> MountWatch {
        let watched = paths.iter().map(|p| path_str(p).to_string()).collect();
        let mut watch = MountWatch { watched, before: BTreeSet::new() };
        watch.before = watch.lines();
        watch
    }

    /// Watches the lines mentioning `path` too.
    pub fn add(&mut self, path: &Path) {
        self.watched.push(path_str(path).to_string());
        self.before = self.lines();
    }

    fn lines(&self) -> BTreeSet<String> {
        fs::read_to_string("/proc/self/mountinfo")
            .expect("read /proc/self/mountinfo")
            .lines()
            .filter(|line| self.watched.iter().any(|w| line.contains(w.as_str())))
            .map(str::to_string)
            .collect()
    }

    /// Asserts that the watched lines are as they were.
    pub fn assert_unchanged(&self, after: &str) {
        let now = self.lines();
        assert!(
            now == self.before,
            "the host mount table changed after {after}\n  appeared: {:#?}\n  disappeared: {:#?}",
            now.difference(&self.before).collect::<Vec<_>>(),
            self.before.difference(&now).collect::<Vec<_>>()
        );
    }
}
