//! Who COMMAND runs as: `--user NAME|UID[:GROUP|GID]`, resolved as Docker does, in the
//! container's own /etc/passwd and /etc/group — the user's GID and HOME from passwd, its
//! supplementary groups from every group that lists it by name.
//!
//! Resolved by `husk run` on the host before anything is built (a name that is not there is
//! bad input: exit 125, nothing changed), reading the root's files through openat2 with
//! RESOLVE_IN_ROOT, so a symlink in the rootfs cannot point the lookup at the host's files.
//! The parsing below is pure and unit-tested.

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{FileType, Mode, OFlags, ResolveFlags, fstat, openat2};
use rustix::io::Errno;

use crate::config::Identity;
use crate::error::{Failure, fail};
use crate::text::{fields, parse_decimal, split_once};

/// A user or a group as asked for: a number, or a name to look up.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Id<'a> {
    Number(u32),
    Name(&'a [u8]),
}

/// `--user`'s value.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct UserSpec<'a> {
    pub user: Id<'a>,
    pub group: Option<Id<'a>>,
}

/// `USER[:GROUP]`, each a number or a name (neither empty).
pub fn parse(value: &[u8]) -> Option<UserSpec<'_>> {
    let (user, group) = split_once(value, b':');
    Some(UserSpec { user: id(user)?, group: group.map(id).map_or(Some(None), |g| g.map(Some))? })
}

/// A number below 2^32 - 1 (which is "no id"), or a name without `:` (the files' separator).
fn id(s: &[u8]) -> Option<Id<'_>> {
    if s.is_empty() || crate::text::has_byte(s, b':') {
        return None;
    }
    if s.iter().all(u8::is_ascii_digit) {
        let n = parse_decimal(s, 10).filter(|&n| n < u32::MAX as u64)?;
        return Some(Id::Number(n as u32));
    }
    Some(Id::Name(s))
}

/// Why a user could not be resolved: what was not found, and in which file.
#[derive(Debug, PartialEq, Eq)]
pub struct NotFound<'a> {
    pub file: &'static str,
    pub name: &'a [u8],
}

/// The identity `spec` stands for, given the texts of /etc/passwd and /etc/group (empty
/// when the file is missing). A numeric user not in passwd keeps its number, with its GID
/// the same number (not Docker's 0: the root group owns too much) and HOME `/`.
pub fn resolve<'a>(spec: &UserSpec<'a>, passwd: &[u8], group: &[u8]) -> Result<Identity, NotFound<'a>> {
    // An entry whose ids are not numbers is no entry at all.
    let entry = lines(passwd).find_map(|fields| {
        let ids = (field_number(fields, 2)?, field_number(fields, 3)?);
        let this = match spec.user {
            Id::Number(uid) => ids.0 == uid,
            Id::Name(name) => field(fields, 0) == name,
        };
        this.then_some((fields, ids))
    });
    let mut identity = match (entry, spec.user) {
        (Some((fields, (uid, gid))), _) => {
            let mut identity = Identity::ids(uid, gid);
            let _ = identity.home.extend_from_slice(field(fields, 5));
            // Supplementary groups: each group that lists the user's name among its members.
            let user_name = field(fields, 0);
            for g in lines(group) {
                let listed = crate::text::fields(field(g, 3), b',').any(|m| m == user_name);
                if let (true, Some(gid)) = (listed, field_number(g, 2))
                    && !identity.groups.contains(&gid)
                {
                    let _ = identity.groups.push(gid);
                }
            }
            identity
        }
        (None, Id::Number(uid)) => Identity::ids(uid, uid),
        (None, Id::Name(name)) => return Err(NotFound { file: "/etc/passwd", name }),
    };
    match spec.group {
        None => {}
        Some(Id::Number(gid)) => identity.gid = gid,
        Some(Id::Name(name)) => {
            let gid = lines(group).find(|g| field(g, 0) == name).and_then(|g| field_number(g, 2));
            identity.gid = gid.ok_or(NotFound { file: "/etc/group", name })?;
        }
    }
    Ok(identity)
}

/// The name of the user `uid` in a passwd text.
pub fn name_of(passwd: &[u8], uid: u32) -> Option<&[u8]> {
    lines(passwd).find(|line| field_number(line, 2) == Some(uid)).map(|line| field(line, 0))
}

/// The non-empty, non-comment lines of a passwd or group file.
fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    fields(text, b'\n').filter(|l| !l.is_empty() && l[0] != b'#')
}

/// Field `n` (from 0) of a `:`-separated line; empty when there is none.
fn field(line: &[u8], n: usize) -> &[u8] {
    fields(line, b':').nth(n).unwrap_or(b"")
}

fn field_number(line: &[u8], n: usize) -> Option<u32> {
    parse_decimal(field(line, n), 10).filter(|&n| n < u32::MAX as u64).map(|n| n as u32)
}

/// The most of /etc/passwd or /etc/group that is read (a bigger one is refused, EFBIG).
const MAX_FILE: usize = 1 << 20;

/// Resolves `spec` in the root whose directory is `root`: on the host before the container
/// is built (`husk run`), or in the container once joined (`husk exec`).
pub fn resolve_in<'a>(root: BorrowedFd, spec: &UserSpec<'a>) -> crate::error::Result<'a, Identity> {
    // Numbers need no file: one that cannot be read (a directory or a FIFO put there by root
    // in a running container, to stop `husk exec`) is as good as none for them.
    let numbers = matches!(spec.user, Id::Number(_)) && !matches!(spec.group, Some(Id::Name(_)));
    let read = |path, shown: &'static [u8]| match read_in_root(root, path) {
        Err(_) if numbers => Ok(&b""[..]),
        other => other.map_err(fail("user", shown)),
    };
    let passwd = read(c"etc/passwd", b"/etc/passwd")?;
    let group = read(c"etc/group", b"/etc/group")?;
    resolve(spec, passwd, group).map_err(|missing| {
        let hint = if missing.file == "/etc/group" {
            "no such group in the container's /etc/group"
        } else {
            "no such user in the container's /etc/passwd"
        };
        Failure::new("user", missing.name, Errno::NOENT).with_hint(hint)
    })
}

/// The text of `path` inside `root`; empty when it does not exist. Read whole into memory
/// of its own, not mapped: root in a running container (for `husk exec`) may truncate the
/// file meanwhile, which would fault a mapping's reader. Only a regular file is read.
fn read_in_root(root: BorrowedFd, path: &core::ffi::CStr) -> Result<&'static [u8], Errno> {
    let file = match open_regular(root, path) {
        Ok(file) => file,
        Err(Errno::NOENT) => return Ok(b""),
        Err(e) => return Err(e),
    };
    let text = crate::rt::sys::read_whole(file.as_fd(), MAX_FILE)?;
    Ok(&text[..text.len() - 1])
}

/// `path` inside `root`, opened for reading only once known to be a regular file. A rootfs
/// on the host is not nodev: opening a device node planted as /etc/passwd would be an open
/// of that device by root on the host, with its side effects (a watchdog armed, a module
/// loaded). So it is looked up as a bare O_PATH first, and the file it found is then opened
/// through /proc/self/fd, which reopens exactly that file. Where /proc/self does not name
/// husk (`husk exec`, inside the container's mount namespace but not its PID namespace),
/// it is opened directly: every mount of a container is nodev there, and non-blocking so a
/// FIFO does not hang husk.
fn open_regular(root: BorrowedFd, path: &core::ffi::CStr) -> Result<OwnedFd, Errno> {
    let read = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY;
    let found = openat2(root, path, OFlags::PATH | OFlags::CLOEXEC, Mode::empty(), ResolveFlags::IN_ROOT)?;
    if FileType::from_raw_mode(fstat(&found)?.st_mode) != FileType::RegularFile {
        return Err(Errno::INVAL);
    }
    match rustix::fs::open(crate::procfs::fd_path(found.as_fd(), &mut [0; 40]), read, Mode::empty()) {
        Err(Errno::NOENT) => openat2(root, path, read, Mode::empty(), ResolveFlags::IN_ROOT),
        reopened => reopened,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/sh\n\
        # a comment\n\
        app:x:1000:1000:App:/home/app:/bin/sh\n\
        nobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n\
        broken:x:abc:1::/:\n";
    const GROUP: &[u8] = b"root:x:0:\nwheel:x:10:app,other\napp:x:1000:\nstaff:x:50:other,app\n\
        audio:x:29:app\naudio2:x:29:app\n";

    fn get(spec: &str) -> Result<Identity, NotFound<'static>> {
        let spec: &'static str = spec.to_string().leak();
        resolve(&parse(spec.as_bytes()).expect("valid"), PASSWD, GROUP)
    }

    #[test]
    fn parsing() {
        assert_eq!(parse(b"1000"), Some(UserSpec { user: Id::Number(1000), group: None }));
        assert_eq!(
            parse(b"app:staff"),
            Some(UserSpec { user: Id::Name(b"app"), group: Some(Id::Name(b"staff")) })
        );
        assert_eq!(parse(b"5:6"), Some(UserSpec { user: Id::Number(5), group: Some(Id::Number(6)) }));
        assert_eq!(parse(b"1a"), Some(UserSpec { user: Id::Name(b"1a"), group: None }));
        for bad in ["", ":", "a:", ":b", "a:b:c", "4294967295", "99999999999"] {
            assert_eq!(parse(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn names_and_numbers_as_docker_resolves_them() {
        let app = get("app").unwrap();
        assert_eq!((app.uid, app.gid, app.home.as_slice()), (1000, 1000, &b"/home/app"[..]));
        // Listed by name in wheel, staff and audio (29 once).
        assert_eq!(app.groups.as_slice(), &[10, 50, 29]);
        // A number in passwd is that user, with its groups.
        assert_eq!(get("1000").unwrap(), app);
        let g = get("app:staff").unwrap();
        assert_eq!((g.uid, g.gid, g.groups.len()), (1000, 50, 3));
        assert_eq!(get("app:7").unwrap().gid, 7);
        let root = get("0").unwrap();
        assert_eq!((root.uid, root.gid, root.home.as_slice(), root.groups.len()), (0, 0, &b"/root"[..], 0));
        // A number not in passwd: as it is, GID the same, no home, no groups.
        assert_eq!(get("4242").unwrap(), Identity::ids(4242, 4242));
        assert_eq!(get("4242:staff").unwrap().gid, 50);
        assert_eq!(get("nobody").unwrap().uid, 65534);
    }

    #[test]
    fn what_is_not_there() {
        assert_eq!(get("ghost"), Err(NotFound { file: "/etc/passwd", name: b"ghost" }));
        assert_eq!(get("app:ghosts"), Err(NotFound { file: "/etc/group", name: b"ghosts" }));
        assert_eq!(get("broken"), Err(NotFound { file: "/etc/passwd", name: b"broken" }));
        // No files at all: numbers still work, names do not.
        let spec = parse(b"7").unwrap();
        assert_eq!(resolve(&spec, b"", b""), Ok(Identity::ids(7, 7)));
        assert!(resolve(&parse(b"app").unwrap(), b"", b"").is_err());
    }
}
