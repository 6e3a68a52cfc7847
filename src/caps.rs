//! Capabilities: names, the default set a container's COMMAND gets, and `--cap-add` /
//! `--cap-drop` arithmetic. Pure; the system calls that apply a set live in `spawn`.

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
