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

    /// The memory map execve(2) recorded for this process, in the order of prctl_mm_map's
    /// fields from start_code to env_end (what /proc/PID/stat fields 26-28 and 45-51 show),
    /// worked out from what is at hand, as binfmt_elf set it: the code and data bounds from
    /// the program headers, the stack from where argc lay, the argument and environment
    /// areas from their strings (laid out one after the other), start_brk and brk from the
    /// break, which husk never moves. Reading /proc/self/stat
    /// instead costs a new process ~25 µs here. None without arguments.
    pub fn memory_map(&self) -> Option<[u64; 11]> {
        let end_of = |s: &CStr| s.as_ptr() as u64 + s.to_bytes_with_nul().len() as u64;
        let last = self.argc.checked_sub(1)?;
        let (arg_start, arg_end) = (self.arg(0).as_ptr() as u64, end_of(self.arg(last)));
        let env_end = self.envp().iter().last().map_or(arg_end, end_of);
        let [start_code, end_code, start_data, end_data] = code_and_data()?;
        // SAFETY: brk(0) changes nothing and returns the current break.
        let start_brk = unsafe { super::syscall::syscall1(linux_raw_sys::general::__NR_brk, 0) } as u64;
        // argc lay one word below argv[] (_start's stack pointer): binfmt_elf's start_stack.
        let start_stack = self.argv as u64 - 8;
        Some([
            start_code,
            end_code,
            start_data,
            end_data,
            start_brk,
            start_brk,
            start_stack,
            arg_start,
            arg_end,
            arg_end,
            env_end,
        ])
    }

    /// The value of environment variable `name`, if set.
    pub fn getenv(&self, name: &[u8]) -> Option<&'static [u8]> {
        self.env().find_map(|kv| {
            let rest = kv.strip_prefix(name)?;
            rest.strip_prefix(b"=")
        })
    }
}

const PT_LOAD: u32 = 1;
const PF_X: u32 = 1;

/// start_code, end_code, start_data and end_data as binfmt_elf sets them from this
/// executable's program headers: the lowest and highest file-backed bounds of its
/// executable loads, the highest start and end of any load; plus the load bias (0 for husk,
/// which is not position-independent). The headers are read where the loader mapped them
/// with the first segment (`__ehdr_start`, defined by the linker when they are in a loaded
/// segment, as husk's script puts them).
pub(super) fn code_and_data() -> Option<[u64; 4]> {
    unsafe extern "C" {
        static __ehdr_start: u8;
    }
    let ehdr = core::ptr::addr_of!(__ehdr_start);
    let read = |at: usize, len: usize| -> u64 {
        let mut word = [0u8; 8];
        // SAFETY: callers read within the ELF header and the program header table, which
        // the loader mapped (readable, never written) with the first segment.
        unsafe { core::ptr::copy_nonoverlapping(ehdr.add(at), word.as_mut_ptr(), len) };
        u64::from_le_bytes(word)
    };
    let (phoff, phentsize, phnum) = (read(32, 8) as usize, read(54, 2) as usize, read(56, 2) as usize);
    let (mut code, mut data, mut first) = ([u64::MAX, 0], [0, 0], None);
    for at in (0..phnum).map(|i| phoff + i * phentsize) {
        if read(at, 4) as u32 != PT_LOAD {
            continue;
        }
        let (x, offset, vaddr) = (read(at + 4, 4) as u32 & PF_X != 0, read(at + 8, 8), read(at + 16, 8));
        let end = vaddr + read(at + 32, 8);
        if x {
            code = [code[0].min(vaddr), code[1].max(end)];
        }
        data = [data[0].max(vaddr), data[1].max(end)];
        if offset == 0 {
            first = first.or(Some(vaddr));
        }
    }
    let bias = (ehdr as u64).checked_sub(first?)?;
    Some([code[0] + bias, code[1] + bias, data[0] + bias, data[1] + bias])
}

#[cfg(test)]
mod tests {
    /// Checked against what the kernel says of this test binary (position-independent,
    /// unlike husk: the bias is exercised too).
    #[test]
    fn code_and_data_as_the_kernel_has_them() {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let fields: Vec<u64> =
            stat[stat.rfind(')').unwrap() + 2..].split(' ').map(|f| f.trim().parse().unwrap_or(0)).collect();
        let field = |n: usize| fields[n - 3];
        assert_eq!(super::code_and_data(), Some([field(26), field(27), field(45), field(46)]));
    }
}
