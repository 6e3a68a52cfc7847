//! `husk run [OPTIONS] [--] COMMAND [ARG]...` → RunSpec. Pure, like the rest of args.

use super::{Argv, Command, Refusal, UsageError, next_option, option_value};
use crate::cgroup::{Limits, Swap, parse_cpus, parse_size};
use crate::config::{Cgroup, Config, Mount, MountKind, Namespace, Namespaces, Process, Root};
use crate::text::{has_byte, parse_decimal};

const SIZE: &str = "a size like 100M, 512k, 1G or bytes";

/// How many volumes (`--bind`, `--ro-bind`, `--tmpfs`) one container may have.
pub const MAX_VOLUMES: usize = 32;
/// How many `-e KEY=VALUE` one container may have.
pub const MAX_ENV: usize = 64;
/// The longest hostname the kernel takes (HOST_NAME_MAX).
const MAX_HOSTNAME: usize = 64;

const SUB: &str = "run";

/// Everything `husk run` was asked for. Strings borrow argv: nothing is copied.
#[derive(Debug, PartialEq, Eq)]
pub struct RunSpec<'a> {
    /// `--rootfs DIR`; None: the host's `/`, read-only, with a fresh /tmp.
    pub rootfs: Option<&'a [u8]>,
    /// `--read-only`: the root filesystem is mounted read-only.
    pub read_only: bool,
    /// Volumes, mounted in the order given (a later one may sit inside an earlier one).
    pub volumes: heapless::Vec<Volume<'a>, MAX_VOLUMES>,
    pub hostname: &'a [u8],
    /// `-e KEY=VALUE` entries, each a whole argv string (so NUL-terminated in memory).
    pub env: heapless::Vec<usize, MAX_ENV>,
    pub cwd: &'a [u8],
    /// `-u UID[:GID]`; None: root.
    pub user: Option<(u32, u32)>,
    pub net: Net,
    /// `--cap-add` and `--cap-drop`, as capability sets (see `caps::resolve`).
    pub caps_added: u64,
    pub caps_dropped: u64,
    /// `--seccomp default|unconfined`: whether COMMAND gets the default filter.
    pub seccomp: bool,
    /// `--memory`, `--memory-swap`, `--pids-limit`, `--cpus`.
    pub limits: Limits,
    /// `--cgroup-parent PATH`, relative to the cgroup2 mount.
    pub cgroup_parent: Option<&'a [u8]>,
    /// `--stats`: report peak memory, CPU time and peak pids at the end.
    pub stats: bool,
    /// `--name NAME`: register the container so exec, ps, kill and logs can find it.
    pub name: Option<&'a [u8]>,
    /// `-d`, `--detach`: return once COMMAND runs; output goes to the container's log.
    pub detach: bool,
    /// `--rm`: remove the container's record and log when it ends (a detached container's
    /// otherwise stay, listed as exited, until `husk rm`).
    pub remove: bool,
    /// `--log-size SIZE`: the most a detached container's log keeps (its last bytes).
    pub log_size: Option<u64>,
    /// Index in argv where COMMAND starts.
    pub command: usize,
}

impl<'a> RunSpec<'a> {
    /// The container these options describe: every default and policy of `husk run` is
    /// decided here, in one place, and the walk only carries it out.
    pub fn config(&self) -> Config<'_> {
        let root = match self.rootfs {
            Some(path) => Root::Dir { path, read_only: self.read_only },
            // No --rootfs: the host's own tree, never writable.
            None => Root::Host,
        };
        let mut mounts = heapless::Vec::new();
        let mut add = |kind, dest: &'static [u8]| {
            // MAX_MOUNTS has room for husk's own and MAX_VOLUMES more.
            let _ = mounts.push(Mount { kind, source: b"", dest });
        };
        add(MountKind::Proc, b"/proc");
        add(MountKind::Dev, b"/dev");
        // A read-only root still needs somewhere to write, unless a volume is there.
        if root.read_only() && !self.volumes.iter().any(|v| v.dest == b"/tmp") {
            add(MountKind::Tmpfs { mode: 0o1777 }, b"/tmp");
        }
        // The host's /run holds its daemons' sockets: not for a container on the host's tree.
        if root == Root::Host {
            add(MountKind::HostRun, b"/run");
        }
        add(MountKind::Sysfs, b"/sys");
        let cgroup = (self.limits.any() || self.stats || self.cgroup_parent.is_some()).then_some(Cgroup {
            parent: self.cgroup_parent,
            limits: self.limits,
            stats: self.stats,
        });
        if cgroup.is_some() {
            add(MountKind::Cgroup2, b"/sys/fs/cgroup");
        }
        for v in &self.volumes {
            let kind = match v.kind {
                VolumeKind::Bind => MountKind::Bind { read_only: false },
                VolumeKind::ReadOnlyBind => MountKind::Bind { read_only: true },
                VolumeKind::Tmpfs => MountKind::Tmpfs { mode: 0o755 },
            };
            let _ = mounts.push(Mount { kind, source: v.source, dest: v.dest });
        }
        let network = match self.net {
            Net::None => Namespace::New,
            Net::Host => Namespace::Host,
        };
        Config {
            root,
            mounts,
            namespaces: Namespaces { network },
            hostname: self.hostname,
            process: Process {
                command: self.command,
                env: &self.env,
                cwd: self.cwd,
                user: self.user,
                caps_added: self.caps_added,
                caps_dropped: self.caps_dropped,
                no_new_privs: true,
                seccomp: self.seccomp,
            },
            cgroup,
        }
    }
}

/// One mount the user asked for.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct Volume<'a> {
    pub kind: VolumeKind,
    /// The host path (empty for tmpfs).
    pub source: &'a [u8],
    /// The absolute path inside the container.
    pub dest: &'a [u8],
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum VolumeKind {
    Bind,
    ReadOnlyBind,
    Tmpfs,
}

/// `--net`: a network namespace of its own with only loopback, or the host's network.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Net {
    None,
    Host,
}

pub(super) fn parse<'a, A: Argv<'a> + ?Sized>(argv: &A, mut i: usize) -> Result<Command<'a>, UsageError<'a>> {
    let mut spec = RunSpec {
        rootfs: None,
        read_only: false,
        volumes: heapless::Vec::new(),
        hostname: b"husk",
        env: heapless::Vec::new(),
        cwd: b"/",
        user: None,
        net: Net::None,
        caps_added: 0,
        caps_dropped: 0,
        seccomp: true,
        limits: Limits::default(),
        cgroup_parent: None,
        stats: false,
        name: None,
        detach: false,
        remove: false,
        log_size: None,
        command: 0,
    };
    while let Some((arg, option, inline)) = next_option(argv, &mut i) {
        if super::is_help(option) {
            return Ok(Command::Help(super::Topic::Run));
        }
        let Some(opt) = super::lookup(&OPTIONS, option) else {
            return Err(UsageError::UnknownOption { sub: SUB, option: arg });
        };
        // Flags first; every other option takes a value, inline (--opt=v) or next.
        match opt {
            Opt::ReadOnly => spec.read_only = true,
            Opt::Stats => spec.stats = true,
            Opt::Detach => spec.detach = true,
            Opt::Remove => spec.remove = true,
            _ => {
                let (value, at) = option_value(argv, &mut i, inline, SUB, option)?;
                set(&mut spec, opt, value, at, inline.is_some())
                    .map_err(|refusal| refusal.error(SUB, option, value))?;
            }
        }
        i += 1;
    }
    if i >= argv.count() {
        return Err(UsageError::MissingCommand { sub: SUB });
    }
    if let Err(why) = crate::cgroup::settings(&spec.limits) {
        return Err(UsageError::Conflict { sub: SUB, why });
    }
    if spec.log_size.is_some() && !spec.detach {
        return Err(UsageError::Conflict {
            sub: SUB,
            why: "--log-size is for --detach: only a detached container has a log",
        });
    }
    spec.command = i;
    Ok(Command::Run(spec))
}

/// `husk run`'s options: one table, looked up once per argument.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Opt {
    ReadOnly,
    Stats,
    Detach,
    Remove,
    Rootfs,
    Bind,
    RoBind,
    Tmpfs,
    Hostname,
    Env,
    Cwd,
    User,
    Net,
    CapAdd,
    CapDrop,
    Seccomp,
    Memory,
    MemorySwap,
    PidsLimit,
    Cpus,
    CgroupParent,
    Name,
    LogSize,
}

/// `-h` and `--help` are not here: every subcommand takes them (`is_help`). `husk exec` takes
/// `-e`, `-w` and `-u` from this table too.
pub(super) const OPTIONS: [(&[u8], Opt); 28] = [
    (b"--read-only", Opt::ReadOnly),
    (b"--stats", Opt::Stats),
    (b"-d", Opt::Detach),
    (b"--detach", Opt::Detach),
    (b"--rm", Opt::Remove),
    (b"--rootfs", Opt::Rootfs),
    (b"--bind", Opt::Bind),
    (b"--ro-bind", Opt::RoBind),
    (b"--tmpfs", Opt::Tmpfs),
    (b"--hostname", Opt::Hostname),
    (b"-e", Opt::Env),
    (b"--env", Opt::Env),
    (b"-w", Opt::Cwd),
    (b"--cwd", Opt::Cwd),
    (b"-u", Opt::User),
    (b"--user", Opt::User),
    (b"--net", Opt::Net),
    (b"--cap-add", Opt::CapAdd),
    (b"--cap-drop", Opt::CapDrop),
    (b"--seccomp", Opt::Seccomp),
    (b"-m", Opt::Memory),
    (b"--memory", Opt::Memory),
    (b"--memory-swap", Opt::MemorySwap),
    (b"--pids-limit", Opt::PidsLimit),
    (b"--cpus", Opt::Cpus),
    (b"--cgroup-parent", Opt::CgroupParent),
    (b"--name", Opt::Name),
    (b"--log-size", Opt::LogSize),
];

/// Applies option `opt` with `value` (argv index `at`; `inline` when given as `--opt=v`).
/// Out of line: parsing is inlined into main, whose frame lives as long as husk, and this
/// one's locals need not be part of it (it is smaller code this way, too).
#[inline(never)]
fn set<'a>(
    spec: &mut RunSpec<'a>,
    opt: Opt,
    value: &'a [u8],
    at: usize,
    inline: bool,
) -> Result<(), Refusal> {
    let bad = Refusal::Expected;
    match opt {
        Opt::Rootfs => spec.rootfs = Some(nonempty(value).ok_or(bad("a directory"))?),
        Opt::Bind | Opt::RoBind => {
            let (source, dest) = split_volume(value).ok_or(bad("SRC:DST with an absolute DST"))?;
            let kind = if opt == Opt::Bind { VolumeKind::Bind } else { VolumeKind::ReadOnlyBind };
            push_volume(spec, Volume { kind, source, dest })?;
        }
        Opt::Tmpfs => {
            let dest = absolute(value).ok_or(bad("an absolute path"))?;
            push_volume(spec, Volume { kind: VolumeKind::Tmpfs, source: b"", dest })?;
        }
        Opt::Hostname => {
            if value.is_empty() || value.len() > MAX_HOSTNAME || has_byte(value, b'/') {
                return Err(bad("a name of 1 to 64 bytes"));
            }
            spec.hostname = value;
        }
        Opt::Env => push_env(&mut spec.env, value, at, inline)?,
        Opt::Cwd => spec.cwd = absolute(value).ok_or(bad("an absolute path"))?,
        Opt::User => spec.user = Some(parse_user(value).ok_or(bad("UID or UID:GID"))?),
        Opt::Memory => spec.limits.memory = Some(parse_size(value).ok_or(bad(SIZE))?),
        Opt::MemorySwap => {
            spec.limits.memory_swap = Some(if value == b"-1" {
                Swap::Unlimited
            } else {
                Swap::Total(parse_size(value).ok_or(bad("a size like 200M, or -1"))?)
            });
        }
        Opt::PidsLimit => {
            let n = parse_decimal(value, 9).filter(|&n| n > 0).ok_or(bad("a number of processes"))?;
            spec.limits.pids = Some(n);
        }
        Opt::LogSize => {
            let size = parse_size(value).filter(|&n| n >= crate::log::MIN_SIZE);
            spec.log_size = Some(size.ok_or(bad("a size of at least 8k, like 1M"))?);
        }
        Opt::Cpus => spec.limits.cpus_milli = Some(parse_cpus(value).ok_or(bad("CPUs, like 0.5 or 2"))?),
        Opt::CgroupParent => {
            if value.is_empty() || value.split(|&b| b == b'/').any(|p| p == b"..") {
                return Err(bad("a cgroup path without .."));
            }
            spec.cgroup_parent = Some(value);
        }
        Opt::Name => {
            if !super::valid_name(value) {
                return Err(bad(super::manage::NAME_RULE));
            }
            spec.name = Some(value);
        }
        Opt::Seccomp => {
            spec.seccomp = super::lookup(&[(b"default", true), (b"unconfined", false)], value)
                .ok_or(bad("default or unconfined"))?;
        }
        Opt::CapAdd | Opt::CapDrop => {
            let set = crate::caps::parse(value).ok_or(bad("a capability, like NET_ADMIN or ALL"))?;
            if opt == Opt::CapAdd {
                spec.caps_added |= set;
            } else {
                spec.caps_dropped |= set;
            }
        }
        Opt::Net => {
            spec.net = super::lookup(&[(b"none", Net::None), (b"host", Net::Host)], value)
                .ok_or(bad("none or host"))?;
        }
        // Flags, handled by the caller.
        Opt::ReadOnly | Opt::Stats | Opt::Detach | Opt::Remove => {}
    }
    Ok(())
}

fn push_volume<'a>(spec: &mut RunSpec<'a>, volume: Volume<'a>) -> Result<(), Refusal> {
    spec.volumes.push(volume).map_err(|_| Refusal::Full(MAX_VOLUMES))
}

fn nonempty(s: &[u8]) -> Option<&[u8]> {
    (!s.is_empty()).then_some(s)
}

pub(super) fn absolute(s: &[u8]) -> Option<&[u8]> {
    s.starts_with(b"/").then_some(s)
}

/// `SRC:DST` at the first colon; both non-empty, DST absolute.
fn split_volume(value: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = value.iter().position(|&b| b == b':')?;
    let (source, dest) = (&value[..colon], &value[colon + 1..]);
    Some((nonempty(source)?, absolute(dest)?))
}

/// `-e KEY=VALUE` (of `run` and `exec`): the argument's argv index, added to `env`.
pub(super) fn push_env(
    env: &mut heapless::Vec<usize, MAX_ENV>,
    value: &[u8],
    at: usize,
    inline: bool,
) -> Result<(), Refusal> {
    // Must be a whole argv string: execve takes it as is, NUL and all.
    if inline || !is_env_entry(value) {
        return Err(Refusal::Expected("KEY=VALUE, as a separate argument"));
    }
    env.push(at).map_err(|_| Refusal::Full(MAX_ENV))
}

/// `KEY=VALUE` with a non-empty KEY.
fn is_env_entry(value: &[u8]) -> bool {
    matches!(value.iter().position(|&b| b == b'='), Some(n) if n > 0)
}

/// `UID` or `UID:GID` (numbers only: the container's /etc/passwd is not trusted); GID
/// defaults to UID.
pub(super) fn parse_user(value: &[u8]) -> Option<(u32, u32)> {
    let (uid, gid) = match value.iter().position(|&b| b == b':') {
        Some(c) => (&value[..c], Some(&value[c + 1..])),
        None => (value, None),
    };
    let id = |s: &[u8]| parse_decimal(s, 10).filter(|&n| n < u32::MAX as u64).map(|n| n as u32);
    let uid = id(uid)?;
    let gid = match gid {
        Some(g) => id(g)?,
        None => uid,
    };
    Some((uid, gid))
}

#[cfg(test)]
mod tests {
    use super::super::tests::p;
    use super::*;

    fn run(args: &[&str]) -> RunSpec<'static> {
        match p(args) {
            Ok(Command::Run(spec)) => spec,
            other => panic!("{args:?} gave {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let s = run(&["husk", "run", "sh"]);
        assert_eq!(s.rootfs, None);
        assert!(!s.read_only);
        assert!(s.volumes.is_empty());
        assert_eq!(s.hostname, b"husk");
        assert_eq!(s.cwd, b"/");
        assert_eq!(s.user, None);
        assert_eq!(s.net, Net::None);
        assert_eq!(s.command, 2);
    }

    #[test]
    fn options() {
        let s = run(&[
            "husk",
            "run",
            "--rootfs",
            "/r",
            "--read-only",
            "--bind",
            "/a:/b",
            "--ro-bind=/c:/d:e",
            "--tmpfs",
            "/t",
            "--hostname",
            "box",
            "-e",
            "A=1",
            "--env",
            "B=",
            "-w",
            "/w",
            "-u",
            "1000",
            "--net=host",
            "--",
            "cmd",
            "-x",
        ]);
        assert_eq!(s.rootfs, Some(&b"/r"[..]));
        assert!(s.read_only);
        assert_eq!(
            s.volumes.as_slice(),
            &[
                Volume { kind: VolumeKind::Bind, source: b"/a", dest: b"/b" },
                Volume { kind: VolumeKind::ReadOnlyBind, source: b"/c", dest: b"/d:e" },
                Volume { kind: VolumeKind::Tmpfs, source: b"", dest: b"/t" },
            ]
        );
        assert_eq!(s.hostname, b"box");
        assert_eq!(s.env.as_slice(), &[13, 15]);
        assert_eq!(s.cwd, b"/w");
        assert_eq!(s.user, Some((1000, 1000)));
        assert_eq!(s.net, Net::Host);
        assert_eq!(s.command, 22);
        assert_eq!(run(&["husk", "run", "-u", "5:6", "x"]).user, Some((5, 6)));
        assert_eq!(p(&["husk", "run", "--help"]), Ok(Command::Help(super::super::Topic::Run)));
        let s = run(&[
            "husk",
            "run",
            "--cap-add",
            "NET_ADMIN",
            "--cap-drop=cap_chown",
            "--cap-add",
            "sys_time",
            "x",
        ]);
        assert_eq!((s.caps_added, s.caps_dropped), ((1 << 12) | (1 << 25), 1));
        assert!(s.seccomp);
        assert!(!run(&["husk", "run", "--seccomp=unconfined", "x"]).seccomp);
        let s = run(&[
            "husk",
            "run",
            "-m",
            "100M",
            "--memory-swap=-1",
            "--pids-limit",
            "10",
            "--cpus",
            "0.5",
            "--cgroup-parent",
            "/a/b",
            "--stats",
            "x",
        ]);
        assert_eq!(
            s.limits,
            Limits {
                memory: Some(100 << 20),
                memory_swap: Some(Swap::Unlimited),
                pids: Some(10),
                cpus_milli: Some(500)
            }
        );
        assert_eq!(s.cgroup_parent, Some(&b"/a/b"[..]));
        assert!(s.stats);
        let s = run(&["husk", "run", "--name", "web-1", "-d", "x"]);
        assert_eq!((s.name, s.detach, s.remove), (Some(&b"web-1"[..]), true, false));
        assert!(run(&["husk", "run", "--rm", "--name", "a", "-d", "x"]).remove);
    }

    /// The mounts of the config as (kind, source, dest) text, in order.
    fn mounts(args: &[&str]) -> Vec<String> {
        let spec = run(args);
        spec.config()
            .mounts
            .iter()
            .map(|m| {
                let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                format!("{:?} {} {}", m.kind, text(m.source), text(m.dest))
            })
            .collect()
    }

    #[test]
    fn the_default_container() {
        let spec = run(&["husk", "run", "sh", "-c", "x"]);
        let config = spec.config();
        assert_eq!(config.root, Root::Host);
        assert!(config.root.read_only(), "the host's tree is never writable");
        assert_eq!(config.namespaces, Namespaces { network: Namespace::New });
        assert_eq!(config.hostname, b"husk");
        assert_eq!(config.cgroup, None);
        assert_eq!(
            config.process,
            Process {
                command: 2,
                env: &[],
                cwd: b"/",
                user: None,
                caps_added: 0,
                caps_dropped: 0,
                no_new_privs: true,
                seccomp: true
            }
        );
        // The host's tree: a fresh /tmp (it is read-only) and /run (its daemons' sockets).
        assert_eq!(
            mounts(&["husk", "run", "sh"]),
            ["Proc  /proc", "Dev  /dev", "Tmpfs { mode: 1023 }  /tmp", "HostRun  /run", "Sysfs  /sys",]
        );
    }

    #[test]
    fn a_rootfs_and_volumes_in_order() {
        // A writable rootfs needs no /tmp and hides no /run: it is not the host's.
        assert_eq!(
            mounts(&["husk", "run", "--rootfs", "/r", "sh"]),
            ["Proc  /proc", "Dev  /dev", "Sysfs  /sys"]
        );
        let spec = run(&["husk", "run", "--rootfs", "/r", "sh"]);
        assert_eq!(spec.config().root, Root::Dir { path: b"/r", read_only: false });
        // Read-only: a /tmp, unless a volume is there. Volumes last, in the order given.
        assert_eq!(
            mounts(&[
                "husk",
                "run",
                "--rootfs",
                "/r",
                "--read-only",
                "--ro-bind",
                "/a:/srv",
                "--tmpfs",
                "/x",
                "sh"
            ]),
            [
                "Proc  /proc",
                "Dev  /dev",
                "Tmpfs { mode: 1023 }  /tmp",
                "Sysfs  /sys",
                "Bind { read_only: true } /a /srv",
                "Tmpfs { mode: 493 }  /x",
            ]
        );
        assert_eq!(
            mounts(&["husk", "run", "--rootfs", "/r", "--read-only", "--bind", "/h:/tmp", "sh"]),
            ["Proc  /proc", "Dev  /dev", "Sysfs  /sys", "Bind { read_only: false } /h /tmp"]
        );
        // The default root with a /tmp volume keeps /run hidden.
        assert_eq!(
            mounts(&["husk", "run", "--tmpfs", "/tmp", "sh"]),
            ["Proc  /proc", "Dev  /dev", "HostRun  /run", "Sysfs  /sys", "Tmpfs { mode: 493 }  /tmp"]
        );
    }

    #[test]
    fn limits_give_a_cgroup_and_its_mount() {
        for args in [
            &["husk", "run", "-m", "1G", "sh"][..],
            &["husk", "run", "--stats", "sh"],
            &["husk", "run", "--cgroup-parent", "a/b", "sh"],
        ] {
            let spec = run(args);
            let config = spec.config();
            let cgroup = config.cgroup.expect("a cgroup of its own");
            assert_eq!(cgroup.stats, args.contains(&"--stats"));
            assert_eq!(cgroup.parent, args.contains(&"a/b").then_some(&b"a/b"[..]));
            assert_eq!(mounts(args)[4..], ["Sysfs  /sys", "Cgroup2  /sys/fs/cgroup"], "{args:?}");
        }
        let spec = run(&["husk", "run", "-m", "1G", "--pids-limit", "5", "sh"]);
        assert_eq!(
            spec.config().cgroup.unwrap().limits,
            Limits { memory: Some(1 << 30), memory_swap: None, pids: Some(5), cpus_milli: None }
        );
    }

    #[test]
    fn the_process_and_namespaces_as_asked() {
        let spec = run(&[
            "husk",
            "run",
            "--net",
            "host",
            "--hostname",
            "box",
            "-e",
            "A=1",
            "-w",
            "/w",
            "-u",
            "5:6",
            "--cap-add",
            "NET_ADMIN",
            "--cap-drop",
            "CHOWN",
            "--seccomp",
            "unconfined",
            "--",
            "cmd",
        ]);
        let config = spec.config();
        assert_eq!(config.namespaces.network, Namespace::Host);
        assert_eq!(config.hostname, b"box");
        assert_eq!(
            config.process,
            Process {
                command: 19,
                env: &[7],
                cwd: b"/w",
                user: Some((5, 6)),
                caps_added: 1 << 12,
                caps_dropped: 1,
                no_new_privs: true,
                seccomp: false
            }
        );
    }

    #[test]
    fn errors() {
        let bad = |args: &[&str], value: &str| match p(args) {
            Err(UsageError::BadValue { value: v, .. }) => assert_eq!(v, value.as_bytes(), "{args:?}"),
            other => panic!("{args:?} gave {other:?}"),
        };
        bad(&["husk", "run", "--bind", "nocolon", "x"], "nocolon");
        bad(&["husk", "run", "--bind", "/a:relative", "x"], "/a:relative");
        bad(&["husk", "run", "--bind", ":/b", "x"], ":/b");
        bad(&["husk", "run", "--ro-bind", "/a:", "x"], "/a:");
        bad(&["husk", "run", "--tmpfs", "tmp", "x"], "tmp");
        bad(&["husk", "run", "--rootfs=", "x"], "");
        bad(&["husk", "run", "-u", "abc", "x"], "abc");
        bad(&["husk", "run", "-u", "1:", "x"], "1:");
        bad(&["husk", "run", "-u", "4294967295", "x"], "4294967295");
        bad(&["husk", "run", "--net", "bogus", "x"], "bogus");
        bad(&["husk", "run", "--cap-add", "CAP_NOPE", "x"], "CAP_NOPE");
        bad(&["husk", "run", "--cap-drop=", "x"], "");
        bad(&["husk", "run", "--seccomp", "off", "x"], "off");
        bad(&["husk", "run", "--name", "a/b", "x"], "a/b");
        bad(&["husk", "run", "--memory", "lots", "x"], "lots");
        bad(&["husk", "run", "--memory-swap", "-2", "x"], "-2");
        bad(&["husk", "run", "--pids-limit", "0", "x"], "0");
        bad(&["husk", "run", "--cpus", "0", "x"], "0");
        bad(&["husk", "run", "--cgroup-parent", "a/../b", "x"], "a/../b");
        assert!(matches!(p(&["husk", "run", "--memory-swap", "1G", "x"]), Err(UsageError::Conflict { .. })));
        assert!(matches!(
            p(&["husk", "run", "-m", "1G", "--memory-swap", "1M", "x"]),
            Err(UsageError::Conflict { .. })
        ));
        bad(&["husk", "run", "-e", "NOEQUALS", "x"], "NOEQUALS");
        bad(&["husk", "run", "-e", "=v", "x"], "=v");
        bad(&["husk", "run", "--env=A=1", "x"], "A=1");
        bad(&["husk", "run", "-w", "rel", "x"], "rel");
        bad(&["husk", "run", "--hostname", "", "x"], "");
        bad(&["husk", "run", "--hostname", &"h".repeat(65), "x"], &"h".repeat(65));
        assert_eq!(p(&["husk", "run"]), Err(UsageError::MissingCommand { sub: "run" }));
        assert_eq!(p(&["husk", "run", "--read-only"]), Err(UsageError::MissingCommand { sub: "run" }));
        assert_eq!(
            p(&["husk", "run", "--rootfs"]),
            Err(UsageError::MissingValue { sub: "run", option: b"--rootfs" })
        );
        assert_eq!(
            p(&["husk", "run", "--bogus", "x"]),
            Err(UsageError::UnknownOption { sub: "run", option: b"--bogus" })
        );
        let mut many = vec!["husk", "run"];
        many.extend(std::iter::repeat_n(["--tmpfs", "/t"], MAX_VOLUMES + 1).flatten());
        many.push("x");
        assert!(matches!(p(&many), Err(UsageError::TooMany { max: MAX_VOLUMES, .. })));
    }
}
