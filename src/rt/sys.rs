//! Raw system calls that rustix 1.1 does not offer publicly (or offers only with types that
//! cannot express what an init needs, such as real-time signal numbers).
//!
//! Each wrapper is safe to call: it passes only memory it owns or borrows for the call.

use core::arch::asm;
use linux_raw_sys::general as k;
use rustix::io::Errno;

/// A result carrying the kernel's errno on failure.
pub type Result<T> = core::result::Result<T, Errno>;

/// Turns the kernel's raw return value (-4095..-1 is an errno) into a Result.
fn check(ret: isize) -> Result<usize> {
    if (-4095..0).contains(&ret) { Err(Errno::from_raw_os_error(-ret as i32)) } else { Ok(ret as usize) }
}

// SAFETY (for all `syscallN`): the x86_64 Linux syscall ABI: number in rax, arguments in
// rdi, rsi, rdx, r10, r8, r9; rcx and r11 are clobbered by the `syscall` instruction.
// Callers pass pointers only to memory that is valid for what that syscall reads or writes.
unsafe fn syscall1(nr: u32, a: usize) -> isize {
    let ret;
    // SAFETY: see above.
    unsafe {
        asm!("syscall", inlateout("rax") nr as isize => ret, in("rdi") a,
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

unsafe fn syscall2(nr: u32, a: usize, b: usize) -> isize {
    let ret;
    // SAFETY: see syscall1.
    unsafe {
        asm!("syscall", inlateout("rax") nr as isize => ret, in("rdi") a, in("rsi") b,
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

unsafe fn syscall3(nr: u32, a: usize, b: usize, c: usize) -> isize {
    let ret;
    // SAFETY: see syscall1.
    unsafe {
        asm!("syscall", inlateout("rax") nr as isize => ret, in("rdi") a, in("rsi") b,
             in("rdx") c, lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

unsafe fn syscall4(nr: u32, a: usize, b: usize, c: usize, d: usize) -> isize {
    let ret;
    // SAFETY: see syscall1.
    unsafe {
        asm!("syscall", inlateout("rax") nr as isize => ret, in("rdi") a, in("rsi") b,
             in("rdx") c, in("r10") d, lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

unsafe fn syscall5(nr: u32, a: usize, b: usize, c: usize, d: usize, e: usize) -> isize {
    let ret;
    // SAFETY: see syscall1.
    unsafe {
        asm!("syscall", inlateout("rax") nr as isize => ret, in("rdi") a, in("rsi") b,
             in("rdx") c, in("r10") d, in("r8") e, lateout("rcx") _, lateout("r11") _,
             options(nostack));
    }
    ret
}

unsafe fn syscall6(nr: u32, a: usize, b: usize, c: usize, d: usize, e: usize, f: usize) -> isize {
    let ret;
    // SAFETY: see syscall1.
    unsafe {
        asm!("syscall", inlateout("rax") nr as isize => ret, in("rdi") a, in("rsi") b,
             in("rdx") c, in("r10") d, in("r8") e, in("r9") f, lateout("rcx") _, lateout("r11") _,
             options(nostack));
    }
    ret
}

/// Ends the whole process (all threads) with `code`. Never returns.
pub fn exit(code: u8) -> ! {
    // SAFETY: exit_group takes a plain integer and does not return.
    unsafe {
        syscall1(k::__NR_exit_group, code as usize);
        core::hint::unreachable_unchecked()
    }
}

/// Writes all of `buf` to file descriptor `fd`, retrying on short writes and EINTR.
/// Errors are dropped: there is nowhere left to report a failed diagnostic write.
pub fn write_all(fd: i32, mut buf: &[u8]) {
    while !buf.is_empty() {
        // SAFETY: buf is a valid readable slice for its length.
        let r = unsafe { syscall3(k::__NR_write, fd as usize, buf.as_ptr() as usize, buf.len()) };
        match check(r) {
            Ok(0) => return,
            Ok(n) => buf = &buf[n.min(buf.len())..],
            Err(Errno::INTR) => {}
            Err(_) => return,
        }
    }
}

/// A set of signals as the kernel sees it: bit `n - 1` is signal `n` (1..=64).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(transparent)]
pub struct SigSet(pub u64);

impl SigSet {
    pub const EMPTY: SigSet = SigSet(0);
    pub const FULL: SigSet = SigSet(!0);
}

/// rt_sigprocmask(2): blocks every signal and returns the mask that was in force before.
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

/// kill(2) with a raw signal number (real-time signals included). `pid` < 0 addresses a
/// process group, -1 every process we may signal.
pub fn kill(pid: i32, sig: i32) -> Result<()> {
    // SAFETY: plain integer arguments.
    check(unsafe { syscall2(k::__NR_kill, pid as isize as usize, sig as usize) }).map(|_| ())
}

/// Creates a child process like fork(2), through clone3(2) with no sharing: the child gets a
/// copy of the address space and continues on the same (copied) stack, so like fork it
/// "returns twice". Returns 0 in the child and the child's pid in the parent.
pub fn fork() -> Result<i32> {
    clone(0, None)
}

/// The stack a `vfork_run` child runs on: enough for becoming COMMAND (the largest frame is
/// a PATH_MAX buffer for the PATH search).
const VFORK_STACK_SIZE: usize = 32 * 1024;

/// Page-aligned, as madvise(2) needs (and 16-byte aligned, as the ABI needs of a stack).
#[repr(C, align(4096))]
struct Stack([core::mem::MaybeUninit<u8>; VFORK_STACK_SIZE]);

/// In .bss rather than in a frame: a frame this big is probed page by page on entry, which
/// would make all of it resident in the parent.
static mut VFORK_STACK: Stack = Stack([core::mem::MaybeUninit::uninit(); VFORK_STACK_SIZE]);

/// vfork(2), made safe to use from Rust: runs `child` in a new process that shares our
/// memory (CLONE_VM, so no page tables are copied and no page is write-protected) on a stack
/// of its own, while this process waits (CLONE_VFORK) until the child has called execve or
/// exited. `child` must end in one of the two (or the child exits 127) and may change
/// nothing of ours. Returns the child's pid.
pub fn vfork_run(child: &mut dyn FnMut()) -> Result<i32> {
    let stack = core::ptr::addr_of_mut!(VFORK_STACK) as *mut u8;
    let mut child = child;
    extern "C" fn start(child: *mut &mut dyn FnMut()) -> ! {
        // SAFETY: `child` points at the caller's `child` below, alive while the caller is
        // suspended, which it is until this process execs or exits (CLONE_VFORK).
        unsafe { (*child)() };
        // `child` ends in execve or exit; should it return, the child ends here.
        exit(127)
    }
    let args = k::clone_args {
        flags: (k::CLONE_VM | k::CLONE_VFORK) as u64,
        pidfd: 0,
        child_tid: 0,
        parent_tid: 0,
        exit_signal: k::SIGCHLD as u64,
        stack: stack as u64,
        stack_size: VFORK_STACK_SIZE as u64,
        tls: 0,
        set_tid: 0,
        set_tid_size: 0,
        cgroup: 0,
    };
    let ret: isize;
    // SAFETY: clone3 starts the child on `stack` (its top, 16-byte aligned, so the `call`
    // leaves the ABI's alignment at `start`'s entry) with every other register as ours; it
    // calls `start`, which never returns, so the child never touches this frame. The parent
    // resumes only after the child's execve or exit, when `stack` and `child` are no longer
    // in use; only one such child exists at a time, since its parent is suspended. r12 and
    // r13 are callee-saved, so they survive the system call in both.
    unsafe {
        asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "mov rdi, r12",
            "call r13",
            "ud2",
            "2:",
            inlateout("rax") k::__NR_clone3 as isize => ret,
            in("rdi") &args as *const k::clone_args as usize,
            in("rsi") core::mem::size_of::<k::clone_args>(),
            in("r12") &mut child as *mut &mut dyn FnMut() as usize,
            in("r13") start as extern "C" fn(*mut &mut dyn FnMut()) -> ! as usize,
            lateout("rcx") _,
            lateout("r11") _,
        );
    }
    // Give back the pages the child wrote: they count in our resident set otherwise.
    // SAFETY: the child is done with the stack (it has exec'd or exited), and nothing else
    // uses it; MADV_DONTNEED on private anonymous memory just drops the pages.
    unsafe { syscall3(k::__NR_madvise, stack as usize, VFORK_STACK_SIZE, k::MADV_DONTNEED as usize) };
    check(ret).map(|pid| pid as i32)
}

/// fork(2) into new namespaces: clone3(2) with `flags` (CLONE_NEW*), otherwise as `fork`.
/// With `cgroup`, the child starts inside that cgroup (CLONE_INTO_CGROUP): it never runs
/// a single instruction outside its limits.
pub fn clone(flags: u64, cgroup: Option<rustix::fd::BorrowedFd>) -> Result<i32> {
    let (flags, cgroup) = match cgroup {
        Some(fd) => (flags | k::CLONE_INTO_CGROUP, rustix::fd::AsRawFd::as_raw_fd(&fd) as u64),
        None => (flags, 0),
    };
    let args = k::clone_args {
        flags,
        pidfd: 0,
        child_tid: 0,
        parent_tid: 0,
        exit_signal: k::SIGCHLD as u64,
        stack: 0,
        stack_size: 0,
        tls: 0,
        set_tid: 0,
        set_tid_size: 0,
        cgroup,
    };
    // SAFETY: without CLONE_VM the child runs in its own copy of memory, so continuing on
    // the same stack addresses is sound, exactly as with fork(2). `args` is a valid clone_args
    // of the size we pass.
    let r = unsafe {
        syscall2(
            k::__NR_clone3,
            &args as *const k::clone_args as usize,
            core::mem::size_of::<k::clone_args>(),
        )
    };
    check(r).map(|pid| pid as i32)
}

/// execve(2). Only returns on failure.
pub fn execve(path: &core::ffi::CStr, argv: *const *const u8, envp: *const *const u8) -> Errno {
    // SAFETY: path is NUL-terminated; argv and envp are NULL-terminated arrays of C strings
    // that come from the initial stack or from husk's own buffers that outlive the call.
    let r = unsafe { syscall3(k::__NR_execve, path.as_ptr() as usize, argv as usize, envp as usize) };
    match check(r) {
        Err(e) => e,
        Ok(_) => Errno::INVAL,
    }
}

/// close_range(2): closes every file descriptor from `first` up.
pub fn close_from(first: u32) -> Result<()> {
    close_range(first, u32::MAX)
}

/// A descriptor's number, -1 for none (for `close_all_but`).
pub fn raw(fd: Option<rustix::fd::BorrowedFd>) -> i32 {
    fd.map_or(-1, |fd| rustix::fd::AsRawFd::as_raw_fd(&fd))
}

/// Closes every descriptor from 3 up but those in `keep` (-1: none).
pub fn close_all_but(keep: &[i32]) {
    let last = keep.iter().copied().max().unwrap_or(-1);
    for fd in 3..last {
        if !keep.contains(&fd) {
            let _ = close_range(fd as u32, fd as u32);
        }
    }
    let _ = close_from(last.max(2) as u32 + 1);
}

/// close_range(2) with CLOSE_RANGE_CLOEXEC: marks every descriptor from `first` up
/// close-on-exec, so husk may still use them but no program it executes inherits them.
pub fn cloexec_from(first: u32) -> Result<()> {
    const CLOSE_RANGE_CLOEXEC: usize = 4;
    // SAFETY: plain integer arguments; only descriptor flags change.
    check(unsafe { syscall3(k::__NR_close_range, first as usize, u32::MAX as usize, CLOSE_RANGE_CLOEXEC) })
        .map(|_| ())
}

/// close_range(2): closes the file descriptors `first..=last`.
pub fn close_range(first: u32, last: u32) -> Result<()> {
    if first > last {
        return Ok(());
    }
    // SAFETY: plain integer arguments; closing descriptors never touches our memory.
    check(unsafe { syscall3(k::__NR_close_range, first as usize, last as usize, 0) }).map(|_| ())
}

/// clock_gettime(CLOCK_REALTIME), whole seconds since the epoch.
pub fn realtime_s() -> u64 {
    let mut ts = [0i64; 2];
    // SAFETY: ts is a writable 16-byte timespec in this frame.
    let _ = check(unsafe {
        syscall2(k::__NR_clock_gettime, k::CLOCK_REALTIME as usize, ts.as_mut_ptr() as usize)
    });
    ts[0] as u64
}

/// pidfd_send_signal(2): signals the process behind `pidfd`, which cannot be a recycled pid.
pub fn pidfd_signal(pidfd: rustix::fd::BorrowedFd, sig: i32) -> Result<()> {
    let fd = rustix::fd::AsRawFd::as_raw_fd(&pidfd);
    // SAFETY: plain integer arguments and a NULL siginfo.
    check(unsafe { syscall4(k::__NR_pidfd_send_signal, fd as usize, sig as usize, 0, 0) }).map(|_| ())
}

/// clock_gettime(CLOCK_MONOTONIC) in nanoseconds (a real syscall: no vDSO needed).
pub fn monotonic_ns() -> u64 {
    let mut ts = [0i64; 2];
    // SAFETY: ts is a writable 16-byte timespec in this frame.
    let _ = check(unsafe {
        syscall2(k::__NR_clock_gettime, k::CLOCK_MONOTONIC as usize, ts.as_mut_ptr() as usize)
    });
    ts[0] as u64 * 1_000_000_000 + ts[1] as u64
}

/// Writes `value` to I/O port 0xf4 (QEMU's isa-debug-exit device) after asking the kernel for
/// access to that one port. QEMU then exits with status `(value << 1) | 1`. Without the device
/// the write goes nowhere and this returns, so the caller must still power off.
pub fn qemu_debug_exit(value: u8) {
    const PORT: u16 = 0xf4;
    // SAFETY: ioperm(2) grants this process access to one I/O port; plain integers.
    let granted = check(unsafe { syscall3(k::__NR_ioperm, PORT as usize, 1, 1) });
    if granted.is_ok() {
        // SAFETY: ioperm above made port 0xf4 accessible; a write to an absent ISA device is
        // ignored by the hardware (or emulator).
        unsafe {
            asm!("out dx, al", in("dx") PORT, in("al") value, options(nomem, nostack));
        }
    }
}

/// The standard descriptors as rustix borrowed fds. A closed descriptor just makes the
/// syscalls that use it fail with EBADF.
pub fn stdio(fd: i32) -> rustix::fd::BorrowedFd<'static> {
    debug_assert!((0..=2).contains(&fd));
    // SAFETY: descriptors 0-2 are never closed by husk while borrowed; if the caller started
    // us with one closed, syscalls on it report EBADF, which every user handles.
    unsafe { rustix::fd::BorrowedFd::borrow_raw(fd) }
}

/// prctl(PR_SET_PDEATHSIG): deliver `sig` (any number, real-time included) to this process
/// when its parent thread dies.
pub fn set_parent_death_signal(sig: i32) -> Result<()> {
    // SAFETY: plain integer arguments.
    check(unsafe {
        syscall3(k::__NR_prctl, linux_raw_sys::prctl::PR_SET_PDEATHSIG as usize, sig as usize, 0)
    })
    .map(|_| ())
}

/// mount_setattr(2) on the detached or attached mount `fd` (AT_EMPTY_PATH): sets the
/// MOUNT_ATTR_* bits in `set`, on the whole tree when `recursive`.
pub fn mount_setattr(fd: rustix::fd::BorrowedFd, set: u64, recursive: bool) -> Result<()> {
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    let attr = MountAttr { attr_set: set, attr_clr: 0, propagation: 0, userns_fd: 0 };
    let mut flags = k::AT_EMPTY_PATH as usize;
    if recursive {
        flags |= k::AT_RECURSIVE as usize;
    }
    let fd = rustix::fd::AsRawFd::as_raw_fd(&fd);
    // SAFETY: the path is an empty C string, `attr` is a valid mount_attr of the size passed.
    check(unsafe {
        syscall5(
            k::__NR_mount_setattr,
            fd as usize,
            c"".as_ptr() as usize,
            flags,
            &attr as *const MountAttr as usize,
            core::mem::size_of::<MountAttr>(),
        )
    })
    .map(|_| ())
}

/// Brings the loopback interface of a new network namespace up, like `ip link set lo up`:
/// SIOCSIFFLAGS on a throwaway datagram socket (netdevice(7)).
pub fn loopback_up() -> Result<()> {
    const AF_INET: usize = 2;
    const SOCK_DGRAM_CLOEXEC: usize = 2 | 0o2_000_000;
    const SIOCSIFFLAGS: usize = 0x8914;
    // A new namespace's lo has exactly IFF_LOOPBACK (drivers/net/loopback.c), so there is
    // nothing to read first: the flags to set are that plus IFF_UP.
    const UP_LOOPBACK: u8 = 0x1 | 0x8;
    // struct ifreq: 16 bytes of name, then a union whose first member is `short ifr_flags`.
    let mut ifreq = [0u8; 40];
    (ifreq[0], ifreq[1]) = (b'l', b'o');
    ifreq[16] = UP_LOOPBACK;
    // SAFETY: plain integer arguments.
    let fd = check(unsafe { syscall3(k::__NR_socket, AF_INET, SOCK_DGRAM_CLOEXEC, 0) })?;
    // SAFETY: ifreq is a 40-byte struct ifreq; fd is our socket.
    let result = check(unsafe { syscall3(k::__NR_ioctl, fd, SIOCSIFFLAGS, ifreq.as_mut_ptr() as usize) });
    // SAFETY: closing the socket we opened above.
    unsafe { syscall1(k::__NR_close, fd) };
    result.map(|_| ())
}

/// unshare(2) with CLONE_NEW* `flags`: the calling process moves into new namespaces.
pub fn unshare(flags: u32) -> Result<()> {
    // SAFETY: a plain integer argument; namespaces are no memory or descriptor of ours.
    check(unsafe { syscall1(k::__NR_unshare, flags as usize) }).map(|_| ())
}

/// A CPU mask as sched_{get,set}affinity(2) take it here: 1024 CPUs, 128 bytes.
pub type Cpus = [u64; 16];

/// The CPUs the calling process may use (sched_getaffinity(2)); None on a machine with
/// more than 1024 (the kernel refuses a mask that short: EINVAL).
pub fn allowed_cpus() -> Option<Cpus> {
    let mut mask: Cpus = [0; 16];
    // SAFETY: `mask` is 128 writable bytes, the length we pass.
    check(unsafe { syscall3(k::__NR_sched_getaffinity, 0, 128, mask.as_mut_ptr() as usize) }).ok()?;
    Some(mask)
}

/// The CPU the calling process runs on (getcpu(2)).
pub fn this_cpu() -> u32 {
    let mut cpu = 0u32;
    // SAFETY: `cpu` is 4 writable bytes; the other two arguments are unused (NULL).
    let _ = check(unsafe { syscall3(k::__NR_getcpu, &mut cpu as *mut u32 as usize, 0, 0) });
    cpu
}

/// sched_setaffinity(2) of process `pid` (0: the caller). Only a speed-up where it is used:
/// a failure changes nothing.
pub fn set_cpus(pid: i32, mask: &Cpus) {
    // SAFETY: `mask` is 128 readable bytes, the length we pass.
    unsafe { syscall3(k::__NR_sched_setaffinity, pid as usize, 128, mask.as_ptr() as usize) };
}

/// Whether the process behind `pidfd` is still running: a pidfd polls readable once its
/// process has exited (pidfd_open(2)). Works across PID namespaces, unlike signalling it.
pub fn pidfd_alive(pidfd: rustix::fd::BorrowedFd) -> bool {
    const POLLIN: u16 = 1;
    // struct pollfd: int fd; short events; short revents.
    let mut pollfd = [0u8; 8];
    pollfd[..4].copy_from_slice(&rustix::fd::AsRawFd::as_raw_fd(&pidfd).to_ne_bytes());
    pollfd[4..6].copy_from_slice(&POLLIN.to_ne_bytes());
    // SAFETY: one 8-byte struct pollfd in this frame, timeout 0 (do not block).
    let ready = check(unsafe { syscall3(k::__NR_poll, pollfd.as_mut_ptr() as usize, 1, 0) });
    ready == Ok(0)
}

/// prctl(2) with integer arguments (the unused ones must be 0 for some options).
pub fn prctl(option: u32, arg2: usize, arg3: usize) -> Result<usize> {
    // SAFETY: plain integer arguments.
    check(unsafe { syscall5(k::__NR_prctl, option as usize, arg2, arg3, 0, 0) })
}

/// seccomp(SECCOMP_SET_MODE_FILTER): installs `program` for this thread and all it execs.
/// Needs no_new_privs (or CAP_SYS_ADMIN) first.
pub fn seccomp_filter(program: &[crate::seccomp::Insn]) -> Result<()> {
    #[repr(C)]
    struct SockFprog {
        len: u16,
        filter: *const crate::seccomp::Insn,
    }
    let fprog = SockFprog { len: program.len() as u16, filter: program.as_ptr() };
    // SAFETY: fprog points at `program`, a slice of sock_filter-shaped instructions that
    // lives for the whole call; the kernel copies it.
    check(unsafe {
        syscall3(
            k::__NR_seccomp,
            linux_raw_sys::ptrace::SECCOMP_SET_MODE_FILTER as usize,
            0,
            &fprog as *const SockFprog as usize,
        )
    })
    .map(|_| ())
}

/// nanosleep(2) for `ns` nanoseconds (cut short by nothing: husk blocks all signals).
pub fn sleep_ns(ns: u64) {
    let ts = [(ns / 1_000_000_000) as i64, (ns % 1_000_000_000) as i64];
    // SAFETY: ts is a valid timespec in this frame; no remainder is asked for.
    let _ = check(unsafe { syscall2(k::__NR_nanosleep, ts.as_ptr() as usize, 0) });
}

/// A whole file mapped read-only (mmap(2), MAP_PRIVATE), unmapped when dropped: a file of
/// any size read at once, with no allocator and nothing on the stack.
pub struct Mapped {
    addr: usize,
    len: usize,
}

impl Mapped {
    /// The file's bytes as they were when mapped (the file is only ever replaced by
    /// rename, never truncated, so the pages stay valid).
    pub fn bytes(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: [addr, addr + len) is a readable mapping we own until drop; nothing writes
        // it (PROT_READ, MAP_PRIVATE).
        unsafe { core::slice::from_raw_parts(self.addr as *const u8, self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        if self.len != 0 {
            // SAFETY: unmapping exactly the mapping this value owns; no borrow of it outlives
            // `self` (bytes() borrows self).
            unsafe { syscall2(k::__NR_munmap, self.addr, self.len) };
        }
    }
}

/// Maps the whole of the regular file `fd` read-only.
pub fn map_file(fd: rustix::fd::BorrowedFd) -> Result<Mapped> {
    let len = rustix::fs::fstat(fd)?.st_size as usize;
    if len == 0 {
        return Ok(Mapped { addr: 0, len: 0 });
    }
    let fd = rustix::fd::AsRawFd::as_raw_fd(&fd);
    // SAFETY: a new private read-only mapping chosen by the kernel (addr 0): it overlaps no
    // memory of ours; plain integer arguments.
    let addr = check(unsafe {
        syscall6(k::__NR_mmap, 0, len, k::PROT_READ as usize, k::MAP_PRIVATE as usize, fd as usize, 0)
    })?;
    Ok(Mapped { addr, len })
}

/// prctl(PR_SET_DUMPABLE, 0): no ptrace of this process, no /proc/PID/mem, exe, fd or
/// environ for anyone without CAP_SYS_PTRACE (ptrace(2), "Ptrace access mode checking").
/// Inherited by fork and shared with a CLONE_VM child (it is a property of the address
/// space); execve gives the new program the usual dumpable state back.
pub fn make_non_dumpable() -> Result<()> {
    prctl(linux_raw_sys::prctl::PR_SET_DUMPABLE, 0, 0).map(|_| ())
}
