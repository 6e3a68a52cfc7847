//! Signals: the mask, dispositions, waiting for one, and sending one.

use linux_raw_sys::general as k;
use rustix::io::Errno;
use rustix::process::Signal;

use super::syscall::{Result, check, syscall2, syscall4};

/// A set of signals as the kernel sees it: bit `n - 1` is signal `n` (1..=64).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(transparent)]
pub struct SigSet(pub u64);

impl SigSet {
    pub const EMPTY: SigSet = SigSet(0);
    pub const FULL: SigSet = SigSet(!0);
}

/// rt_sigprocmask(2): blocks every signal and returns the mask that was in force before.
/// Raw: rustix has rt_sigprocmask only in its unstable `runtime` module.
pub fn block_all_signals() -> SigSet {
    let full = SigSet::FULL;
    let mut old = SigSet::EMPTY;
    // SAFETY: both pointers refer to 8-byte sigsets owned by this frame; size 8 matches.
    let r = unsafe {
        syscall4(
            k::__NR_rt_sigprocmask,
            k::SIG_SETMASK as usize,
            &full as *const SigSet as usize,
            &mut old as *mut SigSet as usize,
            8,
        )
    };
    // Cannot fail with valid arguments (SIGKILL/SIGSTOP are silently left out).
    let _ = check(r);
    old
}

/// rt_sigprocmask(2): sets the signal mask to exactly `set`.
/// Raw: rustix has rt_sigprocmask only in its unstable `runtime` module.
pub fn set_signal_mask(set: SigSet) {
    // SAFETY: the pointer refers to an 8-byte sigset owned by this frame.
    let r = unsafe {
        syscall4(k::__NR_rt_sigprocmask, k::SIG_SETMASK as usize, &set as *const SigSet as usize, 0, 8)
    };
    let _ = check(r);
}

/// The kernel's `struct sigaction` for rt_sigaction(2) on x86_64.
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

/// The two dispositions husk ever sets: default and ignore (no handlers are installed).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Disposition {
    Default,
    Ignore,
    /// A handler address: only ever observed, never installed.
    Handler,
}

/// rt_sigaction(2): sets `sig` to `to` (when given) and returns the previous disposition.
/// Raw: rustix has rt_sigaction only in its unstable `runtime` module.
pub fn signal_disposition(sig: i32, to: Option<Disposition>) -> Result<Disposition> {
    let new = KernelSigaction {
        handler: match to {
            Some(Disposition::Ignore) => 1, // SIG_IGN
            _ => 0,                         // SIG_DFL
        },
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    let mut old = KernelSigaction { handler: 0, flags: 0, restorer: 0, mask: 0 };
    let new_ptr = if to.is_some() { &new as *const KernelSigaction as usize } else { 0 };
    // SAFETY: both structs are owned by this frame and have the kernel's layout; sigsetsize 8.
    check(unsafe {
        syscall4(k::__NR_rt_sigaction, sig as usize, new_ptr, &mut old as *mut KernelSigaction as usize, 8)
    })?;
    Ok(match old.handler {
        0 => Disposition::Default,
        1 => Disposition::Ignore,
        _ => Disposition::Handler,
    })
}

/// rt_sigtimedwait(2): waits for one signal of `set` (which must be blocked) and returns its
/// number. `timeout_ns: None` waits forever: an idle init must cost no wakeups. Returns
/// `Err(EAGAIN)` when the timeout passes and `Err(EINTR)` when interrupted.
/// Raw: rustix has rt_sigtimedwait only in its unstable `runtime` module.
pub fn wait_signal(set: SigSet, timeout_ns: Option<u64>) -> Result<i32> {
    let ts;
    let ts_ptr = match timeout_ns {
        Some(ns) => {
            ts = [(ns / 1_000_000_000) as i64, (ns % 1_000_000_000) as i64];
            &ts as *const [i64; 2] as usize
        }
        None => 0,
    };
    // siginfo_t is 128 bytes; we only need the return value (the signal number).
    let mut info = [0u64; 16];
    // SAFETY: set and ts live in this frame; info is a 128-byte writable buffer.
    let r = unsafe {
        syscall4(
            k::__NR_rt_sigtimedwait,
            &set as *const SigSet as usize,
            info.as_mut_ptr() as usize,
            ts_ptr,
            8,
        )
    };
    check(r).map(|s| s as i32)
}

/// A signal number (1..=64, real-time ones included) as rustix's `Signal`.
pub(super) fn signal(sig: i32) -> Result<Signal> {
    match sig {
        // SAFETY: 1..=64 are Linux's signals. `from_raw_unchecked` asks only that a number a
        // libc reserves for itself (glibc's SIGRTMIN-2..SIGRTMIN) not be sent by that libc's
        // process: husk has no libc, so no number is reserved here.
        1..=64 => Ok(unsafe { Signal::from_raw_unchecked(sig) }),
        _ => Err(Errno::INVAL),
    }
}

/// kill(2) with a raw signal number (real-time signals included). `pid` < 0 addresses a
/// process group, -1 every process we may signal.
/// Raw: rustix splits kill(2) by the sign of `pid` into three functions over a positive
/// `Pid`; callers here pass the kernel's encoding, and dispatching on it cost 56 bytes.
pub fn kill(pid: i32, sig: i32) -> Result<()> {
    // SAFETY: plain integer arguments.
    check(unsafe { syscall2(k::__NR_kill, pid as isize as usize, sig as usize) }).map(|_| ())
}

/// pidfd_send_signal(2): signals the process behind `pidfd`, which cannot be a recycled pid.
pub fn pidfd_signal(pidfd: rustix::fd::BorrowedFd, sig: i32) -> Result<()> {
    rustix::process::pidfd_send_signal(pidfd, signal(sig)?)
}
