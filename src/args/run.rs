//! `husk run [OPTIONS] [--] COMMAND [ARG]...` → RunSpec. Pure, like the rest of args.
//!
//! husk's own options, and the spellings a docker or podman user brings where they mean the
//! same thing (`-v`, `--mount`, `--network`, `--workdir`, `--security-opt`, `-it`, `-h NAME`):
//! accepted with their meaning, or refused with husk's spelling. Never a value taken
//! literally by accident: a mount's `:ro` is read-only, not part of a path.

use super::{Argv, Command, Refusal, UsageError, next_option, option_value};
use crate::cgroup::{Limits, Swap, parse_cpus, parse_size};
use crate::config::{
    Cgroup, Config, EnvArg, Link, Mount, MountKind, Namespace, Namespaces, Process, Publish, Root, Subnet,
};
use crate::text::{fields, has_byte, parse_decimal, split_once};
use crate::users::UserSpec;

const SIZE: &str = "a size like 100M, 512k or 1G (0: no limit)";

/// How many volumes (`--bind`, `--ro-bind`, `-v`, `--mount`, `--tmpfs`) one container may have.
pub const MAX_VOLUMES: usize = 32;
/// How many `-e KEY=VALUE` one container may have.
pub const MAX_ENV: usize = 64;
/// How many `--env-file`s.
pub const MAX_ENV_FILES: usize = 4;
/// How many `-p` one container may have.
pub const MAX_PUBLISH: usize = 16;
/// The longest hostname the kernel takes (HOST_NAME_MAX).
const MAX_HOSTNAME: usize = 64;
/// The smallest memory limit: a page (husk and a static COMMAND run in a few hundred KiB).
const MIN_MEMORY: u64 = 4096;

const SUB: &str = "run";

/// Everything `husk run` was asked for. Strings borrow argv: nothing is copied.
#[derive(Debug, PartialEq, Eq)]
pub struct RunSpec<'a> {
    /// `--rootfs DIR`; None: the host's `/`, read-only, with a fresh /tmp.
    pub rootfs: Option<&'a [u8]>,
    /// `--read-only`: the root filesystem is mounted read-only.
    pub read_only: bool,
    /// Volumes (binds and tmpfs), mounted in the order given (a later one may sit inside an
    /// earlier one).
    pub volumes: heapless::Vec<Mount<'a>, MAX_VOLUMES>,
    pub hostname: &'a [u8],
    /// `-e KEY=VALUE` and `-e KEY` entries, as places in argv.
    pub env: heapless::Vec<EnvArg, MAX_ENV>,
    /// `--env-file FILE`s, read on the host before the container is built.
    pub env_files: heapless::Vec<&'a [u8], MAX_ENV_FILES>,
    pub cwd: &'a [u8],
    /// Whether -w was given (an image's WorkingDir is the default otherwise).
    pub cwd_given: bool,
    /// `-u USER[:GROUP]`; None: root.
    pub user: Option<UserSpec<'a>>,
    pub net: Net<'a>,
    /// `--subnet CIDR`: the bridge's subnet, when husk first makes it.
    pub subnet: Option<Subnet>,
    /// `-p`: host ports forwarded to the container.
    pub publish: heapless::Vec<Publish, MAX_PUBLISH>,
    /// `--userns`: the user namespace asked for (userns.rs decides with the caller's ids).
    pub userns: crate::userns::Request,
    /// `--cap-add` and `--cap-drop`, as capability sets (see `caps::resolve`).
    pub caps_added: u64,
    pub caps_dropped: u64,
    /// `--seccomp default|unconfined`: whether COMMAND gets the default filter.
    pub seccomp: bool,
    /// Off only with `--security-opt no-new-privileges=false`.
    pub no_new_privs: bool,
    /// `-t`: COMMAND is meant for a terminal, which husk passes through (it must be there).
    pub tty: bool,
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
    /// `--max-unpacked SIZE`: the most an archive or image may unpack to.
    pub max_unpacked: u64,
    /// `--entrypoint PROG`: replaces an image's Entrypoint (and its Cmd, unless COMMAND).
    pub entrypoint: Option<&'a [u8]>,
    /// Index in argv where COMMAND starts.
    pub command: usize,
}

impl<'a> RunSpec<'a> {
    /// The container these options describe: every default and policy of `husk run` is
    /// decided here, in one place, and the walk only carries it out. (Two things are read
    /// from files first, by `container::run`: the user's identity and the env files.)
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
            add(MountKind::Tmpfs { mode: TMPFS_MODE, size: 0 }, b"/tmp");
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
            host: crate::cgroup::Host::default(),
        });
        if cgroup.is_some() {
            add(MountKind::Cgroup, b"/sys/fs/cgroup");
        }
        // A bridged container's own names and name servers; a volume there wins, as in docker.
        if self.net == Net::Bridge {
            add(MountKind::Etc, b"/etc/hosts");
            add(MountKind::Etc, b"/etc/resolv.conf");
        }
        for v in &self.volumes {
            let _ = mounts.push(*v);
        }
        let (network, link) = match self.net {
            Net::None => (Namespace::New, Link::None),
            Net::Host => (Namespace::Host, Link::None),
            Net::Bridge => (Namespace::New, Link::Bridge { subnet: self.subnet }),
            Net::Container(name) => (Namespace::New, Link::Container(name)),
            Net::Pasta => (Namespace::New, Link::Pasta),
        };
        Config {
            root,
            mounts,
            namespaces: Namespaces { network, user: None },
            hostname: self.hostname,
            process: Process {
                command: self.command,
                argv: None,
                env: &self.env,
                env_files: &[],
                cwd: self.cwd,
                user: None,
                caps_added: self.caps_added,
                caps_dropped: self.caps_dropped,
                no_new_privs: self.no_new_privs,
                seccomp: self.seccomp,
                #[cfg(feature = "oci")]
                oci: None,
            },
            cgroup,
            link,
            publish: &self.publish,
        }
    }
}

/// A tmpfs's mode unless asked otherwise: everyone may write, as in /tmp (Docker's too).
const TMPFS_MODE: u16 = 0o1777;

/// `--net`: a network namespace of its own (loopback alone, or linked to husk's bridge or by
/// pasta), a running container's, or the host's network.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Net<'a> {
    None,
    Host,
    Bridge,
    Container(&'a [u8]),
    Pasta,
}

pub(super) fn parse<'a, A: Argv<'a> + ?Sized>(argv: &A, mut i: usize) -> Result<Command<'a>, UsageError<'a>> {
    let mut spec = RunSpec {
        rootfs: None,
        read_only: false,
        volumes: heapless::Vec::new(),
        hostname: b"husk",
        env: heapless::Vec::new(),
        env_files: heapless::Vec::new(),
        cwd: b"/",
        cwd_given: false,
        user: None,
        net: Net::None,
        subnet: None,
        publish: heapless::Vec::new(),
        userns: crate::userns::Request::Default,
        caps_added: 0,
        caps_dropped: 0,
        seccomp: true,
        no_new_privs: true,
        tty: false,
        limits: Limits::default(),
        cgroup_parent: None,
        stats: false,
        name: None,
        detach: false,
        remove: false,
        log_size: None,
        max_unpacked: crate::image::DEFAULT_MAX_UNPACKED,
        entrypoint: None,
        command: 0,
    };
    while let Some((arg, option, inline)) = next_option(argv, &mut i) {
        // `-h` alone is help; followed by more, it is Docker's `-h NAME` (--hostname).
        if option == b"--help" || (option == b"-h" && i + 1 >= argv.count()) {
            return Ok(Command::Help(super::Topic::Run));
        }
        let opt = match self::option(option) {
            Some(opt) => opt,
            // Docker's bundled short flags: -it, -ti, -dit, …
            None if short_flags(option) => {
                for &flag in &option[1..] {
                    set_flag(&mut spec, flag);
                }
                i += 1;
                continue;
            }
            None => return Err(super::unknown_option(SUB, arg, option, OPTION_NAMES, not_yet(option))),
        };
        // Flags first; every other option takes a value, inline (--opt=v) or next.
        match opt {
            Opt::Flag(flag) => set_flag(&mut spec, flag),
            _ => {
                let (value, at) = option_value(argv, &mut i, inline, SUB, option)?;
                set(&mut spec, opt, value, at, inline.is_some())
                    .map_err(|refusal| refusal.error(SUB, option, value))?;
            }
        }
        i += 1;
    }
    // An image's config may name the command (Entrypoint and Cmd).
    let image = spec.rootfs.is_some_and(|r| crate::image::oci::reference(r).is_some());
    if i >= argv.count() && !image {
        return Err(UsageError::MissingCommand { sub: SUB });
    }
    let conflict = if let Err(why) = crate::cgroup::settings(&spec.limits, 0) {
        why
    } else if spec.log_size.is_some() && !spec.detach {
        "--log-size is for --detach: only a detached container has a log"
    } else if spec.entrypoint.is_some() && !image {
        "without an image there is no entrypoint to replace (--rootfs oci:, oci-archive:, docker-archive:): \
         put the program first in COMMAND"
    } else if spec.subnet.is_some() && spec.net != Net::Bridge {
        "--subnet is the bridge's: it goes with --net bridge"
    } else if !spec.publish.is_empty() && !matches!(spec.net, Net::Bridge | Net::Pasta) {
        "-p forwards to a network of the container's own: add --net bridge (root) or --net pasta"
    } else if spec.tty && spec.detach {
        "-t is for a terminal, and a detached container has none (husk passes the caller's through)"
    } else {
        spec.command = i;
        return Ok(Command::Run(spec));
    };
    Err(UsageError::Conflict { sub: SUB, why: conflict })
}

/// `-it`, `-dit`, …: a bundle of the one-letter flags.
fn short_flags(option: &[u8]) -> bool {
    option.len() > 2 && !option.starts_with(b"--") && option[1..].iter().all(|b| b"itd".contains(b))
}

/// A flag, by its letter in the options table.
fn set_flag(spec: &mut RunSpec, flag: u8) {
    match flag {
        b'r' => spec.read_only = true,
        b's' => spec.stats = true,
        b'd' => spec.detach = true,
        b'R' => spec.remove = true,
        b't' => spec.tty = true,
        // -i (stdin is passed through as it is) and --init (husk is always the init): as
        // asked already.
        _ => {}
    }
}

/// `husk run`'s options: one table, looked up once per argument.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Opt {
    /// A flag, by a letter of its own (see set_flag).
    Flag(u8),
    Rootfs,
    Bind,
    RoBind,
    Volume,
    Mount,
    Tmpfs,
    Hostname,
    Env,
    EnvFile,
    Cwd,
    User,
    Net,
    Userns,
    CapAdd,
    CapDrop,
    Seccomp,
    Security,
    Memory,
    MemorySwap,
    PidsLimit,
    Cpus,
    CgroupParent,
    Name,
    LogSize,
    MaxUnpacked,
    Entrypoint,
    Subnet,
    Publish,
}

/// `--help` is not here: every subcommand takes it (`is_help`). `husk exec` takes `-e`, `-w`
/// and `-u` from this table too. The names as one string (no array of pointers, see
/// text::words) and in the same order, what each is.
pub(super) const OPTION_NAMES: &[u8] =
    b"--read-only --stats -d --detach --rm -t --tty -i --interactive --init --rootfs --bind \
    --ro-bind -v --volume --mount --tmpfs --hostname -h -e --env --env-file -w --cwd \
    --workdir -u --user --net --network --userns --cap-add --cap-drop --seccomp \
    --security-opt -m --memory --memory-swap --pids-limit --cpus --cgroup-parent --name \
    --log-size --max-unpacked --entrypoint --subnet -p --publish";
pub(super) const OPTIONS: [Opt; 47] = [
    Opt::Flag(b'r'),   // --read-only
    Opt::Flag(b's'),   // --stats
    Opt::Flag(b'd'),   // -d
    Opt::Flag(b'd'),   // --detach
    Opt::Flag(b'R'),   // --rm
    Opt::Flag(b't'),   // -t
    Opt::Flag(b't'),   // --tty
    Opt::Flag(b'i'),   // -i
    Opt::Flag(b'i'),   // --interactive
    Opt::Flag(b'i'),   // --init
    Opt::Rootfs,       // --rootfs
    Opt::Bind,         // --bind
    Opt::RoBind,       // --ro-bind
    Opt::Volume,       // -v
    Opt::Volume,       // --volume
    Opt::Mount,        // --mount
    Opt::Tmpfs,        // --tmpfs
    Opt::Hostname,     // --hostname
    Opt::Hostname,     // -h
    Opt::Env,          // -e
    Opt::Env,          // --env
    Opt::EnvFile,      // --env-file
    Opt::Cwd,          // -w
    Opt::Cwd,          // --cwd
    Opt::Cwd,          // --workdir
    Opt::User,         // -u
    Opt::User,         // --user
    Opt::Net,          // --net
    Opt::Net,          // --network
    Opt::Userns,       // --userns
    Opt::CapAdd,       // --cap-add
    Opt::CapDrop,      // --cap-drop
    Opt::Seccomp,      // --seccomp
    Opt::Security,     // --security-opt
    Opt::Memory,       // -m
    Opt::Memory,       // --memory
    Opt::MemorySwap,   // --memory-swap
    Opt::PidsLimit,    // --pids-limit
    Opt::Cpus,         // --cpus
    Opt::CgroupParent, // --cgroup-parent
    Opt::Name,         // --name
    Opt::LogSize,      // --log-size
    Opt::MaxUnpacked,  // --max-unpacked
    Opt::Entrypoint,   // --entrypoint
    Opt::Subnet,       // --subnet
    Opt::Publish,      // -p
    Opt::Publish,      // --publish
];

/// The option named `option`.
pub(super) fn option(option: &[u8]) -> Option<Opt> {
    OPTIONS.get(crate::text::position(OPTION_NAMES, option)?).copied()
}

/// Docker options husk does not have (yet): their names (text::position) and, in the same
/// order, what to do instead.
const NOT_YET_NAMES: &[u8] = b"-P --privileged --pull";
const NOT_YET: [&str; 3] = [
    "husk publishes only the ports asked for: -p HOSTPORT:PORT",
    "husk has no such mode: ask for what is needed (--cap-add ALL, --seccomp unconfined, --bind)",
    "husk pulls no images: save one (skopeo copy, docker save) and run it with --rootfs oci:DIR or docker-archive:FILE",
];

/// What to do instead of `option`, when it is one of Docker's husk does not have.
fn not_yet(option: &[u8]) -> Option<&'static str> {
    NOT_YET.get(crate::text::position(NOT_YET_NAMES, option)?).copied()
}

/// Applies option `opt` with `value` (argv index `at`; `inline` when given as `--opt=v`).
/// Out of line: parsing is inlined into main, whose frame lives as long as husk, and this
/// one's locals need not be part of it (it is smaller code this way, too).
/// (Its helpers for mounts and security options are kept out of line too: inlined here they
/// made the whole larger.)
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
        Opt::Rootfs => spec.rootfs = Some(nonempty(value).ok_or(bad("a directory, an archive or an image"))?),
        Opt::Bind | Opt::RoBind | Opt::Volume => {
            let mount = bind(value, opt).ok_or(bad(match opt {
                Opt::Volume => {
                    "SRC:DST[:ro|rw] with SRC a host path (/… or ./…; husk has no named volumes) \
                                and DST absolute (a path with ':' needs --mount)"
                }
                Opt::RoBind => "SRC:DST[:ro] with an absolute DST (a path with ':' needs --mount)",
                _ => "SRC:DST[:ro|rw] with an absolute DST (a path with ':' needs --mount)",
            }))?;
            push_volume(spec, mount)?;
        }
        Opt::Mount => {
            let mount = parse_mount(value).ok_or(bad(
                "type=bind,source=SRC,target=DST[,readonly] or type=tmpfs,target=DST[,tmpfs-size=SIZE][,tmpfs-mode=MODE]",
            ))?;
            push_volume(spec, mount)?;
        }
        Opt::Tmpfs => {
            let mount = tmpfs(value).ok_or(bad("DST[:size=SIZE,mode=MODE] with an absolute DST"))?;
            push_volume(spec, mount)?;
        }
        Opt::Hostname => {
            if value.is_empty() || value.len() > MAX_HOSTNAME || has_byte(value, b'/') {
                return Err(bad("a name of 1 to 64 bytes"));
            }
            spec.hostname = value;
        }
        Opt::Env => push_env(&mut spec.env, value, at, inline)?,
        Opt::EnvFile => {
            let file = nonempty(value).ok_or(bad("a file of KEY=VALUE lines"))?;
            spec.env_files.push(file).map_err(|_| Refusal::Full(MAX_ENV_FILES))?;
        }
        Opt::Cwd => (spec.cwd, spec.cwd_given) = (absolute(value).ok_or(bad("an absolute path"))?, true),
        Opt::User => {
            spec.user = Some(crate::users::parse(value).ok_or(bad("USER[:GROUP], names or numbers"))?)
        }
        Opt::Memory => {
            let size = parse_size(value).filter(|&n| n == 0 || n >= MIN_MEMORY).ok_or(bad(SIZE))?;
            // 0 is Docker's "no limit".
            spec.limits.memory = (size != 0).then_some(size);
        }
        Opt::MemorySwap => {
            spec.limits.memory_swap = match value {
                b"-1" => Some(Swap::Unlimited),
                // 0 is Docker's "not set": as much swap as --memory allows (none).
                b"0" => None,
                _ => Some(Swap::Total(parse_size(value).ok_or(bad("a size like 200M, 0 or -1"))?)),
            };
        }
        Opt::PidsLimit => {
            // 0 and -1 are Docker's "no limit".
            let n = if value == b"-1" { Some(0) } else { parse_decimal(value, 9) };
            let n = n.ok_or(bad("a number of processes (0 or -1: no limit)"))?;
            spec.limits.pids = (n != 0).then_some(n);
        }
        Opt::LogSize => {
            let size = parse_size(value).filter(|&n| n >= crate::log::MIN_SIZE);
            spec.log_size = Some(size.ok_or(bad("a size of at least 8k, like 1M"))?);
        }
        Opt::Entrypoint => spec.entrypoint = Some(nonempty(value).ok_or(bad("a program"))?),
        Opt::MaxUnpacked => {
            let size = parse_size(value).filter(|&n| n > 0);
            spec.max_unpacked = size.ok_or(bad("a size, like 100M or 8G"))?;
        }
        Opt::Cpus => {
            // 0 is Docker's "no limit".
            spec.limits.cpus_milli = if value == b"0" {
                None
            } else {
                Some(parse_cpus(value).ok_or(bad("CPUs, like 0.5 or 2 (0: no limit)"))?)
            };
        }
        Opt::CgroupParent => {
            if value.is_empty() || crate::text::fields(value, b'/').any(|p| p == b"..") {
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
            spec.seccomp = super::lookup(b"default unconfined", &[true, false], value)
                .ok_or(bad("default or unconfined"))?;
        }
        Opt::Security => security_opt(spec, value).ok_or(bad(
            "no-new-privileges[=true|false], seccomp=unconfined, apparmor=unconfined or label=disable",
        ))?,
        Opt::CapAdd | Opt::CapDrop => {
            let set = crate::caps::parse(value).ok_or(bad("a capability, like NET_ADMIN or ALL"))?;
            if opt == Opt::CapAdd {
                spec.caps_added |= set;
            } else {
                spec.caps_dropped |= set;
            }
        }
        Opt::Net => {
            spec.net = match value.strip_prefix(b"container:".as_slice()) {
                Some(name) if super::valid_name(name) => Net::Container(name),
                _ => super::lookup(
                    b"none host bridge pasta",
                    &[Net::None, Net::Host, Net::Bridge, Net::Pasta],
                    value,
                )
                .ok_or(bad("none, host, bridge, pasta or container:NAME"))?,
            };
        }
        Opt::Subnet => {
            spec.subnet = Some(subnet(value).ok_or(bad("a private network like 10.87.0.0/24 (/8 to /29)"))?)
        }
        Opt::Publish => {
            let publish = publish(value).ok_or(bad("[HOSTIP:]HOSTPORT:PORT[/tcp|/udp], ports 1 to 65535"))?;
            spec.publish.push(publish).map_err(|_| Refusal::Full(MAX_PUBLISH))?;
        }
        Opt::Userns => {
            use crate::userns::Request;
            let modes = [Request::Private, Request::KeepId, Request::Host];
            spec.userns = super::lookup(b"private keep-id host", &modes, value)
                .ok_or(bad("private, keep-id or host"))?;
        }
        // Flags, handled by the caller.
        Opt::Flag(_) => {}
    }
    Ok(())
}

/// `--subnet A.B.C.D/N`: a network address (no host bits set), N from 8 to 29.
fn subnet(value: &[u8]) -> Option<Subnet> {
    let (net, prefix) = split_once(value, b'/');
    let (net, prefix) = (ipv4(net)?, parse_decimal(prefix?, 2)? as u8);
    let host_bits = u32::MAX.checked_shr(prefix as u32).unwrap_or(0);
    ((8..=29).contains(&prefix) && u32::from_be_bytes(net) & host_bits == 0).then_some(Subnet { net, prefix })
}

/// A dotted IPv4 address, four decimal numbers of at most 255.
pub fn ipv4(text: &[u8]) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = fields(text, b'.');
    for byte in &mut out {
        *byte = u8::try_from(parse_decimal(parts.next()?, 3)?).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// `-p [HOSTIP:]HOSTPORT:PORT[/tcp|/udp]`.
#[inline(never)]
fn publish(value: &[u8]) -> Option<Publish> {
    let (ports, proto) = split_once(value, b'/');
    let udp = super::lookup(b"tcp udp", &[false, true], proto.unwrap_or(b"tcp"))?;
    let mut parts: heapless::Vec<&[u8], 3> = heapless::Vec::new();
    for part in fields(ports, b':') {
        parts.push(part).ok()?;
    }
    let port = |text: &[u8]| u16::try_from(parse_decimal(text, 5)?).ok().filter(|&p| p != 0);
    let (host_ip, host_port, port) = match parts[..] {
        [ip, host, inside] => (Some(ipv4(ip)?), port(host)?, port(inside)?),
        [host, inside] => (None, port(host)?, port(inside)?),
        _ => return None,
    };
    Some(Publish { host_ip, host_port, port, udp })
}

fn push_volume<'a>(spec: &mut RunSpec<'a>, mount: Mount<'a>) -> Result<(), Refusal> {
    spec.volumes.push(mount).map_err(|_| Refusal::Full(MAX_VOLUMES))
}

fn nonempty(s: &[u8]) -> Option<&[u8]> {
    (!s.is_empty()).then_some(s)
}

pub(super) fn absolute(s: &[u8]) -> Option<&[u8]> {
    s.starts_with(b"/").then_some(s)
}

/// `--bind`, `--ro-bind`, `-v`: `SRC:DST[:OPTIONS]`, OPTIONS a comma list of `ro` and `rw`.
/// Exactly two or three fields: a path with a `:` cannot be told from OPTIONS, and goes in
/// `--mount`, whose fields are named. `-v` takes only host paths (Docker's bare names are
/// named volumes, which husk does not have).
#[inline(never)]
fn bind(value: &[u8], opt: Opt) -> Option<Mount<'_>> {
    let mut parts = fields(value, b':');
    let (source, dest) = (nonempty(parts.next()?)?, absolute(parts.next()?)?);
    let mut read_only = opt == Opt::RoBind;
    if let Some(options) = parts.next() {
        for option in fields(options, b',') {
            match option {
                b"ro" => read_only = true,
                // Read-write where --ro-bind was asked for is a contradiction, not a choice.
                b"rw" if opt != Opt::RoBind => read_only = false,
                _ => return None,
            }
        }
    }
    let host_path = source.starts_with(b"/") || source.starts_with(b".");
    if parts.next().is_some() || (opt == Opt::Volume && !host_path) {
        return None;
    }
    Some(Mount { kind: MountKind::Bind { read_only }, source, dest })
}

/// `--tmpfs DST[:OPTIONS]`, OPTIONS a comma list of `size=SIZE` and `mode=MODE` (octal).
#[inline(never)]
fn tmpfs(value: &[u8]) -> Option<Mount<'_>> {
    let (dest, options) = split_once(value, b':');
    let mut kind = MountKind::Tmpfs { mode: TMPFS_MODE, size: 0 };
    if let Some(options) = options {
        for option in fields(options, b',') {
            let (key, value) = split_once(option, b'=');
            tmpfs_option(&mut kind, key, value?)?;
        }
    }
    Some(Mount { kind, source: b"", dest: absolute(dest)? })
}

/// `size=SIZE` (above 0) or `mode=MODE` (octal, at most 7777) of a tmpfs.
fn tmpfs_option(kind: &mut MountKind, key: &[u8], value: &[u8]) -> Option<()> {
    let MountKind::Tmpfs { mode, size } = kind else { return None };
    match key {
        b"size" => *size = parse_size(value).filter(|&n| n > 0)?,
        b"mode" => {
            let m = value
                .iter()
                .try_fold(0u32, |m, &b| matches!(b, b'0'..=b'7').then(|| m * 8 + (b - b'0') as u32));
            *mode = m.filter(|&m| m <= 0o7777 && !value.is_empty() && value.len() <= 5)? as u16;
        }
        _ => return None,
    }
    Some(())
}

/// `--mount type=bind|tmpfs,…`: Docker's keys (source/src, target/destination/dst,
/// readonly/ro[=true|false], tmpfs-size, tmpfs-mode); anything else is refused.
#[inline(never)]
fn parse_mount(value: &[u8]) -> Option<Mount<'_>> {
    let keys = || fields(value, b',').map(|field| split_once(field, b'='));
    let kind = match keys().find(|(key, _)| *key == b"type")?.1? {
        b"bind" => MountKind::Bind { read_only: false },
        b"tmpfs" => MountKind::Tmpfs { mode: TMPFS_MODE, size: 0 },
        _ => return None,
    };
    let mut mount = Mount { kind, source: b"", dest: b"" };
    for (key, v) in keys() {
        match (key, v) {
            (b"type", _) => {}
            (b"source" | b"src", Some(path)) => mount.source = nonempty(path)?,
            (b"target" | b"destination" | b"dst", Some(path)) => mount.dest = absolute(path)?,
            (b"readonly" | b"ro", flag) => {
                let MountKind::Bind { read_only } = &mut mount.kind else { return None };
                *read_only =
                    super::lookup(b"true 1 false 0", &[true, true, false, false], flag.unwrap_or(b"true"))?;
            }
            (b"tmpfs-size" | b"tmpfs-mode", Some(v)) => tmpfs_option(&mut mount.kind, &key[6..], v)?,
            _ => return None,
        }
    }
    // A bind has a source, a tmpfs none; both a target.
    let is_bind = matches!(mount.kind, MountKind::Bind { .. });
    (!mount.dest.is_empty() && is_bind != mount.source.is_empty()).then_some(mount)
}

/// `--security-opt`: Docker's spellings of what husk has (`KEY=VALUE` or the older `KEY:VALUE`).
#[inline(never)]
fn security_opt(spec: &mut RunSpec, value: &[u8]) -> Option<()> {
    // Split at whichever comes first.
    let (key, v) = match split_once(value, b'=') {
        (key, Some(v)) if !has_byte(key, b':') => (key, Some(v)),
        _ => split_once(value, b':'),
    };
    match (key, v) {
        (b"no-new-privileges", v) => {
            spec.no_new_privs = super::lookup(b"true false", &[true, false], v.unwrap_or(b"true"))?
        }
        (b"seccomp", Some(b"unconfined")) => spec.seccomp = false,
        // husk applies no AppArmor profile and no SELinux label: these ask for what it does.
        (b"apparmor", Some(b"unconfined")) | (b"label", Some(b"disable")) => {}
        _ => return None,
    }
    Some(())
}

/// `-e KEY=VALUE` or `-e KEY` (the caller's value, if it has one), in `run` and `exec`: the
/// argument's place in argv, added to `env`.
pub(super) fn push_env(
    env: &mut heapless::Vec<EnvArg, MAX_ENV>,
    value: &[u8],
    at: usize,
    inline: bool,
) -> Result<(), Refusal> {
    if split_once(value, b'=').0.is_empty() {
        return Err(Refusal::Expected("KEY=VALUE, or KEY for the caller's value"));
    }
    env.push(EnvArg { index: at as u32, inline }).map_err(|_| Refusal::Full(MAX_ENV))
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
    fn option_names_and_options_pair_up() {
        let names: Vec<_> = crate::text::words(OPTION_NAMES).collect();
        assert_eq!(names.len(), OPTIONS.len());
        assert!(names.iter().all(|name| name.starts_with(b"-")));
        assert!(option(b"--memory") == Some(Opt::Memory));
        assert!(option(b"--log-size") == Some(Opt::LogSize));
        assert!(option(b"-h") == Some(Opt::Hostname));
        assert!(option(b"--memor").is_none());
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
            "--ro-bind=/c:/d:ro",
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
                Mount { kind: MountKind::Bind { read_only: false }, source: b"/a", dest: b"/b" },
                Mount { kind: MountKind::Bind { read_only: true }, source: b"/c", dest: b"/d" },
                Mount { kind: MountKind::Tmpfs { mode: 0o1777, size: 0 }, source: b"", dest: b"/t" },
            ]
        );
        assert_eq!(s.hostname, b"box");
        assert_eq!(
            s.env.as_slice(),
            &[EnvArg { index: 13, inline: false }, EnvArg { index: 15, inline: false }]
        );
        assert_eq!(s.cwd, b"/w");
        assert_eq!(s.user, crate::users::parse(b"1000"));
        assert_eq!(s.net, Net::Host);
        assert_eq!(s.command, 22);
        assert_eq!(run(&["husk", "run", "-u", "app:staff", "x"]).user, crate::users::parse(b"app:staff"));
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
        assert_eq!(config.namespaces, Namespaces { network: Namespace::New, user: None });
        assert_eq!(config.hostname, b"husk");
        assert_eq!(config.cgroup, None);
        assert_eq!(
            config.process,
            Process {
                command: 2,
                argv: None,
                env: &[],
                env_files: &[],
                cwd: b"/",
                user: None,
                caps_added: 0,
                caps_dropped: 0,
                no_new_privs: true,
                seccomp: true,
                #[cfg(feature = "oci")]
                oci: None,
            }
        );
        // The host's tree: a fresh /tmp (it is read-only) and /run (its daemons' sockets).
        assert_eq!(
            mounts(&["husk", "run", "sh"]),
            [
                "Proc  /proc",
                "Dev  /dev",
                "Tmpfs { mode: 1023, size: 0 }  /tmp",
                "HostRun  /run",
                "Sysfs  /sys",
            ]
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
                "Tmpfs { mode: 1023, size: 0 }  /tmp",
                "Sysfs  /sys",
                "Bind { read_only: true } /a /srv",
                "Tmpfs { mode: 1023, size: 0 }  /x",
            ]
        );
        assert_eq!(
            mounts(&["husk", "run", "--rootfs", "/r", "--read-only", "--bind", "/h:/tmp", "sh"]),
            ["Proc  /proc", "Dev  /dev", "Sysfs  /sys", "Bind { read_only: false } /h /tmp"]
        );
        // The default root with a /tmp volume keeps /run hidden.
        assert_eq!(
            mounts(&["husk", "run", "--tmpfs", "/tmp", "sh"]),
            [
                "Proc  /proc",
                "Dev  /dev",
                "HostRun  /run",
                "Sysfs  /sys",
                "Tmpfs { mode: 1023, size: 0 }  /tmp"
            ]
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
            assert_eq!(mounts(args)[4..], ["Sysfs  /sys", "Cgroup  /sys/fs/cgroup"], "{args:?}");
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
                argv: None,
                env: &[EnvArg { index: 7, inline: false }],
                env_files: &[],
                cwd: b"/w",
                user: None,
                caps_added: 1 << 12,
                caps_dropped: 1,
                no_new_privs: true,
                seccomp: false,
                #[cfg(feature = "oci")]
                oci: None,
            }
        );
    }

    /// The mounts asked for as text, volumes only.
    fn volumes(options: &[&str]) -> Vec<String> {
        let mut args = vec!["husk", "run", "--rootfs", "/r"];
        args.extend(options);
        args.push("sh");
        mounts(&args)[3..].to_vec()
    }

    #[test]
    fn docker_mount_spellings_mean_what_docker_means() {
        let ro = "Bind { read_only: true }";
        let rw = "Bind { read_only: false }";
        assert_eq!(volumes(&["--bind", "/a:/b:ro"]), [format!("{ro} /a /b")]);
        assert_eq!(volumes(&["--bind", "/a:/b:rw"]), [format!("{rw} /a /b")]);
        assert_eq!(volumes(&["--ro-bind", "/a:/b:ro"]), [format!("{ro} /a /b")]);
        assert_eq!(volumes(&["-v", "/a:/b:ro"]), [format!("{ro} /a /b")]);
        assert_eq!(volumes(&["--volume=./a:/b"]), [format!("{rw} ./a /b")]);
        assert_eq!(volumes(&["-v", "/a:/b:rw,ro"]), [format!("{ro} /a /b")]);
        assert_eq!(
            volumes(&["--mount", "type=bind,src=/a:x,dst=/b:y,readonly"]),
            [format!("{ro} /a:x /b:y")]
        );
        assert_eq!(
            volumes(&["--mount", "readonly=false,target=/b,type=bind,source=/a"]),
            [format!("{rw} /a /b")]
        );
        assert_eq!(
            volumes(&["--mount", "type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=700"]),
            ["Tmpfs { mode: 448, size: 1048576 }  /t"]
        );
        assert_eq!(
            volumes(&["--tmpfs", "/s:size=10m,mode=0755"]),
            ["Tmpfs { mode: 493, size: 10485760 }  /s"]
        );
        assert_eq!(volumes(&["--tmpfs", "/s"]), ["Tmpfs { mode: 1023, size: 0 }  /s"]);
        // Never a literal ':' path by accident.
        for refused in [
            &["--bind", "/a:/b:rx"][..],
            &["--bind", "/a:/b:ro:x"],
            &["--ro-bind", "/a:/b:rw"],
            &["-v", "name:/b"],
            &["-v", "/b"],
            &["-v", "/a:/b:z"],
            &["--tmpfs", "/s:size=10m,uid=1"],
            &["--tmpfs", "/s:size=0"],
            &["--tmpfs", "/s:mode=17777"],
            &["--tmpfs", "/s:mode=8"],
            &["--tmpfs", "/s:size"],
            &["--mount", "type=volume,src=v,dst=/b"],
            &["--mount", "type=bind,dst=/b"],
            &["--mount", "type=tmpfs,src=/a,dst=/b"],
            &["--mount", "type=tmpfs,dst=/b,readonly"],
            &["--mount", "type=bind,src=/a,dst=/b,bind-propagation=shared"],
            &["--mount", "src=/a,dst=/b"],
        ] {
            let mut args = vec!["husk", "run"];
            args.extend(refused);
            args.push("sh");
            assert!(matches!(p(&args), Err(UsageError::BadValue { .. })), "{refused:?} gave {:?}", p(&args));
        }
    }

    #[test]
    fn docker_habits() {
        // Flags alone and bundled; -h NAME is the hostname, -h alone is help.
        let s = run(&["husk", "run", "-it", "--init", "--rm", "x"]);
        assert!(s.tty && s.remove && !s.detach);
        assert!(run(&["husk", "run", "-i", "x"]) == run(&["husk", "run", "--interactive", "x"]));
        assert!(matches!(p(&["husk", "run", "-dit", "x"]), Err(UsageError::Conflict { .. })));
        assert!(run(&["husk", "run", "-d", "x"]).detach);
        assert_eq!(run(&["husk", "run", "-h", "box", "x"]).hostname, b"box");
        assert_eq!(p(&["husk", "run", "-h"]), Ok(Command::Help(super::super::Topic::Run)));
        // Aliases.
        assert_eq!(run(&["husk", "run", "--network=host", "x"]).net, Net::Host);
        assert_eq!(run(&["husk", "run", "--workdir", "/w", "x"]).cwd, b"/w");
        // The = form everywhere, -e KEY, env files.
        let s = run(&["husk", "run", "--env=A=1", "-e", "HOME", "--env-file", "f", "--env-file=g", "x"]);
        assert_eq!(
            s.env.as_slice(),
            &[EnvArg { index: 2, inline: true }, EnvArg { index: 4, inline: false }]
        );
        assert_eq!(s.env_files.as_slice(), &[&b"f"[..], b"g"]);
        // Security options, both spellings.
        assert!(!run(&["husk", "run", "--security-opt", "no-new-privileges=false", "x"]).no_new_privs);
        assert!(!run(&["husk", "run", "--security-opt", "no-new-privileges:false", "x"]).no_new_privs);
        assert!(run(&["husk", "run", "--security-opt", "no-new-privileges", "x"]).no_new_privs);
        assert!(!run(&["husk", "run", "--security-opt=seccomp=unconfined", "x"]).seccomp);
        assert!(run(&["husk", "run", "--security-opt", "apparmor=unconfined", "x"]).seccomp);
        for refused in
            ["seccomp=/p.json", "no-new-privileges=maybe", "apparmor=docker-default", "label=level:s0"]
        {
            let args = ["husk", "run", "--security-opt", refused, "x"];
            assert!(matches!(p(&args), Err(UsageError::BadValue { .. })), "{refused}");
        }
        // Docker's zeros: no limit.
        let s =
            run(&["husk", "run", "-m", "0", "--memory-swap", "0", "--pids-limit", "0", "--cpus", "0", "x"]);
        assert_eq!(s.limits, Limits::default());
        assert_eq!(run(&["husk", "run", "--pids-limit=-1", "x"]).limits.pids, None);
        assert_eq!(run(&["husk", "run", "-m", "4k", "x"]).limits.memory, Some(4096));
        assert!(matches!(
            p(&["husk", "run", "-m", "0", "--memory-swap", "1G", "x"]),
            Err(UsageError::Conflict { .. })
        ));
        assert!(matches!(p(&["husk", "run", "--privileged", "x"]), Err(UsageError::Unsupported { .. })));
        // An image may name the command; --entrypoint names one.
        let image = run(&["husk", "run", "--rootfs", "oci:/i:v1"]);
        assert_eq!((image.rootfs, image.command), (Some(&b"oci:/i:v1"[..]), 4));
        let entrypoint = run(&["husk", "run", "--rootfs", "oci:/i", "--entrypoint", "sh", "x"]).entrypoint;
        assert_eq!(entrypoint, Some(&b"sh"[..]));
        assert!(matches!(p(&["husk", "run", "--entrypoint", "sh", "x"]), Err(UsageError::Conflict { .. })));
        assert_eq!(p(&["husk", "run", "--rootfs", "/r"]), Err(UsageError::MissingCommand { sub: "run" }));
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
        bad(&["husk", "run", "-u", "1:", "x"], "1:");
        bad(&["husk", "run", "-u", "4294967295", "x"], "4294967295");
        bad(&["husk", "run", "--net", "bogus", "x"], "bogus");
        bad(&["husk", "run", "--cap-add", "CAP_NOPE", "x"], "CAP_NOPE");
        bad(&["husk", "run", "--cap-drop=", "x"], "");
        bad(&["husk", "run", "--seccomp", "off", "x"], "off");
        bad(&["husk", "run", "--name", "a/b", "x"], "a/b");
        bad(&["husk", "run", "--memory", "lots", "x"], "lots");
        bad(&["husk", "run", "--memory-swap", "-2", "x"], "-2");
        bad(&["husk", "run", "--pids-limit", "-2", "x"], "-2");
        bad(&["husk", "run", "--cpus", "-1", "x"], "-1");
        bad(&["husk", "run", "-m", "100", "x"], "100");
        bad(&["husk", "run", "--cgroup-parent", "a/../b", "x"], "a/../b");
        assert!(matches!(p(&["husk", "run", "--memory-swap", "1G", "x"]), Err(UsageError::Conflict { .. })));
        assert!(matches!(
            p(&["husk", "run", "-m", "1G", "--memory-swap", "1M", "x"]),
            Err(UsageError::Conflict { .. })
        ));
        bad(&["husk", "run", "-e", "=v", "x"], "=v");
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

    #[test]
    fn networks() {
        use crate::config::{Link, MountKind, Publish, Subnet};
        let s = run(&["husk", "run", "--net", "bridge", "--subnet", "10.1.2.0/24", "-p", "8080:80", "x"]);
        assert_eq!(s.net, Net::Bridge);
        assert_eq!(s.subnet, Some(Subnet { net: [10, 1, 2, 0], prefix: 24 }));
        let c = s.config();
        assert_eq!(c.link, Link::Bridge { subnet: s.subnet });
        assert_eq!(c.namespaces.network, Namespace::New);
        // Its own /etc/hosts and /etc/resolv.conf, before the volumes (a volume there wins).
        let etc: Vec<_> = c.mounts.iter().filter(|m| m.kind == MountKind::Etc).map(|m| m.dest).collect();
        assert_eq!(etc, [&b"/etc/hosts"[..], b"/etc/resolv.conf"]);
        let p1 = Publish { host_ip: None, host_port: 8080, port: 80, udp: false };
        assert_eq!(c.publish, [p1]);
        let s = run(&[
            "husk",
            "run",
            "--network=bridge",
            "--publish",
            "127.0.0.1:53:5353/udp",
            "-p",
            "1:65535/tcp",
            "x",
        ]);
        assert_eq!(
            s.publish.as_slice(),
            [
                Publish { host_ip: Some([127, 0, 0, 1]), host_port: 53, port: 5353, udp: true },
                Publish { host_ip: None, host_port: 1, port: 65535, udp: false },
            ]
        );
        assert_eq!(run(&["husk", "run", "--net", "pasta", "-p", "80:80", "x"]).config().link, Link::Pasta);
        let pod = run(&["husk", "run", "--network", "container:web-1", "x"]);
        assert_eq!(pod.config().link, Link::Container(b"web-1"));
        assert_eq!(pod.config().namespaces.network, Namespace::New);
        // No bridge, no /etc files of husk's.
        assert!(!run(&["husk", "run", "x"]).config().mounts.iter().any(|m| m.kind == MountKind::Etc));
        let value = |args: &[&str], value: &str| match p(args) {
            Err(UsageError::BadValue { value: v, .. }) => assert_eq!(v, value.as_bytes(), "{args:?}"),
            other => panic!("{args:?} gave {other:?}"),
        };
        for refused in [
            "80",
            "0:80",
            "80:0",
            "65536:80",
            "a:80",
            "80:80/sctp",
            "1.2.3:80:80",
            "1.2.3.256:80:80",
            "1:2:3:4",
        ] {
            value(&["husk", "run", "--net", "bridge", "-p", refused, "x"], refused);
        }
        for refused in ["10.0.0.1/24", "10.0.0.0/7", "10.0.0.0/30", "10.0.0.0", "10.0.0/8"] {
            value(&["husk", "run", "--net", "bridge", "--subnet", refused, "x"], refused);
        }
        for refused in ["bridged", "container:", "container:-x", "slirp4netns"] {
            value(&["husk", "run", "--net", refused, "x"], refused);
        }
        // -p and --subnet need a network of the container's own that husk links.
        for args in [
            &["husk", "run", "-p", "80:80", "x"][..],
            &["husk", "run", "--net", "host", "-p", "80:80", "x"],
            &["husk", "run", "--subnet", "10.0.0.0/8", "x"],
        ] {
            assert!(matches!(p(args), Err(UsageError::Conflict { .. })), "{args:?}");
        }
        let mut many = vec!["husk", "run", "--net", "bridge"];
        many.extend(std::iter::repeat_n(["-p", "1:1"], MAX_PUBLISH + 1).flatten());
        many.push("x");
        assert!(matches!(p(&many), Err(UsageError::TooMany { max: MAX_PUBLISH, .. })));
    }
}
