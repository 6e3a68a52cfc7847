//! A `&'static str` packed into ten bytes: a pointer and a 16-bit length, aligned to one
//! byte, so that a struct holding two of them next to a slice and an errno ([`Failure`])
//! is five words, not seven: every `?` that carries a failure up copies it.
//!
//! [`Failure`]: crate::error::Failure

use core::ptr::NonNull;

#[derive(Clone, Copy)]
#[repr(C, packed)]
pub struct Short {
    ptr: NonNull<u8>,
    len: u16,
}

impl Short {
    /// `text`, or as much of its start as 65,535 bytes hold (husk's steps and hints are
    /// one line each).
    pub const fn new(text: &'static str) -> Short {
        let len = if text.len() > u16::MAX as usize { u16::MAX } else { text.len() as u16 };
        // `NonNull::from_ref` on the first byte would panic for "", so go through the slice.
        Short { ptr: NonNull::from_ref(text.as_bytes()).cast(), len }
    }

    pub fn bytes(self) -> &'static [u8] {
        let (ptr, len) = (self.ptr, self.len);
        // SAFETY: `new` is the only maker: `ptr` and `len` are the start and a length within
        // a `&'static str`'s bytes, which live for the whole program and never change.
        unsafe { core::slice::from_raw_parts(ptr.as_ptr(), len as usize) }
    }
}

impl PartialEq for Short {
    fn eq(&self, other: &Short) -> bool {
        self.bytes() == other.bytes()
    }
}

impl Eq for Short {}

impl core::fmt::Debug for Short {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(&self.bytes().escape_ascii(), f)
    }
}
