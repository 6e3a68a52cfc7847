//! `husk exec`, `husk ps`, `husk kill`, `husk logs`: the commands that handle named
//! containers. Pure, like the rest of args.

use super::run::{OPTIONS, Opt, absolute, parse_user, push_env};
use super::{Argv, Command, MAX_ENV, Refusal, UsageError, lookup, next_option, option_value};

/// The longest container name.
pub const MAX_NAME: usize = 64;

/// `husk exec [-e KEY=VALUE]... [-w DIR] [-u UID[:GID]] NAME [--] COMMAND [ARG]...`
#[derive(Debug, PartialEq, Eq)]
pub struct ExecSpec<'a> {
    pub name: &'a [u8],
    pub env: heapless::Vec<crate::config::EnvArg, MAX_ENV>,
    pub cwd: Option<&'a [u8]>,
    pub user: Option<(u32, u32)>,
    pub command: usize,
}

/// A name for a container: `[A-Za-z0-9][A-Za-z0-9_.-]*`, at most 64 bytes.
pub fn valid_name(name: &[u8]) -> bool {
    let first_ok = name.first().is_some_and(u8::is_ascii_alphanumeric);
    first_ok
        && name.len() <= MAX_NAME
        && name.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

pub(super) const NAME_RULE: &str = "a name like web-1: letters, digits, _ . -, at most 64";

pub(super) fn parse_exec<'a, A: Argv<'a> + ?Sized>(
    argv: &A,
    mut i: usize,
) -> Result<Command<'a>, UsageError<'a>> {
    const SUB: &str = "exec";
    // NAME and COMMAND come after the options.
    let mut spec = ExecSpec { name: b"", env: heapless::Vec::new(), cwd: None, user: None, command: 0 };
    // No `--` before NAME: options end at the first non-option, which is NAME.
    while argv.count() > i && argv.get(i) != b"--" {
        let Some((arg, option, inline)) = next_option(argv, &mut i) else { break };
        if super::is_help(option) {
            return Ok(Command::Help(super::Topic::Exec));
        }
        // `run`'s options for who COMMAND is and where it starts.
        let Some(opt @ (Opt::Env | Opt::Cwd | Opt::User)) = lookup(&OPTIONS, option) else {
            return Err(UsageError::UnknownOption { sub: SUB, option: arg });
        };
        let (value, at) = option_value(argv, &mut i, inline, SUB, option)?;
        let applied = match opt {
            Opt::Env => push_env(&mut spec.env, value, at, inline.is_some()),
            Opt::Cwd => {
                absolute(value).map(|dir| spec.cwd = Some(dir)).ok_or(Refusal::Expected("an absolute path"))
            }
            _ => parse_user(value).map(|id| spec.user = Some(id)).ok_or(Refusal::Expected("UID or UID:GID")),
        };
        applied.map_err(|refusal| refusal.error(SUB, option, value))?;
        i += 1;
    }
    if i >= argv.count() {
        return Err(UsageError::MissingValue { sub: SUB, option: b"NAME" });
    }
    let name = argv.get(i);
    if !valid_name(name) {
        return Err(UsageError::BadValue { sub: SUB, option: b"NAME", value: name, expected: NAME_RULE });
    }
    i += 1;
    if i < argv.count() && argv.get(i) == b"--" {
        i += 1;
    }
    if i >= argv.count() {
        return Err(UsageError::MissingCommand { sub: SUB });
    }
    (spec.name, spec.command) = (name, i);
    Ok(Command::Exec(spec))
}

/// `husk ps [-q]`, `husk kill NAME [SIGNAL]`, `husk logs NAME`.
pub(super) fn parse_other<'a, A: Argv<'a> + ?Sized>(
    argv: &A,
    sub: &'static str,
    i: usize,
) -> Result<Command<'a>, UsageError<'a>> {
    let args: heapless::Vec<&'a [u8], 3> = (i..argv.count()).take(3).map(|k| argv.get(k)).collect();
    if args.first().is_some_and(|a| super::is_help(a)) {
        return Ok(Command::Help(match sub {
            "ps" => super::Topic::Ps,
            "kill" => super::Topic::Kill,
            _ => super::Topic::Logs,
        }));
    }
    let extra = |k: usize| match args.get(k) {
        Some(a) if a.starts_with(b"-") && a.len() > 1 => Err(UsageError::UnknownOption { sub, option: a }),
        Some(a) => Err(UsageError::BadValue { sub, option: b"argument", value: a, expected: "nothing more" }),
        None => Ok(()),
    };
    let name = |k: usize| -> Result<&'a [u8], UsageError<'a>> {
        match args.get(k) {
            None => Err(UsageError::MissingValue { sub, option: b"NAME" }),
            Some(n) if valid_name(n) => Ok(n),
            Some(n) if n.starts_with(b"-") => Err(UsageError::UnknownOption { sub, option: n }),
            Some(n) => Err(UsageError::BadValue { sub, option: b"NAME", value: n, expected: NAME_RULE }),
        }
    };
    match sub {
        "ps" => {
            let quiet = args.first().is_some_and(|a| *a == b"-q");
            extra(quiet as usize)?;
            Ok(Command::Ps { quiet })
        }
        "kill" => {
            let name = name(0)?;
            let signal = match args.get(1) {
                None => crate::signals::SIGTERM,
                Some(s) => crate::signals::parse(s).ok_or(UsageError::BadValue {
                    sub,
                    option: b"SIGNAL",
                    value: s,
                    expected: "a signal, like TERM, 9 or RTMIN+1",
                })?,
            };
            extra(2)?;
            Ok(Command::Kill { name, signal })
        }
        _ => {
            let name = name(0)?;
            extra(1)?;
            Ok(Command::Logs { name })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::p;
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "web-1", "A.b_c-9", &"x".repeat(64)] {
            assert!(valid_name(ok.as_bytes()), "{ok}");
        }
        for bad in ["", "-a", ".a", "_a", "a/b", "a b", "é", &"x".repeat(65)] {
            assert!(!valid_name(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn exec() {
        match p(&["husk", "exec", "-e", "A=1", "-w", "/w", "-u", "5", "box", "--", "ps", "ax"]) {
            Ok(Command::Exec(s)) => {
                assert_eq!(
                    (s.name, s.cwd, s.user, s.command),
                    (&b"box"[..], Some(&b"/w"[..]), Some((5, 5)), 10)
                );
                assert_eq!(s.env.as_slice(), &[crate::config::EnvArg { index: 3, inline: false }]);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(p(&["husk", "exec", "box", "ps"]), Ok(Command::Exec(ExecSpec { command: 3, .. }))));
        assert!(matches!(p(&["husk", "exec", "box"]), Err(UsageError::MissingCommand { .. })));
        assert!(matches!(p(&["husk", "exec"]), Err(UsageError::MissingValue { .. })));
        assert!(matches!(p(&["husk", "exec", "a/b", "x"]), Err(UsageError::BadValue { .. })));
        assert!(matches!(p(&["husk", "exec", "-x", "box", "x"]), Err(UsageError::UnknownOption { .. })));
    }

    #[test]
    fn ps_kill_logs() {
        assert_eq!(p(&["husk", "ps"]), Ok(Command::Ps { quiet: false }));
        assert_eq!(p(&["husk", "ps", "-q"]), Ok(Command::Ps { quiet: true }));
        assert!(matches!(p(&["husk", "ps", "-x"]), Err(UsageError::UnknownOption { .. })));
        assert_eq!(p(&["husk", "kill", "box"]), Ok(Command::Kill { name: b"box", signal: 15 }));
        assert_eq!(p(&["husk", "kill", "box", "KILL"]), Ok(Command::Kill { name: b"box", signal: 9 }));
        assert!(matches!(p(&["husk", "kill", "box", "NOPE"]), Err(UsageError::BadValue { .. })));
        assert!(matches!(p(&["husk", "kill"]), Err(UsageError::MissingValue { .. })));
        assert_eq!(p(&["husk", "logs", "box"]), Ok(Command::Logs { name: b"box" }));
        assert!(matches!(p(&["husk", "logs", "box", "x"]), Err(UsageError::BadValue { .. })));
    }
}
