//! The default seccomp filter for COMMAND: EPERM for what a container has no business doing
//! (loading kernels or modules, changing the clock, keyrings, bpf, mounts, new namespaces,
//! io_uring, typing into a terminal), everything else allowed. A classic BPF program over
//! `struct seccomp_data` (seccomp(2)), built here and unit-tested with a small interpreter.

use linux_raw_sys::general as nr;
use linux_raw_sys::ptrace::{AUDIT_ARCH_X86_64, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO};

/// One BPF instruction, laid out as the kernel's `struct sock_filter` (defined in the
/// runtime, which hands the program to seccomp(2)).
pub type Insn = crate::rt::sys::SockFilter;

// Classic BPF opcodes (linux/bpf_common.h).
pub(crate) const LD_W_ABS: u16 = 0x20; // A = *(u32 *)(data + k)
pub(crate) const JEQ: u16 = 0x15; // if A == k
pub(crate) const JGE: u16 = 0x35; // if A >= k
const JSET: u16 = 0x45; // if A & k
pub(crate) const RET: u16 = 0x06; // return k

// Offsets in struct seccomp_data: nr, arch, instruction_pointer, args[6] (u64 each; the
// low half first on little-endian x86_64).
pub(crate) const NR: u32 = 0;
pub(crate) const ARCH: u32 = 4;
const ARG0_LOW: u32 = 16;
const ARG1_LOW: u32 = 24;

const ALLOW: u32 = SECCOMP_RET_ALLOW;
const EPERM: u32 = SECCOMP_RET_ERRNO | 1;
const ENOSYS: u32 = SECCOMP_RET_ERRNO | 38;

/// x32 system calls carry this bit in their number; refused wholesale.
pub(crate) const X32_BIT: u32 = 0x4000_0000;

/// Answered with EPERM, whatever the arguments.
pub const BLOCKED: [u32; 44] = [
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
    // io_uring's operations are carried out by the kernel outside any system call, so no
    // filter sees them (a read, a connect, an openat through the ring): refused whole, as
    // Docker does since 25.0.
    nr::__NR_io_uring_setup,
    nr::__NR_io_uring_enter,
    nr::__NR_io_uring_register,
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

/// What the filter does with a system call it names.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Rule {
    Refuse,
    /// clone3: its flags are in memory, out of a filter's reach. ENOSYS makes libc fall back
    /// to clone, whose flags can be checked.
    NoSys,
    /// clone: refused with namespace flags.
    Clone,
    /// ioctl: refused for the terminal-injecting requests.
    Ioctl,
    /// personality: only Linux with the harmless flags.
    Personality,
}

/// Every system call the filter names: the blocked ones and the four with their own rule.
const NAMED: usize = BLOCKED.len() + 4;

/// The named calls sorted by number, for the search tree.
const RULES: [(u32, Rule); NAMED] = {
    let mut rules = [(0, Rule::Refuse); NAMED];
    let mut i = 0;
    while i < BLOCKED.len() {
        rules[i] = (BLOCKED[i], Rule::Refuse);
        i += 1;
    }
    rules[i] = (nr::__NR_clone3, Rule::NoSys);
    rules[i + 1] = (nr::__NR_clone, Rule::Clone);
    rules[i + 2] = (nr::__NR_ioctl, Rule::Ioctl);
    rules[i + 3] = (nr::__NR_personality, Rule::Personality);
    // Insertion sort: const fns have no sort.
    let mut j = 1;
    while j < NAMED {
        let mut k = j;
        while k > 0 && rules[k - 1].0 > rules[k].0 {
            let t = rules[k];
            rules[k] = rules[k - 1];
            rules[k - 1] = t;
            k -= 1;
        }
        j += 1;
    }
    rules
};

/// Calls compared one by one at the leaves of the tree.
const LEAF: usize = 4;

/// Instructions of the search tree over `RULES[lo..hi]`: a JGE at each inner node; at a
/// leaf a JEQ per call and RET ALLOW for every other number.
const fn tree_len(lo: usize, hi: usize) -> usize {
    if hi - lo <= LEAF { hi - lo + 1 } else { 1 + tree_len(lo, (lo + hi) / 2) + tree_len((lo + hi) / 2, hi) }
}

/// Where things are: the prologue (architecture, x32), the tree, then one handler per rule.
const TREE: usize = 6;
const REFUSE: usize = TREE + tree_len(0, NAMED);
const NOSYS: usize = REFUSE + 1;
const CLONE: usize = NOSYS + 1;
const IOCTL: usize = CLONE + 4;
const PERSONALITY: usize = IOCTL + 5;

/// The number of instructions in the program.
pub const LEN: usize = PERSONALITY + 1 + PERSONALITIES.len() + 2;

const fn stmt(code: u16, k: u32) -> Insn {
    Insn { code, jt: 0, jf: 0, k }
}

const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Insn {
    Insn { code, jt, jf, k }
}

/// The filter. Jump offsets count instructions skipped after the jump.
///
/// The system call number is looked up in a binary search tree rather than a list: the
/// kernel runs the filter over every number when it is installed, to find the calls it
/// always allows and can skip the filter for (seccomp's action cache), and a list of 45
/// comparisons made that the slowest part of starting COMMAND.
pub fn program() -> [Insn; LEN] {
    let mut p = [stmt(RET, ALLOW); LEN];
    // Another architecture's calling convention (e.g. int 0x80 from a 64-bit process)
    // would make every number below mean something else.
    p[0] = stmt(LD_W_ABS, ARCH);
    p[1] = jump(JEQ, AUDIT_ARCH_X86_64, 1, 0);
    p[2] = stmt(RET, EPERM);
    p[3] = stmt(LD_W_ABS, NR);
    p[4] = jump(JGE, X32_BIT, 0, 1);
    p[5] = stmt(RET, EPERM);
    let end = emit_tree(&mut p, TREE, 0, NAMED);
    debug_assert_eq!(end, REFUSE);
    p[REFUSE] = stmt(RET, EPERM);
    p[NOSYS] = stmt(RET, ENOSYS);
    p[CLONE] = stmt(LD_W_ABS, ARG0_LOW);
    p[CLONE + 1] = jump(JSET, NAMESPACE_FLAGS, 0, 1);
    p[CLONE + 2] = stmt(RET, EPERM);
    p[CLONE + 3] = stmt(RET, ALLOW);
    // The kernel takes an ioctl request as 32 bits: compare only the low half.
    p[IOCTL] = stmt(LD_W_ABS, ARG1_LOW);
    p[IOCTL + 1] = jump(JEQ, TIOCSTI, 2, 0);
    p[IOCTL + 2] = jump(JEQ, TIOCLINUX, 1, 0);
    p[IOCTL + 3] = stmt(RET, ALLOW);
    p[IOCTL + 4] = stmt(RET, EPERM);
    p[PERSONALITY] = stmt(LD_W_ABS, ARG0_LOW);
    let m = PERSONALITIES.len();
    for (k, &persona) in PERSONALITIES.iter().enumerate() {
        p[PERSONALITY + 1 + k] = jump(JEQ, persona, (m - k) as u8, 0);
    }
    p[PERSONALITY + 1 + m] = stmt(RET, EPERM);
    p[PERSONALITY + 2 + m] = stmt(RET, ALLOW);
    p
}

/// Writes the tree over `RULES[lo..hi]` at `at`; returns where it ends.
fn emit_tree(p: &mut [Insn; LEN], at: usize, lo: usize, hi: usize) -> usize {
    if hi - lo <= LEAF {
        for (i, &(call, rule)) in RULES[lo..hi].iter().enumerate() {
            let target = match rule {
                Rule::Refuse => REFUSE,
                Rule::NoSys => NOSYS,
                Rule::Clone => CLONE,
                Rule::Ioctl => IOCTL,
                Rule::Personality => PERSONALITY,
            };
            let pc = at + i;
            p[pc] = jump(JEQ, call, (target - pc - 1) as u8, 0);
        }
        p[at + hi - lo] = stmt(RET, ALLOW);
        return at + hi - lo + 1;
    }
    let mid = (lo + hi) / 2;
    // Numbers from RULES[mid] up go right, past the left subtree.
    p[at] = jump(JGE, RULES[mid].0, tree_len(lo, mid) as u8, 0);
    let right = emit_tree(p, at + 1, lo, mid);
    emit_tree(p, right, mid, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the program over a seccomp_data like the kernel would.
    fn verdict(arch: u32, call: u32, args: [u64; 6]) -> u32 {
        run(arch, call, args).0
    }

    /// The verdict and the number of instructions it took.
    fn run(arch: u32, call: u32, args: [u64; 6]) -> (u32, usize) {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&call.to_le_bytes());
        data[4..8].copy_from_slice(&arch.to_le_bytes());
        for (i, a) in args.iter().enumerate() {
            data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
        }
        let prog = program();
        let (mut pc, mut a, mut steps) = (0usize, 0u32, 0usize);
        loop {
            let insn = prog[pc];
            steps += 1;
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
                RET => return (insn.k, steps),
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
    fn every_number_is_decided_in_a_few_steps() {
        // The kernel runs the filter over every number when it is installed (its action
        // cache): a list of 45 comparisons made that the slowest part of starting COMMAND.
        let worst = (0..460).map(|n| run(AUDIT_ARCH_X86_64, n, [0; 6]).1).max().unwrap();
        assert!(worst <= 16, "a system call number took {worst} instructions");
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
                JEQ | JGE | JSET => insn.jt.max(insn.jf) as usize,
                _ => 0,
            };
            assert!(pc + 1 + reach < prog.len() || insn.code == RET, "insn {pc}");
        }
        assert_eq!(prog.len(), LEN);
    }
}
