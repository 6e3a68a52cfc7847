//! COMMAND's environment, in `husk run` and `husk exec` alike: the clean start, the
//! `--env-file` entries, `-e`, and the PATH COMMAND is looked up with. (Its capabilities are
//! caps.rs's.) Also `--env-file` itself: read on the host before anything is built.

use core::ffi::CStr;

use crate::args::{MAX_ENV, MAX_ENV_FILES};
use crate::config::{EnvArg, Identity};
use crate::rt::Process;
use crate::spawn;
use crate::text::{fields, has_byte, split_once};

/// The most entries all `--env-file`s together may give.
pub const MAX_FILE_ENTRIES: usize = 256;

/// COMMAND's environment: a clean start (PATH, HOME, HOSTNAME, and TERM when the host has
/// it), then the `--env-file` entries, then each `-e`, in order; a later entry of a KEY
/// replaces an earlier one (Docker's order: the files, then `-e`).
pub struct Environment {
    /// None only if taken already, which one build per process never does: then COMMAND
    /// gets an empty environment rather than anything of husk's.
    storage: Option<&'static mut Storage>,
    empty: crate::rt::CStrSlots<1>,
}

/// Where the environment is built: in zero-filled data, not on the stack, so the room kept
/// for env files costs nothing when there are none (see `Reserved`).
struct Storage {
    /// `HOSTNAME=…` and `HOME=…`, made here; first, so that with the first pointers they
    /// share a page.
    hostname: [u8; 80],
    home: [u8; 262],
    pointers: crate::rt::CStrSlots<{ MAX_FILE_ENTRIES + MAX_ENV + 5 }>,
}

static STORAGE: crate::rt::Reserved<Storage> = crate::rt::Reserved::new(Storage {
    hostname: [0; 80],
    home: [0; 262],
    pointers: crate::rt::CStrSlots::new(),
});

impl Environment {
    pub fn new() -> Environment {
        Environment { storage: STORAGE.take(), empty: crate::rt::CStrSlots::new() }
    }
}

impl Default for Environment {
    fn default() -> Self {
        Environment::new()
    }
}

/// `prefix` + `value` + NUL in `buf` (which must have room: the callers size it).
fn entry<'b>(buf: &'b mut [u8], prefix: &[u8], value: &[u8]) -> Option<&'b CStr> {
    let end = prefix.len() + value.len();
    buf[..prefix.len()].copy_from_slice(prefix);
    buf[prefix.len()..end].copy_from_slice(value);
    buf[end] = 0;
    // None only for a value with a NUL inside, which neither argv nor a file line can hold.
    crate::rt::c_str(&buf[..=end])
}

/// Every entry of the environment, in order: the defaults, the env files', then `-e`'s.
struct Entries<'d, 'a> {
    defaults: [Option<&'d CStr>; 4],
    files: &'a [&'static CStr],
    env: &'a [EnvArg],
    process: &'a Process,
}

impl<'d> Entries<'d, '_> {
    fn len(&self) -> usize {
        self.defaults.len() + self.files.len() + self.env.len()
    }

    /// Entry `i`; None for a default the host lacks (TERM) or an `-e KEY` the caller lacks.
    fn get(&self, i: usize) -> Option<&'d CStr> {
        let (d, f) = (self.defaults.len(), self.files.len());
        match i {
            _ if i < d => self.defaults[i],
            _ if i < d + f => Some(self.files[i - d]),
            _ => resolve(self.env[i - d - f], self.process),
        }
    }
}

impl Environment {
    /// Fills the pointer array and returns it NULL-terminated for execve.
    pub fn build(
        &mut self,
        hostname: &[u8],
        user: Option<&Identity>,
        env: &[EnvArg],
        files: &[&'static CStr],
        process: &Process,
    ) -> crate::rt::CStrArray<'_> {
        let Some(Storage { hostname: hostname_buf, home: home_buf, pointers }) = self.storage.as_deref_mut()
        else {
            return self.empty.writer().finish();
        };
        let home: &[u8] = match user {
            Some(u) if !u.home.is_empty() => &u.home,
            _ if Identity::is_root(user) => b"/root",
            _ => b"/",
        };
        let term = process.envp().iter().find(|e| e.to_bytes().starts_with(b"TERM="));
        let defaults = [
            Some(spawn::DEFAULT_PATH_ENV),
            entry(home_buf, b"HOME=", home),
            entry(hostname_buf, b"HOSTNAME=", hostname),
            term,
        ];
        let all = Entries { defaults, files, env, process };
        // Each entry in order, unless a later one has its KEY (MAX_ENV and MAX_FILE_ENTRIES
        // bound how many there are: the slots have room for all).
        let mut pointers = pointers.writer();
        for i in 0..all.len() {
            let Some(entry) = all.get(i) else { continue };
            let key_of = |e: &CStr| key(e.to_bytes()) == key(entry.to_bytes());
            if !(i + 1..all.len()).any(|later| all.get(later).is_some_and(key_of)) {
                pointers.push(entry);
            }
        }
        pointers.finish()
    }
}

/// The `KEY=VALUE` an `-e` stands for: its argument (after `--env=` when inline), or for
/// `-e KEY` the caller's entry of KEY (none when the caller has none, as in Docker).
fn resolve(arg: EnvArg, process: &Process) -> Option<&'static CStr> {
    let whole = process.arg(arg.index as usize);
    let bytes = whole.to_bytes_with_nul();
    let text = if arg.inline { split_once(bytes, b'=').1? } else { bytes };
    let named = &text[..text.len() - 1];
    if has_byte(named, b'=') {
        return CStr::from_bytes_with_nul(text).ok();
    }
    caller_entry(process, named)
}

/// The caller's `KEY=…` entry for `-e KEY` or a `KEY` line of an env file.
#[inline(never)]
fn caller_entry(process: &Process, name: &[u8]) -> Option<&'static CStr> {
    process.envp().iter().find(|e| key(e.to_bytes()) == name)
}

/// The PATH COMMAND will have, to look COMMAND up with: the last `-e PATH=` or env file's
/// PATH, or the default.
pub fn command_path(env: &[EnvArg], files: &[&'static CStr], process: &Process) -> &'static [u8] {
    let args = env.iter().rev().filter_map(|&arg| resolve(arg, process));
    let files = files.iter().rev().copied();
    args.chain(files).find_map(|e| crate::text::after(e.to_bytes(), b"PATH=")).unwrap_or(spawn::DEFAULT_PATH)
}

/// The KEY of `KEY=VALUE`.
fn key(entry: &[u8]) -> &[u8] {
    split_once(entry, b'=').0
}

/// The entries of `--env-file`s (in zero-filled data, like `Storage`).
static FILE_ENTRIES: crate::rt::Reserved<heapless::Vec<&'static CStr, MAX_FILE_ENTRIES>> =
    crate::rt::Reserved::new(heapless::Vec::new());

/// Reads each `--env-file` as Docker does: a line is `KEY=VALUE` (taken as it is, no quotes
/// removed) or `KEY` (the caller's value, if it has one); blank lines and `#` comments are
/// skipped. A missing file, a line without a KEY, or more entries than there is room for:
/// the failure, before anything is built.
pub fn read_files<'a>(
    paths: &heapless::Vec<&'a [u8], MAX_ENV_FILES>,
    process: &Process,
) -> crate::error::Result<'a, &'static [&'static CStr]> {
    if paths.is_empty() {
        return Ok(&[]);
    }
    read_all(paths, process)
}

/// read_files's work, out of line: its path buffer is on the stack only when there are
/// files (a frame's pages stay resident once touched).
#[inline(never)]
fn read_all<'a>(
    paths: &heapless::Vec<&'a [u8], MAX_ENV_FILES>,
    process: &Process,
) -> crate::error::Result<'a, &'static [&'static CStr]> {
    use crate::error::{Failure, fail};
    use rustix::fd::AsFd;
    use rustix::fs::{Mode, OFlags};
    use rustix::io::Errno;
    let out = FILE_ENTRIES.take().ok_or(Failure::new("env-file", b"", Errno::BUSY))?;
    let mut path = crate::cpath::CPath::new();
    for &file in paths {
        let bad = |hint| Failure::new("env-file", file, Errno::INVAL).with_hint(hint);
        let c = path.of(&[file]).map_err(fail("env-file", file))?;
        // Read whole into memory of its own that is never freed (COMMAND's environment points
        // into it), with a NUL after the last byte.
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY;
        let fd = rustix::fs::open(c, flags, Mode::empty()).map_err(fail("env-file", file))?;
        let text = crate::rt::sys::read_whole(fd.as_fd(), MAX_FILE).map_err(fail("env-file", file))?;
        let (body, _) = text.split_at_mut(text.len() - 1);
        if has_byte(body, 0) {
            return Err(bad("a NUL byte in the file"));
        }
        // Each line's end becomes its NUL, in place: the lines are then C strings as they are.
        for b in body.iter_mut() {
            if *b == b'\n' || *b == b'\r' {
                *b = 0;
            }
        }
        let text: &'static [u8] = text;
        let mut start = 0;
        for line in fields(&text[..text.len() - 1], 0) {
            let end = start + line.len();
            start = end + 1;
            let trimmed = line.trim_ascii_start();
            let name = key(trimmed);
            let found = if trimmed.is_empty() || trimmed[0] == b'#' {
                None
            } else if name.is_empty() || has_byte(name, b' ') || has_byte(name, b'\t') {
                return Err(bad("a line is not KEY=VALUE or KEY"));
            } else if has_byte(trimmed, b'=') {
                // The line and the NUL after it, where the line ended.
                crate::rt::c_str(&text[end - trimmed.len()..=end])
            } else {
                caller_entry(process, name)
            };
            if let Some(entry) = found {
                out.push(entry).map_err(|_| {
                    Failure::new("env-file", file, Errno::TOOBIG).with_hint("at most 256 entries in all")
                })?;
            }
        }
    }
    Ok(out)
}

/// The biggest `--env-file` read.
const MAX_FILE: usize = 1 << 20;
