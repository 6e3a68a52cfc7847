//! Images: `--rootfs` given a tar archive or a container image, unpacked once into husk's
//! store and used from there (README, "Images"). The walk: name the content (a sha256),
//! find it in the store or unpack it there (store.rs, tar.rs; a compressed stream comes
//! through a pipe from a process of its own: gzip by husk, zstd, xz and bzip2 by the host's
//! tools), then hand the container its tree: the entry itself, read-only, or an overlay of
//! it with a writable layer of the run's own.

pub mod inflate;
pub mod json;
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
    pub const STORE_PATH: u8 = 19;
    pub const STORE: u8 = 20;
    pub const ROOTFS: u8 = 21;
    pub const STORE_OWNER: u8 = 22;
    /// The last one about an entry, and about the archive.
    pub(super) const LAST_ENTRY: u8 = DOTDOT;
    pub(super) const LAST_ARCHIVE: u8 = GZIP;
}

const WHY: [&str; 23] = [
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
}

impl<'a> Source<'a> {
    /// Told by what is there: a regular file is an archive, anything else a directory
    /// (missing ones included: their error comes where directories are checked).
    pub fn of(rootfs: &'a [u8]) -> Source<'a> {
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
    let Source::Archive(path) = source else { return Err(Failure::new("rootfs", b"", Errno::INVAL)) };
    // An entry's name, kept where a failure can still show it.
    let mut name: &'static [u8] = b"";
    let store = match Store::open(process) {
        Ok(store) => store,
        Err(stop) => return Err(stop.failure(b"", b"", process.getenv(b"HUSK_STORE").unwrap_or(b""))),
    };
    let prepared =
        archive(&store, path, max, &mut name).and_then(|(hex, entry)| store.prepared(&hex, entry, read_only));
    prepared.map_err(|stop| stop.failure(name, path, b""))
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
    let keys = store.keys().map_err(in_store)?;
    // A record husk wrote, trusted only as what it must be: a digest (not a path).
    if rustix::fs::readlinkat_raw(&keys, key, &mut hex[..]) == Ok(64)
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
    let entry = store.entry(&hex, about, &mut |rootfs| {
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
        let _ = rustix::fs::unlinkat(&keys, key, AtFlags::empty());
        let _ = rustix::fs::symlinkat(target, &keys, key);
    }
    Ok((hex, entry))
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

/// `husk rmi ID...|all`: prints each removed image's digest; 125 if any ID named none, more
/// than one, or one in use.
#[cfg(feature = "images")]
#[inline(never)]
pub fn remove(first: usize, process: &Process) -> u8 {
    let store = match Store::open(process) {
        Ok(store) => store,
        Err(stop) => return stop.failure(b"", b"", b"").report(),
    };
    let images = store.images.as_fd();
    let mut code = 0;
    for id in (first..process.argc()).map(|i| process.arg(i).to_bytes()) {
        let prefix = id.strip_prefix(b"sha256:").unwrap_or(id);
        let all = id == b"all";
        let (mut found, mut hex) = (0, [0u8; 64]);
        store::each_entry(images, &mut |h, _, _| {
            if all || h.starts_with(prefix) {
                found += 1;
                hex = *h;
                if all {
                    code = code.max(remove_one(images, h));
                }
            }
        });
        let failure = |errno, hint| Failure::new("rmi", id, errno).with_hint(hint);
        code = match found {
            _ if all => code,
            _ if prefix.len() < 4 || !prefix.iter().all(u8::is_ascii_hexdigit) => {
                failure(Errno::INVAL, "an ID is a digest, or at least 4 of its first hex digits").report()
            }
            0 => failure(Errno::NOENT, "no such image").report(),
            1 => code.max(remove_one(images, &hex)),
            _ => failure(Errno::INVAL, "more than one image starts so: give more digits").report(),
        };
    }
    code
}

/// Removes one entry, printing its digest; the failure's status.
#[cfg(feature = "images")]
fn remove_one(images: BorrowedFd, hex: &[u8; 64]) -> u8 {
    match store::remove_entry(images, hex) {
        Ok(()) => {
            crate::out::Line::new().str("sha256:").bytes(hex).write_to(1);
            0
        }
        Err(e) => {
            let hint = if e == Errno::BUSY { "a container is running it" } else { "" };
            Failure::new("rmi", hex, e).with_hint(hint).report()
        }
    }
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
    let options = tar::Options { root: rustix::process::geteuid().is_root(), layer: false, max };
    let scratch = sys::scratch(tar::PAX_MAX + tar::INPUT_BUF + 4096)?;
    let (pax, rest) = scratch.split_at_mut(tar::PAX_MAX);
    let (buf, name_buf) = rest.split_at_mut(tar::INPUT_BUF);
    let mut unpacker = tar::Unpacker::new(rootfs, options, pax);
    let producer = if bytes.starts_with(GZIP) {
        Some(Producer::gunzip(file, hex)?)
    } else if let Some(&(_, tool, missing)) = TOOLS.iter().find(|(magic, _, _)| bytes.starts_with(magic)) {
        Some(Producer::tool(tool, file, hex).map_err(|e| stop(e, missing))?)
    } else {
        None
    };
    let mut input = match &producer {
        Some(p) => tar::Input::new(p.out.as_fd(), None, u64::MAX, buf),
        None => tar::Input::new(file, Some(0), len, buf),
    };
    // A plain tar is read from the file, not the hashed mapping: hashed again as it is read.
    if producer.is_none() {
        input.hash = Some(sha256::Sha256::new());
    }
    let unpacked = unpacker.unpack(&mut input).and_then(|()| input.drain()).and_then(|()| {
        let mut read = *hex;
        if let Some(hash) = input.hash.take() {
            sha256::hex(&hash.finish(), &mut read);
        }
        if read == *hex { Ok(()) } else { Err(stop(Errno::AGAIN, why::CHANGED)) }
    });
    let produced = producer.map_or(Ok(()), |p| p.finish(unpacked.is_err()));
    // The decompressor's failure explains a stream that stopped short.
    produced?;
    if let Err(stop) = unpacked
        && stop.why <= why::LAST_ENTRY
    {
        let n = unpacker.name().len().min(name_buf.len());
        name_buf[..n].copy_from_slice(&unpacker.name()[..n]);
        *name = &name_buf[..n];
    }
    unpacked.map(|()| unpacker.used)
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
    fn tool(tool: &core::ffi::CStr, file: BorrowedFd, hex: &[u8; 64]) -> rustix::io::Result<Producer> {
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
            let (mut buf, mut hash, mut at, mut read) = ([0u8; 65536], sha256::Sha256::new(), 0, *hex);
            while let Ok(n @ 1..) = rustix::io::pread(file, &mut buf[..], at) {
                hash.update(&buf[..n]);
                sys::write_all(rustix::fd::AsRawFd::as_raw_fd(&into), &buf[..n]);
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
    fn gunzip(file: BorrowedFd, hex: &[u8; 64]) -> rustix::io::Result<Producer> {
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
        let pid = sys::fork()?;
        if pid == 0 {
            // Killed with husk: never left decompressing into a pipe no one reads.
            let _ = sys::set_parent_death_signal(crate::signals::SIGKILL);
            drop(r);
            let Some(inflater) = INFLATER.take() else { sys::exit(why::GZIP) };
            let Ok(copy) = sys::read_whole(file, usize::MAX - 1) else { sys::exit(why::CHANGED) };
            let bytes = &copy[..copy.len() - 1];
            let w = rustix::fd::AsRawFd::as_raw_fd(&w);
            let done = inflater.gunzip(bytes, &mut |chunk| {
                sys::write_all(w, chunk);
                Ok(())
            });
            let (mut hash, mut read) = (sha256::Sha256::new(), *hex);
            hash.update(bytes);
            sha256::hex(&hash.finish(), &mut read);
            sys::exit(if read != *hex {
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
