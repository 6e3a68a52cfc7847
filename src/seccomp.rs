//! The default seccomp filter for COMMAND: EPERM for what a container has no business doing
//! (loading kernels or modules, changing the clock, keyrings, bpf, mounts, new namespaces,
//! typing into a terminal), everything else allowed. A classic BPF program over
//! `struct seccomp_data` (seccomp(2)), built here and unit-tested with a small interpreter.

use linux_raw_sys::general as nr;
use linux_raw_sys::ptrace::{AUDIT_ARCH_X86_64, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO};

/// One BPF instruction, laid out as the kernel's `struct sock_filter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

// Classic BPF opcodes (linux/bpf_common.h).
const LD_W_ABS: u16 = 0x20; // A = *(u32 *)(data + k)
const JEQ: u16 = 0x15; // if A == k
const JGE: u16 = 0x35; // if A >= k
const JSET: u16 = 0x45; // if A & k
const RET: u16 = 0x06; // return k
const JA: u16 = 0x05; // jump k forward, always

// Offsets in struct seccomp_data: nr, arch, instruction_pointer, args[6] (u64 each; the
// low half first on little-endian x86_64).
const NR: u32 = 0;
const ARCH: u32 = 4;
const ARG0_LOW: u32 = 16;
const ARG1_LOW: u32 = 24;

const ALLOW: u32 = SECCOMP_RET_ALLOW;
const EPERM: u32 = SECCOMP_RET_ERRNO | 1;
const ENOSYS: u32 = SECCOMP_RET_ERRNO | 38;

/// x32 system calls carry this bit in their number; refused wholesale.
const X32_BIT: u32 = 0x4000_0000;

/// Answered with EPERM, whatever the arguments.
pub const BLOCKED: [u32; 41] = [
    nr::__NR_kexec_load,
    nr::__NR_kexec_file_load,
    nr::__NR_init_module,
    nr::__NR_finit_module,
    nr::__NR_delete_module,
    nr::__NR_open_by_handle_at,
    nr::__NR_name_to_handle_at,
    nr::__NR_bpf,
    nr::__NR_perf_event_open,
    nr::__NR_keyctl,
    nr::__NR_add_key,
    nr::__NR_request_key,
    nr::__NR_acct,
    nr::__NR_swapon,
    nr::__NR_swapoff,
    nr::__NR_reboot,
    nr::__NR_settimeofday,
    nr::__NR_clock_settime,
    nr::__NR_clock_adjtime,
    nr::__NR_adjtimex,
    nr::__NR_userfaultfd,
    nr::__NR_iopl,
    nr::__NR_ioperm,
    nr::__NR_lookup_dcookie,
    nr::__NR_quotactl,
    nr::__NR_setns,
    nr::__NR_unshare,
    nr::__NR_mount,
    nr::__NR_umount2,
    nr::__NR_pivot_root,
    nr::__NR_open_tree,
    nr::__NR_move_mount,
    nr::__NR_fsopen,
    nr::__NR_fsconfig,
    nr::__NR_fsmount,
    nr::__NR_fspick,
    nr::__NR_mount_setattr,
    nr::__NR_syslog,
    nr::__NR_vhangup,
    nr::__NR_uselib,
    nr::__NR_ustat,
];

/// clone(2) flags that create namespaces: refused, as unshare and setns are.
const NAMESPACE_FLAGS: u32 = nr::CLONE_NEWNS
    | nr::CLONE_NEWCGROUP
    | nr::CLONE_NEWUTS
    | nr::CLONE_NEWIPC
    | nr::CLONE_NEWUSER
    | nr::CLONE_NEWPID
    | nr::CLONE_NEWNET
    | nr::CLONE_NEWTIME;

/// ioctls that would let COMMAND type into (or reprogram) a terminal it shares with the
/// host: TIOCSTI and TIOCLINUX (the bubblewrap CVE-2017-5226 class).
const TIOCSTI: u32 = 0x5412;
const TIOCLINUX: u32 = 0x541c;

/// personality(2) values allowed: Linux, with the usual harmless flags, and the query.
const PERSONALITIES: [u32; 5] = [0, 0x0008, 0x2_0000, 0x2_0008, 0xffff_ffff];

/// The number of instructions in the program.
pub const LEN: usize = 6 + BLOCKED.len() + 2 + 2 + 5 + 6 + 9 + 1;

const fn stmt(code: u16, k: u32) -> Insn {
    Insn { code, jt: 0, jf: 0, k }
}

const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Insn {
    Insn { code, jt, jf, k }
}

/// The filter. Jump offsets count instructions skipped after the jump.
pub fn program() -> [Insn; LEN] {
    let mut p = [stmt(RET, ALLOW); LEN];
    let mut i = 0;
    let mut emit = |insn: Insn| {
        p[i] = insn;
        i += 1;
    };
    // Another architecture's calling convention (e.g. int 0x80 from a 64-bit process)
    // would make every number below mean something else.
    emit(stmt(LD_W_ABS, ARCH));
    emit(jump(JEQ, AUDIT_ARCH_X86_64, 1, 0));
    emit(stmt(RET, EPERM));
    emit(stmt(LD_W_ABS, NR));
    emit(jump(JGE, X32_BIT, 0, 1));
    emit(stmt(RET, EPERM));
    let n = BLOCKED.len();
    for (k, &call) in BLOCKED.iter().enumerate() {
        // On a match, jump over the rest of the list and the `skip` to the EPERM below.
        emit(jump(JEQ, call, (n - k) as u8, 0));
    }
    emit(stmt(JA, 1)); // no match: over the EPERM
    emit(stmt(RET, EPERM));
    // clone3 passes its flags in memory, out of a filter's reach: answer ENOSYS, so libc
    // falls back to clone, whose flags can be checked.
    emit(jump(JEQ, nr::__NR_clone3, 0, 1));
    emit(stmt(RET, ENOSYS));
    emit(jump(JEQ, nr::__NR_clone, 0, 4));
    emit(stmt(LD_W_ABS, ARG0_LOW));
    emit(jump(JSET, NAMESPACE_FLAGS, 0, 1));
    emit(stmt(RET, EPERM));
    emit(stmt(RET, ALLOW));
    // The kernel takes an ioctl request as 32 bits: compare only the low half.
    emit(jump(JEQ, nr::__NR_ioctl, 0, 5));
    emit(stmt(LD_W_ABS, ARG1_LOW));
    emit(jump(JEQ, TIOCSTI, 2, 0));
    emit(jump(JEQ, TIOCLINUX, 1, 0));
    emit(stmt(RET, ALLOW));
    emit(stmt(RET, EPERM));
    emit(jump(JEQ, nr::__NR_personality, 0, 8));
    emit(stmt(LD_W_ABS, ARG0_LOW));
    let m = PERSONALITIES.len();
    for (k, &persona) in PERSONALITIES.iter().enumerate() {
        emit(jump(JEQ, persona, (m - k) as u8, 0));
    }
    emit(stmt(RET, EPERM));
    emit(stmt(RET, ALLOW));
    emit(stmt(RET, ALLOW));
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the program over a seccomp_data like the kernel would.
    fn verdict(arch: u32, call: u32, args: [u64; 6]) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&call.to_le_bytes());
        data[4..8].copy_from_slice(&arch.to_le_bytes());
        for (i, a) in args.iter().enumerate() {
            data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
        }
        let prog = program();
        let (mut pc, mut a) = (0usize, 0u32);
        loop {
            let insn = prog[pc];
            let jump = |taken: bool| pc + 1 + if taken { insn.jt as usize } else { insn.jf as usize };
            pc = match insn.code {
                LD_W_ABS => {
                    let k = insn.k as usize;
                    a = u32::from_le_bytes(data[k..k + 4].try_into().unwrap());
                    pc + 1
                }
                JEQ => jump(a == insn.k),
                JGE => jump(a >= insn.k),
                JSET => jump(a & insn.k != 0),
                JA => pc + 1 + insn.k as usize,
                RET => return insn.k,
                other => panic!("unknown opcode {other:#x}"),
            };
            assert!(pc < prog.len(), "jumped past the end");
        }
    }

    fn call(n: u32, args: [u64; 6]) -> u32 {
        verdict(AUDIT_ARCH_X86_64, n, args)
    }

    #[test]
    fn every_blocked_call_is_eperm() {
        for &n in &BLOCKED {
            assert_eq!(call(n, [0; 6]), EPERM, "syscall {n}");
        }
    }

    #[test]
    fn ordinary_calls_are_allowed() {
        for n in
            [nr::__NR_read, nr::__NR_write, nr::__NR_openat, nr::__NR_execve, nr::__NR_fork, nr::__NR_ptrace]
        {
            assert_eq!(call(n, [0; 6]), ALLOW, "syscall {n}");
        }
        // every number the filter does not name is allowed
        let named: Vec<u32> = BLOCKED.to_vec();
        for n in 0..460 {
            let special = [nr::__NR_clone3, nr::__NR_clone, nr::__NR_ioctl, nr::__NR_personality];
            if !named.contains(&n) && !special.contains(&n) {
                assert_eq!(call(n, [0; 6]), ALLOW, "syscall {n}");
            }
        }
    }

    #[test]
    fn other_architectures_and_x32_are_refused() {
        const AUDIT_ARCH_I386: u32 = 0x4000_0003;
        assert_eq!(verdict(AUDIT_ARCH_I386, nr::__NR_read, [0; 6]), EPERM);
        assert_eq!(call(X32_BIT | nr::__NR_read, [0; 6]), EPERM);
    }

    #[test]
    fn clone_with_namespaces_is_refused() {
        const SIGCHLD: u64 = 17;
        assert_eq!(call(nr::__NR_clone, [SIGCHLD, 0, 0, 0, 0, 0]), ALLOW);
        let threads =
            (nr::CLONE_VM | nr::CLONE_FS | nr::CLONE_FILES | nr::CLONE_SIGHAND | nr::CLONE_THREAD) as u64;
        assert_eq!(call(nr::__NR_clone, [threads, 0, 0, 0, 0, 0]), ALLOW);
        for flag in
            [nr::CLONE_NEWUSER, nr::CLONE_NEWNS, nr::CLONE_NEWPID, nr::CLONE_NEWNET, nr::CLONE_NEWTIME]
        {
            assert_eq!(call(nr::__NR_clone, [flag as u64 | SIGCHLD, 0, 0, 0, 0, 0]), EPERM);
        }
        assert_eq!(call(nr::__NR_clone3, [0; 6]), ENOSYS);
    }

    #[test]
    fn terminal_injection_is_refused() {
        assert_eq!(call(nr::__NR_ioctl, [0, TIOCSTI as u64, 0, 0, 0, 0]), EPERM);
        assert_eq!(call(nr::__NR_ioctl, [0, TIOCLINUX as u64, 0, 0, 0, 0]), EPERM);
        // high bits do not hide the request: the kernel truncates it to 32 bits
        assert_eq!(call(nr::__NR_ioctl, [0, (1 << 32) | TIOCSTI as u64, 0, 0, 0, 0]), EPERM);
        const TCGETS: u64 = 0x5401;
        assert_eq!(call(nr::__NR_ioctl, [0, TCGETS, 0, 0, 0, 0]), ALLOW);
    }

    #[test]
    fn personality_only_linux() {
        for p in PERSONALITIES {
            assert_eq!(call(nr::__NR_personality, [p as u64, 0, 0, 0, 0, 0]), ALLOW);
        }
        const READ_IMPLIES_EXEC: u64 = 0x0040_0000;
        assert_eq!(call(nr::__NR_personality, [READ_IMPLIES_EXEC, 0, 0, 0, 0, 0]), EPERM);
    }

    #[test]
    fn jumps_stay_inside() {
        let prog = program();
        for (pc, insn) in prog.iter().enumerate() {
            let reach = match insn.code {
                JA => insn.k as usize,
                JEQ | JGE | JSET => insn.jt.max(insn.jf) as usize,
                _ => 0,
            };
            assert!(pc + 1 + reach < prog.len() || insn.code == RET, "insn {pc}");
        }
        assert_eq!(prog.len(), LEN);
    }
}
