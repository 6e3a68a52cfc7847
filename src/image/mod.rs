//! Images: `--rootfs` given a tar archive or a container image, unpacked once into husk's
//! store and used from there (README, "Images"). The walk: name the content (a sha256),
//! find it in the store or unpack it there (store.rs, tar.rs; a compressed stream comes
//! through a pipe from a process of its own: gzip by husk, zstd, xz and bzip2 by the host's
//! tools), then hand the container its tree: the entry itself, read-only, or an overlay of
//! it with a writable layer of the run's own.

pub mod inflate;
pub mod oci;
pub mod sha256;
pub mod store;
pub mod tar;

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use crate::cpath::CPath;
use crate::error::{Failure, Result};
use crate::rt::{Process, sys};
use store::Store;

/// Why preparing an image stopped: the errno and, where it alone does not say, a reason
/// (one of [`why`]; 0: none, on the current entry). Small, so that results travel in
/// registers; made a [`Failure`] once, where the names it refers to are at hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stop {
    pub errno: Errno,
    pub why: u8,
}

impl From<Errno> for Stop {
    fn from(errno: Errno) -> Stop {
        Stop { errno, why: 0 }
    }
}

pub fn stop(errno: Errno, why: u8) -> Stop {
    Stop { errno, why }
}

/// The reasons, by number: those about an entry first, then the archive's, then the
/// store's and the archive file's own (their step is `store` and `rootfs`).
pub mod why {
    pub const SPARSE: u8 = 1;
    pub const ROOT: u8 = 2;
    pub const KIND: u8 = 3;
    pub const WHITEOUT: u8 = 4;
    pub const DOTDOT: u8 = 5;
    pub const TRUNCATED: u8 = 6;
    pub const READ: u8 = 7;
    pub const CHECKSUM: u8 = 8;
    pub const NOT_NUMBER: u8 = 9;
    pub const TOO_BIG: u8 = 10;
    pub const PAX: u8 = 11;
    pub const LONG: u8 = 12;
    pub const DECOMPRESS: u8 = 13;
    pub const CHANGED: u8 = 14;
    pub const NO_ZSTD: u8 = 15;
    pub const NO_XZ: u8 = 16;
    pub const NO_BZIP2: u8 = 17;
    pub const GZIP: u8 = 18;
    pub const DIGEST: u8 = 19;
    pub const IMAGE: u8 = 20;
    pub const TAG: u8 = 21;
    pub const STORE_PATH: u8 = 22;
    pub const STORE: u8 = 23;
    pub const ROOTFS: u8 = 24;
    pub const STORE_OWNER: u8 = 25;
    /// The last one about an entry, and about the archive.
    pub(super) const LAST_ENTRY: u8 = DOTDOT;
    pub(super) const LAST_ARCHIVE: u8 = TAG;
}

const WHY: [&str; 26] = [
    "",
    "sparse files are not supported",
    "only a directory may name the root itself",
    "an entry of a kind husk does not unpack",
    "a whiteout names no file of its directory",
    "a name with '..' would leave the root",
    "the archive ends in the middle of an entry",
    "the archive cannot be read",
    "a header's checksum is wrong (not a tar archive, or corrupt)",
    "a header's size is not a number",
    "more would be unpacked than --max-unpacked allows",
    "a pax header is malformed",
    "a long name or pax header is too large",
    "the archive is corrupt or truncated (its decompressor failed)",
    "the archive changed while it was unpacked",
    "a zstd archive needs the zstd tool: install Debian's zstd package",
    "an xz archive needs the xz tool: install Debian's xz-utils package",
    "a bzip2 archive needs the bzip2 tool: install Debian's bzip2 package",
    "the gzip stream is corrupt or truncated (its deflate data, CRC-32 or length is wrong)",
    "a blob's content does not match its digest",
    "the image is malformed (its index, manifest or config is missing, not JSON, or without what it needs)",
    "no image has that tag (without one, the archive must hold exactly one image)",
    "the store's path must be absolute, at most 400 bytes, without ':', ',' or '\\' (HUSK_STORE)",
    "",
    "",
    "the store, and each directory above it, must be writable by no one else (HUSK_STORE)",
];

impl Stop {
    /// The one line: its step, and its place among the current entry's name, the archive
    /// and the store.
    fn failure<'a>(self, entry: &'a [u8], archive: &'a [u8], store: &'a [u8]) -> Failure<'a> {
        let (step, place) = match self.why {
            0..=why::LAST_ENTRY => ("unpack", entry),
            why::TRUNCATED..=why::LAST_ARCHIVE => ("unpack", archive),
            why::ROOTFS => ("rootfs", archive),
            _ => ("store", store),
        };
        let hint = WHY.get(self.why as usize).copied().unwrap_or("");
        Failure::new(step, place, self.errno).with_hint(hint)
    }
}

/// `--max-unpacked`'s default: far above any real root file system, far below a full disk.
pub const DEFAULT_MAX_UNPACKED: u64 = 8 << 30;

/// What `--rootfs` names.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Source<'a> {
    /// A directory, used in place.
    Dir(&'a [u8]),
    /// A tar archive, compressed or not.
    Archive(&'a [u8]),
    /// A container image: `oci:`, `oci-archive:`, `docker-archive:` (oci.rs).
    Image(&'a [u8]),
}

impl<'a> Source<'a> {
    /// Told by what is there: a regular file is an archive, anything else a directory
    /// (missing ones included: their error comes where directories are checked).
    pub fn of(rootfs: &'a [u8]) -> Source<'a> {
        if oci::reference(rootfs).is_some() {
            return Source::Image(rootfs);
        }
        let mut c = CPath::new();
        let file = c.of(&[rootfs]).ok().and_then(|c| rustix::fs::stat(c).ok());
        match file {
            Some(st) if rustix::fs::FileType::from_raw_mode(st.st_mode).is_file() => Source::Archive(rootfs),
            _ => Source::Dir(rootfs),
        }
    }
}

/// An image ready for a container: its entry in the store, share-locked while this lives
/// (so `husk rmi` leaves it alone), and the run's own directory for the writable layer,
/// locked likewise (so no other start sweeps it).
pub struct Prepared {
    _entry: OwnedFd,
    run: Option<OwnedFd>,
    paths: [u8; 2 * store::MAX_PATH],
    lower: usize,
    run_len: usize,
}

impl Prepared {
    /// The unpacked tree.
    pub fn lower(&self) -> &[u8] {
        &self.paths[..self.lower]
    }

    /// The run's directory (upper/, work/), unless read-only.
    pub fn run(&self) -> Option<&[u8]> {
        self.run.as_ref().map(|_| &self.paths[store::MAX_PATH..store::MAX_PATH + self.run_len])
    }
}

impl Drop for Prepared {
    /// After the container (or a failure before it): the run's directory goes, unless a
    /// detached container's supervisor, which shares the lock, still holds it (then it
    /// removes it itself: container::host).
    fn drop(&mut self) {
        let Some(run) = self.run.take() else { return };
        drop(run);
        let mut c = CPath::new();
        let Ok(path) = c.of(&[&self.paths[store::MAX_PATH..store::MAX_PATH + self.run_len]]) else { return };
        let Ok(dir) =
            rustix::fs::open(path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        else {
            return;
        };
        if rustix::fs::flock(&dir, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_ok() {
            Store::remove_run(&self.paths[store::MAX_PATH..store::MAX_PATH + self.run_len]);
        }
    }
}

/// Finds `source` in the store, unpacking it there first when missing, and makes the run's
/// directory unless `read_only`.
pub fn prepare<'a>(source: Source<'a>, max: u64, read_only: bool, process: &Process) -> Result<'a, Prepared> {
    // An entry's name, kept where a failure can still show it.
    let mut name: &'static [u8] = b"";
    let store = match Store::open(process) {
        Ok(store) => store,
        Err(stop) => return Err(stop.failure(b"", b"", process.getenv(b"HUSK_STORE").unwrap_or(b""))),
    };
    let (found, path) = match source {
        Source::Archive(path) => (archive(&store, path, max, &mut name), path),
        Source::Image(rootfs) => (image(&store, rootfs, max, &mut name), rootfs),
        Source::Dir(_) => return Err(Failure::new("rootfs", b"", Errno::INVAL)),
    };
    let prepared = found.and_then(|(hex, entry)| store.prepared(&hex, entry, read_only));
    prepared.map_err(|stop| stop.failure(name, path, b""))
}

/// A container image (oci.rs): named by its manifest's digest (docker's: its config's),
/// its layers unpacked in order when the store lacks it.
fn image(
    store: &Store,
    rootfs: &[u8],
    max: u64,
    name: &mut &'static [u8],
) -> core::result::Result<([u8; 64], OwnedFd), Stop> {
    let (kind, path, tag) = oci::reference(rootfs).ok_or(stop(Errno::INVAL, why::ROOTFS))?;
    let layout = oci::Layout::open(kind, path)?;
    let image = oci::find(&layout, kind, tag)?;
    let entry = store.entry(&image.key, rootfs, &mut |tree, entry| {
        let mut unpack = Unpack::new(tree, true, max)?;
        oci::unpack(&layout, &image, tag, &mut unpack, entry, name)?;
        Ok(unpack.unpacker.used)
    })?;
    Ok((image.key, entry))
}

/// A tar archive file: named by its sha256 (remembered by the file's identity, so a warm
/// start reads none of it), unpacked when the store lacks it.
fn archive(
    store: &Store,
    path: &[u8],
    max: u64,
    name: &mut &'static [u8],
) -> core::result::Result<([u8; 64], OwnedFd), Stop> {
    let in_store = |e| stop(e, why::STORE);
    let mut c = CPath::new();
    let file =
        c.of(&[path]).and_then(|c| rustix::fs::open(c, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()));
    let file = file.map_err(|e| stop(e, why::ROOTFS))?;
    let before = rustix::fs::fstat(&file)?;
    let mut key = [0u8; 65];
    file_key(&before, &mut key);
    let key = core::ffi::CStr::from_bytes_with_nul(&key).map_err(|_| Errno::INVAL)?;
    let mut hex = [0u8; 64];
    let keys = store.keys();
    // A record husk wrote, trusted only as what it must be: a digest (not a path).
    if rustix::fs::readlinkat_raw(keys, key, &mut hex[..]) == Ok(64)
        && hex.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        && let Some(entry) = store.existing(&hex).map_err(in_store)?
    {
        return Ok((hex, entry));
    }
    // Read, not mapped: a mapping faults (SIGBUS) when the file shrinks meanwhile.
    let (mut hash, mut size, mut head) = (sha256::Sha256::new(), 0, [0u8; 6]);
    let buf = sys::scratch(tar::INPUT_BUF)?;
    while let Ok(n @ 1..) = rustix::io::pread(&file, &mut buf[..], size) {
        if size == 0 {
            head[..n.min(6)].copy_from_slice(&buf[..n.min(6)]);
        }
        hash.update(&buf[..n]);
        size += n as u64;
    }
    sha256::hex(&hash.finish(), &mut hex);
    // What `husk images` shows: the file's absolute path, as the kernel has it.
    let mut about = [0u8; crate::cpath::PATH_MAX];
    let mut link = [0u8; 40];
    let link = crate::procfs::fd_path(file.as_fd(), &mut link);
    let len = rustix::fs::readlinkat_raw(rustix::fs::CWD, link, &mut about[..]).unwrap_or(0);
    let about = &about[..len];
    let entry = store.entry(&hex, about, &mut |rootfs, _| {
        let used = unpack_file(file.as_fd(), (&head, size), &hex, rootfs, max, name)?;
        // What was hashed must be what was unpacked: a file written meanwhile has a new
        // ctime (inode(7)), unless through a shared mapping whose page was already dirty
        // (hence each producer's own hash of what it gave, in unpack_file).
        let after = rustix::fs::fstat(&file)?;
        if (after.st_ctime, after.st_ctime_nsec, after.st_size)
            != (before.st_ctime, before.st_ctime_nsec, before.st_size)
        {
            return Err(stop(Errno::AGAIN, why::CHANGED));
        }
        Ok(used)
    })?;
    // Remembered for the next start (a failure only costs that start a hash).
    let mut target = [0u8; 65];
    target[..64].copy_from_slice(&hex);
    if let Some(target) = crate::rt::c_str(&target) {
        let _ = rustix::fs::unlinkat(keys, key, AtFlags::empty());
        let _ = rustix::fs::symlinkat(target, keys, key);
    }
    Ok((hex, entry))
}

/// What an image's config gives a run, with docker's meaning: environment (before
/// --env-file and -e), working directory and user (unless -w, -u), Entrypoint and Cmd (a
/// COMMAND replaces Cmd; --entrypoint replaces Entrypoint and drops Cmd).
#[cfg(feature = "images")]
#[derive(Default)]
pub struct Defaults {
    pub env: heapless::Vec<&'static core::ffi::CStr, MAX_LIST>,
    pub entrypoint: heapless::Vec<&'static core::ffi::CStr, MAX_LIST>,
    pub cmd: heapless::Vec<&'static core::ffi::CStr, MAX_LIST>,
    pub cwd: &'static [u8],
    pub user: &'static [u8],
}

/// The most entries of each list an image's config may have.
pub const MAX_LIST: usize = 128;

#[cfg(feature = "images")]
impl Prepared {
    /// The defaults of the image's config (kept beside its tree); none for an archive.
    pub fn defaults(&self) -> Result<'static, Defaults> {
        let mut defaults = Defaults::default();
        let lower = self.lower();
        let mut c = CPath::new();
        let path = c.of(&[&lower[..lower.len() - b"rootfs".len()], b"config"]).map_err(fail_config)?;
        let fd = match rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) {
            Err(Errno::NOENT) => return Ok(defaults),
            fd => fd.map_err(fail_config)?,
        };
        let buf = sys::read_whole(fd.as_fd(), 16 << 20).map_err(fail_config)?;
        // Every string's place first; then each unescaped where it is, NUL-terminated.
        let mut spans = heapless::Vec::<(u8, usize, usize), { 3 * MAX_LIST + 2 }>::new();
        {
            let doc = crate::json::parse(&buf[..buf.len() - 1]).map_err(|_| fail_config(Errno::BADMSG))?;
            let config = doc.get(b"config");
            for (field, key) in
                [&b"Env"[..], b"Entrypoint", b"Cmd", b"WorkingDir", b"User"].into_iter().enumerate()
            {
                let Some(value) = config.and_then(|c| c.get(key)) else { continue };
                let strings = value.items().filter_map(|v| v.as_str()).chain(value.as_str());
                for s in strings {
                    let (start, end) = s.span();
                    spans.push((field as u8, start, end)).map_err(|_| fail_config(Errno::TOOBIG))?;
                }
            }
        }
        let mut ends = [0usize; 3 * MAX_LIST + 2];
        for (i, &(_, start, end)) in spans.iter().enumerate() {
            // A NUL in a string cannot be a C string: refused.
            ends[i] =
                start + crate::json::unescape_in_place(buf, start, end).ok_or(fail_config(Errno::INVAL))?;
        }
        let buf: &'static [u8] = buf;
        for (&(field, start, _), &end) in spans.iter().zip(&ends) {
            let text = &buf[start..=end];
            let c = core::ffi::CStr::from_bytes_with_nul(text).map_err(|_| fail_config(Errno::INVAL))?;
            let list = match field {
                0 => &mut defaults.env,
                1 => &mut defaults.entrypoint,
                2 => &mut defaults.cmd,
                3 => {
                    defaults.cwd = c.to_bytes();
                    continue;
                }
                _ => {
                    defaults.user = c.to_bytes();
                    continue;
                }
            };
            list.push(c).map_err(|_| fail_config(Errno::TOOBIG))?;
        }
        Ok(defaults)
    }
}

#[cfg(feature = "images")]
fn fail_config(errno: Errno) -> Failure<'static> {
    Failure::new("image config", b"", errno).with_hint("the image's config is not one husk can use")
}

/// `husk images`: the store's entries, one line each (`-q`: their digests only).
#[cfg(feature = "images")]
#[inline(never)] // a role's own frame: see main.rs
pub fn list(quiet: bool, process: &Process) -> u8 {
    let store = match Store::open(process) {
        Ok(store) => store,
        Err(stop) => return stop.failure(b"", b"", b"").report(),
    };
    let mut line = crate::out::Line::new();
    if !quiet {
        line.str("DIGEST        SIZE      LAST USED            SOURCE").write_to(1);
    }
    store::each_entry(store.images.as_fd(), &mut |hex, about, used| {
        let mut line = crate::out::Line::new();
        if quiet {
            line.str("sha256:").bytes(hex);
        } else {
            let (size, source) = crate::text::split_once(about, b' ');
            line.bytes(&hex[..12]).str("  ");
            let at = line.as_bytes().len();
            human(&mut line, crate::text::parse_decimal(size, 20).unwrap_or(0));
            pad(&mut line, at + 10);
            utc(&mut line, used);
            line.str("  ").quoted(source.unwrap_or(b""));
        }
        line.write_to(1);
    });
    0
}

/// `husk rmi ID...|all`: all of them or none: an ID that names no image or more than one,
/// or an image a container uses (EBUSY), and nothing is removed (125). Prints each removed
/// image's digest.
#[cfg(feature = "images")]
#[inline(never)]
pub fn remove(first: usize, process: &Process) -> u8 {
    let store = match Store::open(process) {
        Ok(store) => store,
        Err(stop) => return stop.failure(b"", b"", b"").report(),
    };
    let images = store.images.as_fd();
    let mut code = 0;
    // Which entries, each locked exclusively while the others are.
    let mut chosen = heapless::Vec::<([u8; 64], Option<OwnedFd>), 256>::new();
    for id in (first..process.argc()).map(|i| process.arg(i).to_bytes()) {
        let prefix = id.strip_prefix(b"sha256:").unwrap_or(id);
        let all = id == b"all";
        let mut found = 0;
        store::each_entry(images, &mut |h, _, _| {
            if (all || h.starts_with(prefix)) && !chosen.iter().any(|(c, _)| c == h) {
                found += 1;
                let _ = chosen.push((*h, None));
            }
        });
        let failure = |errno, hint| Failure::new("rmi", id, errno).with_hint(hint);
        code = match found {
            _ if all => code,
            _ if prefix.len() < 4 || !prefix.iter().all(u8::is_ascii_hexdigit) => {
                failure(Errno::INVAL, "an ID is a digest, or at least 4 of its first hex digits").report()
            }
            0 => failure(Errno::NOENT, "no such image").report(),
            1 => code,
            _ => failure(Errno::INVAL, "more than one image starts so: give more digits").report(),
        };
    }
    for (hex, lock) in chosen.iter_mut() {
        match store::lock_entry(images, hex) {
            Ok(fd) => *lock = Some(fd),
            Err(e) => {
                let hint =
                    if e == Errno::BUSY { "a container is running it: nothing was removed" } else { "" };
                code = Failure::new("rmi", hex, e).with_hint(hint).report();
            }
        }
    }
    if code != 0 {
        return code;
    }
    for (hex, _) in &chosen {
        match store::remove_entry(images, hex) {
            Ok(()) => crate::out::Line::new().str("sha256:").bytes(hex).write_to(1),
            Err(e) => code = Failure::new("rmi", hex, e).report(),
        }
    }
    code
}

#[cfg(not(feature = "images"))]
pub fn list(_: bool, _: &Process) -> u8 {
    unavailable()
}

#[cfg(not(feature = "images"))]
pub fn remove(_: usize, _: &Process) -> u8 {
    unavailable()
}

#[cfg(not(feature = "images"))]
fn unavailable() -> u8 {
    let hint = "this husk was built without images (cargo build --features images)";
    Failure::new("images", b"", Errno::OPNOTSUPP).with_hint(hint).report()
}

#[cfg(any(test, feature = "images"))]
/// A size as `ls -h` shows it: 512, 4.0K, 261M, 1.2G.
fn human(line: &mut crate::out::Line, n: u64) {
    let (mut unit, mut scaled) = (0, n * 10);
    while scaled >= 10240 && unit < 4 {
        scaled /= 1024;
        unit += 1;
    }
    line.num(scaled / 10);
    if unit > 0 && scaled < 100 {
        line.str(".").num(scaled % 10);
    }
    if unit > 0 {
        line.bytes(&b"KMGT"[unit - 1..unit]);
    }
}

#[cfg(feature = "images")]
/// Spaces up to column `to`.
fn pad(line: &mut crate::out::Line, to: usize) {
    while line.as_bytes().len() < to {
        line.str(" ");
    }
}

#[cfg(any(test, feature = "images"))]
/// `YYYY-MM-DD HH:MM:SS`, UTC, of seconds since the epoch (Howard Hinnant's days_from_civil,
/// inverted).
fn utc(line: &mut crate::out::Line, t: u64) {
    let (days, secs) = (t / 86400, t % 86400);
    let z = days + 719_468;
    let (era, doe) = (z / 146_097, z % 146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    for (i, n) in [year, month, day, secs / 3600, secs / 60 % 60, secs % 60].into_iter().enumerate() {
        line.str(["", "-", "-", " ", ":", ":"][i]);
        if n < 10 {
            line.str("0");
        }
        line.num(n);
    }
}

/// The name an archive file is remembered by: a digest of its device, inode, size,
/// modification and change times. Only the kernel sets a ctime, to now, on every change of
/// the file (a write, a utimensat(2) too), so a file with the same key has the same bytes.
fn file_key(st: &rustix::fs::Stat, key: &mut [u8; 65]) {
    let mut hash = sha256::Sha256::new();
    for n in [
        st.st_dev,
        st.st_ino,
        st.st_size as u64,
        st.st_mtime as u64,
        st.st_mtime_nsec,
        st.st_ctime as u64,
        st.st_ctime_nsec,
    ] {
        hash.update(&n.to_le_bytes());
    }
    let mut hex = [0u8; 64];
    sha256::hex(&hash.finish(), &mut hex);
    key[..64].copy_from_slice(&hex);
}

/// The compressed streams husk knows, by their magic bytes, and who decompresses them.
const GZIP: &[u8] = &[0x1f, 0x8b];
const TOOLS: [(&[u8], &core::ffi::CStr, u8); 3] = [
    (&[0x28, 0xb5, 0x2f, 0xfd], c"zstd", why::NO_ZSTD),
    (&[0xfd, b'7', b'z', b'X', b'Z', 0], c"xz", why::NO_XZ),
    (b"BZh", c"bzip2", why::NO_BZIP2),
];

/// Unpacks the archive file `file` (its first bytes `bytes` and its length `len` as it was
/// hashed, the sha256 `hex`) into `rootfs`; returns the bytes unpacked. Stopped at an entry, its name is left in `name`.
fn unpack_file(
    file: BorrowedFd,
    (bytes, len): (&[u8; 6], u64),
    hex: &[u8; 64],
    rootfs: BorrowedFd,
    max: u64,
    name: &mut &'static [u8],
) -> core::result::Result<u64, Stop> {
    let mut unpack = Unpack::new(rootfs, false, max)?;
    let producer = if bytes.starts_with(GZIP) {
        Some(Producer::gunzip(Feed::File(file, hex))?)
    } else if let Some(&(_, tool, missing)) = TOOLS.iter().find(|(magic, _, _)| bytes.starts_with(magic)) {
        Some(Producer::tool(tool, Feed::File(file, hex)).map_err(|e| stop(e, missing))?)
    } else {
        None
    };
    let input = match &producer {
        Some(p) => tar::Input::new(p.out.as_fd(), None, u64::MAX, unpack.buf),
        None => tar::Input::new(file, Some(0), len, unpack.buf),
    };
    // A plain tar is read from the file, not the hashed mapping: hashed again as it is read.
    let expect = producer.is_none().then_some(hex);
    let unpacked = unpack.unpacker.unpack_from(input, expect, why::CHANGED);
    unpack.unpacker.conclude(unpacked, producer, &mut unpack.name_buf, name)?;
    Ok(unpack.unpacker.used)
}

/// An unpack into one tree, of one archive or of an image's layers in order.
pub struct Unpack<'s> {
    pub unpacker: tar::Unpacker<'s>,
    buf: &'s mut [u8],
    name_buf: &'static mut [u8],
}

impl<'s> Unpack<'s> {
    pub fn new(rootfs: BorrowedFd<'s>, layer: bool, max: u64) -> core::result::Result<Unpack<'s>, Stop> {
        let options = tar::Options { root: rustix::process::geteuid().is_root(), layer, max };
        let scratch = sys::scratch(tar::PAX_MAX + tar::INPUT_BUF + 4096 + tar::DIRS_MAX)?;
        let (pax, rest) = scratch.split_at_mut(tar::PAX_MAX);
        let (buf, rest) = rest.split_at_mut(tar::INPUT_BUF);
        let (name_buf, dirs) = rest.split_at_mut(4096);
        Ok(Unpack { unpacker: tar::Unpacker::new(rootfs, options, pax, dirs), buf, name_buf })
    }

    /// One layer of an image, `bytes` in memory (gzip or plain). With `diff_id`, the
    /// uncompressed stream's sha256 must be that (EBADMSG).
    pub fn stream(
        &mut self,
        bytes: &[u8],
        diff_id: Option<&[u8; 64]>,
        name: &mut &'static [u8],
    ) -> core::result::Result<(), Stop> {
        let producer = if bytes.starts_with(GZIP) {
            Some(Producer::gunzip(Feed::Memory(bytes))?)
        } else if let Some(&(_, tool, missing)) = TOOLS.iter().find(|(magic, _, _)| bytes.starts_with(magic))
        {
            Some(Producer::tool(tool, Feed::Memory(bytes)).map_err(|e| stop(e, missing))?)
        } else {
            None
        };
        let input = match &producer {
            Some(p) => tar::Input::new(p.out.as_fd(), None, u64::MAX, self.buf),
            None => tar::Input::memory(bytes, self.buf),
        };
        let unpacked = self.unpacker.unpack_from(input, diff_id, why::DIGEST);
        self.unpacker.conclude(unpacked, producer, &mut self.name_buf, name)
    }
}

impl tar::Unpacker<'_> {
    /// Unpacks `input` to its end; with `expect`, what was read must hash to it (else
    /// `mismatch`, EBADMSG or EAGAIN).
    fn unpack_from(
        &mut self,
        mut input: tar::Input,
        expect: Option<&[u8; 64]>,
        mismatch: u8,
    ) -> core::result::Result<(), Stop> {
        if expect.is_some() {
            input.hash = Some(sha256::Sha256::new());
        }
        self.unpack(&mut input).and_then(|()| input.drain()).and_then(|()| {
            let (Some(want), Some(hash)) = (expect, input.hash.take()) else { return Ok(()) };
            let mut got = [0u8; 64];
            sha256::hex(&hash.finish(), &mut got);
            let errno = if mismatch == why::CHANGED { Errno::AGAIN } else { Errno::BADMSG };
            if &got == want { Ok(()) } else { Err(stop(errno, mismatch)) }
        })
    }

    /// After [`unpack_from`](Self::unpack_from): waits for the `producer` the input came
    /// from, whose failure comes first (it explains a stream that stopped short); stopped at
    /// an entry, its name is left in `name` (copied into `name_buf`, memory that outlives
    /// the unpack).
    fn conclude(
        &self,
        unpacked: core::result::Result<(), Stop>,
        producer: Option<Producer>,
        name_buf: &mut &'static mut [u8],
        name: &mut &'static [u8],
    ) -> core::result::Result<(), Stop> {
        producer.map_or(Ok(()), |p| p.finish(unpacked.is_err()))?;
        if let Err(stop) = unpacked
            && stop.why <= why::LAST_ENTRY
        {
            let out = core::mem::take(name_buf);
            let n = self.name().len().min(out.len());
            out[..n].copy_from_slice(&self.name()[..n]);
            let out: &'static [u8] = out;
            *name = &out[..n];
        }
        unpacked
    }
}

/// What a decompressor reads: the archive file (checked against its digest as it is read),
/// or a layer already in memory (checked by the caller).
enum Feed<'a> {
    File(BorrowedFd<'a>, &'a [u8; 64]),
    Memory(&'a [u8]),
}

/// The inflater's state (some 110 KiB): in the zero-filled data, where it costs no file
/// bytes and, until the child that inflates writes it, no memory.
static INFLATER: crate::rt::Reserved<inflate::Inflater> = crate::rt::Reserved::new(inflate::Inflater::new());

/// A process that writes the decompressed stream into a pipe that husk unpacks from, so
/// that decompressing and writing files go on side by side, on two CPUs.
struct Producer {
    pid: i32,
    /// The child that feeds a tool the archive, hashing it (see [`Producer::tool`]).
    feeder: Option<i32>,
    out: OwnedFd,
}

impl Producer {
    /// The host's `tool -dc`, its standard input the archive (the first of the usual
    /// places that has it: an image is unpacked with the host's tools, not the PATH's).
    /// It reads the archive from a pipe that a child of husk's fills from the file, hashing
    /// what it gives: that child exits `why::CHANGED` when it was not `hex` (a write through
    /// a shared mapping whose page was dirty already changes no ctime).
    fn tool(tool: &core::ffi::CStr, feed_from: Feed) -> rustix::io::Result<Producer> {
        let mut path = CPath::new();
        let mut found = Err(Errno::NOENT);
        for dir in [&b"/usr/bin/"[..], b"/bin/", b"/usr/local/bin/"] {
            let c = path.of(&[dir, tool.to_bytes()])?;
            if rustix::fs::access(c, rustix::fs::Access::EXEC_OK).is_ok() {
                found = Ok(dir);
                break;
            }
        }
        let exe = path.of(&[found?, tool.to_bytes()])?;
        let (feed, into) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
        let feeder = sys::fork()?;
        if feeder == 0 {
            let _ = sys::set_parent_death_signal(crate::signals::SIGKILL);
            drop(feed);
            let into = rustix::fd::AsRawFd::as_raw_fd(&into);
            let (file, hex) = match feed_from {
                Feed::File(file, hex) => (file, hex),
                // A layer in memory, checked by the caller.
                Feed::Memory(bytes) => {
                    sys::write_all(into, bytes);
                    sys::exit(0)
                }
            };
            let (mut buf, mut hash, mut at, mut read) = ([0u8; 65536], sha256::Sha256::new(), 0, *hex);
            while let Ok(n @ 1..) = rustix::io::pread(file, &mut buf[..], at) {
                hash.update(&buf[..n]);
                sys::write_all(into, &buf[..n]);
                at += n as u64;
            }
            sha256::hex(&hash.finish(), &mut read);
            sys::exit(if read == *hex { 0 } else { why::CHANGED })
        }
        drop(into);
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
        let null = rustix::fs::open(c"/dev/null", OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())?;
        let mut slots = crate::rt::CStrSlots::<4>::new();
        let mut argv = slots.writer();
        for arg in [tool, c"-dc", c"-q"] {
            argv.push(arg);
        }
        let argv = argv.finish();
        let mut empty = crate::rt::CStrSlots::<1>::new();
        let envp = empty.writer().finish();
        let pid = sys::vfork_run(&mut || {
            // Killed with husk: never left decompressing into a pipe no one reads.
            let _ = sys::set_parent_death_signal(crate::signals::SIGKILL);
            let _ = rustix::stdio::dup2_stdin(&feed);
            let _ = rustix::stdio::dup2_stdout(&w);
            let _ = rustix::stdio::dup2_stderr(&null);
            sys::execve(exe, argv, envp);
            sys::exit(127)
        })?;
        Ok(Producer { pid, feeder: Some(feeder), out: r })
    }

    /// husk's own inflate (inflate.rs), in a child of its own: it exits 0, or with the
    /// reason it failed (`why::GZIP`, or `why::CHANGED` when what it inflated, a copy of
    /// its own, is not what was hashed as `hex`: a write through a shared mapping whose
    /// page was dirty already changes no ctime; a copy cannot fault when the file shrinks).
    fn gunzip(feed: Feed) -> rustix::io::Result<Producer> {
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
        let pid = sys::fork()?;
        if pid == 0 {
            // Killed with husk: never left decompressing into a pipe no one reads.
            let _ = sys::set_parent_death_signal(crate::signals::SIGKILL);
            drop(r);
            let Some(inflater) = INFLATER.take() else { sys::exit(why::GZIP) };
            let (bytes, hex): (&[u8], _) = match feed {
                Feed::File(file, hex) => {
                    let Ok(copy) = sys::read_whole(file, usize::MAX - 1) else { sys::exit(why::CHANGED) };
                    (&copy[..copy.len() - 1], Some(hex))
                }
                Feed::Memory(bytes) => (bytes, None),
            };
            let w = rustix::fd::AsRawFd::as_raw_fd(&w);
            let done = inflater.gunzip(bytes, &mut |chunk| {
                sys::write_all(w, chunk);
                Ok(())
            });
            let mut changed = false;
            if let Some(hex) = hex {
                let (mut hash, mut read) = (sha256::Sha256::new(), *hex);
                hash.update(bytes);
                sha256::hex(&hash.finish(), &mut read);
                changed = read != *hex;
            }
            sys::exit(if changed {
                why::CHANGED
            } else if done.is_ok() {
                0
            } else {
                why::GZIP
            })
        }
        Ok(Producer { pid, feeder: None, out: r })
    }

    /// Waits for the producer (killed first when the unpack stopped early, `stopped`:
    /// else it may wait for a reader forever).
    fn finish(self, stopped: bool) -> core::result::Result<(), Stop> {
        drop(self.out);
        let end = |pid| {
            if stopped {
                let _ = sys::kill(pid, crate::signals::SIGKILL);
            }
            let status = rustix::process::waitpid(
                rustix::process::Pid::from_raw(pid),
                rustix::process::WaitOptions::empty(),
            );
            status.ok().flatten().map(|(_, status)| status)
        };
        let status = end(self.pid);
        let fed = self.feeder.map(end);
        match status {
            Some(status) if status.exit_status() == Some(0) || (stopped && status.signaled()) => match fed {
                Some(Some(feeder)) if !stopped && feeder.exit_status() != Some(0) => {
                    Err(stop(Errno::AGAIN, why::CHANGED))
                }
                _ => Ok(()),
            },
            Some(status) if status.exit_status() == Some(why::GZIP as _) => {
                Err(stop(Errno::BADMSG, why::GZIP))
            }
            Some(status) if status.exit_status() == Some(why::CHANGED as _) => {
                Err(stop(Errno::AGAIN, why::CHANGED))
            }
            _ => Err(stop(Errno::BADMSG, why::DECOMPRESS)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(f: impl Fn(&mut crate::out::Line)) -> String {
        let mut line = crate::out::Line::new();
        f(&mut line);
        String::from_utf8(line.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn sizes_and_times() {
        for (n, want) in [(0, "0"), (512, "512"), (4096, "4.0K"), (2_129_815, "2.0M"), (273_000_000, "260M")]
        {
            assert_eq!(shown(|l| human(l, n)), want);
        }
        assert_eq!(shown(|l| utc(l, 0)), "1970-01-01 00:00:00");
        assert_eq!(shown(|l| utc(l, 951_825_600)), "2000-02-29 12:00:00");
        assert_eq!(shown(|l| utc(l, 1_796_314_283)), "2026-12-03 16:11:23");
    }
}
