//! User namespaces: which ids the container's user namespace maps (decided on the host
//! before anything is built), and writing those maps for the container's init
//! (user_namespaces(7), "User and group ID mappings: uid_map and gid_map").
//!
//! Four cases:
//!
//! | who, option                         | uid_map (gid_map alike)           | written by            |
//! |-------------------------------------|-----------------------------------|-----------------------|
//! | a user                              | `0 UID 1`                         | husk (setgroups deny) |
//! | a user with subordinate ids         | `0 UID 1` + `1 SUBSTART SUBCOUNT` | newuidmap, newgidmap  |
//! | a user, `--userns keep-id`          | `UID UID 1`                       | husk (setgroups deny) |
//! | root, `--userns private`, or the    | `0 BASE 65536`, BASE a free slot  | husk                  |
//! | default root                        | ([`Slot`])                        |                       |
//!
//! An ordinary user may write only a map of their own ids, and only after `setgroups` is
//! `deny` (else a map would let them drop a group that denies them access). Wider maps of
//! their subordinate ranges (/etc/subuid, /etc/subgid) need the setuid helpers of Debian's
//! `uidmap` package, which check those files.

use rustix::fd::{AsFd, BorrowedFd};
use rustix::fs::{Mode, OFlags, open, openat};
use rustix::io::Errno;

use crate::cpath::CPath;
use crate::error::{Failure, fail};
use crate::rt::sys;
use crate::text::digits;

/// `--userns`: what the caller asked for.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Request {
    /// Nothing: a user gets a namespace (the caller is root inside), root none (but for
    /// the default root, which always gets one).
    Default,
    /// A user keeps their own uid and gid inside.
    KeepId,
    /// Root: a private range of 65536 ids nobody else uses.
    Private,
    /// Root: no user namespace.
    Host,
}

/// One line of a map: `count` ids from `inside` map to `outside` in the parent namespace.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct Extent {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

/// A uid_map or gid_map: one or two lines.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct IdMap {
    pub first: Extent,
    pub second: Option<Extent>,
}

impl IdMap {
    fn one(inside: u32, outside: u32, count: u32) -> IdMap {
        IdMap { first: Extent { inside, outside, count }, second: None }
    }

    /// Whether `id` inside is mapped.
    pub fn contains(&self, id: u32) -> bool {
        self.lines().any(|e| id >= e.inside && id - e.inside < e.count)
    }

    fn lines(&self) -> impl Iterator<Item = &Extent> {
        core::iter::once(&self.first).chain(self.second.as_ref())
    }

    /// The map as the kernel reads it, in one write(2): `INSIDE OUTSIDE COUNT\n` lines.
    pub fn text<'b>(&self, buf: &'b mut [u8]) -> &'b [u8] {
        let mut n = 0;
        for extent in self.lines() {
            for (value, end) in [(extent.inside, b' '), (extent.outside, b' '), (extent.count, b'\n')] {
                let mut number = [0u8; 24];
                let d = digits(value as u64, 10, &mut number).to_bytes();
                buf[n..n + d.len()].copy_from_slice(d);
                buf[n + d.len()] = end;
                n += d.len() + 1;
            }
        }
        &buf[..n]
    }
}

/// The container's user namespace, as data.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct UserNs {
    pub uids: IdMap,
    pub gids: IdMap,
    /// Written by newuidmap and newgidmap (subordinate ranges); else by husk.
    pub helpers: bool,
    /// `setgroups` must be `deny` before gid_map is written (a user's own map).
    pub deny_setgroups: bool,
    /// The ids the init and, by default, COMMAND have inside: 0:0, or the caller's own.
    pub ids: (u32, u32),
    /// Root's private range (the slot is claimed by the host side).
    pub private: bool,
    /// The rootfs and volumes idmapped through the namespace (`--userns private` asked for
    /// explicitly): root inside then owns them as the host's root does.
    pub idmap: bool,
}

/// Subordinate ranges (start, count) of the caller, uids and gids, when both exist and
/// the helpers are installed.
pub type Subordinate = Option<((u32, u32), (u32, u32))>;

/// The ids a private range has: 0..65535, as a container's image expects.
pub const PRIVATE_COUNT: u32 = 0x10000;

/// Decides the user namespace from the caller's ids and what was asked. `default_root`: the
/// container's root is the host's own tree (root inside must be nobody on the host then:
/// read-only does not stop connect(2) to root's sockets, nor reading root's 0600 files).
/// A private range gets its base from [`Slot::claim`] later (`with_base`).
pub fn plan(
    mode: Request,
    caller: (u32, u32),
    default_root: bool,
    sub: Subordinate,
) -> Result<Option<UserNs>, &'static str> {
    let (uid, gid) = caller;
    if uid == 0 {
        return match mode {
            Request::KeepId => Err("keep-id is for an ordinary user (root inside is root's own id)"),
            Request::Host if default_root => {
                Err("the host's tree as root needs a user namespace: give --rootfs for --userns host")
            }
            Request::Host => Ok(None),
            Request::Default if !default_root => Ok(None),
            // The host's tree: a private range, nothing idmapped (root inside must stay nobody
            // on the host, volumes included).
            Request::Default => Ok(Some(private(0, false))),
            Request::Private => Ok(Some(private(0, true))),
        };
    }
    let own = |inside_uid, inside_gid| UserNs {
        uids: IdMap::one(inside_uid, uid, 1),
        gids: IdMap::one(inside_gid, gid, 1),
        helpers: false,
        deny_setgroups: true,
        ids: (inside_uid, inside_gid),
        private: false,
        idmap: false,
    };
    match (mode, sub) {
        (Request::Host, _) => Err("an ordinary user runs husk only in a user namespace"),
        (Request::KeepId, _) => Ok(Some(own(uid, gid))),
        (_, Some(((su, nu), (sg, ng)))) => Ok(Some(UserNs {
            uids: IdMap {
                second: Some(Extent { inside: 1, outside: su, count: nu }),
                ..IdMap::one(0, uid, 1)
            },
            gids: IdMap {
                second: Some(Extent { inside: 1, outside: sg, count: ng }),
                ..IdMap::one(0, gid, 1)
            },
            helpers: true,
            deny_setgroups: false,
            ids: (0, 0),
            private: false,
            idmap: false,
        })),
        (_, None) => Ok(Some(own(0, 0))),
    }
}

/// Root's private namespace: 0..65535 inside from `base` on the host.
pub fn private(base: u32, idmap: bool) -> UserNs {
    let map = IdMap::one(0, base, PRIVATE_COUNT);
    UserNs { uids: map, gids: map, helpers: false, deny_setgroups: false, ids: (0, 0), private: true, idmap }
}

/// The caller's subordinate range in an /etc/subuid or /etc/subgid text (`NAME:START:COUNT`
/// or `UID:START:COUNT` lines; the first that names the caller, as the helpers take it).
pub fn subordinate(text: &[u8], name: &[u8], id: u32) -> Option<(u32, u32)> {
    let mut number = [0u8; 24];
    let id = digits(id as u64, 10, &mut number).to_bytes();
    let (_, range) = ranges(text).find(|&(owner, _)| owner == name || owner == id)?;
    let (start, count) = range?;
    (count > 0 && start + count <= u32::MAX as u64).then_some((start as u32, count as u32))
}

/// The `OWNER:START:COUNT` lines of an /etc/subuid-style text (blank ones skipped), with
/// the range when it parses.
fn ranges(text: &[u8]) -> impl Iterator<Item = (&[u8], Option<(u64, u64)>)> {
    crate::text::fields(text, b'\n').filter(|line| !line.is_empty()).map(|line| {
        let mut fields = crate::text::fields(line, b':');
        let owner = fields.next().unwrap_or(b"");
        let mut number = || number(fields.next()?);
        (owner, number().zip(number()))
    })
}

/// A number as shadow's helpers read one (strtoul, base 0): `0x…` hexadecimal, `0…` octal,
/// else decimal. Read otherwise, a line newuidmap honours could be missed.
fn number(s: &[u8]) -> Option<u64> {
    let (digits, base) = match s {
        [b'0', b'x' | b'X', rest @ ..] => (rest, 16),
        [b'0', rest @ ..] if !rest.is_empty() => (rest, 8),
        _ => (s, 10),
    };
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        let d = (d as char).to_digit(base)? as u64;
        Some(n * base as u64 + d)
    })
}

/// The slots of root's private ranges: base `FIRST_BASE + k * 65536` for k below `SLOTS`,
/// all above the subordinate ranges `useradd` hands out (login.defs: SUB_UID_MAX 600100000)
/// and below 2^31 (ids above that are not portable).
const FIRST_BASE: u32 = 0x4000_0000;
const SLOTS: u32 = 1024;

/// Where the slots are claimed, one file per slot held for the container's life (claim.rs).
const SLOT_DIR: &core::ffi::CStr = c"/run/husk/.ids";

/// A claimed private range: its slot, held until dropped.
pub struct Slot {
    _claim: crate::claim::Claim,
    pub base: u32,
}

impl Slot {
    /// The first free slot whose range no /etc/subuid or /etc/subgid line overlaps.
    #[inline(never)]
    pub fn claim() -> Result<Slot, Failure<'static>> {
        // Unreadable, they could hold any range: no slot is known to be free.
        let unreadable = |path: &'static core::ffi::CStr| Failure::new("userns", path.to_bytes(), Errno::IO);
        let taken = [
            read_host(c"/etc/subuid").ok_or_else(|| unreadable(c"/etc/subuid"))?,
            read_host(c"/etc/subgid").ok_or_else(|| unreadable(c"/etc/subgid"))?,
        ];
        let base = |k: u32| FIRST_BASE + k * PRIVATE_COUNT;
        let usable = |k: u32| !taken.iter().any(|text| overlaps(text, base(k), PRIVATE_COUNT));
        let claim = crate::claim::claim(SLOT_DIR, (0, 0, SLOTS), &usable, |k, buf| digits(k as u64, 10, buf))
            .map_err(|e| {
                let failure = Failure::new("userns", SLOT_DIR.to_bytes(), e);
                if e == Errno::AGAIN { failure.with_hint("every private range is in use") } else { failure }
            })?;
        Ok(Slot { base: base(claim.number), _claim: claim })
    }
}

/// Whether any range in an /etc/subuid-style text overlaps `base`..`base + count`. A line
/// that does not parse counts as overlapping everything: what it means is unknown.
pub fn overlaps(text: &[u8], base: u32, count: u32) -> bool {
    let (base, end) = (base as u64, base as u64 + count as u64);
    ranges(text).any(|(_, range)| range.is_none_or(|(start, n)| start < end && base < start + n))
}

/// A small host file (/etc/subuid, /etc/passwd), or nothing when it cannot be read.
/// A small host file (/etc/subuid, /etc/passwd): empty when there is none, None when it is
/// there but cannot be read whole.
fn read_host(path: &core::ffi::CStr) -> Option<&'static [u8]> {
    match open(path, OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK, Mode::empty()) {
        Ok(fd) => sys::read_whole(fd.as_fd(), 1 << 20).ok().map(|text| &text[..text.len() - 1]),
        Err(Errno::NOENT) => Some(b""),
        Err(_) => None,
    }
}

/// The helpers of Debian's `uidmap` package.
const NEWUIDMAP: &core::ffi::CStr = c"/usr/bin/newuidmap";
const NEWGIDMAP: &core::ffi::CStr = c"/usr/bin/newgidmap";

/// The caller's subordinate ranges, when they have both and the helpers are there.
pub fn caller_subordinate(uid: u32) -> Subordinate {
    let helpers =
        [NEWUIDMAP, NEWGIDMAP].iter().all(|p| rustix::fs::access(*p, rustix::fs::Access::EXEC_OK).is_ok());
    if !helpers {
        return None;
    }
    let passwd = read_host(c"/etc/passwd").unwrap_or(b"");
    let name = crate::users::name_of(passwd, uid).unwrap_or(b"");
    Some((
        subordinate(read_host(c"/etc/subuid")?, name, uid)?,
        subordinate(read_host(c"/etc/subgid")?, name, uid)?,
    ))
}

/// The host side, once the init is cloned (`pid`): writes its maps. The init waits for the
/// word that they are there ([`crate::container::sync::IdMaps`]).
#[inline(never)] // smaller so
pub fn write_maps(pid: i32, user: &UserNs) -> Result<(), Failure<'static>> {
    if user.helpers {
        // Both at once: each is a setuid program that reads the files again (~1.6 ms).
        let uids = run_helper(NEWUIDMAP, pid, &user.uids).map_err(fail("newuidmap", b""))?;
        let gids = run_helper(NEWGIDMAP, pid, &user.gids);
        let uids = wait_helper(uids);
        let gids = gids.and_then(wait_helper);
        uids.map_err(helper_failed("newuidmap"))?;
        return gids.map_err(helper_failed("newgidmap"));
    }
    let mut path = CPath::new();
    let proc_dir = crate::procfs::pid_path(&mut path, pid, b"").map_err(fail("userns", b""))?;
    let dir = open(proc_dir, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(fail("userns", b"/proc"))?;
    let mut buf = [0u8; 80];
    if user.deny_setgroups {
        write_file(dir.as_fd(), c"setgroups", b"deny")?;
    }
    write_file(dir.as_fd(), c"gid_map", user.gids.text(&mut buf))?;
    write_file(dir.as_fd(), c"uid_map", user.uids.text(&mut buf))
}

fn write_file(dir: BorrowedFd, name: &'static core::ffi::CStr, text: &[u8]) -> Result<(), Failure<'static>> {
    let written = openat(dir, name, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())
        .and_then(|fd| rustix::io::write(&fd, text))
        .and_then(|n| if n == text.len() { Ok(()) } else { Err(Errno::IO) });
    written.map_err(fail("userns", name.to_bytes()))
}

/// Starts `helper PID INSIDE OUTSIDE COUNT…` with an empty environment.
fn run_helper(helper: &'static core::ffi::CStr, pid: i32, map: &IdMap) -> Result<i32, Errno> {
    // `PID` and the map's text, each number then a C string of its own in place.
    let mut buf = [0u8; 112];
    let mut number = [0u8; 24];
    let pid = digits(pid as u64, 10, &mut number).to_bytes();
    buf[..pid.len()].copy_from_slice(pid);
    let len = pid.len() + 1 + map.text(&mut buf[pid.len() + 1..]).len();
    for b in &mut buf[..len] {
        if *b == b' ' || *b == b'\n' {
            *b = 0;
        }
    }
    let mut slots = crate::rt::CStrSlots::<9>::new();
    let mut argv = slots.writer();
    argv.push(helper);
    let mut start = 0;
    for end in (0..len).filter(|&i| buf[i] == 0) {
        if let Some(arg) = crate::rt::c_str(&buf[start..=end]) {
            argv.push(arg);
        }
        start = end + 1;
    }
    let argv = argv.finish();
    let mut empty = crate::rt::CStrSlots::<1>::new();
    let envp = empty.writer().finish();
    sys::vfork_run(&mut || {
        sys::execve(helper, argv, envp);
        sys::exit(127)
    })
}

/// Waits for a helper; its own message is on stderr already.
fn wait_helper(pid: i32) -> Result<(), Errno> {
    let pid = rustix::process::Pid::from_raw(pid).ok_or(Errno::SRCH)?;
    let status = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty())?;
    match status.and_then(|(_, s)| s.exit_status()) {
        Some(0) => Ok(()),
        _ => Err(Errno::PERM),
    }
}

fn helper_failed(step: &'static str) -> impl Fn(Errno) -> Failure<'static> {
    move |e| {
        Failure::new(step, b"", e)
            .with_hint("the map of /etc/subuid and /etc/subgid was refused (its message is above)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(map: &IdMap) -> String {
        String::from_utf8(map.text(&mut [0; 80]).to_vec()).unwrap()
    }

    #[test]
    fn maps_for_each_caller() {
        let user = plan(Request::Default, (1001, 1002), false, None).unwrap().unwrap();
        assert_eq!((text(&user.uids), text(&user.gids)), ("0 1001 1\n".into(), "0 1002 1\n".into()));
        assert!(user.deny_setgroups && !user.helpers && user.ids == (0, 0));
        let sub = Some(((100000, 65536), (200000, 1000)));
        let user = plan(Request::Default, (1001, 1002), true, sub).unwrap().unwrap();
        assert_eq!(text(&user.uids), "0 1001 1\n1 100000 65536\n");
        assert_eq!(text(&user.gids), "0 1002 1\n1 200000 1000\n");
        assert!(user.helpers && !user.deny_setgroups);
        assert!(user.uids.contains(0) && user.uids.contains(65536) && !user.uids.contains(65537));
        let keep = plan(Request::KeepId, (1001, 1002), false, sub).unwrap().unwrap();
        assert_eq!((text(&keep.uids), keep.ids), ("1001 1001 1\n".into(), (1001, 1002)));
        assert!(plan(Request::Host, (1001, 1002), false, None).is_err());
        // Root: none unless asked, or the host's tree.
        assert_eq!(plan(Request::Default, (0, 0), false, None), Ok(None));
        assert_eq!(plan(Request::Host, (0, 0), false, None), Ok(None));
        assert!(plan(Request::Host, (0, 0), true, None).is_err());
        assert!(plan(Request::KeepId, (0, 0), false, None).is_err());
        let private = plan(Request::Default, (0, 0), true, None).unwrap().unwrap();
        assert!(private.private && !private.idmap && !private.deny_setgroups);
        assert!(plan(Request::Private, (0, 0), false, None).unwrap().unwrap().idmap);
        assert_eq!(text(&super::private(0x4001_0000, true).uids), "0 1073807360 65536\n");
    }

    #[test]
    fn subordinate_ranges_by_name_or_uid() {
        let text = b"alice:100000:65536\n1002:165536:65536\nbob:x:1\n";
        assert_eq!(subordinate(text, b"alice", 1001), Some((100000, 65536)));
        assert_eq!(subordinate(text, b"carol", 1002), Some((165536, 65536)));
        assert_eq!(subordinate(text, b"bob", 1003), None);
        assert_eq!(subordinate(b"dave:4294967295:2\n", b"dave", 1), None);
        assert!(overlaps(text, 160000, 10000));
        assert!(!overlaps(b"a:1:2\n", 165536 + 65536, 10) && overlaps(text, 165536 + 65535, 10));
        // As newuidmap reads them: hexadecimal and octal too; a line that does not parse
        // (`bob:x:1`) stands in the way of every range.
        assert_eq!(subordinate(b"e:0x40000000:0200\n", b"e", 9), Some((0x4000_0000, 128)));
        assert!(overlaps(b"e:0x40000000:65536\n", 0x4000_0000, PRIVATE_COUNT));
        assert!(overlaps(text, 0x5000_0000, PRIVATE_COUNT));
        assert!(!overlaps(b"alice:100000:65536\n", 0x4000_0000, PRIVATE_COUNT));
    }
}
