//! Output: one small line buffer written with a single write(2), the one error format
//! `husk: <step> <path>: <reason> (<ERRNO>)`, and the errno names that format needs.

use rustix::io::Errno;
use ufmt::uWrite;

/// A line assembled in memory and written with one write(2), so lines from several
/// processes never interleave mid-line. Text beyond the capacity is cut, never a panic, and
/// the final newline always has room.
pub struct Line {
    buf: heapless::Vec<u8, { MAX_QUOTED + 256 }>,
}

/// The most bytes of one user-given string (a path, an option) quoted in a message:
/// PATH_MAX, so real paths are shown whole and the reason after them always fits.
pub const MAX_QUOTED: usize = 4096;

impl Line {
    pub fn new() -> Line {
        Line { buf: heapless::Vec::new() }
    }

    /// Appends raw bytes (paths and arguments are bytes, not necessarily UTF-8).
    #[inline(never)]
    pub fn bytes(&mut self, b: &[u8]) -> &mut Line {
        let room = self.buf.capacity() - 1 - self.buf.len();
        let _ = self.buf.extend_from_slice(&b[..b.len().min(room)]);
        self
    }

    /// Appends user-given bytes, cut to MAX_QUOTED with `...` when longer, and shown safe
    /// for a terminal ([`Line::shown`]).
    pub fn quoted(&mut self, b: &[u8]) -> &mut Line {
        if b.len() > MAX_QUOTED { self.shown(&b[..MAX_QUOTED]).str("...") } else { self.shown(b) }
    }

    /// Appends bytes that someone else chose (an argument, a path, a container's command)
    /// so that a terminal shows them and obeys none of them: control characters (C0, DEL
    /// and the C1 range U+0080-U+009F, which some terminals take for escape sequences) and
    /// bytes that are not UTF-8 appear as `\xNN`, a backslash as `\\`; printable ASCII and
    /// other UTF-8 text as they are.
    #[inline(never)]
    pub fn shown(&mut self, b: &[u8]) -> &mut Line {
        let mut i = 0;
        while i < b.len() {
            let n = printable_utf8(&b[i..]);
            if n == 0 {
                self.escape(b[i]);
                i += 1;
            } else {
                self.bytes(&b[i..i + n]);
                i += n;
            }
        }
        self
    }

    /// `\\` for a backslash, `\xNN` for any other byte.
    fn escape(&mut self, byte: u8) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        if byte == b'\\' {
            self.bytes(b"\\\\");
        } else {
            self.bytes(&[b'\\', b'x', HEX[(byte >> 4) as usize], HEX[(byte & 0xf) as usize]]);
        }
    }

    pub fn str(&mut self, s: &str) -> &mut Line {
        self.bytes(s.as_bytes())
    }

    #[inline(never)]
    pub fn num(&mut self, n: u64) -> &mut Line {
        self.bytes(crate::text::digits(n, 10, &mut [0; 24]).to_bytes())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Writes the line (plus a newline) to `fd`.
    #[inline(never)]
    pub fn write_to(&mut self, fd: i32) {
        // bytes() always leaves one byte free, so the newline fits.
        let _ = self.buf.push(b'\n');
        crate::rt::sys::write_all(fd, &self.buf);
    }
}

/// The length of the character `b` starts with when it is one a terminal only prints:
/// printable ASCII (not DEL, not a backslash, which `shown` doubles), or a well-formed
/// UTF-8 sequence (no overlong form, no surrogate, at most U+10FFFF) that is not a C1
/// control (U+0080-U+009F). 0 for anything else.
fn printable_utf8(b: &[u8]) -> usize {
    let lead = b[0];
    let (len, min) = match lead {
        0x20..=0x7e => return if lead == b'\\' { 0 } else { 1 },
        0xc2..=0xdf => (2, 0xa0),
        0xe0..=0xef => (3, 0x800),
        0xf0..=0xf4 => (4, 0x1_0000),
        _ => return 0,
    };
    let Some(tail) = b.get(1..len) else { return 0 };
    let mut c = (lead as u32) & (0x7f >> len);
    for &t in tail {
        if t & 0xc0 != 0x80 {
            return 0;
        }
        c = c << 6 | (t & 0x3f) as u32;
    }
    let surrogate = (0xd800..0xe000).contains(&c);
    if c < min || c > 0x10_ffff || surrogate { 0 } else { len }
}

impl Default for Line {
    fn default() -> Self {
        Line::new()
    }
}

impl uWrite for Line {
    type Error = core::convert::Infallible;
    fn write_str(&mut self, s: &str) -> Result<(), Self::Error> {
        self.bytes(s.as_bytes());
        Ok(())
    }
}

/// Formats `husk: <step> <path>: <reason> (<ERRNO>)`; `path` may be empty.
pub fn format_error(line: &mut Line, step: &[u8], path: &[u8], errno: Errno) {
    line.str("husk: ").bytes(step);
    if !path.is_empty() {
        line.str(" ").quoted(path);
    }
    line.str(": ");
    match describe(errno) {
        Some((name, text)) => line.bytes(text).str(" (").bytes(name).str(")"),
        None => line.str("error ").num(errno.raw_os_error() as u64),
    };
}

/// Prints the one-line error for a failed step to stderr.
pub fn error(step: &str, path: &[u8], errno: Errno) {
    let mut line = Line::new();
    format_error(&mut line, step.as_bytes(), path, errno);
    line.write_to(2);
}

/// Prints the one-line error with a hint on what to do: `husk: <step> <path>: <reason>
/// (<ERRNO>): <hint>`.
pub fn error_with_hint(step: &[u8], path: &[u8], errno: Errno, hint: &[u8]) {
    let mut line = Line::new();
    format_error(&mut line, step, path, errno);
    if !hint.is_empty() {
        line.str(": ").bytes(hint);
    }
    #[cfg(feature = "oci")]
    crate::oci::log::error(line.as_bytes());
    line.write_to(2);
}

/// Prints `husk: <message>` to stderr.
pub fn message(parts: &[&[u8]]) {
    let mut line = Line::new();
    line.str("husk: ");
    for p in parts {
        line.bytes(p);
    }
    line.write_to(2);
}

/// Writes text to stdout as is (help and version).
pub fn print(text: &str) {
    crate::rt::sys::write_all(1, text.as_bytes());
}

/// errno number, symbolic name, and the text `strerror` would give, one per line. One
/// string rather than a table of string slices: a third of the size in the binary, and only
/// read on the way out with an error.
const ERRNOS: &str = "\
1 EPERM Operation not permitted\n\
2 ENOENT No such file or directory\n\
3 ESRCH No such process\n\
4 EINTR Interrupted system call\n\
5 EIO Input/output error\n\
6 ENXIO No such device or address\n\
7 E2BIG Argument list too long\n\
8 ENOEXEC Exec format error\n\
9 EBADF Bad file descriptor\n\
10 ECHILD No child processes\n\
11 EAGAIN Resource temporarily unavailable\n\
12 ENOMEM Cannot allocate memory\n\
13 EACCES Permission denied\n\
14 EFAULT Bad address\n\
16 EBUSY Device or resource busy\n\
17 EEXIST File exists\n\
18 EXDEV Invalid cross-device link\n\
19 ENODEV No such device\n\
20 ENOTDIR Not a directory\n\
21 EISDIR Is a directory\n\
22 EINVAL Invalid argument\n\
23 ENFILE Too many open files in system\n\
24 EMFILE Too many open files\n\
25 ENOTTY Inappropriate ioctl for device\n\
26 ETXTBSY Text file busy\n\
27 EFBIG File too large\n\
28 ENOSPC No space left on device\n\
30 EROFS Read-only file system\n\
31 EMLINK Too many links\n\
32 EPIPE Broken pipe\n\
34 ERANGE Numerical result out of range\n\
36 ENAMETOOLONG File name too long\n\
38 ENOSYS Function not implemented\n\
39 ENOTEMPTY Directory not empty\n\
40 ELOOP Too many levels of symbolic links\n\
74 EBADMSG Bad message\n\
75 EOVERFLOW Value too large for defined data type\n\
93 EPROTONOSUPPORT Protocol not supported\n\
95 EOPNOTSUPP Operation not supported\n\
98 EADDRINUSE Address already in use\n\
101 ENETUNREACH Network is unreachable\n\
105 ENOBUFS No buffer space available\n\
110 ETIMEDOUT Connection timed out\n\
";

/// The symbolic name and text of an errno, when husk knows it. (Bytes, split by hand: str's
/// line and pattern searching would add more code than the table weighs.)
pub fn describe(errno: Errno) -> Option<(&'static [u8], &'static [u8])> {
    let n = errno.raw_os_error();
    let field = |s: &'static [u8]| s.iter().position(|&b| b == b' ').map(|i| (&s[..i], &s[i + 1..]));
    crate::text::fields(ERRNOS.as_bytes(), b'\n').find_map(|line| {
        let (number, rest) = field(line)?;
        if crate::text::parse_decimal(number, 4)? != n as u64 {
            return None;
        }
        field(rest)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(step: &str, path: &[u8], errno: Errno) -> String {
        let mut line = Line::new();
        format_error(&mut line, step.as_bytes(), path, errno);
        String::from_utf8(line.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn error_format() {
        assert_eq!(
            fmt("exec", b"nosuch", Errno::NOENT),
            "husk: exec nosuch: No such file or directory (ENOENT)"
        );
        assert_eq!(fmt("exec", b"/etc", Errno::ACCESS), "husk: exec /etc: Permission denied (EACCES)");
        assert_eq!(fmt("fork", b"", Errno::AGAIN), "husk: fork: Resource temporarily unavailable (EAGAIN)");
        assert_eq!(fmt("mount", b"/x", Errno::from_raw_os_error(200)), "husk: mount /x: error 200");
    }

    #[test]
    fn errno_table_is_sorted_and_unique() {
        let numbers: Vec<u32> =
            ERRNOS.lines().map(|l| l.split(' ').next().unwrap().parse().unwrap()).collect();
        assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
        for line in ERRNOS.lines() {
            let fields: Vec<&str> = line.splitn(3, ' ').collect();
            assert!(fields.len() == 3 && fields[1].starts_with('E') && !fields[2].is_empty(), "{line}");
        }
        assert_eq!(describe(Errno::NOENT), Some((&b"ENOENT"[..], &b"No such file or directory"[..])));
        assert_eq!(describe(Errno::TIMEDOUT), Some((&b"ETIMEDOUT"[..], &b"Connection timed out"[..])));
    }

    #[test]
    fn long_lines_are_cut_not_panicking() {
        let mut line = Line::new();
        line.bytes(&[b'x'; 10_000]);
        assert_eq!(line.as_bytes().len(), MAX_QUOTED + 255, "one byte stays free for the newline");
    }

    #[test]
    fn shown_bytes_cannot_steer_the_terminal() {
        let shown = |b: &[u8]| {
            let mut line = Line::new();
            line.shown(b);
            String::from_utf8(line.as_bytes().to_vec()).unwrap()
        };
        assert_eq!(shown(b"/srv/r\xc3\xa9sum\xc3\xa9 \xe2\x9c\x93"), "/srv/r\u{e9}sum\u{e9} \u{2713}");
        assert_eq!(shown(b"\x1b]0;pwned\x07\x1b[2J"), "\\x1b]0;pwned\\x07\\x1b[2J");
        assert_eq!(shown(b"a\nb\rc\td\x7f"), "a\\x0ab\\x0dc\\x09d\\x7f");
        // C1 controls: raw (not UTF-8) and UTF-8-encoded (U+009B, CSI).
        assert_eq!(shown(b"\x9b31m \xc2\x9b31m"), "\\x9b31m \\xc2\\x9b31m");
        assert_eq!(shown(b"back\\slash \xff\xfe"), "back\\\\slash \\xff\\xfe");
        // Four-byte UTF-8 passes; overlong forms, surrogates, past U+10FFFF and cut-off
        // sequences are bytes, shown escaped.
        assert_eq!(shown("\u{1f600}\u{a0}".as_bytes()), "\u{1f600}\u{a0}");
        assert_eq!(shown(b"\xc0\xaf \xe0\x80\xaf"), "\\xc0\\xaf \\xe0\\x80\\xaf");
        assert_eq!(shown(b"\xed\xa0\x80"), "\\xed\\xa0\\x80");
        assert_eq!(shown(b"\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");
        assert_eq!(shown(b"ok\xe2\x9c"), "ok\\xe2\\x9c");
        // Every valid character agrees with core's decoder, the controls aside.
        for c in ['\u{7e}', '\u{a1}', '\u{7ff}', '\u{800}', '\u{ffff}', '\u{10000}', '\u{10ffff}'] {
            let mut utf8 = [0u8; 4];
            let text = c.encode_utf8(&mut utf8);
            assert_eq!(shown(text.as_bytes()), text.to_string(), "{c:?}");
        }
        assert_eq!(
            fmt("exec", b"x\x1b[31m", Errno::NOENT),
            "husk: exec x\\x1b[31m: No such file or directory (ENOENT)"
        );
    }

    /// What `shown` must give, by core's UTF-8 decoder.
    fn reference(b: &[u8]) -> String {
        let mut out = String::new();
        let escape = |out: &mut String, byte: u8| {
            if byte == b'\\' { out.push_str("\\\\") } else { out.push_str(&format!("\\x{byte:02x}")) }
        };
        for chunk in b.utf8_chunks() {
            for c in chunk.valid().chars() {
                if c.is_control() || c == '\\' {
                    c.encode_utf8(&mut [0; 4]).bytes().for_each(|byte| escape(&mut out, byte));
                } else {
                    out.push(c);
                }
            }
            chunk.invalid().iter().for_each(|&byte| escape(&mut out, byte));
        }
        out
    }

    #[test]
    fn shown_agrees_with_cores_utf8_decoder() {
        let shown = |b: &[u8]| {
            let mut line = Line::new();
            line.shown(b);
            String::from_utf8(line.as_bytes().to_vec()).unwrap()
        };
        // Every one- and two-byte string, then pseudo-random longer ones.
        for a in 0..=255u8 {
            assert_eq!(shown(&[a]), reference(&[a]), "{a:#x}");
            for b in 0..=255u8 {
                assert_eq!(shown(&[a, b]), reference(&[a, b]), "{a:#x} {b:#x}");
            }
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200_000 {
            let mut bytes = [0u8; 6];
            for byte in &mut bytes {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Mostly the bytes that make multi-byte sequences.
                *byte = if x & 3 == 0 { x as u8 } else { 0x80 | (x >> 8) as u8 & 0x7f };
            }
            assert_eq!(shown(&bytes), reference(&bytes), "{bytes:x?}");
        }
    }

    #[test]
    fn long_paths_keep_the_reason() {
        let path = vec![b'd'; 5000];
        let text = fmt("exec", &path, Errno::NOENT);
        assert_eq!(
            text,
            format!("husk: exec {}...: No such file or directory (ENOENT)", "d".repeat(MAX_QUOTED))
        );
    }
}
