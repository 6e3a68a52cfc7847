//! What the kernel hands a new process: argv, envp and the aux vector.

use core::ffi::CStr;

use super::cstr::CStrArray;
use super::signal::{self, SigSet};

/// The process's arguments and environment, read once from the initial stack.
pub struct Process {
    argc: usize,
    argv: *const *const u8,
    envp: *const *const u8,
    caller_mask: SigSet,
}

// SAFETY: the initial stack is never freed or written by husk; the pointers stay valid and
// immutable for the whole life of the process.
unsafe impl Sync for Process {}

impl Process {
    /// Blocks every signal, then reads argc/argv/envp from the initial stack.
    ///
    /// Blocking comes first of all: from here on, a signal sent to husk stays pending until
    /// husk waits for it, even as a namespace's PID 1, where the kernel would drop an
    /// unblocked signal that has no handler (signal(7); `sig_ignored()` in kernel/signal.c).
    ///
    /// # Safety
    /// `stack` must be the stack pointer the kernel gave `_start`, and this must be called once.
    pub unsafe fn from_initial_stack(stack: *const usize) -> &'static Process {
        static mut PROCESS: Process =
            Process { argc: 0, argv: core::ptr::null(), envp: core::ptr::null(), caller_mask: SigSet::EMPTY };
        let caller_mask = signal::block_all_signals();
        // SAFETY: the caller guarantees the System V initial-stack layout: argc, then argc
        // argv pointers and a NULL, then the environment pointers and a NULL, then auxv.
        // PROCESS is written exactly once, before any reader exists.
        unsafe {
            let argc = *stack;
            let argv = stack.add(1) as *const *const u8;
            let envp = argv.add(argc + 1);
            let p = &raw mut PROCESS;
            (*p).argc = argc;
            (*p).argv = argv;
            (*p).envp = envp;
            (*p).caller_mask = caller_mask;
            &*p
        }
    }

    /// The signal mask husk was started with (husk itself runs with all signals blocked).
    pub fn caller_mask(&self) -> SigSet {
        self.caller_mask
    }

    /// Number of arguments, argv[0] included.
    pub fn argc(&self) -> usize {
        self.argc
    }

    /// Argument `i` (must be < argc).
    pub fn arg(&self, i: usize) -> &'static CStr {
        assert!(i < self.argc);
        // SAFETY: i < argc, and every argv[i] below argc is a valid NUL-terminated string.
        unsafe { CStr::from_ptr(*self.argv.add(i) as *const core::ffi::c_char) }
    }

    /// All arguments as byte strings, argv[0] included.
    pub fn args(&self) -> impl Iterator<Item = &'static [u8]> + '_ {
        (0..self.argc).map(|i| self.arg(i).to_bytes())
    }

    /// The NULL-terminated argv tail starting at `i`, ready for execve (no copy needed).
    pub fn argv_from(&self, i: usize) -> CStrArray<'static> {
        assert!(i <= self.argc);
        // SAFETY: i <= argc keeps the pointer inside the argv array, whose entries from i up
        // are C strings ended by the NULL at argv[argc]; the initial stack is never freed or
        // written (see `unsafe impl Sync` above).
        unsafe { CStrArray::from_raw(self.argv.add(i).cast()) }
    }

    /// The NULL-terminated environment as handed to us.
    pub fn envp(&self) -> CStrArray<'static> {
        // SAFETY: envp is the kernel's NULL-terminated environment array on the initial
        // stack, never freed or written.
        unsafe { CStrArray::from_raw(self.envp.cast()) }
    }

    /// The environment entries as byte strings.
    pub fn env(&self) -> impl Iterator<Item = &'static [u8]> + '_ {
        self.envp().iter().map(CStr::to_bytes)
    }

    /// The value of environment variable `name`, if set.
    pub fn getenv(&self, name: &[u8]) -> Option<&'static [u8]> {
        self.env().find_map(|kv| {
            let rest = kv.strip_prefix(name)?;
            rest.strip_prefix(b"=")
        })
    }
}
