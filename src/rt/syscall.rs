//! The one way into the kernel for what rustix does not cover: the x86_64 `syscall`
//! instruction with up to six arguments, and the kernel's return convention.

use core::arch::asm;
use rustix::io::Errno;

/// A result carrying the kernel's errno on failure.
pub type Result<T> = core::result::Result<T, Errno>;

/// Turns the kernel's raw return value (-4095..-1 is an errno) into a Result.
pub(super) fn check(ret: isize) -> Result<usize> {
    if (-4095..0).contains(&ret) { Err(Errno::from_raw_os_error(-ret as i32)) } else { Ok(ret as usize) }
}

// SAFETY (for all `syscallN`): the x86_64 Linux syscall ABI: number in rax, arguments in
// rdi, rsi, rdx, r10, r8, r9; rcx and r11 are clobbered by the `syscall` instruction.
// Callers pass pointers only to memory that is valid for what that syscall reads or writes.
pub(super) unsafe fn syscall1(nr: u32, a: usize) -> isize {
    let ret;
    // SAFETY: see above.
    unsafe {
        asm!("syscall", inlateout("rax") nr as isize => ret, in("rdi") a,
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

pub(super) unsafe fn syscall2(nr: u32, a: usize, b: usize) -> isize {
    let ret;
    // SAFETY: see syscall1.
    unsafe {
        asm!("syscall", inlateout("rax") nr as isize => ret, in("rdi") a, in("rsi") b,
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

pub(super) unsafe fn syscall3(nr: u32, a: usize, b: usize, c: usize) -> isize {
    let ret;
    // SAFETY: see syscall1.
    unsafe {
        asm!("syscall", inlateout("rax") nr as isize => ret, in("rdi") a, in("rsi") b,
             in("rdx") c, lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

pub(super) unsafe fn syscall4(nr: u32, a: usize, b: usize, c: usize, d: usize) -> isize {
    let ret;
    // SAFETY: see syscall1.
    unsafe {
        asm!("syscall", inlateout("rax") nr as isize => ret, in("rdi") a, in("rsi") b,
             in("rdx") c, in("r10") d, lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

pub(super) unsafe fn syscall5(nr: u32, a: usize, b: usize, c: usize, d: usize, e: usize) -> isize {
    let ret;
    // SAFETY: see syscall1.
    unsafe {
        asm!("syscall", inlateout("rax") nr as isize => ret, in("rdi") a, in("rsi") b,
             in("rdx") c, in("r10") d, in("r8") e, lateout("rcx") _, lateout("r11") _,
             options(nostack));
    }
    ret
}
