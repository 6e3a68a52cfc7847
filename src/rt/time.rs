//! Clocks and sleeping.

use linux_raw_sys::general as k;

use super::syscall::{check, syscall2};

/// clock_gettime(CLOCK_REALTIME), whole seconds since the epoch.
/// Raw: see `monotonic_ns`.
pub fn realtime_s() -> u64 {
    realtime().0
}

/// clock_gettime(CLOCK_REALTIME): seconds and nanoseconds since the epoch.
pub fn realtime() -> (u64, u32) {
    let mut ts = [0i64; 2];
    // SAFETY: ts is a writable 16-byte timespec in this frame.
    let _ = check(unsafe {
        syscall2(k::__NR_clock_gettime, k::CLOCK_REALTIME as usize, ts.as_mut_ptr() as usize)
    });
    (ts[0] as u64, ts[1] as u32)
}

/// clock_gettime(CLOCK_MONOTONIC) in nanoseconds (a real syscall: no vDSO needed).
/// Raw: rustix's clock_gettime (feature `time`) goes through the vDSO, whose lookup (aux
/// vector, ELF symbols) measured 2.6 KB more, for a clock read a few times per run.
pub fn monotonic_ns() -> u64 {
    let mut ts = [0i64; 2];
    // SAFETY: ts is a writable 16-byte timespec in this frame.
    let _ = check(unsafe {
        syscall2(k::__NR_clock_gettime, k::CLOCK_MONOTONIC as usize, ts.as_mut_ptr() as usize)
    });
    ts[0] as u64 * 1_000_000_000 + ts[1] as u64
}

/// nanosleep(2) for `ns` nanoseconds (cut short by nothing: husk blocks all signals).
pub fn sleep_ns(ns: u64) {
    let ts = rustix::thread::Timespec {
        tv_sec: (ns / 1_000_000_000) as i64,
        tv_nsec: (ns % 1_000_000_000) as i64,
    };
    let _ = rustix::thread::nanosleep(&ts);
}
