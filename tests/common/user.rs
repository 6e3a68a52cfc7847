//! Ordinary users, for the rootless tests (tests/rootless.rs): who they are ([`User`]), how a
//! command runs as one ([`User::command`]), and the fixtures they own.
//!
//! `.ci/run` makes two: `huskci`, with subordinate ids in /etc/subuid and /etc/subgid (husk
//! maps ids 1..N inside to them through newuidmap/newgidmap), and `huskci2`, with none (the
//! single mapping `0 UID 1` husk writes itself). Each has `/run/user/UID` (0700, its own), as
//! a login would give it. Missing here, they are [`missing`] (a failure in CI); to run the
//! tests locally, make them as `.ci/run` does.
//!
//! A command runs as the user through `setpriv --reuid --regid --init-groups` (util-linux),
//! which execs it: the pid the test holds is the command's own (`husk run`), so signals sent
//! to it reach husk. The environment is a login's: `HOME`, `USER`, `LOGNAME`, `PATH` and
//! `XDG_RUNTIME_DIR=/run/user/UID`, nothing of the test's; the working directory is `/`.
//!
//! The fixtures are copies owned by the user, in directories every parent of which the user
//! can traverse but not write (target/ is root's, 0755): the user can use them, not change
//! the shared trees they come from. Where the user cannot reach target/ (a checkout under
//! root's 0700 home, as CI may have it), they go under [`FALLBACK`] instead, and the user
//! runs a copy of the husk binary kept there ([`User::husk_binary`]).
//! - [`User::busybox`]: the busybox tree, every file the user's (root inside, in the user's
//!   namespace), under `target/tmp/rootless/busybox-NAME`.
//! - [`User::debian`]: for a user with subordinate ids, the Debian tree with its owners
//!   shifted as the user namespace sees them: host 0 → the user's uid, n ≥ 1 → SUBSTART+n-1
//!   (so `_apt`, 42, is SUBSTART+41 on the host and 42 inside). Kept under
//!   `target/rootfs/debian-bookworm-NAME-SUBSTART` across runs (about 260 MB).

// Each test binary compiles this module and uses a different subset of it.
#![allow(dead_code)]

use super::missing;
use super::rootfs::{self, copy_tree, remove_tree, require_root};
use std::fs::{self, File};
use std::os::unix::fs::{MetadataExt, PermissionsExt, lchown};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The user with subordinate ids (`.ci/run`).
pub const WITH_SUBIDS: &str = "huskci";

/// The user without subordinate ids (`.ci/run`).
pub const WITHOUT_SUBIDS: &str = "huskci2";

/// Written last into a finished fixture.
const COMPLETE: &str = ".husk-fixture-complete";

/// Where the users' fixtures and the husk binary they run go when they cannot reach target/
/// (root's, 0755, made by the tests).
pub const FALLBACK: &str = "/var/tmp/husk-rootless";

/// A range of subordinate ids: the first, how many.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub start: u32,
    pub count: u32,
}

/// An ordinary user of this host.
#[derive(Debug)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    /// Its lines in /etc/subuid and /etc/subgid (the first of each), if both exist.
    pub subids: Option<(Range, Range)>,
}

/// `huskci`: has subordinate ids.
pub fn huskci() -> Result<&'static User, String> {
    static USER: OnceLock<Result<User, String>> = OnceLock::new();
    USER.get_or_init(|| lookup(WITH_SUBIDS, true)).as_ref().map_err(Clone::clone)
}

/// `huskci2`: has none.
pub fn huskci2() -> Result<&'static User, String> {
    static USER: OnceLock<Result<User, String>> = OnceLock::new();
    USER.get_or_init(|| lookup(WITHOUT_SUBIDS, false)).as_ref().map_err(Clone::clone)
}

/// The user `name` from /etc/passwd, checked to have (`subids`) or not have subordinate ids,
/// with its /run/user/UID; or why the tests cannot use it ([`missing`]: a failure in CI).
fn lookup(name: &str, subids: bool) -> Result<User, String> {
    require_root()?;
    let passwd = fs::read_to_string("/etc/passwd").map_err(|e| format!("read /etc/passwd: {e}"))?;
    let fields: Vec<&str> = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 7 && f[0] == name)
        .ok_or_else(|| missing(format!("no user {name} (.ci/run makes it)")))?;
    let uid: u32 = fields[2].parse().map_err(|_| format!("{name}'s uid {:?}", fields[2]))?;
    let gid: u32 = fields[3].parse().map_err(|_| format!("{name}'s gid {:?}", fields[3]))?;
    let ranges = (subordinate("/etc/subuid", name, uid), subordinate("/etc/subgid", name, uid));
    let found = match ranges {
        (Some(u), Some(g)) => Some((u, g)),
        (None, None) => None,
        _ => return Err(missing(format!("{name} has a range in only one of /etc/subuid, /etc/subgid"))),
    };
    if found.is_some() != subids {
        let want = if subids { "needs" } else { "must have no" };
        return Err(missing(format!(
            "{name} {want} subordinate ids in /etc/subuid and /etc/subgid (.ci/run)"
        )));
    }
    if subids && !(Path::new("/usr/bin/newuidmap").exists() && Path::new("/usr/bin/newgidmap").exists()) {
        return Err(missing("no newuidmap/newgidmap (apt-get install uidmap)"));
    }
    let runtime = PathBuf::from(format!("/run/user/{uid}"));
    match fs::metadata(&runtime) {
        Ok(m) if m.uid() == uid && m.mode() & 0o777 == 0o700 => {}
        _ => return Err(missing(format!("no {} of {name}'s, 0700 (.ci/run makes it)", runtime.display()))),
    }
    Ok(User { name: name.to_string(), uid, gid, home: PathBuf::from(fields[5]), subids: found })
}

/// The first range `NAME:START:COUNT` or `UID:START:COUNT` of `name` in `file`.
fn subordinate(file: &str, name: &str, uid: u32) -> Option<Range> {
    let text = fs::read_to_string(file).ok()?;
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.trim().split(':').collect();
        if f.len() != 3 || (f[0] != name && f[0] != uid.to_string()) {
            return None;
        }
        let range = Range { start: f[1].parse().ok()?, count: f[2].parse().ok()? };
        (range.count > 0).then_some(range)
    })
}

impl User {
    /// `/run/user/UID`, its `XDG_RUNTIME_DIR`.
    pub fn runtime_dir(&self) -> PathBuf {
        PathBuf::from(format!("/run/user/{}", self.uid))
    }

    /// Its registry of named containers: `$XDG_RUNTIME_DIR/husk`.
    pub fn registry(&self) -> PathBuf {
        self.runtime_dir().join("husk")
    }

    /// `PROGRAM` run as this user (see the module's doc): `setpriv` execs it, so the pid is
    /// the program's.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("setpriv");
        cmd.arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.gid))
            .arg("--init-groups")
            .arg("--")
            .arg(program)
            .env_clear()
            .env("HOME", &self.home)
            .env("USER", &self.name)
            .env("LOGNAME", &self.name)
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("XDG_RUNTIME_DIR", self.runtime_dir())
            .current_dir("/");
        cmd
    }

    /// Whether this user can reach `path` (`test -e`, so every parent is searched as the
    /// user: modes, ACLs and all).
    pub fn reaches(&self, path: &Path) -> bool {
        let status = self.command("test").arg("-e").arg(path).status();
        status.unwrap_or_else(|e| panic!("run test -e as {}: {e}", self.name)).success()
    }

    /// The husk binary the users run: the one under test, or, where a user cannot reach it,
    /// a copy in [`FALLBACK`] (decided once, by the first user asked).
    pub fn husk_binary(&self) -> PathBuf {
        static BINARY: OnceLock<PathBuf> = OnceLock::new();
        BINARY
            .get_or_init(|| {
                let tested = Path::new(super::proc::HUSK);
                if self.reaches(tested) {
                    return tested.to_path_buf();
                }
                let dir = Path::new(FALLBACK);
                make_root_dir(dir).unwrap_or_else(|why| panic!("{why}"));
                remove_stale_copies(dir);
                let copy = dir.join(format!("husk.{}", std::process::id()));
                // cp, not std: this process never holds an executable open for writing (see
                // rootfs::copy_tree).
                let out = Command::new("cp").arg(tested).arg(&copy).output().expect("run cp");
                assert!(out.status.success(), "cp {} {}: {out:?}", tested.display(), copy.display());
                copy
            })
            .clone()
    }

    /// `husk ARGS...` as this user.
    pub fn husk(&self, args: &[&str]) -> Command {
        let mut cmd = self.command(self.husk_binary());
        cmd.args(args);
        cmd
    }

    /// `husk run OPTS -- COMMAND...` as this user.
    pub fn run(&self, opts: &[&str], command: &[&str]) -> Command {
        let mut cmd = self.husk(&["run"]);
        cmd.args(opts).arg("--").args(command);
        cmd
    }

    /// `husk run OPTS -- sh -c SCRIPT MARKER` as this user (the marker is the script's `$0`).
    pub fn sh(&self, opts: &[&str], script: &str, marker: &str) -> Command {
        self.run(opts, &["sh", "-c", script, marker])
    }

    /// Makes `path` (and, with `recursive`, everything below it) this user's, links
    /// themselves rather than what they point to.
    pub fn chown(&self, path: &Path, recursive: bool) {
        let mut cmd = Command::new("chown");
        if recursive {
            cmd.arg("-R");
        }
        let out = cmd
            .arg("-h")
            .arg(format!("{}:{}", self.uid, self.gid))
            .arg(path)
            .output()
            .unwrap_or_else(|e| panic!("run chown: {e}"));
        assert!(out.status.success(), "chown {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    }

    /// A new directory `path` owned by this user, mode `mode`.
    pub fn mkdir(&self, path: &Path, mode: u32) -> PathBuf {
        fs::create_dir(path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
        self.chown(path, false);
        path.to_path_buf()
    }

    /// The busybox tree, this user's (see the module's doc). Shared by the tests of one
    /// binary: a test that writes into its rootfs copies it first ([`User::busybox_copy`]).
    pub fn busybox(&'static self) -> Result<&'static Path, String> {
        static TREES: OnceLock<std::sync::Mutex<Vec<(String, &'static Path)>>> = OnceLock::new();
        let shared = rootfs::busybox()?;
        let mut trees = TREES.get_or_init(Default::default).lock().unwrap();
        if let Some((_, path)) = trees.iter().find(|(n, _)| *n == self.name) {
            return Ok(path);
        }
        let parent = self.reachable(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("rootless"))?;
        let done = parent.join(format!("busybox-{}", self.name));
        derive(&parent, &done, |tmp| {
            copy_tree(shared, tmp);
            self.chown(tmp, true);
            Ok(())
        })?;
        let path: &'static Path = Box::leak(done.into_boxed_path());
        trees.push((self.name.clone(), path));
        Ok(path)
    }

    /// A private copy of [`User::busybox`] at `dir/rootfs`, this user's, free to change.
    pub fn busybox_copy(&'static self, dir: &Path) -> Result<PathBuf, String> {
        let tree = self.busybox()?;
        let copy = dir.join("rootfs");
        copy_tree(tree, &copy);
        Ok(copy)
    }

    /// The Debian tree with its owners shifted into this user's range (see the module's doc);
    /// only for a user with subordinate ids. Shared: use it `--read-only`.
    pub fn debian(&'static self) -> Result<&'static Path, String> {
        static TREE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
        let (uids, gids) = self
            .subids
            .ok_or_else(|| format!("{} has no subordinate ids to shift a Debian tree into", self.name))?;
        let result = TREE.get_or_init(|| {
            let shared = rootfs::debian()?;
            let parent = self.reachable(shared.parent().expect("target/rootfs"))?;
            let done = parent.join(format!("debian-bookworm-{}-{}-{}", self.name, uids.start, gids.start));
            derive(&parent, &done, |tmp| {
                copy_tree(shared, tmp);
                shift_tree(tmp, (self.uid, uids), (self.gid, gids))
            })?;
            Ok(done)
        });
        result.as_ref().map(PathBuf::as_path).map_err(Clone::clone)
    }
}

impl User {
    /// `dir` (made, root's, 0755) if this user can reach it, else [`FALLBACK`] (the same).
    fn reachable(&self, dir: &Path) -> Result<PathBuf, String> {
        make_root_dir(dir)?;
        if self.reaches(dir) {
            return Ok(dir.to_path_buf());
        }
        make_root_dir(Path::new(FALLBACK))?;
        Ok(PathBuf::from(FALLBACK))
    }
}

/// Makes `dir` (and its parents) if missing, and makes it root's, 0755: others may search
/// it, only root may write in it.
fn make_root_dir(dir: &Path) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    let meta = fs::symlink_metadata(dir).map_err(|e| format!("lstat {}: {e}", dir.display()))?;
    if !meta.is_dir() || meta.uid() != 0 {
        return Err(format!("{} is not root's own directory", dir.display()));
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("chmod {}: {e}", dir.display()))
}

/// Removes the copies `husk.PID` of test processes that are gone.
fn remove_stale_copies(dir: &Path) {
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let gone = name
            .strip_prefix("husk.")
            .and_then(|pid| pid.parse::<u32>().ok())
            .is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists());
        if gone {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Builds the fixture `done` (under `parent`, root's, 0755) with `build` into a temporary
/// sibling, renamed into place when complete; one build at a time across test binaries (a
/// lock file), reused when it exists complete.
fn derive(parent: &Path, done: &Path, build: impl FnOnce(&Path) -> Result<(), String>) -> Result<(), String> {
    make_root_dir(parent)?;
    let name = done.file_name().unwrap().to_string_lossy().into_owned();
    let lock = File::create(parent.join(format!("{name}.lock"))).map_err(|e| format!("lock: {e}"))?;
    lock.lock().map_err(|e| format!("lock: {e}"))?;
    if done.join(COMPLETE).exists() {
        return Ok(());
    }
    remove_tree(done)?;
    let tmp = parent.join(format!("{name}.tmp-{}", std::process::id()));
    remove_tree(&tmp)?;
    build(&tmp)?;
    fs::write(tmp.join(COMPLETE), "complete\n").map_err(|e| format!("write the fixture's marker: {e}"))?;
    fs::rename(&tmp, done).map_err(|e| format!("rename {} -> {}: {e}", tmp.display(), done.display()))
}

/// The host id a user namespace with the maps `0 OWN 1` + `1 RANGE.start RANGE.count` shows
/// as `inside`, if it maps it.
pub fn shifted(inside: u32, own: u32, range: Range) -> Option<u32> {
    match inside {
        0 => Some(own),
        n if n - 1 < range.count => Some(range.start + n - 1),
        _ => None,
    }
}

/// Shifts every owner under `root` (links themselves too) as [`shifted`] says, keeping each
/// mode: chown clears the set-user-ID and set-group-ID bits, which are put back.
fn shift_tree(root: &Path, uids: (u32, Range), gids: (u32, Range)) -> Result<(), String> {
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = fs::symlink_metadata(&path).map_err(|e| format!("lstat {}: {e}", path.display()))?;
        let uid = shifted(meta.uid(), uids.0, uids.1)
            .ok_or_else(|| format!("{}: uid {} outside the range", path.display(), meta.uid()))?;
        let gid = shifted(meta.gid(), gids.0, gids.1)
            .ok_or_else(|| format!("{}: gid {} outside the range", path.display(), meta.gid()))?;
        lchown(&path, Some(uid), Some(gid)).map_err(|e| format!("lchown {}: {e}", path.display()))?;
        if !meta.file_type().is_symlink() {
            fs::set_permissions(&path, fs::Permissions::from_mode(meta.mode() & 0o7777))
                .map_err(|e| format!("chmod {}: {e}", path.display()))?;
        }
        if meta.is_dir() {
            for entry in fs::read_dir(&path).map_err(|e| format!("read_dir {}: {e}", path.display()))? {
                stack.push(entry.map_err(|e| format!("read_dir {}: {e}", path.display()))?.path());
            }
        }
    }
    Ok(())
}
