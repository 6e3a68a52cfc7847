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

/// dumb-init's `-r S:R` (`--rewrite`): signals S and R as [`parse`] takes them, R also `0`
/// (drop S rather than forward it).
pub fn parse_rewrite(s: &[u8]) -> Option<(i32, i32)> {
    let colon = s.iter().position(|&b| b == b':')?;
    let to = &s[colon + 1..];
    Some((parse(&s[..colon])?, if to == b"0" { 0 } else { parse(to)? }))
}

/// What husk forwards for each signal it receives: the signal itself unless `-r` rewrote it
/// to another, or to nothing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Rewrites([u8; RTMAX as usize]);

/// A [`Rewrites`] entry: forward nothing. (0 is "as received", any other the signal.)
const DROP: u8 = u8::MAX;

impl Default for Rewrites {
    fn default() -> Rewrites {
        Rewrites([0; RTMAX as usize])
    }
}

impl Rewrites {
    /// From now on, forward `to` for `from` (1..=RTMAX); `to` 0 drops it.
    pub fn set(&mut self, from: i32, to: i32) {
        if let Some(slot) = self.0.get_mut((from as usize).wrapping_sub(1)) {
            *slot = if to == 0 { DROP } else { to as u8 };
        }
    }

    /// The signal to forward for `sig`, or None to drop it.
    pub fn apply(&self, sig: i32) -> Option<i32> {
        match self.0.get((sig as usize).wrapping_sub(1)) {
            Some(&DROP) => None,
            Some(&to) if to != 0 => Some(to as i32),
            _ => Some(sig),
        }
    }
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
    fn rewrites() {
        let good: &[(&str, (i32, i32))] = &[
            ("15:3", (15, 3)),
            ("TERM:QUIT", (15, 3)),
            ("SIGTERM:sigquit", (15, 3)),
            ("2:0", (2, 0)),
            ("INT:0", (2, 0)),
            ("RTMIN+1:RTMAX", (35, 64)),
            ("64:1", (64, 1)),
            ("10:10", (10, 10)),
        ];
        for (input, want) in good {
            assert_eq!(parse_rewrite(input.as_bytes()), Some(*want), "{input}");
        }
        for bad in [
            "",
            "15",
            "15:",
            ":3",
            "0:3",
            "15::3",
            "15:3:4",
            "15:65",
            "65:1",
            "15:-1",
            "15:00",
            "herp:derp",
            "15:derp",
            " 15:3",
        ] {
            assert_eq!(parse_rewrite(bad.as_bytes()), None, "{bad}");
        }
        let mut map = Rewrites::default();
        assert!((0..=RTMAX + 1).all(|sig| map.apply(sig) == Some(sig)));
        map.set(15, 3);
        map.set(2, 0);
        map.set(64, 1);
        map.set(10, 10);
        assert_eq!(map.apply(15), Some(3));
        assert_eq!(map.apply(3), Some(3));
        assert_eq!(map.apply(2), None);
        assert_eq!(map.apply(64), Some(1));
        assert_eq!(map.apply(10), Some(10));
        // The last -r for a signal wins, and a drop can be undone.
        map.set(15, 0);
        assert_eq!(map.apply(15), None);
        map.set(2, 2);
        assert_eq!(map.apply(2), Some(2));
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
