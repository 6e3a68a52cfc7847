//! Signal names and numbers, as `kill -l` shows them on Linux x86_64.

use crate::text::{same_ignoring_case, word_index, words};

/// The first real-time signal a program may use (glibc keeps 32 and 33 for itself).
pub const RTMIN: i32 = 34;
/// The last real-time signal.
pub const RTMAX: i32 = 64;

/// Standard signal names in number order from 1, one string (smaller than a table of
/// slices in the binary).
const NAMES: &[u8] = b"HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM STKFLT CHLD CONT STOP TSTP TTIN TTOU URG XCPU XFSZ VTALRM PROF WINCH IO PWR SYS";

pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
pub const SIGKILL: i32 = 9;
pub const SIGTERM: i32 = 15;
pub const SIGCHLD: i32 = 17;
pub const SIGCONT: i32 = 18;
pub const SIGSTOP: i32 = 19;
pub const SIGTTOU: i32 = 22;

/// The name of a standard signal without the `SIG` prefix, if it has one.
pub fn name(sig: i32) -> Option<&'static [u8]> {
    if sig < 1 { None } else { words(NAMES).nth(sig as usize - 1) }
}

/// Parses a signal given as a number (`15`), a name with or without `SIG` in any case
/// (`TERM`, `sigterm`), or a real-time offset (`RTMIN`, `RTMIN+3`, `RTMAX-1`).
pub fn parse(s: &[u8]) -> Option<i32> {
    if let Some(n) = parse_number(s) {
        return (1..=RTMAX).contains(&n).then_some(n);
    }
    let s = strip_prefix_ignore_case(s, b"SIG").unwrap_or(s);
    if let Some(rest) = strip_prefix_ignore_case(s, b"RTMIN") {
        return rt_offset(RTMIN, rest, 1);
    }
    if let Some(rest) = strip_prefix_ignore_case(s, b"RTMAX") {
        return rt_offset(RTMAX, rest, -1);
    }
    word_index(NAMES, s).map(|i| i as i32 + 1)
}

/// `RTMIN` + `+N` or `RTMAX` + `-N`, staying inside the real-time range.
fn rt_offset(base: i32, rest: &[u8], direction: i32) -> Option<i32> {
    let n = match rest {
        [] => 0,
        [sign, digits @ ..] if (*sign == b'+' && direction > 0) || (*sign == b'-' && direction < 0) => {
            parse_number(digits)?
        }
        _ => return None,
    };
    let sig = base + direction * n;
    (RTMIN..=RTMAX).contains(&sig).then_some(sig)
}

fn strip_prefix_ignore_case<'a>(s: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    if s.len() >= prefix.len() && same_ignoring_case(&s[..prefix.len()], prefix) {
        Some(&s[prefix.len()..])
    } else {
        None
    }
}

/// A small decimal number (no sign, at most 4 digits).
fn parse_number(s: &[u8]) -> Option<i32> {
    crate::text::parse_decimal(s, 4).map(|n| n as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        let cases: &[(&str, Option<i32>)] = &[
            ("TERM", Some(15)),
            ("SIGTERM", Some(15)),
            ("sigterm", Some(15)),
            ("term", Some(15)),
            ("15", Some(15)),
            ("HUP", Some(1)),
            ("SYS", Some(31)),
            ("WINCH", Some(28)),
            ("KILL", Some(9)),
            ("RTMIN", Some(34)),
            ("SIGRTMIN+3", Some(37)),
            ("rtmax", Some(64)),
            ("RTMAX-2", Some(62)),
            ("RTMIN+30", Some(64)),
            ("RTMIN+31", None),
            ("RTMAX+1", None),
            ("RTMIN-1", None),
            ("RTMIN+", None),
            ("0", None),
            ("65", None),
            ("64", Some(64)),
            ("", None),
            ("SIG", None),
            ("TERMX", None),
            ("-15", None),
            ("99999", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input.as_bytes()), *want, "{input}");
        }
    }

    #[test]
    fn every_name_round_trips() {
        for sig in 1..=31 {
            assert_eq!(parse(name(sig).unwrap()), Some(sig));
        }
        assert_eq!(name(0), None);
        assert_eq!(name(32), None);
    }
}
