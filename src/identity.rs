//! Who COMMAND is, in `husk run` and `husk exec` alike: its capabilities and its
//! environment.

use core::ffi::CStr;

use crate::args::MAX_ENV;
use crate::caps;
use crate::rt::Process;
use crate::spawn::{self, Privileges};

/// The first capability asked for by name with `--cap-add` that husk itself does not hold
/// (it cannot give what it lacks; `--cap-add ALL` means all that husk holds).
pub fn missing_capability(added: u64) -> Option<&'static [u8]> {
    if added == caps::ALL {
        return None;
    }
    let held = rustix::thread::capabilities(None).map(|c| c.permitted.bits()).unwrap_or(0);
    let missing = added & !held;
    (missing != 0).then(|| caps::name(missing.trailing_zeros())).flatten()
}

/// COMMAND's capabilities: Docker's default set adjusted by --cap-add/--cap-drop bounds
/// them; root holds all of that, another user only what --cap-add gave it. In a chroot
/// (an initramfs host) CAP_SYS_CHROOT goes, whatever was asked: it is the way out.
pub fn privileges(process: &crate::config::Process, chrooted: bool) -> Privileges {
    const SYS_CHROOT: u64 = 1 << 18;
    let mut bounding = caps::resolve(process.caps_added, process.caps_dropped);
    if chrooted {
        bounding &= !SYS_CHROOT;
    }
    let root = process.user.is_none_or(|(uid, _)| uid == 0);
    let granted = if root { bounding } else { bounding & process.caps_added };
    Privileges { bounding, bounding_before: caps::ALL, granted, seccomp: process.seccomp }
}

/// COMMAND's environment: a clean start (PATH, HOME, HOSTNAME, and TERM when the host has
/// it), then each `-e KEY=VALUE` in order, a later one replacing an earlier one of the
/// same KEY.
pub struct Environment {
    pointers: crate::rt::CStrSlots<{ MAX_ENV + 5 }>,
    hostname: [u8; 80],
}

impl Environment {
    pub fn new() -> Environment {
        Environment { pointers: crate::rt::CStrSlots::new(), hostname: [0; 80] }
    }
}

impl Default for Environment {
    fn default() -> Self {
        Environment::new()
    }
}

impl Environment {
    /// Fills the pointer array and returns it NULL-terminated for execve.
    /// `env` holds argv indices of `KEY=VALUE` entries.
    pub fn build(
        &mut self,
        hostname: &[u8],
        user: Option<(u32, u32)>,
        env: &[usize],
        process: &Process,
    ) -> crate::rt::CStrArray<'_> {
        let user_entries = || env.iter().map(|&i| process.arg(i).to_bytes());
        let overridden = |entry: &CStr| user_entries().any(|e| key(e) == key(entry.to_bytes()));
        // HOSTNAME=<name>, NUL-terminated in our own buffer.
        let prefix = b"HOSTNAME=";
        let end = prefix.len() + hostname.len();
        self.hostname[..prefix.len()].copy_from_slice(prefix);
        self.hostname[prefix.len()..end].copy_from_slice(hostname);
        self.hostname[end] = 0;
        // None only for a name with a NUL inside, which neither argv nor uname can hold.
        let hostname = crate::rt::c_str(&self.hostname[..=end]);
        let home: &CStr = if user.is_none_or(|(uid, _)| uid == 0) { c"HOME=/root" } else { c"HOME=/" };
        let term = process.envp().iter().find(|e| e.to_bytes().starts_with(b"TERM="));
        let defaults = [Some(spawn::DEFAULT_PATH_ENV), Some(home), hostname, term];
        let mut pointers = self.pointers.writer();
        for entry in defaults.into_iter().flatten() {
            if !overridden(entry) {
                pointers.push(entry);
            }
        }
        for (k, &i) in env.iter().enumerate() {
            let entry = process.arg(i);
            // A later -e of the same key wins.
            if env.iter().skip(k + 1).any(|&j| key(process.arg(j).to_bytes()) == key(entry.to_bytes())) {
                continue;
            }
            pointers.push(entry);
        }
        pointers.finish()
    }
}

/// The PATH COMMAND will have, to look COMMAND up with: the last `-e PATH=`, or the default.
pub fn command_path(env: &[usize], process: &Process) -> &'static [u8] {
    env.iter()
        .rev()
        .find_map(|&i| process.arg(i).to_bytes().strip_prefix(b"PATH="))
        .unwrap_or(spawn::DEFAULT_PATH)
}

/// The KEY of `KEY=VALUE`.
fn key(entry: &[u8]) -> &[u8] {
    let entry = entry.strip_suffix(b"\0").unwrap_or(entry);
    &entry[..entry.iter().position(|&b| b == b'=').unwrap_or(entry.len())]
}

/// The confinement a named container is recorded with (src/registry.rs): what its COMMAND was
/// given, and so what `husk exec` gives what it starts there.
pub fn confinement(config: &crate::config::Config) -> crate::registry::Confinement {
    let process = &config.process;
    let bounding = privileges(process, crate::procfs::root_is_initramfs()).bounding;
    crate::registry::Confinement {
        own_network: config.namespaces.network == crate::config::Namespace::New,
        user: process.user.unwrap_or((0, 0)),
        bounding,
        added: process.caps_added & bounding,
        seccomp: process.seccomp,
    }
}

/// The privileges of a process `husk exec` starts as `user` in a container confined as
/// `confinement`: its bounding set; root holds all of it, another user what --cap-add gave.
/// Its parent, exec's helper, has cut its own bounding set to this already.
pub fn recorded_privileges(confinement: &crate::registry::Confinement, user: (u32, u32)) -> Privileges {
    let bounding = confinement.bounding;
    let granted = if user.0 == 0 { bounding } else { bounding & confinement.added };
    Privileges { bounding, bounding_before: bounding, granted, seccomp: confinement.seccomp }
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
    spawn::shrink_bounding_set(bounding & !KILL)?;
    let kill = CapabilitySet::from_bits_retain(KILL);
    set_capabilities(
        None,
        CapabilitySets { effective: kill, permitted: kill, inheritable: CapabilitySet::empty() },
    )
}
