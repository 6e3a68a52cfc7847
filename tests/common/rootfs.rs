//! Root filesystem fixtures for the `husk run` tests.
//!
//! - [`busybox`]: a tiny tree, `bin/busybox` (the static one from busybox-static) plus its
//!   applet links, an `/etc/passwd` with root and a user 1000, and empty mount points. Built
//!   once per test binary under `target/tmp/rootfs/busybox`.
//! - [`debian`]: a Debian bookworm minbase tree with python3, made by `debootstrap`. Built once
//!   and kept under `target/rootfs/debian-bookworm` (about 45 s and 260 MB).
//!
//! Both are built in a temporary sibling and renamed into place, so a test thread or another
//! test binary never sees half a tree; the tree holds a marker file, written last, that says
//! it is complete. Tests share these trees and must not write into them: a test that needs to
//! change a rootfs copies it first ([`copy_tree`]).
//!
//! A missing prerequisite (not root, no busybox-static, no debootstrap) gives `Err(reason)`:
//! the test prints it and skips — except under `CI`, where it is a failure
//! ([`missing`](super::missing)). A prerequisite that is present but fails (debootstrap
//! cannot fetch the archive) fails the tests.

use super::{missing, tool};
use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

/// The busybox the fixtures copy: Debian's busybox-static puts a static one here.
const HOST_BUSYBOX: &str = "/bin/busybox";

/// Written last into a finished tree.
const COMPLETE: &str = ".husk-fixture-complete";

/// Debian's own redirector, tried when apt's configured mirror fails or there is none.
const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";

/// Lets a developer point debootstrap at another mirror (or a local cache such as apt-cacher).
const MIRROR_ENV: &str = "HUSK_TEST_DEBIAN_MIRROR";

/// What a fixture came to.
enum Fixture {
    Ready(PathBuf),
    /// A prerequisite is missing; the reason for skipping.
    Skip(String),
    /// It should have worked and did not.
    Failed(String),
}

impl Fixture {
    fn get(&'static self) -> Result<&'static Path, String> {
        match self {
            Fixture::Ready(path) => Ok(path),
            Fixture::Skip(reason) => Err(reason.clone()),
            Fixture::Failed(why) => panic!("rootfs fixture failed: {why}"),
        }
    }
}

/// `Ok` when running as root (namespaces, mounts and debootstrap need it).
pub fn require_root() -> Result<(), String> {
    if fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
        Ok(())
    } else {
        Err(missing("needs root (namespaces and mounts)"))
    }
}

/// Cargo's target directory (`target/`), the parent of `CARGO_TARGET_TMPDIR`.
fn target_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).to_path_buf()
}

// ---------------------------------------------------------------------------------------
// Trees: mounts, copying, removal
// ---------------------------------------------------------------------------------------

/// The mount points, as this process's /proc/self/mountinfo shows them, at or below `path`.
pub fn mounts_under(path: &Path) -> Vec<String> {
    let path = path.to_string_lossy();
    let path = path.trim_end_matches('/');
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|point| point.replace("\\040", " "))
        .filter(|point| point == path || point.strip_prefix(path).is_some_and(|rest| rest.starts_with('/')))
        .collect()
}

/// Removes the tree at `path`, if any. Refuses (and leaves it) when something is mounted at
/// or below it: deleting through a mount that leaked from a container could delete files of
/// the host (a bind-mounted /dev, say). `rm --one-file-system` is the second guard.
pub fn remove_tree(path: &Path) -> Result<(), String> {
    if fs::symlink_metadata(path).is_err() {
        return Ok(());
    }
    let mounts = mounts_under(path);
    if !mounts.is_empty() {
        return Err(format!("not removing {}: mounted below it: {mounts:?}", path.display()));
    }
    let out = Command::new("rm")
        .args(["-rf", "--one-file-system", "--"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("run rm: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "rm -rf {}: {}: {}",
            path.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Copies the tree `src` to `dst` (which must not exist) with `cp -a`: links, modes and
/// owners kept. `cp` rather than std so that this multi-threaded process never holds an
/// executable open for writing (a concurrent fork would inherit it and exec would fail with
/// ETXTBSY).
pub fn copy_tree(src: &Path, dst: &Path) {
    let out = Command::new("cp").arg("-a").arg(src).arg(dst).stdin(Stdio::null()).output().expect("run cp");
    assert!(
        out.status.success(),
        "cp -a {} {}: {}: {}",
        src.display(),
        dst.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// Removes the leftovers `PREFIX<pid>` of builds whose process is gone.
fn remove_stale(parent: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(prefix) else {
            continue;
        };
        let alive = pid
            .parse::<u32>()
            .is_ok_and(|pid| pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists());
        if !alive && let Err(why) = remove_tree(&entry.path()) {
            eprintln!("rootfs fixture: {why}");
        }
    }
}

/// Renames the finished `tmp` to `done`. When another process got there first, its tree is
/// as good as ours: use it, drop ours.
fn publish(tmp: &Path, done: &Path) -> Fixture {
    fs::write(tmp.join(COMPLETE), "complete\n").expect("write the fixture's marker");
    match fs::rename(tmp, done) {
        Ok(()) => Fixture::Ready(done.to_path_buf()),
        Err(_) if done.join(COMPLETE).exists() => {
            if let Err(why) = remove_tree(tmp) {
                eprintln!("rootfs fixture: {why}");
            }
            Fixture::Ready(done.to_path_buf())
        }
        Err(e) => Fixture::Failed(format!("rename {} -> {}: {e}", tmp.display(), done.display())),
    }
}

// ---------------------------------------------------------------------------------------
// busybox
// ---------------------------------------------------------------------------------------

/// The shared busybox rootfs: `bin/busybox` and every applet link `busybox --list-full`
/// names (absolute links to `/bin/busybox`), `etc/passwd` and `etc/group` with root and
/// `user` (1000), and empty `proc sys dev tmp mnt srv root home/user`.
pub fn busybox() -> Result<&'static Path, String> {
    static TREE: OnceLock<Fixture> = OnceLock::new();
    TREE.get_or_init(build_shared_busybox).get()
}

fn build_shared_busybox() -> Fixture {
    if let Some(why) = static_busybox_problem() {
        return Fixture::Skip(missing(why));
    }
    let parent = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rootfs");
    fs::create_dir_all(&parent).expect("create target/tmp/rootfs");
    let done = parent.join("busybox");
    if done.join(COMPLETE).exists() {
        return Fixture::Ready(done);
    }
    remove_stale(&parent, "busybox.tmp-");
    let tmp = parent.join(format!("busybox.tmp-{}", std::process::id()));
    if let Err(why) = remove_tree(&tmp) {
        return Fixture::Failed(why);
    }
    match build_busybox(&tmp) {
        Ok(()) => publish(&tmp, &done),
        Err(why) => Fixture::Failed(why),
    }
}

/// Why /bin/busybox cannot serve a rootfs, if it cannot: it must exist and be static (no
/// PT_INTERP program header), since the rootfs has no C library.
fn static_busybox_problem() -> Option<String> {
    let mut header = Vec::new();
    let read = File::open(HOST_BUSYBOX).and_then(|f| f.take(64 * 1024).read_to_end(&mut header));
    if read.is_err() {
        return Some(format!("no {HOST_BUSYBOX} (apt-get install busybox-static)"));
    }
    let u16_at = |at: usize| header.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u64_at = |at: usize| header.get(at..at + 8).map(|b| u64::from_le_bytes(b.try_into().unwrap()));
    // ELF64 little-endian: e_phoff at 0x20, e_phentsize at 0x36, e_phnum at 0x38.
    let elf64 = header.starts_with(b"\x7fELF\x02\x01");
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38)) else {
        return Some(format!("{HOST_BUSYBOX} is not an ELF file"));
    };
    if !elf64 {
        return Some(format!("{HOST_BUSYBOX} is not a 64-bit ELF file"));
    }
    const PT_INTERP: u32 = 3;
    let dynamic = (0..usize::from(phnum)).any(|i| {
        let at = phoff as usize + i * usize::from(phentsize);
        header.get(at..at + 4).is_some_and(|b| u32::from_le_bytes(b.try_into().unwrap()) == PT_INTERP)
    });
    dynamic.then(|| format!("{HOST_BUSYBOX} is dynamically linked (apt-get install busybox-static)"))
}

/// Builds a busybox rootfs in the new directory `dir`.
pub fn build_busybox(dir: &Path) -> Result<(), String> {
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).map_err(|e| format!("mkdir {}: {e}", bin.display()))?;
    let busybox = bin.join("busybox");
    let cp =
        Command::new("cp").arg(HOST_BUSYBOX).arg(&busybox).status().map_err(|e| format!("run cp: {e}"))?;
    if !cp.success() {
        return Err(format!("cp {HOST_BUSYBOX} {}: {cp}", busybox.display()));
    }
    let list = Command::new(&busybox)
        .arg("--list-full")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("run busybox --list-full: {e}"))?;
    if !list.status.success() {
        return Err(format!("busybox --list-full: {}", list.status));
    }
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let applet = applet.trim().trim_start_matches('/');
        // Never link busybox onto itself: that would replace the binary with a loop.
        if applet.is_empty() || applet == "bin/busybox" || applet.contains("..") {
            continue;
        }
        let link = dir.join(applet);
        if fs::symlink_metadata(&link).is_ok() {
            continue;
        }
        if let Some(parent) = link.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("mkdir {}: {e}", parent.display()))?;
        }
        std::os::unix::fs::symlink("/bin/busybox", &link)
            .map_err(|e| format!("symlink {}: {e}", link.display()))?;
    }
    for sub in ["etc", "proc", "sys", "dev", "tmp", "mnt", "srv", "root", "home/user"] {
        let path = dir.join(sub);
        fs::create_dir_all(&path).map_err(|e| format!("mkdir {}: {e}", path.display()))?;
    }
    fs::set_permissions(dir.join("tmp"), fs::Permissions::from_mode(0o1777))
        .map_err(|e| format!("chmod tmp: {e}"))?;
    let files = [
        ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n"),
        ("etc/group", "root:x:0:\nuser:x:1000:\n"),
    ];
    for (name, text) in files {
        fs::write(dir.join(name), text).map_err(|e| format!("write {name}: {e}"))?;
    }
    let chown = Command::new("chown")
        .arg("1000:1000")
        .arg(dir.join("home/user"))
        .status()
        .map_err(|e| format!("run chown: {e}"))?;
    if !chown.success() {
        return Err(format!("chown home/user: {chown}"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Debian
// ---------------------------------------------------------------------------------------

/// The shared Debian bookworm rootfs (`debootstrap --variant=minbase --include=python3`),
/// kept across test runs under `target/rootfs/debian-bookworm`.
pub fn debian() -> Result<&'static Path, String> {
    static TREE: OnceLock<Fixture> = OnceLock::new();
    TREE.get_or_init(build_shared_debian).get()
}

fn build_shared_debian() -> Fixture {
    if let Err(why) = require_root() {
        return Fixture::Skip(why);
    }
    let debootstrap = match tool("debootstrap", "debootstrap") {
        Ok(path) => path,
        Err(why) => return Fixture::Skip(why),
    };
    let parent = target_dir().join("rootfs");
    fs::create_dir_all(&parent).expect("create target/rootfs");
    let done = parent.join("debian-bookworm");
    // One build at a time across test binaries: the others wait here and then reuse it.
    let lock_path = parent.join("debian-bookworm.lock");
    let lock = File::create(&lock_path).expect("create the fixture lock");
    lock.lock().expect("lock the fixture lock");
    if done.join(COMPLETE).exists() {
        return Fixture::Ready(done);
    }
    if let Err(why) = remove_tree(&done) {
        return Fixture::Failed(why);
    }
    remove_stale(&parent, "debian-bookworm.tmp-");
    let tmp = parent.join(format!("debian-bookworm.tmp-{}", std::process::id()));
    let log_path = parent.join("debian-bookworm.log");
    let mut failures = Vec::new();
    for mirror in mirrors() {
        if let Err(why) = remove_tree(&tmp) {
            return Fixture::Failed(why);
        }
        eprintln!(
            "rootfs fixture: debootstrap --variant=minbase --include=python3 bookworm {} {mirror} \
             (about a minute, ~260 MB; log: {})",
            tmp.display(),
            log_path.display()
        );
        let started = Instant::now();
        let log =
            OpenOptions::new().create(true).append(true).open(&log_path).expect("open the debootstrap log");
        let status = Command::new(&debootstrap)
            .args(["--variant=minbase", "--include=python3", "bookworm"])
            .arg(&tmp)
            .arg(&mirror)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup the log"))
            .stderr(log)
            .status();
        let leaked = mounts_under(&tmp);
        if !leaked.is_empty() {
            return Fixture::Failed(format!("debootstrap left mounts in {}: {leaked:?}", tmp.display()));
        }
        match status {
            Ok(s) if s.success() && tmp.join("usr/bin/python3").exists() => {
                let size = Command::new("du")
                    .args(["-sh"])
                    .arg(&tmp)
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                    .unwrap_or_default();
                eprintln!(
                    "rootfs fixture: Debian rootfs built from {mirror} in {:.0?}, {}",
                    started.elapsed(),
                    size.split_whitespace().next().unwrap_or("? bytes")
                );
                return publish(&tmp, &done);
            }
            Ok(s) => failures.push(format!("{mirror}: {s}")),
            Err(e) => failures.push(format!("{mirror}: cannot run debootstrap: {e}")),
        }
    }
    let _ = remove_tree(&tmp);
    let log = fs::read_to_string(&log_path).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(15).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Fixture::Failed(format!(
        "debootstrap failed ({}); end of {}:\n{}",
        failures.join("; "),
        log_path.display(),
        tail.join("\n")
    ))
}

/// Mirrors to try, best first: `$HUSK_TEST_DEBIAN_MIRROR`, the bookworm mirrors apt uses on
/// this machine (they are known to be reachable from here), then deb.debian.org.
fn mirrors() -> Vec<String> {
    let mut found: Vec<String> = std::env::var(MIRROR_ENV).into_iter().collect();
    found.extend(apt_mirrors());
    found.push(DEFAULT_MIRROR.to_string());
    let mut unique = Vec::new();
    for m in found {
        let m = m.trim_end_matches('/').to_string();
        if !m.is_empty() && !unique.contains(&m) {
            unique.push(m);
        }
    }
    unique
}

/// The URIs of apt's `deb` sources for the suite `bookworm` (not bookworm-security or
/// -updates), from /etc/apt/sources.list and sources.list.d/*.list (one-line format) and
/// sources.list.d/*.sources (deb822).
fn apt_mirrors() -> Vec<String> {
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(dir) = fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = dir.flatten().map(|e| e.path()).collect();
        more.sort();
        files.extend(more);
    }
    let mut uris = Vec::new();
    for file in files {
        let Ok(text) = fs::read_to_string(&file) else {
            continue;
        };
        match file.extension().and_then(|e| e.to_str()) {
            Some("sources") => uris.extend(deb822_mirrors(&text)),
            Some("list") | None => uris.extend(one_line_mirrors(&text)),
            _ => {}
        }
    }
    uris.retain(|u| u.starts_with("http://") || u.starts_with("https://"));
    uris
}

/// `deb [options] URI SUITE COMPONENT...` lines for bookworm.
fn one_line_mirrors(text: &str) -> Vec<String> {
    let mut uris = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        if words.next() != Some("deb") {
            continue;
        }
        let mut words = words.peekable();
        if words.peek().is_some_and(|w| w.starts_with('[')) {
            for w in words.by_ref() {
                if w.ends_with(']') {
                    break;
                }
            }
        }
        if let (Some(uri), Some("bookworm")) = (words.next(), words.next()) {
            uris.push(uri.to_string());
        }
    }
    uris
}

/// deb822 stanzas with `Types: deb`, `Suites:` holding bookworm and not `Enabled: no`.
fn deb822_mirrors(text: &str) -> Vec<String> {
    let mut uris = Vec::new();
    for stanza in text.split("\n\n") {
        let field = |name: &str| -> Vec<String> {
            stanza
                .lines()
                .filter(|l| !l.starts_with('#'))
                .find_map(|l| {
                    let (key, value) = l.split_once(':')?;
                    key.trim()
                        .eq_ignore_ascii_case(name)
                        .then(|| value.split_whitespace().map(str::to_string).collect())
                })
                .unwrap_or_default()
        };
        let enabled = field("Enabled").first().is_none_or(|v| v != "no");
        let deb = field("Types").iter().any(|t| t == "deb");
        let bookworm = field("Suites").iter().any(|s| s == "bookworm");
        if enabled && deb && bookworm {
            uris.extend(field("URIs"));
        }
    }
    uris
}
