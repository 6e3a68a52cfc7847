//! COMMAND's environment, in `husk run` and `husk exec` alike: the clean start, `-e`, and the
//! PATH COMMAND is looked up with. (Its capabilities are caps.rs's.)

use core::ffi::CStr;

use crate::args::MAX_ENV;
use crate::rt::Process;
use crate::spawn;

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
