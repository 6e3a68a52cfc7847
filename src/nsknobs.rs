//! Which kernel setting forbids a user namespace, for the hint of the step that failed.
//!
//! Distributions and admins turn unprivileged user namespaces off in four ways; each makes a
//! different step fail with its own errno, and each is a small file to read:
//!
//! | setting (where)                                   | fails                          | errno          |
//! |---------------------------------------------------|--------------------------------|----------------|
//! | `user.max_user_namespaces=0` (any kernel)         | clone3 CLONE_NEWUSER           | ENOSPC         |
//! | `kernel.unprivileged_userns_clone=0` (Debian)     | clone3 CLONE_NEWUSER           | EPERM          |
//! | `kernel.apparmor_restrict_unprivileged_userns=1` (Ubuntu ≥ 23.10) | the first privileged step inside: clone3 succeeds, the new namespace's capabilities are denied | EPERM, EACCES |
//! | `user_namespace.enable=N` (RHEL 7 boot parameter) | clone3 CLONE_NEWUSER           | EINVAL         |
//!
//! Read only after the failure (nothing costs a successful run), as bubblewrap's error
//! helpers do. See user_namespaces(7) and /proc/sys/user/max_user_namespaces in
//! namespaces(7). The other causes of the same errnos (the per-user count or the nesting depth
//! of 32 for ENOSPC, a kernel without CONFIG_USER_NS for EINVAL) leave no setting to name.

use core::ffi::CStr;

use rustix::fs::{Mode, OFlags, open};
use rustix::io::Errno;

/// One setting: its file, the first byte of the value that forbids user namespaces (the kernel
/// prints numbers without leading zeros, so `0` is exactly zero), the errnos it shows up as,
/// and the hint naming it.
struct Knob {
    file: &'static CStr,
    forbids: u8,
    /// The errnos, as a mask of `bit`s.
    errnos: u32,
    hint: &'static str,
}

/// `errno` as one bit of a mask (0 for those past 31: no setting has them).
const fn bit(errno: Errno) -> u32 {
    match 1u32.checked_shl(errno.raw_os_error() as u32) {
        Some(bit) => bit,
        None => 0,
    }
}

/// In the order they are checked: for EPERM, Debian's switch before AppArmor's restriction.
const KNOBS: [Knob; 4] = [
    Knob {
        file: c"/proc/sys/user/max_user_namespaces",
        forbids: b'0',
        errnos: bit(Errno::NOSPC),
        hint: "user namespaces are disabled: user.max_user_namespaces=0 (sysctl)",
    },
    Knob {
        file: c"/proc/sys/kernel/unprivileged_userns_clone",
        forbids: b'0',
        errnos: bit(Errno::PERM),
        hint: "user namespaces are disabled: kernel.unprivileged_userns_clone=0 (sysctl)",
    },
    Knob {
        file: c"/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
        forbids: b'1',
        errnos: bit(Errno::PERM) | bit(Errno::ACCESS),
        hint: "user namespaces are restricted by AppArmor: kernel.apparmor_restrict_unprivileged_userns=1 (sysctl)",
    },
    Knob {
        file: c"/sys/module/user_namespace/parameters/enable",
        forbids: b'N',
        errnos: bit(Errno::INVAL),
        hint: "user namespaces are disabled: user_namespace.enable=N (kernel parameter)",
    },
];

/// The hint for a user namespace step that failed with `errno`, "" when no setting explains
/// it. `first_byte` reads the first byte of a setting's file (None: no such file here).
pub fn diagnose(errno: Errno, mut first_byte: impl FnMut(&CStr) -> Option<u8>) -> &'static str {
    for knob in &KNOBS {
        if knob.errnos & bit(errno) != 0 && first_byte(knob.file) == Some(knob.forbids) {
            return knob.hint;
        }
    }
    ""
}

/// The hint for a failed clone3 with CLONE_NEWUSER, or for the first privileged step inside
/// the new user namespace (its unshare or mount) failing: "" when no setting explains it.
pub fn why_forbidden(errno: Errno) -> &'static str {
    diagnose(errno, |file| {
        let fd = open(file, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok()?;
        let mut byte = [0u8; 1];
        (rustix::io::read(&fd, &mut byte[..]).ok()? == 1).then_some(byte[0])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A machine's settings files: path and contents.
    type Files<'a> = &'a [(&'a str, &'a str)];

    /// `diagnose` against a machine whose settings files read as `files`.
    fn on(files: Files, errno: Errno) -> &'static str {
        diagnose(errno, |path| {
            let path = path.to_str().unwrap();
            files.iter().find(|(p, _)| *p == path).and_then(|(_, v)| v.bytes().next())
        })
    }

    const MAX: &str = "/proc/sys/user/max_user_namespaces";
    const DEBIAN: &str = "/proc/sys/kernel/unprivileged_userns_clone";
    const APPARMOR: &str = "/proc/sys/kernel/apparmor_restrict_unprivileged_userns";
    const RHEL7: &str = "/sys/module/user_namespace/parameters/enable";

    #[test]
    fn each_setting_explains_its_own_errno() {
        let max = "user namespaces are disabled: user.max_user_namespaces=0 (sysctl)";
        let debian = "user namespaces are disabled: kernel.unprivileged_userns_clone=0 (sysctl)";
        let apparmor = "user namespaces are restricted by AppArmor: \
                        kernel.apparmor_restrict_unprivileged_userns=1 (sysctl)";
        let rhel7 = "user namespaces are disabled: user_namespace.enable=N (kernel parameter)";
        let open = [(MAX, "15000\n"), (DEBIAN, "1\n"), (APPARMOR, "0\n"), (RHEL7, "Y\n")];
        let cases: &[(Files, Errno, &str)] = &[
            (&[(MAX, "0\n")], Errno::NOSPC, max),
            (&[(MAX, "0\n"), (DEBIAN, "0\n")], Errno::NOSPC, max),
            // The per-user count or the nesting depth: ENOSPC with the setting open.
            (&open, Errno::NOSPC, ""),
            (&[(MAX, "10\n")], Errno::NOSPC, ""),
            (&[(DEBIAN, "0\n")], Errno::PERM, debian),
            (&[(DEBIAN, "0\n"), (APPARMOR, "1\n")], Errno::PERM, debian),
            (&[(DEBIAN, "1\n"), (APPARMOR, "1\n")], Errno::PERM, apparmor),
            (&[(APPARMOR, "1\n")], Errno::ACCESS, apparmor),
            (&[(APPARMOR, "1\n")], Errno::PERM, apparmor),
            (&[(APPARMOR, "0\n")], Errno::PERM, ""),
            (&[(RHEL7, "N\n")], Errno::INVAL, rhel7),
            (&[(RHEL7, "Y\n")], Errno::INVAL, ""),
            // A setting never explains another errno than its own.
            (&[(MAX, "0\n")], Errno::PERM, ""),
            (&[(DEBIAN, "0\n")], Errno::NOSPC, ""),
            (&[(RHEL7, "N\n")], Errno::PERM, ""),
            (&[(APPARMOR, "1\n")], Errno::INVAL, ""),
            // No settings files at all (a kernel without them), or empty ones.
            (&[], Errno::PERM, ""),
            (&[], Errno::NOSPC, ""),
            (&[(MAX, ""), (DEBIAN, "")], Errno::NOSPC, ""),
            (&open, Errno::PERM, ""),
            (&open, Errno::NOMEM, ""),
        ];
        for (files, errno, want) in cases {
            assert_eq!(on(files, *errno), *want, "{files:?} {errno:?}");
        }
    }

    #[test]
    fn reads_this_machines_settings() {
        // Whatever this host allows, the reader finds the files the kernel has; an errno no
        // setting explains is never blamed on one.
        assert_eq!(why_forbidden(Errno::NOMEM), "");
        let max = std::fs::read_to_string(MAX).unwrap();
        let want = if max.trim() == "0" { KNOBS[0].hint } else { "" };
        assert_eq!(why_forbidden(Errno::NOSPC), want);
    }
}
