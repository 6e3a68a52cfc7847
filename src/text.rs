//! Byte strings: the small helpers husk needs on argv, paths and kernel text, without
//! std and without core's vectorised searches (these strings are a few bytes long, and a
//! plain loop is smaller in the binary).

/// Whether `a` and `b` are the same ASCII text, case aside (a plain loop: smaller than
/// core's vectorised one, and these strings are a few bytes long).
pub fn same_ignoring_case(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.eq_ignore_ascii_case(y))
}

/// Whether `bytes` holds `byte`. A plain loop: `<[u8]>::contains` brings core's vectorised
/// memchr into the binary, and these are short strings.
pub fn has_byte(bytes: &[u8], byte: u8) -> bool {
    !bytes.iter().all(|&b| b != byte)
}

/// The words of a space-separated table of names (how the signal and capability names are
/// kept: one string, no array of pointers).
pub fn words(table: &'static [u8]) -> impl Iterator<Item = &'static [u8]> {
    fields(table, b' ')
}

/// The position of `name` among the words of `table`, exactly: how a table of names and an
/// array of what each means, in the same order, are looked up (no array of (name, value)
/// pairs: a pointer and a length per name).
pub fn position(table: &'static [u8], name: &[u8]) -> Option<usize> {
    words(table).position(|word| word == name)
}

/// The position of `name` among the words of `table`, case aside.
pub fn word_index(table: &'static [u8], name: &[u8]) -> Option<usize> {
    words(table).position(|word| same_ignoring_case(word, name))
}

/// An unsigned decimal of 1 to `max_digits` digits (no sign, no spaces). With at most 19
/// digits it cannot overflow.
pub fn parse_decimal(s: &[u8], max_digits: usize) -> Option<u64> {
    if s.is_empty() || s.len() > max_digits.min(19) || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0, |n, d| n * 10 + (d - b'0') as u64))
}

/// `s` after `prefix`, when it starts with it. Out of line, by slice: core's `strip_prefix`
/// is a copy per pattern type, and each length of a `b"…"` literal is a type of its own.
#[inline(never)]
pub fn after<'a>(s: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    s.strip_prefix(prefix)
}

/// `s` before `suffix`, when it ends with it (see [`after`]).
#[inline(never)]
pub fn before<'a>(s: &'a [u8], suffix: &[u8]) -> Option<&'a [u8]> {
    s.strip_suffix(suffix)
}

/// `s` split at its first `sep`: (before, Some(after)), or (s, None) when there is none. Out
/// of line, and with `fields` the one way husk splits text: every `split` of core's at a call
/// site is its own copy of an iterator.
#[inline(never)]
pub fn split_once(s: &[u8], sep: u8) -> (&[u8], Option<&[u8]>) {
    let mut i = 0;
    while i < s.len() {
        if s[i] == sep {
            return (&s[..i], Some(&s[i + 1..]));
        }
        i += 1;
    }
    (s, None)
}

/// The pieces of `s` between `sep`s (`a::b` is `a`, ``, `b`; an empty `s` is one empty piece).
pub fn fields(s: &[u8], sep: u8) -> Fields<'_> {
    Fields { rest: Some(s), sep }
}

pub struct Fields<'a> {
    rest: Option<&'a [u8]>,
    sep: u8,
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let (piece, rest) = split_once(self.rest?, self.sep);
        self.rest = rest;
        Some(piece)
    }
}

/// `n` in `base` (8 for tmpfs's `mode=`, 10 for a size or a descriptor), NUL-terminated, at
/// the end of `buf`, no leading zeros.
pub fn digits(mut n: u64, base: u64, buf: &mut [u8; 24]) -> &core::ffi::CStr {
    let mut at = buf.len() - 1;
    buf[at] = 0;
    // `at > 0` never ends the loop for a base of 8 or more (22 digits at most); it lets the
    // compiler see every index in bounds (no panic paths).
    while at > 0 {
        at -= 1;
        buf[at] = b'0' + (n % base) as u8;
        n /= base;
        if n == 0 {
            break;
        }
    }
    crate::rt::c_str(&buf[at..]).unwrap_or(c"0")
}

/// The part of a path after its last `/`.
pub fn basename(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert!(same_ignoring_case(b"SIGterm", b"sigTERM"));
        assert!(!same_ignoring_case(b"TERM", b"TERMS"));
        assert!(has_byte(b"a/b", b'/') && !has_byte(b"ab", b'/'));
        assert_eq!(split_once(b"k=v=w", b'='), (&b"k"[..], Some(&b"v=w"[..])));
        assert_eq!(split_once(b"k", b'='), (&b"k"[..], None));
        assert_eq!(digits(0o1777, 8, &mut [0; 24]), c"1777");
        assert_eq!(digits(0, 10, &mut [0; 24]), c"0");
        assert_eq!(digits(u64::MAX, 10, &mut [0; 24]), c"18446744073709551615");
        assert_eq!(fields(b"a::b", b':').collect::<Vec<_>>(), [&b"a"[..], b"", b"b"]);
        assert_eq!(fields(b"", b':').collect::<Vec<_>>(), [&b""[..]]);
        assert_eq!(words(b"HUP INT QUIT").collect::<Vec<_>>(), [&b"HUP"[..], b"INT", b"QUIT"]);
        assert_eq!(word_index(b"HUP INT QUIT", b"quit"), Some(2));
        assert_eq!(position(b"-v -V --version", b"-V"), Some(1));
        assert_eq!(position(b"-v -V --version", b"--vers"), None);
        assert_eq!(parse_decimal(b"0042", 4), Some(42));
        assert_eq!(parse_decimal(b"12345", 4), None);
        assert_eq!(parse_decimal(b"-1", 4), None);
        assert_eq!(parse_decimal(b"", 4), None);
        assert_eq!(parse_decimal(b"9999999999999999999", 30), Some(9_999_999_999_999_999_999));
    }
}
