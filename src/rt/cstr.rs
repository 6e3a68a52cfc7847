//! C strings: checking one, and the NULL-terminated arrays of them that execve(2) takes as
//! argv and envp.

use core::ffi::{CStr, c_char};
use core::marker::PhantomData;
use core::mem::MaybeUninit;

/// `bytes` as a C string when its one NUL byte is the last (core's checked constructor
/// brings a vectorised memchr into the binary; a plain loop is enough for paths).
pub fn c_str(bytes: &[u8]) -> Option<&CStr> {
    match bytes.split_last() {
        Some((0, body)) if body.iter().all(|&b| b != 0) => {
            // SAFETY: checked just above: the slice ends with its only NUL byte.
            Some(unsafe { CStr::from_bytes_with_nul_unchecked(bytes) })
        }
        _ => None,
    }
}

/// `parts` one after another in `buf`, which may be uninitialised, then a NUL: the bytes
/// written (None: they do not fit). For `CPath`, whose PATH_MAX buffer would otherwise be
/// zeroed at each of its thirty-odd uses.
pub fn join_nul<'b>(buf: &'b mut [MaybeUninit<u8>], parts: &[&[u8]]) -> Option<&'b [u8]> {
    let mut len = 0;
    for part in parts {
        let end = len + part.len();
        buf.get_mut(len..end)?.write_copy_of_slice(part);
        len = end;
    }
    buf.get_mut(len)?.write(0);
    // SAFETY: `buf[..=len]` was all written just above, and MaybeUninit<u8> is laid out as u8.
    Some(unsafe { &*(&buf[..=len] as *const [MaybeUninit<u8>] as *const [u8]) })
}

/// A NULL-terminated array of pointers to C strings, as execve(2) takes argv and envp: the
/// pointer itself, nothing more, valid for `'a` (the array and every string in it live at
/// least that long and do not change). Only two things make one: the arguments and
/// environment the kernel laid out for husk (`Process::argv_from`, `Process::envp`), and
/// `CStrSlots::fill`, which terminates what it fills.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(transparent)]
pub struct CStrArray<'a> {
    first: *const *const c_char,
    strings: PhantomData<&'a [&'a CStr]>,
}

impl<'a> CStrArray<'a> {
    /// # Safety
    /// `first` points at an array of pointers to NUL-terminated strings ended by a NULL
    /// pointer; the array and the strings stay valid and unchanged for `'a`.
    pub unsafe fn from_raw(first: *const *const c_char) -> CStrArray<'a> {
        CStrArray { first, strings: PhantomData }
    }

    /// The array as the kernel takes it.
    pub(super) fn as_ptr(self) -> *const *const c_char {
        self.first
    }

    /// The strings, in order, up to the NULL.
    pub fn iter(self) -> CStrs<'a> {
        CStrs(self)
    }
}

/// The strings of a `CStrArray`.
pub struct CStrs<'a>(CStrArray<'a>);

impl<'a> Iterator for CStrs<'a> {
    type Item = &'a CStr;
    fn next(&mut self) -> Option<&'a CStr> {
        // SAFETY: CStrArray's invariant: every pointer before the terminating NULL is a valid
        // C string for 'a, and we never step past the NULL.
        unsafe {
            let p = *self.0.first;
            if p.is_null() {
                return None;
            }
            self.0.first = self.0.first.add(1);
            Some(CStr::from_ptr(p))
        }
    }
}

/// Room for a NULL-terminated array of up to `N - 1` C strings. It holds no strings itself,
/// so it can live anywhere (a struct field, a frame) and be filled, through `writer`, with
/// strings that live beside it.
pub struct CStrSlots<const N: usize>([*const c_char; N]);

impl<const N: usize> CStrSlots<N> {
    pub const fn new() -> CStrSlots<N> {
        const { assert!(N > 0, "a CStrSlots needs room for the NULL") };
        CStrSlots([core::ptr::null(); N])
    }

    /// Starts filling the slots from the first, with strings that live for `'s`.
    pub fn writer<'a, 's: 'a>(&'a mut self) -> CStrWriter<'a, 's> {
        // Slot 0 exists (N > 0, checked in `new`): the array starts out empty and terminated.
        self.0[0] = core::ptr::null();
        CStrWriter { slots: &mut self.0, n: 0, strings: PhantomData }
    }
}

impl<const N: usize> Default for CStrSlots<N> {
    fn default() -> CStrSlots<N> {
        CStrSlots::new()
    }
}

/// Fills a `CStrSlots` in order (not generic over its size: one copy of the code for all).
pub struct CStrWriter<'a, 's> {
    slots: &'a mut [*const c_char],
    n: usize,
    strings: PhantomData<&'s CStr>,
}

impl<'a, 's: 'a> CStrWriter<'a, 's> {
    /// Appends `s`. Returns false, changing nothing, when only the NULL's slot is left:
    /// size the slots for what goes in.
    pub fn push(&mut self, s: &'s CStr) -> bool {
        // The NULL moves one slot on with each string, so the array is always terminated.
        let Some([slot, next, ..]) = self.slots.get_mut(self.n..) else {
            return false;
        };
        (*slot, *next) = (s.as_ptr(), core::ptr::null());
        self.n += 1;
        true
    }

    /// The array: it borrows the slots (so nothing can rewrite them while it lives) and
    /// lives no longer than the strings.
    pub fn finish(self) -> CStrArray<'a> {
        // SAFETY: slots 0..n point at strings that live for 's, longer than 'a, and slot n is
        // the NULL (`writer` and `push` keep it so); the slots are borrowed mutably for 'a,
        // so nothing rewrites them meanwhile.
        unsafe { CStrArray::from_raw(self.slots.as_ptr()) }
    }
}

/// A NULL-terminated array of up to `count` strings in memory of its own (`scratch`, never
/// freed): for lists whose length only the input knows (an OCI config's args and env).
pub fn c_str_array(
    count: usize,
    strings: impl Iterator<Item = &'static CStr>,
) -> rustix::io::Result<CStrArray<'static>> {
    let slots = super::fs::scratch((count + 1) * core::mem::size_of::<*const c_char>())?;
    let first = slots.as_mut_ptr() as *mut *const c_char;
    // SAFETY: `slots` is a fresh page-aligned mapping of its own with room for `count`
    // pointers and the NULL (zero-filled: every slot not written stays NULL); each pointer
    // written is a C string that lives for 'static, and nothing else refers to the mapping,
    // so the array stays as written for 'static.
    unsafe {
        for (i, s) in strings.take(count).enumerate() {
            first.add(i).write(s.as_ptr());
        }
        Ok(CStrArray::from_raw(first))
    }
}

/// A value in the program's zero-filled data (bss), handed out once per process as
/// `&'static mut`: room for what would otherwise be a big stack array, costing no resident
/// memory until its pages are written (a stack frame's pages are all touched on entry by the
/// stack probes). A forked child has its own copy, in the state its parent left.
pub struct Reserved<T> {
    taken: core::sync::atomic::AtomicBool,
    value: core::cell::UnsafeCell<T>,
}

// SAFETY: the value is reached only through `take`, which hands out at most one reference
// per process (the atomic swap), so no two threads or callers ever share it.
unsafe impl<T> Sync for Reserved<T> {}

impl<T> Reserved<T> {
    pub const fn new(value: T) -> Reserved<T> {
        Reserved {
            taken: core::sync::atomic::AtomicBool::new(false),
            value: core::cell::UnsafeCell::new(value),
        }
    }

    /// The value, the first time; None after.
    // Interior mutability through UnsafeCell, handed out once: that is the point.
    #[allow(clippy::mut_from_ref)]
    pub fn take(&'static self) -> Option<&'static mut T> {
        if self.taken.swap(true, core::sync::atomic::Ordering::Relaxed) {
            return None;
        }
        // SAFETY: the swap above returned false exactly once in this process: this is the
        // only reference ever made to the value, and it lives as long as the static.
        Some(unsafe { &mut *self.value.get() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(array: CStrArray<'_>) -> Vec<&[u8]> {
        array.iter().map(CStr::to_bytes).collect()
    }

    #[test]
    fn slots_fill_in_order_and_stay_terminated() {
        let mut slots = CStrSlots::<3>::new();
        let mut w = slots.writer();
        assert!(w.push(c"a=1"));
        assert!(w.push(c"b=2"));
        // Only the NULL's slot is left.
        assert!(!w.push(c"c=3"));
        let array = w.finish();
        assert_eq!(strings(array), [&b"a=1"[..], b"b=2"]);
        // SAFETY: the array is NULL-terminated right after its two strings, in `slots`.
        assert!(unsafe { *array.as_ptr().add(2) }.is_null());
    }

    #[test]
    fn a_writer_starts_over() {
        let mut slots = CStrSlots::<4>::new();
        let mut w = slots.writer();
        w.push(c"x");
        w.push(c"y");
        let _ = w.finish();
        let mut w = slots.writer();
        w.push(c"z");
        assert_eq!(strings(w.finish()), [b"z"]);
        assert_eq!(strings(slots.writer().finish()), [b""; 0]);
    }

    #[test]
    fn c_strings_end_with_their_only_nul() {
        assert_eq!(c_str(b"/a\0").map(CStr::to_bytes), Some(&b"/a"[..]));
        assert_eq!(c_str(b"/a"), None);
        assert_eq!(c_str(b"/\0a\0"), None);
        assert_eq!(c_str(b""), None);
    }
}
