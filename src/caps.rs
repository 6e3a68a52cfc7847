//! Capabilities, all of them in one place: names, the default set a container's COMMAND
//! gets, `--cap-add`/`--cap-drop` arithmetic (pure, unit-tested); who gets what in `husk
//! run` and `husk exec`; and applying it (the bounding set, capset, the ambient set,
//! no_new_privs, the seccomp filter last), used by spawn in COMMAND's child and by the
//! init and exec's helper for themselves.

use rustix::io::Errno;

use crate::rt::sys;
use crate::text::{same_ignoring_case, word_index, words};

/// Capability names without the `CAP_` prefix, in number order (capabilities(7)), one
/// string: smaller in the binary than a table of slices.
const NAMES: &[u8] = b"CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF CHECKPOINT_RESTORE";

/// The highest capability number husk knows (CAP_LAST_CAP of Linux 5.9+).
pub const LAST: u32 = 40;

/// Every capability husk knows.
pub const ALL: u64 = (1 << (LAST + 1)) - 1;

/// Docker's default set: CHOWN, DAC_OVERRIDE, FSETID, FOWNER, MKNOD, NET_RAW, SETGID,
/// SETUID, SETFCAP, SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, KILL, AUDIT_WRITE.
pub const DEFAULT: u64 = bit(0)
    | bit(1)
    | bit(3)
    | bit(4)
    | bit(5)
    | bit(6)
    | bit(7)
    | bit(8)
    | bit(10)
    | bit(13)
    | bit(18)
    | bit(27)
    | bit(29)
    | bit(31);

const fn bit(n: u32) -> u64 {
    1 << n
}

/// A capability name, with or without `CAP_`, any case; `ALL` is every capability.
/// Returns the set it stands for.
pub fn parse(name: &[u8]) -> Option<u64> {
    let bare = match name.get(..4) {
        Some(prefix) if same_ignoring_case(prefix, b"CAP_") => &name[4..],
        _ => name,
    };
    if same_ignoring_case(bare, b"ALL") {
        return Some(ALL);
    }
    word_index(NAMES, bare).map(|i| bit(i as u32))
}

/// The name of capability `n`, without `CAP_`.
pub fn name(n: u32) -> Option<&'static [u8]> {
    words(NAMES).nth(n as usize)
}

/// The set COMMAND ends with: the default, less `--cap-drop`s, plus `--cap-add`s. A drop of
/// ALL starts from nothing, so `--cap-drop ALL --cap-add X` is exactly X (as in Docker).
pub fn resolve(added: u64, dropped: u64) -> u64 {
    if dropped == ALL {
        return added;
    }
    // A specific drop wins over an add of the same capability.
    (DEFAULT | added) & !dropped
}

// ---------------------------------------------------------------------------------------
// Who gets what: COMMAND's privileges, as run and exec decide them
// ---------------------------------------------------------------------------------------

/// What COMMAND may do as far as capabilities go (capabilities(7)).
#[derive(Clone, Copy, Debug)]
pub struct Privileges {
    /// The bounding set: the most COMMAND or anything it runs can ever hold.
    pub bounding: u64,
    /// What the bounding set may still hold when COMMAND is forked: everything, unless its
    /// parent has shrunk its own already (each drop builds new credentials, so none is
    /// repeated).
    pub bounding_before: u64,
    /// What it holds: permitted and effective; for a non-root user also inheritable and
    /// ambient, which is how capabilities survive execve without file capabilities.
    pub granted: u64,
    /// Install husk's default seccomp filter (src/seccomp.rs) last before execve.
    pub seccomp: bool,
    /// Set no_new_privs (the default): no setuid or file-capability binary adds privileges.
    pub no_new_privs: bool,
    /// An OCI config's exact capability sets (then `granted` is not used) and its seccomp
    /// program (then `seccomp`'s default filter is not).
    #[cfg(feature = "oci")]
    pub oci: Option<(crate::oci::bundle::Caps, Option<crate::oci::bundle::Program>)>,
}

/// The first capability asked for by name with `--cap-add` that husk itself does not hold
/// (it cannot give what it lacks; `--cap-add ALL` means all that husk holds).
pub fn missing_capability(added: u64) -> Option<&'static [u8]> {
    if added == ALL {
        return None;
    }
    let held = rustix::thread::capabilities(None).map(|c| c.permitted.bits()).unwrap_or(0);
    let missing = added & !held;
    (missing != 0).then(|| name(missing.trailing_zeros())).flatten()
}

/// COMMAND's capabilities: Docker's default set adjusted by --cap-add/--cap-drop bounds
/// them; root holds all of that, another user only what --cap-add gave it. In a chroot
/// (an initramfs host) CAP_SYS_CHROOT goes, whatever was asked: it is the way out.
pub fn privileges(process: &crate::config::Process, chrooted: bool) -> Privileges {
    const SYS_CHROOT: u64 = 1 << 18;
    let mut bounding = resolve(process.caps_added, process.caps_dropped);
    if chrooted {
        bounding &= !SYS_CHROOT;
    }
    let root = crate::config::Identity::is_root(process.user);
    let granted = if root { bounding } else { bounding & process.caps_added };
    Privileges {
        bounding,
        bounding_before: ALL,
        granted,
        seccomp: process.seccomp,
        no_new_privs: process.no_new_privs,
        #[cfg(feature = "oci")]
        oci: process.oci.map(|extra| (extra.caps, extra.seccomp)),
    }
}

/// The privileges of a process `husk exec` starts as `user` in a container confined as
/// `confinement`: its bounding set; root holds all of it, another user what --cap-add gave.
/// Its parent, exec's helper, has cut its own bounding set to this already.
pub fn recorded_privileges(confinement: &crate::registry::Confinement, user: (u32, u32)) -> Privileges {
    let bounding = confinement.bounding;
    let granted = if user.0 == 0 { bounding } else { bounding & confinement.added };
    Privileges {
        bounding,
        bounding_before: bounding,
        granted,
        seccomp: confinement.seccomp,
        no_new_privs: true,
        #[cfg(feature = "oci")]
        oci: None,
    }
}

// ---------------------------------------------------------------------------------------
// Applying them: prctl(2) and capset(2), in the order the kernel needs
// ---------------------------------------------------------------------------------------

/// Drops each capability in `drop` from the bounding set (prctl(2), PR_CAPBSET_DROP; one
/// call each). Needs CAP_SETPCAP in the effective set, which this does not change.
pub fn shrink_bounding_set(drop: u64) -> Result<(), Errno> {
    for cap in (0..=LAST as usize).filter(|c| drop & (1 << c) != 0) {
        match sys::prctl(linux_raw_sys::prctl::PR_CAPBSET_DROP, cap, 0) {
            // EINVAL: a capability this kernel does not have.
            Ok(_) | Err(Errno::INVAL) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Sets the permitted and effective sets to what is granted — for a non-root user also the
/// inheritable and ambient sets, so the capabilities survive execve of an ordinary binary —
/// then no_new_privs, so no setuid or file-capability binary can add to them, and the
/// seccomp filter, which no_new_privs allows an unprivileged process to install.
pub(crate) fn grant(privileges: Privileges, non_root: bool) -> Result<(), Errno> {
    use rustix::thread::{CapabilitySet, CapabilitySets, capabilities, set_capabilities};
    // Only what husk itself holds can be granted (husk may run with a reduced bounding set
    // itself, as in some sandboxes): ask for more and capset refuses everything.
    let held = capabilities(None)?.permitted.bits();
    #[cfg(feature = "oci")]
    if let Some((caps, filter)) = privileges.oci {
        return grant_exactly(caps, filter, privileges.no_new_privs, held);
    }
    let granted = CapabilitySet::from_bits_retain(privileges.granted & held);
    let inheritable = if non_root { granted } else { CapabilitySet::empty() };
    set_capabilities(None, CapabilitySets { effective: granted, permitted: granted, inheritable })?;
    if non_root {
        for cap in (0..=LAST).filter(|c| granted.bits() & (1 << c) != 0) {
            sys::prctl(
                linux_raw_sys::prctl::PR_CAP_AMBIENT,
                linux_raw_sys::prctl::PR_CAP_AMBIENT_RAISE as usize,
                cap as usize,
            )?;
        }
    }
    if privileges.no_new_privs {
        rustix::thread::set_no_new_privs(true)?;
        if privileges.seccomp {
            sys::seccomp_filter(&crate::seccomp::program())?;
        }
    }
    Ok(())
}

/// An OCI config's sets, as it gives them (of what husk holds): effective, permitted and
/// inheritable by capset(2), then each ambient one raised; then no_new_privs and its filter.
#[cfg(feature = "oci")]
fn grant_exactly(
    caps: crate::oci::bundle::Caps,
    filter: Option<crate::oci::bundle::Program>,
    no_new_privs: bool,
    held: u64,
) -> Result<(), Errno> {
    use rustix::thread::{CapabilitySet, CapabilitySets, set_capabilities};
    let set = |bits: u64| CapabilitySet::from_bits_retain(bits & held);
    set_capabilities(
        None,
        CapabilitySets {
            effective: set(caps.effective),
            permitted: set(caps.permitted),
            inheritable: set(caps.inheritable),
        },
    )?;
    for cap in (0..=LAST).filter(|c| caps.ambient & held & (1 << c) != 0) {
        sys::prctl(
            linux_raw_sys::prctl::PR_CAP_AMBIENT,
            linux_raw_sys::prctl::PR_CAP_AMBIENT_RAISE as usize,
            cap as usize,
        )?;
    }
    if no_new_privs {
        rustix::thread::set_no_new_privs(true)?;
        if let Some((program, flags)) = filter {
            sys::seccomp_filter_with(program, flags)?;
        }
    }
    Ok(())
}

/// Without no_new_privs, installing a seccomp filter needs CAP_SYS_ADMIN (seccomp(2)), which
/// COMMAND will not hold: so the filter goes on first, while the process about to become
/// COMMAND still has every capability (as runc does). Nothing after it is a call the filter
/// refuses (prctl, capset, setgroups, setres[ug]id, chdir, execve).
pub(crate) fn filter_before_identity(privileges: Privileges) -> Result<(), Errno> {
    #[cfg(feature = "oci")]
    if let Some((_, filter)) = privileges.oci {
        if let (Some((program, flags)), false) = (filter, privileges.no_new_privs) {
            sys::seccomp_filter_with(program, flags)?;
        }
        return Ok(());
    }
    if privileges.seccomp && !privileges.no_new_privs {
        sys::seccomp_filter(&crate::seccomp::program())?;
    }
    Ok(())
}

/// Once COMMAND runs, a husk process that waits for it (the container's init, husk exec's
/// helper) needs one capability: CAP_KILL, to forward signals to a COMMAND of another uid.
/// Everything else goes, from every set, bounding included (of which `bounding` is what is
/// left).
pub fn keep_only_kill(bounding: u64) -> Result<(), rustix::io::Errno> {
    use rustix::thread::{CapabilitySet, CapabilitySets, set_capabilities};
    const KILL: u64 = 1 << 5;
    // Dropping from the bounding set needs CAP_SETPCAP in the effective set, which goes last,
    // with capset.
    shrink_bounding_set(bounding & !KILL)?;
    let kill = CapabilitySet::from_bits_retain(KILL);
    set_capabilities(
        None,
        CapabilitySets { effective: kill, permitted: kill, inheritable: CapabilitySet::empty() },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_set_is_dockers() {
        assert_eq!(DEFAULT, 0x00000000a80425fb);
        assert_eq!(words(NAMES).count() as u32, LAST + 1);
    }

    #[test]
    fn names() {
        assert_eq!(parse(b"NET_BIND_SERVICE"), Some(1 << 10));
        assert_eq!(parse(b"cap_net_bind_service"), Some(1 << 10));
        assert_eq!(parse(b"Cap_Sys_Admin"), Some(1 << 21));
        assert_eq!(parse(b"CHECKPOINT_RESTORE"), Some(1 << 40));
        assert_eq!(parse(b"all"), Some(ALL));
        assert_eq!(parse(b"CAP_ALL"), Some(ALL));
        assert_eq!(parse(b"NOPE"), None);
        assert_eq!(parse(b"CAP_"), None);
        assert_eq!(parse(b""), None);
    }

    #[test]
    fn numbers_to_names() {
        assert_eq!(name(0), Some(&b"CHOWN"[..]));
        assert_eq!(name(21), Some(&b"SYS_ADMIN"[..]));
        assert_eq!(name(LAST), Some(&b"CHECKPOINT_RESTORE"[..]));
        assert_eq!(name(LAST + 1), None);
    }

    #[test]
    fn add_and_drop() {
        let nbs = 1 << 10;
        let admin = 1 << 21;
        assert_eq!(resolve(0, 0), DEFAULT);
        assert_eq!(resolve(admin, 0), DEFAULT | admin);
        assert_eq!(resolve(0, nbs), DEFAULT & !nbs);
        assert_eq!(resolve(0, ALL), 0);
        assert_eq!(resolve(nbs, ALL), nbs);
        assert_eq!(resolve(ALL, 0), ALL);
        // a specific drop wins over an add of the same capability
        assert_eq!(resolve(admin, admin), DEFAULT);
    }
}
