//! The container's file system, built inside its new mount namespace: clone the root and
//! the volumes from the host, attach the root, mount /proc, /dev and /tmp, pivot_root; then
//! (in the container's network namespace) /sys, and the volumes.
//!
//! Every destination inside the root is resolved with openat2(RESOLVE_IN_ROOT) from a
//! descriptor of the root, so a symlink in the root filesystem (`dev -> /tmp`,
//! `proc -> /`, `x -> ../../..`) is followed as if the root were `/` and can never lead a
//! mount or a mkdir to the host. Mounts are made with the new mount API (fsopen, fsmount,
//! open_tree, move_mount) onto those descriptors, so no path is looked up twice.

use core::ffi::CStr;

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{
    CWD, FileType, Mode, OFlags, ResolveFlags, fstat, makedev, mkdirat, mknodat, openat, openat2, symlinkat,
};
use rustix::io::Errno;
use rustix::mount::{
    FsMountFlags, FsOpenFlags, MountAttrFlags, MountPropagationFlags, MoveMountFlags, OpenTreeFlags,
    UnmountFlags, fsconfig_create, fsconfig_set_string, fsmount, fsopen, mount_change, move_mount, open_tree,
    unmount,
};

use crate::cgroup::Layout;
use crate::config::{Config, MAX_MOUNTS, Mount, MountKind, Namespace, Root};
use crate::container::report::Note;
use crate::container::sync::Handshake;
use crate::cpath::CPath;
pub(crate) use crate::error::{Failure, fail};
use crate::rt::sys;

type Result<'a, T> = crate::error::Result<'a, T>;

/// The devices of the container's /dev: (name, major, minor) (devices(7)).
const DEVICES: [(&CStr, u32, u32); 6] = [
    (c"null", 1, 3),
    (c"zero", 1, 5),
    (c"full", 1, 7),
    (c"random", 1, 8),
    (c"urandom", 1, 9),
    (c"tty", 5, 0),
];

/// Where the root is attached before pivot_root when it is the host's own: the host's /tmp,
/// shadowed only inside our own mount namespace.
const DEFAULT_STAGE: &[u8] = b"/tmp";

/// How the root was entered.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Entered {
    /// pivot_root, the old root detached: nothing of the host is left to climb back to.
    Pivoted,
    /// move-mount + chroot (an initramfs host): the initramfs is still above the root, so
    /// CAP_SYS_CHROOT would let COMMAND climb out (chroot into a subdirectory, then `..`).
    Chrooted,
}

/// Builds the container's file system and makes it the root: `config`'s root, then its
/// mounts in order, one function per kind (`apply`). Runs in the container's init, in its
/// new mount namespace, before any other process exists there.
///
/// With `network` (the init's side of the handshake and the host side's pidfd), the init
/// joins the network namespace the host side makes meanwhile, just before the first mount
/// that needs it (/sys); the root is pivoted into then too, so that the old root's
/// unmount overlaps with the host side's work.
///
/// With `console` (see [`clone_console`]), the terminal becomes /dev/console.
///
/// With `report`, every entry created in the root (a missing mount point) is reported there
/// for the host side to remove after the run ([`remove_made`]).
#[inline(never)] // its path buffer on its own frame, not on the init's whole life
pub fn enter<'a>(
    config: &Config<'a>,
    trees: Option<&Trees>,
    network: Option<(&Handshake, BorrowedFd)>,
    console: Option<&OwnedFd>,
    report: Option<BorrowedFd>,
    joined: u8,
    hosts: Option<&[u8]>,
) -> Result<'a, Entered> {
    // Nothing mounted from here on may propagate back to the host (or in from it): make
    // every mount in our copy of the tree private first (mount_namespaces(7), "Shared
    // subtrees"; a new namespace starts with the host's propagation types).
    mount_change(c"/", MountPropagationFlags::PRIVATE | MountPropagationFlags::REC)
        .map_err(fail("make-private", b"/"))?;
    // Every host tree we need, cloned *before* the root is attached: attaching shadows a
    // host path (the default stage, /tmp), and a source beneath it would then be out of
    // reach. Root's user namespace has them from the host side (see Trees).
    let cloned;
    let trees = match trees {
        Some(trees) => trees,
        None => {
            cloned = Trees::clone(config, hosts)?;
            &cloned
        }
    };
    attach_root(config.root, trees.root.as_fd())?;
    let root = Tree { fd: trees.root.as_fd(), report, mount: 0 };
    let userns = config.namespaces.user.is_some();
    let masks = crate::mask::Masks::default();
    let cgroups = (config.cgroup.as_ref().map_or(Default::default(), |c| c.host), joined);
    let mut walk = Walk {
        root,
        masks,
        console,
        network,
        entered: None,
        userns,
        cgroups,
        #[cfg(feature = "oci")]
        oci: config.process.oci,
    };
    let in_order = cfg!(feature = "oci") && config.process_is_oci();
    let none = None;
    for (i, mount) in config.mounts.iter().enumerate() {
        let source = trees.sources.get(i).unwrap_or(&none);
        // In a user namespace the root is entered last: once the host's /proc and /sys are
        // gone from the mount namespace, the kernel refuses a new procfs or sysfs there
        // (mount_too_revealing(); user_namespaces(7), "Restrictions on mount operations").
        // So is an OCI container's (see Trees::clone).
        if mount.kind.needs_network() && (userns || in_order) {
            walk.join_network()?;
        } else if mount.kind.needs_network() && walk.network.is_some() {
            walk.enter_root()?;
        }
        walk.root.mount = i as u8; // MAX_MOUNTS fits
        walk.apply(mount, source.as_ref())?;
    }
    walk.enter_root()
}

/// The new root, by descriptor (every mount is attached through it), and where to report
/// what is created in it for which mount (see [`Note::made`]).
#[derive(Clone, Copy)]
pub(crate) struct Tree<'f> {
    fd: BorrowedFd<'f>,
    report: Option<BorrowedFd<'f>>,
    mount: u8,
}

/// The host trees a container is made of, cloned detached (open_tree(2)): the root and
/// each mount's source (a bind's; the host's /sys for a user namespace that shares the
/// host's network, where a new sysfs is refused). The init clones them itself, after its
/// mount namespace is private; in a user namespace that copy of the host's mounts is
/// locked (mount_namespaces(7)), so root inside cannot undo them. Only to idmap them
/// (root's `--userns private`) does the host side clone them before the clone3: idmapping
/// takes the host's privileges and a tree of the host's own ([`Trees::idmap`]). The init
/// inherits those.
pub struct Trees {
    root: OwnedFd,
    sources: heapless::Vec<Option<OwnedFd>, MAX_MOUNTS>,
}

impl Trees {
    /// `hosts`: a bridged container's /etc/hosts on the host (net/bridge.rs).
    pub fn clone<'a>(config: &Config<'a>, hosts: Option<&[u8]>) -> Result<'a, Trees> {
        let mut path = CPath::new();
        let root = clone_root(&mut path, config.root)?;
        let host_sysfs = config.namespaces.user.is_some() && config.namespaces.network == Namespace::Host;
        let mut sources = heapless::Vec::new();
        // An OCI container's binds are cloned as they are mounted, in its config's order,
        // which is then the order of its mount table (the kernel lists mounts by when they
        // were made; engines check that order): it is pivoted into only at the end.
        #[cfg(feature = "oci")]
        if config.process.oci.is_some() {
            return Ok(Trees { root, sources: heapless::Vec::new() });
        }
        for mount in &config.mounts {
            let _ = sources.push(clone_source(&mut path, mount, host_sysfs, hosts)?);
        }
        Ok(Trees { root, sources })
    }

    /// Root's private user namespace: the root directory and the volumes show their files'
    /// owners through `userns` (mount_setattr(2), MOUNT_ATTR_IDMAP), so the container's root
    /// owns what the host's root owns there, and what it makes is root's on disk. The
    /// host's own tree is not idmapped: its files show as nobody's.
    pub fn idmap<'a>(&self, config: &Config<'a>, userns: BorrowedFd) -> Result<'a, ()> {
        let idmap = |tree: &OwnedFd, path: &'a [u8]| {
            sys::mount_idmap(tree.as_fd(), userns).map_err(|e| {
                Failure::new("idmap", path, e).with_hint("its file system cannot be idmapped (mount_setattr)")
            })
        };
        if let Root::Dir { path, .. } = config.root
            && !is_current_root(self.root.as_fd())
        {
            idmap(&self.root, path)?;
        }
        for (mount, source) in config.mounts.iter().zip(self.sources.iter()) {
            if let (MountKind::Bind { .. }, Some(tree)) = (mount.kind, source) {
                idmap(tree, mount.source)?;
            }
        }
        Ok(())
    }

    /// The descriptors, for the init to keep across its clean-up.
    pub fn fds(&self) -> impl Iterator<Item = i32> + '_ {
        let sources = self.sources.iter().flatten();
        core::iter::once(&self.root).chain(sources).map(|fd| sys::raw(Some(fd.as_fd())))
    }
}

/// The walk's state between mounts.
struct Walk<'f> {
    root: Tree<'f>,
    /// The masking tmpfs and the verified /dev/null that /proc's and /sys's masks share.
    masks: crate::mask::Masks,
    console: Option<&'f OwnedFd>,
    network: Option<(&'f Handshake, BorrowedFd<'f>)>,
    /// Set once the root is entered (and the network namespace joined).
    entered: Option<Entered>,
    /// In a user namespace of its own (device nodes cannot be made there: see populate_dev).
    userns: bool,
    /// The host's cgroups, which /sys/fs/cgroup shows as they are laid out there, and the
    /// hierarchies the container has a group in (cgroup::Group::joined). Without a cgroup
    /// (then no MountKind::Cgroup is planned) the default: unified, none.
    cgroups: (crate::cgroup::Host<'f>, u8),
    /// An OCI config's own (its mounts' options: MountKind::Fs).
    #[cfg(feature = "oci")]
    oci: Option<&'f crate::oci::bundle::Extra>,
}

impl Walk<'_> {
    /// One mount, by kind.
    fn apply<'a>(&mut self, mount: &Mount<'a>, source: Option<&OwnedFd>) -> Result<'a, ()> {
        let basic = MountAttrFlags::MOUNT_ATTR_NOSUID | MountAttrFlags::MOUNT_ATTR_NODEV;
        let noexec = basic | MountAttrFlags::MOUNT_ATTR_NOEXEC;
        let read_only = noexec | MountAttrFlags::MOUNT_ATTR_RDONLY;
        let dest = mount.dest;
        match mount.kind {
            MountKind::Proc => {
                let proc = attach_fresh(self.root, dest, c"proc", &[], noexec)?;
                self.masks.apply(proc.as_fd(), b"/proc/")
            }
            MountKind::Dev => populate_dev(self.root, mount, self.console, self.userns),
            MountKind::Tmpfs { mode, size } => {
                let (mut mode_text, mut size_text) = ([0u8; 24], [0u8; 24]);
                let mode = (c"mode", crate::text::digits(mode as u64, 8, &mut mode_text));
                let size = (c"size", crate::text::digits(size, 10, &mut size_text));
                // Size 0 is the kernel's default (half of RAM), not "unlimited": leave it out.
                let options = if size.1 == c"0" { &[mode][..] } else { &[mode, size] };
                attach_fresh(self.root, dest, c"tmpfs", options, basic).map(drop)
            }
            MountKind::Sysfs => {
                let sys = match source {
                    // The host's, read-only (cloned with the binds: see Trees).
                    Some(tree) => {
                        attach(tree.as_fd(), resolve(self.root, dest, true)?.as_fd(), dest)?;
                        rustix::io::dup(tree).map_err(fail("dup", dest))?
                    }
                    // Named as an OCI config names it.
                    #[cfg(feature = "oci")]
                    None if !mount.source.is_empty() => {
                        let tree = fresh_named(c"sysfs", &[], mount.source, read_only)
                            .map_err(fail("mount", dest))?;
                        attach(tree.as_fd(), resolve(self.root, dest, true)?.as_fd(), dest)?;
                        tree
                    }
                    None => attach_fresh(self.root, dest, c"sysfs", &[], read_only)?,
                };
                self.masks.apply(sys.as_fd(), b"/sys/")
            }
            MountKind::Cgroup => match self.cgroups {
                (host, joined) if host.layout != Layout::Unified => {
                    crate::cgroup::mount_view(self.root, dest, host.own, joined)
                }
                _ => attach_fresh(self.root, dest, c"cgroup2", &[], read_only).map(drop),
            },
            MountKind::Bind { .. } | MountKind::Etc => {
                // Cloned (and made read-only) before the root was attached: clone_source;
                // an OCI container's now.
                #[cfg(feature = "oci")]
                let cloned;
                let tree = match source {
                    Some(tree) => tree,
                    #[cfg(feature = "oci")]
                    None => {
                        cloned = clone_source(&mut CPath::new(), mount, false, None)?;
                        cloned.as_ref().ok_or(Failure::new("mount", dest, Errno::INVAL))?
                    }
                    #[cfg(not(feature = "oci"))]
                    None => return Err(Failure::new("mount", dest, Errno::INVAL)),
                };
                let is_dir = fstat(tree).map(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory);
                let target = match resolve(self.root, dest, is_dir.unwrap_or(true)) {
                    // A read-only root without the file: a container of names and name
                    // servers of its own making, then.
                    Err(failure) if mount.kind == MountKind::Etc && failure.errno == Errno::ROFS => {
                        return Ok(());
                    }
                    target => target?,
                };
                attach(tree.as_fd(), target.as_fd(), dest)?;
                // An OCI config's propagation options (oci/mounts.rs).
                #[cfg(feature = "oci")]
                if let Some(extra) = self.oci {
                    crate::oci::mounts::propagate(extra, self.root.mount as usize, tree.as_fd(), dest)?;
                }
                Ok(())
            }
            MountKind::HostRun => hide_host_run(self.root),
            #[cfg(feature = "oci")]
            MountKind::Fs(index) => match self.oci {
                Some(extra) => crate::oci::mounts::attach_fs(self.root, dest, mount.source, extra, index),
                None => Err(Failure::new("mount", dest, Errno::INVAL)),
            },
        }
    }

    /// Enters the root (pivot_root) and joins the container's network namespace, once: the
    /// mounts after this one see that namespace (sysfs shows its mounter's).
    fn enter_root<'a>(&mut self) -> Result<'a, Entered> {
        if let Some(entered) = self.entered {
            return Ok(entered);
        }
        // The rest is attached through `root`'s descriptor, so the root can be entered now:
        // the wait for the old root's unmount then overlaps with the network namespace.
        let entered = pivot(self.root.fd)?;
        self.join_network()?;
        self.entered = Some(entered);
        Ok(entered)
    }

    /// Joins the network namespace the host side made meanwhile (everything before ran
    /// alongside), once.
    fn join_network<'a>(&mut self) -> Result<'a, ()> {
        match self.network.take() {
            Some((network, host)) => network.join(host).map_err(fail("setns network", b"")),
            None => Ok(()),
        }
    }
}

/// A detached, recursive clone of the root tree: read-only when asked (always for the
/// host's), and nodev everywhere but /dev's own device mounts (see make_devices).
fn clone_root<'a>(path: &mut CPath, root: Root<'a>) -> Result<'a, OwnedFd> {
    let (source, tree) = match root {
        Root::Host => (&b"/"[..], clone_tree(path, b"/", "rootfs", true)?),
        Root::Dir { path: dir, .. } => (dir, clone_tree(path, dir, "rootfs", true)?),
        #[cfg(feature = "images")]
        Root::Overlay { lower, run } => (lower, overlay(path, lower, run).map_err(fail("overlay", run))?),
    };
    let read_only = if root.read_only() { MOUNT_ATTR_RDONLY } else { 0 };
    sys::mount_setattr_private(tree.as_fd(), MOUNT_ATTR_NODEV | read_only)
        .map_err(fail("mount_setattr", source))?;
    Ok(tree)
}

/// The detached tree a mount needs from the host (a bind's source; the host's /sys when
/// `host_sysfs`), or None.
fn clone_source<'a>(
    path: &mut CPath,
    mount: &Mount<'a>,
    host_sysfs: bool,
    hosts: Option<&[u8]>,
) -> Result<'a, Option<OwnedFd>> {
    let (source, step, attrs) = match mount.kind {
        MountKind::Etc => {
            // The hosts file, or the resolv.conf beside it (net/bridge.rs).
            let suffix = if mount.dest == b"/etc/hosts" { &b""[..] } else { crate::net::setup::RESOLV };
            let c = path.of(&[hosts.unwrap_or(b""), suffix]).map_err(fail("bind", mount.dest))?;
            let flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
            let tree = open_tree(CWD, c, flags).map_err(fail("bind", mount.dest))?;
            sys::mount_setattr_private(tree.as_fd(), MOUNT_ATTR_READ_ONLY_ALL)
                .map_err(fail("mount_setattr", mount.dest))?;
            return Ok(Some(tree));
        }
        MountKind::Bind { read_only } => {
            (mount.source, "bind", MOUNT_ATTR_NODEV | if read_only { MOUNT_ATTR_RDONLY } else { 0 })
        }
        MountKind::Sysfs if host_sysfs => (&b"/sys"[..], "sysfs", MOUNT_ATTR_READ_ONLY_ALL),
        _ => return Ok(None),
    };
    let tree = clone_tree(path, source, step, true)?;
    sys::mount_setattr_private(tree.as_fd(), attrs).map_err(fail("mount_setattr", source))?;
    Ok(Some(tree))
}

/// Attaches the root tree at its stage (the rootfs directory itself, or the host's /tmp for
/// the host's root) and returns it: the tree's own descriptor, now that of the attached
/// root. Not the stage looked up again: `.` and `/` name the directory *under* a mount made
/// on them (path lookup does not step into a mount at the start directory), so the walk
/// would build on the host's directory and pivot_root would refuse it (EBUSY).
/// Out of line: its path buffer off the frame that lives through the whole walk.
#[inline(never)]
fn attach_root<'a>(root: Root<'a>, tree: BorrowedFd) -> Result<'a, ()> {
    let path = &mut CPath::new();
    // The host's own tree, however spelt (`--rootfs /`, `.` in /, `/tmp/..`), cannot be
    // attached over itself (a mount over the current root is not reachable as a new root:
    // pivot_root refuses it, EBUSY, and an initramfs cannot be moved, EINVAL): it goes to
    // the default root's stage and loses the host's /proc, /sys and /dev as that one does.
    let host_tree = match root {
        Root::Host => true,
        Root::Dir { .. } => is_current_root(tree),
        #[cfg(feature = "images")]
        Root::Overlay { .. } => false,
    };
    let stage = match root {
        Root::Dir { path, .. } if !host_tree => path,
        #[cfg(feature = "images")]
        Root::Overlay { lower, .. } => lower,
        _ => DEFAULT_STAGE,
    };
    let stage_c = path.of(&[stage]).map_err(fail("rootfs", stage))?;
    // A host path given by the user, so a symlink to the tree is followed, as open_tree did
    // (move_mount(2) does not follow one unless told: EINVAL).
    let flags = MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_SYMLINKS;
    move_mount(tree, c"", CWD, stage_c, flags).map_err(fail("attach", stage))?;
    // The host's own /proc, /sys and /dev come along in a clone of `/`: take them away
    // rather than leave them under ours, where unmounting ours would reveal them. (An
    // ordinary user's clone is locked and keeps them, EINVAL: root in the container has no
    // CAP_SYS_ADMIN and no umount2 to reveal them with, and they are the user's own view.)
    if host_tree {
        for sub in [&b"/proc"[..], b"/sys", b"/dev"] {
            detach_all(path, stage, sub);
        }
    }
    Ok(())
}

/// Whether `dir` is the directory this process has as its root (the same inode).
fn is_current_root(dir: BorrowedFd) -> bool {
    match (fstat(dir), rustix::fs::stat(c"/")) {
        (Ok(a), Ok(b)) => (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino),
        _ => false,
    }
}

/// The terminal on stdin, when there is one, as a detached bind mount that will become the
/// container's /dev/console (as in a VM). Must run before the init leaves the host's mount
/// namespace: open_tree(2) clones only a mount of the caller's own namespace (EINVAL for
/// the terminal's devpts mount once the init has a namespace of its own).
pub fn clone_console<'a>() -> Result<'a, Option<OwnedFd>> {
    let stdin = sys::stdio(0);
    if !rustix::termios::isatty(stdin) {
        return Ok(None);
    }
    let flags =
        OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC | OpenTreeFlags::AT_EMPTY_PATH;
    open_tree(stdin, c"", flags).map(Some).map_err(fail("console", b"/dev/console"))
}

/// The same, in a user namespace, where the host's mount namespace is not ours to clone
/// from (EPERM): called once the init has its own copy of the host's mounts, it clones the
/// terminal by its path there, and keeps the clone only if it is the very terminal on
/// stdin (same device).
pub fn clone_console_by_path<'a>() -> Result<'a, Option<OwnedFd>> {
    let stdin = sys::stdio(0);
    if !rustix::termios::isatty(stdin) {
        return Ok(None);
    }
    let mut buf = [0u8; 64];
    let mut fd_buf = [0; 40];
    let fd_path = crate::procfs::fd_path(stdin, &mut fd_buf);
    let n =
        rustix::fs::readlinkat_raw(CWD, fd_path, &mut buf[..63]).map_err(fail("console", b"/dev/console"))?;
    let flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
    let tree = crate::rt::c_str(&buf[..n + 1])
        .ok_or(Errno::NAMETOOLONG)
        .and_then(|path| open_tree(CWD, path, flags));
    let tree = tree.map_err(fail("console", b"/dev/console"))?;
    let same = |a: rustix::fs::Stat, b: rustix::fs::Stat| a.st_rdev == b.st_rdev;
    match (fstat(&tree), fstat(stdin)) {
        (Ok(a), Ok(b)) if same(a, b) => Ok(Some(tree)),
        _ => Err(Failure::new("console", b"/dev/console", Errno::NODEV)),
    }
}

/// The host's /run (and /var/run, when it is a directory of its own rather than a link to
/// /run) under a fresh tmpfs, for the default root, which is the host's own tree: /run holds
/// the host's daemons' unix sockets and FIFOs (docker, containerd, dbus, systemd's), and a
/// read-only mount stops neither connect(2) on a socket nor a write to a FIFO (path
/// resolution, not the mount, decides: unix(7), fifo(7)).
fn hide_host_run<'a>(root: Tree) -> Result<'a, ()> {
    let attrs = MountAttrFlags::MOUNT_ATTR_NOSUID
        | MountAttrFlags::MOUNT_ATTR_NODEV
        | MountAttrFlags::MOUNT_ATTR_NOEXEC;
    let run = attach_fresh(root, b"/run", c"tmpfs", &[(c"mode", c"0755")], attrs)?;
    let run = fstat(&run).map_err(fail("stat", b"/run"))?;
    // Resolved inside the root: a link to /run lands on the new tmpfs.
    let var_run = match open_in_root(root.fd, c"/var/run") {
        Ok(fd) => fstat(&fd).map_err(fail("stat", b"/var/run"))?,
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(fail("resolve", b"/var/run")(e)),
    };
    if (var_run.st_dev, var_run.st_ino) != (run.st_dev, run.st_ino) {
        attach_fresh(root, b"/var/run", c"tmpfs", &[(c"mode", c"0755")], attrs)?;
    }
    Ok(())
}

const MOUNT_ATTR_RDONLY: u64 = linux_raw_sys::general::MOUNT_ATTR_RDONLY as u64;
const MOUNT_ATTR_NODEV: u64 = linux_raw_sys::general::MOUNT_ATTR_NODEV as u64;
const MOUNT_ATTR_READ_ONLY_ALL: u64 = MOUNT_ATTR_RDONLY
    | MOUNT_ATTR_NODEV
    | linux_raw_sys::general::MOUNT_ATTR_NOSUID as u64
    | linux_raw_sys::general::MOUNT_ATTR_NOEXEC as u64;

/// A new overlayfs over the image's tree `lower`, its writable layer in the run's
/// directory `run` (upper/, work/: overlayfs(5)); `volatile`: the layer is thrown away after
/// the run, so no write need ever reach the disk in order.
#[cfg(feature = "images")]
fn overlay(path: &mut CPath, lower: &[u8], run: &[u8]) -> rustix::io::Result<OwnedFd> {
    let fs = fsopen(c"overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
    fsconfig_set_string(&fs, c"lowerdir", path.of(&[lower])?)?;
    fsconfig_set_string(&fs, c"upperdir", path.of(&[run, b"/upper"])?)?;
    fsconfig_set_string(&fs, c"workdir", path.of(&[run, b"/work"])?)?;
    rustix::mount::fsconfig_set_flag(&fs, c"volatile")?;
    // In a user namespace, overlayfs keeps its own attributes as user.* ones (trusted.*
    // are the host's root's alone).
    if !rustix::process::geteuid().is_root() {
        rustix::mount::fsconfig_set_flag(&fs, c"userxattr")?;
    }
    fsconfig_create(&fs)?;
    fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, MountAttrFlags::empty())
}

/// A detached copy of the host tree at `source` (with its submounts when `recursive`).
fn clone_tree<'a>(
    path: &mut CPath,
    source: &'a [u8],
    step: &'static str,
    recursive: bool,
) -> Result<'a, OwnedFd> {
    let c = path.of(&[source]).map_err(fail(step, source))?;
    let mut flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
    if recursive {
        flags |= OpenTreeFlags::AT_RECURSIVE;
    }
    open_tree(CWD, c, flags).map_err(fail(step, source))
}

/// Unmounts (lazily) every mount stacked at `stage` + `sub`, without following symlinks.
fn detach_all(path: &mut CPath, stage: &[u8], sub: &[u8]) {
    if let Ok(c) = path.of(&[stage, sub]) {
        while unmount(c, UnmountFlags::DETACH | UnmountFlags::NOFOLLOW).is_ok() {}
    }
}

/// Opens `dest` (absolute, inside the root) as an O_PATH descriptor, creating it — a
/// directory, or an empty file when `dir` is false — and any missing parents. Each prefix
/// is resolved afresh from the root with RESOLVE_IN_ROOT, so a symlink swapped in between
/// two steps still cannot lead outside. Each entry made is reported (see [`Tree`]).
pub(crate) fn resolve<'a>(root: Tree, dest: &'a [u8], dir: bool) -> Result<'a, OwnedFd> {
    let mut path = CPath::new();
    let mut parent: Option<OwnedFd> = None;
    let mut end = 0;
    while end < dest.len() {
        end = dest[end + 1..].iter().position(|&b| b == b'/').map_or(dest.len(), |i| end + 1 + i);
        let prefix = &dest[..end];
        let name = &prefix[prefix.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1)..];
        if name.is_empty() {
            continue; // `//` or a trailing `/`
        }
        let last = end == dest.len();
        let c = path.of(&[prefix]).map_err(fail("resolve", dest))?;
        match open_in_root(root.fd, c) {
            Ok(fd) => parent = Some(fd),
            Err(Errno::NOENT) => {
                let at = parent.as_ref().map_or(root.fd, |p| p.as_fd());
                let c_name = path.of(&[name]).map_err(fail("resolve", dest))?;
                let made = if last && !dir {
                    openat(
                        at,
                        c_name,
                        OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
                        Mode::from_raw_mode(0o644),
                    )
                    .map(drop)
                } else {
                    mkdirat(at, c_name, Mode::from_raw_mode(0o755))
                };
                match made {
                    // Reported at once, as made (a failure below must not keep it).
                    Ok(()) => {
                        let st = rustix::fs::statat(at, c_name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW);
                        if let (Ok(st), Ok(len)) = (st, u16::try_from(end)) {
                            Note::made(root.mount, len, st.st_dev, st.st_ino).send(root.report);
                        }
                    }
                    Err(Errno::EXIST) => {}
                    Err(e) => return Err(fail("mkdir", dest)(e)),
                }
                let c = path.of(&[prefix]).map_err(fail("resolve", dest))?;
                parent = Some(open_in_root(root.fd, c).map_err(fail("resolve", dest))?);
            }
            Err(e) => return Err(fail("resolve", dest)(e)),
        }
    }
    parent.ok_or_else(|| fail("resolve", dest)(Errno::INVAL))
}

/// openat2(2) with RESOLVE_IN_ROOT: `path` is looked up as if `root` were `/`, symlinks
/// included (a final one too: `DST -> elsewhere` mounts at elsewhere, inside the root);
/// magic links (/proc/PID/fd/N and friends) are refused, since they could point anywhere.
pub(crate) fn open_in_root(root: BorrowedFd, path: &CStr) -> rustix::io::Result<OwnedFd> {
    openat2(
        root,
        path,
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
}

/// move_mount(2) of a detached tree onto a resolved target.
pub(crate) fn attach<'a>(tree: BorrowedFd, target: BorrowedFd, dest: &'a [u8]) -> Result<'a, ()> {
    move_mount(
        tree,
        c"",
        target,
        c"",
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
    )
    .map_err(fail("mount", dest))
}

/// A new filesystem of type `fstype` with `options`, mounted at `dest` inside the root.
/// Returns the new mount's descriptor.
pub(crate) fn attach_fresh<'a>(
    root: Tree,
    dest: &'a [u8],
    fstype: &CStr,
    options: &[(&CStr, &CStr)],
    attrs: MountAttrFlags,
) -> Result<'a, OwnedFd> {
    let tree = fresh(fstype, options, attrs).map_err(fail("mount", dest))?;
    let target = resolve(root, dest, true)?;
    attach(tree.as_fd(), target.as_fd(), dest)?;
    Ok(tree)
}

/// A new filesystem of type `fstype` with `options`, as a detached mount (fsmount(2)).
pub(crate) fn fresh(
    fstype: &CStr,
    options: &[(&CStr, &CStr)],
    attrs: MountAttrFlags,
) -> rustix::io::Result<OwnedFd> {
    let fs = fsopen(fstype, FsOpenFlags::FSOPEN_CLOEXEC)?;
    for (key, value) in options {
        fsconfig_set_string(fs.as_fd(), *key, *value)?;
    }
    fsconfig_create(fs.as_fd())?;
    fsmount(fs.as_fd(), FsMountFlags::FSMOUNT_CLOEXEC, attrs)
}

/// As `fresh`, with `source` as the name the mount table shows (an OCI config's: `tmpfs`,
/// `sysfs`), when there is one. Out of line: its path buffer only on its own frame.
#[cfg(feature = "oci")]
#[inline(never)]
fn fresh_named(
    fstype: &CStr,
    options: &[(&CStr, &CStr)],
    source: &[u8],
    attrs: MountAttrFlags,
) -> rustix::io::Result<OwnedFd> {
    if source.is_empty() {
        return fresh(fstype, options, attrs);
    }
    let mut path = CPath::new();
    let source = path.of(&[source])?;
    let mut all: heapless::Vec<(&CStr, &CStr), 4> = heapless::Vec::new();
    let _ = all.extend_from_slice(options);
    all.push((c"source", source)).map_err(|_| Errno::INVAL)?;
    fresh(fstype, &all, attrs)
}

/// Without OCI configs, no mount is named.
#[cfg(not(feature = "oci"))]
fn fresh_named(
    fstype: &CStr,
    options: &[(&CStr, &CStr)],
    _source: &[u8],
    attrs: MountAttrFlags,
) -> rustix::io::Result<OwnedFd> {
    fresh(fstype, options, attrs)
}

/// /dev: a small nodev tmpfs holding the harmless devices (see below), /dev/pts as a new
/// devpts instance with its own ptmx, /dev/shm, and the usual links into /proc/self/fd.
/// Everything in it is made through the descriptor of the new mount, so nothing there is
/// looked up by path.
fn populate_dev<'a>(
    root: Tree,
    mount: &Mount<'a>,
    console: Option<&OwnedFd>,
    userns: bool,
) -> Result<'a, ()> {
    let dest = mount.dest;
    let basic = MountAttrFlags::MOUNT_ATTR_NOSUID | MountAttrFlags::MOUNT_ATTR_NOEXEC;
    let options = [(c"mode", c"0755"), (c"size", c"64k")];
    let dev = fresh_named(c"tmpfs", &options, mount.source, basic).map_err(fail("mount", dest))?;
    attach(dev.as_fd(), resolve(root, dest, true)?.as_fd(), dest)?;
    let dev = dev.as_fd();
    // The modes below exactly, whatever husk's umask (restored before COMMAND is forked).
    let umask = rustix::process::umask(Mode::empty());
    let made = make_dev_entries(dev, console, userns);
    rustix::process::umask(umask);
    made?;
    // From here a node made in /dev (or anywhere else: everything is nodev) is inert, so the
    // CAP_MKNOD of Docker's default set cannot make a usable node for a host disk.
    sys::mount_setattr(dev, MOUNT_ATTR_NODEV, false).map_err(fail("mount_setattr", b"/dev"))?;
    for (fstype, name, options, attrs) in [
        (c"devpts", c"pts", &[(c"ptmxmode", c"0666"), (c"mode", c"0620")][..], basic),
        (c"tmpfs", c"shm", &[(c"mode", c"1777")][..], basic | MountAttrFlags::MOUNT_ATTR_NODEV),
    ] {
        let tree = fresh(fstype, options, attrs).map_err(fail("mount", name.to_bytes()))?;
        move_mount(tree.as_fd(), c"", dev, name, MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH)
            .map_err(fail("mount", name.to_bytes()))?;
    }
    Ok(())
}

/// The nodes, links and mount points of /dev. husk's own nodes, not binds of the host's: a
/// chmod inside must not change the host's /dev/null. Each becomes a mount of its own
/// (bound over itself), so it keeps working once /dev itself is made nodev.
///
/// In a user namespace no node can be made (mknod(2): EPERM): there each is a bind of the
/// host's node instead, checked to be that device (the host's /dev could hold anything in
/// a nested set-up). They stay owned by the host's root, whom the namespace does not map:
/// a chmod or chown inside fails (EPERM), as in bubblewrap.
fn make_dev_entries<'a>(dev: BorrowedFd, console: Option<&OwnedFd>, userns: bool) -> Result<'a, ()> {
    let mut path = CPath::new();
    for (name, major, minor) in DEVICES {
        let mode = Mode::from_raw_mode(0o666);
        let flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
        let node = if userns {
            let host = path.of(&[b"/dev/", name.to_bytes()]).map_err(fail("mount", name.to_bytes()))?;
            let node = open_tree(CWD, host, flags).map_err(fail("mount", name.to_bytes()))?;
            let st = fstat(&node).map_err(fail("stat", name.to_bytes()))?;
            if FileType::from_raw_mode(st.st_mode) != FileType::CharacterDevice
                || st.st_rdev != makedev(major, minor)
            {
                return Err(Failure::new("mount", name.to_bytes(), Errno::NODEV));
            }
            let created = OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::CLOEXEC;
            openat(dev, name, created, Mode::from_raw_mode(0o444)).map_err(fail("mknod", name.to_bytes()))?;
            node
        } else {
            mknodat(dev, name, FileType::CharacterDevice, mode, makedev(major, minor))
                .map_err(fail("mknod", name.to_bytes()))?;
            open_tree(dev, name, flags).map_err(fail("mount", name.to_bytes()))?
        };
        move_mount(node.as_fd(), c"", dev, name, MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH)
            .map_err(fail("mount", name.to_bytes()))?;
    }
    if let Some(console) = console {
        // An empty file to mount the terminal over.
        let flags = OFlags::CREATE | OFlags::WRONLY | OFlags::CLOEXEC;
        openat(dev, c"console", flags, Mode::from_raw_mode(0o600)).map_err(fail("mknod", b"console"))?;
        move_mount(console.as_fd(), c"", dev, c"console", MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH)
            .map_err(fail("mount", b"console"))?;
    }
    for (target, link) in [
        (c"/proc/self/fd", c"fd"),
        (c"/proc/self/fd/0", c"stdin"),
        (c"/proc/self/fd/1", c"stdout"),
        (c"/proc/self/fd/2", c"stderr"),
        (c"pts/ptmx", c"ptmx"),
    ] {
        symlinkat(target, dev, link).map_err(fail("symlink", b"/dev"))?;
    }
    for dir in [c"pts", c"shm"] {
        mkdirat(dev, dir, Mode::from_raw_mode(0o755)).map_err(fail("mkdir", b"/dev"))?;
    }
    Ok(())
}

/// Makes `root` the root directory and lets go of the host's tree for good.
///
/// pivot_root(".", ".") stacks the old root on top of the new one at `/`; unmounting `.`
/// then detaches the old root (pivot_root(2), NOTES), with no put_old directory needed.
/// pivot_root refuses an initramfs root (EINVAL): there, move the new root over `/` and
/// chroot into it, as `switch_root` does.
fn pivot<'a>(root: BorrowedFd) -> Result<'a, Entered> {
    rustix::process::fchdir(root).map_err(fail("chdir", b"rootfs"))?;
    let entered = match rustix::process::pivot_root(c".", c".") {
        Ok(()) => {
            unmount(c".", UnmountFlags::DETACH).map_err(fail("umount", b"old root"))?;
            Entered::Pivoted
        }
        Err(Errno::INVAL) => {
            rustix::mount::mount_move(c".", c"/").map_err(fail("move-mount", b"/"))?;
            rustix::process::chroot(c".").map_err(fail("chroot", b"."))?;
            Entered::Chrooted
        }
        Err(e) => return Err(fail("pivot_root", b"rootfs")(e)),
    };
    rustix::process::chdir(c"/").map_err(fail("chdir", b"/"))?;
    Ok(entered)
}

/// The host side, once the container has ended: removes what the walk created in the
/// rootfs directory `root` (the notes in `notes`, newest first, so a directory's new
/// entries go before it). An entry goes only if it is still the very one made (same device
/// and inode, found without following a final symlink) and still an empty directory, or an
/// empty regular file: whatever root in the container did meanwhile — a file put in it, a
/// symlink to a host path in its place, its parent renamed and replaced — removes nothing
/// else. Its parent is looked up as the walk did (RESOLVE_IN_ROOT: never outside `root`).
/// No process of the container is left to race this; the caller holds the rootfs
/// directory's lock against another run of it (`container::host`).
#[inline(never)] // its path buffer on its own frame
pub fn remove_made(root: BorrowedFd, mounts: &[Mount], notes: &[u8]) {
    use rustix::fs::{AtFlags, statat, unlinkat};
    let mut path = CPath::new();
    for (mount, len, dev, ino) in Note::all(notes).rev().filter_map(|note| note.as_made()) {
        let Some(dest) = mounts.get(mount).and_then(|m| m.dest.get(..len)) else { continue };
        let slash = dest.iter().rposition(|&b| b == b'/').unwrap_or(0);
        let parent = match path.of(&[&dest[..slash]]).map(|c| open_in_root(root, c)) {
            _ if slash == 0 => None,
            Ok(Ok(fd)) => Some(fd),
            _ => continue,
        };
        let at = parent.as_ref().map_or(root, |p| p.as_fd());
        let Ok(c) = path.of(&[&dest[slash + 1..]]) else { continue };
        let Ok(st) = statat(at, c, AtFlags::SYMLINK_NOFOLLOW) else { continue };
        let flags = match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => AtFlags::REMOVEDIR,
            FileType::RegularFile if st.st_size == 0 => AtFlags::empty(),
            _ => continue,
        };
        if (st.st_dev, st.st_ino) == (dev, ino) {
            // A directory that is no longer empty stays (ENOTEMPTY).
            let _ = unlinkat(at, c, flags);
        }
    }
}
