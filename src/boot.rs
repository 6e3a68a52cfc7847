//! The kernel's init: what husk does as `/init` of an initramfs or `/sbin/init` of a root
//! filesystem, started by the kernel as PID 1 of the initial PID namespace.
//!
//! The walk: claim Ctrl-Alt-Del, mount the basics, console on fds 0-2, hostname, run
//! COMMAND as any init would, end the rest, sync, report, power off. It never returns: an
//! init that exits panics the kernel.

use core::ffi::CStr;

use rustix::fs::{AtFlags, CWD, Mode, OFlags, StatxAttributes, StatxFlags, mkdir, open, statx};
use rustix::io::Errno;
use rustix::mount::{MountFlags, mount};
use rustix::system::{RebootCommand, reboot};

use crate::args::InitSpec;
use crate::out;
use crate::pid1::Place;
use crate::rt::Process;
use crate::rt::sys;
use crate::signals::{SIGINT, SIGTERM};
use crate::spawn::{self, CallerSignals};

/// Whether husk is the kernel's own init: PID 1 of the *initial* PID namespace.
///
/// reboot(LINUX_REBOOT_CMD_CAD_OFF) tells the two PID 1s apart with no /proc needed: in a
/// child PID namespace the kernel only accepts the restart/halt/power-off commands and
/// answers EINVAL (reboot(2), "Behavior inside PID namespaces"). In the initial namespace it
/// succeeds and does exactly what an init wants anyway: Ctrl-Alt-Del now sends SIGINT to
/// PID 1 instead of rebooting at once.
pub fn is_kernel_init() -> bool {
    rustix::process::getpid().is_init() && reboot(RebootCommand::CadOff).is_ok()
}

/// What a panic ends in (main.rs's panic handler). husk is written not to panic (capacities
/// are checked, not assumed), so this is a last resort: one line, then exit 125 — or, as
/// the kernel's init, power off, since an init that exits panics the kernel.
pub fn panicked() -> ! {
    sys::write_all(2, b"husk: internal error\n");
    if is_kernel_init() {
        rustix::fs::sync();
        let _ = reboot(RebootCommand::PowerOff);
    }
    sys::exit(crate::status::FAILURE)
}

/// How the machine ends, from `husk.exit=` on the kernel command line.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Exit {
    PowerOff,
    Reboot,
    Halt,
    /// QEMU's isa-debug-exit device: QEMU exits with status (N << 1) | 1.
    Qemu,
}

/// The values of `husk.exit=`.
const EXIT_NAMES: &[u8] = b"poweroff reboot halt qemu";
const EXITS: [Exit; 4] = [Exit::PowerOff, Exit::Reboot, Exit::Halt, Exit::Qemu];

/// One filesystem the kernel's init mounts when it is not mounted yet.
pub struct EarlyMount {
    pub target: &'static CStr,
    pub fstype: &'static CStr,
    pub flags: MountFlags,
    pub data: &'static CStr,
}

const NOSUID_NODEV: MountFlags = MountFlags::NOSUID.union(MountFlags::NODEV);
const NOSUID_NODEV_NOEXEC: MountFlags = NOSUID_NODEV.union(MountFlags::NOEXEC);

/// The basics, parents before children (/dev before /dev/pts, /sys before /sys/fs/cgroup).
pub const EARLY_MOUNTS: [EarlyMount; 8] = [
    EarlyMount { target: c"/proc", fstype: c"proc", flags: NOSUID_NODEV_NOEXEC, data: c"" },
    EarlyMount { target: c"/sys", fstype: c"sysfs", flags: NOSUID_NODEV_NOEXEC, data: c"" },
    EarlyMount { target: c"/dev", fstype: c"devtmpfs", flags: MountFlags::NOSUID, data: c"mode=0755" },
    EarlyMount {
        target: c"/dev/pts",
        fstype: c"devpts",
        flags: MountFlags::NOSUID.union(MountFlags::NOEXEC),
        data: c"mode=0620,ptmxmode=0666",
    },
    EarlyMount { target: c"/dev/shm", fstype: c"tmpfs", flags: NOSUID_NODEV, data: c"mode=1777" },
    EarlyMount { target: c"/run", fstype: c"tmpfs", flags: NOSUID_NODEV, data: c"mode=0755" },
    EarlyMount { target: c"/tmp", fstype: c"tmpfs", flags: NOSUID_NODEV, data: c"mode=1777" },
    // nsdelegate: cgroup namespaces become delegation boundaries, as systemd mounts it.
    EarlyMount {
        target: c"/sys/fs/cgroup",
        fstype: c"cgroup2",
        flags: NOSUID_NODEV_NOEXEC,
        data: c"nsdelegate",
    },
];

/// How long the rest gets between SIGTERM and SIGKILL at shutdown unless `--grace` says.
pub const DEFAULT_GRACE_MS: u64 = 2000;

/// Role 2. Never returns.
#[inline(never)] // a role's own frame: see main.rs
pub fn run(spec: &InitSpec, process: &Process) -> ! {
    // Signals are blocked since the first instruction, so a SIGTERM or Ctrl-Alt-Del during
    // boot waits for the supervisor instead of being dropped.
    let signals = CallerSignals::take_over(process);
    mount_basics();
    console_on_stdio();
    set_hostname_from_etc();
    let mut exit = exit_from_cmdline();

    let mut env_storage = crate::rt::CStrSlots::new();
    let envp = environment_with_path(process, &mut env_storage);
    let path = process.getenv(b"PATH").unwrap_or(spawn::DEFAULT_PATH);
    // SIGTERM ends COMMAND gracefully, and then the machine. SIGINT is Ctrl-Alt-Del (see
    // is_kernel_init): the same, but the machine reboots.
    let mut route = |sig: i32| match sig {
        SIGINT => {
            exit = Exit::Reboot;
            Some(SIGTERM)
        }
        other => Some(other),
    };
    let result =
        crate::init::run_command(spec, process, envp, path, &signals, Place::NamespaceInit, &mut route);
    let code = match result {
        Ok((supervisor, ending)) => {
            supervisor.end_the_rest(spec.grace_ms.unwrap_or(DEFAULT_GRACE_MS));
            ending.exit_code()
        }
        Err(code) => code,
    };
    rustix::fs::sync();
    let mut line = out::Line::new();
    line.str("husk: exit status ").num(code as u64);
    line.write_to(2);
    finish(exit, code)
}

/// Mounts each of EARLY_MOUNTS that is not a mount point yet (a bootloader's initramfs, or
/// a root filesystem, may have some mounted already), then lets child groups use every
/// cgroup controller. A failure is reported and boot goes on: a degraded machine is better
/// than a kernel panic.
fn mount_basics() {
    for m in &EARLY_MOUNTS {
        if is_mount_point(m.target) {
            continue;
        }
        match mkdir(m.target, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => {
                out::error("mkdir", m.target.to_bytes(), e);
                continue;
            }
        }
        if let Err(e) = mount(c"none", m.target, m.fstype, m.flags, m.data) {
            out::error("mount", m.target.to_bytes(), e);
        }
    }
    enable_cgroup_controllers();
}

/// statx(2) reports STATX_ATTR_MOUNT_ROOT for the root of a mount (Linux 5.8+).
fn is_mount_point(path: &CStr) -> bool {
    match statx(CWD, path, AtFlags::SYMLINK_NOFOLLOW, StatxFlags::BASIC_STATS) {
        Ok(st) => st.stx_attributes.contains(StatxAttributes::MOUNT_ROOT),
        Err(_) => false,
    }
}

/// Writes `+NAME` to the root group's cgroup.subtree_control for every controller listed in
/// cgroup.controllers, one at a time so one that cannot be enabled does not stop the rest
/// (cgroups(7), "Enabling and disabling controllers"). The root group holds no limits.
fn enable_cgroup_controllers() {
    let mut list = [0u8; 256];
    let Ok(n) = read_file(c"/sys/fs/cgroup/cgroup.controllers", &mut list) else {
        return;
    };
    let Ok(control) =
        open(c"/sys/fs/cgroup/cgroup.subtree_control", OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())
    else {
        return;
    };
    for name in crate::text::fields(list[..n].trim_ascii(), b' ').filter(|w| !w.is_empty()) {
        let mut word = [0u8; 64];
        if name.len() + 1 > word.len() {
            continue;
        }
        word[0] = b'+';
        word[1..=name.len()].copy_from_slice(name);
        let _ = rustix::io::write(&control, &word[..=name.len()]);
    }
}

/// The kernel opens /dev/console as fds 0-2 for init, but only when the root it starts
/// from has a /dev/console node; an initramfs without one starts us with nothing open. Open
/// it from the devtmpfs mounted above in that case. Then make it our controlling terminal
/// (setsid(2), TIOCSCTTY in ioctl_tty(2)) so COMMAND can have job control and Ctrl-C.
fn console_on_stdio() {
    if rustix::io::fcntl_getfd(sys::stdio(0)).is_err()
        && let Ok(fd) = open(c"/dev/console", OFlags::RDWR | OFlags::NOCTTY, Mode::empty())
    {
        for target in 0..3 {
            if rustix::io::fcntl_getfd(sys::stdio(target)).is_err() {
                let _ = dup_to(&fd, target);
            }
        }
    }
    let _ = rustix::process::setsid();
    let _ = rustix::process::ioctl_tiocsctty(sys::stdio(0));
}

/// Duplicates `fd` onto descriptor `target` (0, 1 or 2).
fn dup_to(fd: &rustix::fd::OwnedFd, target: i32) -> rustix::io::Result<()> {
    match target {
        0 => rustix::stdio::dup2_stdin(fd),
        1 => rustix::stdio::dup2_stdout(fd),
        _ => rustix::stdio::dup2_stderr(fd),
    }
}

/// The hostname from the first line of /etc/hostname, when there is one.
fn set_hostname_from_etc() {
    let mut buf = [0u8; 256];
    if let Ok(n) = read_file(c"/etc/hostname", &mut buf) {
        let name = hostname_from(&buf[..n]);
        if !name.is_empty()
            && let Err(e) = rustix::system::sethostname(name)
        {
            out::error("sethostname", name, e);
        }
    }
}

/// The first line, trimmed, at most 64 bytes (HOST_NAME_MAX).
pub fn hostname_from(text: &[u8]) -> &[u8] {
    let line = crate::text::split_once(text, b'\n').0.trim_ascii();
    &line[..line.len().min(64)]
}

/// Reads `husk.exit=` from /proc/cmdline: the kernel keeps dotted words away from init's
/// argv and environment (they are module parameters), so init has to look itself.
fn exit_from_cmdline() -> Exit {
    let mut buf = [0u8; 4096];
    let Ok(n) = read_file(c"/proc/cmdline", &mut buf) else {
        return Exit::PowerOff;
    };
    match exit_from(&buf[..n]) {
        Ok(exit) => exit,
        Err(value) => {
            out::message(&[b"unknown husk.exit=", value, b", powering off"]);
            Exit::PowerOff
        }
    }
}

/// The value of the last `husk.exit=` word before any `--` (after it, words are init's
/// arguments, not the kernel's).
pub fn exit_from(cmdline: &[u8]) -> Result<Exit, &[u8]> {
    let mut exit = Ok(Exit::PowerOff);
    for word in Words(cmdline) {
        if word == b"--" {
            break;
        }
        if let Some(value) = crate::text::after(word, b"husk.exit=") {
            let value = crate::text::after(value, b"\"").unwrap_or(value);
            let value = crate::text::before(value, b"\"").unwrap_or(value);
            exit = crate::args::lookup(EXIT_NAMES, &EXITS, value).ok_or(value);
        }
    }
    exit
}

/// Splits a kernel command line into words the way the kernel does: spaces separate, and
/// double quotes group (`next_arg()` in lib/cmdline.c). Quotes stay in the word.
struct Words<'a>(&'a [u8]);

impl<'a> Iterator for Words<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let s = self.0.trim_ascii_start();
        if s.is_empty() {
            return None;
        }
        let mut quoted = false;
        let mut end = s.len();
        for (i, &b) in s.iter().enumerate() {
            if b == b'"' {
                quoted = !quoted;
            } else if b.is_ascii_whitespace() && !quoted {
                end = i;
                break;
            }
        }
        self.0 = &s[end..];
        Some(&s[..end])
    }
}

/// How many environment entries from the kernel are passed on (the kernel itself passes at
/// most 32: MAX_INIT_ENVS).
const MAX_ENV: usize = 64;

/// The kernel starts init with HOME and TERM but no PATH; COMMAND gets PATH added.
fn environment_with_path<'a>(
    process: &Process,
    storage: &'a mut crate::rt::CStrSlots<{ MAX_ENV + 2 }>,
) -> crate::rt::CStrArray<'a> {
    let mut env = storage.writer();
    let mut has_path = false;
    for entry in process.envp().iter().take(MAX_ENV) {
        has_path |= entry.to_bytes().starts_with(b"PATH=");
        env.push(entry);
    }
    if !has_path {
        env.push(spawn::DEFAULT_PATH_ENV);
    }
    env.finish()
}

/// Reads a small file whole into `buf` (up to its size).
fn read_file(path: &CStr, buf: &mut [u8]) -> rustix::io::Result<usize> {
    let fd = open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    let mut got = 0;
    while got < buf.len() {
        match rustix::io::read(&fd, &mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// The end of the machine. Never returns: if even reboot(2) fails, PID 1 waits forever
/// rather than exit (which would panic the kernel).
fn finish(exit: Exit, code: u8) -> ! {
    let command = match exit {
        Exit::PowerOff => RebootCommand::PowerOff,
        Exit::Reboot => RebootCommand::Restart,
        Exit::Halt => RebootCommand::Halt,
        Exit::Qemu => {
            sys::qemu_debug_exit(code);
            RebootCommand::PowerOff
        }
    };
    if let Err(e) = reboot(command) {
        out::error("reboot", b"", e);
    }
    loop {
        let _ = sys::wait_signal(sys::SigSet::FULL, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_words() {
        let cases: &[(&str, Result<Exit, &str>)] = &[
            ("console=ttyS0 quiet", Ok(Exit::PowerOff)),
            ("husk.exit=reboot", Ok(Exit::Reboot)),
            ("quiet husk.exit=halt panic=-1", Ok(Exit::Halt)),
            ("husk.exit=qemu", Ok(Exit::Qemu)),
            ("husk.exit=reboot husk.exit=poweroff", Ok(Exit::PowerOff)),
            ("husk.exit=\"reboot\"", Ok(Exit::Reboot)),
            ("husk.exit=explode", Err("explode")),
            // after --, words belong to init's command, not to the kernel
            ("quiet -- sh -c husk.exit=reboot", Ok(Exit::PowerOff)),
            ("x=\"a -- b\" husk.exit=halt", Ok(Exit::Halt)),
            ("myhusk.exit=reboot", Ok(Exit::PowerOff)),
            ("", Ok(Exit::PowerOff)),
            ("husk.exit=reboot\n", Ok(Exit::Reboot)),
        ];
        for (line, want) in cases {
            let got = exit_from(line.as_bytes()).map_err(|v| std::str::from_utf8(v).unwrap());
            assert_eq!(got, *want, "{line:?}");
        }
    }

    #[test]
    fn words_like_the_kernel() {
        let w: Vec<&[u8]> = Words(b"  a  \"b c\" d=\"e f\"\tg ").collect();
        assert_eq!(w, vec![&b"a"[..], b"\"b c\"", b"d=\"e f\"", b"g"]);
    }

    #[test]
    fn hostnames() {
        assert_eq!(hostname_from(b"box\n"), b"box");
        assert_eq!(hostname_from(b"  box  \nsecond\n"), b"box");
        assert_eq!(hostname_from(b""), b"");
        assert_eq!(hostname_from(&[b'a'; 100]).len(), 64);
    }

    #[test]
    fn mounts_come_parents_first() {
        for (i, m) in EARLY_MOUNTS.iter().enumerate() {
            let t = m.target.to_bytes();
            for later in &EARLY_MOUNTS[i + 1..] {
                // no later entry is a parent of an earlier one
                let l = later.target.to_bytes();
                assert!(!(t.starts_with(l) && t.get(l.len()) == Some(&b'/')), "{t:?} before {l:?}");
            }
        }
    }
}
