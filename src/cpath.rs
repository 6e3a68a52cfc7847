//! Paths from argv (byte slices) turned into NUL-terminated strings for system calls,
//! without an allocator: a PATH_MAX buffer on the stack.

use core::ffi::CStr;
use core::mem::MaybeUninit;

use rustix::io::Errno;

/// PATH_MAX: the longest path the kernel accepts, NUL included.
pub const PATH_MAX: usize = 4096;

/// A reusable buffer holding one C path at a time (left uninitialised: only what `of`
/// writes is ever read).
pub struct CPath {
    buf: [MaybeUninit<u8>; PATH_MAX],
}

impl CPath {
    pub fn new() -> CPath {
        CPath { buf: [MaybeUninit::uninit(); PATH_MAX] }
    }

    /// The concatenation of `parts` as a C string: ENAMETOOLONG when it does not fit, else
    /// EINVAL when a part holds a NUL byte.
    pub fn of(&mut self, parts: &[&[u8]]) -> Result<&CStr, Errno> {
        let bytes = crate::rt::join_nul(&mut self.buf, parts).ok_or(Errno::NAMETOOLONG)?;
        crate::rt::c_str(bytes).ok_or(Errno::INVAL)
    }
}

impl Default for CPath {
    fn default() -> Self {
        CPath::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_and_checks() {
        let mut p = CPath::new();
        assert_eq!(p.of(&[b"/a", b"/b"]).unwrap().to_bytes(), b"/a/b");
        assert_eq!(p.of(&[b""]).unwrap().to_bytes(), b"");
        assert_eq!(p.of(&[b"a\0b"]), Err(Errno::INVAL));
        assert_eq!(p.of(&[&[b'x'; PATH_MAX]]), Err(Errno::NAMETOOLONG));
        assert_eq!(p.of(&[&[b'x'; PATH_MAX - 1]]).unwrap().to_bytes().len(), PATH_MAX - 1);
    }
}
