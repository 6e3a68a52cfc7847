//! CPU affinity: which CPUs a process may run on, and which one it runs on.

use linux_raw_sys::general as k;

use super::syscall::{check, syscall3};

/// A CPU mask as sched_{get,set}affinity(2) take it here: 1024 CPUs, 128 bytes.
pub type Cpus = [u64; 16];

/// The CPUs the calling process may use (sched_getaffinity(2)); None on a machine with
/// more than 1024 (the kernel refuses a mask that short: EINVAL).
/// Raw: rustix's `CpuSet` with sched_getaffinity/sched_setaffinity measured 152 bytes more.
pub fn allowed_cpus() -> Option<Cpus> {
    let mut mask: Cpus = [0; 16];
    // SAFETY: `mask` is 128 writable bytes, the length we pass.
    check(unsafe { syscall3(k::__NR_sched_getaffinity, 0, 128, mask.as_mut_ptr() as usize) }).ok()?;
    Some(mask)
}

/// The CPU the calling process runs on (getcpu(2)).
/// Raw: rustix's sched_getcpu goes through the vDSO, whose lookup (aux vector, ELF
/// symbols) measured 2.7 KB more.
pub fn this_cpu() -> u32 {
    let mut cpu = 0u32;
    // SAFETY: `cpu` is 4 writable bytes; the other two arguments are unused (NULL).
    let _ = check(unsafe { syscall3(k::__NR_getcpu, &mut cpu as *mut u32 as usize, 0, 0) });
    cpu
}

/// sched_setaffinity(2) of process `pid` (0: the caller). Only a speed-up where it is used:
/// a failure changes nothing.
/// Raw: see `allowed_cpus`.
pub fn set_cpus(pid: i32, mask: &Cpus) {
    // SAFETY: `mask` is 128 readable bytes, the length we pass.
    unsafe { syscall3(k::__NR_sched_setaffinity, pid as usize, 128, mask.as_ptr() as usize) };
}
