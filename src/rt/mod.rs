//! The runtime: process entry, the memory primitives the compiler expects, and the raw
//! syscalls rustix does not offer. Every `unsafe` block and every line of `asm!` in husk lives
//! under this module; the rest of the crate calls the safe functions it exports.
//!
//! Layout: `syscall` (the raw `syscall` instruction and errno), `mem` (memcpy & co.),
//! `process` (what the kernel hands `_start`), `cstr` (C strings and the NULL-terminated
//! arrays of them execve takes), then one module per subsystem: `task`,
//! `signal`, `fd`, `fs`, `namespace`, `net`, `sched`, `time`, `machine`. `sys` re-exports
//! them all under the one name the rest of husk uses.

// Everything below speaks x86_64 Linux only: the `syscall` instruction and its register
// convention, x86_64 system call numbers and struct layouts, the initial stack `_start`
// reads, `rep movsb` in mem*, and the `out` instruction for QEMU's exit port.
#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
compile_error!(
    "husk's runtime (src/rt) supports only x86_64 Linux: it makes system calls with x86_64's \
     `syscall` instruction, numbers and struct layouts, and its `_start` and mem* are x86_64 assembly"
);

pub mod cpu;
mod cstr;
pub mod fd;
pub mod fs;
pub mod machine;
#[cfg(not(test))]
mod mem;
pub mod namespace;
pub mod net;
mod process;
pub mod sched;
mod short;
pub mod signal;
pub mod sys;
mod syscall;
pub mod task;
pub mod time;

pub use cstr::{CStrArray, CStrSlots, CStrWriter, CStrs, Reserved, c_str, c_str_array, join_nul};
pub use process::Process;
pub use short::Short;

/// Defines the ELF entry point `_start` in the binary and makes it call `$main(&Process) -> !`.
///
/// The assembly lives here, in the runtime layer, but is expanded inside the binary crate so
/// the linker always sees it (an entry point in a library archive member could be dropped).
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        // The kernel starts us with `rsp` pointing at argc, argv[], NULL, envp[], NULL, auxv.
        // Clear the frame pointer (the ABI's "outermost frame" marker), pass the stack pointer
        // as the first argument, align the stack to 16 bytes as the C ABI requires at a call,
        // and *call* (not jump) so the callee sees a normal return-address slot.
        core::arch::global_asm!(
            ".globl _start",
            ".type _start,@function",
            "_start:",
            "xor ebp, ebp",
            "mov rdi, rsp",
            "and rsp, -16",
            "call {entry}",
            "ud2",
            entry = sym husk_entry,
        );

        extern "C" fn husk_entry(stack: *const usize) -> ! {
            // SAFETY: `stack` is the initial process stack laid out by the kernel's ELF loader.
            let process = unsafe { $crate::rt::Process::from_initial_stack(stack) };
            $main(process)
        }
    };
}
