#![cfg(feature = "images")]
//! Red-team tests of images (issue 16, "Hostile archives"): archives made with Python's
//! tarfile (or raw bytes) that try to write outside the tree, a store a killed husk left
//! half-changed, an archive changed while it is unpacked, containers that try to change the
//! cached tree. Each runs `husk run --rootfs ARCHIVE` against a store of its own
//! (`HUSK_STORE`) and judges by the status, the one error line, what the store holds
//! (its layout is the contract's) and a canary directory outside that must stay untouched.

mod common;

use common::proc::{HUSK, Outcome, Proc, SIGKILL, path_str, send, wait_until};
use common::rootfs::{busybox, require_root};
use common::{need, tool};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Helpers every archive script starts with: `tar(NAME, [dict(name=..., ...)], FORMAT)`
/// writes NAME from entries given as TarInfo fields (`data` for a file's bytes).
const PRELUDE: &str = r#"
import tarfile, io, os, sys, gzip
def tar(path, entries, fmt=tarfile.GNU_FORMAT):
    with tarfile.open(path, 'w', format=fmt) as t:
        for e in entries:
            e = dict(e); data = e.pop('data', None)
            ti = tarfile.TarInfo(e.pop('name')); ti.mode = 0o644
            for k, v in e.items(): setattr(ti, k, v)
            if data is not None: ti.size = len(data)
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
R, D, S, H = tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE
"#;

/// One test's directory (`/tmp/husk-redteam-images.PID.TEST`): its store, its archives and
/// `canary/` (holding `secret`), which nothing may change.
struct World {
    dir: PathBuf,
}

impl World {
    fn new(test: &str) -> Result<World, String> {
        require_root()?;
        tool("python3", "python3")?;
        let dir = PathBuf::from(format!("/tmp/husk-redteam-images.{}.{test}", std::process::id()));
        common::rootfs::remove_tree(&dir)?;
        fs::create_dir_all(dir.join("canary")).unwrap();
        fs::write(dir.join("canary/secret"), "secret").unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        Ok(World { dir })
    }

    fn path(&self, name: &str) -> String {
        path_str(&self.dir.join(name)).to_string()
    }

    fn store(&self) -> PathBuf {
        self.dir.join("store")
    }

    /// Runs a Python script (after [`PRELUDE`]) in the directory, `C` the canary's path.
    fn python(&self, script: &str) {
        let script = format!("{PRELUDE}\nC = {:?}\n{script}", self.path("canary"));
        let out = Command::new("python3").arg("-c").arg(script).current_dir(&self.dir).output().unwrap();
        assert!(out.status.success(), "python: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// `husk ARGS...` with this world's store.
    fn husk(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(HUSK);
        cmd.args(args).env("HUSK_STORE", self.store()).current_dir(&self.dir);
        cmd
    }

    /// `husk run OPTS --rootfs ARCHIVE -- COMMAND...`, to its end.
    fn run(&self, opts: &[&str], archive: &str, command: &[&str]) -> Outcome {
        let mut cmd = self.husk(&["run"]);
        cmd.args(opts).args(["--rootfs", archive, "--"]).args(command);
        Proc::start(&mut cmd).wait()
    }

    /// The names in `STORE/images`, sorted.
    fn images(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.store().join("images"))
            .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        names.sort();
        names
    }

    /// The one complete entry's tree.
    fn tree(&self) -> PathBuf {
        let images = self.images();
        let hex: Vec<&String> = images.iter().filter(|n| n.len() == 64).collect();
        assert_eq!(hex.len(), 1, "one entry in the store: {images:?}");
        self.store().join("images").join(hex[0]).join("rootfs")
    }

    /// The canary is as it was: `secret` alone, one link, its text.
    fn assert_canary(&self, what: &str) {
        let names: Vec<_> =
            fs::read_dir(self.dir.join("canary")).unwrap().flatten().map(|e| e.file_name()).collect();
        let secret = self.dir.join("canary/secret");
        assert_eq!(names, ["secret"], "{what}: the canary directory changed");
        assert_eq!(fs::symlink_metadata(&secret).unwrap().nlink(), 1, "{what}: the canary was hard-linked");
        assert_eq!(fs::read_to_string(&secret).unwrap(), "secret", "{what}: the canary was written");
    }

    /// A tar of the busybox fixture, `bb.tar`.
    fn busybox_tar(&self) -> Result<String, String> {
        let tree = busybox()?;
        let out = Command::new("tar")
            .arg("-C")
            .arg(tree)
            .args(["-cf", "bb.tar", "."])
            .current_dir(&self.dir)
            .output();
        assert!(out.unwrap().status.success(), "tar of the busybox fixture");
        fs::set_permissions(self.dir.join("bb.tar"), fs::Permissions::from_mode(0o644)).unwrap();
        Ok(self.path("bb.tar"))
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = common::rootfs::remove_tree(&self.dir);
    }
}

/// A refusal (125, one line) whose line holds `reason`, leaving no entry, `.tmp` or lock.
fn assert_refused(world: &World, outcome: &Outcome, reason: &str, what: &str) {
    assert!(
        outcome.is_refusal() && outcome.stderr.contains(reason),
        "{what}: want a refusal with {reason:?}, got {outcome}"
    );
    assert_eq!(world.images(), Vec::<String>::new(), "{what}: the store keeps something");
}

/// Names that leave the root, symlinks followed by writes, hard links out: each either
/// refused or made inside the tree, and the canary (an absolute path the archives aim at,
/// its `secret` a file they try to link and write) untouched.
#[test]
fn hostile_names_never_leave_the_tree() {
    let world = need!("hostile_names_never_leave_the_tree", World::new("names"));
    let dotdot = "a name with '..' would leave the root";
    // (name, the script's entries, the format, what must happen: Err(reason) or Ok(path
    // made inside the tree)).
    let cases: &[(&str, &str, &str, Result<&str, &str>)] = &[
        ("dotdot", "[dict(name='../../../../..'+C+'/x', data=b'x')]", "GNU", Err(dotdot)),
        ("dotdot_inner", "[dict(name='a/../../canary/x', data=b'x')]", "GNU", Err(dotdot)),
        (
            "pax_path",
            "[dict(name='x', data=b'x', pax_headers={'path': '../../../../..'+C+'/x'})]",
            "PAX",
            Err(dotdot),
        ),
        ("pax_link", "[dict(name='x', type=H, pax_headers={'linkpath': '../../x'})]", "PAX", Err(dotdot)),
        ("gnu_long", "[dict(name='../'*60+C[1:]+'/x', data=b'x')]", "GNU", Err(dotdot)),
        ("link_dotdot", "[dict(name='s', type=H, linkname='../x')]", "GNU", Err(dotdot)),
        ("absolute", "[dict(name=C+'/x', data=b'x')]", "GNU", Ok("CANARY/x")),
        (
            "sym_abs",
            "[dict(name='a', type=S, linkname=C), dict(name='a/x', data=b'x')]",
            "GNU",
            Err("(ENOENT)"),
        ),
        (
            "sym_etc",
            "[dict(name='etc', type=D, mode=0o755), dict(name='a', type=S, linkname='/etc'), \
             dict(name='a/husk-redteam-x', data=b'x')]",
            "GNU",
            Ok("etc/husk-redteam-x"),
        ),
        (
            "sym_up",
            "[dict(name='a', type=S, linkname='../../../../..'), dict(name='a'+C+'/x', data=b'x')]",
            "GNU",
            Ok("CANARY/x"),
        ),
        (
            "sym_chain",
            "[dict(name='a', type=S, linkname='b'), dict(name='b', type=S, linkname='c'), \
             dict(name='c', type=S, linkname=C), dict(name='a/x', data=b'x')]",
            "GNU",
            Err("(ENOENT)"),
        ),
        (
            "dir_then_symlink",
            "[dict(name='d', type=D, mode=0o755), dict(name='d', type=S, linkname=C), dict(name='d/x', data=b'x')]",
            "GNU",
            Err("(ENOENT)"),
        ),
        (
            "symlink_then_file",
            "[dict(name='f', type=S, linkname=C+'/secret'), dict(name='f', data=b'x')]",
            "GNU",
            Ok("f"),
        ),
        ("link_host_file", "[dict(name='s', type=H, linkname=C+'/secret')]", "GNU", Err("(ENOENT)")),
        ("link_etc_shadow", "[dict(name='s', type=H, linkname='/etc/shadow')]", "GNU", Err("(ENOENT)")),
        (
            "link_through_symlink",
            "[dict(name='l', type=S, linkname=C), dict(name='s', type=H, linkname='l/secret')]",
            "GNU",
            Err("(ENOENT)"),
        ),
        (
            "link_to_symlink_out",
            "[dict(name='l', type=S, linkname=C+'/secret'), dict(name='s', type=H, linkname='l'), \
             ]",
            "GNU",
            Ok("s"),
        ),
        (
            "link_to_dir",
            "[dict(name='d', type=D), dict(name='s', type=H, linkname='d')]",
            "GNU",
            Err("(EPERM)"),
        ),
        (
            "fifo_then_file",
            "[dict(name='p', type=tarfile.FIFOTYPE), dict(name='p/x', data=b'x')]",
            "GNU",
            Err("(ENOTDIR)"),
        ),
        (
            "root_as_file",
            "[dict(name='./', data=b'x')]",
            "GNU",
            Err("only a directory may name the root itself"),
        ),
        (
            "plain_whiteouts",
            "[dict(name='etc', type=D), dict(name='.wh.etc', data=b''), dict(name='etc/.wh..wh..opq', data=b'')]",
            "GNU",
            Ok(".wh.etc"),
        ),
    ];
    for (name, entries, format, want) in cases {
        world.python(&format!("tar('{name}.tar', {entries}, tarfile.{format}_FORMAT)"));
        let _ = fs::remove_dir_all(world.store());
        let outcome = world.run(&[], &world.path(&format!("{name}.tar")), &["/nothing"]);
        match want {
            Err(reason) => assert_refused(&world, &outcome, reason, name),
            Ok(inside) => {
                assert_eq!(outcome.status.code(), Some(127), "{name}: unpacked, then no /nothing: {outcome}");
                let inside = inside.replace("CANARY/", &world.path("canary/")[1..]);
                let made = fs::symlink_metadata(world.tree().join(&inside));
                assert!(made.is_ok(), "{name}: {inside} not in the tree");
                // A link to the symlink itself, not to the host's file it names.
                if *name == "link_to_symlink_out" {
                    assert!(made.unwrap().file_type().is_symlink(), "{name}: {inside} is no symlink");
                }
            }
        }
        world.assert_canary(name);
    }
    assert!(!Path::new("/etc/husk-redteam-x").exists(), "written through a symlink into the host's /etc");
}

/// An entry's name is shown escaped: a newline or a terminal escape in it cannot forge more
/// lines or reach the caller's terminal.
#[test]
fn hostile_names_are_escaped_in_the_error_line() {
    let world = need!("hostile_names_are_escaped_in_the_error_line", World::new("escape"));
    world.python("tar('t.tar', [dict(name='a\\nhusk: fine\\x1b[31m', type=H, linkname='../x')])");
    let outcome = world.run(&[], &world.path("t.tar"), &["/nothing"]);
    assert_refused(&world, &outcome, "unpack a\\x0ahusk: fine\\x1b[31m: ", "escaped");
}

/// Numbers and sizes: a negative or too large base-256 size, a pax size far beyond the
/// data, a pax header too large, more entries or data than `--max-unpacked`, a gzip bomb:
/// each one line, 125, no entry.
#[test]
fn malformed_numbers_and_bombs_are_refused() {
    let world = need!("malformed_numbers_and_bombs_are_refused", World::new("bombs"));
    world.python(
        r#"
def raw(path, size_field):
    b = bytearray(tarfile.TarInfo('n').tobuf(format=tarfile.GNU_FORMAT))
    b[124:136] = size_field
    b[148:156] = b' ' * 8
    b[148:156] = ('%06o\0 ' % sum(b)).encode()
    open(path, 'wb').write(bytes(b) + b'\0' * 1536)
raw('negative.tar', b'\xff' * 12)
raw('base256.tar', b'\x80' + b'\xff' * 11)
tar('paxsize.tar', [dict(name='x', data=b'hello', pax_headers={'size': '99999999999999'})], tarfile.PAX_FORMAT)
tar('hugepax.tar', [dict(name='x', data=b'x', pax_headers={'comment': 'A' * (1 << 20)})], tarfile.PAX_FORMAT)
tar('many.tar', [dict(name='e%d' % i, data=b'') for i in range(3000)])
with open('bomb.tar.gz', 'wb') as f:
    g = gzip.GzipFile(fileobj=f, mode='wb', compresslevel=9)
    ti = tarfile.TarInfo('zeros'); ti.size = 256 << 20
    g.write(ti.tobuf(format=tarfile.GNU_FORMAT))
    for i in range(256): g.write(b'\0' * (1 << 20))
    g.write(b'\0' * 1024); g.close()
"#,
    );
    let bad = "(EBADMSG): a header's size is not a number";
    let big = "(EFBIG): more would be unpacked than --max-unpacked allows";
    for (name, opts, reason) in [
        ("negative.tar", &[][..], bad),
        ("base256.tar", &[], bad),
        ("paxsize.tar", &[], big),
        ("hugepax.tar", &[], "(ENAMETOOLONG): a long name or pax header is too large"),
        ("many.tar", &["--max-unpacked", "1M"], big),
        ("bomb.tar.gz", &["--max-unpacked", "100M"], big),
    ] {
        let outcome = world.run(opts, &world.path(name), &["/nothing"]);
        assert_refused(&world, &outcome, reason, name);
    }
}

/// Truncated, corrupt, or trailing-garbage streams, gzip (husk's own), zstd and xz (the
/// host's): one line, 125, no entry.
#[test]
fn corrupt_streams_are_refused() {
    let world = need!("corrupt_streams_are_refused", World::new("streams"));
    let bb = need!("corrupt_streams_are_refused", world.busybox_tar());
    need!("corrupt_streams_are_refused", tool("zstd", "zstd"));
    need!("corrupt_streams_are_refused", tool("xz", "xz-utils"));
    world.python(&format!(
        r#"
import subprocess
plain = open({bb:?}, 'rb').read()
packed = {{'gz': gzip.compress(plain),
          'zst': subprocess.run(['zstd', '-qc'], input=plain, capture_output=True).stdout,
          'xz': subprocess.run(['xz', '-c'], input=plain, capture_output=True).stdout}}
for kind, data in packed.items():
    open('truncated.' + kind, 'wb').write(data[:len(data) * 2 // 3])
    flipped = bytearray(data); flipped[len(data) // 2] ^= 0xff
    open('corrupt.' + kind, 'wb').write(flipped)
open('trailing.gz', 'wb').write(packed['gz'] + b'GARBAGE' * 100)
"#
    ));
    for name in [
        "truncated.gz",
        "corrupt.gz",
        "trailing.gz",
        "truncated.zst",
        "corrupt.zst",
        "truncated.xz",
        "corrupt.xz",
    ] {
        let outcome = world.run(&[], &world.path(name), &["/nothing"]);
        let reason = if outcome.stderr.contains("(EIO)") { "(EIO)" } else { "(EBADMSG)" };
        assert_refused(&world, &outcome, reason, name);
    }
}

/// An archive rewritten while husk unpacks it, through a shared mapping whose page was
/// dirtied before husk looked (so the writes change no ctime: the check the first build
/// relied on): the first build kept an entry named by the old content's digest holding the
/// new content, for any later archive of the old content to get. The store must never keep
/// an entry whose tree is not its digest's.
#[test]
fn an_archive_changed_while_unpacked_leaves_no_entry_of_other_content() {
    let world =
        need!("an_archive_changed_while_unpacked_leaves_no_entry_of_other_content", World::new("changed"));
    world.python(&format!(
        r#"
import mmap, subprocess, time, glob, hashlib
tar('t.tar', [dict(name='big', data=b'\0' * (200 << 20)), dict(name='victim', data=b'A' * 4096)])
data = open('t.tar', 'rb').read(); at = data.index(b'A' * 4096); del data
m = mmap.mmap(os.open('t.tar', os.O_RDWR), 0)
m[at:at + 1] = b'A'
time.sleep(0.1)
p = subprocess.Popen([{HUSK:?}, 'run', '--rootfs', 't.tar', '--', '/nothing'], env={{'HUSK_STORE': os.path.abspath('store')}},
                     stderr=subprocess.PIPE)
while not glob.glob('store/images/*.tmp') and p.poll() is None: time.sleep(0.0005)
m[at:at + 4] = b'BBBB'
err = p.communicate()[1].decode()
m[at:at + 4] = b'AAAA'
open('outcome', 'w').write('%d %s' % (p.returncode, err))
"#
    ));
    let outcome = fs::read_to_string(world.dir.join("outcome")).unwrap();
    let kept: Vec<String> = world.images().into_iter().filter(|n| n.len() == 64).collect();
    for hex in &kept {
        let victim = fs::read(world.store().join("images").join(hex).join("rootfs/victim")).unwrap();
        assert_eq!(&victim[..4], b"AAAA", "entry {hex} holds content its digest does not name ({outcome})");
    }
    assert!(
        kept.is_empty() == outcome.starts_with("125 husk: unpack"),
        "either the change was caught (125, no entry) or the entry is the digest's: {outcome}"
    );
}

/// An archive truncated while husk hashes it: the first build hashed a mapping of it,
/// which faults when the file shrinks, and husk died of SIGBUS (no line, status 135).
/// Refused instead, with one line.
#[test]
fn an_archive_that_shrinks_while_hashed_is_refused() {
    let world = need!("an_archive_that_shrinks_while_hashed_is_refused", World::new("shrinks"));
    world.python("tar('t.tar', [dict(name='big', data=b'\\1' * (600 << 20))])");
    let archive = world.dir.join("t.tar");
    let mut husk = Proc::start(&mut world.husk(&["run", "--rootfs", &world.path("t.tar"), "--", "/nothing"]));
    let fds = format!("/proc/{}/fd", husk.pid());
    wait_until(
        || "husk to open the archive".into(),
        || {
            fs::read_dir(&fds)
                .into_iter()
                .flatten()
                .flatten()
                .any(|fd| fs::read_link(fd.path()).is_ok_and(|l| l == archive))
        },
    );
    std::thread::sleep(std::time::Duration::from_millis(20));
    fs::OpenOptions::new().write(true).open(&archive).unwrap().set_len(1 << 20).unwrap();
    let outcome = husk.wait();
    assert_refused(&world, &outcome, "(EIO)", "shrunk");
}

/// What a killed husk leaves in the store goes with the next start, whichever image that
/// one runs: the first build removed a stale `HEX.tmp` only when HEX itself was started
/// again (else it stayed for good, unseen by `husk images` and `husk rmi all`), and a
/// killed `husk rmi`'s `HEX.rm` stayed too, so that the next `husk rmi HEX` failed
/// (ENOTEMPTY) forever.
#[test]
fn what_killed_husks_leave_goes_with_the_next_start() {
    let world = need!("what_killed_husks_leave_goes_with_the_next_start", World::new("stale"));
    let bb = need!("what_killed_husks_leave_goes_with_the_next_start", world.busybox_tar());
    world.python(
        "tar('big.tar', [dict(name='big', data=b'\\0' * (300 << 20))])\n\
         tar('many.tar', [dict(name='e%d' % i, data=b'') for i in range(30000)])",
    );
    // A `husk rmi` killed half way through its removal.
    world.run(&[], &world.path("many.tar"), &["/nothing"]);
    let hex = world.images().into_iter().find(|n| n.len() == 64).unwrap();
    let mut rmi = Proc::start(&mut world.husk(&["rmi", &hex]));
    wait_until(
        || "husk rmi to rename the entry".into(),
        || world.images().iter().any(|n| n.ends_with(".rm")),
    );
    send(rmi.pid(), SIGKILL);
    rmi.wait();
    assert!(world.images().iter().any(|n| n.ends_with(".rm")), "the killed rmi left its .rm");
    // An unpack killed half way: its .tmp (and lock) stay until the next start.
    let mut cmd = world.husk(&["run", "--rootfs", &world.path("big.tar"), "--", "/nothing"]);
    let mut unpack = Proc::start(&mut cmd);
    wait_until(|| "the unpack to start".into(), || world.images().iter().any(|n| n.ends_with(".tmp")));
    send(unpack.pid(), SIGKILL);
    unpack.wait();
    assert!(world.images().iter().any(|n| n.ends_with(".tmp")), "the killed unpack left its .tmp");
    // Another image's start: only its own entry is left.
    world.run(&[], &bb, &["/bin/true"]).expect_success();
    let bb_hex: Vec<String> = world.images();
    assert_eq!(bb_hex.len(), 1, "what the killed husks left is gone: {bb_hex:?}");
    // And the image the killed rmi removed can be made and removed again.
    world.run(&[], &world.path("many.tar"), &["/nothing"]);
    let out = Proc::start(&mut world.husk(&["rmi", &hex])).wait();
    out.expect(0, &format!("sha256:{hex}\n"), "");
    assert_eq!(world.images(), bb_hex);
}

/// A store another user can change: root given a `HUSK_STORE` whose `runs/` someone else
/// owns (made ahead of it in /tmp, say). overlayfs takes the run's upper directory by path,
/// so the owner of `runs/` renamed `husk-PID` away between its mkdir and the mount and put
/// a symlink there, to a directory whose `upper` leads to a host directory of root's: the
/// container's writes landed in it (the first build; found at the first try). The store,
/// and each directory above it, must be writable by no one but the caller (root may own
/// those above, and a sticky one, /tmp, may be everyone's).
#[test]
fn a_store_others_can_change_is_refused() {
    let world = need!("a_store_others_can_change_is_refused", World::new("owner"));
    let bb = need!("a_store_others_can_change_is_refused", world.busybox_tar());
    let user = need!("a_store_others_can_change_is_refused", common::user::huskci2());
    let (evil, victim) = (world.dir.join("evil"), world.dir.join("victim"));
    for dir in ["evil", "evil/runs", "evil/images", "evil/keys", "victim"] {
        fs::create_dir(world.dir.join(dir)).unwrap();
    }
    user.chown(&evil, true);
    let attack = format!(
        r#"
import os, time
runs = {runs:?}
while True:
    for n in os.listdir(runs):
        p = os.path.join(runs, n)
        if n.startswith('husk-') and not n.endswith('.orig') and not os.path.islink(p):
            try:
                os.rename(p, p + '.orig')
                x = {evil:?} + '/x-' + n
                os.makedirs(x + '/work', exist_ok=True)
                os.symlink({victim:?}, x + '/upper')
                os.symlink(x, p)
            except OSError: pass
"#,
        runs = path_str(&evil.join("runs")),
        evil = path_str(&evil),
        victim = path_str(&victim),
    );
    let mut attacker = Proc::start(user.command("python3").arg("-c").arg(attack));
    let refusal = "must be writable by no one else (HUSK_STORE)";
    for round in 0..10 {
        let mut cmd = world.husk(&["run", "--rootfs", &bb, "--", "/bin/sh", "-c", "echo pwned > /pwned"]);
        let out = Proc::start(cmd.env("HUSK_STORE", &evil)).wait();
        let written: Vec<_> = fs::read_dir(&victim).unwrap().flatten().map(|e| e.path()).collect();
        assert!(written.is_empty(), "round {round}: the container wrote into a host directory: {written:?}");
        assert!(out.is_refusal() && out.stderr.contains(refusal), "round {round}: {out}");
    }
    send(attacker.pid(), SIGKILL);
    attacker.wait();
    // Above the store: a directory open to all is refused, a sticky one is not.
    for (mode, refused) in [(0o777, true), (0o1777, false)] {
        let above = world.dir.join(format!("above-{mode:o}"));
        fs::create_dir(&above).unwrap();
        fs::set_permissions(&above, fs::Permissions::from_mode(mode)).unwrap();
        let out = Proc::start(world.husk(&["images", "-q"]).env("HUSK_STORE", above.join("store"))).wait();
        assert_eq!(out.is_refusal() && out.stderr.contains(refusal), refused, "{mode:o}: {out}");
    }
}

/// `STORE/keys/FILE-ID` remembers an archive file's digest (a symlink to it). The first
/// build trusted whatever 64 bytes it held: `./././../../x/` made `images/<that>/rootfs`,
/// a tree outside the store, the container's root. A record that is not a digest is not
/// used: the archive is hashed again.
#[test]
fn a_forged_key_record_is_not_trusted() {
    let world = need!("a_forged_key_record_is_not_trusted", World::new("keys"));
    let bb = need!("a_forged_key_record_is_not_trusted", world.busybox_tar());
    world.run(&[], &bb, &["/bin/true"]).expect_success();
    let fake = world.dir.join("fake/rootfs");
    fs::create_dir(world.dir.join("fake")).unwrap();
    common::rootfs::copy_tree(&world.tree(), &fake);
    fs::write(fake.join("etc/passwd"), "forged\n").unwrap();
    let key = fs::read_dir(world.store().join("keys")).unwrap().flatten().next().unwrap().path();
    let up = format!("../../../../../../../..{}", world.path("fake"));
    let target = format!("{}{up}/", "./".repeat((63 - up.len()) / 2));
    let target = format!("{target}{}", "/".repeat(64 - target.len()));
    fs::remove_file(&key).unwrap();
    std::os::unix::fs::symlink(&target, &key).unwrap();
    let out = world.run(&[], &bb, &["/bin/cat", "/etc/passwd"]);
    assert!(out.expect_success().starts_with("root:"), "{target}: {out}");
}

/// overlayfs takes `\` in its directory options as an escape: a store path with one gave
/// an overlay mount error (ENOENT) naming a mangled path, after making the store and a run
/// directory. Refused at once instead, as `:` and `,` are.
#[test]
fn a_store_path_with_a_backslash_is_refused() {
    let world = need!("a_store_path_with_a_backslash_is_refused", World::new("backslash"));
    let bb = need!("a_store_path_with_a_backslash_is_refused", world.busybox_tar());
    let store = world.path("a\\b");
    for bad in [&store[..], "relative/store", &world.path("a:b"), &world.path("a,b")] {
        let mut cmd = world.husk(&["run", "--rootfs", &bb, "--", "/bin/true"]);
        let outcome = Proc::start(cmd.env("HUSK_STORE", bad)).wait();
        assert!(outcome.is_refusal() && outcome.stderr.contains("(HUSK_STORE)"), "{bad}: {outcome}");
    }
    assert!(!Path::new(&store).exists(), "the store was made: {store}");
}

/// Every file of `tree`: path -> (mode, uid, gid, content or link target).
fn snapshot(tree: &Path) -> BTreeMap<PathBuf, (u32, u32, u32, Vec<u8>)> {
    let mut all = BTreeMap::new();
    let mut todo = vec![tree.to_path_buf()];
    while let Some(path) = todo.pop() {
        let meta = fs::symlink_metadata(&path).unwrap();
        let body = if meta.is_dir() {
            todo.extend(fs::read_dir(&path).unwrap().flatten().map(|e| e.path()));
            Vec::new()
        } else if meta.file_type().is_symlink() {
            fs::read_link(&path).unwrap().into_os_string().into_encoded_bytes()
        } else {
            fs::read(&path).unwrap_or_default()
        };
        all.insert(
            path.strip_prefix(tree).unwrap().to_path_buf(),
            (meta.mode(), meta.uid(), meta.gid(), body),
        );
    }
    all
}

/// The container's root attacks the cached tree through its overlay: writes, appends
/// through a hard link, chmod, chown, removes, makes a whiteout-like device, tries to mount
/// over a directory; the cached tree is the same after, the next run sees none of it, and
/// the run's directory is gone.
#[test]
fn a_container_never_changes_the_cached_tree() {
    let world = need!("a_container_never_changes_the_cached_tree", World::new("overlay"));
    let bb = need!("a_container_never_changes_the_cached_tree", world.busybox_tar());
    world.run(&[], &bb, &["/bin/true"]).expect_success();
    let before = snapshot(&world.tree());
    let attack = "echo pwn > /etc/passwd; echo pwn >> /bin/busybox; chmod 777 /bin /etc/passwd; \
                  chown 5:5 /etc /bin/sh; rm -rf /etc; mknod /bin/ls c 0 0; mknod /.wh.bin c 0 0; \
                  touch /leftover; mount -t tmpfs none /bin; ln /bin/busybox /hl; echo x >> /hl; true";
    world.run(&[], &bb, &["/bin/sh", "-c", attack]);
    assert!(snapshot(&world.tree()) == before, "the cached tree changed");
    let out = world.run(&[], &bb, &["/bin/sh", "-c", "ls /leftover /hl /etc/passwd 2>&1; cat /etc/passwd"]);
    assert!(!out.stdout.contains("pwn") && out.stdout.contains("No such file"), "{out}");
    let runs: Vec<_> = fs::read_dir(world.store().join("runs")).unwrap().collect();
    assert!(runs.is_empty(), "run directories left: {runs:?}");
}

/// Two cold starts of the same archive at once unpack it once (one entry, both run), and of
/// two archives make two; a husk killed while its container runs leaves a run directory
/// that the next start removes.
#[test]
fn concurrent_starts_and_a_killed_run() {
    let world = need!("concurrent_starts_and_a_killed_run", World::new("concurrent"));
    let bb = need!("concurrent_starts_and_a_killed_run", world.busybox_tar());
    world.python(
        "import shutil; shutil.copy('bb.tar', 'bb2.tar'); open('bb2.tar', 'ab').write(b'\\0' * 10240)",
    );
    let bb2 = world.path("bb2.tar");
    for pair in [[&bb, &bb], [&bb, &bb2]] {
        let _ = fs::remove_dir_all(world.store());
        let mut started: Vec<Proc> = pair
            .iter()
            .map(|a| Proc::start(&mut world.husk(&["run", "--rootfs", a, "--", "/bin/true"])))
            .collect();
        for p in &mut started {
            p.wait().expect_success();
        }
        let want = if pair[0] == pair[1] { 1 } else { 2 };
        let images = world.images();
        assert!(images.len() == want && images.iter().all(|n| n.len() == 64), "{images:?}");
    }
    let mut cmd = world.husk(&["run", "--rootfs", &bb, "--", "/bin/sleep", "60"]);
    let mut running = Proc::start(&mut cmd);
    let runs = world.store().join("runs");
    wait_until(|| "the run directory".into(), || fs::read_dir(&runs).unwrap().count() == 1);
    send(running.pid(), SIGKILL);
    running.wait();
    world.run(&["--read-only"], &bb, &["/bin/true"]).expect_success();
    world.run(&[], &bb, &["/bin/true"]).expect_success();
    let left: Vec<_> = fs::read_dir(&runs).unwrap().collect();
    assert!(left.is_empty(), "the killed run's directory is left: {left:?}");
}

/// `husk rmi` racing starts of the same image: each start runs on a whole tree or fails
/// with one line; each rmi removes or refuses (EBUSY, in use); nothing half-removed stays.
#[test]
fn rmi_racing_starts() {
    let world = need!("rmi_racing_starts", World::new("rmi"));
    let bb = need!("rmi_racing_starts", world.busybox_tar());
    for round in 0..30 {
        let mut start =
            Proc::start(&mut world.husk(&["run", "--rootfs", &bb, "--", "/bin/cat", "/etc/passwd"]));
        let rmi = Proc::start(&mut world.husk(&["rmi", "all"])).wait();
        assert!(rmi.status.success() || rmi.stderr.contains("(EBUSY)"), "round {round}: {rmi}");
        let ran = start.wait();
        assert!(ran.status.success() || ran.is_refusal(), "round {round}: {ran}");
        if ran.status.success() {
            assert!(ran.stdout.starts_with("root:"), "round {round}: {ran}");
        }
        let odd: Vec<String> = world.images().into_iter().filter(|n| n.len() != 64).collect();
        assert!(odd.is_empty(), "round {round}: left {odd:?}");
    }
}

/// An ordinary user's unpack: device nodes skipped, every file the user's, a file
/// capability not kept.
#[test]
fn a_user_makes_no_devices_and_owns_everything() {
    let world = need!("a_user_makes_no_devices_and_owns_everything", World::new("user"));
    let user = need!("a_user_makes_no_devices_and_owns_everything", common::user::huskci2());
    world.python(
        "tar('u.tar', [dict(name='dev', type=D, mode=0o755), \
         dict(name='dev/mem', type=tarfile.CHRTYPE, devmajor=1, devminor=1, mode=0o666), \
         dict(name='own', data=b'x', uid=0, gid=0), dict(name='dir', type=D, mode=0, uid=0, gid=0)])",
    );
    fs::set_permissions(world.dir.join("u.tar"), fs::Permissions::from_mode(0o644)).unwrap();
    let store = world.dir.join("ustore");
    fs::create_dir(&store).unwrap();
    user.chown(&store, false);
    let mut cmd = user.husk(&["run", "--rootfs", &world.path("u.tar"), "--", "/nothing"]);
    let out = Proc::start(cmd.env("HUSK_STORE", store.join("s"))).wait();
    assert_eq!(out.status.code(), Some(127), "{out}");
    let images = store.join("s/images");
    let hex = fs::read_dir(&images).unwrap().flatten().find(|e| e.file_name().len() == 64).unwrap();
    let tree = images.join(hex.file_name()).join("rootfs");
    assert!(!tree.join("dev/mem").exists(), "a user made a device node");
    for name in ["own", "dir", "dev"] {
        assert_eq!(fs::metadata(tree.join(name)).unwrap().uid(), user.uid, "{name}");
    }
    // The store can be emptied by its user.
    let out = Proc::start(user.husk(&["rmi", "all"]).env("HUSK_STORE", store.join("s"))).wait();
    assert!(out.status.success(), "{out}");
}

/// Finding F4 of the red team: an ordinary user's container whose husk is killed left a
/// run directory the next start could not remove: the sweep ran as the user on the host,
/// and what the container's root made as another of its ids (a subordinate id on the host,
/// a 0700 directory) is not the user's to open; `work/work` (mode 0) neither. The next
/// start now sweeps again from inside its container's user namespace.
#[test]
fn a_users_killed_run_is_swept_by_the_next_start() {
    let world = need!("a_users_killed_run_is_swept_by_the_next_start", World::new("usersweep"));
    let bb = need!("a_users_killed_run_is_swept_by_the_next_start", world.busybox_tar());
    let user = need!("a_users_killed_run_is_swept_by_the_next_start", common::user::huskci());
    let store = world.dir.join("ustore");
    fs::create_dir(&store).unwrap();
    user.chown(&store, false);
    let store = store.join("s");
    let script = "mkdir /d && touch /d/f && chown -R 5:5 /d && chmod 700 /d && exec sleep 60";
    let mut cmd = user.husk(&["run", "--rootfs", &bb, "--", "/bin/sh", "-c", script]);
    let mut running = Proc::start(cmd.env("HUSK_STORE", &store));
    let upper_d = |store: &Path| {
        fs::read_dir(store.join("runs"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.path().join("upper/d/f").exists())
    };
    wait_until(|| "the container's /d/f".into(), || upper_d(&store));
    send(running.pid(), SIGKILL);
    running.wait();
    let mut cmd = user.husk(&["run", "--rootfs", &bb, "--", "/bin/true"]);
    Proc::start(cmd.env("HUSK_STORE", &store)).wait().expect_success();
    let left: Vec<_> = fs::read_dir(store.join("runs")).unwrap().flatten().map(|e| e.path()).collect();
    assert!(left.is_empty(), "left in the store: {left:?}");
}

/// The compressed twins of [`an_archive_changed_while_unpacked_leaves_no_entry_of_other_content`]:
/// the name was the hash of a mapping of the file, and husk's inflater read that same
/// shared mapping later (zstd the file itself), so a tail rewritten in between (its pages
/// dirtied before, so no new ctime) was unpacked under the old digest (the first build,
/// found at the first try, both).
#[test]
fn a_compressed_archive_changed_while_unpacked_leaves_no_entry_of_other_content() {
    let test = "a_compressed_archive_changed_while_unpacked_leaves_no_entry_of_other_content";
    let world = need!(
        "a_compressed_archive_changed_while_unpacked_leaves_no_entry_of_other_content",
        World::new("changedz")
    );
    need!(
        "a_compressed_archive_changed_while_unpacked_leaves_no_entry_of_other_content",
        tool("zstd", "zstd")
    );
    for (kind, compress, prefix) in [
        ("gz", "gzip.compress(plain, mtime=0)", "b'\\0' * (400 << 20)"),
        ("zst", "subprocess.run(['zstd', '-qc', '-1'], input=plain, capture_output=True).stdout", "noise"),
    ] {
        let _ = fs::remove_dir_all(world.store());
        world.python(&format!(
            r#"
import mmap, subprocess, time, glob, random
noise = random.Random(1).randbytes(64 << 20)
def make(v):
    tar('t.tar', [dict(name='big', data={prefix}), dict(name='victim', data=v * 4096)])
    plain = open('t.tar', 'rb').read()
    return {compress}
A, B = make(b'A'), make(b'B')
n = max(len(A), len(B)); A += b'\0' * (n - len(A)); B += b'\0' * (n - len(B))
first = next(i for i in range(n) if A[i] != B[i])
open('t.{kind}', 'wb').write(A)
m = mmap.mmap(os.open('t.{kind}', os.O_RDWR), 0)
m[first:] = A[first:]
time.sleep(0.1)
p = subprocess.Popen([{HUSK:?}, 'run', '--rootfs', 't.{kind}', '--', '/nothing'],
                     env={{'HUSK_STORE': os.path.abspath('store')}}, stderr=subprocess.PIPE)
while not glob.glob('store/images/*.tmp') and p.poll() is None: time.sleep(0.0005)
m[first:] = B[first:]
err = p.communicate()[1].decode()
open('outcome', 'w').write('%d %s' % (p.returncode, err))
"#
        ));
        let outcome = fs::read_to_string(world.dir.join("outcome")).unwrap();
        let kept: Vec<String> = world.images().into_iter().filter(|n| n.len() == 64).collect();
        for hex in &kept {
            let victim = fs::read(world.store().join("images").join(hex).join("rootfs/victim")).unwrap();
            assert_eq!(&victim[..4], b"AAAA", "{test}: {kind}: entry {hex} holds other content ({outcome})");
        }
        assert!(kept.is_empty() == outcome.starts_with("125 husk: unpack"), "{kind}: {outcome}");
    }
}
