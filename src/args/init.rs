//! `husk init [OPTIONS] [--] COMMAND [ARG]...` → InitSpec. Pure, like the rest of args: the
//! environment switches of tini and dumb-init are read through [`Argv::var`].

use super::{Argv, Command, Topic, UsageError, is_help, next_option, option_value, parse_seconds_ms};
use crate::signals::Rewrites;
use crate::status::Remap;
use crate::text::parse_decimal;

/// `husk init [OPTIONS] [--] COMMAND [ARG]...`
#[derive(Debug, PartialEq, Eq, Default)]
pub struct InitSpec {
    /// `-g`: forward signals to COMMAND's process group instead of COMMAND alone.
    pub process_group: bool,
    /// `--grace SECONDS`: after COMMAND exits, SIGTERM the rest, wait this long, SIGKILL.
    pub grace_ms: Option<u64>,
    /// `-p SIGNAL`: the signal to receive when husk's parent dies.
    pub parent_death: Option<i32>,
    /// `-e CODE` (tini's): COMMAND's statuses husk exits 0 for.
    pub remap: Remap,
    /// `-r S:R` (dumb-init's): signals forwarded as another, or dropped.
    pub rewrite: Rewrites,
    /// `-v`: 1 tells COMMAND's start and end, 2 (`-vv`) every signal and reap too.
    pub verbosity: u8,
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
        // tini's -vvv: each v one more level.
        if option.len() > 2 && option[1..].iter().all(|&b| b == b'v') {
            spec.verbosity = spec.verbosity.saturating_add(option.len() as u8 - 1);
            i += 1;
            continue;
        }
        let Some(&opt) = crate::text::position(INIT_OPTION_NAMES, option).and_then(|i| INIT_OPTIONS.get(i))
        else {
            return Err(UsageError::UnknownOption { sub: SUB, option: arg });
        };
        match opt {
            InitOpt::Version => return Ok(Command::Version),
            InitOpt::ProcessGroup => spec.process_group = true,
            // tini's flag; husk always becomes a subreaper when it is not PID 1.
            InitOpt::Subreaper => {}
            InitOpt::Verbose => spec.verbosity = spec.verbosity.saturating_add(1),
            _ => {
                let (value, _) = option_value(argv, &mut i, inline, SUB, option)?;
                set(&mut spec, opt, value).map_err(|expected| UsageError::BadValue {
                    sub: SUB,
                    option,
                    value,
                    expected,
                })?;
            }
        }
        i += 1;
    }
    if i < argv.count() {
        spec.command = Some(i);
    } else if !started_as_init {
        return Err(UsageError::MissingCommand { sub: SUB });
    }
    environment(&mut spec, argv)?;
    Ok(Command::Init(spec))
}

/// Applies option `opt`'s `value`; Err says what was expected instead.
#[inline(never)]
fn set(spec: &mut InitSpec, opt: InitOpt, value: &[u8]) -> Result<(), &'static str> {
    match opt {
        InitOpt::Grace => {
            spec.grace_ms = Some(parse_seconds_ms(value).ok_or("seconds, like 5 or 0.5")?);
        }
        InitOpt::Remap => {
            // tini takes 0 to 255 (strtol, so leading zeros too).
            let code = parse_decimal(value, 19).filter(|&c| c <= 255);
            spec.remap.add(code.ok_or("an exit status from 0 to 255")? as u8);
        }
        InitOpt::Rewrite => {
            let (from, to) = crate::signals::parse_rewrite(value)
                .ok_or("SIGNAL:SIGNAL, like TERM:QUIT or 15:3; to 0 drops it")?;
            spec.rewrite.set(from, to);
        }
        // -p: the only one left that takes a value.
        _ => {
            spec.parent_death =
                Some(crate::signals::parse(value).ok_or("a signal, like TERM, 15 or RTMIN+1")?);
        }
    }
    Ok(())
}

/// tini's and dumb-init's environment switches where they mean something to husk. Read after
/// the options, they have the last word, as `TINI_VERBOSITY` has over `-v` in tini.
#[inline(never)]
fn environment<'a, A: Argv<'a> + ?Sized>(spec: &mut InitSpec, argv: &A) -> Result<(), UsageError<'a>> {
    // Set at all, even empty (tini's README: `export TINI_KILL_PROCESS_GROUP=`).
    if argv.var(b"TINI_KILL_PROCESS_GROUP").is_some() {
        spec.process_group = true;
    }
    // dumb-init's "single child" mode: signals go to COMMAND alone. husk never makes a
    // session (COMMAND gets a process group of its own either way), so this undoes -g.
    if argv.var(b"DUMB_INIT_SETSID") == Some(b"0") {
        spec.process_group = false;
    }
    // tini's levels: 1, its default, warns (husk has nothing to warn of), 2 tells the child's
    // start and end (husk's -v), 3 every signal and reap (-vv). Empty is 0, as atoi reads it.
    const VERBOSITY: &[u8] = b"TINI_VERBOSITY";
    if let Some(value) = argv.var(VERBOSITY) {
        let level = if value.is_empty() { Some(0) } else { parse_decimal(value, 9) };
        let Some(level) = level else {
            return Err(UsageError::BadValue {
                sub: "init",
                option: VERBOSITY,
                value,
                expected: "a number, like 2",
            });
        };
        spec.verbosity = level.saturating_sub(1).min(u8::MAX as u64) as u8;
    }
    Ok(())
}

/// `husk init`'s options.
#[derive(Clone, Copy, PartialEq, Eq)]
enum InitOpt {
    ProcessGroup,
    Subreaper,
    ParentDeath,
    Grace,
    Remap,
    Rewrite,
    Verbose,
    Version,
}

/// `husk init`'s options but `-h`, `--help` and `-vv...`: their names (text::position) and,
/// in the same order, what each is.
const INIT_OPTION_NAMES: &[u8] =
    b"-g --process-group -s -p --parent-death-signal --grace -e --remap-exit -r --rewrite -v \
    --verbose -V --version";
const INIT_OPTIONS: [InitOpt; 14] = [
    InitOpt::ProcessGroup, // -g
    InitOpt::ProcessGroup, // --process-group
    InitOpt::Subreaper,    // -s
    InitOpt::ParentDeath,  // -p
    InitOpt::ParentDeath,  // --parent-death-signal
    InitOpt::Grace,        // --grace
    InitOpt::Remap,        // -e
    InitOpt::Remap,        // --remap-exit
    InitOpt::Rewrite,      // -r
    InitOpt::Rewrite,      // --rewrite
    InitOpt::Verbose,      // -v
    InitOpt::Verbose,      // --verbose
    InitOpt::Version,      // -V
    InitOpt::Version,      // --version
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
    fn option_names_and_options_pair_up() {
        assert_eq!(crate::text::words(INIT_OPTION_NAMES).count(), INIT_OPTIONS.len());
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
            InitSpec {
                process_group: true,
                grace_ms: Some(2500),
                parent_death: Some(10),
                command: Some(8),
                ..InitSpec::default()
            }
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
    fn remap_exit_codes() {
        let s = init(&["husk", "init", "-e", "143", "--remap-exit=0", "-e", "255", "-e", "007", "x"]);
        let codes: Vec<u8> = (0..=255).filter(|&c| s.remap.contains(c)).collect();
        assert_eq!(codes, [0, 7, 143, 255]);
        assert_eq!(s.command, Some(9));
        assert_eq!(init(&["husk", "init", "x"]).remap, Default::default());
        for bad in ["256", "-1", "", "1x", "0x10", "+5", " 5", "99999999999999999999"] {
            assert_eq!(
                p(&["husk", "init", "-e", bad, "x"]),
                Err(UsageError::BadValue {
                    sub: "init",
                    option: b"-e",
                    value: bad.as_bytes().to_vec().leak(),
                    expected: "an exit status from 0 to 255",
                }),
                "{bad}"
            );
        }
        assert_eq!(p(&["husk", "init", "-e"]), Err(UsageError::MissingValue { sub: "init", option: b"-e" }));
    }

    #[test]
    fn rewrite_signals() {
        let s =
            init(&["husk", "init", "-r", "TERM:QUIT", "--rewrite", "2:0", "--rewrite=SIGUSR1:sigusr2", "x"]);
        assert_eq!((s.rewrite.apply(15), s.rewrite.apply(2), s.rewrite.apply(10)), (Some(3), None, Some(12)));
        assert_eq!(s.rewrite.apply(1), Some(1));
        // Repeated for the same signal: the last one counts.
        let s = init(&["husk", "init", "-r", "15:3", "-r", "15:10", "x"]);
        assert_eq!(s.rewrite.apply(15), Some(10));
        // dumb-init's own refusals (its cli_test), and more.
        for bad in ["", "herp", "herp:derp", "15", "15::12", "15:derp", "1:65", "0:1", "15:-1", "15:3:4"] {
            assert!(
                matches!(
                    p(&["husk", "init", "-r", bad, "x"]),
                    Err(UsageError::BadValue { option: b"-r", expected, .. })
                        if expected == "SIGNAL:SIGNAL, like TERM:QUIT or 15:3; to 0 drops it"
                ),
                "{bad}"
            );
        }
        assert_eq!(
            p(&["husk", "init", "-r", "15:12", "-r"]),
            Err(UsageError::MissingValue { sub: "init", option: b"-r" })
        );
    }

    #[test]
    fn verbosity_and_version() {
        assert_eq!(init(&["husk", "init", "x"]).verbosity, 0);
        assert_eq!(init(&["husk", "init", "-v", "x"]).verbosity, 1);
        assert_eq!(init(&["husk", "init", "-vv", "x"]).verbosity, 2);
        assert_eq!(init(&["husk", "init", "-v", "--verbose", "-vvv", "x"]).verbosity, 5);
        for bad in ["-vx", "--vv", "-vV"] {
            let option = bad.as_bytes();
            assert_eq!(
                p(&["husk", "init", bad, "x"]),
                Err(UsageError::UnknownOption { sub: "init", option })
            );
        }
        assert_eq!(p(&["husk", "init", "--version"]), Ok(Command::Version));
        assert_eq!(p(&["husk", "init", "-V"]), Ok(Command::Version));
        assert_eq!(p(&["husk", "init", "-g", "--version", "x"]), Ok(Command::Version));
        assert_eq!(p(&["/init", "--version"]), Ok(Command::Version));
        // After `--` it is COMMAND.
        assert_eq!(init(&["husk", "init", "--", "--version"]).command, Some(3));
    }

    /// An argv with an environment, as the real process has.
    struct WithEnv(Vec<&'static [u8]>, Vec<(&'static str, &'static str)>);

    impl Argv<'static> for WithEnv {
        fn count(&self) -> usize {
            self.0.len()
        }
        fn get(&self, i: usize) -> &'static [u8] {
            self.0[i]
        }
        fn var(&self, name: &[u8]) -> Option<&'static [u8]> {
            self.1.iter().find(|(k, _)| k.as_bytes() == name).map(|(_, v)| v.as_bytes())
        }
    }

    fn with_env(
        args: &[&'static str],
        env: &[(&'static str, &'static str)],
    ) -> Result<InitSpec, UsageError<'static>> {
        let argv = WithEnv(args.iter().map(|a| a.as_bytes()).collect(), env.to_vec());
        match super::super::parse(&argv) {
            Ok(Command::Init(spec)) => Ok(spec),
            Ok(other) => panic!("{args:?} gave {other:?}"),
            Err(e) => Err(e),
        }
    }

    #[test]
    fn environment_switches() {
        let spec = |args: &[&'static str], env: &[(&'static str, &'static str)]| with_env(args, env).unwrap();
        let x = ["husk", "init", "x"];
        let g = ["husk", "init", "-g", "x"];
        assert!(!spec(&x, &[]).process_group);
        assert!(spec(&x, &[("TINI_KILL_PROCESS_GROUP", "1")]).process_group);
        // tini's README sets it empty.
        assert!(spec(&x, &[("TINI_KILL_PROCESS_GROUP", "")]).process_group);
        assert!(!spec(&x, &[("TINI_KILL_PROCESS_GROUP_X", "1")]).process_group);
        // DUMB_INIT_SETSID=0 has the last word: COMMAND alone.
        assert!(!spec(&g, &[("DUMB_INIT_SETSID", "0")]).process_group);
        assert!(!spec(&x, &[("TINI_KILL_PROCESS_GROUP", "1"), ("DUMB_INIT_SETSID", "0")]).process_group);
        // Any other value is dumb-init's default, which husk does not copy: nothing changes.
        assert!(spec(&g, &[("DUMB_INIT_SETSID", "1")]).process_group);
        assert!(!spec(&x, &[("DUMB_INIT_SETSID", "1")]).process_group);
        assert!(spec(&g, &[("DUMB_INIT_SETSID", "")]).process_group);
        // TINI_VERBOSITY: tini's level less one, replacing -v.
        for (value, level) in [("0", 0), ("", 0), ("1", 0), ("2", 1), ("3", 2), ("4", 3), ("007", 6)] {
            assert_eq!(spec(&x, &[("TINI_VERBOSITY", value)]).verbosity, level, "{value}");
        }
        assert_eq!(spec(&["husk", "init", "-vv", "x"], &[("TINI_VERBOSITY", "1")]).verbosity, 0);
        assert_eq!(spec(&["husk", "init", "-vv", "x"], &[]).verbosity, 2);
        assert_eq!(spec(&x, &[("TINI_VERBOSITY", "999999999")]).verbosity, 255);
        for bad in ["x", "-1", "2 ", "1e3", "9999999999"] {
            assert_eq!(
                with_env(&x, &[("TINI_VERBOSITY", bad)]),
                Err(UsageError::BadValue {
                    sub: "init",
                    option: b"TINI_VERBOSITY",
                    value: bad.as_bytes(),
                    expected: "a number, like 2"
                }),
                "{bad}"
            );
        }
        // Help and version do not look at the environment.
        let help = WithEnv(vec![b"husk", b"init", b"-h"], vec![("TINI_VERBOSITY", "x")]);
        assert_eq!(super::super::parse(&help), Ok(Command::Help(Topic::Init)));
        // A test argv has no environment.
        assert_eq!(init(&x).verbosity, 0);
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
