//! Files and mounts: a whole file mapped read-only, and mount attributes.

use linux_raw_sys::general as k;

use super::syscall::{Result, check, syscall5};

/// mount_setattr(2) on the detached or attached mount `fd` (AT_EMPTY_PATH): sets the
/// MOUNT_ATTR_* bits in `set`, on the whole tree when `recursive`.
/// Raw: rustix 1.1 has no mount_setattr(2).
pub fn mount_setattr(fd: rustix::fd::BorrowedFd, set: u64, recursive: bool) -> Result<()> {
    mount_setattr_in(fd, set, recursive, 0, None)
}

/// mount_setattr(2) of the propagation type `propagation` (MS_SHARED, MS_SLAVE, MS_PRIVATE or
/// MS_UNBINDABLE) on the mount `fd`, on the whole tree when `recursive`.
pub fn mount_propagation(fd: rustix::fd::BorrowedFd, propagation: u64, recursive: bool) -> Result<()> {
    mount_setattr_in(fd, 0, recursive, propagation, None)
}

/// mount_setattr(2) clearing the MOUNT_ATTR_* bits in `clear` on the mount `fd` alone.
pub fn mount_clearattr(fd: rustix::fd::BorrowedFd, clear: u64) -> Result<()> {
    mount_setattr_in(fd, clear << 32, false, 0, None)
}

/// mount_setattr(2) of `set` on the detached tree `fd` and all its mounts, which also
/// become private: a clone of a shared mount is that mount's peer (mount_namespaces(7),
/// "Shared subtrees"), and what is mounted on it must never propagate back to the host.
pub fn mount_setattr_private(fd: rustix::fd::BorrowedFd, set: u64) -> Result<()> {
    mount_setattr_in(fd, set, true, k::MS_PRIVATE as u64, None)
}

/// mount_setattr(2) with MOUNT_ATTR_IDMAP, recursively: the detached tree `fd` shows its
/// files' owners as seen through the user namespace `userns` (kernel 5.12 and later).
pub fn mount_idmap(fd: rustix::fd::BorrowedFd, userns: rustix::fd::BorrowedFd) -> Result<()> {
    mount_setattr_in(fd, k::MOUNT_ATTR_IDMAP as u64, true, 0, Some(userns))
}

fn mount_setattr_in(
    fd: rustix::fd::BorrowedFd,
    set: u64,
    recursive: bool,
    propagation: u64,
    userns: Option<rustix::fd::BorrowedFd>,
) -> Result<()> {
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    let userns_fd = userns.map_or(0, |ns| rustix::fd::AsRawFd::as_raw_fd(&ns) as u64);
    // (`set`'s high half, where no MOUNT_ATTR_* bit is, carries the bits to clear.)
    let attr = MountAttr { attr_set: set & 0xffff_ffff, attr_clr: set >> 32, propagation, userns_fd };
    let mut flags = k::AT_EMPTY_PATH as usize;
    if recursive {
        flags |= k::AT_RECURSIVE as usize;
    }
    let fd = rustix::fd::AsRawFd::as_raw_fd(&fd);
    // SAFETY: the path is an empty C string, `attr` is a valid mount_attr of the size passed.
    check(unsafe {
        syscall5(
            k::__NR_mount_setattr,
            fd as usize,
            c"".as_ptr() as usize,
            flags,
            &attr as *const MountAttr as usize,
            core::mem::size_of::<MountAttr>(),
        )
    })
    .map(|_| ())
}

/// A whole file mapped read-only (mmap(2), MAP_PRIVATE), unmapped when dropped: a file of
/// any size read at once, with no allocator and nothing on the stack.
pub struct Mapped {
    addr: *mut core::ffi::c_void,
    len: usize,
}

impl Mapped {
    /// The file's bytes as they were when mapped (the file is only ever replaced by
    /// rename, never truncated, so the pages stay valid).
    pub fn bytes(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: [addr, addr + len) is a readable mapping we own until drop; nothing writes
        // it (PROT_READ, MAP_PRIVATE).
        unsafe { core::slice::from_raw_parts(self.addr as *const u8, self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        if self.len != 0 {
            // SAFETY: unmapping exactly the mapping this value owns; no borrow of it outlives
            // `self` (bytes() borrows self).
            let _ = unsafe { rustix::mm::munmap(self.addr, self.len) };
        }
    }
}

/// Maps the whole of the regular file `fd` read-only.
pub fn map_file(fd: rustix::fd::BorrowedFd) -> Result<Mapped> {
    use rustix::mm::{MapFlags, ProtFlags, mmap};
    let len = rustix::fs::fstat(fd)?.st_size as usize;
    if len == 0 {
        return Ok(Mapped { addr: core::ptr::null_mut(), len: 0 });
    }
    // SAFETY: a new private read-only mapping chosen by the kernel (addr NULL): it overlaps
    // no memory of ours.
    let addr = unsafe { mmap(core::ptr::null_mut(), len, ProtFlags::READ, MapFlags::PRIVATE, fd, 0)? };
    Ok(Mapped { addr, len })
}

/// The whole of the regular file open at `fd` (at most `max` bytes, else EFBIG), read into
/// memory of its own that is never freed; the slice ends with one NUL byte after the file's.
/// For what must outlive every frame, as COMMAND's environment from an env file does until
/// its execve, and for files someone else may change meanwhile (a copy, unlike a mapping,
/// cannot fault with SIGBUS when the file is truncated under it). Anything but a regular
/// file is refused (EINVAL) rather than read: open it non-blocking, and a FIFO is never
/// waited on.
pub fn read_whole(fd: rustix::fd::BorrowedFd, max: usize) -> Result<&'static mut [u8]> {
    use rustix::fs::{FileType, fstat};
    let st = fstat(fd)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(rustix::io::Errno::INVAL);
    }
    let len = st.st_size as usize;
    if len > max {
        return Err(rustix::io::Errno::FBIG);
    }
    let buf = scratch(len + 1)?;
    // A file that shrank meanwhile leaves zeros; one that grew is read up to its old size.
    let mut at = 0;
    while at < len {
        match rustix::io::read(fd, &mut buf[at..len]) {
            Ok(0) => break,
            Ok(n) => at += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(buf)
}

/// `len` bytes of zeroed memory of its own, never freed: for buffers too big for a stack
/// frame that a process needs until it ends or execs (an unpack's headers and data).
pub fn scratch(len: usize) -> Result<&'static mut [u8]> {
    use rustix::mm::{MapFlags, ProtFlags, mmap_anonymous};
    // SAFETY: a new private anonymous mapping chosen by the kernel (addr NULL), zero-filled,
    // overlapping no memory of ours and never unmapped, so the slice may live for 'static;
    // nothing else refers to it.
    unsafe {
        let addr = mmap_anonymous(
            core::ptr::null_mut(),
            len,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::PRIVATE,
        )?;
        Ok(core::slice::from_raw_parts_mut(addr as *mut u8, len))
    }
}
