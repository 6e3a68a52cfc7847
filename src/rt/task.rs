//! Processes: ending one, making one (fork, clone into new namespaces, vfork_run), becoming
//! another program (execve), the settings a process takes on the way (parent-death signal,
//! dumpability, prctl, its seccomp filter), and watching one through its pidfd.

use core::arch::asm;
use linux_raw_sys::general as k;
use linux_raw_sys::prctl as k_prctl;
use rustix::io::Errno;

use super::cstr::CStrArray;
use super::namespace::Namespaces;
use super::syscall::{Result, check, syscall1, syscall2, syscall3, syscall5};

/// Ends the whole process (all threads) with `code`. Never returns.
/// Raw: rustix has exit_group only in its unstable `runtime` module.
pub fn exit(code: u8) -> ! {
    // SAFETY: exit_group takes a plain integer and does not return.
    unsafe {
        syscall1(k::__NR_exit_group, code as usize);
        core::hint::unreachable_unchecked()
    }
}

/// Creates a child process like fork(2), through clone3(2) with no sharing: the child gets a
/// copy of the address space and continues on the same (copied) stack, so like fork it
/// "returns twice". Returns 0 in the child and the child's pid in the parent.
/// Raw (through `clone`): rustix has fork only in its unstable `runtime` module.
pub fn fork() -> Result<i32> {
    clone(Namespaces::NONE, None)
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
    let _ = unsafe { rustix::mm::madvise(stack.cast(), VFORK_STACK_SIZE, rustix::mm::Advice::LinuxDontNeed) };
    check(ret).map(|pid| pid as i32)
}

/// fork(2) into new namespaces: clone3(2) into the namespaces `new`, otherwise as `fork`.
/// With `cgroup`, the child starts inside that cgroup (CLONE_INTO_CGROUP): it never runs
/// a single instruction outside its limits.
/// Raw: rustix has no clone3(2).
pub fn clone(new: Namespaces, cgroup: Option<rustix::fd::BorrowedFd>) -> Result<i32> {
    let flags = new.bits() as u64;
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
/// Raw: rustix has execve only in its unstable `runtime` module.
pub fn execve(path: &core::ffi::CStr, argv: CStrArray<'_>, envp: CStrArray<'_>) -> Errno {
    // SAFETY: path is NUL-terminated; argv and envp are NULL-terminated arrays of C strings,
    // valid for the whole call (CStrArray's invariant).
    let r = unsafe {
        syscall3(k::__NR_execve, path.as_ptr() as usize, argv.as_ptr() as usize, envp.as_ptr() as usize)
    };
    match check(r) {
        Err(e) => e,
        Ok(_) => Errno::INVAL,
    }
}

/// prctl(PR_SET_PDEATHSIG): deliver `sig` (any number, real-time included) to this process
/// when its parent thread dies.
pub fn set_parent_death_signal(sig: i32) -> Result<()> {
    rustix::process::set_parent_process_death_signal(Some(super::signal::signal(sig)?))
}

/// No signal when the parent dies (a process meant to outlive it).
pub fn clear_parent_death_signal() -> Result<()> {
    rustix::process::set_parent_process_death_signal(None)
}

/// Whether the process behind `pidfd` is still running: a pidfd polls readable once its
/// process has exited (pidfd_open(2)). Works across PID namespaces, unlike signalling it.
pub fn pidfd_alive(pidfd: rustix::fd::BorrowedFd) -> bool {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
    poll(&mut fds, Some(&Timespec { tv_sec: 0, tv_nsec: 0 })) == Ok(0)
}

/// prctl(2) with integer arguments (the unused ones must be 0 for some options).
/// Raw: kept for spawn.rs's PR_CAP_AMBIENT_RAISE, which rustix's
/// `configure_capability_in_ambient_set` could do at that call site (same size, measured).
pub fn prctl(option: u32, arg2: usize, arg3: usize) -> Result<usize> {
    // SAFETY: plain integer arguments.
    check(unsafe { syscall5(k::__NR_prctl, option as usize, arg2, arg3, 0, 0) })
}

/// One classic BPF instruction, laid out as the kernel's `struct sock_filter`
/// (linux/filter.h): what `seccomp_filter` installs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// seccomp(SECCOMP_SET_MODE_FILTER): installs `program` for this thread and all it execs.
/// Needs no_new_privs (or CAP_SYS_ADMIN) first.
/// Raw: rustix has no seccomp(2).
pub fn seccomp_filter(program: &[SockFilter]) -> Result<()> {
    seccomp_filter_with(program, 0)
}

/// seccomp(SECCOMP_SET_MODE_FILTER) with SECCOMP_FILTER_FLAG_* `flags` (an OCI profile's).
pub fn seccomp_filter_with(program: &[SockFilter], flags: u32) -> Result<()> {
    #[repr(C)]
    struct SockFprog {
        len: u16,
        filter: *const SockFilter,
    }
    let fprog = SockFprog { len: program.len() as u16, filter: program.as_ptr() };
    // SAFETY: fprog points at `program`, a slice of sock_filter instructions that lives for
    // the whole call; the kernel copies it.
    check(unsafe {
        syscall3(
            k::__NR_seccomp,
            linux_raw_sys::ptrace::SECCOMP_SET_MODE_FILTER as usize,
            flags as usize,
            &fprog as *const SockFprog as usize,
        )
    })
    .map(|_| ())
}

/// prctl(PR_SET_DUMPABLE, 0): no ptrace of this process, no /proc/PID/mem, exe, fd or
/// environ for anyone without CAP_SYS_PTRACE (ptrace(2), "Ptrace access mode checking").
/// Inherited by fork and shared with a CLONE_VM child (it is a property of the address
/// space); execve gives the new program the usual dumpable state back.
pub fn make_non_dumpable() -> Result<()> {
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
}

/// The page that holds the command line `show_command_line` shows: in .bss, whose page
/// tables the process has already (a mapping of its own would cost the container's memory
/// limit its page and two or three page-table pages).
#[repr(C, align(4096))]
struct Title([u8; 4096]);

static mut TITLE: Title = Title([0; 4096]);

/// Makes this process's /proc/PID/cmdline read `prefix` (NUL-separated words, NUL-ended)
/// followed by `words` — cut at 4 KiB — and its name (comm) `name`: what `ps` shows of it.
/// The words are copied into a page of their own, which then stands as the argument area;
/// the real arguments are not touched (Process still reads them). `current` is the memory
/// map (`Process::memory_map`: prctl_mm_map's fields from start_code to env_end).
/// Raw: rustix has no PR_SET_MM. PR_SET_MM_MAP sets every field at once and, unlike the
/// one-field forms, needs no CAP_SYS_RESOURCE (prctl(2)). Call it once.
pub fn show_command_line(
    current: &[u64; 11],
    prefix: &[u8],
    words: CStrArray<'_>,
    name: &core::ffi::CStr,
) -> Result<()> {
    if prefix.is_empty() || prefix.len() > 4096 {
        return Err(Errno::INVAL);
    }
    // SAFETY: TITLE is used nowhere else, so no other reference to it exists while this one
    // lives (husk is single-threaded).
    let area = unsafe { &mut (*core::ptr::addr_of_mut!(TITLE)).0 };
    area[..prefix.len()].copy_from_slice(prefix);
    let mut len = prefix.len();
    for word in words.iter() {
        let bytes = word.to_bytes_with_nul();
        let n = bytes.len().min(area.len() - len);
        area[len..len + n].copy_from_slice(&bytes[..n]);
        len += n;
        if len == area.len() {
            break;
        }
    }
    area[len - 1] = 0; // the last word ends here, whole or cut
    let start = area.as_ptr() as u64;
    let [start_code, end_code, start_data, end_data, start_brk, brk, start_stack, _, _, env_start, env_end] =
        *current;
    let map = k_prctl::prctl_mm_map {
        start_code,
        end_code,
        start_data,
        end_data,
        start_brk,
        brk,
        start_stack,
        arg_start: start,
        arg_end: start + len as u64,
        env_start,
        env_end,
        auxv: core::ptr::null_mut(),
        auxv_size: 0,
        exe_fd: u32::MAX, // -1: /proc/PID/exe stays as it is
    };
    // SAFETY: `map` is a valid prctl_mm_map of the size passed, read by the kernel during
    // the call; auxv_size 0 leaves the aux vector alone.
    check(unsafe {
        syscall5(
            k::__NR_prctl,
            k_prctl::PR_SET_MM as usize,
            k_prctl::PR_SET_MM_MAP as usize,
            &map as *const k_prctl::prctl_mm_map as usize,
            core::mem::size_of::<k_prctl::prctl_mm_map>(),
            0,
        )
    })?;
    rustix::thread::set_name(name)
}
