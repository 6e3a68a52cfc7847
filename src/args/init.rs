//! `husk init [OPTIONS] [--] COMMAND [ARG]...` → InitSpec. Pure, like the rest of args.

use super::{Argv, Command, Topic, UsageError, is_help, lookup, next_option, option_value, parse_seconds_ms};

/// `husk init [OPTIONS] [--] COMMAND [ARG]...`
#[derive(Debug, PartialEq, Eq, Default)]
pub struct InitSpec {
    /// `-g`: forward signals to COMMAND's process group instead of COMMAND alone.
    pub process_group: bool,
    /// `--grace SECONDS`: after COMMAND exits, SIGTERM the rest, wait this long, SIGKILL.
    pub grace_ms: Option<u64>,
    /// `-p SIGNAL`: the signal to receive when husk's parent dies.
    pub parent_death: Option<i32>,
    /// Index in argv where COMMAND starts; `None` runs the default command (`/bin/sh`),
    /// which only happens when husk was started under the name `init`.
    pub command: Option<usize>,
}

pub(super) fn parse<'a, A: Argv<'a> + ?Sized>(
    argv: &A,
    mut i: usize,
    started_as_init: bool,
) -> Result<Command<'a>, UsageError<'a>> {
    const SUB: &str = "init";
    let mut spec = InitSpec::default();
    while let Some((arg, option, inline)) = next_option(argv, &mut i) {
        if is_help(option) {
            return Ok(Command::Help(Topic::Init));
        }
        let Some(opt) = lookup(&INIT_OPTIONS, option) else {
            return Err(UsageError::UnknownOption { sub: SUB, option: arg });
        };
        match opt {
            InitOpt::ProcessGroup => spec.process_group = true,
            // tini's flag; husk always becomes a subreaper when it is not PID 1.
            InitOpt::Subreaper => {}
            InitOpt::ParentDeath | InitOpt::Grace => {
                let (value, _) = option_value(argv, &mut i, inline, SUB, option)?;
                if opt == InitOpt::Grace {
                    let ms = parse_seconds_ms(value).ok_or(UsageError::BadValue {
                        sub: SUB,
                        option,
                        value,
                        expected: "seconds, like 5 or 0.5",
                    })?;
                    spec.grace_ms = Some(ms);
                } else {
                    let sig = crate::signals::parse(value).ok_or(UsageError::BadValue {
                        sub: SUB,
                        option,
                        value,
                        expected: "a signal, like TERM, 15 or RTMIN+1",
                    })?;
                    spec.parent_death = Some(sig);
                }
            }
        }
        i += 1;
    }
    if i < argv.count() {
        spec.command = Some(i);
    } else if !started_as_init {
        return Err(UsageError::MissingCommand { sub: SUB });
    }
    Ok(Command::Init(spec))
}

/// `husk init`'s options.
#[derive(Clone, Copy, PartialEq, Eq)]
enum InitOpt {
    ProcessGroup,
    Subreaper,
    ParentDeath,
    Grace,
}

/// `husk init`'s options but `-h`, `--help`.
const INIT_OPTIONS: [(&[u8], InitOpt); 6] = [
    (b"-g", InitOpt::ProcessGroup),
    (b"--process-group", InitOpt::ProcessGroup),
    (b"-s", InitOpt::Subreaper),
    (b"-p", InitOpt::ParentDeath),
    (b"--parent-death-signal", InitOpt::ParentDeath),
    (b"--grace", InitOpt::Grace),
];

#[cfg(test)]
mod tests {
    use super::super::tests::p;
    use super::*;

    fn init(args: &[&str]) -> InitSpec {
        match p(args) {
            Ok(Command::Init(spec)) => spec,
            other => panic!("{args:?} gave {other:?}"),
        }
    }

    #[test]
    fn init_command_index() {
        assert_eq!(init(&["husk", "init", "true"]).command, Some(2));
        assert_eq!(init(&["husk", "init", "--", "true"]).command, Some(3));
        assert_eq!(init(&["husk", "init", "-g", "--", "true", "-g"]).command, Some(4));
        // A command literally named -h works after --
        assert_eq!(init(&["husk", "init", "--", "-h"]).command, Some(3));
        // options stop at the first non-option: COMMAND's own flags are its own
        let s = init(&["husk", "init", "sh", "-c", "exit 3"]);
        assert_eq!(s.command, Some(2));
        assert!(!s.process_group);
        // "-" alone is a command name, not an option
        assert_eq!(init(&["husk", "init", "-"]).command, Some(2));
    }

    #[test]
    fn init_options() {
        let s = init(&["husk", "init", "-g", "-s", "-p", "SIGUSR1", "--grace", "2.5", "x"]);
        assert_eq!(
            s,
            InitSpec { process_group: true, grace_ms: Some(2500), parent_death: Some(10), command: Some(8) }
        );
        let s = init(&["husk", "init", "--grace=0", "--parent-death-signal=KILL", "x"]);
        assert_eq!(s.grace_ms, Some(0));
        assert_eq!(s.parent_death, Some(9));
        assert_eq!(p(&["husk", "init", "--help"]), Ok(Command::Help(Topic::Init)));
        assert_eq!(p(&["husk", "init", "-h", "x"]), Ok(Command::Help(Topic::Init)));
    }

    #[test]
    fn init_errors() {
        assert_eq!(p(&["husk", "init"]), Err(UsageError::MissingCommand { sub: "init" }));
        assert_eq!(p(&["husk", "init", "--"]), Err(UsageError::MissingCommand { sub: "init" }));
        assert_eq!(p(&["husk", "init", "-g"]), Err(UsageError::MissingCommand { sub: "init" }));
        assert_eq!(
            p(&["husk", "init", "--bogus", "x"]),
            Err(UsageError::UnknownOption { sub: "init", option: b"--bogus" })
        );
        assert_eq!(
            p(&["husk", "init", "-x", "x"]),
            Err(UsageError::UnknownOption { sub: "init", option: b"-x" })
        );
        assert_eq!(p(&["husk", "init", "-p"]), Err(UsageError::MissingValue { sub: "init", option: b"-p" }));
        assert_eq!(
            p(&["husk", "init", "--grace"]),
            Err(UsageError::MissingValue { sub: "init", option: b"--grace" })
        );
        assert!(matches!(
            p(&["husk", "init", "-p", "NOPE", "x"]),
            Err(UsageError::BadValue { option: b"-p", value: b"NOPE", .. })
        ));
        assert!(matches!(
            p(&["husk", "init", "--grace=abc", "x"]),
            Err(UsageError::BadValue { option: b"--grace", value: b"abc", .. })
        ));
        assert!(matches!(
            p(&["husk", "init", "--grace", "-1", "x"]),
            Err(UsageError::BadValue { value: b"-1", .. })
        ));
    }

    #[test]
    fn started_as_init() {
        // The kernel runs /init with the words after `--` as argv[1..].
        assert_eq!(init(&["/init"]).command, None);
        assert_eq!(init(&["/sbin/init", "sh", "-c", "echo hi"]).command, Some(1));
        assert_eq!(init(&["init", "--grace", "1", "--", "x"]).command, Some(4));
        // A different name is not init.
        assert_eq!(p(&["/bin/husk"]), Err(UsageError::NoSubcommand));
        assert_eq!(p(&["/bin/initx", "init", "x"]).map(|_| ()), Ok(()));
    }
}
