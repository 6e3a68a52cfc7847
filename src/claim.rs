//! Numbers claimed for a container's life: root's private id ranges (userns.rs) and bridge
//! addresses (net/). One file per number in a directory of root's under /run/husk, held
//! with an exclusive flock(2) for as long as the container lives, as names are
//! (registry.rs): a SIGKILLed holder lets go with its last descriptor, so its number is
//! free again, and the next claim takes it or sweeps it.

use core::ffi::CStr;

use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{AtFlags, FlockOperation, Mode, OFlags, flock, open, openat, unlinkat};
use rustix::io::Errno;

/// A number's file name, written into the buffer given.
pub type Namer = fn(u32, &mut [u8; 24]) -> &CStr;

/// A claimed number: its file, locked; removed when dropped.
pub struct Claim {
    dir: OwnedFd,
    /// Its flock is the claim, for as long as this descriptor lives.
    lock: OwnedFd,
    name: [u8; 24],
    pub number: u32,
    /// A file held beside it (`beside`), locked too, and its name's suffix.
    companion: Option<(OwnedFd, &'static [u8])>,
}

/// The first number below `count`, looking from `from` round to it, that `usable` allows
/// and nobody holds, in `dir` (made, with /run/husk, when missing), its file named by
/// `name(base + number)`. EAGAIN when every one is held.
pub fn claim(
    dir: &CStr,
    (base, from, count): (u32, u32, u32),
    usable: &dyn Fn(u32) -> bool,
    name: Namer,
) -> Result<Claim, Errno> {
    make_dir(dir)?;
    let dir =
        open(dir, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW, Mode::empty())?;
    for number in (from..count).chain(0..from).filter(|&n| usable(n)) {
        let mut buf = [0u8; 24];
        let flags = OFlags::CREATE | OFlags::RDWR | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        let Some(file) = take(&dir, name(base.wrapping_add(number), &mut buf), flags)? else { continue };
        return Ok(Claim { dir, lock: file, name: buf, number, companion: None });
    }
    Err(Errno::AGAIN)
}

/// `dir` below /run/husk, root's alone, made with /run/husk when missing.
pub fn make_dir(dir: &CStr) -> Result<(), Errno> {
    for path in [c"/run/husk", dir] {
        match rustix::fs::mkdir(path, Mode::from_raw_mode(0o700)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// `file` in `dir`, opened with `flags` and locked, if nobody else holds it.
fn take(dir: &OwnedFd, file: &CStr, flags: OFlags) -> Result<Option<OwnedFd>, Errno> {
    let file = match openat(dir, file, flags, Mode::from_raw_mode(0o600)) {
        Ok(file) => file,
        // Swept meanwhile (open without CREATE): nothing to take.
        Err(Errno::NOENT) => return Ok(None),
        Err(e) => return Err(e),
    };
    if flock(&file, FlockOperation::NonBlockingLockExclusive).is_err() {
        return Ok(None);
    }
    // Locked, but perhaps a file its last holder unlinked meanwhile (Drop, sweep): then
    // whoever made the next one holds that one. Only a linked file is the claim.
    Ok((rustix::fs::fstat(&file)?.st_nlink != 0).then_some(file))
}

impl Claim {
    /// Removes every other file of the directory nobody holds: those of SIGKILLed holders.
    /// Each is locked before it is unlinked, so a claim racing for it sees it unlinked.
    pub fn sweep(&self) {
        let mut buf = [core::mem::MaybeUninit::uninit(); 1024];
        let Ok(dir) = rustix::fs::openat(
            &self.dir,
            c".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        ) else {
            return;
        };
        let mut entries = rustix::fs::RawDir::new(&dir, &mut buf);
        while let Some(Ok(entry)) = entries.next() {
            let name = entry.file_name();
            if name.to_bytes().starts_with(b".") || name == self.file_name() {
                continue;
            }
            if let Ok(Some(_held)) =
                take(&self.dir, name, OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW)
            {
                let _ = unlinkat(&self.dir, name, AtFlags::empty());
            }
        }
    }

    /// A file named after the claim and `suffix`, made (emptied) and held locked as the
    /// claim is, removed with it: the sweep passes it while it is held, and removes it with
    /// a killed holder's. Open for reading and writing.
    pub fn beside(&mut self, suffix: &'static [u8]) -> Result<rustix::fd::BorrowedFd<'_>, Errno> {
        let mut buf = [0u8; 48];
        let name = self.with(suffix, &mut buf);
        // A sweep may take it between its creation and our lock: then make it again.
        let flags = OFlags::CREATE | OFlags::RDWR | OFlags::TRUNC | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        for _ in 0..8 {
            if let Some(file) = take(&self.dir, name, flags)? {
                return Ok(self.companion.insert((file, suffix)).0.as_fd());
            }
        }
        Err(Errno::AGAIN)
    }

    /// The claim's file name and `suffix` (at most 23 bytes).
    fn with<'b>(&self, suffix: &[u8], buf: &'b mut [u8; 48]) -> &'b CStr {
        let own = self.file_name().to_bytes();
        buf[..own.len()].copy_from_slice(own);
        buf[own.len()..own.len() + suffix.len()].copy_from_slice(suffix);
        CStr::from_bytes_until_nul(&buf[..]).unwrap_or(c".")
    }

    /// The claim's file, open for reading and writing.
    pub fn file(&self) -> rustix::fd::BorrowedFd<'_> {
        self.lock.as_fd()
    }

    fn file_name(&self) -> &CStr {
        let start = self.name.iter().position(|&b| b != 0).unwrap_or(0);
        CStr::from_bytes_until_nul(&self.name[start..]).unwrap_or(c".")
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        // Unlinked while still locked: see `take` for the race this leaves harmless. The
        // companion first: a sweep never finds it without its claim.
        if let Some((_, suffix)) = self.companion {
            let mut buf = [0u8; 48];
            let _ = unlinkat(self.dir.as_fd(), self.with(suffix, &mut buf), AtFlags::empty());
        }
        let _ = unlinkat(self.dir.as_fd(), self.file_name(), AtFlags::empty());
    }
}
