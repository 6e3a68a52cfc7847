//! `process.terminal` with `--console-socket` (runtime-spec config.md "terminal"; runc's
//! docs/terminals.md): the init opens a pseudo-terminal in the container's own devpts, sends
//! its master over the engine's unix socket (SCM_RIGHTS), as conmon and containerd's shim
//! expect, and takes the other end as its standard streams and controlling terminal, which
//! COMMAND then gets as its own (its process group in the foreground).

use rustix::fd::{AsFd, BorrowedFd};
use rustix::io::Errno;

use crate::error::{Failure, Result};

/// The engine's console socket, connected before anything is built (a path that is no
/// socket is an error then, not after the container exists).
pub fn connect(path: &[u8]) -> Result<'_, rustix::fd::OwnedFd> {
    use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType, connect, socket_with};
    let fail = |e| Failure::new("console-socket", path, e);
    let socket =
        socket_with(AddressFamily::UNIX, SocketType::STREAM, SocketFlags::CLOEXEC, None).map_err(fail)?;
    let addr = SocketAddrUnix::new(path).map_err(fail)?;
    connect(&socket, &addr).map_err(fail)?;
    Ok(socket)
}

/// In the init, the root entered: the terminal made and its master sent; the init's stdio
/// is its other end from here on.
pub fn set_up(size: Option<crate::json::Value>, socket: BorrowedFd) -> Result<'static, ()> {
    use rustix::pty::{OpenptFlags, ioctl_tiocgptpeer, openpt, unlockpt};
    let fail = |step| move |e| Failure::new(step, b"", e).with_hint("process.terminal");
    let flags = OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC;
    let master = openpt(flags).map_err(fail("/dev/ptmx"))?;
    unlockpt(&master).map_err(fail("unlockpt"))?;
    let peer = ioctl_tiocgptpeer(&master, flags).map_err(fail("pty"))?;
    if let Some(size) = size {
        let get = |k: &[u8]| size.get(k).and_then(|v| v.as_u64()).unwrap_or(0) as u16;
        let winsize = rustix::termios::Winsize {
            ws_row: get(b"height"),
            ws_col: get(b"width"),
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(&peer, winsize).map_err(fail("consoleSize"))?;
    }
    send(socket, master.as_fd()).map_err(fail("console-socket"))?;
    drop(master);
    // A session of its own, with the terminal as its controlling one (COMMAND, in a group of
    // its own, is put in the terminal's foreground: spawn.rs).
    rustix::process::setsid().map_err(fail("setsid"))?;
    rustix::process::ioctl_tiocsctty(&peer).map_err(fail("TIOCSCTTY"))?;
    rustix::stdio::dup2_stdin(&peer).map_err(fail("dup2"))?;
    rustix::stdio::dup2_stdout(&peer).map_err(fail("dup2"))?;
    rustix::stdio::dup2_stderr(&peer).map_err(fail("dup2"))
}

/// One byte with `fd` attached (SCM_RIGHTS): what an engine's console socket reads.
fn send(socket: BorrowedFd, fd: BorrowedFd) -> core::result::Result<(), Errno> {
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags, sendmsg};
    let mut space = [core::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    let fds = [fd];
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(Errno::NOSPC);
    }
    let data = [rustix::io::IoSlice::new(b"husk")];
    sendmsg(socket, &data, &mut control, SendFlags::empty()).map(drop)
}
