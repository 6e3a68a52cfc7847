//! Every runtime wrapper under one name, as husk's modules have always called them
//! (`sys::fork()`, `sys::exit()`…). Each lives in the module of its subsystem:
//! `task` (processes), `signal`, `fd`, `fs`, `namespace`, `net`, `sched`, `time`, `machine`.
//!
//! Each wrapper is safe to call: it passes only memory it owns or borrows for the call.

pub use super::fd::{cloexec_from, close_all_but, close_from, close_range, raw, stdio, write_all};
pub use super::fs::{
    Mapped, map_file, mount_clearattr, mount_idmap, mount_propagation, mount_setattr, mount_setattr_private,
    read_whole, scratch,
};
pub use super::machine::qemu_debug_exit;
pub use super::namespace::{Namespaces, unshare};
pub use super::net::loopback_up;
pub use super::sched::{Cpus, allowed_cpus, set_cpus, this_cpu};
pub use super::signal::{
    Disposition, SigSet, block_all_signals, kill, pidfd_signal, set_signal_mask, signal_disposition,
    wait_signal,
};
pub use super::syscall::Result;
pub use super::task::{
    SockFilter, clear_parent_death_signal, clone, execve, exit, fork, make_non_dumpable, pidfd_alive, prctl,
    seccomp_filter, seccomp_filter_with, set_parent_death_signal, show_command_line, vfork_run,
};
pub use super::time::{monotonic_ns, realtime, realtime_s, sleep_ns};
