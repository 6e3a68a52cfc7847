//! Networking: the one thing husk does to a network namespace.

use super::syscall::Result;

/// Brings the loopback interface of a new network namespace up, like `ip link set lo up`:
/// SIOCSIFFLAGS on a throwaway datagram socket (netdevice(7)).
pub fn loopback_up() -> Result<()> {
    const SIOCSIFFLAGS: rustix::ioctl::Opcode = 0x8914;
    // A new namespace's lo has exactly IFF_LOOPBACK (drivers/net/loopback.c), so there is
    // nothing to read first: the flags to set are that plus IFF_UP.
    const UP_LOOPBACK: u8 = 0x1 | 0x8;
    // struct ifreq: 16 bytes of name, then a union whose first member is `short ifr_flags`.
    let mut ifreq = [0u8; 40];
    (ifreq[0], ifreq[1]) = (b'l', b'o');
    ifreq[16] = UP_LOOPBACK;
    let socket = rustix::net::socket_with(
        rustix::net::AddressFamily::INET,
        rustix::net::SocketType::DGRAM,
        rustix::net::SocketFlags::CLOEXEC,
        None,
    )?;
    // SAFETY: SIOCSIFFLAGS reads and writes a struct ifreq, which `ifreq` is (40 bytes).
    unsafe { rustix::ioctl::ioctl(&socket, rustix::ioctl::Updater::<SIOCSIFFLAGS, _>::new(&mut ifreq)) }
}
