//! husk's image store: each image unpacked once, by content, and a per-run directory for
//! each container's writable layer.
//!
//! ```text
//! STORE/images/HEX/rootfs   the unpacked tree (HEX: the sha256 that names the content)
//! STORE/images/HEX/about    "SIZE SOURCE": bytes unpacked, what --rootfs named
//! STORE/images/HEX.tmp      an unpack under way (renamed to HEX once complete)
//! STORE/images/HEX.lock     taken by whoever unpacks HEX: two cold starts unpack once
//! STORE/keys/FILE-ID        -> HEX, for an archive file not changed since it was hashed
//! STORE/runs/husk-PID       upper/ and work/ of one container's overlay
//! ```
//! Every directory in use is flock(2)ed by the husk that uses it: an entry shared by each
//! container that runs it (`husk rmi` must have it exclusively), a run directory by its
//! container's husk (the next start removes those nobody holds: their husk was killed).

use core::ffi::CStr;

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, FlockOperation, Mode, OFlags, RawDir, flock, mkdirat, openat, renameat, statat};
use rustix::io::Errno;

use super::tar::remove_all;
use super::{Prepared, Stop, stop, why};
use crate::cpath::CPath;
use crate::rt::Process;

/// The longest store path taken: paths below it must fit in overlayfs's options too.
pub const MAX_PATH: usize = 512;

pub struct Store {
    path: [u8; MAX_PATH],
    len: usize,
    /// images/, runs/ and keys/, each opened once and checked (`safe`).
    pub images: OwnedFd,
    runs: OwnedFd,
    keys: OwnedFd,
}

const DIR: OFlags = OFlags::RDONLY.union(OFlags::DIRECTORY).union(OFlags::CLOEXEC);

impl Store {
    /// `$HUSK_STORE`, else root's /var/lib/husk, else `$XDG_DATA_HOME/husk` (by default
    /// `~/.local/share/husk`); made when missing (mode 0700: what is unpacked there keeps
    /// its owners and modes, setuid binaries included, and is no one else's to reach).
    pub fn open(process: &Process) -> core::result::Result<Store, Stop> {
        let parts: [&[u8]; 2] = match (process.getenv(b"HUSK_STORE"), process.getenv(b"XDG_DATA_HOME")) {
            (Some(dir), _) => [dir, b""],
            _ if rustix::process::geteuid().is_root() => [b"/var/lib/husk", b""],
            (_, Some(data)) if data.starts_with(b"/") => [data, b"/husk"],
            _ => [process.getenv(b"HOME").unwrap_or(b"/"), b"/.local/share/husk"],
        };
        let total = parts[0].len() + parts[1].len();
        // overlayfs takes its directories as a list (`:`) of options (`,`), `\` escaping.
        if total > MAX_PATH - 112
            || !parts[0].starts_with(b"/")
            || parts.iter().any(|p| p.iter().any(|b| b":,\\".contains(b)))
        {
            return Err(stop(Errno::INVAL, why::STORE_PATH));
        }
        let mut path = [0; MAX_PATH];
        path[..parts[0].len()].copy_from_slice(parts[0]);
        path[parts[0].len()..total].copy_from_slice(parts[1]);
        let in_store = |e| stop(e, why::STORE);
        let unsafe_store = |_| stop(Errno::PERM, why::STORE_OWNER);
        make_dirs(&path[..total]).map_err(in_store)?.map_err(unsafe_store)?;
        let mut c = CPath::new();
        let top = c.of(&[&path[..total]]).and_then(open_dir).map_err(in_store)?;
        // Each made when missing, and never followed when a symlink.
        let sub = |name: &CStr| -> core::result::Result<OwnedFd, Stop> {
            let flags = DIR | OFlags::NOFOLLOW;
            let dir = match openat(&top, name, flags, Mode::empty()) {
                Err(Errno::NOENT) => mkdirat(&top, name, Mode::from_raw_mode(0o700))
                    .or_else(|e| if e == Errno::EXIST { Ok(()) } else { Err(e) })
                    .and_then(|()| openat(&top, name, flags, Mode::empty())),
                dir => dir,
            };
            let dir = dir.map_err(in_store)?;
            rustix::fs::fstat(&dir).ok().filter(|st| safe(st, true)).ok_or(()).map_err(unsafe_store)?;
            Ok(dir)
        };
        let store =
            Store { path, len: total, images: sub(c"images")?, runs: sub(c"runs")?, keys: sub(c"keys")? };
        store.sweep();
        Ok(store)
    }

    pub fn path(&self) -> &[u8] {
        &self.path[..self.len]
    }

    /// The complete entry `hex`, share-locked for as long as the descriptor is open (a
    /// container's life), made first by `unpack` into `HEX.tmp/rootfs` when missing. Two
    /// husks that miss it at once: one unpacks, the other waits and uses it.
    pub fn entry(
        &self,
        hex: &[u8; 64],
        about: &[u8],
        unpack: &mut dyn FnMut(BorrowedFd, BorrowedFd) -> core::result::Result<u64, Stop>,
    ) -> core::result::Result<OwnedFd, Stop> {
        let in_store = |e| stop(e, why::STORE);
        let mut names = Names::new(hex);
        if let Some(entry) = self.locked(&mut names).map_err(in_store)? {
            return Ok(entry);
        }
        let images = self.images.as_fd();
        let _lock = self.lock(&mut names, true).map_err(in_store)?;
        if let Some(entry) = self.locked(&mut names).map_err(in_store)? {
            let _ = rustix::fs::unlinkat(images, names.of(b".lock"), AtFlags::empty());
            return Ok(entry);
        }
        // A `.tmp` nobody holds the lock of is what a killed unpack left.
        let tmp = names.of(b".tmp");
        let made = (|| {
            match remove_all(images, tmp) {
                Ok(()) | Err(Errno::NOENT) => {}
                Err(e) => return Err(e),
            }
            mkdirat(images, tmp, Mode::from_raw_mode(0o700))?;
            let dir = openat(images, tmp, DIR, Mode::empty())?;
            mkdirat(&dir, c"rootfs", Mode::from_raw_mode(0o755))?;
            Ok(dir)
        })();
        let dir = made.map_err(in_store)?;
        let rootfs = openat(&dir, c"rootfs", DIR, Mode::empty()).map_err(in_store);
        let unpacked = rootfs.and_then(|rootfs| unpack(rootfs.as_fd(), dir.as_fd()));
        let size = match unpacked {
            Ok(size) => size,
            Err(failure) => {
                let _ = remove_all(images, names.of(b".tmp"));
                let _ = rustix::fs::unlinkat(images, names.of(b".lock"), AtFlags::empty());
                return Err(failure);
            }
        };
        let mut line = crate::out::Line::new();
        line.num(size);
        line.str(" ");
        line.bytes(about);
        let written = write_file(dir.as_fd(), c"about", line.as_bytes())
            .and_then(|()| renameat(images, names.of(b".tmp"), images, Names::new(hex).of(b"")));
        if written.is_err() {
            let _ = remove_all(images, names.of(b".tmp"));
        }
        let _ = rustix::fs::unlinkat(images, names.of(b".lock"), AtFlags::empty());
        written.map_err(in_store)?;
        self.locked(&mut names).and_then(|e| e.ok_or(Errno::NOENT)).map_err(in_store)
    }

    /// `HEX.lock`, exclusively locked: whoever holds it alone may make or unmake `HEX`. It
    /// is unlinked by its holder when done; a waiter that then gets the lock of an
    /// unlinked file tries again with the file now there (flock(2) locks a file, not a
    /// name).
    /// Not `wait`ing: EWOULDBLOCK while another holds it.
    fn lock(&self, names: &mut Names, wait: bool) -> rustix::io::Result<OwnedFd> {
        let flags = OFlags::RDWR | OFlags::CREATE | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        let how = if wait { FlockOperation::LockExclusive } else { FlockOperation::NonBlockingLockExclusive };
        loop {
            let lock = openat(&self.images, names.of(b".lock"), flags, Mode::from_raw_mode(0o600))?;
            flock(&lock, how)?;
            if rustix::fs::fstat(&lock).is_ok_and(|st| st.st_nlink > 0) {
                return Ok(lock);
            }
        }
    }

    /// Removes what killed husks left in images/, whichever image it was of (else it would
    /// stay, unseen by `husk images` and `husk rmi`, and a `HEX.rm` would make the next
    /// `husk rmi HEX` fail, ENOTEMPTY): an unpack's `HEX.tmp` whose lock no one holds, a
    /// `husk rmi`'s `HEX.rm` no one holds.
    fn sweep(&self) {
        let images = self.images.as_fd();
        let mut buf = [core::mem::MaybeUninit::uninit(); 1024];
        let mut entries = RawDir::new(images, &mut buf);
        while let Some(Ok(entry)) = entries.next() {
            let name = entry.file_name().to_bytes();
            let (Some(Ok(hex)), Some(suffix)) = (name.get(..64).map(<&[u8; 64]>::try_from), name.get(64..))
            else {
                continue;
            };
            let mut names = Names::new(hex);
            if suffix == b".tmp"
                && let Ok(_lock) = self.lock(&mut names, false)
            {
                let _ = remove_all(images, names.of(b".tmp"));
                let _ = rustix::fs::unlinkat(images, names.of(b".lock"), AtFlags::empty());
            } else if suffix == b".rm"
                && let Ok(dir) = openat(images, names.of(b".rm"), DIR | OFlags::NOFOLLOW, Mode::empty())
                && flock(&dir, FlockOperation::NonBlockingLockExclusive).is_ok()
            {
                let _ = remove_all(images, names.of(b".rm"));
            }
        }
        // The descriptor's offset is at the end: `husk images` and `rmi` read it again.
        let _ = rustix::fs::seek(images, rustix::fs::SeekFrom::Start(0));
    }

    /// The entry `hex`, share-locked, if complete.
    pub fn existing(&self, hex: &[u8; 64]) -> rustix::io::Result<Option<OwnedFd>> {
        self.locked(&mut Names::new(hex))
    }

    /// The directory of archive files' keys.
    pub fn keys(&self) -> BorrowedFd<'_> {
        self.keys.as_fd()
    }

    /// The entry, share-locked, if complete. (`husk rmi` removes an entry under its
    /// exclusive lock: one that is gone once the lock is had is missing.)
    fn locked(&self, names: &mut Names) -> rustix::io::Result<Option<OwnedFd>> {
        let entry = match openat(&self.images, names.of(b""), DIR, Mode::empty()) {
            Ok(entry) => entry,
            Err(Errno::NOENT) => return Ok(None),
            Err(e) => return Err(e),
        };
        flock(&entry, FlockOperation::LockShared)?;
        // `husk rmi` renames an entry away before it removes it.
        let here = statat(&self.images, names.of(b""), AtFlags::SYMLINK_NOFOLLOW).map(|st| st.st_ino);
        if here != Ok(rustix::fs::fstat(&entry)?.st_ino) {
            return Ok(None);
        }
        // Its last use, for `husk images`.
        let _ = rustix::fs::futimens(&entry, &NOW);
        Ok(Some(entry))
    }

    /// The image `hex` ready for a container: its entry (locked, from [`entry`]) and,
    /// unless `read_only`, a run directory of its own (upper/, work/), exclusively locked
    /// while the container runs; first removes those whose husk is gone.
    pub fn prepared(
        &self,
        hex: &[u8; 64],
        entry: OwnedFd,
        read_only: bool,
    ) -> core::result::Result<Prepared, Stop> {
        let mut prepared =
            Prepared { _entry: entry, run: None, paths: [0; 2 * MAX_PATH], lower: 0, run_len: 0 };
        prepared.lower = join(&mut prepared.paths, &[self.path(), b"/images/", hex, b"/rootfs"]);
        if read_only {
            return Ok(prepared);
        }
        let runs = self.runs.as_fd();
        sweep(runs);
        let pid = rustix::process::getpid().as_raw_nonzero().get() as u64;
        for n in 0..100u64 {
            let mut line = crate::out::Line::new();
            line.str("husk-").num(pid);
            if n > 0 {
                line.str(".").num(n);
            }
            let name = line.as_bytes();
            let len = join(&mut prepared.paths[MAX_PATH..], &[self.path(), b"/runs/", name, b"\0"]);
            let c = crate::rt::c_str(&prepared.paths[MAX_PATH + len - 1 - name.len()..MAX_PATH + len])
                .unwrap_or(c".");
            match mkdirat(runs, c, Mode::from_raw_mode(0o700)) {
                Err(Errno::EXIST) => continue,
                other => other.map_err(|e| stop(e, why::STORE))?,
            }
            // A sweep by another husk may take it between mkdir and flock: then again.
            let Ok(dir) = openat(runs, c, DIR, Mode::empty()) else { continue };
            if flock(&dir, FlockOperation::NonBlockingLockExclusive).is_err()
                || rustix::fs::fstat(&dir).map_or(true, |st| st.st_nlink == 0)
            {
                continue;
            }
            for sub in [c"upper", c"work"] {
                mkdirat(&dir, sub, Mode::from_raw_mode(0o755)).map_err(|e| stop(e, why::STORE))?;
            }
            prepared.run_len = len - 1;
            prepared.run = Some(dir);
            return Ok(prepared);
        }
        Err(stop(Errno::EXIST, why::STORE))
    }

    /// Removes run directory `name` (after its container).
    pub fn remove_run(path: &[u8]) {
        let mut c = CPath::new();
        if let Ok(c) = c.of(&[path]) {
            let _ = remove_all(rustix::fs::CWD, c);
        }
    }
}

/// `parts` joined at the start of `buf`; returns the length.
fn join(buf: &mut [u8], parts: &[&[u8]]) -> usize {
    let mut at = 0;
    for part in parts {
        buf[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
    at
}

/// Removes the run directories no husk holds beside `run` (this run's own): for an ordinary
/// user's husk once it is in the container's user namespace, where the subordinate ids that
/// own what a killed run's container left are mapped (as the user alone it may not remove
/// them).
pub fn sweep_beside(run: &[u8]) {
    let parent = &run[..run.iter().rposition(|&b| b == b'/').unwrap_or(0)];
    let mut c = CPath::new();
    if let Ok(runs) = c.of(&[parent]).and_then(open_dir) {
        sweep(runs.as_fd());
    }
}

/// Removes the run directories no husk holds.
fn sweep(runs: BorrowedFd) {
    let mut buf = [core::mem::MaybeUninit::uninit(); 1024];
    let mut entries = RawDir::new(runs, &mut buf);
    while let Some(Ok(entry)) = entries.next() {
        let name = entry.file_name();
        if name.to_bytes().starts_with(b".") {
            continue;
        }
        let Ok(dir) = openat(runs, name, DIR | OFlags::NOFOLLOW, Mode::empty()) else { continue };
        if flock(&dir, FlockOperation::NonBlockingLockExclusive).is_ok() {
            let _ = remove_all(runs, name);
        }
    }
}

pub type EachEntry<'f> = dyn FnMut(&[u8; 64], &[u8], u64) + 'f;

/// The entries (64 hex digits), in directory order, each with its `about` text
/// ("SIZE SOURCE") and its last use (the entry's mtime, seconds).
pub fn each_entry(images: BorrowedFd, f: &mut EachEntry) {
    // From the start each time: the descriptor's offset is where the last listing ended.
    let _ = rustix::fs::seek(images, rustix::fs::SeekFrom::Start(0));
    let mut buf = [core::mem::MaybeUninit::uninit(); 2048];
    let mut entries = RawDir::new(images, &mut buf);
    while let Some(Ok(entry)) = entries.next() {
        let name = entry.file_name().to_bytes();
        let Ok(hex) = <&[u8; 64]>::try_from(name) else { continue };
        if !hex.iter().all(u8::is_ascii_hexdigit) {
            continue;
        }
        let mut about = [0u8; 4200];
        let mut len = 0;
        let mut used = 0;
        if let Ok(dir) = openat(images, entry.file_name(), DIR | OFlags::NOFOLLOW, Mode::empty()) {
            used = rustix::fs::fstat(&dir).map_or(0, |st| st.st_mtime as u64);
            if let Ok(file) = openat(&dir, c"about", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) {
                len = rustix::io::read(&file, &mut about[..]).unwrap_or(0);
            }
        }
        f(hex, &about[..len], used);
    }
}

/// Entry `hex`, exclusively locked (EBUSY: a container uses it), for [`remove_entry`].
pub fn lock_entry(images: BorrowedFd, hex: &[u8; 64]) -> rustix::io::Result<OwnedFd> {
    let dir = openat(images, Names::new(hex).of(b""), DIR | OFlags::NOFOLLOW, Mode::empty())?;
    flock(&dir, FlockOperation::NonBlockingLockExclusive).map_err(|_| Errno::BUSY)?;
    Ok(dir)
}

/// Removes entry `hex`, locked by [`lock_entry`]: renamed away first, so that no start
/// finds it half removed (one waiting on its lock finds it gone).
pub fn remove_entry(images: BorrowedFd, hex: &[u8; 64]) -> rustix::io::Result<()> {
    let (mut names, mut gone) = (Names::new(hex), Names::new(hex));
    let gone = gone.of(b".rm");
    renameat(images, names.of(b""), images, gone)?;
    remove_all(images, gone)
}

/// Now, for futimens(2).
const NOW: rustix::fs::Timestamps = rustix::fs::Timestamps {
    last_access: rustix::fs::Timespec { tv_sec: 0, tv_nsec: rustix::fs::UTIME_NOW },
    last_modification: rustix::fs::Timespec { tv_sec: 0, tv_nsec: rustix::fs::UTIME_NOW },
};

/// `HEX` with a suffix, as a C string.
struct Names {
    buf: [u8; 80],
}

impl Names {
    fn new(hex: &[u8; 64]) -> Names {
        let mut buf = [0; 80];
        buf[..64].copy_from_slice(hex);
        Names { buf }
    }

    fn of(&mut self, suffix: &[u8]) -> &CStr {
        self.buf[64..64 + suffix.len()].copy_from_slice(suffix);
        self.buf[64 + suffix.len()] = 0;
        crate::rt::c_str(&self.buf[..65 + suffix.len()]).unwrap_or(c".")
    }
}

fn open_dir(path: &CStr) -> rustix::io::Result<OwnedFd> {
    rustix::fs::open(path, DIR, Mode::empty())
}

/// `mkdir -p`: each missing directory on the way, the last one 0700; Err(()) inside when
/// one of them is not [`safe`].
fn make_dirs(path: &[u8]) -> rustix::io::Result<core::result::Result<(), ()>> {
    let mut c = CPath::new();
    for (i, _) in path.iter().enumerate().filter(|&(i, &b)| i > 0 && b == b'/').chain([(path.len(), &0)]) {
        let mode = if i == path.len() { 0o700 } else { 0o755 };
        let dir = c.of(&[&path[..i]])?;
        // Made only when missing (a warm start stats each once).
        let st = match rustix::fs::stat(dir) {
            Err(Errno::NOENT) => match rustix::fs::mkdir(dir, Mode::from_raw_mode(mode)) {
                Ok(()) | Err(Errno::EXIST) => rustix::fs::stat(dir)?,
                Err(e) => return Err(e),
            },
            st => st?,
        };
        if !safe(&st, i == path.len()) {
            return Ok(Err(()));
        }
    }
    Ok(Ok(()))
}

/// Whether no one but the caller can change directory `st` (the store itself or one of its
/// own, `own`), or one on the way to the store (then root may own it, and a sticky one
/// such as /tmp may be everyone's): overlayfs and the container's root are given paths
/// below it, and whoever could rename their directories could have them lead anywhere (a
/// run's upper directory to the host's /etc).
fn safe(st: &rustix::fs::Stat, own: bool) -> bool {
    let uid = rustix::process::geteuid().as_raw();
    // A group's write counts unless it is the caller's own (a user private group).
    let own_group = st.st_gid == rustix::process::getegid().as_raw();
    let others_write = st.st_mode & 0o002 != 0 || (st.st_mode & 0o020 != 0 && !own_group);
    let sticky = st.st_mode & 0o1000 != 0;
    (st.st_uid == uid || (!own && st.st_uid == 0)) && (!others_write || (!own && sticky))
}

fn write_file(dir: BorrowedFd, name: &CStr, data: &[u8]) -> rustix::io::Result<()> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::CLOEXEC;
    let fd = openat(dir, name, flags, Mode::from_raw_mode(0o600))?;
    crate::rt::sys::write_all(rustix::fd::AsRawFd::as_raw_fd(&fd), data);
    Ok(())
}
