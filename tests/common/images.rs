//! Image fixtures for tests/images.rs (issue 16), built with the real tools from Debian
//! packages and cached under `target/images/` across test runs:
//!
//! - trees: [`Tree::Busybox`] (the busybox fixture plus files whose owners, modes, links and
//!   mtimes the tests check, and the script an image's Entrypoint runs), [`Tree::Long`] (the
//!   same plus names longer than 100 and 255 bytes and a link target longer than 100), and
//!   [`debian_cap`] (the Debian fixture with python3 given `cap_net_bind_service+ep` by
//!   setcap: a copy, never the shared tree);
//! - root file-system tarballs of those trees ([`tarball`]): GNU tar `--format=gnu`, `posix`
//!   (pax, with `--xattrs --xattrs-include='*'`), `ustar`, and busybox tar; plain, gzip, zstd
//!   or xz;
//! - a two-layer image ([`image`]) made by `buildah build` (whiteouts, an opaque directory,
//!   hard links, a config with Env, WorkingDir, User, Entrypoint and Cmd), pushed as
//!   `oci:`, `oci-archive:` and `docker-archive:`, and `umoci unpack`ed for comparison;
//! - hostile archives made with Python's `tarfile` ([`python`]).
//!
//! Each artifact is built into `NAME.tmp` and renamed to `NAME` when complete, under a lock
//! file (`NAME.lock`), so parallel tests and test binaries build it once and never see half
//! of it.

// Each test binary compiles this module and uses a different subset of it.
#![allow(dead_code)]

use super::rootfs::{self, copy_tree, remove_tree, require_root};
use super::tool;
use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The python3 of the host's Debian (`python3` in PATH may be another one).
pub const PYTHON: &str = "/usr/bin/python3";

/// The tag every image fixture is pushed with.
pub const TAG: &str = "v1";

/// The name `docker-archive:` gets (`NAME:TAG`).
pub const DOCKER_NAME: &str = "husk/images-test";

/// Where the fixtures are kept: `target/images`.
pub fn dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("images")
}

/// Runs `cmd` to its end; its stdout, or a failure naming it.
pub fn sh_out(cmd: &mut Command) -> Result<String, String> {
    let what = format!("{cmd:?}");
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| format!("run {what}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{what}: {}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `sh -c SCRIPT` with `$1`, `$2`... = `args`; panics on failure (fixtures must build).
fn shell(script: &str, args: &[&Path]) -> Result<String, String> {
    sh_out(Command::new("sh").arg("-c").arg(format!("set -e; {script}")).arg("sh").args(args))
}

/// The artifact `target/images/NAME`, built by `build` into a temporary sibling (a path it
/// must create, file or directory) the first time, under a lock.
pub fn cached(name: &str, build: impl FnOnce(&Path) -> Result<(), String>) -> Result<PathBuf, String> {
    let parent = dir();
    fs::create_dir_all(&parent).map_err(|e| format!("mkdir {}: {e}", parent.display()))?;
    let done = parent.join(name);
    let lock = File::create(parent.join(format!("{name}.lock"))).map_err(|e| format!("lock {name}: {e}"))?;
    lock.lock().map_err(|e| format!("lock {name}: {e}"))?;
    if fs::symlink_metadata(&done).is_ok() {
        return Ok(done);
    }
    let tmp = parent.join(format!("{name}.tmp"));
    remove_tree(&tmp)?;
    build(&tmp).map_err(|why| format!("image fixture {name}: {why}"))?;
    fs::rename(&tmp, &done).map_err(|e| format!("rename {} -> {}: {e}", tmp.display(), done.display()))?;
    Ok(done)
}

/// The fixture, or a failure: a fixture whose tools are installed must build.
fn built(result: Result<PathBuf, String>) -> PathBuf {
    result.unwrap_or_else(|why| panic!("{why}"))
}

// ---------------------------------------------------------------------------------------
// Trees
// ---------------------------------------------------------------------------------------

/// A root file system the tarballs are made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tree {
    /// The busybox fixture plus [`EXTRAS`].
    Busybox,
    /// [`Tree::Busybox`] plus [`LONG_FILE`] and [`LONG_LINK`].
    Long,
}

/// The mtime of `srv/owned` (2001-09-09).
pub const MTIME: u64 = 1_000_000_000;

/// What the busybox tree gets on top of the fixture: `srv/owned` (1000:1000, 0640,
/// [`MTIME`]), `srv/suid` (0:0, 4755), `srv/sgid/` (2775), `srv/hard1` and `srv/hard2` (one
/// inode), `srv/link -> hard1`, `srv/abslink -> /srv/hard1`, `srv/null` (character device
/// 1,3), `srv/gone` and `srv/opq/old` (deleted by the image's second layer), `srv/keep/`,
/// and `usr/local/bin/show`, the image's Entrypoint, which prints its arguments, `$A $B $C`,
/// its directory and ids.
const EXTRAS: &str = r#"
mkdir -p "$1/srv/sgid" "$1/srv/opq" "$1/srv/keep" "$1/usr/local/bin"
printf 'owned\n' > "$1/srv/owned"; chown 1000:1000 "$1/srv/owned"; chmod 0640 "$1/srv/owned"
printf '#!/bin/sh\necho suid\n' > "$1/srv/suid"; chmod 4755 "$1/srv/suid"
chmod 2775 "$1/srv/sgid"
printf 'hard\n' > "$1/srv/hard1"; ln "$1/srv/hard1" "$1/srv/hard2"
ln -s hard1 "$1/srv/link"; ln -s /srv/hard1 "$1/srv/abslink"
mknod "$1/srv/null" c 1 3; chmod 0666 "$1/srv/null"
printf 'gone\n' > "$1/srv/gone"; printf 'old\n' > "$1/srv/opq/old"
cat > "$1/usr/local/bin/show" <<'EOF'
#!/bin/sh
echo "args=$*"
echo "A=$A B=$B C=$C"
echo "cwd=$(pwd)"
echo "id=$(id -u):$(id -g)"
EOF
chmod 0755 "$1/usr/local/bin/show"
touch -h -d @1000000000 "$1/srv/owned" "$1/srv/link"
"#;

/// A directory name of 60 bytes: four of them make a path longer than 255.
pub const LONG_DIR: &str = "d123456789d123456789d123456789d123456789d123456789d123456789";

/// The long file of [`Tree::Long`] (a 150-byte name, a path of more than 255): holds `long\n`.
pub fn long_file() -> String {
    format!("/srv/{LONG_DIR}/{LONG_DIR}/{LONG_DIR}/{LONG_DIR}/{}", "f".repeat(150))
}

/// The symlink of [`Tree::Long`] whose target (the long file, relative) is longer than 100.
pub const LONG_LINK: &str = "/srv/longlink";

/// The tree `which`, built once.
pub fn tree(which: Tree) -> PathBuf {
    let bb = rootfs::busybox().unwrap_or_else(|why| panic!("busybox fixture: {why}"));
    match which {
        Tree::Busybox => built(cached("tree-busybox", |tmp| {
            copy_tree(bb, tmp);
            let _ = fs::remove_file(tmp.join(".husk-fixture-complete"));
            shell(EXTRAS, &[tmp]).map(drop)
        })),
        Tree::Long => {
            let base = tree(Tree::Busybox);
            built(cached("tree-long", |tmp| {
                copy_tree(&base, tmp);
                let file = long_file();
                let path = tmp.join(file.trim_start_matches('/'));
                fs::create_dir_all(path.parent().unwrap()).map_err(|e| format!("mkdir: {e}"))?;
                fs::write(&path, "long\n").map_err(|e| format!("write {}: {e}", path.display()))?;
                std::os::unix::fs::symlink(file.trim_start_matches("/srv/"), tmp.join("srv/longlink"))
                    .map_err(|e| format!("symlink: {e}"))
            }))
        }
    }
}

/// The Debian fixture with `cap_net_bind_service+ep` on its python3 (a copy), built once.
pub fn debian_cap() -> Result<PathBuf, String> {
    let debian = rootfs::debian()?;
    let setcap = tool("setcap", "libcap2-bin")?;
    Ok(built(cached("tree-debian-cap", |tmp| {
        copy_tree(debian, tmp);
        let python = fs::canonicalize(tmp.join("usr/bin/python3")).map_err(|e| format!("python3: {e}"))?;
        sh_out(Command::new(&setcap).arg("cap_net_bind_service+ep").arg(&python)).map(drop)
    })))
}

// ---------------------------------------------------------------------------------------
// Tarballs
// ---------------------------------------------------------------------------------------

/// Who writes the tar stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `tar --format=gnu`
    Gnu,
    /// `tar --format=posix --xattrs --xattrs-include='*'` (pax, xattrs kept)
    Pax,
    /// `tar --format=posix` (pax, no xattrs: a file capability is lost)
    PaxNoXattrs,
    /// `tar --format=ustar`
    Ustar,
    /// `busybox tar`
    Busybox,
}

/// How the stream is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comp {
    Plain,
    Gzip,
    Zstd,
    Xz,
}

impl Format {
    fn label(self) -> &'static str {
        match self {
            Format::Gnu => "gnu",
            Format::Pax => "pax",
            Format::PaxNoXattrs => "pax-noxattrs",
            Format::Ustar => "ustar",
            Format::Busybox => "busybox",
        }
    }
}

impl Comp {
    /// The usual suffix, and the filter that writes it (`cat` for none).
    fn suffix_and_filter(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Comp::Plain => ("tar", "cat", "coreutils"),
            Comp::Gzip => ("tar.gz", "gzip -n -c", "gzip"),
            Comp::Zstd => ("tar.zst", "zstd -q -c", "zstd"),
            Comp::Xz => ("tar.xz", "xz -c -T2", "xz-utils"),
        }
    }
}

/// The tarball of `root` (a tree, by its fixture name `label`) in `format`, compressed with
/// `comp`, built once: `target/images/LABEL-FORMAT.SUFFIX`.
fn tarball_of(label: &str, root: &Path, format: Format, comp: Comp) -> Result<PathBuf, String> {
    let (suffix, filter, package) = comp.suffix_and_filter();
    let program = filter.split(' ').next().unwrap();
    tool(program, package)?;
    let writer = match format {
        Format::Gnu => "tar --format=gnu -C \"$1\" -cf - .".to_string(),
        Format::Pax => "tar --format=posix --xattrs --xattrs-include='*' -C \"$1\" -cf - .".to_string(),
        Format::PaxNoXattrs => "tar --format=posix --no-xattrs -C \"$1\" -cf - .".to_string(),
        Format::Ustar => "tar --format=ustar -C \"$1\" -cf - .".to_string(),
        Format::Busybox => {
            tool("busybox", "busybox-static")?;
            "busybox tar -C \"$1\" -cf - .".to_string()
        }
    };
    let name = format!("{label}-{}.{suffix}", format.label());
    cached(&name, |tmp| shell(&format!("{writer} | {filter} > \"$2\""), &[root, tmp]).map(drop))
}

/// [`tarball_of`] a busybox tree; root only (owners, the device node).
pub fn tarball(which: Tree, format: Format, comp: Comp) -> Result<PathBuf, String> {
    require_root()?;
    let label = match which {
        Tree::Busybox => "busybox",
        Tree::Long => "long",
    };
    tarball_of(label, &tree(which), format, comp)
}

/// The Debian tree with the setcap'd python3, gzipped: pax with xattrs (`cap`) or without
/// (the capability lost).
pub fn debian_tarball(cap: bool) -> Result<PathBuf, String> {
    let tree = debian_cap()?;
    let format = if cap { Format::Pax } else { Format::PaxNoXattrs };
    tarball_of("debian-cap", &tree, format, Comp::Gzip)
}

/// The busybox tree plus a file of 256 MiB of zeros (sparse in the tree, whole in the
/// archive), gzipped (about 1.3 MB): a cold unpack long enough to race with or kill.
pub fn big_tarball() -> Result<PathBuf, String> {
    require_root()?;
    let base = tree(Tree::Busybox);
    let big = cached("tree-big", |tmp| {
        copy_tree(&base, tmp);
        shell("truncate -s 256M \"$1/srv/zeros\"", &[tmp]).map(drop)
    })?;
    tarball_of("big", &big, Format::Gnu, Comp::Gzip)
}

/// The SHA-256 of a file, in lowercase hex.
pub fn sha256(file: &Path) -> String {
    let out = sh_out(Command::new("sha256sum").arg(file)).unwrap_or_else(|why| panic!("{why}"));
    out.split_whitespace().next().expect("sha256sum's digest").to_string()
}

// ---------------------------------------------------------------------------------------
// The image
// ---------------------------------------------------------------------------------------

/// The image fixture, in every transport, and what umoci makes of it.
pub struct Image {
    /// `oci:DIR:TAG`'s DIR.
    pub oci: PathBuf,
    /// `oci-archive:FILE:TAG`'s FILE.
    pub oci_archive: PathBuf,
    /// `docker-archive:FILE:NAME:TAG`'s FILE.
    pub docker_archive: PathBuf,
    /// `umoci unpack --image DIR:TAG`'s rootfs.
    pub umoci_rootfs: PathBuf,
}

impl Image {
    pub fn oci_source(&self) -> String {
        format!("oci:{}:{TAG}", self.oci.display())
    }
    pub fn oci_archive_source(&self) -> String {
        format!("oci-archive:{}:{TAG}", self.oci_archive.display())
    }
    pub fn docker_archive_source(&self) -> String {
        format!("docker-archive:{}:{DOCKER_NAME}:{TAG}", self.docker_archive.display())
    }
    /// The three `--rootfs` values, labelled.
    pub fn sources(&self) -> [(&'static str, String); 3] {
        [
            ("oci", self.oci_source()),
            ("oci-archive", self.oci_archive_source()),
            ("docker-archive", self.docker_archive_source()),
        ]
    }
}

/// The image's Containerfile: layer 1 is the busybox tree (`ADD` of its GNU tarball, owners
/// kept); layer 2 deletes `srv/gone` (a `.wh.` whiteout), empties and refills `srv/opq` (an
/// opaque directory with the overlay storage driver), adds a hard-linked pair and a setuid
/// file of 1000's; then the config.
const CONTAINERFILE: &str = r#"FROM scratch
ADD rootfs.tar /
RUN rm /srv/gone && rm -rf /srv/opq && mkdir /srv/opq && echo new > /srv/opq/new && echo layer2 > /srv/l2a && ln /srv/l2a /srv/l2b && chown 1000:1000 /srv/l2a && chmod 4750 /srv/l2a && mkdir /srv/work
ENV A=1 B=two
WORKDIR /srv/work
USER 1000:1000
ENTRYPOINT ["/usr/local/bin/show"]
CMD ["c1", "c2"]
"#;

/// The image, built once (about 10 s): `buildah build --isolation chroot --layers`, with a
/// private `--root`/`--runroot` under the fixture's directory (removed afterwards) so that
/// nothing touches the host's stores. The storage driver is `overlay`: `vfs` writes a
/// deleted-and-recreated directory as one `.wh.` per old file, never as an opaque directory.
pub fn image() -> Result<Image, String> {
    require_root()?;
    let buildah = tool("buildah", "buildah")?;
    let umoci = tool("umoci", "umoci")?;
    let tarball = tarball(Tree::Busybox, Format::Gnu, Comp::Plain)?;
    let dir = built(cached("image", |tmp| {
        let ctx = tmp.join("ctx");
        fs::create_dir_all(&ctx).map_err(|e| format!("mkdir {}: {e}", ctx.display()))?;
        fs::copy(&tarball, ctx.join("rootfs.tar")).map_err(|e| format!("copy the tarball: {e}"))?;
        fs::write(ctx.join("Containerfile"), CONTAINERFILE).map_err(|e| format!("Containerfile: {e}"))?;
        let store = tmp.join("buildah");
        let buildah_cmd = |args: &[&str]| {
            let mut cmd = Command::new(&buildah);
            cmd.arg("--root")
                .arg(store.join("root"))
                .arg("--runroot")
                .arg(store.join("runroot"))
                .arg("--storage-driver")
                .arg("overlay")
                .args(args);
            cmd
        };
        let name = format!("localhost/husk-images-test:{TAG}");
        let built = sh_out(
            buildah_cmd(&["build", "--isolation", "chroot", "--layers", "-q", "-t", &name, "-f"])
                .arg(ctx.join("Containerfile"))
                .arg(&ctx),
        );
        let pushed = built.and_then(|_| {
            for dest in [
                format!("oci:{}:{TAG}", tmp.join("oci").display()),
                format!("oci-archive:{}:{TAG}", tmp.join("oci-archive.tar").display()),
                format!("docker-archive:{}:{DOCKER_NAME}:{TAG}", tmp.join("docker-archive.tar").display()),
            ] {
                sh_out(&mut buildah_cmd(&["push", "-q", &name, &dest]))?;
            }
            Ok(())
        });
        let _ = sh_out(&mut buildah_cmd(&["rmi", "-a", "-f"]));
        remove_tree(&store)?;
        pushed?;
        let bundle = tmp.join("umoci");
        sh_out(
            Command::new(&umoci)
                .arg("unpack")
                .arg("--image")
                .arg(format!("{}:{TAG}", tmp.join("oci").display()))
                .arg(&bundle),
        )
        .map(drop)
    }));
    Ok(Image {
        oci: dir.join("oci"),
        oci_archive: dir.join("oci-archive.tar"),
        docker_archive: dir.join("docker-archive.tar"),
        umoci_rootfs: dir.join("umoci/rootfs"),
    })
}

// ---------------------------------------------------------------------------------------
// Python
// ---------------------------------------------------------------------------------------

/// Runs the Python program `code` with `args`; its stdout.
pub fn python(code: &str, args: &[&str]) -> Result<String, String> {
    if !Path::new(PYTHON).exists() {
        return Err(super::missing("no /usr/bin/python3 (apt-get install python3)"));
    }
    sh_out(Command::new(PYTHON).arg("-c").arg(code).args(args))
}

/// A Python program that lists the tree `sys.argv[1]`, one line per entry, sorted: its path,
/// type, mode, owner, then a link's target, a device's numbers or a file's SHA-256; a file
/// with more than one link also names the first path of its inode (hard links).
pub const LIST_TREE: &str = r#"
import hashlib, os, stat, sys
root = sys.argv[1]
skip = set(sys.argv[2:])
lines, first = [], {}
for dirpath, dirs, files in os.walk(root):
    dirs.sort()
    for name in sorted(dirs + files):
        path = os.path.join(dirpath, name)
        rel = "/" + os.path.relpath(path, root)
        if rel in skip:
            continue
        st = os.lstat(path)
        kind = stat.S_IFMT(st.st_mode)
        what = ""
        if stat.S_ISLNK(st.st_mode):
            what = "-> " + os.readlink(path)
        elif stat.S_ISREG(st.st_mode):
            with open(path, "rb") as f:
                what = hashlib.sha256(f.read()).hexdigest()
            if st.st_nlink > 1:
                what += " inode-of " + first.setdefault((st.st_dev, st.st_ino), rel)
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            what = "dev %d,%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
        lines.append("%s %o %o %d:%d %s" % (rel, kind >> 12, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, what))
print("\n".join(sorted(lines)))
"#;

/// [`LIST_TREE`] of `root`, without the paths `skip`.
pub fn list_tree(root: &Path, skip: &[&str]) -> String {
    let root = root.to_str().expect("UTF-8 paths");
    python(LIST_TREE, &[&[root][..], skip].concat()).unwrap_or_else(|why| panic!("{why}"))
}

/// Sets a directory's mode (test directories others must reach).
pub fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

// ---------------------------------------------------------------------------------------
// Hostile archives
// ---------------------------------------------------------------------------------------

/// A Python program that writes the hostile archive `KIND` to `OUT`:
/// `python3 -c HOSTILE KIND BASE OUT CANARY CASE_CANARY`. BASE is a plain tarball of the
/// busybox tree (copied first where the archive must be runnable); CANARY is the absolute
/// path of a directory of the host (in /tmp) holding `file`, which the archive tries to
/// reach (the same path is made inside the tree where the archive may legitimately write
/// there); CASE_CANARY is the same for the directory next to the store, relative to
/// `STORE/images/HEX.tmp/rootfs`. Kinds:
/// - tarballs: `dotdot` (`../../../../CASE_CANARY/file`), `dotdot-deep` (`srv/` then 16 `..`
///   then CANARY), `hardlink-dotdot` (a hard link to CASE_CANARY`/file`), `hardlink-shadow`
///   (a hard link to /etc/shadow, which the tree lacks), `absolute` (`/CANARY/file`),
///   `symlink-abs` (`srv/esc -> /CANARY`, then `srv/esc/file`), `symlink-rel` (`srv/up ->
///   ../../(16)CANARY`, then `srv/up/file`), `dir-to-symlink` (`srv/d/`, replaced by `srv/d ->
///   /CANARY`, then `srv/d/file`), `truncated` and `corrupt` (gzip), `badsum` (a header
///   checksum wrong);
/// - OCI layouts (directories, tag `v1`): `oci-good` (BASE as one layer: the control),
///   `whiteout-dotdot` (a layer with `srv/.wh...`), `whiteout-escape` (a whiteout reaching the
///   canary through `..`), `digest-dotdot` and `digest-slash` (the manifest's digest in
///   index.json), `layer-digest-dotdot` (a layer's digest in the manifest), `layer-mismatch`
///   (a layer blob, a valid gzip, that is not what its digest says).
pub const HOSTILE: &str = r#"
import gzip, hashlib, io, json, os, sys, tarfile
kind, base, out, canary, case_canary = sys.argv[1:6]
canary = canary.strip("/")
up = "../" * 16

def member(name, kind=tarfile.REGTYPE, data=b"", link=""):
    ti = tarfile.TarInfo(name)
    ti.type, ti.linkname, ti.mtime = kind, link, 1000000000
    ti.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    ti.size = len(data) if kind == tarfile.REGTYPE else 0
    return ti, (io.BytesIO(data) if kind == tarfile.REGTYPE else None)

def tar(members, with_base=True):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        if with_base:
            with tarfile.open(base) as b:
                for m in b.getmembers():
                    t.addfile(m, b.extractfile(m) if m.isreg() else None)
        for m in members:
            t.addfile(*m)
    return buf.getvalue()

def canary_dirs():
    parts, made = canary.split("/"), []
    for i in range(2, len(parts) + 1):  # parts[0] is tmp, which the tree has
        made.append(member("/".join(parts[:i]), tarfile.DIRTYPE))
    return made

tars = {
    "dotdot": lambda: tar([member(case_canary + "/file", data=b"pwned\n")]),
    "dotdot-deep": lambda: tar([member("srv/" + up + canary + "/file", data=b"pwned\n")]),
    "hardlink-dotdot": lambda: tar([member("srv/x", tarfile.LNKTYPE, link=case_canary + "/file")]),
    "hardlink-shadow": lambda: tar([member("srv/shadow", tarfile.LNKTYPE, link="/etc/shadow")]),
    "absolute": lambda: tar(canary_dirs() + [member("/" + canary + "/file", data=b"inside\n")]),
    "symlink-abs": lambda: tar(canary_dirs() + [member("srv/esc", tarfile.SYMTYPE, link="/" + canary),
                                                member("srv/esc/file", data=b"through\n")]),
    "symlink-rel": lambda: tar(canary_dirs() + [member("srv/up", tarfile.SYMTYPE, link="../" + up + canary),
                                                member("srv/up/file", data=b"through\n")]),
    "dir-to-symlink": lambda: tar(canary_dirs() + [member("srv/d", tarfile.DIRTYPE),
                                                   member("srv/d", tarfile.SYMTYPE, link="/" + canary),
                                                   member("srv/d/file", data=b"through\n")]),
}

def badsum():
    raw = bytearray(tar([], with_base=True))
    with tarfile.open(fileobj=io.BytesIO(bytes(raw))) as t:
        m = [m for m in t.getmembers() if m.name.endswith("srv/owned")][0]
    raw[m.offset + 148:m.offset + 156] = b"0000000\0"
    return bytes(raw)

def blob(d, data):
    h = hashlib.sha256(data).hexdigest()
    with open(os.path.join(d, "blobs/sha256", h), "wb") as f:
        f.write(data)
    return "sha256:" + h, len(data)

def layout(layers, index_digest=None, layer_digest=None, swap_layer=None):
    os.makedirs(os.path.join(out, "blobs/sha256"))
    with open(os.path.join(out, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    descs, diff_ids = [], []
    for raw in layers:
        gz = gzip.compress(raw, mtime=0)
        digest, size = blob(out, gz)
        if swap_layer is not None and len(descs) == 0:
            other = gzip.compress(swap_layer, mtime=0)
            with open(os.path.join(out, "blobs/sha256", digest[7:]), "wb") as f:
                f.write(other)
            size = len(other)
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": size})
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
    if layer_digest:
        descs[-1]["digest"] = layer_digest
    config = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/true"]},
              "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    cd, cn = blob(out, json.dumps(config).encode())
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cn},
                "layers": descs}
    md, mn = blob(out, json.dumps(manifest).encode())
    index = {"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
             "digest": index_digest or md, "size": mn,
             "annotations": {"org.opencontainers.image.ref.name": "v1"}}]}
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f)

base_raw = open(base, "rb").read()
hexes = hashlib.sha256(b"x").hexdigest()
layouts = {
    "oci-good": lambda: layout([base_raw]),
    "whiteout-dotdot": lambda: layout([base_raw, tar([member("srv/.wh...")], with_base=False)]),
    "whiteout-escape": lambda: layout([base_raw, tar([member("srv/" + up + canary + "/.wh.file")], with_base=False)]),
    "digest-dotdot": lambda: layout([base_raw], index_digest="sha256:" + up + canary + "/file"),
    "digest-slash": lambda: layout([base_raw], index_digest="sha256:" + hexes[:32] + "/" + hexes[33:]),
    "layer-digest-dotdot": lambda: layout([base_raw], layer_digest="sha256:" + up + canary + "/file"),
    "layer-mismatch": lambda: layout([base_raw], swap_layer=tar([member("srv/extra", data=b"extra\n")])),
}

if kind in layouts:
    layouts[kind]()
    sys.exit(0)
if kind in tars:
    data = tars[kind]()
elif kind == "truncated":
    data = gzip.compress(base_raw, mtime=0)
    data = data[: len(data) // 2]
elif kind == "corrupt":
    data = bytearray(gzip.compress(base_raw, mtime=0))
    mid = len(data) // 2
    for i in range(mid, mid + 64):
        data[i] ^= 0x55
    data = bytes(data)
elif kind == "badsum":
    data = badsum()
else:
    sys.exit("unknown kind " + kind)
with open(out, "wb") as f:
    f.write(data)
"#;

/// The hostile archive `kind` (see [`HOSTILE`]) at `out`, aimed at `canary` (a directory in
/// /tmp) and `case_canary` (relative to `STORE/images/HEX.tmp/rootfs`).
pub fn hostile(kind: &str, out: &Path, canary: &Path, case_canary: &str) {
    let base = built(tarball(Tree::Busybox, Format::Gnu, Comp::Plain));
    let args = [kind, base.to_str().unwrap(), out.to_str().unwrap(), canary.to_str().unwrap(), case_canary];
    python(HOSTILE, &args).unwrap_or_else(|why| panic!("hostile archive {kind}: {why}"));
}

/// A gzipped tarball holding one file of 1 GiB of zeros (about 1 MB), made with Python's
/// `tarfile`, built once.
pub fn bomb() -> Result<PathBuf, String> {
    require_root()?;
    const BOMB: &str = r#"
import io, sys, tarfile
class Zeros(io.RawIOBase):
    def __init__(self, n): self.left = n
    def readable(self): return True
    def readinto(self, b):
        n = min(len(b), self.left); b[:n] = bytes(n); self.left -= n; return n
with tarfile.open(sys.argv[1], "w:gz", compresslevel=1) as t:
    ti = tarfile.TarInfo("zeros"); ti.size = 1 << 30; ti.mode = 0o644
    t.addfile(ti, io.BufferedReader(Zeros(ti.size), 1 << 20))
"#;
    cached("bomb.tar.gz", |tmp| python(BOMB, &[tmp.to_str().unwrap()]).map(drop))
}
