//! The netlink transport (netlink(7), https://man7.org/linux/man-pages/man7/netlink.7.html):
//! a socket, one builder that writes messages and their attributes into a caller's buffer,
//! and one loop that sends a buffer and reads the kernel's answers.
//!
//! Every request husk sends asks for an answer (NLM_F_ACK, or NLM_F_DUMP whose answer ends
//! with NLMSG_DONE) and is numbered by its sequence number, from 1; the few that must not be
//! answered (nfnetlink's batch markers) carry sequence number 0. So [`Socket::transact`] knows
//! how many answers to wait for, and drains them all before it returns, even after an error:
//! nothing stale is left for the next request on the same socket.

use core::mem::MaybeUninit;
use rustix::fd::OwnedFd;
use rustix::io::Errno;
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};

/// nlmsghdr flags (linux/netlink.h).
pub const REQUEST: u16 = 0x1;
pub const ACK: u16 = 0x4;
pub const DUMP: u16 = 0x300;
pub const EXCL: u16 = 0x200;
pub const CREATE: u16 = 0x400;
pub const APPEND: u16 = 0x800;
/// The message types that answer a request: an error (0 = an acknowledgement), a dump's end.
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
/// The attribute type bit that marks a nest (libnftnl sets it, the kernel accepts it everywhere).
const NLA_F_NESTED: u16 = 0x8000;

/// A netlink socket, bound to the network namespace of the thread that opened it.
pub struct Socket(OwnedFd);

impl Socket {
    /// NETLINK_ROUTE: links, addresses, routes (rtnetlink(7)).
    pub fn route() -> Result<Socket, Errno> {
        Self::open(None)
    }

    /// NETLINK_NETFILTER: nf_tables.
    pub fn netfilter() -> Result<Socket, Errno> {
        Self::open(Some(rustix::net::netlink::NETFILTER))
    }

    fn open(protocol: Option<rustix::net::Protocol>) -> Result<Socket, Errno> {
        rustix::net::socket_with(AddressFamily::NETLINK, SocketType::RAW, SocketFlags::CLOEXEC, protocol)
            .map(Socket)
    }

    /// Sends every message of `msg` in one datagram (the kernel handles them in order, and
    /// nfnetlink a batch as one transaction) and reads answers until each numbered message has
    /// its acknowledgement or NLMSG_DONE. Every other message (a GET's reply, a dump's entries)
    /// goes to `each` as its payload after the nlmsghdr (its type is the request's reply
    /// type). The first error wins.
    pub fn transact(&self, msg: &mut Msg, each: &mut dyn FnMut(&[u8])) -> Result<(), Errno> {
        let bytes = msg.finish()?;
        rustix::net::send(&self.0, bytes, SendFlags::empty())?;
        let mut waiting = msg.seq;
        let mut result = Ok(());
        // A dump's datagram is at most 8 KiB as long as our buffer is (netlink_dump sizes it
        // after our largest read, capped at 32 KiB, and after NLMSG_GOODSIZE).
        let mut buf = [MaybeUninit::<u8>::uninit(); 8192];
        while waiting > 0 {
            let ((got, _), _) = rustix::net::recv(&self.0, &mut buf, RecvFlags::empty())?;
            let mut rest: &[u8] = got;
            while rest.len() >= 16 {
                let len = (u32_at(rest, 0) as usize).clamp(16, rest.len());
                let (kind, seq, body) = (u32_at(rest, 4) as u16, u32_at(rest, 8), &rest[16..len]);
                rest = rest.get(align(len)..).unwrap_or_default();
                if kind != NLMSG_ERROR && kind != NLMSG_DONE {
                    each(body);
                    continue;
                }
                let code = u32_at(body, 0) as i32;
                if code < 0 && result.is_ok() {
                    result = Err(Errno::from_raw_os_error(-code));
                }
                if seq != 0 {
                    waiting = waiting.saturating_sub(1);
                }
            }
        }
        result
    }

    /// [`Socket::transact`] for requests answered by acknowledgements alone.
    pub fn ack(&self, msg: &mut Msg) -> Result<(), Errno> {
        self.transact(msg, &mut |_| {})
    }
}

/// The first attribute of type `kind` in `body` after its `fixed`-byte family header, if any.
pub fn attr(body: &[u8], fixed: usize, kind: u16) -> Option<&[u8]> {
    let mut rest = body.get(fixed..)?;
    while rest.len() >= 4 {
        let len = (u16::from_ne_bytes([rest[0], rest[1]]) as usize).clamp(4, rest.len());
        if u16::from_ne_bytes([rest[2], rest[3]]) & !NLA_F_NESTED == kind {
            return Some(&rest[4..len]);
        }
        rest = rest.get(align(len)..)?;
    }
    None
}

/// A native-endian u32 at `at` in `bytes` (0 past its end).
pub fn u32_at(bytes: &[u8], at: usize) -> u32 {
    bytes.get(at..at + 4).map_or(0, |b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

fn align(len: usize) -> usize {
    (len + 3) & !3
}

/// Netlink messages being written into a buffer: [`Msg::start`] a message, then attributes
/// and nests; lengths are filled in as each ends. Writing past the buffer does not panic:
/// it makes [`Socket::transact`] fail with ENOBUFS.
pub struct Msg<'a> {
    buf: &'a mut [u8],
    len: usize,
    /// Where the current message begins.
    head: usize,
    /// How many messages will be answered (the last sequence number given).
    seq: u32,
    overflow: bool,
}

impl<'a> Msg<'a> {
    pub fn new(buf: &'a mut [u8]) -> Msg<'a> {
        Msg { buf, len: 0, head: 0, seq: 0, overflow: false }
    }

    /// Starts a message of type `kind` with `flags` (NLM_F_REQUEST added) whose family header
    /// (ifinfomsg, rtmsg, nfgenmsg…) is `fixed`. With ACK or DUMP in `flags` it is numbered
    /// and answered; without, it gets sequence number 0 and no answer is awaited.
    pub fn start(&mut self, kind: u16, flags: u16, fixed: &[u8]) -> &mut Self {
        self.end_message();
        self.head = self.len;
        let seq = if flags & (ACK | DUMP) != 0 {
            self.seq += 1;
            self.seq
        } else {
            0
        };
        // struct nlmsghdr: length (filled in at the end), type, flags, sequence, port 0; laid
        // out as one little-endian number, x86_64's byte order (the only one husk builds for).
        let h = (kind as u128) << 32 | ((flags | REQUEST) as u128) << 48 | (seq as u128) << 64;
        self.put(&h.to_le_bytes()).put(fixed)
    }

    /// Appends raw bytes (a nest's fixed header, such as VETH_INFO_PEER's ifinfomsg).
    pub fn put(&mut self, bytes: &[u8]) -> &mut Self {
        match self.buf.get_mut(self.len..self.len + bytes.len()) {
            Some(to) => to.copy_from_slice(bytes),
            None => self.overflow = true,
        }
        self.len += bytes.len();
        self
    }

    /// An attribute holding `data`.
    pub fn attr(&mut self, kind: u16, data: &[u8]) -> &mut Self {
        let at = self.open(kind);
        self.put(data).close(at)
    }

    /// An attribute holding the C string `s` (NUL added).
    pub fn str(&mut self, kind: u16, s: &[u8]) -> &mut Self {
        let at = self.open(kind);
        self.put(s).put(&[0]).close(at)
    }

    /// A native-endian u32 attribute (rtnetlink's).
    pub fn u32(&mut self, kind: u16, v: u32) -> &mut Self {
        self.attr(kind, &v.to_ne_bytes())
    }

    /// A big-endian u32 attribute (nf_tables').
    pub fn be32(&mut self, kind: u16, v: u32) -> &mut Self {
        self.attr(kind, &v.to_be_bytes())
    }

    /// Opens a nest of type `kind`; what follows until [`Msg::close`] of the returned offset
    /// is inside it.
    pub fn nest(&mut self, kind: u16) -> usize {
        self.open(kind | NLA_F_NESTED)
    }

    fn open(&mut self, kind: u16) -> usize {
        let at = self.len;
        self.put(&[0; 2]).put(&kind.to_ne_bytes());
        at
    }

    /// Ends the attribute or nest opened at `at`: fills in its length, pads to 4 bytes.
    pub fn close(&mut self, at: usize) -> &mut Self {
        self.patch(at, &((self.len - at) as u16).to_ne_bytes());
        self.put(&[0; 3][..align(self.len) - self.len])
    }

    fn patch(&mut self, at: usize, bytes: &[u8]) {
        if let Some(to) = self.buf.get_mut(at..at + bytes.len()) {
            to.copy_from_slice(bytes);
        }
    }

    fn end_message(&mut self) {
        self.patch(self.head, &((self.len - self.head) as u32).to_ne_bytes());
    }

    /// The bytes to send, every message's length filled in.
    pub fn finish(&mut self) -> Result<&[u8], Errno> {
        self.end_message();
        match self.buf.get(..self.len) {
            Some(bytes) if !self.overflow => Ok(bytes),
            _ => Err(Errno::NOBUFS),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_attributes_and_nests_are_laid_out_as_netlink_7_says() {
        let mut buf = [0xaau8; 64];
        let mut m = Msg::new(&mut buf);
        m.start(16, ACK | CREATE, &[1, 2, 3, 4]).str(3, b"ab");
        let n = m.nest(18);
        m.u32(1, 7).close(n);
        m.start(0x10, 0, &[0, 0, 0, 10]);
        #[rustfmt::skip]
        let want: &[u8] = &[
            40, 0, 0, 0, 16, 0, 5, 4, 1, 0, 0, 0, 0, 0, 0, 0, // nlmsghdr: REQUEST|ACK|CREATE, seq 1
            1, 2, 3, 4, // the family header
            7, 0, 3, 0, b'a', b'b', 0, 0, // "ab\0" + pad
            12, 0, 18, 0x80, 8, 0, 1, 0, 7, 0, 0, 0, // nest { u32 7 }
            20, 0, 0, 0, 0x10, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, // no ACK: seq 0
        ];
        assert_eq!(m.finish().unwrap(), want);
        assert_eq!(m.seq, 1);
    }

    #[test]
    fn a_buffer_too_small_is_enobufs_not_a_panic() {
        let mut buf = [0u8; 24];
        let mut m = Msg::new(&mut buf);
        m.start(16, ACK, &[0; 4]).str(3, b"too long for it");
        let n = m.nest(1);
        m.close(n);
        assert_eq!(m.finish(), Err(Errno::NOBUFS));
    }

    #[test]
    fn attributes_are_found_after_the_fixed_header() {
        let body = [9, 9, 9, 9, 5, 0, 1, 0, b'x', 0, 0, 0, 8, 0, 2, 0x80, 1, 2, 3, 4];
        assert_eq!(attr(&body, 4, 1), Some(&b"x"[..]));
        assert_eq!(attr(&body, 4, 2), Some(&[1, 2, 3, 4][..]));
        assert_eq!(attr(&body, 4, 3), None);
        assert_eq!(attr(&body[..6], 4, 1), None);
        assert_eq!(attr(&body, 40, 1), None);
    }
}
