//! An OCI seccomp profile (config.json's `linux.seccomp`, runtime-spec config-linux.md
//! "Seccomp") compiled to a classic BPF program for x86_64: [`compile`] checks the whole
//! profile, then writes the program (or only counts it), and gives the seccomp(2) flags.
//! Tested with a small interpreter, as src/seccomp.rs's default filter is, and installed
//! in a thread of the tests so that the kernel checks and runs it too.
//!
//! What a profile means here:
//! - `defaultAction` for every call no rule decides; the rules of `syscalls[]` are tried in
//!   order for a call they name, and the first whose `args` conditions all hold gives its
//!   `action`. Conditions are ANDed, also two on one argument (runc adds those as separate
//!   rules instead, which ORs them). Actions: SCMP_ACT_KILL (a thread), _KILL_THREAD,
//!   _KILL_PROCESS, _TRAP, _ERRNO and _TRACE (with `errnoRet`, or `defaultErrnoRet` for the
//!   default action; EPERM when absent, as the spec says; an errnoRet on any other action is
//!   refused, as it says too), _ALLOW, _LOG. SCMP_ACT_NOTIFY is refused (EOPNOTSUPP): it
//!   needs a seccomp agent at `listenerPath`, which husk does not support; without it,
//!   `listenerPath` and `listenerMetadata` are ignored.
//! - Names are x86_64's (a table built from linux-raw-sys's numbers); a name x86_64 does not
//!   have (`_llseek`, `mmap2`, `set_tls`…, which podman's profile lists for other
//!   architectures) is skipped, as libseccomp and runc do.
//! - Conditions compare the 64-bit argument unsigned, as libseccomp does: the high halves
//!   first, then the low ones. SCMP_CMP_MASKED_EQ is `arg & value == valueTwo`.
//! - `flags`: SECCOMP_FILTER_FLAG_TSYNC, _LOG, _SPEC_ALLOW, _WAIT_KILLABLE_RECV.
//!
//! Architectures: husk knows x86_64's numbers only. A call made with another convention
//! (`int 0x80`, so AUDIT_ARCH_I386, or any other arch value) and an x32 call (its number has
//! bit 30) cannot be matched against the rules, so it gets the default action, which for an
//! allow-list profile such as podman's refuses it. With a deny-list profile (default
//! SCMP_ACT_ALLOW or _LOG) that would run every rule around: those calls are killed instead
//! (KILL_PROCESS; libseccomp's answer for an architecture outside the filter is a kill too).
//! x86_64 is always in the filter, listed or not (libseccomp's native architecture is).
//! Listing SCMP_ARCH_X86 changes nothing (husk has no i386 table). Listing SCMP_ARCH_X32
//! lets x32 calls below 512 through the rules under their x86_64 number, without bit 30:
//! those are the calls x32 shares with x86_64 (the kernel answers the 64-bit-only ones
//! ENOSYS); x32's own entries from 512 (its compat ioctl, readv, execve…) get the answer
//! above, so no rule is run around.
//!
//! Layout: the number is looked up by a binary search over the ranges of numbers that get
//! the same answer (a JGE per boundary), not by one comparison per name: podman's profile
//! allows 307 of x86_64's 382 calls, which fall in 61 ranges (0 to 2^32-1 is covered: the
//! numbers past the table are one more range), 178 instructions in all, at most 6 JGEs
//! after the architecture check to reach any answer. A range whose calls answer the same whatever the arguments ends in
//! a RET in the tree itself; one whose rules look at the arguments jumps (JA, 32 bits) to
//! them, compiled after the tree once per distinct list of rules (a rule with conditions
//! naming 300 calls is compiled once). The tree's conditional jumps span one subtree, in
//! 8 bits: a subtree of more than 254 instructions is reached through a JA. The kernel runs
//! a filter over every number when it is installed (seccomp's action cache), so few
//! instructions per number also make installing it fast.

use linux_raw_sys::general as nr;
use linux_raw_sys::ptrace::{
    AUDIT_ARCH_X86_64, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS,
    SECCOMP_RET_KILL_THREAD, SECCOMP_RET_LOG, SECCOMP_RET_TRACE, SECCOMP_RET_TRAP,
};
use rustix::io::Errno;

use crate::error::Failure;
use crate::json::{Items, Kind, Value};
use crate::seccomp::{ARCH, Insn, JEQ, JGE, LD_W_ABS, NR, RET, X32_BIT};
use crate::text::{fields, position};

const JGT: u16 = 0x25; // if A > k
const JA: u16 = 0x05; // pc += k (32 bits)
const AND: u16 = 0x54; // A &= k

/// The most instructions the kernel takes in one program (BPF_MAXINSNS).
pub const MAX_INSNS: usize = 4096;

/// The most conditions in one rule: six arguments, and room for ranges on a few.
pub const MAX_CONDITIONS: usize = 8;

/// The first argument's low half in struct seccomp_data.
const ARG0: u32 = 16;

/// A compiled profile: its program is `out[..len]` of [`compile`]'s buffer (when that was
/// shorter, only counted: check `len <= out.len()`, or give [`MAX_INSNS`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Filter {
    pub len: usize,
    /// SECCOMP_FILTER_FLAG_* for seccomp(2), from the profile's `flags`.
    pub flags: u32,
}

/// No index (in [`Error`]).
pub const NONE: u16 = u16::MAX;

/// Why a profile was refused, and where: `linux.seccomp` `.syscalls[rule]` `.args[arg]`
/// `.field` `[item]`, each part when it is not [`NONE`] (or, for the field, empty). Eight
/// bytes: the field and the reason are indices into tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    pub rule: u16,
    pub arg: u16,
    pub item: u16,
    field: u8,
    why: u8,
}

/// The members a profile has, by index: the keys looked up and the places named in errors.
const FIELDS: &[u8] =
    b" defaultAction defaultErrnoRet action errnoRet flags architectures syscalls names args index value valueTwo op";
const WHOLE: u8 = 0;
const DEFAULT_ACTION: u8 = 1;
const ACTION: u8 = 3;
const FLAGS: u8 = 5;
const ARCHITECTURES: u8 = 6;
const SYSCALLS: u8 = 7;
const NAMES_: u8 = 8;
const ARGS: u8 = 9;
const INDEX: u8 = 10;
const VALUE: u8 = 11;
const VALUE_TWO: u8 = 12;
const OP: u8 = 13;

/// Why, by index: a hint, with EINVAL but where [`Error::errno`] says otherwise.
const WHY: [&str; 14] = [
    "must be an object",
    "must be SCMP_ACT_KILL, _KILL_THREAD, _KILL_PROCESS, _TRAP, _ERRNO, _TRACE, _ALLOW or _LOG",
    "SCMP_ACT_NOTIFY needs a seccomp agent (listenerPath), which husk does not support",
    "only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take one",
    "must be an integer from 0 to 65535",
    "must be 0 to 5",
    "must be an integer from 0 to 18446744073709551615",
    "must be SCMP_CMP_NE, _LT, _LE, _EQ, _GE, _GT or _MASKED_EQ",
    "must be SECCOMP_FILTER_FLAG_TSYNC, _LOG, _SPEC_ALLOW or _WAIT_KILLABLE_RECV",
    "must be SCMP_ARCH_ names",
    "must be a list",
    "must be a list of system call names",
    "at most 8 conditions in a rule, 65534 rules",
    "the profile needs more than 4096 BPF instructions",
];
const NOT_OBJECT: u8 = 0;
const BAD_ACTION: u8 = 1;
const NOTIFY: u8 = 2;
const NO_DATA: u8 = 3;
const BAD_DATA: u8 = 4;
const BAD_INDEX: u8 = 5;
const BAD_NUMBER: u8 = 6;
const BAD_OP: u8 = 7;
const BAD_FLAG: u8 = 8;
const BAD_ARCH: u8 = 9;
const NOT_LIST: u8 = 10;
const BAD_NAME: u8 = 11;
const TOO_MANY: u8 = 12;
const TOO_BIG: u8 = 13;

const fn bad(rule: u16, field: u8, why: u8) -> Error {
    Error { rule, arg: NONE, item: NONE, field, why }
}

impl Error {
    pub fn errno(&self) -> Errno {
        match self.why {
            NOTIFY => Errno::OPNOTSUPP,
            TOO_MANY | TOO_BIG => Errno::TOOBIG,
            _ => Errno::INVAL,
        }
    }

    pub fn hint(&self) -> &'static str {
        WHY[self.why as usize]
    }

    /// The place in config.json: `linux.seccomp.syscalls[3].args[0].op`.
    pub fn path<'b>(&self, buf: &'b mut [u8; 80]) -> &'b [u8] {
        let mut len = 0;
        let mut put = |part: &[u8]| {
            for &b in part {
                if let Some(slot) = buf.get_mut(len) {
                    *slot = b;
                    len += 1;
                }
            }
        };
        put(b"linux.seccomp");
        for (n, name) in [(self.rule, &b".syscalls"[..]), (self.arg, b".args"), (self.item, b"")] {
            if name.is_empty() && self.field != WHOLE {
                put(b".");
                put(key(self.field));
            }
            if n != NONE {
                put(name);
                put(b"[");
                put(crate::text::digits(n as u64, 10, &mut [0; 24]).to_bytes());
                put(b"]");
            }
        }
        &buf[..len]
    }

    /// The one line: `husk: config.json linux.seccomp.syscalls[3].action: … (EINVAL): hint`.
    pub fn failure<'b>(&self, buf: &'b mut [u8; 80]) -> Failure<'b> {
        Failure::new("config.json", self.path(buf), self.errno()).with_hint(self.hint())
    }
}

fn key(field: u8) -> &'static [u8] {
    fields(FIELDS, b' ').nth(field as usize).unwrap_or_default()
}

/// `object[field]`; null counts as absent.
fn member(object: Value, field: u8) -> Option<Value> {
    object.get(key(field)).filter(|v| v.kind() != Kind::Null)
}

/// The items of the list `object[field]` (none when absent), or why not: rule `rule`'s
/// field is not a list.
fn list(object: Value, field: u8, rule: u16) -> Result<Items, Error> {
    match member(object, field) {
        Some(v) if v.kind() != Kind::Array => Err(bad(rule, field, NOT_LIST)),
        // An object's items are none.
        v => Ok(v.unwrap_or(object).items()),
    }
}

const ACTIONS: &[u8] = b"SCMP_ACT_KILL SCMP_ACT_KILL_THREAD SCMP_ACT_KILL_PROCESS SCMP_ACT_TRAP \
    SCMP_ACT_ERRNO SCMP_ACT_TRACE SCMP_ACT_ALLOW SCMP_ACT_LOG SCMP_ACT_NOTIFY";
const RETS: [u32; 8] = [
    SECCOMP_RET_KILL_THREAD,
    SECCOMP_RET_KILL_THREAD,
    SECCOMP_RET_KILL_PROCESS,
    SECCOMP_RET_TRAP,
    SECCOMP_RET_ERRNO,
    SECCOMP_RET_TRACE,
    SECCOMP_RET_ALLOW,
    SECCOMP_RET_LOG,
];
const EPERM: u32 = 1;

const OPS: &[u8] =
    b"SCMP_CMP_NE SCMP_CMP_LT SCMP_CMP_LE SCMP_CMP_EQ SCMP_CMP_GE SCMP_CMP_GT SCMP_CMP_MASKED_EQ";
/// libseccomp's comparisons, in the order of [`OPS`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    MaskedEq,
}
const OP_LIST: [Op; 7] = [Op::Ne, Op::Lt, Op::Le, Op::Eq, Op::Ge, Op::Gt, Op::MaskedEq];

impl Op {
    /// Instructions it compiles to.
    fn len(self) -> usize {
        match self {
            Op::Ne | Op::Eq => 4,
            Op::MaskedEq => 6,
            _ => 5,
        }
    }
}

const FLAG_NAMES: &[u8] =
    b"SECCOMP_FILTER_FLAG_TSYNC SECCOMP_FILTER_FLAG_LOG SECCOMP_FILTER_FLAG_SPEC_ALLOW \
    SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV";
const FLAG_BITS: [u32; 4] = [1, 2, 4, 32];

/// Where a JSON string is found among the words of `table` (names, actions, ops and flags
/// are short).
fn find(value: Value, table: &'static [u8]) -> Option<usize> {
    position(table, text(value, &mut [0; 40])?)
}

/// A JSON string's text, when it fits `buf`.
fn text<'b>(value: Value, buf: &'b mut [u8; 40]) -> Option<&'b [u8]> {
    let n = value.as_str()?.unescape_into(buf)?;
    Some(&buf[..n])
}

/// The SECCOMP_RET_* value of `object[field]` (an action), with its data from the member
/// after it (`errnoRet`).
fn action(object: Value, field: u8, rule: u16) -> Result<u32, Error> {
    let i = member(object, field).and_then(|v| find(v, ACTIONS)).ok_or(bad(rule, field, BAD_ACTION))?;
    let ret = *RETS.get(i).ok_or(bad(rule, field, NOTIFY))?;
    let takes_data = ret == SECCOMP_RET_ERRNO || ret == SECCOMP_RET_TRACE;
    match member(object, field + 1) {
        None => Ok(if takes_data { ret | EPERM } else { ret }),
        Some(_) if !takes_data => Err(bad(rule, field + 1, NO_DATA)),
        Some(v) => match v.as_u64() {
            Some(data) if data <= 0xffff => Ok(ret | data as u32),
            _ => Err(bad(rule, field + 1, BAD_DATA)),
        },
    }
}

/// One condition of a rule's `args`.
struct Condition {
    op: Op,
    index: u32,
    value: u64,
    two: u64,
}

fn condition(arg: Value, rule: u16, at: u16) -> Result<Condition, Error> {
    let fail = |field, why| Error { arg: at, ..bad(rule, field, why) };
    let number = |field| member(arg, field).and_then(|v| v.as_u64());
    let index = number(INDEX).filter(|&i| i < 6).ok_or(fail(INDEX, BAD_INDEX))?;
    let value = number(VALUE).ok_or(fail(VALUE, BAD_NUMBER))?;
    let two = match member(arg, VALUE_TWO) {
        None => 0,
        Some(_) => number(VALUE_TWO).ok_or(fail(VALUE_TWO, BAD_NUMBER))?,
    };
    let op = member(arg, OP).and_then(|v| OP_LIST.get(find(v, OPS)?)).ok_or(fail(OP, BAD_OP))?;
    Ok(Condition { op: *op, index: index as u32, value, two })
}

/// A name's x86_64 number, if it has one: a walk through [`PACKED`].
fn number(name: Value) -> Option<usize> {
    let mut buf = [0; 40];
    let name = text(name, &mut buf)?;
    let (mut n, mut k, mut same) = (0, 0, true);
    for i in 0..NAMES_LEN {
        let s = symbol(i);
        if s == 0 {
            if same && k == name.len() && k > 0 {
                return Some(n);
            }
            (n, k, same) = (n + 1, 0, true);
        } else {
            same &= name.get(k).map(|&c| code(c)) == Some(s);
            k += 1;
        }
    }
    None
}

/// Compiles `profile` (config.json's `linux.seccomp`) into `out`. The program is
/// `out[..len]`; the length is the same whatever `out`, so a call with an empty `out` tells
/// the length (and checks the profile), and an `out` of [`MAX_INSNS`] always holds it.
pub fn compile(profile: Value, out: &mut [Insn]) -> Result<Filter, Error> {
    if profile.kind() != Kind::Object {
        return Err(bad(NONE, WHOLE, NOT_OBJECT));
    }
    let default = action(profile, DEFAULT_ACTION, NONE)?;
    let mut flags = 0;
    for (i, flag) in list(profile, FLAGS, NONE)?.enumerate() {
        let bit = find(flag, FLAG_NAMES).and_then(|b| FLAG_BITS.get(b));
        flags |= bit.ok_or(Error { item: i as u16, ..bad(NONE, FLAGS, BAD_FLAG) })?;
    }
    let mut x32 = false;
    for (i, arch) in list(profile, ARCHITECTURES, NONE)?.enumerate() {
        let mut buf = [0; 40];
        match text(arch, &mut buf) {
            Some(arch) if arch.starts_with(b"SCMP_ARCH_") => x32 |= arch == b"SCMP_ARCH_X32",
            _ => return Err(Error { item: i as u16, ..bad(NONE, ARCHITECTURES, BAD_ARCH) }),
        }
    }
    let rules = list(profile, SYSCALLS, NONE)?;
    let mut c =
        Compiler { rules, default, first: [NONE; NSYS], key: [0; NSYS], at: [0; NSYS], out, pc: 0, fail: 0 };
    for (r, rule) in rules.enumerate() {
        c.check(rule, r)?;
    }
    // Downwards: a number's class looks at the keys below it.
    for n in (0..NSYS).rev() {
        c.key[n] = c.class(n);
    }
    let foreign = if default == SECCOMP_RET_ALLOW || default == SECCOMP_RET_LOG {
        SECCOMP_RET_KILL_PROCESS
    } else {
        default
    };
    c.put(LD_W_ABS, 0, 0, ARCH);
    c.put(JEQ, 0, 2, AUDIT_ARCH_X86_64);
    c.put(LD_W_ABS, 0, 0, NR);
    c.put(JGE, 0, 1, if x32 { X32_BIT | 512 } else { X32_BIT });
    c.put(RET, 0, 0, foreign);
    if x32 {
        c.put(AND, 0, 0, !X32_BIT);
    }
    // The ranges: where each starts.
    let mut starts = [0u16; NSYS + 1];
    let mut ranges = 1;
    let mut last = c.key[0];
    for n in 1..=NSYS {
        let class = c.key.get(n).copied().unwrap_or(default as Class);
        if class != last {
            starts[ranges] = n as u16;
            ranges += 1;
            last = class;
        }
    }
    let mut end = c.pc + tree_len(ranges);
    c.tree(&starts[..ranges], &mut end)?;
    if end > MAX_INSNS {
        return Err(bad(NONE, WHOLE, TOO_BIG));
    }
    Ok(Filter { len: end, flags })
}

/// Instructions of a search tree over `ranges` ranges (each leaf is one: a RET or a JA).
fn tree_len(ranges: usize) -> usize {
    if ranges <= 1 {
        return 1;
    }
    let left = tree_len(ranges / 2);
    1 + (left > MAX_JUMP) as usize + left + tree_len(ranges - ranges / 2)
}

/// A range's answer: a SECCOMP_RET_* value, or (from bit 32 up) the smallest number whose
/// rules it shares.
type Class = u64;
const RULES: Class = 1 << 32;
/// Marks a key that is a hash (see [`Compiler::key`]).
const HASHED: u64 = 1 << 63;

/// Stands for the jump to the next rule in [`Compiler::put`].
const FAIL: u8 = 0xff;
/// The longest conditional jump [`Compiler::put`] writes as it is (0xff is [`FAIL`]).
const MAX_JUMP: usize = 254;

struct Compiler<'a, 'o> {
    rules: Items<'a>,
    default: u32,
    /// For each number: the first rule that names it, and its key: while the rules are
    /// checked, the action of that rule when it has no conditions, else (from [`HASHED`]
    /// up) a hash of all the rules that name it (FNV-1a over their indices), so that
    /// numbers alike in both share their rules' code; then its [`Class`].
    first: [u16; NSYS],
    key: [u64; NSYS],
    /// Where the code of a number's rules is, once written.
    at: [u32; NSYS],
    out: &'o mut [Insn],
    pc: usize,
    /// Where a failed condition goes: the next rule.
    fail: usize,
}

impl<'a> Compiler<'a, '_> {
    fn put(&mut self, code: u16, jt: u8, jf: u8, k: u32) {
        let to = |j: u8| if j == FAIL { self.fail.wrapping_sub(self.pc + 1) as u8 } else { j };
        let insn = Insn { code, jt: to(jt), jf: to(jf), k };
        if let Some(slot) = self.out.get_mut(self.pc) {
            *slot = insn;
        }
        self.pc += 1;
    }

    /// Checks rule `r` whole and notes the numbers it names.
    fn check(&mut self, rule: Value, r: usize) -> Result<(), Error> {
        let r16 = r as u16;
        if r16 == NONE {
            return Err(bad(NONE, SYSCALLS, TOO_MANY));
        }
        if rule.kind() != Kind::Object {
            return Err(Error { item: r16, ..bad(NONE, SYSCALLS, NOT_OBJECT) });
        }
        let ret = action(rule, ACTION, r16)?;
        let mut plain = true;
        for (a, arg) in list(rule, ARGS, r16)?.enumerate() {
            plain = false;
            if a == MAX_CONDITIONS {
                return Err(bad(r16, ARGS, TOO_MANY));
            }
            condition(arg, r16, a as u16)?;
        }
        if member(rule, NAMES_).map(|v| v.kind()) != Some(Kind::Array) {
            return Err(bad(r16, NAMES_, BAD_NAME));
        }
        for (i, name) in list(rule, NAMES_, r16)?.enumerate() {
            if name.kind() != Kind::String {
                return Err(Error { item: i as u16, ..bad(r16, NAMES_, BAD_NAME) });
            }
            if let Some(n) = number(name) {
                let key = &mut self.key[n];
                if self.first[n] == NONE {
                    self.first[n] = r16;
                    *key = if plain { ret as u64 } else { HASHED };
                }
                if *key >= HASHED {
                    *key = (*key ^ (r as u64 + 1)).wrapping_mul(0x100_0000_01b3) | HASHED;
                }
            }
        }
        Ok(())
    }

    /// Number `n`'s class, from the keys of `n` and those below it.
    fn class(&self, n: usize) -> Class {
        let (first, key) = (self.first[n], self.key[n]);
        if first == NONE {
            return self.default as Class;
        }
        if key < HASHED {
            return key;
        }
        let same = |m: &usize| self.first[*m] == first && self.key[*m] == key;
        RULES | (0..n).find(same).unwrap_or(n) as Class
    }

    /// The search tree over the ranges that start at `starts`; the rules' code goes at `end`.
    fn tree(&mut self, starts: &[u16], end: &mut usize) -> Result<(), Error> {
        if let [start] = *starts {
            let class = self.key.get(start as usize).copied().unwrap_or(self.default as Class);
            if class < RULES {
                self.put(RET, 0, 0, class as u32);
                return Ok(());
            }
            let n = (class - RULES) as usize;
            if self.at[n] == 0 {
                let here = self.pc;
                self.pc = *end;
                self.at[n] = self.pc as u32;
                self.rules_of(n)?;
                *end = self.pc;
                self.pc = here;
            }
            self.put(JA, 0, 0, self.at[n].wrapping_sub(self.pc as u32 + 1));
            return Ok(());
        }
        let mid = starts.len() / 2;
        let left = tree_len(mid);
        if left > MAX_JUMP {
            self.put(JGE, 0, 1, starts[mid] as u32);
            self.put(JA, 0, 0, left as u32);
        } else {
            self.put(JGE, left as u8, 0, starts[mid] as u32);
        }
        self.tree(&starts[..mid], end)?;
        self.tree(&starts[mid..], end)
    }

    /// The rules for number `n` in order, then the default.
    fn rules_of(&mut self, n: usize) -> Result<(), Error> {
        for (r, rule) in self.rules.enumerate().skip(self.first[n] as usize) {
            let r = r as u16;
            if !list(rule, NAMES_, r)?.any(|name| number(name) == Some(n)) {
                continue;
            }
            let mut len = 1;
            for (a, arg) in list(rule, ARGS, r)?.enumerate() {
                len += condition(arg, r, a as u16)?.op.len();
            }
            self.fail = self.pc + len;
            for (a, arg) in list(rule, ARGS, r)?.enumerate() {
                self.condition(&condition(arg, r, a as u16)?);
            }
            self.put(RET, 0, 0, action(rule, ACTION, r)?);
            if len == 1 {
                return Ok(());
            }
        }
        self.put(RET, 0, 0, self.default);
        Ok(())
    }

    /// Falls through when `c` holds, else jumps to the next rule. Unsigned 64-bit
    /// comparisons: the high halves decide unless they are equal.
    fn condition(&mut self, c: &Condition) {
        let low = ARG0 + 8 * c.index;
        let (vh, vl) = ((c.value >> 32) as u32, c.value as u32);
        self.put(LD_W_ABS, 0, 0, low + 4);
        match c.op {
            Op::Ne | Op::Eq => {
                let eq = c.op == Op::Eq;
                self.put(JEQ, 0, if eq { FAIL } else { 2 }, vh);
                self.put(LD_W_ABS, 0, 0, low);
                self.put(JEQ, if eq { 0 } else { FAIL }, if eq { FAIL } else { 0 }, vl);
            }
            Op::Ge | Op::Gt => {
                self.put(JGT, 3, 0, vh);
                self.put(JEQ, 0, FAIL, vh);
                self.put(LD_W_ABS, 0, 0, low);
                self.put(if c.op == Op::Gt { JGT } else { JGE }, 0, FAIL, vl);
            }
            Op::Lt | Op::Le => {
                self.put(JGT, FAIL, 0, vh);
                self.put(JEQ, 0, 2, vh);
                self.put(LD_W_ABS, 0, 0, low);
                self.put(if c.op == Op::Le { JGT } else { JGE }, FAIL, 0, vl);
            }
            Op::MaskedEq => {
                // (arg & value) == valueTwo
                self.put(AND, 0, 0, vh);
                self.put(JEQ, 0, FAIL, (c.two >> 32) as u32);
                self.put(LD_W_ABS, 0, 0, low);
                self.put(AND, 0, 0, vl);
                self.put(JEQ, 0, FAIL, c.two as u32);
            }
        }
    }
}

/// x86_64's system calls, each with its number from linux-raw-sys.
macro_rules! calls {
    ($($nr:ident)*) => { &[$((stringify!($nr).as_bytes(), nr::$nr)),*] };
}
const CALLS: &[(&[u8], u32)] = calls!(
    __NR_read __NR_write __NR_open __NR_close __NR_stat __NR_fstat __NR_lstat __NR_poll
    __NR_lseek __NR_mmap __NR_mprotect __NR_munmap __NR_brk __NR_rt_sigaction __NR_rt_sigprocmask
    __NR_rt_sigreturn __NR_ioctl __NR_pread64 __NR_pwrite64 __NR_readv __NR_writev __NR_access
    __NR_pipe __NR_select __NR_sched_yield __NR_mremap __NR_msync __NR_mincore __NR_madvise __NR_shmget
    __NR_shmat __NR_shmctl __NR_dup __NR_dup2 __NR_pause __NR_nanosleep __NR_getitimer __NR_alarm
    __NR_setitimer __NR_getpid __NR_sendfile __NR_socket __NR_connect __NR_accept __NR_sendto
    __NR_recvfrom __NR_sendmsg __NR_recvmsg __NR_shutdown __NR_bind __NR_listen __NR_getsockname
    __NR_getpeername __NR_socketpair __NR_setsockopt __NR_getsockopt __NR_clone __NR_fork __NR_vfork
    __NR_execve __NR_exit __NR_wait4 __NR_kill __NR_uname __NR_semget __NR_semop __NR_semctl
    __NR_shmdt __NR_msgget __NR_msgsnd __NR_msgrcv __NR_msgctl __NR_fcntl __NR_flock __NR_fsync
    __NR_fdatasync __NR_truncate __NR_ftruncate __NR_getdents __NR_getcwd __NR_chdir __NR_fchdir
    __NR_rename __NR_mkdir __NR_rmdir __NR_creat __NR_link __NR_unlink __NR_symlink __NR_readlink
    __NR_chmod __NR_fchmod __NR_chown __NR_fchown __NR_lchown __NR_umask __NR_gettimeofday
    __NR_getrlimit __NR_getrusage __NR_sysinfo __NR_times __NR_ptrace __NR_getuid __NR_syslog
    __NR_getgid __NR_setuid __NR_setgid __NR_geteuid __NR_getegid __NR_setpgid __NR_getppid
    __NR_getpgrp __NR_setsid __NR_setreuid __NR_setregid __NR_getgroups __NR_setgroups
    __NR_setresuid __NR_getresuid __NR_setresgid __NR_getresgid __NR_getpgid __NR_setfsuid
    __NR_setfsgid __NR_getsid __NR_capget __NR_capset __NR_rt_sigpending __NR_rt_sigtimedwait
    __NR_rt_sigqueueinfo __NR_rt_sigsuspend __NR_sigaltstack __NR_utime __NR_mknod __NR_uselib
    __NR_personality __NR_ustat __NR_statfs __NR_fstatfs __NR_sysfs __NR_getpriority __NR_setpriority
    __NR_sched_setparam __NR_sched_getparam __NR_sched_setscheduler __NR_sched_getscheduler
    __NR_sched_get_priority_max __NR_sched_get_priority_min __NR_sched_rr_get_interval __NR_mlock
    __NR_munlock __NR_mlockall __NR_munlockall __NR_vhangup __NR_modify_ldt __NR_pivot_root
    __NR__sysctl __NR_prctl __NR_arch_prctl __NR_adjtimex __NR_setrlimit __NR_chroot __NR_sync
    __NR_acct __NR_settimeofday __NR_mount __NR_umount2 __NR_swapon __NR_swapoff __NR_reboot
    __NR_sethostname __NR_setdomainname __NR_iopl __NR_ioperm __NR_create_module __NR_init_module
    __NR_delete_module __NR_get_kernel_syms __NR_query_module __NR_quotactl __NR_nfsservctl
    __NR_getpmsg __NR_putpmsg __NR_afs_syscall __NR_tuxcall __NR_security __NR_gettid
    __NR_readahead __NR_setxattr __NR_lsetxattr __NR_fsetxattr __NR_getxattr __NR_lgetxattr
    __NR_fgetxattr __NR_listxattr __NR_llistxattr __NR_flistxattr __NR_removexattr __NR_lremovexattr
    __NR_fremovexattr __NR_tkill __NR_time __NR_futex __NR_sched_setaffinity __NR_sched_getaffinity
    __NR_set_thread_area __NR_io_setup __NR_io_destroy __NR_io_getevents __NR_io_submit __NR_io_cancel
    __NR_get_thread_area __NR_lookup_dcookie __NR_epoll_create __NR_epoll_ctl_old __NR_epoll_wait_old
    __NR_remap_file_pages __NR_getdents64 __NR_set_tid_address __NR_restart_syscall __NR_semtimedop
    __NR_fadvise64 __NR_timer_create __NR_timer_settime __NR_timer_gettime __NR_timer_getoverrun
    __NR_timer_delete __NR_clock_settime __NR_clock_gettime __NR_clock_getres __NR_clock_nanosleep
    __NR_exit_group __NR_epoll_wait __NR_epoll_ctl __NR_tgkill __NR_utimes __NR_vserver __NR_mbind
    __NR_set_mempolicy __NR_get_mempolicy __NR_mq_open __NR_mq_unlink __NR_mq_timedsend
    __NR_mq_timedreceive __NR_mq_notify __NR_mq_getsetattr __NR_kexec_load __NR_waitid
    __NR_add_key __NR_request_key __NR_keyctl __NR_ioprio_set __NR_ioprio_get __NR_inotify_init
    __NR_inotify_add_watch __NR_inotify_rm_watch __NR_migrate_pages __NR_openat __NR_mkdirat
    __NR_mknodat __NR_fchownat __NR_futimesat __NR_newfstatat __NR_unlinkat __NR_renameat
    __NR_linkat __NR_symlinkat __NR_readlinkat __NR_fchmodat __NR_faccessat __NR_pselect6 __NR_ppoll
    __NR_unshare __NR_set_robust_list __NR_get_robust_list __NR_splice __NR_tee __NR_sync_file_range
    __NR_vmsplice __NR_move_pages __NR_utimensat __NR_epoll_pwait __NR_signalfd __NR_timerfd_create
    __NR_eventfd __NR_fallocate __NR_timerfd_settime __NR_timerfd_gettime __NR_accept4 __NR_signalfd4
    __NR_eventfd2 __NR_epoll_create1 __NR_dup3 __NR_pipe2 __NR_inotify_init1 __NR_preadv __NR_pwritev
    __NR_rt_tgsigqueueinfo __NR_perf_event_open __NR_recvmmsg __NR_fanotify_init __NR_fanotify_mark
    __NR_prlimit64 __NR_name_to_handle_at __NR_open_by_handle_at __NR_clock_adjtime __NR_syncfs
    __NR_sendmmsg __NR_setns __NR_getcpu __NR_process_vm_readv __NR_process_vm_writev __NR_kcmp
    __NR_finit_module __NR_sched_setattr __NR_sched_getattr __NR_renameat2 __NR_seccomp __NR_getrandom
    __NR_memfd_create __NR_kexec_file_load __NR_bpf __NR_execveat __NR_userfaultfd __NR_membarrier
    __NR_mlock2 __NR_copy_file_range __NR_preadv2 __NR_pwritev2 __NR_pkey_mprotect __NR_pkey_alloc
    __NR_pkey_free __NR_statx __NR_io_pgetevents __NR_rseq __NR_uretprobe __NR_pidfd_send_signal
    __NR_io_uring_setup __NR_io_uring_enter __NR_io_uring_register __NR_open_tree __NR_move_mount
    __NR_fsopen __NR_fsconfig __NR_fsmount __NR_fspick __NR_pidfd_open __NR_clone3 __NR_close_range
    __NR_openat2 __NR_pidfd_getfd __NR_faccessat2 __NR_process_madvise __NR_epoll_pwait2
    __NR_mount_setattr __NR_quotactl_fd __NR_landlock_create_ruleset __NR_landlock_add_rule
    __NR_landlock_restrict_self __NR_memfd_secret __NR_process_mrelease __NR_futex_waitv
    __NR_set_mempolicy_home_node __NR_cachestat __NR_fchmodat2 __NR_map_shadow_stack __NR_futex_wake
    __NR_futex_wait __NR_futex_requeue __NR_statmount __NR_listmount __NR_lsm_get_self_attr
    __NR_lsm_set_self_attr __NR_lsm_list_modules __NR_mseal __NR_setxattrat __NR_getxattrat
    __NR_listxattrat __NR_removexattrat __NR_open_tree_attr __NR_file_getattr __NR_file_setattr
);

/// One more than the highest number.
const NSYS: usize = {
    let (mut max, mut i) = (0, 0);
    while i < CALLS.len() {
        if CALLS[i].1 as usize >= max {
            max = CALLS[i].1 as usize + 1;
        }
        i += 1;
    }
    max
};

/// The names in number order, each ended by a NUL, numbers without a call empty: name `n`
/// is the `n`th piece. Only for building [`PACKED`].
const NAMES: [u8; NAMES_LEN] = {
    let mut table = [0; NAMES_LEN];
    let (mut at, mut n) = (0, 0);
    while n < NSYS {
        let mut i = 0;
        let mut seen = false;
        while i < CALLS.len() {
            if CALLS[i].1 as usize == n {
                assert!(!seen, "two names for one number");
                seen = true;
                let name = CALLS[i].0;
                let mut k = 5; // past `__NR_`
                while k < name.len() {
                    table[at] = name[k];
                    at += 1;
                    k += 1;
                }
            }
            i += 1;
        }
        at += 1;
        n += 1;
    }
    table
};
const NAMES_LEN: usize = {
    let (mut len, mut i) = (NSYS, 0);
    while i < CALLS.len() {
        len += CALLS[i].0.len() - 5;
        i += 1;
    }
    len
};

/// A character of a name in 6 bits: 1 to 26 for a to z, 27 for `_`, 28 to 37 for the
/// digits (0 ends a name); 0xff for any other byte.
const fn code(c: u8) -> u8 {
    match c {
        b'a'..=b'z' => c - b'a' + 1,
        b'_' => 27,
        b'0'..=b'9' => c - b'0' + 28,
        _ => 0xff,
    }
}

/// [`NAMES`] in 6 bits a character, little-endian: three quarters of its size (the name
/// table is most of this module's bytes; a table of `&str` would add two words per name).
static PACKED: [u8; PACKED_LEN] = {
    let mut packed = [0; PACKED_LEN];
    let mut i = 0;
    while i < NAMES_LEN {
        let c = if NAMES[i] == 0 { 0 } else { code(NAMES[i]) };
        assert!(c != 0xff, "a name outside a-z, _ and 0-9");
        let bit = 6 * i;
        let v = (c as u16) << (bit % 8);
        packed[bit / 8] |= v as u8;
        packed[bit / 8 + 1] |= (v >> 8) as u8;
        i += 1;
    }
    packed
};
const PACKED_LEN: usize = NAMES_LEN * 6 / 8 + 2;

/// The `i`th character of [`PACKED`].
fn symbol(i: usize) -> u8 {
    let bit = 6 * i;
    let pair = u16::from_le_bytes([PACKED[bit / 8], PACKED[bit / 8 + 1]]);
    (pair >> (bit % 8)) as u8 & 63
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;

    const JSET: u16 = 0x45;
    const I386: u32 = 0x4000_0003;
    const ALLOW: u32 = SECCOMP_RET_ALLOW;
    const ERRNO: u32 = SECCOMP_RET_ERRNO;

    fn compiled(profile: &str) -> Vec<Insn> {
        let value = parse(profile.as_bytes()).unwrap();
        let len = compile(value, &mut []).unwrap().len;
        let mut prog = vec![Insn { code: 0, jt: 0, jf: 0, k: 0 }; len];
        assert_eq!(compile(value, &mut prog).unwrap().len, len);
        check_jumps(&prog);
        prog
    }

    fn refused(profile: &str) -> (String, Errno) {
        let e = compile(parse(profile.as_bytes()).unwrap(), &mut []).unwrap_err();
        (String::from_utf8(e.path(&mut [0; 80]).to_vec()).unwrap(), e.errno())
    }

    /// Every jump lands inside, the last instruction is a RET (the kernel's checks).
    fn check_jumps(prog: &[Insn]) {
        assert!(prog.len() <= MAX_INSNS);
        assert_eq!(prog.last().unwrap().code, RET);
        for (pc, insn) in prog.iter().enumerate() {
            let reach = match insn.code {
                JEQ | JGE | JGT | JSET => insn.jt.max(insn.jf) as usize,
                JA => insn.k as usize,
                _ => 0,
            };
            assert!(insn.code == RET || pc + 1 + reach < prog.len(), "insn {pc} jumps out");
        }
    }

    /// Runs `prog` over a seccomp_data as the kernel would.
    fn run(prog: &[Insn], arch: u32, call: u32, args: [u64; 6]) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&call.to_le_bytes());
        data[4..8].copy_from_slice(&arch.to_le_bytes());
        for (i, a) in args.iter().enumerate() {
            data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
        }
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
                AND => {
                    a &= insn.k;
                    pc + 1
                }
                JEQ => jump(a == insn.k),
                JGT => jump(a > insn.k),
                JGE => jump(a >= insn.k),
                JSET => jump(a & insn.k != 0),
                JA => pc + 1 + insn.k as usize,
                RET => return insn.k,
                other => panic!("unknown opcode {other:#x}"),
            };
        }
    }

    fn call(prog: &[Insn], n: u32, args: [u64; 6]) -> u32 {
        run(prog, AUDIT_ARCH_X86_64, n, args)
    }

    fn one_rule(default: &str, rule: &str) -> Vec<Insn> {
        compiled(&format!(r#"{{"defaultAction":{default},"syscalls":[{rule}]}}"#))
    }

    #[test]
    fn each_action() {
        let cases = [
            (r#""SCMP_ACT_KILL""#, SECCOMP_RET_KILL_THREAD),
            (r#""SCMP_ACT_KILL_THREAD""#, SECCOMP_RET_KILL_THREAD),
            (r#""SCMP_ACT_KILL_PROCESS""#, SECCOMP_RET_KILL_PROCESS),
            (r#""SCMP_ACT_TRAP""#, SECCOMP_RET_TRAP),
            (r#""SCMP_ACT_ERRNO""#, ERRNO | 1),
            (r#""SCMP_ACT_ERRNO","errnoRet":38"#, ERRNO | 38),
            (r#""SCMP_ACT_TRACE""#, SECCOMP_RET_TRACE | 1),
            (r#""SCMP_ACT_TRACE","errnoRet":7"#, SECCOMP_RET_TRACE | 7),
            (r#""SCMP_ACT_ALLOW""#, ALLOW),
            (r#""SCMP_ACT_LOG""#, SECCOMP_RET_LOG),
        ];
        for (action, ret) in cases {
            let prog =
                one_rule(r#""SCMP_ACT_ALLOW""#, &format!(r#"{{"names":["getpid"],"action":{action}}}"#));
            assert_eq!(call(&prog, nr::__NR_getpid, [0; 6]), ret, "{action}");
            assert_eq!(call(&prog, nr::__NR_read, [0; 6]), ALLOW, "{action}");
            // the same as the default action
            let action = action.replace("errnoRet", "defaultErrnoRet");
            let prog = compiled(&format!(r#"{{"defaultAction":{action},"syscalls":[]}}"#));
            assert_eq!(call(&prog, nr::__NR_read, [0; 6]), ret, "{action}");
        }
    }

    #[test]
    fn default_errno_is_for_the_default_only() {
        let prog = compiled(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,
                "syscalls":[{"names":["reboot"],"action":"SCMP_ACT_ERRNO"},{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}"#,
        );
        assert_eq!(call(&prog, nr::__NR_reboot, [0; 6]), ERRNO | 1);
        assert_eq!(call(&prog, nr::__NR_getpid, [0; 6]), ERRNO | 38);
        assert_eq!(call(&prog, 100_000, [0; 6]), ERRNO | 38);
        assert_eq!(call(&prog, nr::__NR_read, [0; 6]), ALLOW);
    }

    /// Values either side of every 32-bit boundary.
    const EDGES: [u64; 13] = [
        0,
        1,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_fffe,
        0xffff_ffff,
        0x1_0000_0000,
        0x1_0000_0001,
        0x1_ffff_ffff,
        0x2_0000_0000,
        0x8000_0000_0000_0000,
        0xffff_ffff_0000_0000,
        u64::MAX,
    ];

    fn holds(op: &str, arg: u64, value: u64, two: u64) -> bool {
        match op {
            "SCMP_CMP_NE" => arg != value,
            "SCMP_CMP_LT" => arg < value,
            "SCMP_CMP_LE" => arg <= value,
            "SCMP_CMP_EQ" => arg == value,
            "SCMP_CMP_GE" => arg >= value,
            "SCMP_CMP_GT" => arg > value,
            "SCMP_CMP_MASKED_EQ" => arg & value == two,
            _ => unreachable!(),
        }
    }

    #[test]
    fn every_op_on_64_bits() {
        let ops = ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT"];
        for op in ops {
            for (i, value) in EDGES.into_iter().enumerate() {
                let index = i % 6;
                let prog = one_rule(
                    r#""SCMP_ACT_ERRNO""#,
                    &format!(
                        r#"{{"names":["getpid"],"action":"SCMP_ACT_ALLOW","args":[{{"index":{index},"value":{value},"op":"{op}"}}]}}"#
                    ),
                );
                for arg in EDGES {
                    let mut args = [0x5555_5555_5555_5555; 6];
                    args[index] = arg;
                    let want = if holds(op, arg, value, 0) { ALLOW } else { ERRNO | 1 };
                    assert_eq!(call(&prog, nr::__NR_getpid, args), want, "{arg:#x} {op} {value:#x}");
                }
            }
        }
    }

    #[test]
    fn masked_eq() {
        for mask in EDGES {
            for two in [0, 1, 0x1_0000_0000, 0x1_0000_0001, 0xffff_ffff, u64::MAX] {
                let prog = one_rule(
                    r#""SCMP_ACT_ALLOW""#,
                    &format!(
                        r#"{{"names":["clone"],"action":"SCMP_ACT_ERRNO","args":[{{"index":0,"value":{mask},"valueTwo":{two},"op":"SCMP_CMP_MASKED_EQ"}}]}}"#
                    ),
                );
                for arg in EDGES {
                    let want = if holds("SCMP_CMP_MASKED_EQ", arg, mask, two) { ERRNO | 1 } else { ALLOW };
                    assert_eq!(
                        call(&prog, nr::__NR_clone, [arg, 0, 0, 0, 0, 0]),
                        want,
                        "{arg:#x} & {mask:#x} == {two:#x}"
                    );
                }
            }
        }
    }

    #[test]
    fn conditions_are_anded() {
        let prog = one_rule(
            r#""SCMP_ACT_ALLOW""#,
            r#"{"names":["getpid"],"action":"SCMP_ACT_ERRNO","args":[
                {"index":0,"value":1,"op":"SCMP_CMP_EQ"},
                {"index":5,"value":4294967296,"op":"SCMP_CMP_GE"},
                {"index":5,"value":8589934592,"op":"SCMP_CMP_LT"}]}"#,
        );
        for a0 in [0, 1, 0x1_0000_0001] {
            for a5 in [0xffff_ffff, 0x1_0000_0000, 0x1_ffff_ffff, 0x2_0000_0000] {
                let all = a0 == 1 && (0x1_0000_0000..0x2_0000_0000).contains(&a5);
                let want = if all { ERRNO | 1 } else { ALLOW };
                assert_eq!(call(&prog, nr::__NR_getpid, [a0, 0, 0, 0, 0, a5]), want, "{a0:#x} {a5:#x}");
            }
        }
    }

    #[test]
    fn first_matching_rule_wins() {
        let prog = compiled(
            r#"{"defaultAction":"SCMP_ACT_KILL_PROCESS","syscalls":[
                {"names":["getpid"],"action":"SCMP_ACT_ERRNO","errnoRet":5,"args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]},
                {"names":["getpid","getppid"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":10,"op":"SCMP_CMP_LE"}]},
                {"names":["getpid"],"action":"SCMP_ACT_ERRNO","errnoRet":6},
                {"names":["getpid"],"action":"SCMP_ACT_ALLOW"}]}"#,
        );
        let pid = |a0| call(&prog, nr::__NR_getpid, [a0, 0, 0, 0, 0, 0]);
        assert_eq!((pid(1), pid(7), pid(11), pid(1 << 32)), (ERRNO | 5, ALLOW, ERRNO | 6, ERRNO | 6));
        let ppid = |a0| call(&prog, nr::__NR_getppid, [a0, 0, 0, 0, 0, 0]);
        assert_eq!((ppid(1), ppid(11)), (ALLOW, SECCOMP_RET_KILL_PROCESS));
        assert_eq!(call(&prog, nr::__NR_read, [0; 6]), SECCOMP_RET_KILL_PROCESS);
    }

    #[test]
    fn calls_with_the_same_rules_share_their_code() {
        let names: Vec<String> =
            (0..300).map(|n| format!("\"{}\"", name_of(n))).filter(|n| n != "\"\"").collect();
        let prog = one_rule(
            r#""SCMP_ACT_ERRNO""#,
            &format!(
                r#"{{"names":[{}],"action":"SCMP_ACT_ALLOW","args":[{{"index":1,"value":3,"op":"SCMP_CMP_NE"}}]}}"#,
                names.join(",")
            ),
        );
        // one copy of the condition, a few ranges
        assert!(prog.len() < 30, "{} instructions", prog.len());
        for n in 0..300 {
            assert_eq!(call(&prog, n, [0, 4, 0, 0, 0, 0]), ALLOW, "{n}");
            assert_eq!(call(&prog, n, [0, 3, 0, 0, 0, 0]), ERRNO | 1, "{n}");
        }
    }

    fn name_of(n: usize) -> &'static str {
        std::str::from_utf8(crate::text::fields(&NAMES, 0).nth(n).unwrap()).unwrap()
    }

    #[test]
    fn the_name_table_is_linux_raw_sys() {
        assert_eq!(name_of(0), "read");
        assert_eq!(name_of(nr::__NR_execve as usize), "execve");
        assert_eq!(name_of(nr::__NR_clone3 as usize), "clone3");
        assert_eq!(name_of(400), "");
        fn value(s: &str) -> Value<'_> {
            parse(s.as_bytes()).unwrap()
        }
        assert_eq!(number(value(r#""openat2""#)), Some(nr::__NR_openat2 as usize));
        assert_eq!(number(value(r#""mmap2""#)), None);
        assert_eq!(number(value(r#""""#)), None);
        assert_eq!(crate::text::fields(&NAMES, 0).filter(|n| !n.is_empty()).count(), CALLS.len());
        // the packed table holds the same names
        let alphabet = b"\0abcdefghijklmnopqrstuvwxyz_0123456789";
        let unpacked: Vec<u8> = (0..NAMES_LEN).map(|i| alphabet[symbol(i) as usize]).collect();
        assert_eq!(unpacked, NAMES);
        assert_eq!(number(value(r#""rt_sigreturn""#)), Some(nr::__NR_rt_sigreturn as usize));
        assert_eq!(number(value(r#""read_""#)), None);
        assert_eq!(number(value(r#""rea""#)), None);
        assert_eq!(number(value(r#""READ""#)), None);
        assert_eq!(number(value(r#""file_setattr""#)), Some(NSYS - 1));
        for n in (0..NSYS).filter(|&n| !name_of(n).is_empty()) {
            let quoted = format!("\"{}\"", name_of(n));
            assert_eq!(number(value(&quoted)), Some(n), "{quoted}");
        }
    }

    #[test]
    fn many_ranges_need_trampolines() {
        // Every call its own answer: up to ~380 ranges, trees wider than an 8-bit jump, of
        // several shapes (a left subtree of 253, 255 and 257 instructions: 0xff is FAIL to
        // put); every third call with a condition, its code past the tree.
        for limit in [130, 254, 255, 256, 260, 300, NSYS] {
            let mut rules = Vec::new();
            for n in (0..limit).filter(|&n| !name_of(n).is_empty()) {
                let name = name_of(n);
                let (errno, trace) = (r#""SCMP_ACT_ERRNO","errnoRet""#, r#""SCMP_ACT_TRACE","errnoRet""#);
                if n % 3 == 0 {
                    let arg = format!(r#"{{"index":2,"value":{},"op":"SCMP_CMP_EQ"}}"#, n % 2);
                    rules.push(format!(r#"{{"names":["{name}"],"action":{errno}:{n},"args":[{arg}]}}"#));
                    rules.push(format!(r#"{{"names":["{name}"],"action":{trace}:{n}}}"#));
                } else {
                    rules.push(format!(r#"{{"names":["{name}"],"action":{errno}:{n}}}"#));
                }
            }
            let profile = format!(r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{}]}}"#, rules.join(","));
            let prog = compiled(&profile);
            let trampoline =
                prog.windows(2).any(|w| (w[0].code, w[0].jt, w[0].jf, w[1].code) == (JGE, 0, 1, JA));
            assert_eq!(trampoline, limit >= 255, "{limit}");
            for n in 0..NSYS as u32 + 5 {
                let known = (n as usize) < limit && !name_of(n as usize).is_empty();
                for a2 in [0, 1] {
                    let want = match known {
                        false => ALLOW,
                        true if n % 3 != 0 || a2 == n as u64 % 2 => ERRNO | n,
                        true => SECCOMP_RET_TRACE | n,
                    };
                    assert_eq!(call(&prog, n, [0, 0, a2, 0, 0, 0]), want, "{limit}: {n} {a2}");
                }
            }
            assert_eq!(call(&prog, u32::MAX >> 2, [0; 6]), ALLOW);
        }
    }

    #[test]
    fn other_architectures_and_x32() {
        let rules = r#""syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ALLOW"},{"names":["reboot"],"action":"SCMP_ACT_ERRNO"}]"#;
        let allow_list =
            compiled(&format!(r#"{{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,{rules}}}"#));
        assert_eq!(run(&allow_list, I386, nr::__NR_getpid, [0; 6]), ERRNO | 38);
        assert_eq!(call(&allow_list, X32_BIT | nr::__NR_getpid, [0; 6]), ERRNO | 38);
        assert_eq!(call(&allow_list, nr::__NR_getpid, [0; 6]), ALLOW);
        let deny_list = compiled(&format!(r#"{{"defaultAction":"SCMP_ACT_ALLOW",{rules}}}"#));
        assert_eq!(call(&deny_list, nr::__NR_reboot, [0; 6]), ERRNO | 1);
        assert_eq!(run(&deny_list, I386, nr::__NR_reboot, [0; 6]), SECCOMP_RET_KILL_PROCESS);
        assert_eq!(call(&deny_list, X32_BIT | nr::__NR_reboot, [0; 6]), SECCOMP_RET_KILL_PROCESS);
        // SCMP_ARCH_X32 listed: x32's calls shared with x86_64 go through the rules
        let x32 = compiled(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],{rules}}}"#
        ));
        assert_eq!(call(&x32, X32_BIT | nr::__NR_reboot, [0; 6]), ERRNO | 1);
        assert_eq!(call(&x32, X32_BIT | nr::__NR_read, [0; 6]), ALLOW);
        assert_eq!(call(&x32, nr::__NR_reboot, [0; 6]), ERRNO | 1);
        // x32's own entries (520 is its execve) and anything past them
        for n in [X32_BIT | 512, X32_BIT | 520, X32_BIT | 0x1000, u32::MAX] {
            assert_eq!(call(&x32, n, [0; 6]), SECCOMP_RET_KILL_PROCESS, "{n:#x}");
        }
        assert_eq!(run(&x32, I386, nr::__NR_read, [0; 6]), SECCOMP_RET_KILL_PROCESS);
    }

    #[test]
    fn unknown_names_are_skipped() {
        let prog = one_rule(
            r#""SCMP_ACT_ERRNO""#,
            r#"{"names":["mmap2","no_such_call","","getpid"],"action":"SCMP_ACT_ALLOW"}"#,
        );
        assert_eq!(call(&prog, nr::__NR_getpid, [0; 6]), ALLOW);
        assert_eq!(call(&prog, nr::__NR_mmap, [0; 6]), ERRNO | 1);
    }

    #[test]
    fn flags() {
        let flags = |list: &str| {
            let p = format!(r#"{{"defaultAction":"SCMP_ACT_ALLOW","flags":{list}}}"#);
            compile(parse(p.as_bytes()).unwrap(), &mut []).map(|f| f.flags)
        };
        assert_eq!(flags("[]"), Ok(0));
        assert_eq!(flags(r#"["SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_SPEC_ALLOW"]"#), Ok(6));
        assert_eq!(
            flags(r#"["SECCOMP_FILTER_FLAG_TSYNC","SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]"#),
            Ok(33)
        );
        let e = flags(r#"["SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_NEW_LISTENER"]"#).unwrap_err();
        assert_eq!(e.path(&mut [0; 80]), b"linux.seccomp.flags[1]");
    }

    #[test]
    fn bad_profiles_are_refused_with_their_path() {
        let rule = |r: &str| {
            format!(
                r#"{{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{{"names":["read"],"action":"SCMP_ACT_ALLOW"}},{r}]}}"#
            )
        };
        // syscalls[1]: the rule, then the place in it
        let rules = [
            (r#""names":["getpid"],"action":"SCMP_ACT_FOO""#, "action"),
            (r#""names":["getpid"]"#, "action"),
            (r#""names":["getpid"],"action":"SCMP_ACT_ALLOW","errnoRet":1"#, "errnoRet"),
            (r#""names":["getpid"],"action":"SCMP_ACT_ERRNO","errnoRet":65536"#, "errnoRet"),
            (r#""names":["getpid"],"action":"SCMP_ACT_ERRNO","errnoRet":-1"#, "errnoRet"),
            (r#""names":"getpid","action":"SCMP_ACT_ALLOW""#, "names"),
            (r#""action":"SCMP_ACT_ALLOW""#, "names"),
            (r#""names":["a","b",3],"action":"SCMP_ACT_ALLOW""#, "names[2]"),
            (r#""names":["a"],"action":"SCMP_ACT_ALLOW","args":{}"#, "args"),
            (r#""index":6,"value":1,"op":"SCMP_CMP_EQ""#, "args[1].index"),
            (r#""value":1,"op":"SCMP_CMP_EQ""#, "args[1].index"),
            (r#""index":1,"value":-1,"op":"SCMP_CMP_EQ""#, "args[1].value"),
            (r#""index":1,"value":18446744073709551616,"op":"SCMP_CMP_EQ""#, "args[1].value"),
            (r#""index":1,"value":1,"valueTwo":"x","op":"SCMP_CMP_EQ""#, "args[1].valueTwo"),
            (r#""index":1,"value":1,"op":"SCMP_CMP_NOT""#, "args[1].op"),
        ];
        for (body, place) in rules {
            let profile = match place.strip_prefix("args[1]") {
                // a second condition after a good one
                Some(_) => rule(&format!(
                    r#"{{"names":["getpid"],"action":"SCMP_ACT_ALLOW","args":[{{"index":0,"value":1,"op":"SCMP_CMP_EQ"}},{{{body}}}]}}"#
                )),
                None => rule(&format!("{{{body}}}")),
            };
            let path = format!("linux.seccomp.syscalls[1].{place}");
            assert_eq!(refused(&profile), (path, Errno::INVAL), "{profile}");
        }
        let whole = [
            (r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":{}}"#, ".syscalls"),
            (r#"{"syscalls":[]}"#, ".defaultAction"),
            (r#"{"defaultAction":"SCMP_ACT_ALLOW","defaultErrnoRet":1}"#, ".defaultErrnoRet"),
            (
                r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64",1]}"#,
                ".architectures[1]",
            ),
            (r#"[]"#, ""),
        ];
        for (profile, place) in whole {
            assert_eq!(refused(profile), (format!("linux.seccomp{place}"), Errno::INVAL), "{profile}");
        }
        let notify = rule(r#"{"names":["getpid"],"action":"SCMP_ACT_NOTIFY"}"#);
        assert_eq!(refused(&notify), ("linux.seccomp.syscalls[1].action".into(), Errno::OPNOTSUPP));
        let nine = [r#"{"index":0,"value":1,"op":"SCMP_CMP_NE"}"#; 9].join(",");
        let (path, errno) =
            refused(&rule(&format!(r#"{{"names":["getpid"],"action":"SCMP_ACT_ALLOW","args":[{nine}]}}"#)));
        assert_eq!((path.as_str(), errno), ("linux.seccomp.syscalls[1].args", Errno::TOOBIG));
    }

    #[test]
    fn the_failure_line() {
        let e = compile(
            parse(br#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":[],"action":"x"}]}"#).unwrap(),
            &mut [],
        )
        .unwrap_err();
        let mut buf = [0; 80];
        let f = e.failure(&mut buf);
        assert_eq!(
            (f.step.bytes(), f.path, f.errno),
            (&b"config.json"[..], &b"linux.seccomp.syscalls[0].action"[..], Errno::INVAL)
        );
        assert!(!f.hint.is_empty());
    }

    #[test]
    fn too_big_is_refused() {
        // 4097 instructions of conditions on getpid
        let rule = r#"{"names":["getpid"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]}"#;
        let profile =
            |n| format!(r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{}]}}"#, vec![rule; n].join(","));
        let fits = compile(parse(profile(800).as_bytes()).unwrap(), &mut []).unwrap();
        assert!(fits.len > 4000 && fits.len <= 4096, "{}", fits.len);
        assert_eq!(refused(&profile(1100)), ("linux.seccomp".to_string(), Errno::TOOBIG));
    }

    /// A profile in Docker's format (podman's default: `archMap`, rules with `includes` and
    /// `excludes` by capability and architecture) as podman writes it into config.json for
    /// a container with podman's default capabilities on amd64.
    fn oci_from_docker(doc: &str) -> String {
        const CAPS: [&str; 11] = [
            "CAP_CHOWN",
            "CAP_DAC_OVERRIDE",
            "CAP_FOWNER",
            "CAP_FSETID",
            "CAP_KILL",
            "CAP_NET_BIND_SERVICE",
            "CAP_SETFCAP",
            "CAP_SETGID",
            "CAP_SETPCAP",
            "CAP_SETUID",
            "CAP_SYS_CHROOT",
        ];
        let root = parse(doc.as_bytes()).unwrap();
        let raw = |v: Value| String::from_utf8(v.raw().to_vec()).unwrap();
        let is = |v: Value, s: &str| v.as_str().unwrap().is(s.as_bytes());
        let any = |list: Option<Value>, set: &[&str]| {
            list.is_some_and(|l| l.items().any(|v| set.iter().any(|s| is(v, s))))
        };
        let mut rules = Vec::new();
        for rule in root.get(b"syscalls").unwrap().items() {
            let (inc, exc) = (rule.get(b"includes").unwrap(), rule.get(b"excludes").unwrap());
            let caps_in = inc.get(b"caps").is_none_or(|c| c.items().all(|v| CAPS.iter().any(|s| is(v, s))));
            let arch_in = inc.get(b"arches").is_none_or(|a| any(Some(a), &["amd64"]));
            if !caps_in || !arch_in || any(exc.get(b"caps"), &CAPS) || any(exc.get(b"arches"), &["amd64"]) {
                continue;
            }
            assert!(inc.get(b"minKernel").is_none());
            let mut r = format!(
                r#"{{"names":{},"action":{}"#,
                raw(rule.get(b"names").unwrap()),
                raw(rule.get(b"action").unwrap())
            );
            for field in ["args", "errnoRet"] {
                if let Some(v) = rule.get(field.as_bytes()) {
                    r += &format!(r#","{field}":{}"#, raw(v));
                }
            }
            rules.push(r + "}");
        }
        let map = root
            .get(b"archMap")
            .unwrap()
            .items()
            .find(|a| is(a.get(b"architecture").unwrap(), "SCMP_ARCH_X86_64"));
        let map = map.unwrap();
        let subs: Vec<String> = map.get(b"subArchitectures").unwrap().items().map(raw).collect();
        format!(
            r#"{{"defaultAction":{},"defaultErrnoRet":{},"architectures":["SCMP_ARCH_X86_64",{}],"syscalls":[{}]}}"#,
            raw(root.get(b"defaultAction").unwrap()),
            raw(root.get(b"defaultErrnoRet").unwrap()),
            subs.join(","),
            rules.join(",")
        )
    }

    /// What `profile` answers for call `n`, evaluated from the JSON directly.
    fn reference(profile: Value, n: u32, args: [u64; 6]) -> u32 {
        let default = action(profile, DEFAULT_ACTION, NONE).unwrap();
        let Some(name) = crate::text::fields(&NAMES, 0).nth(n as usize).filter(|s| !s.is_empty()) else {
            return default;
        };
        for (r, rule) in profile.get(b"syscalls").unwrap().items().enumerate() {
            if !list(rule, NAMES_, 0).unwrap().any(|v| v.as_str().unwrap().is(name)) {
                continue;
            }
            let holds_all = list(rule, ARGS, 0).unwrap().enumerate().all(|(a, arg)| {
                let c = condition(arg, r as u16, a as u16).unwrap();
                let op = std::str::from_utf8(crate::text::words(OPS).nth(c.op as usize).unwrap()).unwrap();
                holds(op, args[c.index as usize], c.value, c.two)
            });
            if holds_all {
                return action(rule, ACTION, r as u16).unwrap();
            }
        }
        default
    }

    #[test]
    fn podmans_default_profile() {
        let docker = std::fs::read_to_string("tests/fixtures/oci/seccomp-default.json").unwrap();
        let text = oci_from_docker(&docker);
        let profile = parse(text.as_bytes()).unwrap();
        let prog = compiled(&text);
        eprintln!("podman's profile: {} instructions", prog.len());
        assert!(prog.len() < 200, "{} instructions", prog.len());
        let enosys = ERRNO | 38;
        let expect = [
            (nr::__NR_read, [0; 6], ALLOW),
            (nr::__NR_clone, [0x1_0000_0000 | nr::CLONE_NEWUSER as u64, 0, 0, 0, 0, 0], ALLOW),
            (nr::__NR_kexec_load, [0; 6], ERRNO | 1),
            (nr::__NR_bpf, [0; 6], ERRNO | 1),
            (nr::__NR_add_key, [0; 6], enosys),
            (nr::__NR_io_uring_setup, [0; 6], enosys),
            (nr::__NR_chroot, [0; 6], ALLOW),
            (nr::__NR_personality, [0; 6], ALLOW),
            (nr::__NR_personality, [0xffff_ffff, 0, 0, 0, 0, 0], ALLOW),
            (nr::__NR_personality, [0x1234, 0, 0, 0, 0, 0], enosys),
            (nr::__NR_personality, [0x1_0000_0000, 0, 0, 0, 0, 0], enosys),
            (nr::__NR_socket, [16, 3, 9, 0, 0, 0], ERRNO | 22),
            (nr::__NR_socket, [16, 3, 0, 0, 0, 0], ALLOW),
            (nr::__NR_socket, [2, 1, 9, 0, 0, 0], ALLOW),
            (500, [0; 6], enosys),
        ];
        for (n, args, want) in expect {
            assert_eq!(call(&prog, n, args), want, "{} {args:x?}", name_of(n as usize));
        }
        assert_eq!(run(&prog, I386, nr::__NR_read, [0; 6]), enosys);
        assert_eq!(call(&prog, X32_BIT | nr::__NR_read, [0; 6]), ALLOW);
        // every number, with arguments the conditions look at
        for n in 0..NSYS as u32 + 3 {
            for args in
                [[0; 6], [16, 3, 9, 0, 0, 0], [8, 0, 0, 0, 0, 0], [0x2_0008, 1, 0, 0, 0, 0], [u64::MAX; 6]]
            {
                assert_eq!(call(&prog, n, args), reference(profile, n, args), "{n} {args:x?}");
            }
        }
    }

    #[test]
    fn mobys_clone_rule() {
        // Docker's profile, for a container without CAP_SYS_ADMIN: clone without any
        // CLONE_NEW* flag (0x7e020000).
        let prog = compiled(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["clone"],"action":"SCMP_ACT_ALLOW",
                "args":[{"index":0,"value":2114060288,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}]},
                {"names":["clone3"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}"#,
        );
        const SIGCHLD: u64 = 17;
        let clone = |flags: u64| call(&prog, nr::__NR_clone, [flags, 0, 0, 0, 0, 0]);
        assert_eq!(clone(SIGCHLD), ALLOW);
        assert_eq!(clone((nr::CLONE_VM | nr::CLONE_THREAD | nr::CLONE_SIGHAND) as u64), ALLOW);
        for flag in
            [nr::CLONE_NEWUSER, nr::CLONE_NEWNS, nr::CLONE_NEWPID, nr::CLONE_NEWNET, nr::CLONE_NEWCGROUP]
        {
            assert_eq!(clone(flag as u64 | SIGCHLD), ERRNO | 1, "{flag:#x}");
        }
        // high bits outside the mask change nothing
        assert_eq!(clone(1 << 40 | SIGCHLD), ALLOW);
        assert_eq!(call(&prog, nr::__NR_clone3, [0; 6]), ERRNO | 38);
    }

    #[test]
    fn the_kernel_takes_it() {
        // podman's profile with a rule on lseek's 64-bit offset in front, installed in a
        // thread of its own (a filter binds the thread that installs it): the kernel checks
        // the program, then runs it on real calls.
        let docker = std::fs::read_to_string("tests/fixtures/oci/seccomp-default.json").unwrap();
        let lseek = r#"{"names":["lseek"],"action":"SCMP_ACT_ERRNO","errnoRet":33,
            "args":[{"index":1,"value":4294967295,"op":"SCMP_CMP_GT"}]}"#;
        let text =
            oci_from_docker(&docker).replacen(r#""syscalls":["#, &format!(r#""syscalls":[{lseek},"#), 1);
        let prog = compiled(&text);
        std::thread::spawn(move || {
            use rustix::fs::{SeekFrom, seek};
            use rustix::net::{AddressFamily, SocketType, netlink, socket};
            let path = "tests/fixtures/oci/seccomp-default.json";
            let file = rustix::fs::open(path, rustix::fs::OFlags::RDONLY, rustix::fs::Mode::empty()).unwrap();
            rustix::thread::set_no_new_privs(true).unwrap();
            crate::rt::sys::seccomp_filter(&prog).unwrap();
            let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
            assert!(status.contains("Seccomp:\t2"), "{status}");
            assert_eq!(seek(&file, SeekFrom::Start(0xffff_ffff)), Ok(0xffff_ffff));
            assert_eq!(seek(&file, SeekFrom::Start(1 << 32)), Err(Errno::from_raw_os_error(33)));
            let audit = socket(AddressFamily::NETLINK, SocketType::RAW, Some(netlink::AUDIT));
            assert_eq!(audit.err(), Some(Errno::INVAL));
            assert!(socket(AddressFamily::INET, SocketType::DGRAM, None).is_ok());
        })
        .join()
        .unwrap();
    }

    /// A small xorshift generator: the same profiles every run.
    struct Random(u64);

    impl Random {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn pick<T: Copy>(&mut self, from: &[T]) -> T {
            from[(self.next() % from.len() as u64) as usize]
        }

        /// Mostly edges, sometimes anything.
        fn value(&mut self) -> u64 {
            if self.next().is_multiple_of(4) { self.next() } else { self.pick(&EDGES) }
        }
    }

    #[test]
    fn random_profiles_answer_as_the_rules_say() {
        let calls = ["read", "write", "getpid", "clone", "ioctl", "file_setattr", "mmap2"];
        let ops = [
            "SCMP_CMP_NE",
            "SCMP_CMP_LT",
            "SCMP_CMP_LE",
            "SCMP_CMP_EQ",
            "SCMP_CMP_GE",
            "SCMP_CMP_GT",
            "SCMP_CMP_MASKED_EQ",
        ];
        let actions = [
            r#""SCMP_ACT_ALLOW""#,
            r#""SCMP_ACT_LOG""#,
            r#""SCMP_ACT_KILL_PROCESS""#,
            r#""SCMP_ACT_ERRNO","errnoRet":3"#,
            r#""SCMP_ACT_ERRNO""#,
            r#""SCMP_ACT_TRACE","errnoRet":9"#,
        ];
        let mut random = Random(0x9e37_79b9_7f4a_7c15);
        for _ in 0..300 {
            let mut rules = Vec::new();
            for _ in 0..random.next() % 10 {
                let names: Vec<String> =
                    (0..1 + random.next() % 3).map(|_| format!("\"{}\"", random.pick(&calls))).collect();
                let args: Vec<String> = (0..random.next() % 4)
                    .map(|_| {
                        let (index, op) = (random.next() % 6, random.pick(&ops));
                        let (value, two) = (random.value(), random.value());
                        format!(r#"{{"index":{index},"value":{value},"valueTwo":{two},"op":"{op}"}}"#)
                    })
                    .collect();
                let (names, args, action) = (names.join(","), args.join(","), random.pick(&actions));
                rules.push(format!(r#"{{"names":[{names}],"action":{action},"args":[{args}]}}"#));
            }
            let default = random.pick(&actions).replace("errnoRet", "defaultErrnoRet");
            let text = format!(r#"{{"defaultAction":{default},"syscalls":[{}]}}"#, rules.join(","));
            let prog = compiled(&text);
            let profile = parse(text.as_bytes()).unwrap();
            for _ in 0..50 {
                let n = random.pick(&[0, 1, nr::__NR_getpid, nr::__NR_clone, 16, 469, 470, 1000]);
                let args = [0; 6].map(|_: u64| random.value());
                assert_eq!(call(&prog, n, args), reference(profile, n, args), "{text}\n{n} {args:x?}");
            }
        }
    }
}
