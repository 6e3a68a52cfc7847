//! A tar stream unpacked into a directory, whatever the archive says: every name is looked
//! up inside the destination (openat2(2) RESOLVE_IN_ROOT, so a symlink in the tree, `..`
//! or an absolute target never leads out of it), and every entry is made by its parent's
//! descriptor without following its last component.
//!
//! The dialects real tools write: ustar (with its prefix field), GNU (long names and link
//! targets as `L`/`K` entries, base-256 numbers), pax (`x` headers: path, linkpath, size,
//! uid, gid, mtime and `SCHILY.xattr.*`, which carries `security.capability`). Layers of an
//! image also carry whiteouts (`.wh.NAME` removes NAME, `.wh..wh..opq` empties the
//! directory), applied when asked.

use core::ffi::CStr;

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{
    AtFlags, FileType, Mode, OFlags, RawDir, ResolveFlags, Timespec, Timestamps, XattrFlags, fchmod, fchown,
    fsetxattr, futimens, linkat, mkdirat, mknodat, openat, openat2, symlinkat, unlinkat,
};
use rustix::io::Errno;
use rustix::process::{Gid, Uid};

use crate::cpath::CPath;

/// One tar block.
const BLOCK: usize = 512;
/// The largest pax header (or GNU long name) taken: real ones hold a few names and
/// xattrs.
pub const PAX_MAX: usize = 64 * 1024;
/// Room for the directories' times: some 50,000 directories (its pages cost memory only
/// as they are used).
pub const DIRS_MAX: usize = 4 << 20;
/// How much of the stream is read at once.
pub const INPUT_BUF: usize = 128 * 1024;

use super::why::*;
use super::{Stop, stop};

type Result<T> = core::result::Result<T, Stop>;

/// The stream: a file (from an offset, for so many bytes) or a pipe, read through a
/// buffer, hashed as it is read when asked.
pub struct Input<'b> {
    /// None: the stream is `mem`, already in memory (a layer of a mapped image).
    fd: Option<BorrowedFd<'b>>,
    mem: &'b [u8],
    /// Where the next read starts (pread), or None: read(2) from wherever the fd is.
    offset: Option<u64>,
    /// Bytes the stream may still give.
    left: u64,
    buf: &'b mut [u8],
    start: usize,
    end: usize,
    pub hash: Option<super::sha256::Sha256>,
}

impl<'b> Input<'b> {
    pub fn new(fd: BorrowedFd<'b>, offset: Option<u64>, len: u64, buf: &'b mut [u8]) -> Input<'b> {
        Input { fd: Some(fd), mem: &[], offset, left: len, buf, start: 0, end: 0, hash: None }
    }

    pub fn memory(mem: &'b [u8], buf: &'b mut [u8]) -> Input<'b> {
        Input { fd: None, mem, offset: Some(0), left: mem.len() as u64, buf, start: 0, end: 0, hash: None }
    }

    /// What is buffered, refilled when empty; empty at the end of the stream.
    fn fill(&mut self) -> Result<&[u8]> {
        if self.start == self.end && self.left > 0 {
            let want = self.buf.len().min(self.left.min(usize::MAX as u64) as usize);
            let got = loop {
                let read = match (self.fd, self.offset) {
                    (Some(fd), Some(at)) => rustix::io::pread(fd, &mut self.buf[..want], at),
                    (Some(fd), None) => rustix::io::read(fd, &mut self.buf[..want]),
                    (None, at) => {
                        let at = at.unwrap_or(0) as usize;
                        self.buf[..want].copy_from_slice(&self.mem[at..at + want]);
                        Ok(want)
                    }
                };
                match read {
                    Err(Errno::INTR) => {}
                    other => break other.map_err(|e| stop(e, READ))?,
                }
            };
            if got == 0 {
                self.left = 0;
            }
            self.left -= got as u64;
            if let Some(at) = &mut self.offset {
                *at += got as u64;
            }
            if let Some(hash) = &mut self.hash {
                hash.update(&self.buf[..got]);
            }
            (self.start, self.end) = (0, got);
        }
        Ok(&self.buf[self.start..self.end])
    }

    /// Exactly `out.len()` bytes, or EOF at once (Ok(false)) when `eof_ok`.
    fn exact(&mut self, out: &mut [u8], eof_ok: bool) -> Result<bool> {
        let mut at = 0;
        while at < out.len() {
            let have = self.fill()?;
            if have.is_empty() {
                return if at == 0 && eof_ok { Ok(false) } else { Err(stop(Errno::IO, TRUNCATED)) };
            }
            let n = have.len().min(out.len() - at);
            out[at..at + n].copy_from_slice(&have[..n]);
            self.start += n;
            at += n;
        }
        Ok(true)
    }

    /// Hands the next `n` bytes to `to` (or skips them when None).
    fn pass(&mut self, mut n: u64, to: Option<BorrowedFd>) -> Result<()> {
        while n > 0 {
            let have = self.fill()?;
            if have.is_empty() {
                return Err(stop(Errno::IO, TRUNCATED));
            }
            let len = have.len().min(n.min(usize::MAX as u64) as usize);
            if let Some(fd) = to {
                write_all(fd, &have[..len])?;
            }
            self.start += len;
            n -= len as u64;
        }
        Ok(())
    }

    /// Reads to the end (what follows the end-of-archive blocks is hashed too).
    pub fn drain(&mut self) -> Result<()> {
        while !self.fill()?.is_empty() {
            self.start = self.end;
        }
        Ok(())
    }
}

fn write_all(fd: BorrowedFd, mut data: &[u8]) -> Result<()> {
    while !data.is_empty() {
        match rustix::io::write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// How entries are applied.
#[derive(Clone, Copy)]
pub struct Options {
    /// Root's unpack: owners kept, device nodes made. Otherwise everything is the caller's
    /// and device nodes are skipped (they could not be used anyway).
    pub root: bool,
    /// An image layer: whiteouts apply.
    pub layer: bool,
    /// The most file data (plus a block per entry) unpacked in all.
    pub max: u64,
}

/// The unpacker's buffers and state between entries (and between an image's layers).
pub struct Unpacker<'d> {
    root: BorrowedFd<'d>,
    pub options: Options,
    /// Counted against `options.max` over every stream unpacked.
    pub used: u64,
    /// The current entry's name, as the archive gave it (for errors).
    name: [u8; 4096],
    name_len: usize,
    /// Its link target.
    link: [u8; 4096],
    link_len: usize,
    /// The last pax header's records, which apply to the next entry.
    pax: &'d mut [u8],
    pax_len: usize,
    /// Each directory made and its mtime, set once the archive's end is reached (making an
    /// entry in a directory changes its mtime): records of PATH, seconds, nanoseconds,
    /// PATH's length, read back from the end.
    dirs: &'d mut [u8],
    dirs_len: usize,
    /// The parent directory of the last entry: most entries share their predecessor's.
    parent_key: [u8; 4096],
    parent_len: usize,
    parent_fd: Option<OwnedFd>,
}

/// One header's fields, after pax and GNU long names are applied.
struct Entry {
    kind: u8,
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
    mtime: (i64, u32),
    dev: (u32, u32),
}

impl<'d> Unpacker<'d> {
    /// `pax` holds the pax records (at least [`PAX_MAX`] bytes).
    /// `pax` holds the pax records (at least [`PAX_MAX`] bytes), `dirs` the directories'
    /// times (a directory past its room keeps the time its last entry gave it).
    pub fn new(
        root: BorrowedFd<'d>,
        options: Options,
        pax: &'d mut [u8],
        dirs: &'d mut [u8],
    ) -> Unpacker<'d> {
        Unpacker {
            root,
            options,
            used: 0,
            name: [0; 4096],
            name_len: 0,
            link: [0; 4096],
            link_len: 0,
            pax,
            pax_len: 0,
            dirs,
            dirs_len: 0,
            parent_key: [0; 4096],
            parent_len: 0,
            parent_fd: None,
        }
    }

    /// The name of the entry an unpack stopped at.
    pub fn name(&self) -> &[u8] {
        &self.name[..self.name_len]
    }

    /// Unpacks one archive up to its end-of-archive blocks (or the stream's end), then gives
    /// its directories their times.
    pub fn unpack(&mut self, input: &mut Input) -> Result<()> {
        self.entries(input)?;
        let mut end = self.dirs_len;
        while end >= 14 {
            let len = u16::from_le_bytes([self.dirs[end - 2], self.dirs[end - 1]]) as usize;
            let start = end - 14 - len;
            let record = &self.dirs[start..end];
            let secs = i64::from_le_bytes(record[len..len + 8].try_into().unwrap_or_default());
            let nanos = u32::from_le_bytes(record[len + 8..len + 12].try_into().unwrap_or_default());
            let times = times((secs, nanos));
            // (futimens(2) needs a descriptor opened for reading: not O_PATH.)
            if let Ok(dir) = open_in(self.root, &record[..len], OFlags::RDONLY) {
                let _ = futimens(dir, &times);
            }
            end = start;
        }
        self.dirs_len = 0;
        Ok(())
    }

    fn entries(&mut self, input: &mut Input) -> Result<()> {
        let mut header = [0u8; BLOCK];
        let (mut long_name, mut long_link) = (false, false);
        self.name_len = 0;
        loop {
            if !input.exact(&mut header, true)? {
                return Ok(());
            }
            if header.iter().all(|&b| b == 0) {
                // The end: two zero blocks (one, then the stream's end, is taken too).
                return Ok(());
            }
            if !checksum_ok(&header) {
                return Err(stop(Errno::BADMSG, CHECKSUM));
            }
            let size = number(&header[124..136]).ok_or(stop(Errno::BADMSG, NOT_NUMBER))?;
            let kind = header[156];
            self.count(size)?;
            match kind {
                // GNU: the next entry's name or link target, as data.
                b'L' | b'K' => {
                    let buf = if kind == b'L' { &mut self.name[..] } else { &mut self.link[..] };
                    let len = read_small(input, size, buf)?;
                    let len = buf[..len].iter().position(|&b| b == 0).unwrap_or(len);
                    if kind == b'L' {
                        (self.name_len, long_name) = (len, true);
                    } else {
                        (self.link_len, long_link) = (len, true);
                    }
                }
                b'x' => self.pax_len = read_small(input, size, self.pax)?,
                // Global pax records and volume labels change nothing husk keeps.
                b'g' | b'V' => input.pass(padded(size), None)?,
                _ => {
                    if !long_name {
                        self.name_len = ustar_name(&header, &mut self.name);
                    }
                    if !long_link {
                        self.link_len = field(&header[157..257]).len();
                        self.link[..self.link_len].copy_from_slice(field(&header[157..257]));
                    }
                    let mut entry = Entry {
                        kind: if kind == 0 || kind == b'7' { b'0' } else { kind },
                        mode: number(&header[100..108]).unwrap_or(0) as u32 & 0o7777,
                        uid: number(&header[108..116]).unwrap_or(0) as u32,
                        gid: number(&header[116..124]).unwrap_or(0) as u32,
                        size,
                        mtime: (number(&header[136..148]).unwrap_or(0) as i64, 0),
                        dev: (
                            number(&header[329..337]).unwrap_or(0) as u32,
                            number(&header[337..345]).unwrap_or(0) as u32,
                        ),
                    };
                    self.apply_pax(&mut entry)?;
                    if entry.size != size {
                        self.count(entry.size)?;
                    }
                    // A directory's or a link's size says nothing about data (GNU dumpdirs
                    // aside, which are refused as unknown).
                    let data = if matches!(entry.kind, b'0') { entry.size } else { 0 };
                    self.entry(&entry, input)?;
                    input.pass(padded(entry.size) - data, None)?;
                    self.pax_len = 0;
                    (long_name, long_link) = (false, false);
                }
            }
        }
    }

    fn count(&mut self, size: u64) -> Result<()> {
        self.used = self.used.saturating_add(size).saturating_add(BLOCK as u64);
        if self.used > self.options.max {
            return Err(stop(Errno::FBIG, TOO_BIG));
        }
        Ok(())
    }

    /// The pax records that override the header's fields.
    fn apply_pax(&mut self, entry: &mut Entry) -> Result<()> {
        for record in Records(&self.pax[..self.pax_len]) {
            let (key, value) = record?;
            let num = || crate::text::parse_decimal(value, 20).ok_or(stop(Errno::BADMSG, PAX));
            match key {
                b"path" => self.name_len = copy_to(&mut self.name, value)?,
                b"linkpath" => self.link_len = copy_to(&mut self.link, value)?,
                b"size" => entry.size = num()?,
                b"uid" => entry.uid = num()? as u32,
                b"gid" => entry.gid = num()? as u32,
                b"mtime" => entry.mtime = pax_time(value),
                _ if key.starts_with(b"GNU.sparse") => {
                    return Err(stop(Errno::OPNOTSUPP, SPARSE));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Makes one entry: where something is in the way, it is removed (whatever it is: a
    /// later layer replaces what an earlier one had) and the entry made once more.
    fn entry(&mut self, entry: &Entry, input: &mut Input) -> Result<()> {
        let mut path = [0u8; 4096];
        let (dir, leaf_at) = clean(&self.name[..self.name_len], &mut path)?;
        let leaf_c = CStr::from_bytes_until_nul(&path[leaf_at..]).map_err(|_| Errno::INVAL)?;
        let leaf = leaf_c.to_bytes();
        let kind = entry.kind;
        if leaf.is_empty() {
            // The root itself (`./`): only a directory, whose metadata applies to it.
            if kind != b'5' {
                return Err(stop(Errno::PERM, ROOT));
            }
            self.remember(b"", entry);
            return self.meta(self.root, entry, true);
        }
        if self.options.layer && leaf.starts_with(b".wh.") {
            return self.whiteout(&path[..dir], leaf);
        }
        // A user cannot make devices (nor use them: every container mount is nodev).
        if !self.options.root && matches!(kind, b'3' | b'4') {
            return Ok(());
        }
        // A hard link's target: inside the root, like every name.
        let mut target = [0u8; 4096];
        let mut target_dir = None;
        let target_leaf = if kind == b'1' {
            let (tdir, tleaf) = clean(&self.link[..self.link_len], &mut target)?;
            target_dir = Some(open_dir_in(self.root, &target[..tdir])?);
            tleaf
        } else {
            copy_to(&mut target, &self.link[..self.link_len])?;
            0
        };
        let target_c = CStr::from_bytes_until_nul(&target[target_leaf..]).map_err(|_| Errno::INVAL)?;
        self.enter(&path[..dir])?;
        let parent = self.parent_fd();
        let mode = Mode::from_raw_mode(0o600);
        let mut fd = None;
        for again in [false, true] {
            let made = match kind {
                b'0' => {
                    let flags =
                        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                    openat(parent, leaf_c, flags, mode).map(|file| fd = Some(file))
                }
                b'5' => mkdirat(parent, leaf_c, Mode::from_raw_mode(0o700)),
                b'2' => symlinkat(target_c, parent, leaf_c),
                b'1' => linkat(
                    target_dir.as_ref().map_or(self.root, |d| d.as_fd()),
                    target_c,
                    parent,
                    leaf_c,
                    AtFlags::empty(),
                ),
                b'3' | b'4' | b'6' => {
                    let file_type = match kind {
                        b'3' => FileType::CharacterDevice,
                        b'4' => FileType::BlockDevice,
                        _ => FileType::Fifo,
                    };
                    mknodat(parent, leaf_c, file_type, mode, rustix::fs::makedev(entry.dev.0, entry.dev.1))
                }
                _ => return Err(stop(Errno::OPNOTSUPP, KIND)),
            };
            match made {
                Err(Errno::EXIST) if kind == b'5' && is_dir(parent, leaf_c) => break,
                Err(Errno::EXIST) if !again => remove_all(parent, leaf_c)?,
                other => {
                    other?;
                    break;
                }
            }
        }
        match kind {
            // A hard link shares its target's metadata.
            b'1' => Ok(()),
            b'0' | b'5' => {
                if kind == b'5' {
                    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                    fd = Some(openat(parent, leaf_c, flags, Mode::empty())?);
                }
                let fd = fd.ok_or(Errno::INVAL)?;
                if kind == b'0' {
                    input.pass(entry.size, Some(fd.as_fd()))?;
                }
                if kind == b'5' {
                    self.remember(&path[..leaf_at + leaf.len()], entry);
                }
                self.meta(fd.as_fd(), entry, kind == b'5')
            }
            // Symlinks and nodes, by name (nothing else writes the tree meanwhile).
            _ => {
                if self.options.root {
                    let ids = (Some(Uid::from_raw(entry.uid)), Some(Gid::from_raw(entry.gid)));
                    rustix::fs::chownat(parent, leaf_c, ids.0, ids.1, AtFlags::SYMLINK_NOFOLLOW)?;
                }
                if kind != b'2' {
                    rustix::fs::chmodat(parent, leaf_c, Mode::from_raw_mode(entry.mode), AtFlags::empty())?;
                }
                Ok(rustix::fs::utimensat(parent, leaf_c, &times(entry.mtime), AtFlags::SYMLINK_NOFOLLOW)?)
            }
        }
    }

    /// Owner, mode, extended attributes and time, in that order: chown clears setuid bits
    /// and file capabilities (chown(2)), so they come after it.
    fn meta(&self, fd: BorrowedFd, entry: &Entry, dir: bool) -> Result<()> {
        let mut mode = entry.mode;
        if self.options.root {
            fchown(fd, Some(Uid::from_raw(entry.uid)), Some(Gid::from_raw(entry.gid)))?;
        } else if dir {
            // The caller's own directories must stay theirs to fill.
            mode |= 0o700;
        }
        fchmod(fd, Mode::from_raw_mode(mode))?;
        let mut records = Records(&self.pax[..self.pax_len]);
        while let Some(Ok((key, value))) = records.next() {
            let Some(name) = key.strip_prefix(b"SCHILY.xattr.") else { continue };
            let mut c = CPath::new();
            let name = c.of(&[name])?;
            match fsetxattr(fd, name, value, XattrFlags::empty()) {
                // A user may not set trusted.* or security.* attributes: theirs are lost.
                Err(_) if !self.options.root => {}
                other => other?,
            }
        }
        Ok(futimens(fd, &times(entry.mtime))?)
    }

    /// Keeps a directory's time for the end of the archive.
    fn remember(&mut self, path: &[u8], entry: &Entry) {
        let end = self.dirs_len + path.len() + 14;
        let Some(record) = self.dirs.get_mut(self.dirs_len..end) else { return };
        let (name, rest) = record.split_at_mut(path.len());
        name.copy_from_slice(path);
        rest[..8].copy_from_slice(&entry.mtime.0.to_le_bytes());
        rest[8..12].copy_from_slice(&entry.mtime.1.to_le_bytes());
        rest[12..].copy_from_slice(&(path.len() as u16).to_le_bytes());
        self.dirs_len = end;
    }

    /// `.wh.NAME` removes NAME from the layers below; `.wh..wh..opq` empties the directory.
    fn whiteout(&mut self, dir: &[u8], leaf: &[u8]) -> Result<()> {
        self.enter(dir)?;
        let parent = self.parent_fd();
        let mut c = CPath::new();
        let result = if leaf == b".wh..wh..opq" {
            // (The parent is held O_PATH: reading its entries takes a descriptor of its own.)
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
            openat(parent, c".", flags, Mode::empty()).and_then(|dir| empty_dir(dir.as_fd()))
        } else {
            let name = &leaf[4..];
            if name.is_empty() || name == b"." || name == b".." {
                return Err(stop(Errno::PERM, WHITEOUT));
            }
            remove_all(parent, c.of(&[name])?)
        };
        // What is removed may be a cached parent.
        self.parent_fd = None;
        match result {
            Err(Errno::NOENT) => Ok(()),
            other => Ok(other?),
        }
    }

    /// The directory `dir` (relative to the root, clean), made with its parents when
    /// missing, looked up inside the root.
    fn enter(&mut self, dir: &[u8]) -> Result<()> {
        let cached = self.parent_fd.is_some() && &self.parent_key[..self.parent_len] == dir;
        if !cached {
            self.parent_fd = None;
            let fd = match open_dir_in(self.root, dir) {
                Err(Stop { errno: Errno::NOENT, .. }) => self.make_dirs(dir)?,
                other => other?,
            };
            self.parent_key[..dir.len()].copy_from_slice(dir);
            self.parent_len = dir.len();
            self.parent_fd = Some(fd);
        }
        Ok(())
    }

    /// The directory [`enter`](Self::enter) opened.
    fn parent_fd(&self) -> BorrowedFd<'_> {
        self.parent_fd.as_ref().map_or(self.root, |fd| fd.as_fd())
    }

    /// `mkdir -p` inside the root, for archives that leave out a directory's own entry.
    fn make_dirs(&mut self, dir: &[u8]) -> Result<OwnedFd> {
        let mut end = 0;
        loop {
            let next = dir[end..].iter().position(|&b| b == b'/').map_or(dir.len(), |i| end + i);
            let (above, name) = (&dir[..end.saturating_sub(1)], &dir[end..next]);
            let parent = open_dir_in(self.root, above)?;
            let mut c = CPath::new();
            match mkdirat(&parent, c.of(&[name])?, Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(e.into()),
            }
            if next == dir.len() {
                return open_dir_in(self.root, dir);
            }
            end = next + 1;
        }
    }
}

fn is_dir(parent: BorrowedFd, leaf: &CStr) -> bool {
    rustix::fs::statat(parent, leaf, AtFlags::SYMLINK_NOFOLLOW)
        .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory)
}

/// Opens directory `dir` (clean, relative) inside `root`, symlinks resolved within it.
fn open_dir_in(root: BorrowedFd, dir: &[u8]) -> Result<OwnedFd> {
    open_in(root, dir, OFlags::PATH)
}

/// Opens directory `dir` inside `root` (as [`open_dir_in`]) with `flags`.
fn open_in(root: BorrowedFd, dir: &[u8], flags: OFlags) -> Result<OwnedFd> {
    let mut c = CPath::new();
    let path = c.of(&[if dir.is_empty() { b"." } else { dir }])?;
    let flags = flags | OFlags::DIRECTORY | OFlags::CLOEXEC;
    Ok(openat2(root, path, flags, Mode::empty(), ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS)?)
}

/// Removes `name` in `parent`, whatever it is, a whole tree included: iteratively (no
/// recursion a deep tree could overflow), emptying the deepest directory first.
pub fn remove_all(parent: BorrowedFd, name: &CStr) -> rustix::io::Result<()> {
    match unlinkat(parent, name, AtFlags::REMOVEDIR) {
        Err(Errno::NOTDIR) => unlinkat(parent, name, AtFlags::empty()),
        Err(Errno::NOTEMPTY | Errno::EXIST) => {
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            empty_dir(openat(parent, name, flags, Mode::empty())?.as_fd())?;
            unlinkat(parent, name, AtFlags::REMOVEDIR)
        }
        other => other,
    }
}

/// Empties directory `dir` (open for reading) of everything: down to a directory with no
/// subdirectory left, emptied; then again from the top, until nothing is left.
fn empty_dir(dir: BorrowedFd) -> rustix::io::Result<()> {
    while let Some(mut sub) = empty_files(dir)? {
        while let Some(deeper) = empty_files(sub.as_fd())? {
            sub = deeper;
        }
    }
    Ok(())
}

/// Removes every non-directory in `dir` and every empty subdirectory; returns the first
/// subdirectory that is not empty, or None once `dir` is empty.
fn empty_files(dir: BorrowedFd) -> rustix::io::Result<Option<OwnedFd>> {
    loop {
        // Each pass from the first entry: the descriptor's offset is where the last ended.
        rustix::fs::seek(dir, rustix::fs::SeekFrom::Start(0))?;
        let mut buf = [core::mem::MaybeUninit::uninit(); 2048];
        let mut entries = RawDir::new(dir, &mut buf);
        let mut any = false;
        while let Some(entry) = entries.next() {
            let entry = entry?;
            let name = entry.file_name();
            if matches!(name.to_bytes(), b"." | b"..") {
                continue;
            }
            any = true;
            match unlinkat(dir, name, AtFlags::empty()) {
                Err(Errno::ISDIR) => match unlinkat(dir, name, AtFlags::REMOVEDIR) {
                    Err(Errno::NOTEMPTY | Errno::EXIST) => {
                        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                        return openat(dir, name, flags, Mode::empty()).map(Some);
                    }
                    other => other?,
                },
                other => other?,
            }
        }
        if !any {
            return Ok(None);
        }
    }
}

/// Access and modification times both `mtime` (seconds, nanoseconds).
fn times(mtime: (i64, u32)) -> Timestamps {
    let t = Timespec { tv_sec: mtime.0, tv_nsec: mtime.1 as _ };
    Timestamps { last_access: t, last_modification: t }
}

/// A pax time, `SECONDS[.FRACTION]` (negative times are taken as 0).
fn pax_time(value: &[u8]) -> (i64, u32) {
    let (secs, frac) = crate::text::split_once(value, b'.');
    let secs = crate::text::parse_decimal(secs, 19).unwrap_or(0) as i64;
    let mut nanos = 0u32;
    for i in 0..9 {
        let digit = frac.and_then(|f| f.get(i)).filter(|d| d.is_ascii_digit()).map_or(0, |d| d - b'0');
        nanos = nanos * 10 + digit as u32;
    }
    (secs, nanos)
}

/// pax records: `LENGTH KEY=VALUE\n`, LENGTH counting the whole record.
struct Records<'p>(&'p [u8]);

impl<'p> Iterator for Records<'p> {
    type Item = Result<(&'p [u8], &'p [u8])>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let bad = stop(Errno::BADMSG, PAX);
        let record = (|| {
            let space = self.0.iter().position(|&b| b == b' ')?;
            let len = crate::text::parse_decimal(&self.0[..space], 8)? as usize;
            let record = self.0.get(space + 1..len)?;
            let (body, newline) = record.split_at(record.len().checked_sub(1)?);
            let eq = body.iter().position(|&b| b == b'=')?;
            self.0 = &self.0[len..];
            (newline == b"\n").then_some((&body[..eq], &body[eq + 1..]))
        })();
        if record.is_none() {
            self.0 = &[];
        }
        Some(record.ok_or(bad))
    }
}

/// A name made relative and clean, NUL-terminated: leading `/` and `./` dropped, `.` and
/// empty components skipped; a `..` anywhere is refused (it could only be meant to leave
/// the root). Returns where its directory part ends and where its last component starts.
fn clean(name: &[u8], out: &mut [u8; 4096]) -> Result<(usize, usize)> {
    let mut len = 0;
    for part in name.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => return Err(stop(Errno::PERM, DOTDOT)),
            _ => {
                let need = part.len() + usize::from(len > 0);
                if len + need >= out.len() {
                    return Err(Errno::NAMETOOLONG.into());
                }
                if len > 0 {
                    out[len] = b'/';
                    len += 1;
                }
                out[len..len + part.len()].copy_from_slice(part);
                len += part.len();
            }
        }
    }
    out[len] = 0;
    Ok(match out[..len].iter().rposition(|&b| b == b'/') {
        Some(i) => (i, i + 1),
        None => (0, 0),
    })
}

/// The header's name: ustar's prefix and name joined (GNU's headers use that room for
/// other fields: only `ustar\0` has a prefix).
fn ustar_name(header: &[u8; BLOCK], out: &mut [u8; 4096]) -> usize {
    let name = field(&header[..100]);
    let prefix = if &header[257..263] == b"ustar\0" { field(&header[345..500]) } else { &[] };
    let mut len = 0;
    if !prefix.is_empty() {
        out[..prefix.len()].copy_from_slice(prefix);
        out[prefix.len()] = b'/';
        len = prefix.len() + 1;
    }
    out[len..len + name.len()].copy_from_slice(name);
    len + name.len()
}

/// A NUL-padded field's bytes.
fn field(bytes: &[u8]) -> &[u8] {
    &bytes[..bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len())]
}

/// A numeric field: octal (spaces and NULs around it), or GNU's base-256 (high bit set).
fn number(bytes: &[u8]) -> Option<u64> {
    if bytes[0] & 0x80 != 0 {
        if bytes[0] != 0x80 {
            return None; // negative
        }
        return bytes[1..].iter().try_fold(0u64, |n, &b| n.checked_mul(256).map(|n| n | b as u64));
    }
    let digits = bytes.iter().skip_while(|&&b| b == b' ' || b == 0);
    let mut n = 0u64;
    for &b in digits.take_while(|&&b| b != b' ' && b != 0) {
        if !(b'0'..=b'7').contains(&b) {
            return None;
        }
        n = n.checked_mul(8)? | (b - b'0') as u64;
    }
    Some(n)
}

/// The header checksum: the sum of its bytes with the checksum field taken as spaces
/// (unsigned, as POSIX says, or signed, as some old tars wrote it).
fn checksum_ok(header: &[u8; BLOCK]) -> bool {
    let Some(want) = number(&header[148..156]) else { return false };
    let (mut unsigned, mut signed) = (0u64, 0i64);
    for (i, &b) in header.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += b as u64;
        signed += b as i8 as i64;
    }
    want == unsigned || want as i64 == signed
}

/// Rounded up to whole blocks.
fn padded(size: u64) -> u64 {
    size.div_ceil(BLOCK as u64) * BLOCK as u64
}

/// A small entry's data (a long name, pax records) read whole into `buf`.
fn read_small(input: &mut Input, size: u64, buf: &mut [u8]) -> Result<usize> {
    if size > buf.len() as u64 {
        return Err(stop(Errno::NAMETOOLONG, LONG));
    }
    let n = size as usize;
    input.exact(&mut buf[..n], false)?;
    input.pass(padded(size) - size, None)?;
    Ok(n)
}

/// `value` at the start of `buf`, NUL-terminated when there is room.
fn copy_to(buf: &mut [u8], value: &[u8]) -> Result<usize> {
    buf.get_mut(..value.len()).ok_or(Errno::NAMETOOLONG)?.copy_from_slice(value);
    if let Some(nul) = buf.get_mut(value.len()) {
        *nul = 0;
    }
    Ok(value.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned_and_dotdot_refused() {
        let mut out = [0u8; 4096];
        for (name, want) in [
            (&b"./etc/passwd"[..], &b"etc/passwd"[..]),
            (b"/etc//x/./y/", b"etc/x/y"),
            (b"./", b""),
            (b"a", b"a"),
        ] {
            clean(name, &mut out).unwrap();
            assert_eq!(CStr::from_bytes_until_nul(&out).unwrap().to_bytes(), want);
        }
        for name in [&b"../x"[..], b"a/../../b", b"/.."] {
            assert_eq!(clean(name, &mut out).unwrap_err().errno, Errno::PERM);
        }
    }

    #[test]
    fn numbers_octal_and_base256() {
        assert_eq!(number(b"0000644\0"), Some(0o644));
        assert_eq!(number(b"   755 \0"), Some(0o755));
        assert_eq!(number(b"\0\0\0\0"), Some(0));
        assert_eq!(number(b"0008"), None);
        assert_eq!(number(&[0x80, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]), Some(1 << 32));
        assert_eq!(number(&[0xff, 0xff, 0xff, 0xff]), None);
    }

    #[test]
    fn pax_records_and_times() {
        let data = b"20 path=a/long/name\n27 SCHILY.xattr.user.k=v=w\n";
        let got: Vec<_> = Records(data).map(|r| r.unwrap()).collect();
        assert_eq!(got, [(&b"path"[..], &b"a/long/name"[..]), (b"SCHILY.xattr.user.k", b"v=w")]);
        assert!(Records(b"99 path=x\n").next().unwrap().is_err());
        assert!(Records(b"9 path=x!").next().unwrap().is_err());
        assert_eq!(pax_time(b"1700000000.5"), (1_700_000_000, 500_000_000));
        assert_eq!(pax_time(b"12"), (12, 0));
    }

    #[test]
    fn checksums() {
        let mut h = [0u8; BLOCK];
        h[..4].copy_from_slice(b"file");
        let sum: u64 = h.iter().map(|&b| b as u64).sum::<u64>() + 8 * b' ' as u64;
        let text = format!("{sum:06o}\0 ");
        h[148..156].copy_from_slice(text.as_bytes());
        assert!(checksum_ok(&h));
        h[0] = b'g';
        assert!(!checksum_ok(&h));
    }
}
