//! Every handshake between `husk run`'s host side and the container's init: the network
//! namespace made beside the init ([`Handshake`]), and the start gate ([`Gate`]).
//!
//! The container's own network namespace (`--net none`) is made by the host side while the
//! init builds the root, then joined by the init.
//!
//! A new network namespace is the longest single step of a container's start: every
//! per-namespace subsystem registers its sysctls and the loopback device (~0.45 ms here, in
//! the kernel's setup_net). It needs nothing from the root being built, so the two are done
//! side by side, on two CPUs when there are two:
//!
//! ```text
//!   host side (husk run)                   container's init
//!   clone3 into a new PID namespace ─────▶ (queued on this CPU, not running yet)
//!   sends the init to another CPU          unshare: mount, UTS, IPC, cgroup namespaces
//!   unshare(CLONE_NEWNET), loopback up     builds the root: /proc and its masks, /dev,
//!                                          pivot_root …
//!   "ready" (a byte down a pipe) ────────▶ waits for "ready"; setns(2) through the host
//!                                          side's pidfd: the same namespace; all its
//!                                          CPUs back; then /sys (a sysfs shows the network
//!                                          namespace of whoever mounts it: sysfs(5))
//! ```
//!
//! The kernel queues a new child behind its parent on the parent's CPU, where it would wait
//! until the parent sleeps; moving it while it has not run yet is cheap. (Moving the parent
//! instead would need the migration thread, and a woken child was not reliably placed on
//! the idle CPU here: sched(7).) The host side stays in the container's network namespace
//! until it exits; it has no use for a network.

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::pipe::{PipeFlags, pipe_with};
use rustix::thread::{ThreadNameSpaceType, move_into_thread_name_spaces};

use crate::error::Failure;
use crate::rt::sys;
use crate::status;

/// "Ready": a byte down a pipe made before the clone (read end, write end); and the CPUs
/// husk may use, which the init gets back once it has joined.
pub struct Handshake {
    ready: (OwnedFd, OwnedFd),
    cpus: Option<sys::Cpus>,
}

impl Handshake {
    pub fn new() -> Result<Self, Errno> {
        Ok(Handshake { ready: pipe_with(PipeFlags::CLOEXEC)?, cpus: sys::allowed_cpus() })
    }

    /// The descriptor the init keeps until it has joined; the other is the host side's.
    pub fn ready_fd(&self) -> BorrowedFd<'_> {
        self.ready.0.as_fd()
    }

    /// The host side, once the init is cloned: send the init to another CPU, make the
    /// namespace with loopback up, then tell the init. On failure the init hears nothing
    /// (end of file) and ends with 125 without a word; the step and errno are the caller's
    /// to report.
    /// With `network`, the namespace is plugged into husk's bridge, or another container's is
    /// joined (net/setup.rs).
    pub fn make(
        self,
        init: i32,
        network: Option<&crate::net::setup::Network>,
        publish: &[crate::config::Publish],
    ) -> Result<(), Failure<'static>> {
        // The new init is queued behind us, on this CPU, and has not run yet: moving it is
        // cheap (moving ourselves would take the migration thread). It gets all its CPUs
        // back in `join`, which only begins after our "ready".
        if let Some(mut elsewhere) = self.cpus {
            let here = sys::this_cpu() as usize;
            if let Some(word) = elsewhere.get_mut(here / 64) {
                *word &= !(1 << (here % 64));
            }
            if elsewhere.iter().any(|&word| word != 0) {
                sys::set_cpus(init, &elsewhere);
            }
        }
        match network {
            Some(network) => network.make(publish)?,
            None => crate::net::setup::new_namespace()?,
        }
        sys::write_all(rustix::fd::AsRawFd::as_raw_fd(&self.ready.1), &[0]);
        Ok(())
    }

    /// The init: wait for the host side's namespace, move into it, take back every CPU.
    /// If the host side could not make it (it said why), end here: nothing runs yet, and
    /// the mounts go with the init.
    pub fn join(&self, host: BorrowedFd) -> Result<(), Errno> {
        let mut byte = [1u8];
        if rustix::io::read(self.ready_fd(), &mut byte[..]) != Ok(1) {
            sys::exit(status::FAILURE);
        }
        if let Some(cpus) = &self.cpus {
            sys::set_cpus(0, cpus);
        }
        move_into_thread_name_spaces(host, ThreadNameSpaceType::NETWORK)
    }
}

/// The start gate: the init builds the whole container, then waits here until the host
/// side lets COMMAND start — so that create and start are two steps. `husk run` opens it at
/// once, or, for a named container, once the container is recorded (so that whoever sees
/// COMMAND run can find the container by its name). An open gate costs nothing: no pipe.
///
/// A closed gate also carries the other way the init's word that the container is built
/// (its root entered, its mounts made, its command line rewritten): only then is a named
/// container recorded, so `husk exec` never finds one half-built — still in the host's
/// mount namespace, or in a copy of the host's tree before pivot_root.
pub struct Gate {
    /// (read end, write end), or None for a gate that is open from the start.
    pipe: Option<(OwnedFd, OwnedFd)>,
    /// "Built", from the init: (the host's read end, the init's write end, which the host
    /// drops once the init has its copy).
    built: Option<(OwnedFd, Option<OwnedFd>)>,
    /// An OCI container's gate instead of the pipe: a FIFO in its state directory, open for
    /// reading and writing, into which `start` writes the byte (oci/state.rs).
    #[cfg(feature = "oci")]
    fifo: Option<OwnedFd>,
    /// Beside it, where the init says COMMAND runs (oci/state.rs).
    #[cfg(feature = "oci")]
    started: Option<OwnedFd>,
}

impl Gate {
    pub fn open() -> Gate {
        Gate {
            pipe: None,
            built: None,
            #[cfg(feature = "oci")]
            fifo: None,
            #[cfg(feature = "oci")]
            started: None,
        }
    }

    pub fn closed() -> Result<Gate, Errno> {
        let (read, write) = pipe_with(PipeFlags::CLOEXEC)?;
        Ok(Gate {
            pipe: Some(pipe_with(PipeFlags::CLOEXEC)?),
            built: Some((read, Some(write))),
            #[cfg(feature = "oci")]
            fifo: None,
            #[cfg(feature = "oci")]
            started: None,
        })
    }

    /// An OCI container's gate: `fifo`, which `start` opens, long after the host side that
    /// made the container has gone.
    #[cfg(feature = "oci")]
    pub fn fifo(fifo: OwnedFd, started: OwnedFd) -> Result<Gate, Errno> {
        let (read, write) = pipe_with(PipeFlags::CLOEXEC)?;
        Ok(Gate { pipe: None, built: Some((read, Some(write))), fifo: Some(fifo), started: Some(started) })
    }

    /// The init's end of an OCI gate's `started`, kept until COMMAND runs.
    pub fn started_fd(&self) -> Option<BorrowedFd<'_>> {
        #[cfg(feature = "oci")]
        return self.started.as_ref().map(|fd| fd.as_fd());
        #[cfg(not(feature = "oci"))]
        None
    }

    /// The init: COMMAND runs (an OCI `start` waits for this).
    pub fn ran(&self) {
        if let Some(started) = self.started_fd() {
            sys::write_all(rustix::fd::AsRawFd::as_raw_fd(&started), &[0]);
        }
    }

    /// The init's end, kept across its descriptor clean-up until it has passed.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        #[cfg(feature = "oci")]
        if let Some(fifo) = &self.fifo {
            return Some(fifo.as_fd());
        }
        self.pipe.as_ref().map(|(read, _)| read.as_fd())
    }

    /// The init's end of "built", kept with `fd` until the init has passed.
    pub fn built_fd(&self) -> Option<BorrowedFd<'_>> {
        self.built.as_ref().and_then(|(_, write)| write.as_ref()).map(|write| write.as_fd())
    }

    /// The init: the container is built. Behind an OCI gate, the init outlives the host side
    /// (`create` exits): its parent-death signal goes first.
    pub fn built(&self) {
        #[cfg(feature = "oci")]
        if self.fifo.is_some() {
            let _ = sys::clear_parent_death_signal();
        }
        if let Some(write) = self.built_fd() {
            sys::write_all(rustix::fd::AsRawFd::as_raw_fd(&write), &[0]);
        }
    }

    /// The host side, after the clone: waits until the init has built the container; false
    /// if it ended first (end of file: its copy of the write end went with it).
    pub fn wait_built(&mut self) -> bool {
        let Some((read, write)) = &mut self.built else { return true };
        drop(write.take());
        let mut byte = [1u8];
        rustix::io::read(&*read, &mut byte[..]) == Ok(1)
    }

    /// The host side: COMMAND may start.
    pub fn release(self) {
        if let Some((_, write)) = &self.pipe {
            sys::write_all(rustix::fd::AsRawFd::as_raw_fd(write), &[0]);
        }
    }

    /// The init: wait until the host side releases the gate. If it never will (it died:
    /// end of file), end here, before COMMAND: the mounts go with the init.
    pub fn pass(&self) {
        let Some(read) = self.fd() else { return };
        // The FIFO is open for writing too: a read waits for `start`, and never ends.
        #[cfg(feature = "oci")]
        if self.fifo.is_some() {
            let mut byte = [1u8];
            while rustix::io::read(read, &mut byte[..]) == Err(Errno::INTR) {}
            return;
        }
        let mut byte = [1u8];
        if rustix::io::read(read, &mut byte[..]) != Ok(1) {
            sys::exit(status::FAILURE);
        }
    }
}

/// The container's user namespace maps (userns.rs): the host side writes them once the
/// init is cloned, then says so with a byte down a pipe made before the clone. Until then
/// the init's ids are unmapped (it reads as 65534 and may create no file:
/// user_namespaces(7)), so it waits for the byte before it builds anything; what needs no
/// ids (its other namespaces, the network's loopback) it does meanwhile.
pub struct IdMaps {
    /// (the init's read end, the host side's write end).
    pipe: (OwnedFd, OwnedFd),
}

impl IdMaps {
    pub fn new() -> Result<Self, Errno> {
        Ok(IdMaps { pipe: pipe_with(PipeFlags::CLOEXEC)? })
    }

    /// The descriptor the init keeps until the maps are there.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.pipe.0.as_fd()
    }

    /// The host side: the maps are written.
    pub fn written(self) {
        sys::write_all(rustix::fd::AsRawFd::as_raw_fd(&self.pipe.1), &[0]);
    }

    /// The init: waits for the maps. If they never come (the host side said why, or died),
    /// ends here: nothing is built yet.
    pub fn wait(&self) {
        let mut byte = [1u8];
        if rustix::io::read(self.fd(), &mut byte[..]) != Ok(1) {
            sys::exit(status::FAILURE);
        }
    }
}
