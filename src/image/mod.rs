//! Images: `--rootfs` given a tar archive or a container image, unpacked once into husk's
//! store and used from there (README, "Images"). The walk: name the content (a sha256),
//! find it in the store or unpack it there (store.rs, tar.rs; a compressed stream comes
//! through a pipe from a process of its own: gzip by husk, zstd, xz and bzip2 by the host's
//! tools), then hand the container its tree: the entry itself, read-only, or an overlay of
//! it with a writable layer of the run's own.

pub mod sha256;
pub mod store;
pub mod tar;

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use crate::cpath::CPath;
use crate::error::{Failure, Result, fail};
use crate::rt::{Process, sys};
use store::Store;

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
    let store = Store::open(process)?;
    let (hex, entry) = match source {
        Source::Archive(path) => archive(&store, path, max)?,
        Source::Dir(_) => return Err(Failure::new("rootfs", b"", Errno::INVAL)),
    };
    let mut prepared =
        Prepared { _entry: entry, run: None, paths: [0; 2 * store::MAX_PATH], lower: 0, run_len: 0 };
    let mut at = 0;
    for part in [store.path(), b"/images/", &hex, b"/rootfs"] {
        prepared.paths[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
    prepared.lower = at;
    if !read_only {
        let mut name = [0u8; 32];
        let (dir, len) = store.run_dir(&mut name)?;
        let mut at = store::MAX_PATH;
        for part in [store.path(), b"/runs/", &name[..len]] {
            prepared.paths[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        prepared.run_len = at - store::MAX_PATH;
        prepared.run = Some(dir);
    }
    Ok(prepared)
}

/// A tar archive file: named by its sha256 (remembered by the file's identity, so a warm
/// start reads none of it), unpacked when the store lacks it.
fn archive<'a>(store: &Store, path: &'a [u8], max: u64) -> Result<'a, ([u8; 64], OwnedFd)> {
    let mut c = CPath::new();
    let file = rustix::fs::open(
        c.of(&[path]).map_err(fail("rootfs", path))?,
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(fail("rootfs", path))?;
    let before = rustix::fs::fstat(&file).map_err(fail("rootfs", path))?;
    let mut key = [0u8; 128];
    let key = file_key(&before, &mut key);
    let mut hex = [0u8; 64];
    let keys = store.keys().map_err(fail("store", b""))?;
    if rustix::fs::readlinkat_raw(&keys, key, &mut hex[..]) == Ok(64)
        && let Some(entry) = store.existing(&hex)?
    {
        return Ok((hex, entry));
    }
    let map = sys::map_file(file.as_fd()).map_err(fail("rootfs", path))?;
    let mut hash = sha256::Sha256::new();
    hash.update(map.bytes());
    sha256::hex(&hash.finish(), &mut hex);
    let mut about = [0u8; crate::cpath::PATH_MAX];
    let about = absolute(path, &mut about);
    let entry = store.entry(&hex, about, &mut |rootfs| {
        let used = unpack_file(file.as_fd(), map.bytes(), rootfs, max, path)?;
        // What was hashed must be what was unpacked: a file written meanwhile has a new
        // ctime (inode(7)).
        let after = rustix::fs::fstat(&file).map_err(fail("rootfs", path))?;
        if (after.st_ctime, after.st_ctime_nsec, after.st_size)
            != (before.st_ctime, before.st_ctime_nsec, before.st_size)
        {
            let hint = "the archive changed while it was unpacked";
            return Err(Failure::new("unpack", path, Errno::AGAIN).with_hint(hint));
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

/// The name an archive file is remembered by: device, inode, size, modification and
/// change times. Only the kernel sets a ctime, to now, on every change of the file (a
/// write, a utimensat(2) too), so a file with the same key has the same bytes.
fn file_key<'k>(st: &rustix::fs::Stat, buf: &'k mut [u8; 128]) -> &'k core::ffi::CStr {
    let mut line = crate::out::Line::new();
    for (i, n) in [
        st.st_dev,
        st.st_ino,
        st.st_size as u64,
        st.st_mtime as u64,
        st.st_mtime_nsec,
        st.st_ctime as u64,
        st.st_ctime_nsec,
    ]
    .into_iter()
    .enumerate()
    {
        if i > 0 {
            line.str("-");
        }
        line.num(n);
    }
    let bytes = line.as_bytes();
    buf[..bytes.len()].copy_from_slice(bytes);
    buf[bytes.len()] = 0;
    crate::rt::c_str(&buf[..=bytes.len()]).unwrap_or(c"-")
}

/// `path` made absolute (by the working directory), for `husk images` to show.
fn absolute<'b>(path: &[u8], buf: &'b mut [u8; crate::cpath::PATH_MAX]) -> &'b [u8] {
    if path.starts_with(b"/") {
        let n = path.len().min(buf.len());
        buf[..n].copy_from_slice(&path[..n]);
        return &buf[..n];
    }
    let cwd = rustix::fs::readlinkat_raw(rustix::fs::CWD, c"/proc/self/cwd", &mut buf[..]).unwrap_or(0);
    let n = (cwd + 1 + path.len()).min(buf.len());
    if n > cwd + 1 {
        buf[cwd] = b'/';
        buf[cwd + 1..n].copy_from_slice(&path[..n - cwd - 1]);
    }
    &buf[..n]
}

/// The compressed streams husk knows, by their magic bytes, and who decompresses them.
const GZIP: &[u8] = &[0x1f, 0x8b];
const TOOLS: [(&[u8], &core::ffi::CStr, &str); 3] = [
    (&[0x28, 0xb5, 0x2f, 0xfd], c"zstd", "a zstd archive needs the zstd tool: install Debian's zstd package"),
    (
        &[0xfd, b'7', b'z', b'X', b'Z', 0],
        c"xz",
        "an xz archive needs the xz tool: install Debian's xz-utils package",
    ),
    (b"BZh", c"bzip2", "a bzip2 archive needs the bzip2 tool: install Debian's bzip2 package"),
];

/// Unpacks the archive file `file` (its bytes mapped as `bytes`) into `rootfs`; returns the
/// bytes unpacked.
fn unpack_file<'a>(
    file: BorrowedFd,
    bytes: &[u8],
    rootfs: BorrowedFd,
    max: u64,
    path: &'a [u8],
) -> Result<'a, u64> {
    let options = tar::Options { root: rustix::process::geteuid().is_root(), layer: false, max };
    let scratch = sys::scratch(tar::PAX_MAX + tar::INPUT_BUF).map_err(fail("unpack", path))?;
    let (pax, buf) = scratch.split_at_mut(tar::PAX_MAX);
    let mut unpacker = tar::Unpacker::new(rootfs, options, pax);
    let producer = if bytes.starts_with(GZIP) {
        // (husk's own inflate lands next.)
        return Err(Failure::new("unpack", path, Errno::OPNOTSUPP).with_hint("gzip: not in this build yet"));
    } else if let Some((_, tool, hint)) = TOOLS.iter().find(|(magic, _, _)| bytes.starts_with(magic)) {
        Some(Producer::tool(tool, file).map_err(|e| Failure::new("unpack", path, e).with_hint(hint))?)
    } else {
        None
    };
    let mut input = match &producer {
        Some(p) => tar::Input::new(p.out.as_fd(), None, u64::MAX, buf),
        None => tar::Input::new(file, Some(0), bytes.len() as u64, buf),
    };
    let unpacked = unpacker.unpack(&mut input).and_then(|()| input.drain());
    let produced = producer.map_or(Ok(()), |p| p.finish(unpacked.is_err()));
    match (unpacked, produced) {
        (Ok(()), Ok(())) => Ok(unpacker.used),
        // The decompressor's failure explains a stream that stopped short.
        (_, Err(why)) => Err(Failure::new("unpack", path, Errno::BADMSG).with_hint(why)),
        (Err(stop), Ok(())) => Err(stopped(stop, &unpacker, path)),
    }
}

/// An unpack's failure, on the entry it stopped at (its name copied to memory that
/// outlives the unpacker) or on the archive.
fn stopped<'a>(stop: tar::Stop, unpacker: &tar::Unpacker, archive: &'a [u8]) -> Failure<'a> {
    let place: &'a [u8] = match sys::scratch(4096) {
        Ok(buf) if stop.at_entry() => {
            let name = unpacker.name();
            let n = name.len().min(buf.len());
            buf[..n].copy_from_slice(&name[..n]);
            &buf[..n]
        }
        _ => archive,
    };
    Failure::new("unpack", place, stop.errno).with_hint(stop.reason())
}

/// A process that writes the decompressed stream into a pipe that husk unpacks from, so
/// that decompressing and writing files go on side by side, on two CPUs.
struct Producer {
    pid: i32,
    out: OwnedFd,
    /// What a failed exit status means.
    failure: &'static str,
}

impl Producer {
    /// The host's `tool -dc`, its standard input the archive (the first of the usual
    /// places that has it: an image is unpacked with the host's tools, not the PATH's).
    fn tool(tool: &core::ffi::CStr, file: BorrowedFd) -> rustix::io::Result<Producer> {
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
            let _ = rustix::stdio::dup2_stdin(file);
            let _ = rustix::stdio::dup2_stdout(&w);
            let _ = rustix::stdio::dup2_stderr(&null);
            sys::execve(exe, argv, envp);
            sys::exit(127)
        })?;
        Ok(Producer { pid, out: r, failure: "the archive is corrupt or truncated (its decompressor failed)" })
    }

    /// Waits for the producer (killed first when the unpack stopped early, `stopped`:
    /// else it may wait for a reader forever): Err with what its failure means.
    fn finish(self, stopped: bool) -> core::result::Result<(), &'static str> {
        drop(self.out);
        if stopped {
            let _ = sys::kill(self.pid, crate::signals::SIGKILL);
        }
        let pid = rustix::process::Pid::from_raw(self.pid);
        let status = rustix::process::waitpid(pid, rustix::process::WaitOptions::empty());
        match status {
            Ok(Some((_, status))) if status.exit_status() == Some(0) => Ok(()),
            _ => Err(self.failure),
        }
    }
}
