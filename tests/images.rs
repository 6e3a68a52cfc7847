//! Black-box tests of images (issue 16): `husk run --rootfs` given a tarball (GNU tar's gnu,
//! pax and ustar formats, busybox tar; plain, gzip, zstd, xz) or an image (`oci:`,
//! `oci-archive:`, `docker-archive:`), unpacked once into the store and run over a fresh
//! overlay each time; `husk images` and `husk rmi`; races and kills during an unpack and a
//! run; the tutorial's port-80 step with a setcap'd python3; a user's own store; hostile
//! archives that must never write outside their tree.
//!
//! Every test has its own store (`HUSK_STORE=<its directory>/store`), so tests share
//! nothing but the fixtures (common/images.rs: built with tar, busybox, buildah, umoci and
//! Python's tarfile, cached under target/images/). Every refusal is checked for its status,
//! its one line, its errno, untouched canaries (a directory next to the store and one in
//! /tmp) and an empty store.
// Images are a build option (README, "Images"): these run with `--features images`.
#![cfg(feature = "images")]

mod common;

use common::case::Case;
use common::images::{self, Comp, Format, Tree};
use common::named::{self, unique, wait_gone};
use common::proc::{HUSK, Outcome, Patience, Proc, SIGKILL, path_str, send};
use common::tree::PATIENCE;
use common::user::huskci2;
use common::{need, rootfs};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Root, and a husk built with images (`cargo test --release --features images`: the
/// binary under test is built with the features the tests are); or why the tests cannot
/// run ([`common::missing`]: a failure in CI).
fn ready() -> Result<(), String> {
    rootfs::require_root()?;
    if cfg!(feature = "images") {
        Ok(())
    } else {
        Err(common::missing("husk is built without images: cargo test --release --features images"))
    }
}

/// Patience for cold unpacks of the Debian tree (~260 MB) on a busy machine.
const SLOW: Patience = Patience { deadline: Duration::from_secs(300), poll: Duration::from_millis(5) };

/// One test's world: a [`Case`], its store, and the canaries hostile archives aim at.
struct World {
    case: Case,
    store: PathBuf,
    /// `<case>/canary/file`: next to the store.
    case_canary: PathBuf,
    /// `/tmp/husk-images-canary.<pid>.<test>/file`.
    tmp_canary: PathBuf,
}

/// What the canaries hold.
const CANARY: &str = "canary\n";

fn world(test: &str) -> World {
    world_with(test, PATIENCE)
}

fn world_with(test: &str, patience: Patience) -> World {
    let case = Case::new(test, &[]).patient(patience);
    let store = case.join("store");
    let case_canary = case.mkdir("canary").join("file");
    fs::write(&case_canary, CANARY).unwrap();
    let tmp_dir = std::env::temp_dir().join(format!("husk-images-canary.{}.{test}", std::process::id()));
    rootfs::remove_tree(&tmp_dir).unwrap();
    fs::create_dir(&tmp_dir).unwrap();
    let tmp_canary = tmp_dir.join("file");
    fs::write(&tmp_canary, CANARY).unwrap();
    World { case, store, case_canary, tmp_canary }
}

impl Drop for World {
    fn drop(&mut self) {
        if let Err(why) = rootfs::remove_tree(self.tmp_canary.parent().unwrap()) {
            eprintln!("cleanup: {why}");
        }
    }
}

impl World {
    /// `husk ARGS...` with this test's store.
    fn husk(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(HUSK);
        cmd.args(args).env("HUSK_STORE", &self.store);
        cmd
    }

    /// `husk run OPTS -- COMMAND...` with this test's store.
    fn cmd(&self, opts: &[&str], command: &[&str]) -> Command {
        let mut cmd = self.case.cmd(opts, command);
        cmd.env("HUSK_STORE", &self.store);
        cmd
    }

    /// `husk run OPTS -- sh -c SCRIPT MARKER` with this test's store.
    fn sh(&self, opts: &[&str], script: &str) -> Command {
        let mut cmd = self.case.sh(opts, script);
        cmd.env("HUSK_STORE", &self.store);
        cmd
    }

    /// Runs `cmd` to its end; checks that nothing was left behind.
    fn run(&self, cmd: &mut Command) -> Outcome {
        self.case.run(cmd)
    }

    /// `husk ARGS...` run to its end.
    fn husk_out(&self, args: &[&str]) -> Outcome {
        Proc::start(&mut self.husk(args)).patient(self.case.patience).wait()
    }

    /// `husk images -q`'s lines (it must succeed).
    fn image_ids(&self) -> Vec<String> {
        let out = self.husk_out(&["images", "-q"]);
        out.expect_success().lines().map(str::to_string).collect()
    }

    /// The names in `STORE/images` (none when it does not exist).
    fn entries(&self) -> Vec<String> {
        names(&self.store.join("images"))
    }

    /// `STORE/images/HEX/rootfs`.
    fn cached_tree(&self, hex: &str) -> PathBuf {
        self.store.join("images").join(hex).join("rootfs")
    }

    /// The canaries hold what they held, and nothing appeared next to them.
    fn assert_canaries(&self, what: &str) {
        for canary in [&self.case_canary, &self.tmp_canary] {
            let text =
                fs::read_to_string(canary).unwrap_or_else(|e| panic!("{what}: {}: {e}", canary.display()));
            assert_eq!(text, CANARY, "{what}: {} was written", canary.display());
            assert_eq!(
                names(canary.parent().unwrap()),
                ["file"],
                "{what}: something appeared next to the canary"
            );
        }
    }

    /// `outcome` is husk refusing an archive: 125, one line `husk: unpack ...` with
    /// ` (ERRNO)` when given (a hint may follow it); the canaries untouched; no entry in the store.
    fn assert_refused(&self, what: &str, outcome: &Outcome, errno: Option<&str>) {
        assert!(outcome.is_refusal(), "{what}: expected a refusal (125, one line)\n got {outcome}");
        assert!(
            outcome.stderr.starts_with("husk: unpack "),
            "{what}: expected `husk: unpack ...`\n got {outcome}"
        );
        if let Some(errno) = errno {
            assert!(
                outcome.stderr.contains(&format!(" ({errno})")),
                "{what}: expected {errno}\n got {outcome}"
            );
        }
        self.assert_canaries(what);
        assert_eq!(self.image_ids(), Vec::<String>::new(), "{what}: husk images -q after a refusal");
        assert_eq!(self.entries(), Vec::<String>::new(), "{what}: STORE/images after a refusal");
    }
}

/// The names in a directory, sorted (none when it does not exist).
fn names(dir: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> =
        entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// A fixture, or a failure: every tool the fixtures use is installed by .ci/run.
fn fixture<T>(result: Result<T, String>) -> T {
    result.unwrap_or_else(|why| panic!("fixture: {why}"))
}

/// What the check script prints for the busybox tree (see common/images.rs's EXTRAS):
/// owners and modes, an mtime, both links, the hard links' one inode, the device node.
const CHECK: &str = "stat -c '%n %u:%g %a' /srv/owned /srv/suid /srv/sgid; stat -c %Y /srv/owned; \
     readlink /srv/link; readlink /srv/abslink; cat /srv/link /srv/abslink; \
     [ \"$(stat -c %i /srv/hard1)\" = \"$(stat -c %i /srv/hard2)\" ] && echo one-inode; \
     stat -c '%h %F %t,%T' /srv/hard1 /srv/null";
const CHECKED: &str = "/srv/owned 1000:1000 640\n/srv/suid 0:0 4755\n/srv/sgid 0:0 2775\n1000000000\n\
     hard1\n/srv/hard1\nhard\nhard\none-inode\n2 regular file 0,0\n1 character special file 1,3\n";

// ---------------------------------------------------------------------------------------
// Tarballs
// ---------------------------------------------------------------------------------------

/// The tarball kinds of the format test: every writer with gzip, GNU's with every
/// compression, and the long names in the formats that can hold them.
const KINDS: [(Tree, Format, Comp); 11] = [
    (Tree::Busybox, Format::Gnu, Comp::Plain),
    (Tree::Busybox, Format::Gnu, Comp::Gzip),
    (Tree::Busybox, Format::Gnu, Comp::Zstd),
    (Tree::Busybox, Format::Gnu, Comp::Xz),
    (Tree::Busybox, Format::Pax, Comp::Gzip),
    (Tree::Busybox, Format::Ustar, Comp::Gzip),
    (Tree::Busybox, Format::Busybox, Comp::Gzip),
    (Tree::Busybox, Format::Busybox, Comp::Xz),
    (Tree::Long, Format::Gnu, Comp::Gzip),
    (Tree::Long, Format::Pax, Comp::Plain),
    (Tree::Long, Format::Busybox, Comp::Zstd),
];

#[test]
fn every_tarball_kind_runs_and_keeps_owners_modes_links_and_mtimes() {
    need!("every_tarball_kind_runs_and_keeps_owners_modes_links_and_mtimes", ready());
    let w = world("kinds");
    let long = images::long_file();
    // Every fixture first: a failure names the husk run, not a tool.
    let tarballs: Vec<PathBuf> = KINDS.iter().map(|&(t, f, c)| fixture(images::tarball(t, f, c))).collect();
    for ((tree, format, comp), tarball) in KINDS.into_iter().zip(tarballs) {
        let what = format!("{}", tarball.display());
        let store = w.case.join(&format!("store-{tree:?}-{format:?}-{comp:?}"));
        let run = |command: &[&str]| {
            let mut cmd = w.case.cmd(&["--rootfs", path_str(&tarball)], command);
            w.run(cmd.env("HUSK_STORE", &store))
        };
        run(&["/bin/true"]).expect(0, "", "");
        let (mut script, mut expected) = (CHECK.to_string(), CHECKED.to_string());
        if tree == Tree::Long {
            script += &format!("; cat {long} {link}; readlink {link} | wc -c", link = images::LONG_LINK);
            let target = long.trim_start_matches("/srv/").len() + 1;
            expected += &format!("long\nlong\n{target}\n");
        }
        let out = run(&["sh", "-c", &script, &w.case.marker]);
        assert!(out.status.success() && out.stdout == expected && out.stderr.is_empty(), "{what}: {out}");
        // One entry, named by the archive's digest.
        let mut cmd = w.husk(&["images", "-q"]);
        let ids = Proc::start(cmd.env("HUSK_STORE", &store)).wait();
        ids.expect(0, &format!("sha256:{}\n", images::sha256(&tarball)), "");
    }
}

#[test]
fn a_run_writes_to_its_own_view_and_the_cache_never_changes() {
    need!("a_run_writes_to_its_own_view_and_the_cache_never_changes", ready());
    let w = world("view");
    let tarball = fixture(images::tarball(Tree::Busybox, Format::Gnu, Comp::Plain));
    let rootfs = ["--rootfs", path_str(&tarball)];
    w.run(&mut w.cmd(&rootfs, &["/bin/true"])).expect(0, "", "");
    let hex = images::sha256(&tarball);
    let cached = w.cached_tree(&hex);
    let before = images::list_tree(&cached, &[]);
    assert!(before.contains("/srv/owned "), "the cached tree {}: {before}", cached.display());
    let out = w.run(&mut w.sh(
        &rootfs,
        "echo new > /srv/new && rm /srv/owned && echo more >> /srv/hard1 && chmod 700 /srv/sgid && cat /srv/hard1",
    ));
    out.expect(0, "hard\nmore\n", "");
    let out = w.run(&mut w.sh(&rootfs, "ls /srv/new 2>&1; cat /srv/owned /srv/hard1; stat -c %a /srv/sgid"));
    out.expect(0, "ls: /srv/new: No such file or directory\nowned\nhard\n2775\n", "");
    assert_eq!(images::list_tree(&cached, &[]), before, "the cached tree changed");
    // Read-only: the cached tree itself, and writes fail.
    let out = w.run(&mut w.sh(&["--read-only", "--rootfs", path_str(&tarball)], "touch /srv/x"));
    out.expect(1, "", "touch: /srv/x: Read-only file system\n");
    assert_eq!(images::list_tree(&cached, &[]), before, "the cached tree changed");
    assert_eq!(names(&w.store.join("runs")), Vec::<String>::new(), "STORE/runs after the runs ended");
    assert_eq!(w.entries(), [hex], "STORE/images");
}

#[test]
fn images_lists_the_entries_and_rmi_removes_them() {
    need!("images_lists_the_entries_and_rmi_removes_them", ready());
    let w = world("rmi");
    let gnu = fixture(images::tarball(Tree::Busybox, Format::Gnu, Comp::Plain));
    let pax = fixture(images::tarball(Tree::Busybox, Format::Pax, Comp::Gzip));
    let (gnu_hex, pax_hex) = (images::sha256(&gnu), images::sha256(&pax));
    w.run(&mut w.cmd(&["--rootfs", path_str(&gnu)], &["/bin/true"])).expect(0, "", "");
    // The header, then `DIGEST  SIZE  LAST USED  SOURCE`.
    let out = w.husk_out(&["images"]);
    let lines: Vec<&str> = out.expect_success().lines().collect();
    assert_eq!(lines.len(), 2, "husk images: {out}");
    for word in ["DIGEST", "SIZE", "LAST USED", "SOURCE"] {
        assert!(lines[0].contains(word), "husk images's header: {out}");
    }
    let fields: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(fields.len(), 5, "husk images's line: {out}");
    assert_eq!(fields[0], &gnu_hex[..12], "DIGEST: {out}");
    // About 2.3 MB: busybox, and 512 bytes for each of its ~420 entries.
    let size = fields[1].trim_end_matches('M');
    assert!(
        fields[1].ends_with('M') && size.parse::<f64>().is_ok_and(|m| (2.0..3.0).contains(&m)),
        "SIZE: {out}"
    );
    let (date, time) = (fields[2].as_bytes(), fields[3].as_bytes());
    let digits = |b: &[u8], seps: &[(usize, u8)]| {
        b.iter()
            .enumerate()
            .all(|(i, c)| seps.iter().find(|(at, _)| *at == i).map_or(c.is_ascii_digit(), |s| *c == s.1))
    };
    assert!(date.len() == 10 && digits(date, &[(4, b'-'), (7, b'-')]), "LAST USED's date: {out}");
    assert!(time.len() == 8 && digits(time, &[(2, b':'), (5, b':')]), "LAST USED's time: {out}");
    assert_eq!(fields[4], path_str(&gnu), "SOURCE: {out}");
    assert_eq!(w.image_ids(), [format!("sha256:{gnu_hex}")]);
    // rmi by a prefix.
    w.husk_out(&["rmi", &gnu_hex[..12]]).expect(0, &format!("sha256:{gnu_hex}\n"), "");
    assert_eq!(w.image_ids(), Vec::<String>::new());
    assert_eq!(w.entries(), Vec::<String>::new());
    // Unknown ids.
    let unknown = format!("sha256:{}", "0".repeat(64));
    // `husk: rmi ID: no such image (ENOENT)`, in husk's words (`STRERROR (ERRNO): HINT`).
    for id in [unknown.as_str(), &gnu_hex, &gnu_hex[..4]] {
        let out = w.husk_out(&["rmi", id]);
        assert!(
            out.is_refusal()
                && out.stderr.starts_with(&format!("husk: rmi {id}: "))
                && out.stderr.contains(" (ENOENT)")
                && out.stderr.contains("no such image"),
            "rmi of an unknown id: {out}"
        );
    }
    // all.
    w.run(&mut w.cmd(&["--rootfs", path_str(&gnu)], &["/bin/true"])).expect(0, "", "");
    w.run(&mut w.cmd(&["--rootfs", path_str(&pax)], &["/bin/true"])).expect(0, "", "");
    let mut both = vec![format!("sha256:{gnu_hex}"), format!("sha256:{pax_hex}")];
    both.sort();
    let mut listed = w.image_ids();
    listed.sort();
    assert_eq!(listed, both);
    // Several ids (a full one, a prefix), then all.
    for args in [&["rmi", &pax_hex, &gnu_hex[..8]][..], &["rmi", "all"]] {
        if w.image_ids().is_empty() {
            w.run(&mut w.cmd(&["--rootfs", path_str(&gnu)], &["/bin/true"])).expect(0, "", "");
            w.run(&mut w.cmd(&["--rootfs", path_str(&pax)], &["/bin/true"])).expect(0, "", "");
        }
        let out = w.husk_out(args);
        let mut removed: Vec<String> = out.expect_success().lines().map(str::to_string).collect();
        removed.sort();
        assert_eq!(removed, both, "{args:?}: {out}");
        assert_eq!(w.image_ids(), Vec::<String>::new(), "{args:?}");
        assert_eq!(w.entries(), Vec::<String>::new(), "{args:?}");
    }
}

#[test]
fn rmi_refuses_an_image_a_running_container_uses() {
    need!("rmi_refuses_an_image_a_running_container_uses", ready());
    let w = world("busy");
    let tarball = fixture(images::tarball(Tree::Busybox, Format::Gnu, Comp::Plain));
    let hex = images::sha256(&tarball);
    let name = unique("images-busy");
    let guard = w.case.guard(&name);
    let mut cmd = w.sh(&["-d", "--name", &name, "--rootfs", path_str(&tarball)], "sleep 1000");
    named::run(&mut cmd).expect(0, &format!("{name}\n"), "");
    // A second image, not in use: `rmi` of both, or `all`, removes neither.
    let free = fixture(images::tarball(Tree::Busybox, Format::Pax, Comp::Gzip));
    let free_hex = images::sha256(&free);
    // (Not `w.run`: the detached container mentions the marker until it is killed.)
    let out = Proc::start(&mut w.cmd(&["--rootfs", path_str(&free)], &["/bin/true"])).wait();
    out.expect(0, "", "");
    let mut both = vec![format!("sha256:{hex}"), format!("sha256:{free_hex}")];
    both.sort();
    for args in [&["rmi", &hex][..], &["rmi", &free_hex, &hex], &["rmi", "all"]] {
        let out = w.husk_out(args);
        assert!(
            out.is_refusal() && out.stderr.starts_with("husk: rmi ") && out.stderr.contains(" (EBUSY)"),
            "{args:?} of an image in use: {out}"
        );
        let mut listed = w.image_ids();
        listed.sort();
        assert_eq!(listed, both, "{args:?} of an image in use removed something");
        assert!(w.cached_tree(&hex).join("bin/busybox").exists(), "{args:?}: the tree in use is gone");
    }
    // Once the container has ended, it goes.
    named::husk(&["kill", &name, "KILL"]);
    wait_gone(&name);
    drop(guard);
    w.case.patience.wait_until(
        || format!("rmi {hex} to succeed after the container ended: {}", w.husk_out(&["rmi", &hex])),
        || w.husk_out(&["rmi", &hex]).status.success() || !w.image_ids().contains(&format!("sha256:{hex}")),
    );
    assert_eq!(w.image_ids(), [format!("sha256:{free_hex}")]);
}

#[test]
fn two_cold_starts_unpack_once() {
    need!("two_cold_starts_unpack_once", ready());
    let w = world("cold-race");
    let tarball = fixture(images::big_tarball());
    let rootfs = ["--rootfs", path_str(&tarball)];
    let mut runs: Vec<Proc> =
        (0..2).map(|_| Proc::start(&mut w.sh(&rootfs, "cat /srv/owned")).patient(SLOW)).collect();
    for run in &mut runs {
        run.wait().expect(0, "owned\n", "");
    }
    w.case.assert_clean("two cold starts");
    let hex = images::sha256(&tarball);
    assert_eq!(w.image_ids(), [format!("sha256:{hex}")]);
    assert_eq!(w.entries(), [hex], "STORE/images after two cold starts");
}

#[test]
fn a_killed_unpack_leaves_no_entry_and_the_next_run_cleans_up() {
    need!("a_killed_unpack_leaves_no_entry_and_the_next_run_cleans_up", ready());
    let w = world_with("killed-unpack", SLOW);
    let tarball = fixture(images::big_tarball());
    let hex = images::sha256(&tarball);
    let rootfs = ["--rootfs", path_str(&tarball)];
    let tmp = format!("{hex}.tmp");
    let mut run = Proc::start(&mut w.sh(&rootfs, "cat /srv/owned")).patient(SLOW);
    w.case.patience.wait_until(
        || format!("{tmp} to appear in {} ({:?})", w.store.join("images").display(), w.entries()),
        || w.entries().contains(&tmp) || !run.running(),
    );
    assert!(run.running(), "husk run ended before {tmp} appeared: {}", run.wait());
    send(run.pid(), SIGKILL);
    let status = run.wait().status;
    assert_eq!(status.code(), None, "husk run was not killed during the unpack: {status}");
    w.case.assert_clean("a SIGKILL during the unpack");
    assert!(!w.entries().contains(&hex), "a killed unpack left an entry: {:?}", w.entries());
    assert_eq!(w.image_ids(), Vec::<String>::new(), "a killed unpack left an image");
    // The next run works, and removes the stale .tmp.
    w.run(&mut w.sh(&rootfs, "cat /srv/owned")).expect(0, "owned\n", "");
    assert_eq!(w.entries(), std::slice::from_ref(&hex), "STORE/images after the next run");
    assert_eq!(w.image_ids(), [format!("sha256:{hex}")]);
}

#[test]
fn a_killed_run_leaves_a_runs_dir_that_the_next_start_removes() {
    need!("a_killed_run_leaves_a_runs_dir_that_the_next_start_removes", ready());
    let w = world("killed-run");
    let tarball = fixture(images::tarball(Tree::Busybox, Format::Gnu, Comp::Plain));
    let rootfs = ["--rootfs", path_str(&tarball)];
    let runs = w.store.join("runs");
    let mut run = Proc::start(&mut w.sh(&rootfs, "echo up; exec sleep 1000")).patient(PATIENCE);
    run.patience.wait_until(
        || format!("up on the stdout of {}: {:?} {:?}", run.what, run.stdout.text(), run.stderr.text()),
        || run.stdout.text() == "up\n" || run.stderr.is_closed(),
    );
    assert!(run.running(), "the container ended: {}", run.wait());
    let during = names(&runs);
    assert_eq!(during.len(), 1, "STORE/runs while a container runs: {during:?}");
    send(run.pid(), SIGKILL);
    assert_eq!(run.wait().status.code(), None, "husk run was not killed");
    w.case.assert_clean("a SIGKILL of husk run");
    assert_eq!(names(&runs), during, "STORE/runs after a SIGKILLed husk run");
    w.run(&mut w.cmd(&rootfs, &["/bin/true"])).expect(0, "", "");
    assert_eq!(names(&runs), Vec::<String>::new(), "STORE/runs after the next start");
}

#[test]
fn the_tutorial_binds_port_80_only_with_the_capability_the_tarball_kept() {
    need!("the_tutorial_binds_port_80_only_with_the_capability_the_tarball_kept", ready());
    let w = world_with("tutorial", SLOW);
    let bind = "import socket; s = socket.socket(); s.bind(('127.0.0.1', 80)); print('ok')";
    let opts = |tarball: &Path| {
        let rootfs = path_str(tarball).to_string();
        [
            "--rootfs".to_string(),
            rootfs,
            "-u".into(),
            "1000".into(),
            "--security-opt".into(),
            "no-new-privileges=false".into(),
        ]
    };
    let cap = fixture(images::debian_tarball(true));
    let nocap = fixture(images::debian_tarball(false));
    let opts_cap = opts(&cap);
    let opts_cap: Vec<&str> = opts_cap.iter().map(String::as_str).collect();
    w.run(&mut w.cmd(&opts_cap, &["python3", "-c", bind, &w.case.marker])).expect(0, "ok\n", "");
    let opts_nocap = opts(&nocap);
    let opts_nocap: Vec<&str> = opts_nocap.iter().map(String::as_str).collect();
    let out = w.run(&mut w.cmd(&opts_nocap, &["python3", "-c", bind, &w.case.marker]));
    assert!(
        out.status.code() == Some(1)
            && out.stdout.is_empty()
            && out.stderr.contains("PermissionError: [Errno 13]"),
        "binding port 80 without the capability: {out}"
    );
    // Both unpacked, side by side.
    assert_eq!(w.entries().len(), 2, "STORE/images: {:?}", w.entries());
}

#[test]
fn a_user_runs_a_tarball_from_their_own_store() {
    need!("a_user_runs_a_tarball_from_their_own_store", ready());
    let u = need!("a_user_runs_a_tarball_from_their_own_store", huskci2());
    let w = world("user");
    let tarball = fixture(images::tarball(Tree::Busybox, Format::Gnu, Comp::Plain));
    // A copy the user can read, in the case's directory (0755).
    let copy = w.case.join("rootfs.tar");
    fs::copy(&tarball, &copy).unwrap();
    let data = u.mkdir(&w.case.join("data"), 0o700);
    let user_cmd = |mut cmd: Command| {
        cmd.env("XDG_DATA_HOME", &data);
        cmd
    };
    let script = "cat /srv/owned; stat -c '%u:%g %a' /srv/owned; [ -e /srv/null ] && echo dev || echo no-dev";
    let mut cmd = user_cmd(u.sh(&["--rootfs", path_str(&copy)], script, &w.case.marker));
    w.run(&mut cmd).expect(0, "owned\n0:0 640\nno-dev\n", "");
    let hex = images::sha256(&copy);
    let tree = data.join("husk/images").join(&hex).join("rootfs");
    let meta =
        fs::symlink_metadata(tree.join("srv/owned")).unwrap_or_else(|e| panic!("{}: {e}", tree.display()));
    assert_eq!((meta.uid(), meta.gid()), (u.uid, u.gid), "owners in the user's store");
    let out = Proc::start(&mut user_cmd(u.husk(&["images", "-q"]))).wait();
    out.expect(0, &format!("sha256:{hex}\n"), "");
    // A second run starts from the cache.
    let mut cmd = user_cmd(u.sh(&["--rootfs", path_str(&copy)], "cat /srv/hard2", &w.case.marker));
    w.run(&mut cmd).expect(0, "hard\n", "");
}

// ---------------------------------------------------------------------------------------
// Images
// ---------------------------------------------------------------------------------------

/// The image's expected digests: the manifest's (oci, oci-archive) and the config's
/// (docker-archive), read with Python from the fixtures.
fn image_hexes(image: &images::Image) -> (String, String) {
    const READ: &str = r#"
import json, sys, tarfile
index = json.load(open(sys.argv[1] + "/index.json"))
print(index["manifests"][0]["digest"][7:])
with tarfile.open(sys.argv[2]) as t:
    m = json.load(t.extractfile("manifest.json"))
print(m[0]["Config"].split("/")[-1].removesuffix(".json"))
"#;
    let out = images::python(READ, &[path_str(&image.oci), path_str(&image.docker_archive)]);
    let out = fixture(out);
    let mut lines = out.lines().map(str::to_string);
    (lines.next().unwrap(), lines.next().unwrap())
}

/// The listing a busybox shell makes of what the container sees (its own mounts left out):
/// each path's type, mode and owner, a link's target, a file's SHA-256.
const LISTING: &str = "find / -xdev \\( -path /proc -o -path /sys -o -path /dev -o -path /tmp \\) -prune -o \
     -exec stat -c '%n|%F|%a|%u:%g|%N' {} + | sort; find / -xdev -type f -exec sha256sum {} + | sort";

#[test]
fn an_image_in_every_transport_is_the_tree_umoci_unpacks() {
    need!("an_image_in_every_transport_is_the_tree_umoci_unpacks", ready());
    let w = world("umoci");
    let image = fixture(images::image());
    let (manifest_hex, config_hex) = image_hexes(&image);
    // The fixture has what the test is about: whiteouts, an opaque directory, hard links.
    let umoci = images::list_tree(&image.umoci_rootfs, &[]);
    let expected_umoci = umoci.clone();
    for present in ["/srv/opq/new ", "/srv/l2a 10 4750 1000:1000 ", "/srv/owned 10 640 1000:1000 "] {
        assert!(umoci.contains(present), "umoci's tree lacks {present}: {umoci}");
    }
    for absent in ["/srv/gone ", "/srv/opq/old "] {
        assert!(!umoci.contains(absent), "umoci's tree has {absent}: {umoci}");
    }
    assert!(
        umoci.contains("inode-of /srv/l2a") && umoci.contains("inode-of /srv/hard1"),
        "hard links: {umoci}"
    );
    // What a container sees of umoci's tree.
    let umoci_rootfs = ["--read-only", "--rootfs", path_str(&image.umoci_rootfs)];
    let seen_umoci = w.run(&mut w.cmd(&umoci_rootfs, &["sh", "-c", LISTING, &w.case.marker]));
    let seen_umoci = seen_umoci.expect_success().to_string();
    for (label, source) in image.sources() {
        let store = w.case.join(&format!("store-{label}"));
        let env = |mut cmd: Command| {
            cmd.env("HUSK_STORE", &store);
            cmd
        };
        // No `--`: no COMMAND at all.
        let mut cmd = Command::new(HUSK);
        cmd.args(["run", "--rootfs", source.as_str(), "--entrypoint", "/bin/true"]);
        w.run(&mut env(cmd)).expect(0, "", "");
        let hex = if label == "docker-archive" { &config_hex } else { &manifest_hex };
        let ids = Proc::start(&mut env(w.husk(&["images", "-q"]))).wait();
        ids.expect(0, &format!("sha256:{hex}\n"), "");
        let cached = store.join("images").join(hex).join("rootfs");
        assert_eq!(
            images::list_tree(&cached, &[]),
            expected_umoci,
            "{label}: the cached tree against umoci's"
        );
        let rootfs = ["--rootfs", source.as_str(), "-u", "0:0", "--entrypoint", "/bin/sh"];
        let seen = w.run(&mut env(w.case.cmd(&rootfs, &["-c", LISTING, &w.case.marker])));
        assert_eq!(
            seen.expect_success(),
            seen_umoci,
            "{label}: what the container sees against umoci's tree"
        );
    }
}

#[test]
fn the_image_config_gives_defaults_the_command_line_overrides() {
    need!("the_image_config_gives_defaults_the_command_line_overrides", ready());
    let w = world("config");
    let image = fixture(images::image());
    let env_file = w.case.join("env");
    fs::write(&env_file, "B=file\nC=filec\n").unwrap();
    let env_file = path_str(&env_file);
    let show = |args: &str, a: &str, cwd: &str, id: &str| format!("args={args}\n{a}\ncwd={cwd}\nid={id}\n");
    for (label, source) in image.sources() {
        let run = |opts: &[&str], command: Option<&[&str]>| {
            let mut cmd = Command::new(HUSK);
            cmd.arg("run").args(["--rootfs", &source]).args(opts);
            if let Some(command) = command {
                cmd.arg("--").args(command);
            }
            let out = w.run(cmd.env("HUSK_STORE", &w.store));
            (out.status.code(), out.stdout, out.stderr, label)
        };
        let ok = |stdout: String| (Some(0), stdout, String::new(), label);
        // No COMMAND: Entrypoint + Cmd, with Env, WorkingDir and User.
        assert_eq!(run(&[], None), ok(show("c1 c2", "A=1 B=two C=", "/srv/work", "1000:1000")));
        // A COMMAND replaces Cmd.
        assert_eq!(
            run(&[], Some(&["x", "y z"])),
            ok(show("x y z", "A=1 B=two C=", "/srv/work", "1000:1000"))
        );
        // -e, -w, -u override; --env-file between the image and -e.
        let opts = ["-e", "A=9", "--env-file", env_file, "-e", "C=cmd", "-w", "/", "-u", "0:0"];
        assert_eq!(run(&opts, Some(&["z"])), ok(show("z", "A=9 B=file C=cmd", "/", "0:0")));
        // --entrypoint replaces Entrypoint and drops Cmd, unless a COMMAND is given.
        assert_eq!(run(&["--entrypoint", "/bin/echo"], None), ok("\n".into()));
        assert_eq!(run(&["--entrypoint", "/bin/echo"], Some(&["hi", "there"])), ok("hi there\n".into()));
    }
}

// ---------------------------------------------------------------------------------------
// Hostile archives
// ---------------------------------------------------------------------------------------

/// The canary next to the store, as a name relative to `STORE/images/HEX.tmp/rootfs`.
const CASE_CANARY: &str = "../../../../canary";

impl World {
    /// The hostile archive `kind` in the case's directory.
    fn hostile(&self, kind: &str) -> PathBuf {
        let out = self.case.join(kind);
        images::hostile(kind, &out, self.tmp_canary.parent().unwrap(), CASE_CANARY);
        out
    }

    /// The control: the busybox tarball the hostile ones start from runs, in a store of its
    /// own (the image support the refusals are about is there).
    fn control(&self, source: &str) {
        let mut cmd = self.case.cmd(&["--rootfs", source], &["/bin/true"]);
        self.run(cmd.env("HUSK_STORE", self.case.join("store-control"))).expect(0, "", "");
    }

    /// Runs `/bin/true` from `source`; must be refused as [`World::assert_refused`] says.
    fn refuses(&self, kind: &str, source: &str, errno: Option<&str>) {
        let out = self.run(&mut self.cmd(&["--rootfs", source], &["/bin/true"]));
        self.assert_refused(kind, &out, errno);
    }
}

#[test]
fn hostile_names_and_links_are_refused() {
    need!("hostile_names_and_links_are_refused", ready());
    let w = world("hostile-names");
    let base = fixture(images::tarball(Tree::Busybox, Format::Gnu, Comp::Plain));
    w.control(path_str(&base));
    let shadow = fs::metadata("/etc/shadow").map(|m| m.nlink()).ok();
    for (kind, errno) in [
        ("dotdot", Some("EPERM")),
        ("dotdot-deep", Some("EPERM")),
        ("hardlink-dotdot", Some("EPERM")),
        // Inside the tree, /etc/shadow is the tree's, which it lacks.
        ("hardlink-shadow", None),
    ] {
        let archive = w.hostile(kind);
        w.refuses(kind, path_str(&archive), errno);
    }
    assert_eq!(
        fs::metadata("/etc/shadow").map(|m| m.nlink()).ok(),
        shadow,
        "the host's /etc/shadow got a link"
    );
}

#[test]
fn absolute_names_and_symlinks_stay_inside_the_tree() {
    need!("absolute_names_and_symlinks_stay_inside_the_tree", ready());
    let w = world("hostile-links");
    let canary = path_str(w.tmp_canary.parent().unwrap()).to_string();
    for (kind, content) in
        [("absolute", "inside\n"), ("symlink-abs", "through\n"), ("symlink-rel", "through\n")]
    {
        let archive = w.hostile(kind);
        let store = w.case.join(&format!("store-{kind}"));
        let mut cmd = w.case.cmd(&["--rootfs", path_str(&archive)], &["cat", &format!("{canary}/file")]);
        w.run(cmd.env("HUSK_STORE", &store)).expect(0, content, "");
        w.assert_canaries(kind);
    }
    // A directory replaced by a symlink, then written through: inside the tree, or refused.
    let archive = w.hostile("dir-to-symlink");
    let out = w.run(&mut w.cmd(&["--rootfs", path_str(&archive)], &["cat", &format!("{canary}/file")]));
    if out.status.success() {
        out.expect(0, "through\n", "");
        w.assert_canaries("dir-to-symlink");
    } else {
        w.assert_refused("dir-to-symlink", &out, None);
    }
}

#[test]
fn hostile_images_are_refused() {
    need!("hostile_images_are_refused", ready());
    let w = world("hostile-images");
    let good = w.hostile("oci-good");
    w.control(&format!("oci:{}:v1", path_str(&good)));
    for (kind, errno) in [
        ("whiteout-dotdot", Some("EPERM")),
        ("whiteout-escape", Some("EPERM")),
        ("digest-dotdot", None),
        ("digest-slash", None),
        ("layer-digest-dotdot", None),
        ("layer-mismatch", None),
    ] {
        let layout = w.hostile(kind);
        w.refuses(kind, &format!("oci:{}:v1", path_str(&layout)), errno);
    }
}

#[test]
fn corrupt_streams_are_refused() {
    need!("corrupt_streams_are_refused", ready());
    let w = world("corrupt");
    w.control(path_str(&fixture(images::tarball(Tree::Busybox, Format::Gnu, Comp::Gzip))));
    for kind in ["truncated", "corrupt", "badsum"] {
        let archive = w.hostile(kind);
        w.refuses(kind, path_str(&archive), None);
    }
}

#[test]
fn a_decompression_bomb_stops_at_max_unpacked() {
    need!("a_decompression_bomb_stops_at_max_unpacked", ready());
    let w = world_with("bomb", SLOW);
    let bomb = fixture(images::bomb());
    w.control(path_str(&fixture(images::tarball(Tree::Busybox, Format::Gnu, Comp::Gzip))));
    let started = Instant::now();
    let out = w.run(&mut w.cmd(&["--max-unpacked", "100M", "--rootfs", path_str(&bomb)], &["/bin/true"]));
    w.assert_refused("bomb", &out, Some("EFBIG"));
    eprintln!("the bomb was refused after {:?}", started.elapsed());
}

#[test]
fn a_missing_decompressor_is_named_by_its_debian_package() {
    need!("a_missing_decompressor_is_named_by_its_debian_package", ready());
    let w = world("no-tool");
    for (comp, package) in [(Comp::Zstd, "zstd"), (Comp::Xz, "xz-utils")] {
        let tarball = fixture(images::tarball(Tree::Busybox, Format::Gnu, comp));
        // In a mount namespace of its own, the host's /usr/bin (and /bin, a link to it, or
        // the same tools) hidden under an empty tmpfs: the tools are nowhere to be found.
        let hide =
            "mount -t tmpfs none /usr/bin && { [ -L /bin ] || mount -t tmpfs none /bin; } && exec \"$@\"";
        let mut cmd = Command::new("unshare");
        cmd.args(["-m", "--propagation", "private", "sh", "-c", hide, "sh", HUSK, "run", "--rootfs"])
            .arg(&tarball)
            .args(["--", "/bin/true"])
            .env("HUSK_STORE", &w.store);
        let out = w.run(&mut cmd);
        w.assert_refused(&format!("{comp:?} without its tool"), &out, None);
        assert!(out.stderr.contains(package), "{comp:?} without its tool: no {package} in\n {out}");
    }
}

/// A layer compressed with zstd (`buildah push --compression-format zstd`, podman's
/// `--compression-format zstd`): decompressed through the host's zstd, the image's tree and
/// config as with gzip. The fixture's OCI layout, its layers recompressed by the test.
#[test]
fn a_zstd_layer_runs() {
    need!("a_zstd_layer_runs", ready());
    let w = world("zstd-layer");
    let image = fixture(images::image());
    let layout = w.case.join("oci-zstd");
    let copied = Command::new("cp").arg("-a").arg(&image.oci).arg(&layout).status().unwrap();
    assert!(copied.success());
    let script = r#"
import gzip, hashlib, json, subprocess, sys
d = sys.argv[1]
def blob(h): return open(f"{d}/blobs/sha256/{h}", "rb").read()
def put(b):
    h = hashlib.sha256(b).hexdigest()
    open(f"{d}/blobs/sha256/{h}", "wb").write(b)
    return h
index = json.load(open(f"{d}/index.json"))
manifest = json.loads(blob(index["manifests"][0]["digest"][7:]))
for layer in manifest["layers"]:
    raw = blob(layer["digest"][7:])
    raw = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    z = subprocess.run(["zstd", "-q", "-c"], input=raw, capture_output=True, check=True).stdout
    layer.update(digest="sha256:" + put(z), size=len(z), mediaType="application/vnd.oci.image.layer.v1.tar+zstd")
m = json.dumps(manifest).encode()
index["manifests"][0].update(digest="sha256:" + put(m), size=len(m))
json.dump(index, open(f"{d}/index.json", "w"))
"#;
    fixture(images::python(script, &[path_str(&layout)]));
    let source = format!("oci:{}:{}", layout.display(), image.oci_source().rsplit(':').next().unwrap());
    let out = w.run(Command::new(HUSK).args(["run", "--rootfs", &source]).env("HUSK_STORE", &w.store));
    assert_eq!(out.status.code(), Some(0), "{out}");
    assert!(out.stdout.starts_with("args=c1 c2\n"), "{out}");
}
