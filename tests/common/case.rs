//! One test's world ([`Case`]), as every binary that starts processes keeps it (run, named,
//! exec_race, privileges, escape, init): a fresh directory whose path is the test's marker,
//! `husk run` commands that carry the marker, the wait for whatever mentions it to end, and
//! the host mount table lines a test watches.

// Each test binary compiles this module and uses a different subset of it.
#![allow(dead_code)]

use super::proc::{HUSK, Outcome, Patience, Proc, mentioning, path_str};
use super::rootfs;
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One test's world: its directory, whose path is the marker every container command
/// carries in its arguments (so husk's and the command's /proc/PID/cmdline hold it); the
/// extra host directories it made; the host mount table lines it watches; how long its waits
/// may take. On drop the directories are removed (refused while something is mounted there).
pub struct Case {
    pub test: String,
    pub dir: PathBuf,
    pub marker: String,
    pub host_dirs: Vec<PathBuf>,
    pub mounts: MountWatch,
    pub patience: Patience,
}

impl Case {
    /// A fresh directory `<temp>/husk-<binary>.<pid>.<test>.t` for test `test`, its waits
    /// held to [`Patience::DEFAULT`]; `rootfs` are the shared fixture trees it will use
    /// (their mount table lines are watched too).
    pub fn new(test: &str, rootfs: &[&Path]) -> Case {
        Case::at(&std::env::temp_dir(), test, rootfs)
    }

    /// [`Case::new`], the directory under `parent` instead.
    pub fn at(parent: &Path, test: &str, rootfs: &[&Path]) -> Case {
        let (dir, marker) = fresh_dir(&parent.join(format!("{}.{}.{test}.t", prefix(), std::process::id())));
        // Others (uid 1000 in a container or a host-side control) must be able to reach what
        // is inside.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", dir.display()));
        let mounts = MountWatch::new(&[&[dir.as_path()], rootfs].concat());
        Case {
            test: test.to_string(),
            dir,
            marker,
            host_dirs: Vec::new(),
            mounts,
            patience: Patience::DEFAULT,
        }
    }

    /// The same case, its runs and waits held to `patience`.
    pub fn patient(mut self, patience: Patience) -> Case {
        self.patience = patience;
        self
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A new directory `<dir>/<name>`.
    pub fn mkdir(&self, name: &str) -> PathBuf {
        let dir = self.join(name);
        fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        dir
    }

    /// A new, empty directory `/<unique>` at the host's root (removed on drop), watched.
    pub fn host_root_dir(&mut self, label: &str) -> PathBuf {
        let dir = PathBuf::from(format!("/{}.{}.{}.{label}", prefix(), std::process::id(), self.test));
        rootfs::remove_tree(&dir).unwrap_or_else(|why| panic!("{why}"));
        fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        self.host_dirs.push(dir.clone());
        self.mounts.add(&dir);
        dir
    }

    /// A private copy of `tree` at `<dir>/rootfs`, free to change.
    pub fn rootfs_copy(&self, tree: &Path) -> PathBuf {
        let copy = self.join("rootfs");
        rootfs::copy_tree(tree, &copy);
        copy
    }

    /// `husk run OPTS -- sh -c SCRIPT MARKER` (the marker is the script's `$0`).
    pub fn sh(&self, opts: &[&str], script: &str) -> Command {
        husk_sh(opts, script, &self.marker)
    }

    /// `husk run OPTS -- COMMAND...`
    pub fn cmd(&self, opts: &[&str], command: &[&str]) -> Command {
        husk_run(opts, command)
    }

    /// Runs `cmd` (stdin /dev/null) to its end, then checks that nothing was left behind.
    pub fn run(&self, cmd: &mut Command) -> Outcome {
        let outcome = Proc::start(cmd).patient(self.patience).wait();
        self.assert_clean(&outcome.what);
        outcome
    }

    /// No process mentions the marker any more, and the watched host mount table lines are
    /// as they were.
    pub fn assert_clean(&self, after: &str) {
        wait_unmentioned(&self.marker, after, self.patience);
        self.mounts.assert_unchanged(after);
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        for dir in self.host_dirs.iter().chain([&self.dir]) {
            if let Err(why) = rootfs::remove_tree(dir) {
                eprintln!("cleanup: {why}");
            }
        }
    }
}

/// `husk-<the test binary>` (`husk-run`, `husk-exec-race`, ...): how a case's paths begin.
fn prefix() -> String {
    format!("husk-{}", env!("CARGO_CRATE_NAME").replace('_', "-"))
}

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
