//! A bundle's config.json (runtime-spec config.md, config-linux.md) → the container as data
//! ([`Config`]) and what only an OCI container has ([`Extra`]). Everything is checked here,
//! before anything is built: a malformed file, or a field husk cannot honour, is one line
//! naming its JSON path (`husk: config.json process.args: …`) and 125.
//!
//! No heap and no fixed cap that real configs overflow: the file is read whole into memory
//! of its own, its strings are copied out unescaped, as C strings, into an arena sized from
//! the file, and lists (args, env, mounts' options, masked paths) stay where they are in the
//! document, read again where they are used. The one capacity is the number of mounts
//! (`config::MAX_MOUNTS`), far above the ten or so engines write.

use core::ffi::CStr;

use rustix::fd::AsFd;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use crate::config::{Config, Identity, Link, Mount, MountKind, Namespace, Namespaces, Process, Root};
use crate::error::Failure;
use crate::json::{self, Kind, Value};
use crate::rt::{Reserved, sys};
use crate::userns::{Extent, IdMap, UserNs};

/// The largest config.json read (engines write a few KiB; podman's with its seccomp profile
/// about 20 KiB).
const MAX_CONFIG: usize = 4 << 20;

/// What an OCI container has beyond a [`Config`], read by the init as it builds. (Compared
/// and printed as a place: one per process.)
pub struct Extra {
    /// config.json's root.
    pub doc: Option<Value<'static>>,
    /// The bundle's directory, absolute (state's `bundle`), and the container's ID.
    pub bundle: &'static [u8],
    pub id: &'static [u8],
    /// COMMAND's environment: exactly `process.env`.
    pub env: Option<crate::rt::CStrArray<'static>>,
    /// PATH from `process.env`, to look `process.args[0]` up with.
    pub path: &'static [u8],
    /// The capability sets of `process.capabilities`.
    pub caps: Caps,
    pub identity: Identity,
    pub umask: Option<u32>,
    pub oom_score_adj: Option<i32>,
    /// Namespaces besides the PID and mount ones that are the host's (absent from
    /// `linux.namespaces`) rather than new, and those joined by path: (clone flag, path).
    pub shared: sys::Namespaces,
    pub joined: heapless::Vec<(sys::Namespaces, &'static CStr), 4>,
    pub domainname: &'static [u8],
    /// `linux.rootfsPropagation` as mount propagation flags (0: private, husk's default).
    pub propagation: u64,
    /// `root.readonly`.
    pub root_read_only: bool,
    /// `process.terminal`, and the engine's console socket where the terminal's master goes
    /// (a descriptor, -1: none).
    pub terminal: bool,
    pub console: i32,
    /// Descriptors 3 and on that COMMAND keeps (`--preserve-fds`).
    pub preserve_fds: u32,
    /// The seccomp program (`linux.seccomp`), compiled, and its flags.
    pub seccomp: Option<Program>,
    /// `linux.cgroupsPath`.
    pub cgroups_path: &'static [u8],
}

/// `process.capabilities`, as bit sets.
#[derive(Debug, PartialEq, Eq, Clone, Copy, Default)]
pub struct Caps {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

/// An Extra with nothing in it yet.
const EMPTY: Extra = Extra {
    doc: None,
    bundle: b"",
    id: b"",
    env: None,
    path: b"",
    caps: Caps { bounding: 0, effective: 0, permitted: 0, inheritable: 0, ambient: 0 },
    identity: Identity { uid: 0, gid: 0, groups: heapless::Vec::new(), home: heapless::Vec::new() },
    umask: None,
    oom_score_adj: None,
    shared: sys::Namespaces::NONE,
    joined: heapless::Vec::new(),
    domainname: b"",
    propagation: 0,
    root_read_only: false,
    terminal: false,
    console: -1,
    preserve_fds: 0,
    seccomp: None,
    cgroups_path: b"",
};

static EXTRA: Reserved<Extra> = Reserved::new(EMPTY);

/// Strings copied out of the document, unescaped and NUL-terminated, in memory of their
/// own: never longer than the document's own bytes, so twice its size is always room.
pub struct Arena {
    buf: &'static mut [u8],
}

impl Arena {
    pub fn new(len: usize) -> Result<Arena, Errno> {
        Ok(Arena { buf: sys::scratch(len)? })
    }

    fn take(&mut self, n: usize) -> Option<&'static mut [u8]> {
        if n > self.buf.len() {
            return None;
        }
        let (head, tail) = core::mem::take(&mut self.buf).split_at_mut(n);
        self.buf = tail;
        Some(head)
    }

    /// Bytes as a C string.
    pub fn bytes(&mut self, parts: &[&[u8]]) -> Option<&'static CStr> {
        let n: usize = parts.iter().map(|p| p.len()).sum();
        let out = self.take(n + 1)?;
        let mut k = 0;
        for p in parts {
            out[k..k + p.len()].copy_from_slice(p);
            k += p.len();
        }
        crate::rt::c_str(out)
    }

    /// A JSON string's contents as a C string (None: not a string, or it holds a NUL).
    pub fn string(&mut self, value: Value) -> Option<&'static CStr> {
        let s = value.as_str()?;
        if s.has_nul() {
            return None;
        }
        let n = s.len_unescaped();
        let out = self.take(n + 1)?;
        s.unescape_into(out)?;
        crate::rt::c_str(out)
    }
}

/// The JSON path of a mistake: built in the arena (`mounts[3].type`).
struct Where<'r> {
    arena: &'r mut Arena,
}

impl Where<'_> {
    fn at(&mut self, parts: &[&[u8]], index: Option<usize>, rest: &[u8]) -> &'static [u8] {
        let mut digits = [0u8; 24];
        let (open, n, close): (&[u8], &[u8], &[u8]) = match index {
            Some(i) => (b"[", crate::text::digits(i as u64, 10, &mut digits).to_bytes(), b"]"),
            None => (b"", b"", b""),
        };
        let mut all: heapless::Vec<&[u8], 8> = heapless::Vec::new();
        let _ = all.extend_from_slice(parts);
        let _ = all.extend_from_slice(&[open, n, close, rest]);
        self.arena.bytes(&all).map_or(b"config.json", CStr::to_bytes)
    }
}

fn bad(path: &'static [u8], errno: Errno, why: &'static str) -> Failure<'static> {
    Failure::new("config.json", path, errno).with_hint(why)
}

fn invalid(path: &'static [u8], why: &'static str) -> Failure<'static> {
    bad(path, Errno::INVAL, why)
}

/// Reads `bundle`/config.json into a [`Config`] and its [`Extra`].
pub fn load(bundle: &'static [u8], engine: Engine) -> Result<Config<'static>, Failure<'static>> {
    let extra = EXTRA.take().ok_or(Failure::new("config.json", b"", Errno::BUSY))?;
    (extra.id, extra.console, extra.preserve_fds) = (engine.id, engine.console, engine.preserve_fds);
    if engine.preserve_fds > MAX_PRESERVED {
        return Err(Failure::new("preserve-fds", b"", Errno::TOOBIG).with_hint("husk passes on at most 16"));
    }
    let mut path = crate::cpath::CPath::new();
    let c = path.of(&[bundle, b"/config.json"]).map_err(|e| Failure::new("config.json", bundle, e))?;
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK;
    let fd = rustix::fs::open(c, flags, Mode::empty()).map_err(|e| Failure::new("bundle", bundle, e))?;
    let text = sys::read_whole(fd.as_fd(), MAX_CONFIG).map_err(|e| Failure::new("config.json", bundle, e))?;
    let text: &'static [u8] = &text[..text.len() - 1];
    let mut arena = Arena::new(2 * text.len() + 8192).map_err(|e| Failure::new("config.json", b"", e))?;
    let doc = json::parse(text).map_err(|e| {
        let mut digits = [0u8; 24];
        let at = crate::text::digits(e.offset as u64, 10, &mut digits).to_bytes();
        let path = arena.bytes(&[b"byte ", at]).map_or(&b""[..], CStr::to_bytes);
        bad(path, Errno::INVAL, "not JSON (RFC 8259)")
    })?;
    if doc.kind() != Kind::Object {
        return Err(invalid(b"", "not a JSON object"));
    }
    extra.doc = Some(doc);
    extra.bundle = absolute(bundle, &mut arena)?;
    build(doc, extra, &mut arena, (engine.cgroups, engine.attached))
}

/// What the engine's command line adds to config.json.
pub struct Engine {
    pub id: &'static [u8],
    /// Whether the container may have cgroups of its own (`--cgroup-manager disabled`: no).
    pub cgroups: bool,
    /// The connected console socket, or -1.
    pub console: i32,
    pub preserve_fds: u32,
    /// `run` without --detach: a terminal may be the caller's own.
    pub attached: bool,
}

/// The most descriptors `--preserve-fds` passes on.
pub const MAX_PRESERVED: u32 = 16;

/// The bundle's path made absolute (against the current directory, read from /proc).
fn absolute(bundle: &'static [u8], arena: &mut Arena) -> Result<&'static [u8], Failure<'static>> {
    if bundle.starts_with(b"/") {
        return Ok(bundle);
    }
    let mut buf = [core::mem::MaybeUninit::<u8>::uninit(); 4096];
    let (cwd, _) = rustix::fs::readlinkat_raw(rustix::fs::CWD, c"/proc/self/cwd", &mut buf)
        .map_err(|e| Failure::new("bundle", bundle, e))?;
    let cwd: &[u8] = cwd;
    let joined = if bundle == b"." { arena.bytes(&[cwd]) } else { arena.bytes(&[cwd, b"/", bundle]) };
    joined.map(CStr::to_bytes).ok_or(Failure::new("bundle", bundle, Errno::NAMETOOLONG))
}

/// A string member that must be there.
fn required_str(
    value: Option<Value<'static>>,
    arena: &mut Arena,
    path: &'static [u8],
) -> Result<&'static CStr, Failure<'static>> {
    let v = value.ok_or(invalid(path, "missing"))?;
    arena.string(v).ok_or(invalid(path, "not a string without NUL"))
}

fn optional_str(
    value: Option<Value<'static>>,
    arena: &mut Arena,
    path: &'static [u8],
) -> Result<&'static [u8], Failure<'static>> {
    match value {
        None => Ok(b""),
        Some(v) if v.kind() == Kind::Null => Ok(b""),
        Some(v) => arena.string(v).map(CStr::to_bytes).ok_or(invalid(path, "not a string without NUL")),
    }
}

fn u32_of(value: Option<Value>, path: &'static [u8]) -> Result<Option<u32>, Failure<'static>> {
    match value {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or(invalid(path, "not a 32-bit number")),
    }
}

/// A list of strings as a NULL-terminated array (args, env).
fn string_array(
    value: Value<'static>,
    arena: &mut Arena,
    path: &'static [u8],
) -> Result<crate::rt::CStrArray<'static>, Failure<'static>> {
    let not = invalid(path, "not an array of strings without NUL");
    if value.kind() != Kind::Array || value.items().any(|v| v.as_str().is_none_or(|s| s.has_nul())) {
        return Err(not);
    }
    let count = value.items().count();
    let strings = value.items().map(|v| arena.string(v).unwrap_or(c""));
    crate::rt::c_str_array(count, strings).map_err(|e| Failure::new("config.json", path, e))
}

/// The whole config, member by member.
fn build(
    doc: Value<'static>,
    extra: &'static mut Extra,
    arena: &mut Arena,
    (cgroups, attached): (bool, bool),
) -> Result<Config<'static>, Failure<'static>> {
    let version = doc.get(b"ociVersion").and_then(|v| v.as_str());
    if version.is_none_or(|v| !v.raw().starts_with(b"1.")) {
        return Err(invalid(b"ociVersion", "husk reads runtime-spec 1.x"));
    }
    // root
    let root_path = required_str(doc.path(&[b"root", b"path"]), arena, b"root.path")?.to_bytes();
    let root_path = if root_path.starts_with(b"/") {
        root_path
    } else {
        arena
            .bytes(&[extra.bundle, b"/", root_path])
            .map(CStr::to_bytes)
            .ok_or(invalid(b"root.path", "too long"))?
    };
    let read_only = match doc.path(&[b"root", b"readonly"]) {
        None => false,
        Some(v) => v.as_bool().ok_or(invalid(b"root.readonly", "not true or false"))?,
    };
    extra.root_read_only = read_only;
    let process = doc.get(b"process").ok_or(invalid(b"process", "missing (husk has nothing to run)"))?;
    let linux = doc.get(b"linux");
    let get = |key: &[u8]| linux.and_then(|l| l.get(key));
    // namespaces
    let (namespaces, link) =
        namespaces(get(b"namespaces"), get(b"uidMappings"), get(b"gidMappings"), extra, arena)?;
    // process
    let args = process.get(b"args").ok_or(invalid(b"process.args", "missing"))?;
    if args.items().next().is_none() {
        return Err(invalid(b"process.args", "empty: nothing to run"));
    }
    let argv = string_array(args, arena, b"process.args")?;
    let env = match process.get(b"env") {
        Some(env) => string_array(env, arena, b"process.env")?,
        None => {
            crate::rt::c_str_array(0, core::iter::empty()).map_err(|e| Failure::new("config.json", b"", e))?
        }
    };
    extra.path = env
        .iter()
        .find_map(|e| crate::text::after(e.to_bytes(), b"PATH="))
        .unwrap_or(crate::spawn::DEFAULT_PATH);
    extra.env = Some(env);
    let cwd = required_str(process.get(b"cwd"), arena, b"process.cwd")?.to_bytes();
    if !cwd.starts_with(b"/") {
        return Err(invalid(b"process.cwd", "not an absolute path"));
    }
    user(process.get(b"user"), extra)?;
    extra.caps = capabilities(process.get(b"capabilities"))?;
    let no_new_privs = match process.get(b"noNewPrivileges") {
        None => false,
        Some(v) => v.as_bool().ok_or(invalid(b"process.noNewPrivileges", "not true or false"))?,
    };
    extra.oom_score_adj = match process.get(b"oomScoreAdj") {
        None => None,
        Some(v) => Some(
            v.as_i64()
                .filter(|n| (-1000..=1000).contains(n))
                .ok_or(invalid(b"process.oomScoreAdj", "not a number from -1000 to 1000"))?
                as i32,
        ),
    };
    extra.terminal = match process.get(b"terminal") {
        None => false,
        Some(v) => v.as_bool().ok_or(invalid(b"process.terminal", "not true or false"))?,
    };
    if extra.terminal && extra.console < 0 && !attached {
        return Err(invalid(b"process.terminal", "a terminal needs --console-socket (or run attached)"));
    }
    rlimits(process.get(b"rlimits"))?;
    for (key, what) in [(&b"apparmorProfile"[..], "AppArmor"), (b"selinuxLabel", "SELinux")] {
        if process.get(key).and_then(|v| v.as_str()).is_some_and(|s| !s.raw().is_empty()) {
            crate::out::message(&[
                b"warning: process.",
                key,
                b" ignored: husk has no ",
                what.as_bytes(),
                b" support",
            ]);
        }
    }
    let hostname = optional_str(doc.get(b"hostname"), arena, b"hostname")?;
    extra.domainname = optional_str(doc.get(b"domainname"), arena, b"domainname")?;
    if (!hostname.is_empty() || !extra.domainname.is_empty()) && extra.shared.contains(sys::Namespaces::UTS) {
        return Err(invalid(b"hostname", "needs a UTS namespace of the container's own (linux.namespaces)"));
    }
    // mounts
    let mut mounts = heapless::Vec::new();
    if let Some(list) = doc.get(b"mounts") {
        if list.kind() != Kind::Array {
            return Err(invalid(b"mounts", "not an array"));
        }
        for (i, m) in list.items().enumerate() {
            let mount = mount(m, i, extra.bundle, arena)?;
            mounts.push(mount).map_err(|_| invalid(b"mounts", "more mounts than husk has room for (40)"))?;
        }
    }
    // linux
    for (key, path) in
        [(&b"maskedPaths"[..], &b"linux.maskedPaths"[..]), (b"readonlyPaths", b"linux.readonlyPaths")]
    {
        if let Some(list) = get(key)
            && (list.kind() != Kind::Array
                || list.items().any(|v| v.as_str().is_none_or(|s| !s.raw().starts_with(b"/"))))
        {
            return Err(invalid(path, "not an array of absolute paths"));
        }
    }
    if let Some(sysctl) = get(b"sysctl") {
        if sysctl.kind() != Kind::Object || sysctl.entries().any(|(_, v)| v.as_str().is_none()) {
            return Err(invalid(b"linux.sysctl", "not an object of strings"));
        }
        for (key, _) in sysctl.entries() {
            if key.raw().contains(&b'/') || key.raw().starts_with(b".") || key.raw().is_empty() {
                return Err(invalid(b"linux.sysctl", "a name with '/' or a leading '.'"));
            }
        }
    }
    extra.propagation = match get(b"rootfsPropagation").and_then(|v| v.as_str()) {
        None => 0,
        Some(p) => {
            propagation(p.raw()).ok_or(invalid(b"linux.rootfsPropagation", "not a propagation husk knows"))?
        }
    };
    if let Some(devices) = get(b"devices") {
        if devices.kind() != Kind::Array {
            return Err(invalid(b"linux.devices", "not an array"));
        }
        for d in devices.items() {
            let kind = d.get(b"type").and_then(|v| v.as_str());
            if kind.is_none_or(|k| !matches!(k.raw(), b"c" | b"b" | b"u" | b"p"))
                || d.get(b"path").and_then(|v| v.as_str()).is_none()
            {
                return Err(invalid(b"linux.devices", "each needs a path and a type c, b, u or p"));
            }
        }
    }
    if let Some(profile) = get(b"seccomp") {
        extra.seccomp = Some(seccomp(profile, arena)?);
    }
    extra.cgroups_path = optional_str(get(b"cgroupsPath"), arena, b"linux.cgroupsPath")?;
    // linux.resources: written into the container's own groups at create (oci/cgroups.rs,
    // where what this host cannot apply is refused); here, what needs no host.
    if let Some(r) = get(b"resources")
        && super::cgroups::asked(r)?
        && !cgroups
    {
        return Err(invalid(b"linux.resources", "resources asked with --cgroup-manager disabled"));
    }
    // (husk's own groups are not used: oci/cgroups.rs makes the container's.)
    let cgroup = None;
    let extra: &'static Extra = extra;
    Ok(Config {
        // Made read-only at the end (mounts.rs, `finish`), once the mount points it lacks
        // are made, as runc and crun do.
        root: Root::Dir { path: root_path, read_only: false },
        mounts,
        namespaces,
        hostname,
        process: Process {
            command: 0,
            argv: Some(argv),
            env: &[],
            env_files: &[],
            cwd,
            user: Some(&extra.identity),
            caps_added: extra.caps.bounding,
            caps_dropped: crate::caps::ALL & !extra.caps.bounding,
            no_new_privs,
            seccomp: false,
            oci: Some(extra),
        },
        cgroup,
        link,
        publish: &[],
    })
}

/// A compiled seccomp program and its SECCOMP_FILTER_FLAG_* flags.
pub type Program = (&'static [crate::seccomp::Insn], u32);

/// `linux.seccomp` compiled (oci/seccomp.rs), into room of its own (one program a process).
pub fn seccomp(profile: Value, arena: &mut Arena) -> Result<Program, Failure<'static>> {
    use super::seccomp::{MAX_INSNS, compile};
    static ROOM: Reserved<[crate::seccomp::Insn; MAX_INSNS]> =
        Reserved::new([crate::seccomp::Insn { code: 0, jt: 0, jf: 0, k: 0 }; MAX_INSNS]);
    let room = ROOM.take().ok_or(Failure::new("seccomp", b"", Errno::BUSY))?;
    match compile(profile, room) {
        Ok(filter) => Ok((&room[..filter.len], filter.flags)),
        Err(error) => {
            let mut buf = [0u8; 80];
            let path = error.path(&mut buf);
            let path = arena.bytes(&[path]).map_or(&b"linux.seccomp"[..], CStr::to_bytes);
            Err(bad(path, error.errno(), error.hint()))
        }
    }
}

/// `linux.namespaces` and the id maps: what is new, what is joined by path, what stays the
/// host's. husk's container always has a PID and a mount namespace of its own (its init is
/// PID 1 there, and builds the root in it).
fn namespaces(
    list: Option<Value<'static>>,
    uids: Option<Value<'static>>,
    gids: Option<Value<'static>>,
    extra: &mut Extra,
    arena: &mut Arena,
) -> Result<(Namespaces, Link<'static>), Failure<'static>> {
    const PATH: &[u8] = b"linux.namespaces";
    let mut seen = sys::Namespaces::NONE;
    let (mut network, mut link, mut user) = (Namespace::Host, Link::None, false);
    for ns in list.into_iter().flat_map(Value::items) {
        let kind = ns.get(b"type").and_then(|v| v.as_str()).ok_or(invalid(PATH, "each needs a type"))?;
        let flag = match kind.raw() {
            b"pid" => sys::Namespaces::PID,
            b"mount" => sys::Namespaces::MOUNT,
            b"network" => sys::Namespaces::NET,
            b"uts" => sys::Namespaces::UTS,
            b"ipc" => sys::Namespaces::IPC,
            b"cgroup" => sys::Namespaces::CGROUP,
            b"user" => sys::Namespaces::USER,
            _ => {
                return Err(invalid(
                    PATH,
                    "a type husk does not know (pid, mount, network, uts, ipc, cgroup, user)",
                ));
            }
        };
        if seen.contains(flag) {
            return Err(invalid(PATH, "a type given twice"));
        }
        seen = seen.with(flag);
        let path = optional_str(ns.get(b"path"), arena, PATH)?;
        if !path.is_empty() {
            let c = arena.bytes(&[path]).ok_or(invalid(PATH, "too long"))?;
            match kind.raw() {
                b"network" => {
                    network = Namespace::New;
                    link = Link::Join(c.to_bytes());
                }
                b"uts" | b"ipc" | b"cgroup" => {
                    let _ = extra.joined.push((flag, c));
                }
                _ => {
                    return Err(bad(
                        PATH,
                        Errno::OPNOTSUPP,
                        "husk joins only network, uts, ipc and cgroup namespaces by path",
                    ));
                }
            }
            continue;
        }
        match kind.raw() {
            b"network" => network = Namespace::New,
            b"user" => user = true,
            _ => {}
        }
    }
    if !seen.contains(sys::Namespaces::PID) || !seen.contains(sys::Namespaces::MOUNT) {
        return Err(invalid(
            PATH,
            "husk runs every container in a PID and a mount namespace of its own: list both",
        ));
    }
    for flag in [sys::Namespaces::UTS, sys::Namespaces::IPC, sys::Namespaces::CGROUP] {
        if !seen.contains(flag) {
            extra.shared = extra.shared.with(flag);
        }
    }
    let user = if user {
        Some(UserNs {
            uids: id_map(uids, b"linux.uidMappings")?,
            gids: id_map(gids, b"linux.gidMappings")?,
            helpers: false,
            deny_setgroups: false,
            ids: (0, 0),
            private: false,
            idmap: false,
        })
    } else if uids.is_some_and(|v| v.items().next().is_some()) {
        return Err(invalid(b"linux.uidMappings", "id maps need a user namespace in linux.namespaces"));
    } else {
        None
    };
    Ok((Namespaces { network, user }, link))
}

/// One or two lines of `linux.uidMappings` or `gidMappings`.
fn id_map(value: Option<Value>, path: &'static [u8]) -> Result<IdMap, Failure<'static>> {
    let mut lines = [None; 2];
    let list = value.ok_or(invalid(path, "a user namespace needs its id maps"))?;
    for (i, line) in list.items().enumerate() {
        let field = |key: &[u8]| line.get(key).and_then(|v| v.as_u64()).and_then(|n| u32::try_from(n).ok());
        let extent = match (field(b"containerID"), field(b"hostID"), field(b"size")) {
            (Some(inside), Some(outside), Some(count)) if count > 0 => Extent { inside, outside, count },
            _ => return Err(invalid(path, "each line needs containerID, hostID and size")),
        };
        *lines.get_mut(i).ok_or(bad(path, Errno::OPNOTSUPP, "husk writes at most two lines"))? = Some(extent);
    }
    match lines {
        [Some(first), second] => Ok(IdMap { first, second }),
        _ => Err(invalid(path, "empty")),
    }
}

/// `process.user`: uid, gid, umask, additionalGids.
fn user(value: Option<Value>, extra: &mut Extra) -> Result<(), Failure<'static>> {
    let Some(user) = value else { return Ok(()) };
    extra.identity.uid = u32_of(user.get(b"uid"), b"process.user.uid")?.unwrap_or(0);
    extra.identity.gid = u32_of(user.get(b"gid"), b"process.user.gid")?.unwrap_or(0);
    extra.umask = u32_of(user.get(b"umask"), b"process.user.umask")?;
    for g in user.get(b"additionalGids").into_iter().flat_map(Value::items) {
        let gid = u32_of(Some(g), b"process.user.additionalGids")?.unwrap_or(0);
        extra
            .identity
            .groups
            .push(gid)
            .map_err(|_| bad(b"process.user.additionalGids", Errno::TOOBIG, "more than 32"))?;
    }
    if user.get(b"username").is_some() {
        return Err(bad(b"process.user.username", Errno::OPNOTSUPP, "a Windows field"));
    }
    Ok(())
}

/// `process.capabilities`: each set a list of names (`CAP_CHOWN`).
fn capabilities(value: Option<Value>) -> Result<Caps, Failure<'static>> {
    let mut caps = Caps::default();
    let Some(value) = value else { return Ok(caps) };
    let sets: [(&[u8], &'static [u8], &mut u64); 5] = [
        (b"bounding", b"process.capabilities.bounding", &mut caps.bounding),
        (b"effective", b"process.capabilities.effective", &mut caps.effective),
        (b"permitted", b"process.capabilities.permitted", &mut caps.permitted),
        (b"inheritable", b"process.capabilities.inheritable", &mut caps.inheritable),
        (b"ambient", b"process.capabilities.ambient", &mut caps.ambient),
    ];
    for (key, path, set) in sets {
        for name in value.get(key).into_iter().flat_map(Value::items) {
            let name = name.as_str().ok_or(invalid(path, "not a capability name"))?;
            let bit = crate::caps::parse(name.raw())
                .filter(|&b| b != crate::caps::ALL && name.raw().starts_with(b"CAP_"))
                .ok_or(invalid(path, "a capability this kernel's husk does not know"))?;
            *set |= bit;
        }
    }
    Ok(caps)
}

/// The resource limits husk knows, by `process.rlimits` type.
pub const RLIMITS: &[u8] = b"RLIMIT_CPU RLIMIT_FSIZE RLIMIT_DATA RLIMIT_STACK RLIMIT_CORE RLIMIT_RSS RLIMIT_NPROC RLIMIT_NOFILE RLIMIT_MEMLOCK RLIMIT_AS RLIMIT_LOCKS RLIMIT_SIGPENDING RLIMIT_MSGQUEUE RLIMIT_NICE RLIMIT_RTPRIO RLIMIT_RTTIME";

/// `process.rlimits`, checked: each a known type with soft ≤ hard.
fn rlimits(value: Option<Value>) -> Result<(), Failure<'static>> {
    const PATH: &[u8] = b"process.rlimits";
    let mut seen = 0u32;
    for r in value.into_iter().flat_map(Value::items) {
        let kind = r.get(b"type").and_then(|v| v.as_str()).ok_or(invalid(PATH, "each needs a type"))?;
        let n =
            crate::text::word_index(RLIMITS, kind.raw()).ok_or(invalid(PATH, "a type husk does not know"))?;
        let (soft, hard) = (r.get(b"soft").and_then(|v| v.as_u64()), r.get(b"hard").and_then(|v| v.as_u64()));
        match (soft, hard) {
            (Some(soft), Some(hard)) if soft <= hard => {}
            _ => return Err(invalid(PATH, "each needs soft and hard, soft at most hard")),
        }
        if seen & (1 << n) != 0 {
            return Err(invalid(PATH, "a type given twice"));
        }
        seen |= 1 << n;
    }
    Ok(())
}

/// Each `process.rlimits` entry: (resource number, soft, hard). Checked by `load`.
pub fn each_rlimit(process: Value<'static>) -> impl Iterator<Item = (u32, u64, u64)> {
    process.get(b"rlimits").into_iter().flat_map(Value::items).filter_map(|r| {
        let n = crate::text::word_index(RLIMITS, r.get(b"type")?.as_str()?.raw())?;
        Some((n as u32, r.get(b"soft")?.as_u64()?, r.get(b"hard")?.as_u64()?))
    })
}

/// One of `mounts`: husk's own /dev, /sys and cgroup kinds where they fit (each
/// made as husk makes them, masks included), a bind, or any other filesystem by type
/// (MountKind::Fs: the init reads its options from the document again).
fn mount(
    m: Value<'static>,
    i: usize,
    bundle: &'static [u8],
    arena: &mut Arena,
) -> Result<Mount<'static>, Failure<'static>> {
    let mut at = Where { arena };
    let dest_path = at.at(&[b"mounts"], Some(i), b".destination");
    let kind_path = at.at(&[b"mounts"], Some(i), b".type");
    let source_path = at.at(&[b"mounts"], Some(i), b".source");
    let options_path = at.at(&[b"mounts"], Some(i), b".options");
    let dest = required_str(m.get(b"destination"), arena, dest_path)?.to_bytes();
    if !dest.starts_with(b"/") || dest.split(|&c| c == b'/').any(|part| part == b"..") {
        return Err(invalid(dest_path, "not an absolute path without '..'"));
    }
    let fstype = optional_str(m.get(b"type"), arena, kind_path)?;
    let source = optional_str(m.get(b"source"), arena, source_path)?;
    let options = m.get(b"options");
    if options.is_some_and(|o| o.kind() != Kind::Array || o.items().any(|v| v.as_str().is_none())) {
        return Err(invalid(options_path, "not an array of strings"));
    }
    let mut bind = fstype == b"bind";
    let mut read_only = false;
    for option in options.into_iter().flat_map(Value::items).filter_map(|v| v.as_str()) {
        match option.raw() {
            b"bind" | b"rbind" => bind = true,
            b"ro" => read_only = true,
            _ => {}
        }
    }
    let kind = if bind {
        if source.is_empty() {
            return Err(invalid(source_path, "a bind needs a source"));
        }
        let source = if source.starts_with(b"/") {
            source
        } else {
            arena
                .bytes(&[bundle, b"/", source])
                .map(CStr::to_bytes)
                .ok_or(invalid(source_path, "too long"))?
        };
        return Ok(Mount { kind: MountKind::Bind { read_only }, source, dest });
    } else if dest == b"/dev" && fstype == b"tmpfs" {
        MountKind::Dev
    } else {
        match fstype {
            // (A procfs as the config has it: its maskedPaths and readonlyPaths are the masks,
            // and its sysctls are written before they apply.)
            b"sysfs" => MountKind::Sysfs,
            b"cgroup" | b"cgroup2" => MountKind::Cgroup,
            b"" => return Err(invalid(kind_path, "missing (and not a bind)")),
            _ => MountKind::Fs(i as u16),
        }
    };
    Ok(Mount { kind, source, dest })
}

/// `linux.rootfsPropagation` → mount(2) propagation flags.
fn propagation(name: &[u8]) -> Option<u64> {
    use linux_raw_sys::general::{MS_PRIVATE, MS_REC, MS_SHARED, MS_SLAVE, MS_UNBINDABLE};
    let (rec, base) = match name.strip_prefix(b"r") {
        Some(rest) if rest != b"" => (MS_REC, rest),
        _ => (0, name),
    };
    let flag = match base {
        b"private" => MS_PRIVATE,
        b"shared" => MS_SHARED,
        b"slave" => MS_SLAVE,
        b"unbindable" => MS_UNBINDABLE,
        _ => return None,
    };
    Some((flag | rec) as u64)
}

impl PartialEq for Extra {
    fn eq(&self, other: &Extra) -> bool {
        core::ptr::eq(self, other)
    }
}

impl Eq for Extra {}

impl core::fmt::Debug for Extra {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        f.write_str("Extra")
    }
}

impl Extra {
    /// The descriptors the init keeps while it builds: the console socket, those passed on.
    pub fn kept(&self) -> impl Iterator<Item = i32> + '_ {
        (self.console >= 0).then_some(self.console).into_iter().chain(self.preserved())
    }

    /// Those COMMAND gets: 3 up to 3 + `--preserve-fds`.
    pub fn preserved(&self) -> impl Iterator<Item = i32> + '_ {
        (3..3 + self.preserve_fds as i32).filter(move |&fd| fd != self.console)
    }
}

/// What an OCI `exec` runs: `process` (an exec's --process file, or the container's own
/// config.json `process` that its options change), read as `load` reads a config's.
pub struct ExecProcess {
    pub argv: Option<crate::rt::CStrArray<'static>>,
    pub env: crate::rt::CStrArray<'static>,
    pub path: &'static [u8],
    pub cwd: &'static CStr,
    pub identity: Identity,
    pub caps: Caps,
    pub no_new_privs: bool,
    pub terminal: bool,
}

/// Reads an exec's process object (`args` may be missing when the command line gives them).
pub fn exec_process(process: Value<'static>, arena: &mut Arena) -> Result<ExecProcess, Failure<'static>> {
    let argv = match process.get(b"args") {
        Some(args) if args.items().next().is_some() => Some(string_array(args, arena, b"process.args")?),
        _ => None,
    };
    let env = match process.get(b"env") {
        Some(env) => string_array(env, arena, b"process.env")?,
        None => {
            crate::rt::c_str_array(0, core::iter::empty()).map_err(|e| Failure::new("process", b"", e))?
        }
    };
    let path = env
        .iter()
        .find_map(|e| crate::text::after(e.to_bytes(), b"PATH="))
        .unwrap_or(crate::spawn::DEFAULT_PATH);
    let cwd = match process.get(b"cwd") {
        Some(cwd) => arena.string(cwd).ok_or(invalid(b"process.cwd", "not a string"))?,
        None => c"/",
    };
    let scratch = EXEC.take().ok_or(Failure::new("process", b"", Errno::BUSY))?;
    user(process.get(b"user"), scratch)?;
    let flag = |key: &[u8]| process.get(key).and_then(|v| v.as_bool()).unwrap_or(false);
    Ok(ExecProcess {
        argv,
        env,
        path,
        cwd,
        identity: scratch.identity.clone(),
        caps: capabilities(process.get(b"capabilities"))?,
        no_new_privs: flag(b"noNewPrivileges"),
        terminal: flag(b"terminal"),
    })
}

/// An exec's own Extra, to read its user into (as `load` reads a config's).
static EXEC: Reserved<Extra> = Reserved::new(EMPTY);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn propagation_names() {
        use linux_raw_sys::general::{MS_PRIVATE, MS_REC, MS_SLAVE};
        assert_eq!(propagation(b"rprivate"), Some((MS_PRIVATE | MS_REC) as u64));
        assert_eq!(propagation(b"slave"), Some(MS_SLAVE as u64));
        assert_eq!(propagation(b"r"), None);
        assert_eq!(propagation(b"nope"), None);
    }

    #[test]
    fn capability_sets() {
        let doc = json::parse(br#"{"bounding":["CAP_CHOWN","CAP_KILL"],"ambient":["CAP_KILL"]}"#).unwrap();
        let caps = capabilities(Some(doc)).unwrap();
        assert_eq!(caps.bounding, 1 | 1 << 5);
        assert_eq!(caps.ambient, 1 << 5);
        let doc = json::parse(br#"{"bounding":["CAP_NOPE"]}"#).unwrap();
        assert!(capabilities(Some(doc)).is_err());
        let doc = json::parse(br#"{"bounding":["ALL"]}"#).unwrap();
        assert!(capabilities(Some(doc)).is_err());
    }

    #[test]
    fn rlimit_checks() {
        let ok = json::parse(br#"{"rlimits":[{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024}]}"#).unwrap();
        assert!(rlimits(ok.get(b"rlimits")).is_ok());
        assert_eq!(each_rlimit(ok).collect::<Vec<_>>(), vec![(7, 1024, 1024)]);
        for bad in [
            &br#"{"rlimits":[{"type":"RLIMIT_NOPE","hard":1,"soft":1}]}"#[..],
            br#"{"rlimits":[{"type":"RLIMIT_NOFILE","hard":1,"soft":2}]}"#,
            br#"{"rlimits":[{"type":"RLIMIT_NOFILE","hard":1,"soft":1},{"type":"RLIMIT_NOFILE","hard":1,"soft":1}]}"#,
        ] {
            let doc = json::parse(bad).unwrap();
            assert!(rlimits(doc.get(b"rlimits")).is_err());
        }
    }

    #[test]
    fn id_maps() {
        let doc = json::parse(br#"[{"containerID":0,"hostID":100000,"size":65536}]"#).unwrap();
        let m = id_map(Some(doc), b"x").unwrap();
        assert_eq!(m.first, Extent { inside: 0, outside: 100000, count: 65536 });
        let doc = json::parse(br#"[{"containerID":0,"hostID":1,"size":1},{"containerID":1,"hostID":2,"size":1},{"containerID":2,"hostID":3,"size":1}]"#).unwrap();
        assert!(id_map(Some(doc), b"x").is_err());
    }
}
