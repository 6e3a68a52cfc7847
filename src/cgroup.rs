//! cgroup v2 limits for a container: memory, swap, pids, cpu — enforced by the kernel,
//! reported at the end, and removed after. See cgroups(7) and the kernel's
//! Documentation/admin-guide/cgroup-v2.rst for each file written here.
//!
//! The pure part (sizes, values, parsing the kernel's files) is unit-tested; `Group` does the
//! file system work.

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, Mode, OFlags, mkdirat, open, openat, statfs, unlinkat};
use rustix::io::Errno;

use crate::cpath::CPath;
use crate::error::{Failure, fail};
use crate::out::Line;

/// Where husk expects the unified hierarchy.
pub const MOUNT: &[u8] = b"/sys/fs/cgroup";

/// The cpu.max period: 100 ms, the kernel's default.
pub const CPU_PERIOD_US: u64 = 100_000;

/// What the user asked to limit.
#[derive(Debug, PartialEq, Eq, Clone, Copy, Default)]
pub struct Limits {
    /// `--memory`: memory.max in bytes.
    pub memory: Option<u64>,
    /// `--memory-swap`: memory plus swap, as Docker means it (`-1`: unlimited swap).
    /// None: not given, and then a `--memory` limit turns swap off (memory.swap.max 0).
    pub memory_swap: Option<Swap>,
    /// `--pids-limit`: pids.max.
    pub pids: Option<u64>,
    /// `--cpus`, in thousandths of a CPU.
    pub cpus_milli: Option<u64>,
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Swap {
    /// memory + swap together, in bytes.
    Total(u64),
    Unlimited,
}

impl Limits {
    pub fn any(&self) -> bool {
        self.memory.is_some()
            || self.memory_swap.is_some()
            || self.pids.is_some()
            || self.cpus_milli.is_some()
    }
}

/// One file to write in the group: name and value (as text).
pub type Setting = (&'static str, heapless::String<32>);

/// Turns the limits into cgroup files and values. Errors describe an inconsistent request.
pub fn settings(limits: &Limits) -> Result<heapless::Vec<Setting, 4>, &'static str> {
    let mut out = heapless::Vec::new();
    let mut push = |file: &'static str, value: heapless::String<32>| {
        let _ = out.push((file, value));
    };
    if let Some(memory) = limits.memory {
        push("memory.max", number(memory));
        // Docker's meaning: --memory alone means no swap at all; --memory-swap is the total.
        let swap = match limits.memory_swap {
            None => number(0),
            Some(Swap::Unlimited) => text("max"),
            Some(Swap::Total(total)) if total >= memory => number(total - memory),
            Some(Swap::Total(_)) => return Err("--memory-swap must be at least --memory"),
        };
        push("memory.swap.max", swap);
    } else if limits.memory_swap.is_some() {
        return Err("--memory-swap needs --memory");
    }
    if let Some(pids) = limits.pids {
        push("pids.max", number(pids));
    }
    if let Some(milli) = limits.cpus_milli {
        let quota = milli * CPU_PERIOD_US / 1000;
        // The kernel's smallest quota is 1 ms.
        let mut value = number(quota.max(1000));
        let _ = value.push(' ');
        let _ = value.push_str(&number(CPU_PERIOD_US));
        push("cpu.max", value);
    }
    Ok(out)
}

/// The controllers the settings need enabled in the parent's cgroup.subtree_control.
pub fn controllers(limits: &Limits) -> heapless::Vec<&'static str, 3> {
    let wanted = [limits.memory.is_some(), limits.pids.is_some(), limits.cpus_milli.is_some()];
    CONTROLLERS.iter().zip(wanted).filter(|(_, on)| *on).map(|(name, _)| *name).collect()
}

/// Every controller husk enables, for memory, pids and cpu limits.
const CONTROLLERS: [&str; 3] = ["memory", "pids", "cpu"];

fn number(n: u64) -> heapless::String<32> {
    named(b"", n)
}

/// `prefix` and `n` in decimal, as a string.
pub fn named(prefix: &[u8], n: u64) -> heapless::String<32> {
    let mut s = heapless::String::new();
    let mut buf = [0; 24];
    let digits = crate::text::digits(n, 10, &mut buf).to_bytes();
    for &b in prefix.iter().chain(digits) {
        let _ = s.push(b as char);
    }
    s
}

fn text(t: &str) -> heapless::String<32> {
    let mut s = heapless::String::new();
    let _ = s.push_str(t);
    s
}

/// A size like `100M`, `512k`, `1G`, `2t` or plain bytes (suffixes are powers of 1024, any
/// case, an optional trailing `b`).
pub fn parse_size(s: &[u8]) -> Option<u64> {
    let s = s.strip_suffix(b"b").or_else(|| s.strip_suffix(b"B")).filter(|r| !r.is_empty()).unwrap_or(s);
    let (digits, shift) = match s.last()?.to_ascii_lowercase() {
        b'k' => (&s[..s.len() - 1], 10),
        b'm' => (&s[..s.len() - 1], 20),
        b'g' => (&s[..s.len() - 1], 30),
        b't' => (&s[..s.len() - 1], 40),
        _ => (s, 0),
    };
    let n = crate::text::parse_decimal(digits, 19)?;
    n.checked_mul(1 << shift)
}

/// CPUs as `N`, `N.N` (up to three decimals) → thousandths; at least 0.001.
pub fn parse_cpus(s: &[u8]) -> Option<u64> {
    let ms = crate::args::parse_seconds_ms(s)?; // same shape: whole part and 3 decimals
    (ms > 0).then_some(ms)
}

/// The value of `key` in a flat-keyed file (memory.events, cpu.stat: `key value` lines).
pub fn keyed(text: &[u8], key: &[u8]) -> Option<u64> {
    text.split(|&b| b == b'\n').find_map(|line| {
        let rest = line.strip_prefix(key)?.strip_prefix(b" ")?;
        crate::text::parse_decimal(rest.trim_ascii(), 19)
    })
}

/// What `--stats` prints at the end, from the group's files.
#[derive(Debug, PartialEq, Eq, Default, Clone, Copy)]
pub struct Stats {
    pub memory_peak: Option<u64>,
    pub user_usec: Option<u64>,
    pub system_usec: Option<u64>,
    pub pids_peak: Option<u64>,
}

/// `husk: stats: memory.peak=… cpu.user=…s cpu.system=…s pids.peak=…` (n/a where the kernel
/// has no such file).
pub fn format_stats(line: &mut Line, stats: &Stats) {
    line.str("husk: stats: memory.peak=");
    opt(line, stats.memory_peak);
    line.str(" cpu.user=");
    seconds(line, stats.user_usec);
    line.str(" cpu.system=");
    seconds(line, stats.system_usec);
    line.str(" pids.peak=");
    opt(line, stats.pids_peak);
}

fn opt(line: &mut Line, v: Option<u64>) {
    match v {
        Some(n) => line.num(n),
        None => line.str("n/a"),
    };
}

fn seconds(line: &mut Line, usec: Option<u64>) {
    match usec {
        Some(us) => {
            let ms = us / 1000;
            line.num(ms / 1000).str(".");
            let frac = ms % 1000;
            if frac < 100 {
                line.str("0");
            }
            if frac < 10 {
                line.str("0");
            }
            line.num(frac).str("s");
        }
        None => {
            line.str("n/a");
        }
    }
}

/// A container's cgroup, created for one run and removed after it.
pub struct Group {
    /// The group directory, for CLONE_INTO_CGROUP and for reading its files.
    dir: OwnedFd,
    /// The parent directory, to remove the group from.
    parent: OwnedFd,
    name: heapless::String<32>,
    /// Whether husk moved itself out of the parent into the leaf `NAME.sup` beside the
    /// group (see `Group::create`).
    moved: bool,
    /// husk's other processes in the caller's group, moved into the leaf and back with it
    /// (a detached container's caller and logger; 0: none).
    companions: [i32; 2],
}

/// Room for the default parent's path (husk's own group and `/husk`), which an error may
/// name: the caller's, so that the error can outlive `Group::create`.
pub type ParentPath = [u8; 600];

const NOT_DELEGATED: &str = "the controller is not available or not delegated here";
/// For a group the caller may not write (EACCES, EPERM, EROFS), or one that holds other
/// processes (EBUSY: see `Group::create`).
const NOT_YOURS: &str = "limits need a group delegated to you and to husk alone: systemd-run --user --scope \
                         -p Delegate=yes husk run …, or --cgroup-parent with a group root chowned to you";

/// What to do when a group cannot be made or a controller not enabled.
fn hint(e: Errno) -> &'static str {
    match e {
        Errno::ACCESS | Errno::PERM | Errno::ROFS | Errno::BUSY => NOT_YOURS,
        _ => NOT_DELEGATED,
    }
}

impl Group {
    /// Creates `PARENT/husk-PID` (PARENT: `--cgroup-parent`, else `husk` under the group
    /// husk runs in — for a user, that group itself: see below), enables the needed
    /// controllers on the way down, and writes the limits. Nothing is left behind on
    /// failure, whose hint says what to do.
    ///
    /// A user may write only a group delegated to them (Documentation/admin-guide/
    /// cgroup-v2.rst, "Delegation": root chowns the directory and its cgroup.procs,
    /// cgroup.threads and cgroup.subtree_control; systemd's `Delegate=yes`), and the one
    /// they run in is the one delegated: a scope started for husk holds husk itself. cgroup
    /// v2's "No Internal Process Constraint" allows no controller in the subtree_control of
    /// a (non-root) group that holds processes (EBUSY), so husk first moves itself into a
    /// leaf of its own beside the container's group, `husk-PID.sup` (which needs write
    /// access to the common ancestor's cgroup.procs: the delegated group's own), then
    /// enables the controllers in its group and makes the container's group there.
    /// `remove` undoes it all. Only for users: what root may write says nothing about
    /// who manages a group (systemd's own), so root keeps `husk/` below its group.
    pub fn create<'a>(
        parent: Option<&'a [u8]>,
        scratch: &'a mut ParentPath,
        limits: &Limits,
        settings: &[Setting],
        companions: [i32; 2],
    ) -> Result<Group, Failure<'a>> {
        let root = unified_hierarchy()?;
        let wanted = controllers(limits);
        let (parent_rel, move_out) = parent_path(parent, scratch)?;
        let level = descend(root, parent_rel, &wanted)?;
        let mut group = make(level, parent_rel)?;
        if move_out {
            group.moved = true;
            group.companions = companions;
            if let Err(e) = group.enter_leaf() {
                group.remove();
                return Err(Failure::new("cgroup", parent_rel, e).with_hint(hint(e)));
            }
        }
        // Right after husk left it, the group still counts as holding a process for a
        // moment (EBUSY within a millisecond or so, seen on Linux 6.1 under QEMU): retry.
        let mut tries = if group.moved { 100 } else { 1 };
        let enabled = loop {
            match enable(group.parent.as_fd(), &wanted) {
                Err(Errno::BUSY) if tries > 1 => crate::rt::sys::sleep_ns(1_000_000),
                done => break done,
            }
            tries -= 1;
        };
        if let Err(e) = enabled {
            group.remove();
            return Err(Failure::new("cgroup.subtree_control", parent_rel, e).with_hint(hint(e)));
        }
        for (file, value) in settings {
            if let Err(e) = write_at(group.dir.as_fd(), file.as_bytes(), value.as_bytes()) {
                group.remove();
                let hint = match e {
                    Errno::NOENT => "the controller for this limit is not enabled (swap accounting off?)",
                    _ => "",
                };
                return Err(Failure::new("cgroup", file.as_bytes(), e).with_hint(hint));
            }
        }
        Ok(group)
    }

    /// The group's directory, for clone3's CLONE_INTO_CGROUP.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.dir.as_fd()
    }

    /// Whether the OOM killer killed anything in the group (memory.events `oom_kill`).
    pub fn oom_killed(&self) -> bool {
        let mut buf = [0u8; 512];
        read_at(self.dir.as_fd(), b"memory.events", &mut buf)
            .ok()
            .and_then(|n| keyed(&buf[..n], b"oom_kill"))
            .unwrap_or(0)
            > 0
    }

    /// The group's memory.max as written (for the OOM message).
    pub fn read_value(&self, file: &[u8], buf: &mut [u8]) -> usize {
        read_at(self.dir.as_fd(), file, buf).map(|n| n.min(buf.len())).unwrap_or(0)
    }

    /// The figures `--stats` reports.
    pub fn stats(&self) -> Stats {
        let mut buf = [0u8; 1024];
        let single = |file: &[u8], buf: &mut [u8]| {
            read_at(self.dir.as_fd(), file, buf)
                .ok()
                .and_then(|n| crate::text::parse_decimal(buf[..n].trim_ascii(), 19))
        };
        let memory_peak = single(b"memory.peak", &mut buf);
        let pids_peak = single(b"pids.peak", &mut buf);
        let (user_usec, system_usec) = match read_at(self.dir.as_fd(), b"cpu.stat", &mut buf) {
            Ok(n) => (keyed(&buf[..n], b"user_usec"), keyed(&buf[..n], b"system_usec")),
            Err(_) => (None, None),
        };
        Stats { memory_peak, user_usec, system_usec, pids_peak }
    }

    /// Removes the group. Called once every process in it is gone (the container's init
    /// has been reaped); a group that still holds a zombie for a moment says EBUSY, so try
    /// a few times.
    pub fn remove(&self) {
        let mut cpath = CPath::new();
        if let Ok(name) = cpath.of(&[self.name.as_bytes()]) {
            for _ in 0..100 {
                match unlinkat(self.parent.as_fd(), name, AtFlags::REMOVEDIR) {
                    Err(Errno::BUSY) => crate::rt::sys::sleep_ns(10_000_000),
                    _ => break,
                }
            }
        }
        if self.moved {
            self.leave_leaf();
        }
    }

    /// Makes `NAME.sup` beside the group and moves husk into it (`0` in cgroup.procs: the
    /// writer itself).
    fn enter_leaf(&self) -> Result<(), Errno> {
        let mut cpath = CPath::new();
        let leaf = cpath.of(&[self.name.as_bytes(), LEAF])?;
        mkdirat(self.parent.as_fd(), leaf, Mode::from_raw_mode(0o755))?;
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        let dir = openat(self.parent.as_fd(), leaf, flags, Mode::empty())?;
        write_at(dir.as_fd(), b"cgroup.procs", b"0")?;
        // (One already gone, a caller that returned: nothing to move.)
        self.move_companions(dir.as_fd())
    }

    /// Writes each companion's pid to `dir`'s cgroup.procs.
    fn move_companions(&self, dir: BorrowedFd) -> Result<(), Errno> {
        for pid in self.companions.into_iter().filter(|&pid| pid > 0) {
            match write_at(dir, b"cgroup.procs", number(pid as u64).as_bytes()) {
                Ok(()) | Err(Errno::SRCH) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Back where husk was, once the container's group is gone: a group with controllers
    /// in its subtree_control takes no process (EBUSY), so they are disabled first — only
    /// husk can have enabled them, since the group held husk — and only while the leaf is
    /// the parent's last child (cgroup.stat `nr_descendants`), else another group may be
    /// using them and the empty leaf stays (systemd removes a scope's groups with the
    /// scope). No process could have entered the parent meanwhile, for the same reason.
    /// Best effort: husk is on its way out.
    fn leave_leaf(&self) {
        let parent = self.parent.as_fd();
        let mut buf = [0u8; 256];
        if read_at(parent, b"cgroup.stat", &mut buf)
            .is_ok_and(|n| keyed(&buf[..n], b"nr_descendants") == Some(1))
        {
            for name in CONTROLLERS {
                let _ = switch(parent, b'-', name);
            }
        }
        let _ = self.move_companions(parent);
        let _ = write_at(parent, b"cgroup.procs", b"0");
        // Refused (EBUSY) while husk is still in it.
        let mut cpath = CPath::new();
        if let Ok(leaf) = cpath.of(&[self.name.as_bytes(), LEAF]) {
            let _ = unlinkat(parent, leaf, AtFlags::REMOVEDIR);
        }
    }
}

/// The suffix of the leaf husk moves itself into (see `Group::create`).
const LEAF: &[u8] = b".sup";

/// The cgroup2 mount, opened; refused when /sys/fs/cgroup is not cgroup v2 (a v1 or
/// hybrid host: a limit there would not be applied).
fn unified_hierarchy() -> Result<OwnedFd, Failure<'static>> {
    let mount = c"/sys/fs/cgroup";
    let fs = statfs(mount)
        .map_err(|e| Failure::new("cgroup", MOUNT, e).with_hint("limits need cgroup v2 mounted there"))?;
    if fs.f_type as u32 != linux_raw_sys::general::CGROUP2_SUPER_MAGIC {
        let hint =
            "not a cgroup v2 mount: limits need the unified hierarchy (systemd.unified_cgroup_hierarchy=1)";
        return Err(Failure::new("cgroup", MOUNT, Errno::OPNOTSUPP).with_hint(hint));
    }
    open(mount, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(fail("cgroup", MOUNT))
}

/// The parent group, relative to the mount: `parent`, or `husk` under husk's own group
/// (written into `scratch`) — for a user whose group is not the root, that group itself,
/// and then husk has to move out of it (true; see `Group::create`).
fn parent_path<'a>(
    parent: Option<&'a [u8]>,
    scratch: &'a mut ParentPath,
) -> Result<(&'a [u8], bool), Failure<'a>> {
    if let Some(p) = parent {
        return Ok((p, false));
    }
    let mut own = [0u8; 512];
    let own_len = read_all(c"/proc/self/cgroup", &mut own).map_err(fail("cgroup", b"/proc/self/cgroup"))?;
    // The root group as "", so that its `husk` is `/husk`.
    let mine = crate::procfs::cgroup_path(&own[..own_len]).unwrap_or(b"/");
    let mine = mine.strip_suffix(b"/").unwrap_or(mine);
    let n = mine.len().min(500);
    scratch[..n].copy_from_slice(&mine[..n]);
    if n > 0 && !rustix::process::geteuid().is_root() {
        return Ok((&scratch[..n], true));
    }
    scratch[n..n + 5].copy_from_slice(b"/husk");
    Ok((&scratch[..n + 5], false))
}

/// Walks down from the mount to `parent_rel`, creating what is missing and enabling the
/// `wanted` controllers in each level's cgroup.subtree_control so the next level may use
/// them (the parent's own, which its children need, is left to the caller). Returns the
/// parent's directory. An error names the level that failed.
fn descend<'a>(root: OwnedFd, parent_rel: &'a [u8], wanted: &[&str]) -> Result<OwnedFd, Failure<'a>> {
    let mut cpath = CPath::new();
    let mut level = root;
    let mut done: &[u8] = MOUNT;
    let mut end = 0;
    for part in parent_rel.split(|&b| b == b'/') {
        end += part.len() + 1;
        if part.is_empty() || part == b"." {
            continue;
        }
        if part == b".." {
            let hint = "the path must stay inside the hierarchy";
            return Err(Failure::new("cgroup-parent", parent_rel, Errno::INVAL).with_hint(hint));
        }
        enable(level.as_fd(), wanted)
            .map_err(|e| Failure::new("cgroup.subtree_control", done, e).with_hint(hint(e)))?;
        done = &parent_rel[..end - 1];
        let name = cpath.of(&[part]).map_err(fail("cgroup-parent", parent_rel))?;
        match mkdirat(level.as_fd(), name, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(Failure::new("mkdir", done, e).with_hint(hint(e))),
        }
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        level = openat(level.as_fd(), name, flags, Mode::empty()).map_err(fail("cgroup-parent", done))?;
    }
    Ok(level)
}

/// The container's own group, `husk-PID`, in `parent`.
fn make(parent: OwnedFd, parent_rel: &[u8]) -> Result<Group, Failure<'_>> {
    let mut cpath = CPath::new();
    let name = named(b"husk-", rustix::process::getpid().as_raw_nonzero().get() as u64);
    let c_name = cpath.of(&[name.as_bytes()]).map_err(fail("mkdir", parent_rel))?;
    mkdirat(parent.as_fd(), c_name, Mode::from_raw_mode(0o755))
        .map_err(|e| Failure::new("cgroup", parent_rel, e).with_hint(hint(e)))?;
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let dir = openat(parent.as_fd(), c_name, flags, Mode::empty()).map_err(fail("cgroup", parent_rel))?;
    Ok(Group { dir, parent, name, moved: false, companions: [0; 2] })
}

/// Writes `+NAME` for each controller not yet enabled in `dir`'s cgroup.subtree_control.
fn enable(dir: BorrowedFd, wanted: &[&str]) -> Result<(), Errno> {
    let mut current = [0u8; 256];
    let n = read_at(dir, b"cgroup.subtree_control", &mut current)?;
    for name in wanted {
        let on = current[..n].split(|b| b.is_ascii_whitespace()).any(|w| w == name.as_bytes());
        if !on {
            switch(dir, b'+', name)?;
        }
    }
    Ok(())
}

/// Writes `+NAME` or `-NAME` (`sign`) to `dir`'s cgroup.subtree_control.
fn switch(dir: BorrowedFd, sign: u8, name: &str) -> Result<(), Errno> {
    let mut word = [0u8; 16];
    word[0] = sign;
    word[1..=name.len()].copy_from_slice(name.as_bytes());
    write_at(dir, b"cgroup.subtree_control", &word[..=name.len()])
}

fn write_at(dir: BorrowedFd, file: &[u8], value: &[u8]) -> Result<(), Errno> {
    let mut cpath = CPath::new();
    let c = cpath.of(&[file])?;
    let fd = openat(dir, c, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())?;
    rustix::io::write(&fd, value).map(|_| ())
}

fn read_at(dir: BorrowedFd, file: &[u8], buf: &mut [u8]) -> Result<usize, Errno> {
    let mut cpath = CPath::new();
    let c = cpath.of(&[file])?;
    let fd = openat(dir, c, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    rustix::io::read(&fd, buf)
}

fn read_all(path: &core::ffi::CStr, buf: &mut [u8]) -> Result<usize, Errno> {
    let fd = open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    rustix::io::read(&fd, buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        let cases: &[(&str, Option<u64>)] = &[
            ("100M", Some(100 << 20)),
            ("100m", Some(100 << 20)),
            ("100MB", Some(100 << 20)),
            ("512k", Some(512 << 10)),
            ("1G", Some(1 << 30)),
            ("2t", Some(2 << 40)),
            ("4096", Some(4096)),
            ("4096b", Some(4096)),
            ("0", Some(0)),
            ("", None),
            ("M", None),
            ("b", None),
            ("1.5G", None),
            ("-1", None),
            ("10X", None),
            ("99999999999999999t", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_size(s.as_bytes()), *want, "{s}");
        }
    }

    #[test]
    fn cpus() {
        assert_eq!(parse_cpus(b"0.5"), Some(500));
        assert_eq!(parse_cpus(b"2"), Some(2000));
        assert_eq!(parse_cpus(b"0.001"), Some(1));
        assert_eq!(parse_cpus(b"0"), None);
        assert_eq!(parse_cpus(b"abc"), None);
    }

    fn values(limits: Limits) -> Vec<(String, String)> {
        settings(&limits).unwrap().iter().map(|(f, v)| (f.to_string(), v.to_string())).collect()
    }

    #[test]
    fn settings_follow_dockers_meaning() {
        let m = 100 << 20;
        assert_eq!(
            values(Limits { memory: Some(m), ..Default::default() }),
            [("memory.max".into(), "104857600".into()), ("memory.swap.max".into(), "0".into())]
        );
        assert_eq!(
            values(Limits { memory: Some(m), memory_swap: Some(Swap::Total(3 * m)), ..Default::default() })
                [1],
            ("memory.swap.max".into(), (2 * m).to_string())
        );
        assert_eq!(
            values(Limits { memory: Some(m), memory_swap: Some(Swap::Unlimited), ..Default::default() })[1],
            ("memory.swap.max".into(), "max".into())
        );
        assert!(
            settings(&Limits {
                memory: Some(m),
                memory_swap: Some(Swap::Total(m - 1)),
                ..Default::default()
            })
            .is_err()
        );
        assert!(settings(&Limits { memory_swap: Some(Swap::Total(m)), ..Default::default() }).is_err());
        assert_eq!(
            values(Limits { pids: Some(10), ..Default::default() }),
            [("pids.max".into(), "10".into())]
        );
        assert_eq!(
            values(Limits { cpus_milli: Some(500), ..Default::default() }),
            [("cpu.max".into(), "50000 100000".into())]
        );
        assert_eq!(
            values(Limits { cpus_milli: Some(1), ..Default::default() }),
            [("cpu.max".into(), "1000 100000".into())]
        );
        assert_eq!(
            controllers(&Limits {
                memory: Some(1),
                pids: Some(1),
                cpus_milli: Some(1),
                ..Default::default()
            })
            .as_slice(),
            ["memory", "pids", "cpu"]
        );
    }

    #[test]
    fn hints_say_how_to_get_a_group() {
        // Not the caller's to write, or not husk's alone: how to get a delegated one.
        for e in [Errno::ACCESS, Errno::PERM, Errno::ROFS, Errno::BUSY] {
            assert!(hint(e).contains("systemd-run --user --scope -p Delegate=yes husk run"), "{e:?}");
        }
        // ENOENT from cgroup.subtree_control: the controller is not in cgroup.controllers.
        assert_eq!(hint(Errno::NOENT), NOT_DELEGATED);
        assert_eq!(controllers(&Limits::default()).as_slice(), [""; 0]);
        assert_eq!(controllers(&Limits { pids: Some(1), ..Default::default() }).as_slice(), ["pids"]);
    }

    #[test]
    fn kernel_files() {
        let events = b"low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n";
        assert_eq!(keyed(events, b"oom_kill"), Some(2));
        assert_eq!(keyed(events, b"oom"), Some(3));
        assert_eq!(keyed(events, b"missing"), None);
    }

    #[test]
    fn stats_line() {
        let mut line = Line::new();
        format_stats(
            &mut line,
            &Stats {
                memory_peak: Some(5 << 20),
                user_usec: Some(1_234_567),
                system_usec: Some(5_000),
                pids_peak: Some(3),
            },
        );
        assert_eq!(
            std::str::from_utf8(line.as_bytes()).unwrap(),
            "husk: stats: memory.peak=5242880 cpu.user=1.234s cpu.system=0.005s pids.peak=3"
        );
        let mut line = Line::new();
        format_stats(&mut line, &Stats::default());
        assert_eq!(
            std::str::from_utf8(line.as_bytes()).unwrap(),
            "husk: stats: memory.peak=n/a cpu.user=n/a cpu.system=n/a pids.peak=n/a"
        );
    }
}
