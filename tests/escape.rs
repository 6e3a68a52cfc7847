//! Black-box "real attack" tests of `husk run`: what a hostile COMMAND tries from inside the
//! container, and what has to stop it — the default seccomp filter, the masked and read-only
//! parts of /proc and /sys, the container's init (non-dumpable, only CAP_KILL), and the file
//! descriptors and working directory COMMAND starts with, and the container's own cgroup
//! limits. Capabilities, setuid and remounts
//! are tests/privileges.rs's; namespaces, mounts and symlink traps are tests/run.rs's.
//!
//! Every attack is made for real, by python3 (ctypes for raw system calls) in the Debian
//! fixture or busybox sh in the busybox one, and is judged by what it got (an errno name
//! per attempt, compared to an exact table) and by what is left on the host. Each refusal
//! is paired with a control that shows the same probe *would* notice success: the same
//! calls under `--seccomp unconfined` with the capabilities they need, the same injection
//! on the same terminal without the filter, the same leaked descriptors used outside husk,
//! the same /proc files of a dumpable process.
//!
//! Probe arguments are chosen so that every call fails harmlessly even when nothing stops
//! it (bad pointers, invalid flags, impossible values), and anything that could touch a
//! terminal runs in a session of its own: a filter that lets a call through must never
//! hurt the machine running the tests.
//!
//! Rules kept throughout (as in tests/run.rs): every test has its own directory
//! `/tmp/husk-escape.<pid>.<test>.t` whose path is the marker passed to every container
//! command; after every run no process may mention the marker and nothing may be mounted
//! under the directory; waits poll against a deadline; every process started is killed and
//! reaped even when the test fails; the shared fixtures are never written to (`--read-only`,
//! or a private copy).

mod common;

use common::case::Case;
use common::proc::{HUSK, Outcome, Proc, busybox, debian, path_str};
use common::rootfs;
use common::tree::PATIENCE;
use common::{host_branch, need};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

// ---------------------------------------------------------------------------------------
// Helpers: processes, output, one test's directory
// ---------------------------------------------------------------------------------------

/// Runs `cmd` (stdin /dev/null) to its end, with [`PATIENCE`].
fn run(cmd: &mut Command) -> Outcome {
    Proc::start(cmd).patient(PATIENCE).wait()
}

impl Outcome {
    /// Asserts exit status `code` and an empty stderr; returns stdout's `KEY=VALUE` lines.
    fn values(&self, code: i32) -> BTreeMap<String, String> {
        assert!(
            self.status.code() == Some(code) && self.stderr.is_empty(),
            "expected exit status {code} and an empty stderr\n got {self}"
        );
        key_values(&self.stdout)
    }
}

/// The `KEY=VALUE` lines of a text (a `\r` before the newline ignored), by key; a key seen
/// twice fails the test.
fn key_values(text: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for line in text.lines().map(|l| l.trim_end_matches('\r')).filter(|l| !l.is_empty()) {
        let (key, value) =
            line.split_once('=').unwrap_or_else(|| panic!("not KEY=VALUE: {line:?} in {text:?}"));
        let old = map.insert(key.to_string(), value.to_string());
        assert!(old.is_none(), "{key} printed twice in {text:?}");
    }
    map
}

/// Asserts that `got` is exactly `expected`, showing every difference.
fn assert_table(what: &str, got: &BTreeMap<String, String>, expected: &BTreeMap<String, String>) {
    let keys: BTreeSet<&String> = got.keys().chain(expected.keys()).collect();
    let differences: Vec<String> = keys
        .into_iter()
        .filter(|k| got.get(*k) != expected.get(*k))
        .map(|k| {
            let show = |v: Option<&String>| v.map_or("(missing)".to_string(), String::clone);
            format!("  {k}: expected {}, got {}", show(expected.get(k)), show(got.get(k)))
        })
        .collect();
    assert!(
        differences.is_empty(),
        "{what}: {} difference(s):\n{}",
        differences.len(),
        differences.join("\n")
    );
}

fn table<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> BTreeMap<String, String> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// One test's [`Case`]: its directory, whose path is the marker every container command
/// carries, its runs and waits held to [`PATIENCE`] (python3 in containers).
fn scratch(test: &str) -> Case {
    Case::new(test, &[]).patient(PATIENCE)
}

impl Case {
    /// `husk run --rootfs ROOT --read-only OPTS -- python3 -c SCRIPT MARKER ARGS...`.
    fn python(&self, root: &Path, opts: &[&str], script: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(HUSK);
        cmd.args(["run", "--rootfs", path_str(root), "--read-only"]).args(opts);
        cmd.args(["--", "python3", "-c", script, &self.marker]).args(args);
        cmd
    }
}

// ---------------------------------------------------------------------------------------
// 1. The seccomp filter
// ---------------------------------------------------------------------------------------

/// A capability: its name for `--cap-add` and its number (capabilities(7)).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
struct Cap(&'static str, u32);

const DAC_READ_SEARCH: Cap = Cap("DAC_READ_SEARCH", 2);
const SYS_MODULE: Cap = Cap("SYS_MODULE", 16);
const SYS_RAWIO: Cap = Cap("SYS_RAWIO", 17);
const SYS_PTRACE: Cap = Cap("SYS_PTRACE", 19);
const SYS_PACCT: Cap = Cap("SYS_PACCT", 20);
const SYS_ADMIN: Cap = Cap("SYS_ADMIN", 21);
const SYS_BOOT: Cap = Cap("SYS_BOOT", 22);
const SYS_TIME: Cap = Cap("SYS_TIME", 25);
const SYS_TTY_CONFIG: Cap = Cap("SYS_TTY_CONFIG", 26);
const SYSLOG: Cap = Cap("SYSLOG", 34);
const PERFMON: Cap = Cap("PERFMON", 38);
const BPF: Cap = Cap("BPF", 39);

/// One system call made with ctypes' `syscall()`: x86_64 numbers (arch/x86/entry/syscalls/
/// syscall_64.tbl), arguments that make it fail harmlessly even when nothing stops it.
struct Probe {
    name: &'static str,
    nr: u64,
    args: &'static [i64],
    /// The capability it checks before its arguments, if any: without the filter, a
    /// missing one would give EPERM too.
    cap: Option<Cap>,
    /// What it gives under the default filter.
    filtered: &'static str,
    /// What it gives without the filter, when that does not depend on the kernel's
    /// configuration; otherwise anything but EPERM.
    unconfined: Option<&'static str>,
}

/// A pointer to nothing mapped: copy_from_user fails with EFAULT.
const BAD: i64 = 1;
/// Every flag bit: always holds invalid ones, so EINVAL.
const ALL: i64 = 0xffff_ffff;

const fn blocked(name: &'static str, nr: u64, args: &'static [i64], cap: Option<Cap>) -> Probe {
    Probe { name, nr, args, cap, filtered: "EPERM", unconfined: None }
}

const fn blocked_then(
    name: &'static str,
    nr: u64,
    args: &'static [i64],
    cap: Option<Cap>,
    unconfined: &'static str,
) -> Probe {
    Probe { name, nr, args, cap, filtered: "EPERM", unconfined: Some(unconfined) }
}

/// Every call the filter refuses whatever the arguments (README, seccomp): 44 of them.
const BLOCKED: [Probe; 44] = [
    blocked("kexec_load", 246, &[0, 1000, 0, 0], Some(SYS_BOOT)), // > KEXEC_SEGMENT_MAX
    blocked("kexec_file_load", 320, &[-1, -1, 0, 0, ALL], Some(SYS_BOOT)),
    blocked("init_module", 175, &[0, 0, 0], Some(SYS_MODULE)), // an empty image: ENOEXEC
    blocked("finit_module", 313, &[-1, 0, ALL], Some(SYS_MODULE)),
    blocked("delete_module", 176, &[0, 0], Some(SYS_MODULE)),
    blocked("open_by_handle_at", 304, &[-1, 0, 0], Some(DAC_READ_SEARCH)),
    blocked("name_to_handle_at", 303, &[-1, 0, 0, 0, ALL], None),
    blocked("bpf", 321, &[-1, 0, 0], Some(BPF)),
    blocked("perf_event_open", 298, &[0, 0, -1, -1, 0], Some(PERFMON)),
    blocked("keyctl", 250, &[-1, 0, 0, 0, 0], None),
    blocked("add_key", 248, &[0, 0, 0, 0, 0], None),
    blocked("request_key", 249, &[0, 0, 0, 0], None),
    blocked("acct", 163, &[BAD], Some(SYS_PACCT)),
    blocked("swapon", 167, &[0, ALL], Some(SYS_ADMIN)),
    blocked("swapoff", 168, &[BAD], Some(SYS_ADMIN)),
    blocked("reboot", 169, &[0, 0, 0, 0], Some(SYS_BOOT)), // no magic numbers: EINVAL
    blocked_then("settimeofday", 164, &[BAD, 0], Some(SYS_TIME), "EFAULT"),
    blocked_then("clock_settime", 227, &[0, BAD], Some(SYS_TIME), "EFAULT"),
    blocked_then("clock_adjtime", 305, &[0, BAD], Some(SYS_TIME), "EFAULT"),
    blocked_then("adjtimex", 159, &[BAD], Some(SYS_TIME), "EFAULT"),
    blocked("userfaultfd", 323, &[ALL], Some(SYS_PTRACE)),
    blocked("iopl", 172, &[4], Some(SYS_RAWIO)), // levels are 0-3
    blocked("ioperm", 173, &[0x10000, 1, 1], Some(SYS_RAWIO)), // past the 65536 ports
    blocked("lookup_dcookie", 212, &[0, 0, 0], Some(SYS_ADMIN)),
    blocked("quotactl", 179, &[0xff, 0, 0, 0], Some(SYS_ADMIN)), // quota type 255
    blocked_then("setns", 308, &[-1, 0], None, "EBADF"),
    blocked_then("unshare", 272, &[0], None, "OK"), // unsharing nothing
    blocked("mount", 165, &[BAD, BAD, BAD, 0, 0], Some(SYS_ADMIN)),
    blocked_then("umount2", 166, &[BAD, 0x100], Some(SYS_ADMIN), "EINVAL"),
    blocked("pivot_root", 155, &[BAD, BAD], Some(SYS_ADMIN)),
    blocked_then("open_tree", 428, &[-1, 0, ALL], Some(SYS_ADMIN), "EINVAL"),
    blocked("move_mount", 429, &[-1, 0, -1, 0, ALL], Some(SYS_ADMIN)),
    blocked("fsopen", 430, &[0, ALL], Some(SYS_ADMIN)),
    blocked("fsconfig", 431, &[-1, 0xff, 0, 0, 0], Some(SYS_ADMIN)),
    blocked("fsmount", 432, &[-1, ALL, 0], Some(SYS_ADMIN)),
    blocked("fspick", 433, &[-1, 0, ALL], Some(SYS_ADMIN)),
    blocked_then("mount_setattr", 442, &[-1, 0, ALL, 0, 0], Some(SYS_ADMIN), "EINVAL"),
    blocked("syslog", 103, &[-1, 0, 0], Some(SYSLOG)), // no such action
    // Hangs up the controlling terminal: the probes run in a session without one.
    blocked("vhangup", 153, &[], Some(SYS_TTY_CONFIG)),
    blocked("uselib", 134, &[BAD], None),
    blocked("ustat", 136, &[0, BAD], None), // device 0 has no super block: EINVAL
    // io_uring: the ring's operations escape the filter, so the ring is refused itself.
    blocked_then("io_uring_setup", 425, &[1, BAD], None, "EFAULT"), // params unreadable
    blocked_then("io_uring_enter", 426, &[-1, 0, 0, 0, 0, 0], None, "EBADF"),
    blocked("io_uring_register", 427, &[-1, 0, 0, 0], None), // EINVAL or EBADF by kernel
];

const TIOCSTI: i64 = 0x5412;
const TIOCLINUX: i64 = 0x541c;
const TCGETS: i64 = 0x5401;

/// A call the filter looks at more closely: what it gives with and without the filter.
const fn special(
    name: &'static str,
    nr: u64,
    args: &'static [i64],
    filtered: &'static str,
    unconfined: Option<&'static str>,
) -> Probe {
    Probe { name, nr, args, cap: None, filtered, unconfined }
}

/// clone3, ioctl requests, personalities, the x32 ABI. The ioctls are made on stdin,
/// /dev/null, which has no ioctls at all (ENOTTY).
const SPECIAL: [Probe; 14] = [
    // clone3's flags are out of the filter's reach: ENOSYS, so libc falls back to clone.
    special("clone3", 435, &[0, 0], "ENOSYS", Some("EINVAL")),
    special("ioctl_TIOCSTI", 16, &[0, TIOCSTI, 0], "EPERM", Some("ENOTTY")),
    // The kernel takes the request as 32 bits: high bits must not smuggle it past.
    special("ioctl_TIOCSTI_high_bits", 16, &[0, (1 << 32) | TIOCSTI, 0], "EPERM", Some("ENOTTY")),
    special("ioctl_TIOCLINUX", 16, &[0, TIOCLINUX, 0], "EPERM", Some("ENOTTY")),
    special("ioctl_TCGETS", 16, &[0, TCGETS, 0], "ENOTTY", Some("ENOTTY")),
    // x32: getpid with the x32 bit; EPERM whatever the number.
    special("x32_getpid", 0x4000_0000 | 39, &[], "EPERM", None),
    // personality(2): the query and the harmless Linux flavours pass; the rest (here
    // READ_IMPLIES_EXEC and ADDR_NO_RANDOMIZE, which would weaken the memory protections of
    // whatever runs next) does not. PER_LINUX last, back to normal.
    special("personality_query", 135, &[ALL], "OK", Some("OK")),
    special("personality_READ_IMPLIES_EXEC", 135, &[0x0040_0000], "EPERM", Some("OK")),
    special("personality_ADDR_NO_RANDOMIZE", 135, &[0x0004_0000], "EPERM", Some("OK")),
    special("personality_PER_LINUX32", 135, &[0x0008], "OK", Some("OK")),
    special("personality_UNAME26", 135, &[0x2_0000], "OK", Some("OK")),
    special("personality_PER_LINUX32_UNAME26", 135, &[0x2_0008], "OK", Some("OK")),
    special("personality_PER_LINUX", 135, &[0], "OK", Some("OK")),
    // Ordinary calls stay ordinary.
    special("getpid", 39, &[], "OK", Some("OK")),
];

/// clone(2) with namespace flags (and SIGCHLD as the exit signal): refused like unshare.
/// Run only where EPERM is expected; should one succeed, the child leaves at once.
const CLONES: [(&str, i64); 8] = [
    ("clone_plain", 0),
    ("clone_NEWUSER", 0x1000_0000),
    ("clone_NEWNS", 0x0002_0000),
    ("clone_NEWPID", 0x2000_0000),
    ("clone_NEWNET", 0x4000_0000),
    ("clone_NEWUTS", 0x0400_0000),
    ("clone_NEWIPC", 0x0800_0000),
    ("clone_NEWCGROUP", 0x0200_0000),
];
const SIGCHLD: i64 = 17;

/// Makes the probes named in its arguments (`call:NAME:NR:ARG,...`, `clone:NAME:FLAGS`,
/// `i386:NAME:NR`) and prints `NAME=OK` or `NAME=<errno name>` for each, then the seccomp
/// mode. All in a child that has made itself a session without a terminal.
const PROBE_SCRIPT: &str = r#"
import ctypes, errno, mmap, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def outcome(r, e):
    return "OK" if r >= 0 else errno.errorcode.get(e, "E%d" % e)
def call(nr, args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    return outcome(r, ctypes.get_errno())
def clone(flags):
    # clone(2) with no new stack works like fork: a child, should there be one, leaves at once
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(56), ctypes.c_long(flags), *[ctypes.c_long(0)] * 4)
    if r == 0:
        os._exit(0)
    e = ctypes.get_errno()
    if r > 0:
        os.waitpid(r, 0)
    return outcome(r, e)
def i386(nr):
    # mov eax, NR; int 0x80; ret: the 32-bit entry from 64-bit code, in a child of its own
    # (a kernel without IA32 emulation answers int 0x80 with SIGSEGV); -errno as exit code
    child = os.fork()
    if child == 0:
        page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        page.write(b"\xb8" + nr.to_bytes(4, "little") + b"\xcd\x80\xc3")
        r = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(page)))()
        os._exit(0 if r >= 0 else min(-r, 255))
    _, status = os.waitpid(child, 0)
    if os.WIFSIGNALED(status):
        return "SIG%d" % os.WTERMSIG(status)
    code = os.WEXITSTATUS(status)
    return "OK" if code == 0 else errno.errorcode.get(code, "E%d" % code)
def main():
    for spec in sys.argv[2:]:
        kind, name, rest = spec.split(":", 2)
        if kind == "call":
            nr, args = rest.split(":")
            result = call(int(nr), [int(a) for a in args.split(",") if a])
        elif kind == "clone":
            result = clone(int(rest))
        else:
            result = i386(int(rest))
        print("%s=%s" % (name, result), flush=True)
    status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines())
    for key in ("Seccomp", "Seccomp_filters", "NoNewPrivs"):
        print("%s=%s" % (key, status[key].strip()))
# In a session of its own, without a controlling terminal: vhangup, should it get
# through, has nothing to hang up.
child = os.fork()
if child == 0:
    code = 1
    try:
        os.setsid()
        main()
        code = 0
    except BaseException:
        import traceback
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
_, status = os.waitpid(child, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"#;

/// The i386 getpid through `int 0x80`.
const I386_GETPID: &str = "i386:i386_getpid:20";

/// The probe arguments for `probes`, plus the clone probes when `clones`.
fn probe_args(probes: &[&Probe], clones: bool) -> Vec<String> {
    let mut args: Vec<String> = probes
        .iter()
        .map(|p| {
            let list: Vec<String> = p.args.iter().map(i64::to_string).collect();
            format!("call:{}:{}:{}", p.name, p.nr, list.join(","))
        })
        .collect();
    if clones {
        args.extend(CLONES.iter().map(|(name, flags)| format!("clone:{name}:{}", flags | SIGCHLD)));
    }
    args.push(I386_GETPID.to_string());
    args
}

/// All probes, BLOCKED first, personalities last.
fn all_probes() -> Vec<&'static Probe> {
    BLOCKED.iter().chain(SPECIAL.iter()).collect()
}

/// What the i386 probe gives on the host itself: "OK" when the kernel runs 32-bit calls.
fn host_i386() -> String {
    let out = run(Command::new("python3").args(["-c", PROBE_SCRIPT, "host", I386_GETPID]));
    out.values(0).remove("i386_getpid").unwrap_or_else(|| panic!("no i386_getpid line: {out}"))
}

/// The capabilities the host's bounding set holds, by number (from /proc/self/status).
fn host_bounding_set() -> u64 {
    let status = fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let hex = status.lines().find_map(|l| l.strip_prefix("CapBnd:")).expect("CapBnd in /proc/self/status");
    u64::from_str_radix(hex.trim(), 16).expect("CapBnd is hex")
}

/// `--cap-add` options for every capability the probes check that the host can give; and
/// the ones it cannot (said: their probes may then meet EPERM without the filter, so
/// `test` does not judge them unconfined — a branch of this host, not a skip).
fn probe_capabilities(test: &str) -> (Vec<String>, BTreeSet<Cap>) {
    let bounding = host_bounding_set();
    let wanted: BTreeSet<Cap> = BLOCKED.iter().filter_map(|p| p.cap).collect();
    let (have, missing): (BTreeSet<Cap>, BTreeSet<Cap>) =
        wanted.into_iter().partition(|cap| bounding & (1 << cap.1) != 0);
    if !missing.is_empty() {
        host_branch(
            test,
            &format!("the host's bounding set lacks {missing:?}; their probes are not judged unconfined"),
        );
    }
    (have.iter().flat_map(|cap| ["--cap-add".to_string(), cap.0.to_string()]).collect(), missing)
}

/// The table every probe run under the default filter must print exactly.
fn filtered_table(clones: bool, i386: &str) -> BTreeMap<String, String> {
    let mut expected: BTreeMap<String, String> =
        all_probes().iter().map(|p| (p.name.to_string(), p.filtered.to_string())).collect();
    if clones {
        for (name, flags) in CLONES {
            expected.insert(name.to_string(), if flags == 0 { "OK" } else { "EPERM" }.to_string());
        }
    }
    // A foreign architecture is refused: EPERM, unless this kernel cannot run 32-bit calls
    // at all (int 0x80 kills the caller before any filter sees it).
    let i386 = if i386 == "OK" { "EPERM".to_string() } else { i386.to_string() };
    expected.insert("i386_getpid".to_string(), i386);
    expected.extend(table([("Seccomp", "2"), ("Seccomp_filters", "1"), ("NoNewPrivs", "1")]));
    expected
}

#[test]
fn seccomp_refuses_every_listed_call_with_eperm() {
    let deb = need!("seccomp_refuses_every_listed_call_with_eperm", debian());
    let scratch = scratch("seccomp-default");
    let i386 = host_i386();
    if i386 != "OK" {
        host_branch(
            "seccomp_refuses_every_listed_call_with_eperm",
            &format!("this kernel runs no 32-bit calls (int 0x80 gave {i386}); the i386 probe expects that"),
        );
    }
    let args = probe_args(&all_probes(), true);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = scratch.run(&mut scratch.python(deb, &[], PROBE_SCRIPT, &args));
    assert_table(
        "the default filter, Docker's default capabilities",
        &out.values(0),
        &filtered_table(true, &i386),
    );
}

#[test]
fn seccomp_alone_refuses_them_even_with_the_capabilities_they_need() {
    // With every capability the calls check, EPERM can only come from the filter.
    let deb = need!("seccomp_alone_refuses_them_even_with_the_capabilities_they_need", debian());
    let scratch = scratch("seccomp-caps");
    let i386 = host_i386();
    let (caps, _) = probe_capabilities("seccomp_alone_refuses_them_even_with_the_capabilities_they_need");
    let caps: Vec<&str> = caps.iter().map(String::as_str).collect();
    let args = probe_args(&all_probes(), true);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = scratch.run(&mut scratch.python(deb, &caps, PROBE_SCRIPT, &args));
    assert_table("the default filter, capabilities added", &out.values(0), &filtered_table(true, &i386));
}

#[test]
fn unconfined_lets_the_same_probes_reach_the_kernel() {
    // The control: the same calls, the capabilities they check, no filter. None may give
    // EPERM (the kernel answers each with the harmless error its arguments earn), so the
    // EPERMs above are the filter's. The clone probes are left out: they would fork.
    let deb = need!("unconfined_lets_the_same_probes_reach_the_kernel", debian());
    let scratch = scratch("seccomp-unconfined");
    let i386 = host_i386();
    let (mut opts, missing) = probe_capabilities("unconfined_lets_the_same_probes_reach_the_kernel");
    opts.extend(["--seccomp".to_string(), "unconfined".to_string()]);
    let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
    let args = probe_args(&all_probes(), false);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let got = scratch.run(&mut scratch.python(deb, &opts, PROBE_SCRIPT, &args)).values(0);

    let mut problems = Vec::new();
    for probe in all_probes() {
        let result = got.get(probe.name).map_or("(missing)", String::as_str);
        let judged = probe.cap.is_none_or(|cap| !missing.contains(&cap));
        match probe.unconfined {
            Some(expected) if result != expected => {
                problems.push(format!("  {}: expected {expected}, got {result}", probe.name))
            }
            None if judged && (result == "EPERM" || result == "(missing)") => {
                problems.push(format!("  {}: expected anything but EPERM, got {result}", probe.name))
            }
            _ => {}
        }
    }
    let expected_rest = table([
        ("i386_getpid", i386.as_str()),
        ("Seccomp", "0"),
        ("Seccomp_filters", "0"),
        ("NoNewPrivs", "1"),
    ]);
    for (key, expected) in &expected_rest {
        if got.get(key) != Some(expected) {
            problems.push(format!("  {key}: expected {expected}, got {:?}", got.get(key)));
        }
    }
    let known: BTreeSet<&str> =
        all_probes().iter().map(|p| p.name).chain(expected_rest.keys().map(String::as_str)).collect();
    problems
        .extend(got.keys().filter(|k| !known.contains(k.as_str())).map(|k| format!("  unexpected line {k}")));
    assert!(problems.is_empty(), "--seccomp unconfined:\n{}\n full table: {got:#?}", problems.join("\n"));
}

/// Ordinary work under the filter: threads (glibc tries clone3 first and falls back to
/// clone on ENOSYS), fork, posix_spawn, subprocesses (which inherit the filter), sockets,
/// multiprocessing with its semaphores in /dev/shm.
const WORK_SCRIPT: &str = r#"
import multiprocessing, os, socket, subprocess, threading
status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines())
print("seccomp=%s" % status["Seccomp"].strip())
results = [0] * 8
def work(i):
    results[i] = sum(range(i * 1000))
threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("threads=%d" % sum(results))
child = subprocess.run(["sh", "-c", "echo $((6 * 7)); grep '^Seccomp:' /proc/self/status"],
                       capture_output=True, text=True, check=True)
print("subprocess=" + " ".join(child.stdout.split()))
a, b = socket.socketpair()
a.sendall(b"ping")
print("socketpair=" + b.recv(4).decode())
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen(1)
client = socket.create_connection(server.getsockname())
peer, _ = server.accept()
client.sendall(b"over-tcp")
print("tcp=" + peer.recv(8).decode())
pid = os.fork()
if pid == 0:
    os._exit(5)
print("fork=%d" % os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
pid = os.posix_spawn("/bin/sh", ["sh", "-c", "exit 6"], os.environ)
print("posix_spawn=%d" % os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
def square(x):
    return x * x
with multiprocessing.Pool(2) as pool:
    print("pool=%s" % pool.map(square, range(6)))
"#;

#[test]
fn ordinary_work_runs_under_the_filter() {
    let deb = need!("ordinary_work_runs_under_the_filter", debian());
    let scratch = scratch("ordinary-work");
    let threads: u64 = (0..8u64).map(|i| (0..i * 1000).sum::<u64>()).sum();
    let threads = threads.to_string();
    let got = scratch.run(&mut scratch.python(deb, &[], WORK_SCRIPT, &[])).values(0);
    assert_table(
        "python3 under the filter",
        &got,
        &table([
            ("seccomp", "2"),
            ("threads", threads.as_str()),
            ("subprocess", "42 Seccomp: 2"),
            ("socketpair", "ping"),
            ("tcp", "over-tcp"),
            ("fork", "5"),
            ("posix_spawn", "6"),
            ("pool", "[0, 1, 4, 9, 16, 25]"),
        ]),
    );

    // Shell pipelines and the package tools; and util-linux's unshare, an attacker's first
    // try, told no by the filter.
    let installed = fs::read_to_string(deb.join("var/lib/dpkg/status"))
        .expect("read the fixture's dpkg status")
        .lines()
        .filter(|l| *l == "Status: install ok installed")
        .count();
    let out = scratch.run(&mut scratch.sh(
        &["--rootfs", path_str(deb), "--read-only"],
        "echo one two three | tr ' ' '\\n' | sort -r | head -n 2 | paste -s -d ' '; \
         apt-get --version | head -n 1; \
         dpkg -l | grep -c '^ii'; \
         unshare --user --map-root-user id; echo unshare=$?",
    ));
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        out.status.code() == Some(0)
            && lines.len() == 4
            && lines[0] == "two three"
            && lines[1].starts_with("apt ")
            && lines[1].ends_with(" (amd64)")
            && lines[2] == installed.to_string()
            && lines[3] == "unshare=1"
            && out.stderr == "unshare: unshare failed: Operation not permitted\n",
        "expected the pipeline, apt's version, {installed} packages and unshare refused\n got {out}"
    );
}

// ---------------------------------------------------------------------------------------
// 2. Typing into the terminal (TIOCSTI)
// ---------------------------------------------------------------------------------------

/// Runs its arguments as the session leader of a new pseudo-terminal, reads everything the
/// screen shows until the session ends (30 s at most), and prints `STATUS N` and the screen.
const PTY_DRIVER: &str = r#"
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
screen = b""
deadline = time.monotonic() + 30
while True:
    left = deadline - time.monotonic()
    if left <= 0:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        print("TIMEOUT")
        sys.stdout.write(screen.decode(errors="replace"))
        sys.exit(3)
    r, _, _ = select.select([fd], [], [], left)
    if r:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the last process of the session closed the terminal
            chunk = b""
        if not chunk:
            break
        screen += chunk
_, status = os.waitpid(pid, 0)
print("STATUS %d" % os.waitstatus_to_exitcode(status))
sys.stdout.write(screen.decode(errors="replace"))
"#;

/// On the terminal (stdin), in raw mode so that a single queued byte counts: pushes a byte
/// into the input with TIOCSTI (on stdin and on /dev/tty) and pastes with TIOCLINUX, and
/// after each prints the result and how many bytes wait in the input queue (FIONREAD).
const TIOCSTI_SCRIPT: &str = r#"
import errno, fcntl, os, struct, termios, tty
tty.setraw(0)
def queued():
    return struct.unpack("i", fcntl.ioctl(0, termios.FIONREAD, b"\0" * 4))[0]
dev_tty = os.open("/dev/tty", os.O_RDWR)
for name, fd, request, arg in (("TIOCSTI", 0, termios.TIOCSTI, b"x"),
                               ("TIOCSTI_dev_tty", dev_tty, termios.TIOCSTI, b"y"),
                               ("TIOCLINUX_paste", 0, 0x541c, b"\x03")):
    try:
        fcntl.ioctl(fd, request, arg)
        result = "OK"
    except OSError as e:
        result = errno.errorcode.get(e.errno, "E%d" % e.errno)
    print("%s=%s" % (name, result), end="\r\n")
    print("%s_queued=%d" % (name, queued()), end="\r\n")
    termios.tcflush(0, termios.TCIFLUSH)
"#;

/// Runs the TIOCSTI script in a container on a terminal of its own; returns its table.
fn tiocsti_on_a_terminal(scratch: &Case, deb: &Path, opts: &[&str]) -> BTreeMap<String, String> {
    let mut cmd = Command::new("python3");
    cmd.args(["-c", PTY_DRIVER, HUSK, "run", "--rootfs", path_str(deb), "--read-only"]).args(opts);
    cmd.args(["--", "python3", "-c", TIOCSTI_SCRIPT, &scratch.marker]);
    let out = scratch.run(&mut cmd);
    let screen = out
        .stdout
        .strip_prefix("STATUS 0\n")
        .unwrap_or_else(|| panic!("the container on a terminal did not end with status 0\n got {out}"));
    key_values(screen)
}

#[test]
fn typing_into_the_terminal_is_refused() {
    let deb = need!("typing_into_the_terminal_is_refused", debian());
    let scratch = scratch("tiocsti");
    assert_table(
        "TIOCSTI/TIOCLINUX on the container's terminal",
        &tiocsti_on_a_terminal(&scratch, deb, &[]),
        &table([
            ("TIOCSTI", "EPERM"),
            ("TIOCSTI_queued", "0"),
            ("TIOCSTI_dev_tty", "EPERM"),
            ("TIOCSTI_dev_tty_queued", "0"),
            ("TIOCLINUX_paste", "EPERM"),
            ("TIOCLINUX_paste_queued", "0"),
        ]),
    );

    // The control: without the filter the same injection reaches the input queue — or, on
    // kernels built or set without legacy TIOCSTI (dev.tty.legacy_tiocsti = 0), the tty
    // layer itself says EIO. TIOCLINUX needs a virtual console: a pty is not one.
    let legacy =
        fs::read_to_string("/proc/sys/dev/tty/legacy_tiocsti").map(|v| v.trim() == "1").unwrap_or(true);
    let (injected, queued) = if legacy { ("OK", "1") } else { ("EIO", "0") };
    let got = tiocsti_on_a_terminal(&scratch, deb, &["--seccomp", "unconfined"]);
    let tioclinux = got.get("TIOCLINUX_paste").cloned().unwrap_or_default();
    assert!(tioclinux == "ENOTTY" || tioclinux == "EINVAL", "TIOCLINUX on a pty, unconfined: {got:?}");
    assert_table(
        "TIOCSTI on the container's terminal, --seccomp unconfined",
        &got,
        &table([
            ("TIOCSTI", injected),
            ("TIOCSTI_queued", queued),
            ("TIOCSTI_dev_tty", injected),
            ("TIOCSTI_dev_tty_queued", queued),
            ("TIOCLINUX_paste", tioclinux.as_str()),
            ("TIOCLINUX_paste_queued", "0"),
        ]),
    );
}

// ---------------------------------------------------------------------------------------
// 3. Masked and read-only /proc and /sys
// ---------------------------------------------------------------------------------------

/// Masked: files get /dev/null over them, directories an empty read-only tmpfs.
const MASKED: [&str; 12] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Read-only bind mounts of themselves.
const READ_ONLY: [&str; 5] = ["/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs"];

/// Files that write straight into the host's kernel (the classic escapes through
/// core_pattern, modprobe and uevent_helper among them): opened for writing, never written.
const KERNEL_KNOBS: [&str; 6] = [
    "/proc/sys/kernel/core_pattern",
    "/proc/sys/kernel/modprobe",
    "/proc/sys/vm/drop_caches",
    "/proc/sysrq-trigger",
    "/proc/irq/default_smp_affinity",
    "/sys/kernel/uevent_helper",
];

/// Those of `paths` this kernel has (a fresh /proc and /sys in the container show the same
/// kernel), saying which it has not. A branch of this host, not a skip: a path the kernel
/// lacks (built without it, or moved to debugfs, as /proc/sched_debug in 5.13) cannot reach
/// the container, so there is nothing to mask or attack; every path it has is checked.
fn present(test: &str, paths: &[&'static str]) -> Vec<&'static str> {
    let (have, absent): (Vec<&str>, Vec<&str>) =
        paths.iter().copied().partition(|p| fs::symlink_metadata(p).is_ok());
    if !absent.is_empty() {
        host_branch(test, &format!("not on this kernel, so not checked: {}", absent.join(" ")));
    }
    have
}

/// Attacks the masked and read-only paths given (comma-separated lists: masked, read-only,
/// knobs): unmounts first, then reads, stats, creates, touches, opens for writing.
const MASK_SCRIPT: &str = r#"
import ctypes, errno, os, stat, sys
libc = ctypes.CDLL(None, use_errno=True)
def name(e):
    return errno.errorcode.get(e, "E%d" % e)
def attempt(fn):
    try:
        fn()
        return "OK"
    except OSError as e:
        return name(e.errno)
def umount(path):
    ctypes.set_errno(0)
    return "OK" if libc.umount2(path.encode(), 0) == 0 else name(ctypes.get_errno())
mounts = {}
for line in open("/proc/self/mountinfo"):
    fields = line.split()
    mounts[fields[4]] = "opts=%s fs=%s" % (fields[5], fields[fields.index("-") + 1])  # topmost wins
masked, read_only, knobs = (list(filter(None, a.split(","))) for a in sys.argv[2:5])
for path in masked:
    result = ["umount=" + umount(path)]
    st = os.stat(path)
    if stat.S_ISDIR(st.st_mode):
        result.append("kind=dir entries=%d" % len(os.listdir(path)))
        result.append(mounts.get(path, "opts=none fs=none"))
        create = lambda: os.close(os.open(path + "/husk-probe", os.O_WRONLY | os.O_CREAT, 0o600))
        result.append("create=" + attempt(create))
    else:
        with open(path, "rb") as f:
            data = f.read()
        kind = "chr" if stat.S_ISCHR(st.st_mode) else "other"
        result.append("kind=%s dev=%d:%d bytes=%d" % (kind, os.major(st.st_rdev), os.minor(st.st_rdev), len(data)))
    print("%s %s" % (path, " ".join(result)))
for path in read_only:
    print("%s %s utime=%s" % (path, mounts.get(path, "opts=none fs=none"), attempt(lambda: os.utime(path))))
for path in knobs:
    print("%s open_for_writing=%s" % (path, attempt(lambda: os.close(os.open(path, os.O_WRONLY)))))
print("/proc/sys/kernel/hostname read=" + open("/proc/sys/kernel/hostname").read().strip())
def write_hostname():
    with open("/proc/sys/kernel/hostname", "w") as f:
        f.write("evil\n")
print("/proc/sys/kernel/hostname write=" + attempt(write_hostname))
print("/proc/sys/kernel/ostype read=" + open("/proc/sys/kernel/ostype").read().strip())
"#;

/// The `PATH key=value...` lines of the mask script, by path.
fn per_path(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut map: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for line in text.lines() {
        let mut words = line.split(' ');
        let path = words.next().unwrap_or_default().to_string();
        let entry = map.entry(path).or_default();
        for word in words {
            let (k, v) =
                word.split_once('=').unwrap_or_else(|| panic!("not key=value: {word:?} in {line:?}"));
            entry.insert(k.to_string(), v.to_string());
        }
    }
    map
}

/// Whether the mount options hold read-only, nosuid, nodev and noexec.
fn locked_down(opts: &str) -> bool {
    let opts: BTreeSet<&str> = opts.split(',').collect();
    ["ro", "nosuid", "nodev", "noexec"].iter().all(|o| opts.contains(o))
}

#[test]
fn proc_and_sys_are_masked_and_tunables_read_only() {
    let deb = need!("proc_and_sys_are_masked_and_tunables_read_only", debian());
    let scratch = scratch("masked");
    let test = "proc_and_sys_are_masked_and_tunables_read_only";
    let masked = present(test, &MASKED);
    let read_only = present(test, &READ_ONLY);
    let knobs = present(test, &KERNEL_KNOBS);
    let out = scratch.run(&mut scratch.python(
        deb,
        &[],
        MASK_SCRIPT,
        &[&masked.join(","), &read_only.join(","), &knobs.join(",")],
    ));
    assert!(out.status.code() == Some(0) && out.stderr.is_empty(), "{out}");
    let got = per_path(&out.stdout);

    let mut problems = Vec::new();
    let mut check = |path: &str, ok: bool, what: &str| {
        if !ok {
            problems.push(format!("  {path}: {what}: {:?}", got.get(path)));
        }
    };
    let field = |path: &str, key: &str| got.get(path).and_then(|m| m.get(key)).cloned().unwrap_or_default();
    for path in &masked {
        check(path, field(path, "umount") == "EPERM", "umount must be refused with EPERM");
        if Path::new(path).is_dir() {
            check(path, field(path, "kind") == "dir", "a directory");
            check(path, field(path, "entries") == "0", "empty");
            check(path, field(path, "fs") == "tmpfs", "a tmpfs over it");
            check(path, locked_down(&field(path, "opts")), "ro,nosuid,nodev,noexec");
            check(path, field(path, "create") == "EROFS", "creating a file gives EROFS");
        } else {
            check(
                path,
                field(path, "kind") == "chr" && field(path, "dev") == "1:3",
                "/dev/null (1:3) over it",
            );
            check(path, field(path, "bytes") == "0", "reads empty");
        }
    }
    for path in &read_only {
        check(path, field(path, "fs") == "proc", "still procfs");
        check(path, locked_down(&field(path, "opts")), "ro,nosuid,nodev,noexec");
        check(path, field(path, "utime") == "EROFS", "touching it gives EROFS");
    }
    for path in &knobs {
        check(path, field(path, "open_for_writing") == "EROFS", "opening it for writing gives EROFS");
    }
    let hostname = "/proc/sys/kernel/hostname";
    check(hostname, field(hostname, "read") == "husk", "reads the container's hostname");
    check(hostname, field(hostname, "write") == "EROFS", "writing it gives EROFS");
    check("/proc/sys/kernel/ostype", field("/proc/sys/kernel/ostype", "read") == "Linux", "still readable");
    let reported: BTreeSet<&str> = masked
        .iter()
        .chain(&read_only)
        .chain(&knobs)
        .copied()
        .chain([hostname, "/proc/sys/kernel/ostype"])
        .collect();
    let got_paths: BTreeSet<&str> = got.keys().map(String::as_str).collect();
    check("(all)", got_paths == reported, &format!("exactly these paths reported: {reported:?}"));
    assert!(problems.is_empty(), "masked and read-only paths:\n{}\n{out}", problems.join("\n"));
}

#[test]
fn masks_use_the_hosts_null_device_not_the_rootfs_one() {
    // A rootfs whose own dev/null is a regular file saying LEAK: what husk puts over the
    // masked files must be the real null device, never a file the image chose.
    let bb = need!("masks_use_the_hosts_null_device_not_the_rootfs_one", busybox());
    let scratch = scratch("mask-null");
    let root = scratch.join("rootfs");
    rootfs::copy_tree(bb, &root);
    fs::write(root.join("dev/null"), "LEAK").expect("plant dev/null");
    let test = "masks_use_the_hosts_null_device_not_the_rootfs_one";
    let files: Vec<&str> = present(test, &MASKED).into_iter().filter(|p| !Path::new(p).is_dir()).collect();
    assert!(!files.is_empty(), "no masked file exists on this kernel");
    let mut paths = files.clone();
    paths.push("/dev/null");
    let out = scratch.run(
        scratch
            .sh(
                &["--rootfs", path_str(&root), "--read-only"],
                r#"for p in "$@"; do printf '%s %s [%s]\n' "$p" "$(stat -c '%F %t:%T' "$p")" "$(cat "$p")"; done"#,
            )
            .args(&paths),
    );
    let expected: String = paths.iter().map(|p| format!("{p} character special file 1:3 []\n")).collect();
    out.expect(0, &expected, "");
    assert_eq!(fs::read_to_string(root.join("dev/null")).unwrap(), "LEAK", "the rootfs's file was changed");
}

/// ctime (seconds, nanoseconds), mode, owner and group of a host file.
fn inode_state(path: &str) -> (i64, i64, u32, u32, u32) {
    let m = fs::metadata(path).unwrap_or_else(|e| panic!("stat {path}: {e}"));
    (m.ctime(), m.ctime_nsec(), m.mode(), m.uid(), m.gid())
}

/// chmod and chown each path given to the mode and owner it already has (so nothing
/// changes even where it works), printing the result of each.
const SAME_MODE_SCRIPT: &str = r#"
import errno, os, sys
def attempt(fn):
    try:
        fn()
        return "OK"
    except OSError as e:
        return errno.errorcode.get(e.errno, "E%d" % e.errno)
for path in sys.argv[2:]:
    st = os.stat(path)
    print("%s_chmod=%s" % (path, attempt(lambda: os.chmod(path, st.st_mode & 0o7777))))
    print("%s_chown=%s" % (path, attempt(lambda: os.chown(path, st.st_uid, st.st_gid))))
"#;

/// The device nodes husk's /dev holds (README: bind-mounted from the host).
const DEVICES: [&str; 6] = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"];

#[test]
fn the_hosts_device_nodes_cannot_be_changed_from_inside() {
    // The masked files are the host's own /dev/null, and /dev's nodes the host's own: an
    // attribute change made inside (root there holds CAP_CHOWN and CAP_FOWNER) would land
    // on the host's device nodes — `chmod 000 /proc/keys` would break /dev/null for every
    // user of the host. Probed harmlessly: the same mode and owner again, which changes
    // nothing but still stamps a new ctime on the inode when it goes through.
    let deb = need!("the_hosts_device_nodes_cannot_be_changed_from_inside", debian());
    let scratch = scratch("host-devices");
    let test = "the_hosts_device_nodes_cannot_be_changed_from_inside";
    let mut inside: Vec<&str> =
        present(test, &MASKED).into_iter().filter(|p| !Path::new(p).is_dir()).collect();
    inside.extend(DEVICES);
    let before: Vec<_> = DEVICES.iter().map(|d| inode_state(d)).collect();
    let out = scratch.run(&mut scratch.python(deb, &[], SAME_MODE_SCRIPT, &inside));
    let after: Vec<_> = DEVICES.iter().map(|d| inode_state(d)).collect();
    let got = out.values(0);
    let changed: Vec<String> = DEVICES
        .iter()
        .zip(before.iter().zip(&after))
        .filter(|(_, (b, a))| b != a)
        .map(|(d, (b, a))| format!("  {d}: (ctime s, ns, mode, uid, gid) {b:?} -> {a:?}"))
        .collect();
    assert!(
        changed.is_empty(),
        "host device nodes changed by chmod/chown from inside the container:\n{}\n what those \
         calls got inside: {got:#?}",
        changed.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// 4. The container's init
// ---------------------------------------------------------------------------------------

/// Everything a root COMMAND can try against PID 1 (husk): its capabilities, its binary
/// (/proc/1/exe, the runc CVE-2019-5736 way), memory, environment, descriptors, ptrace,
/// process_vm_readv, pidfd_getfd, SIGKILL and SIGSTOP; then the same reads of a dumpable
/// process (itself, a child) as controls. Exits 7.
const INIT_SCRIPT: &str = r#"
import ctypes, errno, os, signal, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def name(e):
    return errno.errorcode.get(e, "E%d" % e)
def attempt(label, fn):
    try:
        fn()
        print("%s=OK" % label)
    except OSError as e:
        print("%s=%s" % (label, name(e.errno)))
def call(label, nr, *args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    print("%s=%s" % (label, "OK" if r >= 0 else name(ctypes.get_errno())))
    return r
def opened(path, flags):
    return lambda: os.close(os.open(path, flags))
status = dict(l.split(":", 1) for l in open("/proc/1/status").read().splitlines())
for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
    print("init_%s=%s" % (key, status[key].strip()))
attempt("exe_open_write", opened("/proc/1/exe", os.O_WRONLY))
attempt("exe_open_rdwr", opened("/proc/1/exe", os.O_RDWR))
attempt("exe_open_read", opened("/proc/1/exe", os.O_RDONLY))
attempt("exe_open_path", opened("/proc/1/exe", os.O_PATH))
attempt("exe_readlink", lambda: os.readlink("/proc/1/exe"))
attempt("mem_read", lambda: open("/proc/1/mem", "rb").read(1))
attempt("mem_open_rdwr", opened("/proc/1/mem", os.O_RDWR))
attempt("environ_read", lambda: open("/proc/1/environ", "rb").read())
attempt("cwd_readlink", lambda: os.readlink("/proc/1/cwd"))
attempt("root_readlink", lambda: os.readlink("/proc/1/root"))
attempt("fd0_open", opened("/proc/1/fd/0", os.O_RDONLY))
attempt("maps_read", lambda: open("/proc/1/maps").read())
attempt("auxv_read", lambda: open("/proc/1/auxv", "rb").read())
attempt("map_files_list", lambda: os.listdir("/proc/1/map_files"))
def ptrace_and_let_go(label, request):
    # should it work, stop the tracee (SEIZE does not), wait for the stop and detach at once:
    # a traced init left stopped would hang the container
    if call(label, 101, request, 1, 0, 0) == 0:
        if request == 0x4206:
            libc.syscall(ctypes.c_long(101), ctypes.c_long(0x4207), ctypes.c_long(1), ctypes.c_long(0), ctypes.c_long(0))
        os.waitpid(1, 0x40000000)  # __WALL
        libc.syscall(ctypes.c_long(101), ctypes.c_long(17), ctypes.c_long(1), ctypes.c_long(0), ctypes.c_long(0))
ptrace_and_let_go("ptrace_attach", 16)
ptrace_and_let_go("ptrace_seize", 0x4206)
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
buf = ctypes.create_string_buffer(8)
local, remote = iovec(ctypes.addressof(buf), 8), iovec(0x400000, 8)
call("process_vm_readv", 310, 1, ctypes.addressof(local), 1, ctypes.addressof(remote), 1, 0)
pidfd = os.pidfd_open(1)
call("pidfd_getfd", 438, pidfd, 0, 0)
attempt("kill_KILL", lambda: os.kill(1, signal.SIGKILL))
attempt("kill_STOP", lambda: os.kill(1, signal.SIGSTOP))
stat = open("/proc/1/stat").read()
print("init_state=" + stat[stat.rindex(")") + 2:].split()[0])
attempt("self_exe_readlink", lambda: os.readlink("/proc/self/exe"))
attempt("self_mem_open_rdwr", opened("/proc/self/mem", os.O_RDWR))
attempt("self_environ_read", lambda: open("/proc/self/environ", "rb").read())
try:
    scope = open("/proc/sys/kernel/yama/ptrace_scope").read().strip()
except OSError:
    scope = "0"
if scope in ("0", "1"):
    child = os.fork()
    if child == 0:
        signal.pause()
        os._exit(0)
    call("ptrace_attach_child", 101, 16, child, 0, 0)
    os.kill(child, signal.SIGKILL)
    os.waitpid(child, 0)
else:
    print("ptrace_attach_child=skipped")
sys.stdout.flush()
sys.exit(7)
"#;

/// The sha256 of a host file, by sha256sum.
fn sha256(path: &str) -> String {
    let out = run(Command::new("sha256sum").arg(path));
    assert!(out.status.success(), "{out}");
    out.stdout.split_whitespace().next().unwrap_or_default().to_string()
}

#[test]
fn the_containers_init_cannot_be_inspected_overwritten_or_killed() {
    let deb = need!("the_containers_init_cannot_be_inspected_overwritten_or_killed", debian());
    let scratch = scratch("init");
    let before = sha256(HUSK);
    // Exit 7 is the command's own: PID 1 survived SIGKILL and SIGSTOP and passed it back.
    let mut got = scratch.run(&mut scratch.python(deb, &[], INIT_SCRIPT, &[])).values(7);
    assert_eq!(sha256(HUSK), before, "the husk binary changed");

    // Signals from inside the namespace to its init are dropped by the kernel; kill(2) may
    // report success. The init must neither die nor stop.
    for key in ["kill_KILL", "kill_STOP"] {
        let result = got.remove(key);
        assert!(matches!(result.as_deref(), Some("OK" | "EPERM")), "{key}: {result:?}");
    }
    let state = got.remove("init_state").unwrap_or_default();
    assert!(["S", "R"].contains(&state.as_str()), "the init's state after SIGKILL and SIGSTOP: {state:?}");
    // What /proc shows of the non-dumpable init beyond exe/mem/environ: EACCES, or EPERM
    // on some kernels.
    for key in ["maps_read", "auxv_read", "map_files_list"] {
        let result = got.remove(key);
        assert!(matches!(result.as_deref(), Some("EACCES" | "EPERM")), "{key}: {result:?}");
    }
    let control = got.get("ptrace_attach_child").cloned().unwrap_or_default();
    if control == "skipped" {
        // A branch of this host (yama's ptrace_scope 2 or 3, a sysctl of the host's), not a
        // skip of the test: only the control is left out, every attack is still judged.
        host_branch(
            "the_containers_init_cannot_be_inspected_overwritten_or_killed",
            "yama's ptrace_scope forbids even attaching a child: that control is left out",
        );
    }
    let only_kill = "0000000000000020";
    let none = "0000000000000000";
    assert_table(
        "attacks on PID 1",
        &got,
        &table([
            ("init_CapInh", none),
            ("init_CapPrm", only_kill),
            ("init_CapEff", only_kill),
            ("init_CapBnd", only_kill),
            ("init_CapAmb", none),
            ("exe_open_write", "EACCES"),
            ("exe_open_rdwr", "EACCES"),
            ("exe_open_read", "EACCES"),
            ("exe_open_path", "EACCES"),
            ("exe_readlink", "EACCES"),
            ("mem_read", "EACCES"),
            ("mem_open_rdwr", "EACCES"),
            ("environ_read", "EACCES"),
            ("cwd_readlink", "EACCES"),
            ("root_readlink", "EACCES"),
            ("fd0_open", "EACCES"),
            ("ptrace_attach", "EPERM"),
            ("ptrace_seize", "EPERM"),
            ("process_vm_readv", "EPERM"),
            ("pidfd_getfd", "EPERM"),
            ("self_exe_readlink", "OK"),
            ("self_mem_open_rdwr", "OK"),
            ("self_environ_read", "OK"),
            ("ptrace_attach_child", if control == "skipped" { "skipped" } else { "OK" }),
        ]),
    );
}

// ---------------------------------------------------------------------------------------
// 5. Descriptors and working directory
// ---------------------------------------------------------------------------------------

/// Leaks into what it runs, without close-on-exec: an O_PATH descriptor of the host's `/`
/// as 5 and 255, and a directory descriptor of a host directory (argv[1]) as 6; makes that
/// directory its working directory; then execs the program argv[2] with the argument
/// vector argv[3:].
const LEAKY_LAUNCHER: &str = r#"
import os, sys
host_dir = sys.argv[1]
root = os.open("/", os.O_PATH)
here = os.open(host_dir, os.O_RDONLY | os.O_DIRECTORY)
os.dup2(root, 5)
os.dup2(here, 6)
os.dup2(root, 255)
os.close(root)
os.close(here)
os.chdir(host_dir)
os.execv(sys.argv[2], sys.argv[3:])
"#;

/// Inside: which descriptors it has and PID 1 has, whether any leaked one can be reached
/// through /proc (to read the host's files through it), and where its cwd and root are.
const FD_SCRIPT: &str = r#"
import errno, os
def attempt(fn):
    try:
        fn()
        return "OK"
    except OSError as e:
        return errno.errorcode.get(e.errno, "E%d" % e.errno)
print("fds=" + ",".join(sorted(os.listdir("/proc/self/fd"), key=int)))
print("init_fds=" + ",".join(sorted(os.listdir("/proc/1/fd"), key=int)))
for n, inside in ((5, "etc/hostname"), (6, "secret"), (255, "etc/hostname")):
    print("fd%d_stat=%s" % (n, attempt(lambda: os.stat("/proc/self/fd/%d" % n))))
    print("fd%d_escape=%s" % (n, attempt(lambda: open("/proc/self/fd/%d/%s" % (n, inside)).read())))
    print("init_fd%d_stat=%s" % (n, attempt(lambda: os.stat("/proc/1/fd/%d" % n))))
print("cwd=" + os.readlink("/proc/self/cwd"))
print("getcwd=" + os.getcwd())
print("root=" + os.readlink("/proc/self/root"))
dot, root = os.stat("."), os.stat("/")
print("dot_is_root=%s" % ((dot.st_dev, dot.st_ino) == (root.st_dev, root.st_ino)))
print("dotdot_is_root=%s" % (sorted(os.listdir("..")) == sorted(os.listdir("/"))))
"#;

/// `python3 -c LEAKY_LAUNCHER HOST_DIR PROGRAM ARGV0 ARGS...`.
fn leaky(host_dir: &Path, program: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new("python3");
    cmd.args(["-c", LEAKY_LAUNCHER, path_str(host_dir), program]).args(args);
    cmd
}

#[test]
fn leaked_host_descriptors_and_cwd_do_not_reach_the_command() {
    let deb = need!("leaked_host_descriptors_and_cwd_do_not_reach_the_command", debian());
    let scratch = scratch("fds");
    let host_dir = scratch.join("host-dir");
    fs::create_dir(&host_dir).unwrap();
    let secret = format!("secret of {}", scratch.marker);
    fs::write(host_dir.join("secret"), &secret).unwrap();

    // The control: the launcher does leak, and what it leaks leads out to the host.
    scratch
        .run(&mut leaky(
            &host_dir,
            "/bin/sh",
            &[
                "sh",
                "-c",
                "cat /proc/self/fd/6/secret; echo; readlink /proc/self/fd/5 /proc/self/fd/255; pwd -P",
            ],
        ))
        .expect(0, &format!("{secret}\n/\n/\n{}\n", path_str(&host_dir)), "");

    let mut cmd = leaky(&host_dir, HUSK, &["husk", "run", "--rootfs", path_str(deb), "--read-only", "--"]);
    cmd.args(["python3", "-c", FD_SCRIPT, &scratch.marker]);
    assert_table(
        "leaked descriptors inside",
        &scratch.run(&mut cmd).values(0),
        &table([
            // 3 is the directory listdir reads
            ("fds", "0,1,2,3"),
            ("init_fds", "0,1,2"),
            ("fd5_stat", "ENOENT"),
            ("fd5_escape", "ENOENT"),
            ("init_fd5_stat", "ENOENT"),
            ("fd6_stat", "ENOENT"),
            ("fd6_escape", "ENOENT"),
            ("init_fd6_stat", "ENOENT"),
            ("fd255_stat", "ENOENT"),
            ("fd255_escape", "ENOENT"),
            ("init_fd255_stat", "ENOENT"),
            ("cwd", "/"),
            ("getcwd", "/"),
            ("root", "/"),
            ("dot_is_root", "True"),
            ("dotdot_is_root", "True"),
        ]),
    );
}

#[test]
fn workdir_through_a_leaked_descriptor_is_refused() {
    // runc's CVE-2024-21626: `-w /proc/self/fd/N` with N a leaked host directory put the
    // command's cwd on the host. With nothing above 2 left, the path does not exist.
    let bb = need!("workdir_through_a_leaked_descriptor_is_refused", busybox());
    let scratch = scratch("workdir-fd");
    let host_dir = scratch.join("host-dir");
    fs::create_dir(&host_dir).unwrap();
    for workdir in ["/proc/self/fd/5", "/proc/self/fd/6", "/proc/self/fd/255", "/proc/1/fd/6"] {
        let mut cmd = leaky(
            &host_dir,
            HUSK,
            &["husk", "run", "--rootfs", path_str(bb), "--read-only", "-w", workdir, "--"],
        );
        cmd.args(["sh", "-c", "pwd -P; ls", &scratch.marker]);
        scratch.run(&mut cmd).expect(
            125,
            "",
            &format!("husk: chdir {workdir}: No such file or directory (ENOENT)\n"),
        );
    }
}

/// A host daemon's endpoints under `/run/husk-escape.<pid>/`: a unix socket that answers
/// `hello` and a FIFO that is read. Prints `ready`, then (when its stdin closes) what reached
/// it: `connections=N` and `fifo=BYTES`.
const HOST_DAEMON: &str = r#"
import os, select, socket, sys
d = sys.argv[1]
os.makedirs(d)
s = socket.socket(socket.AF_UNIX)
s.bind(d + "/sock")
s.listen(16)
os.mkfifo(d + "/fifo")
fifo = os.open(d + "/fifo", os.O_RDONLY | os.O_NONBLOCK)
print("ready", flush=True)
connections, got = 0, b""
while True:
    r, _, _ = select.select([s, fifo, sys.stdin], [], [])
    if s in r:
        c, _ = s.accept()
        c.sendall(b"hello")
        c.close()
        connections += 1
    if fifo in r:
        got += os.read(fifo, 100)
    if sys.stdin in r and not sys.stdin.buffer.read1(100):
        break
print("connections=%d fifo=%r" % (connections, got), flush=True)
"#;

/// What a process that can reach them gets from the daemon's endpoints: the socket's
/// answer, and whether a write into the FIFO went through.
const CLIENT: &str = r#"
import os, socket, sys
for path in sys.argv[2:]:
    try:
        s = socket.socket(socket.AF_UNIX)
        s.connect(path + "/sock")
        print("%s/sock: %s" % (path, s.recv(10).decode()))
    except OSError as e:
        print("%s/sock: %s" % (path, os.strerror(e.errno)))
    try:
        fd = os.open(path + "/fifo", os.O_WRONLY | os.O_NONBLOCK)
        os.write(fd, b"x")
        print("%s/fifo: written" % path)
    except OSError as e:
        print("%s/fifo: %s" % (path, os.strerror(e.errno)))
"#;

#[test]
fn the_hosts_sockets_and_fifos_under_run_are_out_of_reach() {
    // With no --rootfs the root is the host's own tree, read-only; but a read-only mount
    // stops neither connect(2) on a unix socket nor a write into a FIFO, and /run is where
    // the host's daemons (docker, containerd, dbus) keep theirs. husk puts a fresh tmpfs
    // over /run (and so over /var/run, a link to it on Debian).
    let scratch = scratch("run-sockets");
    let dir = format!("/run/husk-escape.{}.run-sockets", std::process::id());
    let _ = fs::remove_dir_all(&dir);
    struct Remove<'a>(&'a str);
    impl Drop for Remove<'_> {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(self.0);
        }
    }
    let _remove = Remove(&dir);
    let mut daemon = Proc::start_with_stdin(
        Command::new("python3").args(["-c", HOST_DAEMON, &dir]),
        std::process::Stdio::piped(),
    );
    daemon.wait_stdout("ready");
    let var_dir = format!("/var{dir}");
    // The control: on the host both endpoints answer, through /run and /var/run.
    scratch.run(Command::new("python3").args(["-c", CLIENT, &scratch.marker, &dir, &var_dir])).expect(
        0,
        &format!("{dir}/sock: hello\n{dir}/fifo: written\n{var_dir}/sock: hello\n{var_dir}/fifo: written\n"),
        "",
    );
    // Inside, with the host's root: neither path exists.
    let mut cmd = Command::new(HUSK);
    cmd.args(["run", "--", "python3", "-c", CLIENT, &scratch.marker, &dir, &var_dir]);
    let gone = "No such file or directory";
    scratch.run(&mut cmd).expect(
        0,
        &format!("{dir}/sock: {gone}\n{dir}/fifo: {gone}\n{var_dir}/sock: {gone}\n{var_dir}/fifo: {gone}\n"),
        "",
    );
    let mut cmd = Command::new(HUSK);
    cmd.args([
        "run",
        "--",
        "sh",
        "-c",
        "stat -f -c %T /run; ls -A /run; readlink -f /var/run",
        &scratch.marker,
    ]);
    scratch.run(&mut cmd).expect(0, "tmpfs\n/run\n", "");
    drop(daemon.child.stdin.take());
    let report = daemon.wait_stdout("connections=");
    assert!(report.contains("connections=2 fifo=b'xx'"), "only the two host-side attempts arrived: {report}");
}

// ---------------------------------------------------------------------------------------
// 7. The container's own cgroups (issue 15)
// ---------------------------------------------------------------------------------------

/// What root inside tries against its own limits, given every chance: CAP_SYS_ADMIN, no
/// seccomp filter. It makes the read-only view of its groups writable again (a bind
/// remount of the mounts its init made), then tries to lift the memory and pids limits, to
/// make a group of its own below (an escape hatch to move into), and to mount a hierarchy
/// afresh and write there. `t KEY CMD…` prints KEY=ok or KEY=fail; the limits are read at
/// the end. `$1` (after the marker) is the directory of the memory group, `$2` the pids one,
/// `$3` the memory limit's file and `$4` its swap one (v1: memory and swap together, which
/// must be raised first), `$5` the filesystem type to mount afresh.
const CGROUP_ATTACK: &str = r#"
mem=$1 pids=$2 limit=$3 swap=$4 fstype=$5
t() { k=$1; shift; if "$@" 2>/dev/null; then echo "$k=ok"; else echo "$k=fail"; fi; }
t remount mount -o remount,bind,rw "$mem"
t remount_pids mount -o remount,bind,rw "$pids"
t swap sh -c "echo -1 > $mem/$swap"
t raise sh -c "echo -1 > $mem/$limit"
t pids sh -c "echo max > $pids/pids.max"
t subgroup mkdir -p "$mem/escape/.deeper"
mkdir -p /tmp/m
t fresh_mount mount -t "$fstype" -o memory none /tmp/m
t fresh_raise sh -c "test -e /tmp/m/cgroup.procs && echo -1 > /tmp/m/$swap && echo -1 > /tmp/m/$limit"
umount /tmp/m 2>/dev/null
echo "limit=$(cat $mem/$limit)"
echo "pids_max=$(cat $pids/pids.max)"
"#;

#[test]
fn the_containers_limits_cannot_be_lifted_from_inside() {
    let test = "the_containers_limits_cannot_be_lifted_from_inside";
    let bb = need!("the_containers_limits_cannot_be_lifted_from_inside", busybox());
    let scratch = scratch("cgroup-limits");
    let v2 = common::proc::host_has_cgroup2();
    if v2 {
        host_branch(test, "cgroup v2 at /sys/fs/cgroup: one group, its files side by side");
    }
    let args: [&str; 5] = if v2 {
        ["/sys/fs/cgroup", "/sys/fs/cgroup", "memory.max", "memory.swap.max", "cgroup2"]
    } else {
        [
            "/sys/fs/cgroup/memory",
            "/sys/fs/cgroup/pids",
            "memory.limit_in_bytes",
            "memory.memsw.limit_in_bytes",
            "cgroup",
        ]
    };
    let attack = |opts: &[&str]| {
        let mut cmd = Command::new(HUSK);
        cmd.args(["run", "--rootfs", path_str(bb), "--read-only", "--tmpfs", "/tmp"]);
        cmd.args([
            "--seccomp",
            "unconfined",
            "--cap-add",
            "SYS_ADMIN",
            "--memory",
            "64M",
            "--pids-limit",
            "20",
        ]);
        cmd.args(opts).args(["--", "sh", "-c", CGROUP_ATTACK, &scratch.marker]).args(args);
        scratch.run(&mut cmd).values(0)
    };
    // In a user namespace (root's private range): the view can be made writable — its mounts
    // are the container's own — but the files are the host root's, and root inside is not
    // the host's root: nothing is lifted, nothing is made.
    let expected = table([
        ("remount", "ok"),
        ("remount_pids", "ok"),
        ("swap", "fail"),
        ("raise", "fail"),
        ("pids", "fail"),
        ("subgroup", "fail"),
        ("fresh_mount", "ok"),
        ("fresh_raise", "fail"),
        ("limit", "67108864"),
        ("pids_max", "20"),
    ]);
    assert_table("root in a user namespace of its own", &attack(&["--userns", "private"]), &expected);
    // The control: the host's root with CAP_SYS_ADMIN (`--userns host`, a container as
    // privileged as it sounds) gets every step, so the probe would notice if they went
    // through above. It only changes its own group, which goes with it, with the groups it
    // made below (husk removes them too).
    let control = attack(&["--userns", "host"]);
    for key in ["remount", "swap", "raise", "pids", "subgroup"] {
        assert_eq!(control.get(key).map(String::as_str), Some("ok"), "control {key}: {control:#?}");
    }
    assert_eq!(control.get("pids_max").map(String::as_str), Some("max"), "{control:#?}");
    let left = Command::new("find").args(["/sys/fs/cgroup", "-name", "escape"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&left.stdout), "", "groups left behind");
    scratch.assert_clean("the cgroup attack");
}
