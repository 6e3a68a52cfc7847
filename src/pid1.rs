//! The init's duties once COMMAND runs: forward every signal, reap every zombie, pass
//! COMMAND's status on, and (with a grace period) end whatever is left.

use core::mem::MaybeUninit;

use rustix::fd::AsFd;
use rustix::fs::{Mode, OFlags, RawDir, open};
use rustix::io::Errno;
use rustix::process::{WaitOptions, getpid, wait};

use crate::out::Line;
use crate::rt::sys::{self, SigSet};
use crate::signals::{SIGCHLD, SIGKILL, SIGTERM};
use crate::status::Ending;

/// Where husk stands in the process tree, which decides how it finds "everything left".
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Place {
    /// PID 1 of a PID namespace: orphans come to us by the kernel's rule, and kill(-1)
    /// reaches every other process of the namespace.
    NamespaceInit,
    /// An ordinary process made child subreaper (prctl(2), PR_SET_CHILD_SUBREAPER):
    /// orphaned descendants come to us; "the rest" is our descendants, found in /proc.
    Subreaper,
}

impl Place {
    /// Takes up the right place: PID 1 already is one; anyone else becomes a subreaper.
    pub fn take() -> Place {
        if getpid().is_init() {
            Place::NamespaceInit
        } else {
            // Silently: an init that cannot subreap still runs COMMAND correctly.
            let _ = rustix::process::set_child_subreaper(Some(getpid()));
            Place::Subreaper
        }
    }
}

/// Watches one COMMAND process.
pub struct Supervisor {
    pub child: i32,
    /// Forward to COMMAND's process group (`-g`) rather than to COMMAND alone.
    pub group: bool,
    pub place: Place,
}

/// What to do with a signal husk received: forward some signal, or nothing.
pub type Router<'a> = &'a mut dyn FnMut(i32) -> Option<i32>;

impl Supervisor {
    /// Waits until COMMAND ends, forwarding signals as `route` says and reaping every
    /// zombie on the way. Blocks with no timeout: an idle init costs no wakeups.
    pub fn wait(&self, route: Router) -> Ending {
        self.watch(route, 0)
    }

    /// [`Supervisor::wait`], telling on stderr what it does: with `verbosity` 1 how COMMAND
    /// ended, with 2 every signal and every reaped process too.
    pub fn watch(&self, route: Router, verbosity: u8) -> Ending {
        loop {
            // Reap before sleeping: SIGCHLD coalesces, and COMMAND may already have ended.
            if let Some(ending) = self.reap_ready(verbosity) {
                return ending;
            }
            match sys::wait_signal(SigSet::FULL, None) {
                Ok(SIGCHLD) | Err(_) => {}
                Ok(sig) => {
                    let forward = route(sig);
                    let target = if self.group { -self.child } else { self.child };
                    if verbosity > 1 {
                        tell_forwarded(sig, forward, target);
                    }
                    if let Some(forward) = forward {
                        // ESRCH means COMMAND is already gone; its SIGCHLD is on its way.
                        let _ = sys::kill(target, forward);
                    }
                }
            }
        }
    }

    /// Reaps every zombie that is ready; returns COMMAND's ending if it was among them.
    fn reap_ready(&self, verbosity: u8) -> Option<Ending> {
        let mut ending = None;
        while let Ok(Some((pid, status))) = wait(WaitOptions::NOHANG) {
            let pid = pid.as_raw_nonzero().get();
            let this = Ending::from_wait_status(status.as_raw() as u32);
            if pid == self.child {
                ending = this;
            }
            if let Some(this) = this
                && verbosity > (pid != self.child) as u8
            {
                tell_reaped(pid, this);
            }
        }
        ending
    }

    /// Ends everything left after COMMAND: SIGTERM, up to `grace_ms` for it to exit, then
    /// SIGKILL, reaping all along. Returns when husk has no children left.
    pub fn end_the_rest(&self, grace_ms: u64) {
        self.signal_rest(SIGTERM);
        let deadline = sys::monotonic_ns() + grace_ms * 1_000_000;
        while self.has_children() {
            let now = sys::monotonic_ns();
            if now >= deadline {
                break;
            }
            // Other signals are dropped here: COMMAND, their addressee, is gone.
            let _ = sys::wait_signal(SigSet::FULL, Some(deadline - now));
        }
        // A process can fork between our scan and its SIGKILL, and its child then comes to
        // us: repeat until nothing is left.
        while self.has_children() {
            self.signal_rest(SIGKILL);
            let _ = sys::wait_signal(SigSet::FULL, Some(100_000_000));
        }
    }

    /// Reaps what is ready and tells whether any child remains.
    fn has_children(&self) -> bool {
        loop {
            match wait(WaitOptions::NOHANG) {
                Ok(Some(_)) => continue,
                Ok(None) => return true,
                Err(Errno::INTR) => continue,
                Err(_) => return false, // ECHILD
            }
        }
    }

    /// Sends `sig` to every process left that husk is responsible for.
    fn signal_rest(&self, sig: i32) {
        match self.place {
            // kill(-1) from a namespace's init reaches every process in the namespace
            // except the init itself (kill(2)).
            Place::NamespaceInit => {
                let _ = sys::kill(-1, sig);
            }
            Place::Subreaper => {
                if signal_descendants(sig).is_err() {
                    // No /proc to walk: COMMAND's process group is the best we can reach.
                    let _ = sys::kill(-self.child, sig);
                }
            }
        }
    }
}

/// `husk: forwarded SIGTERM [as SIGQUIT] to pid|group N`, or `husk: dropped SIGINT`.
#[inline(never)]
fn tell_forwarded(sig: i32, forward: Option<i32>, target: i32) {
    let mut line = Line::new();
    line.str(if forward.is_some() { "husk: forwarded " } else { "husk: dropped " });
    signal_name(&mut line, sig);
    if let Some(forward) = forward {
        if forward != sig {
            line.str(" as ");
            signal_name(&mut line, forward);
        }
        line.str(if target < 0 { " to group " } else { " to pid " }).num(target.unsigned_abs() as u64);
    }
    line.write_to(2);
}

/// `husk: reaped pid N: exit status S` or `...: killed by SIGX`.
#[inline(never)]
fn tell_reaped(pid: i32, ending: Ending) {
    let mut line = Line::new();
    line.str("husk: reaped pid ").num(pid as u64);
    match ending {
        Ending::Exited(code) => line.str(": exit status ").num(code as u64),
        Ending::Killed(sig) => signal_name(line.str(": killed by "), sig),
    };
    line.write_to(2);
}

/// `SIGTERM`, or `signal 40` for one without a name.
pub fn signal_name(line: &mut Line, sig: i32) -> &mut Line {
    match crate::signals::name(sig) {
        Some(name) => line.str("SIG").bytes(name),
        None => line.str("signal ").num(sig as u64),
    }
}

/// How many processes the /proc walk can hold: 96 KiB of stack (8 bytes a pid and parent
/// pair, 4 a member of the family), used only while ending the rest.
const MAX_PROCESSES: usize = 8192;

/// Signals every descendant of husk, found by walking /proc/*/stat for parent links.
fn signal_descendants(sig: i32) -> Result<(), Errno> {
    let mut links: heapless::Vec<(i32, i32), MAX_PROCESSES> = heapless::Vec::new();
    let proc_dir = open(c"/proc", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
    let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
    let mut dir = RawDir::new(proc_dir.as_fd(), &mut buf);
    while let Some(entry) = dir.next() {
        let Ok(entry) = entry else { break };
        let name = entry.file_name();
        let Some(pid) = crate::procfs::parse_pid(name.to_bytes()) else {
            continue;
        };
        if let Some(ppid) = crate::procfs::parent(proc_dir.as_fd(), name)
            && links.push((pid, ppid)).is_err()
        {
            break;
        }
    }
    let me = getpid().as_raw_nonzero().get();
    let mut family: heapless::Vec<i32, MAX_PROCESSES> = heapless::Vec::new();
    let _ = family.push(me);
    // Grow the family until no process has a parent inside it that it is not in itself.
    let mut grew = true;
    while grew {
        grew = false;
        for &(pid, ppid) in &links {
            if family.contains(&ppid) && !family.contains(&pid) && family.push(pid).is_ok() {
                grew = true;
            }
        }
    }
    for &pid in family.iter().skip(1) {
        let _ = sys::kill(pid, sig);
    }
    Ok(())
}
