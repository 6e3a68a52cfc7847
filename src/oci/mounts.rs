//! The parts of an OCI container's root that husk's own walk (rootfs.rs) does not make: any
//! filesystem by type with mount(8)-style options (`mounts[i]`: tmpfs, devpts, mqueue…),
//! then, once the root is entered, `linux.devices`, `linux.sysctl`, `maskedPaths`,
//! `readonlyPaths` and `rootfsPropagation`. Everything after the root is entered is looked up
//! from the container's own `/`: no path there can lead out of it.

use core::ffi::CStr;

use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::mount::{
    FsMountFlags, FsOpenFlags, MountAttrFlags, fsconfig_create, fsconfig_set_flag, fsconfig_set_string,
    fsmount, fsopen,
};

use super::bundle::Extra;
use crate::cpath::CPath;
use crate::error::{Failure, Result, fail};
use crate::json::Value;
use crate::rt::sys;

/// One option: a mount attribute (set, or cleared), something husk does anyway or that means
/// nothing for a new mount (None), or the filesystem's own (Err: pass it on).
fn attribute(option: &[u8]) -> core::result::Result<Option<(u64, bool)>, ()> {
    use linux_raw_sys::general::{
        MOUNT_ATTR_NOATIME, MOUNT_ATTR_NODEV, MOUNT_ATTR_NODIRATIME, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID,
        MOUNT_ATTR_RDONLY, MOUNT_ATTR_STRICTATIME,
    };
    Ok(Some(match option {
        b"ro" => (MOUNT_ATTR_RDONLY as u64, true),
        b"rw" => (MOUNT_ATTR_RDONLY as u64, false),
        b"nosuid" => (MOUNT_ATTR_NOSUID as u64, true),
        b"suid" => (MOUNT_ATTR_NOSUID as u64, false),
        b"nodev" => (MOUNT_ATTR_NODEV as u64, true),
        b"dev" => (MOUNT_ATTR_NODEV as u64, false),
        b"noexec" => (MOUNT_ATTR_NOEXEC as u64, true),
        b"exec" => (MOUNT_ATTR_NOEXEC as u64, false),
        b"noatime" => (MOUNT_ATTR_NOATIME as u64, true),
        b"strictatime" => (MOUNT_ATTR_STRICTATIME as u64, true),
        b"nodiratime" => (MOUNT_ATTR_NODIRATIME as u64, true),
        // relatime is the kernel's default for a new mount; the rest are the old mount(2)'s
        // requests, or propagation (see `propagate`).
        b"relatime" | b"norelatime" | b"atime" | b"diratime" | b"defaults" | b"async" | b"nomand"
        | b"loud" | b"silent" | b"bind" | b"rbind" => return Ok(None),
        _ if propagation(option).is_some() => return Ok(None),
        _ => return Err(()),
    }))
}

/// The mount attributes of a list of options (later ones win, as mount(8) reads them).
pub fn attributes<'o>(options: impl Iterator<Item = &'o [u8]>) -> u64 {
    let mut attrs = 0;
    for option in options {
        if let Ok(Some((bit, set))) = attribute(option) {
            attrs = if set { attrs | bit } else { attrs & !bit };
        }
    }
    attrs
}

/// `mounts[index]` of the document: a new filesystem of its type with its options, at its
/// destination in the root. Options with a value go to fsconfig(2) as strings, others as
/// flags; one the filesystem refuses fails the mount, naming it.
pub(crate) fn attach_fs<'a>(
    root: crate::rootfs::Tree,
    dest: &'a [u8],
    source: &'a [u8],
    extra: &Extra,
    index: u16,
) -> Result<'a, ()> {
    let m = extra.doc.and_then(|d| d.get(b"mounts")).and_then(|l| l.items().nth(index as usize));
    let m = m.ok_or(Failure::new("mount", dest, Errno::INVAL))?;
    let options = || m.get(b"options").into_iter().flat_map(Value::items).filter_map(|v| v.as_str());
    let mut text = [0u8; 256];
    let mut value = [0u8; 256];
    let fstype = m.get(b"type").and_then(|v| v.as_str()).ok_or(Failure::new("mount", dest, Errno::INVAL))?;
    let n = fstype.unescape_into(&mut text[..255]).ok_or(Failure::new("mount", dest, Errno::NAMETOOLONG))?;
    text[n] = 0;
    let fs = fsopen(c_str(&text[..=n])?, FsOpenFlags::FSOPEN_CLOEXEC).map_err(fail("mount", dest))?;
    if !source.is_empty() {
        let mut c = CPath::new();
        fsconfig_set_string(fs.as_fd(), c"source", c.of(&[source]).map_err(fail("mount", dest))?)
            .map_err(fail("mount source", dest))?;
    }
    for option in options() {
        let n =
            option.unescape_into(&mut text[..255]).ok_or(Failure::new("mount", dest, Errno::NAMETOOLONG))?;
        let option = &text[..n];
        // tmpcopyup (crun's, which podman asks for with --read-only): see below.
        if attribute(option).is_ok() || option == b"tmpcopyup" {
            continue;
        }
        let (key, val) = crate::text::split_once(option, b'=');
        value[..key.len()].copy_from_slice(key);
        value[key.len()] = 0;
        let key_c = c_str(&value[..=key.len()])?;
        let done = match val {
            Some(val) => {
                let mut v = CPath::new();
                fsconfig_set_string(fs.as_fd(), key_c, v.of(&[val]).map_err(fail("mount", dest))?)
            }
            None => fsconfig_set_flag(fs.as_fd(), key_c),
        };
        done.map_err(|e| {
            Failure::new("mount option", dest, e).with_hint("an option the filesystem refuses")
        })?;
    }
    fsconfig_create(fs.as_fd()).map_err(fail("mount", dest))?;
    let attrs = attributes(options().map(|s| s.raw()));
    let tree =
        fsmount(fs.as_fd(), FsMountFlags::FSMOUNT_CLOEXEC, MountAttrFlags::from_bits_retain(attrs as u32))
            .map_err(fail("mount", dest))?;
    let target = crate::rootfs::resolve(root, dest, true)?;
    // tmpcopyup: the new tmpfs starts with a copy of what the image has there.
    if options().any(|o| o.is("tmpcopyup".as_bytes())) {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let under =
            rustix::fs::openat(&target, c".", flags, Mode::empty()).map_err(fail("tmpcopyup", dest))?;
        copy_tree(under.as_fd(), tree.as_fd(), 0).map_err(fail("tmpcopyup", dest))?;
    }
    crate::rootfs::attach(tree.as_fd(), target.as_fd(), dest)?;
    propagate(extra, index as usize, tree.as_fd(), dest)
}

/// Copies the directory `from` into `to`: directories, regular files and symbolic links,
/// with their modes and owners (a tmpfs over an image's /run: a few entries). Nothing is
/// followed; other kinds are left out; 16 levels at most.
fn copy_tree(
    from: rustix::fd::BorrowedFd,
    to: rustix::fd::BorrowedFd,
    depth: u32,
) -> core::result::Result<(), Errno> {
    use rustix::fs::{AtFlags, FileType, RawDir, fchown, openat, statat};
    if depth > 16 {
        return Err(Errno::LOOP);
    }
    let mut space = [core::mem::MaybeUninit::<u8>::uninit(); 1024];
    let mut entries = RawDir::new(from, &mut space);
    while let Some(entry) = entries.next() {
        let entry = entry?;
        let name = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        let st = statat(from, name, AtFlags::SYMLINK_NOFOLLOW)?;
        let mode = Mode::from_raw_mode(st.st_mode & 0o7777);
        let owner = (
            Some(rustix::process::Uid::from_raw(st.st_uid)),
            Some(rustix::process::Gid::from_raw(st.st_gid)),
        );
        let nofollow = OFlags::NOFOLLOW | OFlags::CLOEXEC;
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => {
                rustix::fs::mkdirat(to, name, mode)?;
                let src = openat(from, name, OFlags::RDONLY | OFlags::DIRECTORY | nofollow, Mode::empty())?;
                let dst = openat(to, name, OFlags::RDONLY | OFlags::DIRECTORY | nofollow, Mode::empty())?;
                copy_tree(src.as_fd(), dst.as_fd(), depth + 1)?;
                fchown(&dst, owner.0, owner.1)?;
                rustix::fs::fchmod(&dst, mode)?;
            }
            FileType::RegularFile => {
                // Never blocking (a FIFO put in its place meanwhile by a container sharing this
                // tree) and only what is still a regular file once open.
                let src = openat(from, name, OFlags::RDONLY | OFlags::NONBLOCK | nofollow, Mode::empty())?;
                if rustix::fs::fstat(&src).map(|st| FileType::from_raw_mode(st.st_mode))
                    != Ok(FileType::RegularFile)
                {
                    continue;
                }
                let dst = openat(to, name, OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | nofollow, mode)?;
                let mut buf = [0u8; 4096];
                loop {
                    let n = rustix::io::read(&src, &mut buf)?;
                    if n == 0 {
                        break;
                    }
                    let mut rest = &buf[..n];
                    while !rest.is_empty() {
                        rest = &rest[rustix::io::write(&dst, rest)?..];
                    }
                }
                fchown(&dst, owner.0, owner.1)?;
                rustix::fs::fchmod(&dst, mode)?;
            }
            FileType::Symlink => {
                let mut target = [core::mem::MaybeUninit::<u8>::uninit(); 4096];
                let (link, _) = rustix::fs::readlinkat_raw(from, name, &mut target)?;
                let mut c = CPath::new();
                rustix::fs::symlinkat(c.of(&[&*link])?, to, name)?;
                rustix::fs::chownat(to, name, owner.0, owner.1, AtFlags::SYMLINK_NOFOLLOW)?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// A propagation option: its type (MS_SHARED…) and whether recursive (`rshared`).
fn propagation(option: &[u8]) -> Option<(u64, bool)> {
    use linux_raw_sys::general::{MS_PRIVATE, MS_SHARED, MS_SLAVE, MS_UNBINDABLE};
    let (base, recursive) = match option.strip_prefix(b"r") {
        Some(rest) if !rest.is_empty() => (rest, true),
        _ => (option, false),
    };
    let flag = match base {
        b"shared" => MS_SHARED,
        b"slave" => MS_SLAVE,
        b"private" => MS_PRIVATE,
        b"unbindable" => MS_UNBINDABLE,
        _ => return None,
    };
    Some((flag as u64, recursive))
}

/// `mounts[index]`'s propagation options applied to its mount `fd`, now attached. Every
/// mount of the container starts private (rootfs.rs: nothing propagates back to the host),
/// so `shared` makes a peer group of the container's own, and `slave` of a private mount
/// stays private, as the kernel has it.
pub(crate) fn propagate<'a>(
    extra: &Extra,
    index: usize,
    fd: rustix::fd::BorrowedFd,
    dest: &'a [u8],
) -> Result<'a, ()> {
    let Some(m) = extra.doc.and_then(|d| d.get(b"mounts")).and_then(|l| l.items().nth(index)) else {
        return Ok(());
    };
    let options = m.get(b"options").into_iter().flat_map(Value::items).filter_map(|v| v.as_str());
    for (flag, recursive) in options.filter_map(|o| propagation(o.raw())) {
        sys::mount_propagation(fd, flag, recursive).map_err(fail("mount propagation", dest))?;
    }
    Ok(())
}

fn c_str<'a>(bytes: &[u8]) -> Result<'a, &CStr> {
    crate::rt::c_str(bytes).ok_or(Failure::new("mount", b"", Errno::INVAL))
}

/// Once the root is entered, before COMMAND: devices, sysctls, masked and read-only paths,
/// the root's propagation, the domain name.
pub fn finish(extra: &Extra) -> Result<'static, ()> {
    let Some(doc) = extra.doc else { return Ok(()) };
    let linux = doc.get(b"linux");
    let list = |key: &[u8]| linux.and_then(|l| l.get(key)).into_iter().flat_map(Value::items);
    let mut path = CPath::new();
    let mut text = [0u8; 4096];
    for device in list(b"devices") {
        make_device(device, &mut text)?;
    }
    if let Some(sysctl) = linux.and_then(|l| l.get(b"sysctl")) {
        for (key, value) in sysctl.entries() {
            let n = key.unescape_into(&mut text).ok_or(Failure::new("sysctl", b"", Errno::NAMETOOLONG))?;
            // net.ipv4.ip_forward → /proc/sys/net/ipv4/ip_forward
            for b in &mut text[..n] {
                if *b == b'.' {
                    *b = b'/';
                }
            }
            let name = &text[..n];
            let c = path.of(&[b"/proc/sys/", name]).map_err(fail("sysctl", b""))?;
            let fd = rustix::fs::open(c, OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW, Mode::empty())
                .map_err(|e| Failure::new("sysctl", b"", e).with_hint("linux.sysctl"))?;
            let mut v = [0u8; 512];
            let k = value.as_str().and_then(|s| s.unescape_into(&mut v)).ok_or(Failure::new(
                "sysctl",
                b"",
                Errno::INVAL,
            ))?;
            rustix::io::write(&fd, &v[..k])
                .map_err(|e| Failure::new("sysctl", b"", e).with_hint("linux.sysctl"))?;
        }
    }
    for masked in list(b"maskedPaths") {
        let n = masked.as_str().and_then(|s| s.unescape_into(&mut text)).unwrap_or(0);
        mask(&mut path, &text[..n])?;
    }
    for read_only in list(b"readonlyPaths") {
        let n = read_only.as_str().and_then(|s| s.unescape_into(&mut text)).unwrap_or(0);
        make_read_only(&mut path, &text[..n])?;
    }
    if extra.root_read_only {
        let root = rustix::fs::open(c"/", OFlags::PATH | OFlags::CLOEXEC, Mode::empty())
            .map_err(fail("root.readonly", b"/"))?;
        sys::mount_setattr(root.as_fd(), linux_raw_sys::general::MOUNT_ATTR_RDONLY as u64, false)
            .map_err(fail("root.readonly", b"/"))?;
    }
    if extra.propagation != 0 {
        let flags = rustix::mount::MountPropagationFlags::from_bits_retain(extra.propagation as u32);
        rustix::mount::mount_change(c"/", flags).map_err(fail("rootfsPropagation", b"/"))?;
    }
    if !extra.domainname.is_empty() {
        rustix::system::setdomainname(extra.domainname).map_err(fail("setdomainname", b""))?;
    }
    Ok(())
}

/// A masked path: an empty read-only tmpfs over a directory, /dev/null over anything else;
/// nothing where the path is not there.
fn mask(path: &mut CPath, at: &[u8]) -> Result<'static, ()> {
    let c = path.of(&[at]).map_err(fail("maskedPaths", b""))?;
    let target = match rustix::fs::open(c, OFlags::PATH | OFlags::CLOEXEC | OFlags::NOFOLLOW, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(Failure::new("maskedPaths", b"", e)),
    };
    let is_dir = rustix::fs::fstat(&target)
        .is_ok_and(|st| rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Directory);
    let tree: OwnedFd = if is_dir {
        crate::rootfs::fresh(c"tmpfs", &[(c"size", c"0")], MountAttrFlags::MOUNT_ATTR_RDONLY)
            .map_err(fail("maskedPaths", b""))?
    } else {
        rustix::mount::open_tree(
            rustix::fs::CWD,
            c"/dev/null",
            rustix::mount::OpenTreeFlags::OPEN_TREE_CLONE | rustix::mount::OpenTreeFlags::OPEN_TREE_CLOEXEC,
        )
        .map_err(fail("maskedPaths", b"/dev/null"))?
    };
    crate::rootfs::attach(tree.as_fd(), target.as_fd(), b"")
}

/// A read-only path: itself bound over itself, recursively, read-only.
fn make_read_only(path: &mut CPath, at: &[u8]) -> Result<'static, ()> {
    use rustix::mount::{OpenTreeFlags, open_tree};
    let c = path.of(&[at]).map_err(fail("readonlyPaths", b""))?;
    let flags =
        OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC | OpenTreeFlags::AT_RECURSIVE;
    let tree = match open_tree(rustix::fs::CWD, c, flags) {
        Ok(tree) => tree,
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(Failure::new("readonlyPaths", b"", e)),
    };
    sys::mount_setattr(tree.as_fd(), linux_raw_sys::general::MOUNT_ATTR_RDONLY as u64, true)
        .map_err(fail("readonlyPaths", b""))?;
    let target = rustix::fs::open(c, OFlags::PATH | OFlags::CLOEXEC, Mode::empty())
        .map_err(fail("readonlyPaths", b""))?;
    crate::rootfs::attach(tree.as_fd(), target.as_fd(), b"")
}

/// One of `linux.devices`: a node made at its path (its type, numbers, mode and owner).
fn make_device(device: Value, text: &mut [u8; 4096]) -> Result<'static, ()> {
    use rustix::fs::FileType;
    let get = |key: &[u8]| device.get(key).and_then(|v| v.as_u64());
    let kind = match device.get(b"type").and_then(|v| v.as_str()).map(|s| s.raw()) {
        Some(b"c" | b"u") => FileType::CharacterDevice,
        Some(b"b") => FileType::BlockDevice,
        _ => FileType::Fifo,
    };
    let n = device
        .get(b"path")
        .and_then(|v| v.as_str())
        .and_then(|s| s.unescape_into(&mut text[..4095]))
        .unwrap_or(0);
    text[n] = 0;
    let c = c_str(&text[..=n])?;
    let dev = rustix::fs::makedev(get(b"major").unwrap_or(0) as u32, get(b"minor").unwrap_or(0) as u32);
    let mode = Mode::from_raw_mode(get(b"fileMode").map_or(0o666, |m| m as u32) & 0o7777);
    let _ = rustix::fs::unlink(c);
    rustix::fs::mknodat(rustix::fs::CWD, c, kind, mode, dev)
        .map_err(|e| Failure::new("linux.devices", b"", e))?;
    let uid = get(b"uid").map(|u| rustix::process::Uid::from_raw(u as u32));
    let gid = get(b"gid").map(|g| rustix::process::Gid::from_raw(g as u32));
    if uid.is_some() || gid.is_some() {
        rustix::fs::chown(c, uid, gid).map_err(|e| Failure::new("linux.devices", b"", e))?;
    }
    rustix::fs::chmod(c, mode).map_err(|e| Failure::new("linux.devices", b"", e))?;
    // husk's /dev is nodev (rootfs.rs): the node is bound over itself, a mount of its own
    // where devices work, as husk's own nodes are.
    use rustix::mount::{OpenTreeFlags, open_tree};
    let tree =
        open_tree(rustix::fs::CWD, c, OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC)
            .map_err(|e| Failure::new("linux.devices", b"", e))?;
    sys::mount_clearattr(tree.as_fd(), linux_raw_sys::general::MOUNT_ATTR_NODEV as u64)
        .map_err(|e| Failure::new("linux.devices", b"", e))?;
    let target = rustix::fs::open(c, OFlags::PATH | OFlags::CLOEXEC | OFlags::NOFOLLOW, Mode::empty())
        .map_err(|e| Failure::new("linux.devices", b"", e))?;
    crate::rootfs::attach(tree.as_fd(), target.as_fd(), b"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use linux_raw_sys::general::{MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY};

    #[test]
    fn options_to_attributes() {
        let list: [&[u8]; 5] = [b"nosuid", b"noexec", b"mode=755", b"ro", b"rw"];
        assert_eq!(attributes(list.into_iter()), (MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC) as u64);
        let list: [&[u8]; 2] = [b"rw", b"ro"];
        assert_eq!(attributes(list.into_iter()), MOUNT_ATTR_RDONLY as u64);
        assert_eq!(attribute(b"newinstance"), Err(()));
        assert_eq!(attribute(b"relatime"), Ok(None));
        assert_eq!(attribute(b"rshared"), Ok(None));
        assert_eq!(propagation(b"rslave"), Some((linux_raw_sys::general::MS_SLAVE as u64, true)));
        assert_eq!(propagation(b"unbindable"), Some((linux_raw_sys::general::MS_UNBINDABLE as u64, false)));
        assert_eq!(propagation(b"r"), None);
    }
}
