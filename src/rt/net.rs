//! Networking: the one thing husk does to a network namespace.

use linux_raw_sys::general as k;

use super::syscall::{Result, check, syscall1, syscall3};

/// Brings the loopback interface of a new network namespace up, like `ip link set lo up`:
/// SIOCSIFFLAGS on a throwaway datagram socket (netdevice(7)).
pub fn loopback_up() -> Result<()> {
    const AF_INET: usize = 2;
    const SOCK_DGRAM_CLOEXEC: usize = 2 | 0o2_000_000;
    const SIOCSIFFLAGS: usize = 0x8914;
    // A new namespace's lo has exactly IFF_LOOPBACK (drivers/net/loopback.c), so there is
    // nothing to read first: the flags to set are that plus IFF_UP.
    const UP_LOOPBACK: u8 = 0x1 | 0x8;
    // struct ifreq: 16 bytes of name, then a union whose first member is `short ifr_flags`.
    let mut ifreq = [0u8; 40];
    (ifreq[0], ifreq[1]) = (b'l', b'o');
    ifreq[16] = UP_LOOPBACK;
    // SAFETY: plain integer arguments.
    let fd = check(unsafe { syscall3(k::__NR_socket, AF_INET, SOCK_DGRAM_CLOEXEC, 0) })?;
    // SAFETY: ifreq is a 40-byte struct ifreq; fd is our socket.
    let result = check(unsafe { syscall3(k::__NR_ioctl, fd, SIOCSIFFLAGS, ifreq.as_mut_ptr() as usize) });
    // SAFETY: closing the socket we opened above.
    unsafe { syscall1(k::__NR_close, fd) };
    result.map(|_| ())
}
