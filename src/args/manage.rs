//! `husk exec`, `ps`, `kill`, `logs`, `wait`, `stop`, `rm`: the commands that handle named
//! containers. Pure, like the rest of args.

use super::run::{self, Opt, absolute, push_env};
use super::{
    Argv, Command, MAX_ENV, Refusal, Topic, UsageError, next_option, option_value, parse_seconds_ms,
};

/// The longest container name.
pub const MAX_NAME: usize = 64;

/// `husk exec [-e KEY=VALUE]... [-w DIR] [-u UID[:GID]] NAME [--] COMMAND [ARG]...`
#[derive(Debug, PartialEq, Eq)]
pub struct ExecSpec<'a> {
    pub name: &'a [u8],
    pub env: heapless::Vec<crate::config::EnvArg, MAX_ENV>,
    pub cwd: Option<&'a [u8]>,
    /// `-u USER[:GROUP]`, looked up in the container; None: the container's own user.
    pub user: Option<crate::users::UserSpec<'a>>,
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
        let Some(opt @ (Opt::Env | Opt::Cwd | Opt::User)) = run::option(option) else {
            return Err(UsageError::UnknownOption { sub: SUB, option: arg });
        };
        let (value, at) = option_value(argv, &mut i, inline, SUB, option)?;
        let applied = match opt {
            Opt::Env => push_env(&mut spec.env, value, at, inline.is_some()),
            Opt::Cwd => {
                absolute(value).map(|dir| spec.cwd = Some(dir)).ok_or(Refusal::Expected("an absolute path"))
            }
            _ => crate::users::parse(value)
                .map(|user| spec.user = Some(user))
                .ok_or(Refusal::Expected("USER[:GROUP], names or numbers")),
        };
        applied.map_err(|refusal| refusal.error(SUB, option, value))?;
        i += 1;
    }
    if i >= argv.count() {
        return Err(UsageError::MissingArgument { sub: SUB, what: "NAME" });
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

/// The options of ps, logs, stop and rm (one string: no array of pointers), and in the same
/// order, the subcommand that takes each and its bit.
const FLAG_NAMES: &[u8] =
    b"-a --all -q --quiet -aq -qa -f --follow -f --force -t --time --timeout -q --quiet";
const FLAGS: [(Topic, u8); 15] = [
    (Topic::Ps, ALL),
    (Topic::Ps, ALL),
    (Topic::Ps, QUIET),
    (Topic::Ps, QUIET),
    (Topic::Ps, ALL | QUIET),
    (Topic::Ps, ALL | QUIET),
    (Topic::Logs, FOLLOW),
    (Topic::Logs, FOLLOW),
    (Topic::Rm, FORCE),
    (Topic::Rm, FORCE),
    (Topic::Stop, TIME),
    (Topic::Stop, TIME),
    (Topic::Stop, TIME),
    (Topic::Images, QUIET),
    (Topic::Images, QUIET),
];
const ALL: u8 = 1;
const QUIET: u8 = 2;
const FOLLOW: u8 = 4;
const FORCE: u8 = 8;
const TIME: u8 = 16;

/// docker's: how long `husk stop` gives COMMAND after SIGTERM.
pub const STOP_TIMEOUT_MS: u64 = 10_000;

/// `husk ps [-a] [-q]`, `kill NAME [SIGNAL]`, `logs [-f] NAME`, `wait NAME`,
/// `stop [-t SECONDS] NAME`, `rm [-f] NAME`. Out of line: inlined into `args::parse`, it
/// made the binary larger.
#[inline(never)]
pub(super) fn parse_other<'a, A: Argv<'a> + ?Sized>(
    argv: &A,
    topic: Topic,
    mut i: usize,
) -> Result<Command<'a>, UsageError<'a>> {
    let sub = match topic {
        Topic::Ps => "ps",
        Topic::Kill => "kill",
        Topic::Logs => "logs",
        Topic::Wait => "wait",
        Topic::Stop => "stop",
        Topic::Images => "images",
        Topic::Rmi => "rmi",
        _ => "rm",
    };
    let mut flags = 0;
    let mut timeout_ms = STOP_TIMEOUT_MS;
    while let Some((arg, option, inline)) = next_option(argv, &mut i) {
        if super::is_help(option) {
            return Ok(Command::Help(topic));
        }
        let mut known = crate::text::fields(FLAG_NAMES, b' ').zip(&FLAGS);
        let Some((_, &(_, flag))) = known.find(|&(o, &(t, _))| o == option && t == topic) else {
            return Err(UsageError::UnknownOption { sub, option: arg });
        };
        if flag == TIME {
            let (value, _) = option_value(argv, &mut i, inline, sub, option)?;
            timeout_ms = parse_seconds_ms(value).ok_or(UsageError::BadValue {
                sub,
                option,
                value,
                expected: "seconds, like 10 or 0.5",
            })?;
        }
        flags |= flag;
        i += 1;
    }
    // The arguments after the options: ps takes none, kill NAME [SIGNAL], the others NAME.
    let arg = |k: usize| if i + k < argv.count() { Some(argv.get(i + k)) } else { None };
    if topic == Topic::Rmi {
        return match arg(0) {
            Some(_) => Ok(Command::Rmi { first: i }),
            None => Err(UsageError::MissingArgument { sub, what: "IMAGE" }),
        };
    }
    let takes = match topic {
        Topic::Ps | Topic::Images => 0,
        Topic::Kill => 2,
        _ => 1,
    };
    let mut name: &[u8] = b"";
    if takes > 0 {
        name = match arg(0) {
            None => return Err(UsageError::MissingArgument { sub, what: "NAME" }),
            Some(n) if valid_name(n) => n,
            Some(n) => {
                return Err(UsageError::BadValue { sub, option: b"NAME", value: n, expected: NAME_RULE });
            }
        };
    }
    let mut signal = crate::signals::SIGTERM;
    if let (2, Some(s)) = (takes, arg(1)) {
        signal = crate::signals::parse(s).ok_or(UsageError::BadValue {
            sub,
            option: b"SIGNAL",
            value: s,
            expected: "a signal, like TERM, 9 or RTMIN+1",
        })?;
    }
    if let Some(extra) = arg(takes) {
        return Err(UsageError::ExtraArgument { sub, arg: extra });
    }
    Ok(match topic {
        Topic::Ps => Command::Ps { quiet: flags & QUIET != 0, all: flags & ALL != 0 },
        Topic::Kill => Command::Kill { name, signal },
        Topic::Logs => Command::Logs { name, follow: flags & FOLLOW != 0 },
        Topic::Wait => Command::Wait { name },
        Topic::Stop => Command::Stop { name, timeout_ms },
        Topic::Images => Command::Images { quiet: flags & QUIET != 0 },
        _ => Command::Rm { name, force: flags & FORCE != 0 },
    })
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
                    (&b"box"[..], Some(&b"/w"[..]), crate::users::parse(b"5"), 10)
                );
                assert_eq!(s.env.as_slice(), &[crate::config::EnvArg { index: 3, inline: false }]);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(p(&["husk", "exec", "box", "ps"]), Ok(Command::Exec(ExecSpec { command: 3, .. }))));
        assert!(matches!(p(&["husk", "exec", "box"]), Err(UsageError::MissingCommand { .. })));
        assert!(matches!(p(&["husk", "exec"]), Err(UsageError::MissingArgument { what: "NAME", .. })));
        assert!(matches!(p(&["husk", "exec", "a/b", "x"]), Err(UsageError::BadValue { .. })));
        assert!(matches!(p(&["husk", "exec", "-x", "box", "x"]), Err(UsageError::UnknownOption { .. })));
    }

    #[test]
    fn every_option_has_its_subcommand_and_bit() {
        assert_eq!(crate::text::fields(FLAG_NAMES, b' ').count(), FLAGS.len());
    }

    #[test]
    fn ps_kill_logs() {
        assert_eq!(p(&["husk", "ps"]), Ok(Command::Ps { quiet: false, all: false }));
        assert_eq!(p(&["husk", "ps", "-q"]), Ok(Command::Ps { quiet: true, all: false }));
        for all in [&["-a"][..], &["--all"], &["-a", "-q"], &["-aq"], &["-qa"], &["--quiet", "--all"]] {
            let quiet = all.len() == 2 || all[0].len() == 3;
            assert_eq!(
                p(&[&["husk", "ps"][..], all].concat()),
                Ok(Command::Ps { quiet, all: true }),
                "{all:?}"
            );
        }
        assert!(matches!(p(&["husk", "ps", "-x"]), Err(UsageError::UnknownOption { .. })));
        assert!(matches!(p(&["husk", "ps", "-f"]), Err(UsageError::UnknownOption { .. })));
        assert!(matches!(p(&["husk", "ps", "x"]), Err(UsageError::ExtraArgument { .. })));
        assert_eq!(p(&["husk", "kill", "box"]), Ok(Command::Kill { name: b"box", signal: 15 }));
        assert_eq!(p(&["husk", "kill", "box", "KILL"]), Ok(Command::Kill { name: b"box", signal: 9 }));
        assert!(matches!(p(&["husk", "kill", "box", "NOPE"]), Err(UsageError::BadValue { .. })));
        assert!(matches!(p(&["husk", "kill"]), Err(UsageError::MissingArgument { what: "NAME", .. })));
        assert_eq!(p(&["husk", "logs", "box"]), Ok(Command::Logs { name: b"box", follow: false }));
        assert_eq!(p(&["husk", "logs", "-f", "box"]), Ok(Command::Logs { name: b"box", follow: true }));
        assert_eq!(p(&["husk", "logs", "--follow", "box"]), Ok(Command::Logs { name: b"box", follow: true }));
        assert!(matches!(p(&["husk", "logs", "box", "x"]), Err(UsageError::ExtraArgument { .. })));
        assert!(matches!(p(&["husk", "logs", "-t", "1", "box"]), Err(UsageError::UnknownOption { .. })));
    }

    #[test]
    fn wait_stop_rm() {
        assert_eq!(p(&["husk", "wait", "box"]), Ok(Command::Wait { name: b"box" }));
        assert!(matches!(p(&["husk", "wait"]), Err(UsageError::MissingArgument { what: "NAME", .. })));
        assert!(matches!(p(&["husk", "wait", "a", "b"]), Err(UsageError::ExtraArgument { .. })));
        assert_eq!(p(&["husk", "stop", "box"]), Ok(Command::Stop { name: b"box", timeout_ms: 10_000 }));
        assert_eq!(
            p(&["husk", "stop", "-t", "3", "box"]),
            Ok(Command::Stop { name: b"box", timeout_ms: 3000 })
        );
        assert_eq!(p(&["husk", "stop", "-t", "0.5", "b"]), Ok(Command::Stop { name: b"b", timeout_ms: 500 }));
        assert_eq!(p(&["husk", "stop", "-t", "0", "b"]), Ok(Command::Stop { name: b"b", timeout_ms: 0 }));
        for time in [&["--time", "2"][..], &["--timeout", "2"], &["--time=2"], &["--timeout=2"]] {
            let args = [&["husk", "stop"][..], time, &["b"]].concat();
            assert_eq!(p(&args), Ok(Command::Stop { name: b"b", timeout_ms: 2000 }), "{time:?}");
        }
        assert!(matches!(p(&["husk", "stop", "-t", "x", "box"]), Err(UsageError::BadValue { .. })));
        assert!(matches!(p(&["husk", "stop", "-t"]), Err(UsageError::MissingValue { .. })));
        assert!(matches!(p(&["husk", "stop", "-f", "box"]), Err(UsageError::UnknownOption { .. })));
        assert_eq!(p(&["husk", "rm", "box"]), Ok(Command::Rm { name: b"box", force: false }));
        assert_eq!(p(&["husk", "rm", "-f", "box"]), Ok(Command::Rm { name: b"box", force: true }));
        assert_eq!(p(&["husk", "rm", "--force", "box"]), Ok(Command::Rm { name: b"box", force: true }));
        assert!(matches!(p(&["husk", "rm", "-a", "box"]), Err(UsageError::UnknownOption { .. })));
        assert!(matches!(p(&["husk", "rm", "a/b"]), Err(UsageError::BadValue { .. })));
        for sub in ["ps", "kill", "logs", "wait", "stop", "rm"] {
            assert!(matches!(p(&["husk", sub, "--help"]), Ok(Command::Help(_))), "{sub}");
            assert!(matches!(p(&["husk", "help", sub]), Ok(Command::Help(_))), "{sub}");
        }
    }
}
