//! argv → what the user asked for. Pure: no syscalls, so every path is unit-tested.
//!
//! Nothing is copied: the parsed spec refers to argv by index, and COMMAND is handed to
//! execve as the NULL-terminated tail of the original argv array.

/// Read access to an argument vector (the real one, or a test's).
pub trait Argv<'a> {
    fn count(&self) -> usize;
    fn get(&self, i: usize) -> &'a [u8];
    /// An environment variable (`husk init` reads tini's and dumb-init's switches); a test's
    /// argv has none.
    fn var(&self, _name: &[u8]) -> Option<&'a [u8]> {
        None
    }
}

impl<'a> Argv<'a> for [&'a [u8]] {
    fn count(&self) -> usize {
        self.len()
    }
    fn get(&self, i: usize) -> &'a [u8] {
        self[i]
    }
}

/// The process's own arguments, read where the kernel left them.
impl Argv<'static> for crate::rt::Process {
    fn count(&self) -> usize {
        self.argc()
    }
    fn get(&self, i: usize) -> &'static [u8] {
        self.arg(i).to_bytes()
    }
    fn var(&self, name: &[u8]) -> Option<&'static [u8]> {
        self.getenv(name)
    }
}

mod init;
mod manage;
mod run;

use crate::text::{basename, parse_decimal};

pub use init::InitSpec;
pub use manage::{ExecSpec, MAX_NAME, valid_name};
pub use run::{MAX_ENV, MAX_ENV_FILES, MAX_PUBLISH, MAX_VOLUMES, Net, RunSpec};

/// What to do, decided from argv alone.
#[derive(Debug, PartialEq, Eq)]
// No allocator to box the large variant with, and the value lives once, on the stack.
#[allow(clippy::large_enum_variant)]
pub enum Command<'a> {
    Help(Topic),
    Version,
    Init(InitSpec),
    Run(RunSpec<'a>),
    Exec(ExecSpec<'a>),
    Ps {
        quiet: bool,
        all: bool,
    },
    Kill {
        name: &'a [u8],
        signal: i32,
    },
    Logs {
        name: &'a [u8],
        follow: bool,
    },
    Wait {
        name: &'a [u8],
    },
    Stop {
        name: &'a [u8],
        timeout_ms: u64,
    },
    Rm {
        name: &'a [u8],
        force: bool,
    },
    /// `husk images [-q]`: the store's images.
    Images {
        quiet: bool,
    },
    /// `husk rmi ID...|all`: the IDs from this argv index on.
    Rmi {
        first: usize,
    },
    /// The OCI runtime interface (oci/args.rs says how it is told apart): its command line
    /// from this argv index on.
    #[cfg(feature = "oci")]
    Oci(usize),
}

/// Which help text to print.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Topic {
    Main,
    Init,
    Run,
    Exec,
    Ps,
    Kill,
    Logs,
    Wait,
    Stop,
    Rm,
    Images,
    Rmi,
}

/// A usage mistake: printed as one line, exit 125.
#[derive(Debug, PartialEq, Eq)]
pub enum UsageError<'a> {
    NoSubcommand,
    UnknownSubcommand(&'a [u8]),
    UnknownOption {
        sub: &'static str,
        option: &'a [u8],
    },
    /// An unknown option close to a known one.
    DidYouMean {
        sub: &'static str,
        option: &'a [u8],
        known: &'static [u8],
    },
    /// An option of Docker's that husk does not have, and what to do instead.
    Unsupported {
        sub: &'static str,
        option: &'a [u8],
        why: &'static str,
    },
    MissingValue {
        sub: &'static str,
        option: &'a [u8],
    },
    /// A positional argument that is not there (`what` names it: NAME, SIGNAL).
    MissingArgument {
        sub: &'static str,
        what: &'static str,
    },
    /// An argument after the last one the subcommand takes.
    ExtraArgument {
        sub: &'static str,
        arg: &'a [u8],
    },
    BadValue {
        sub: &'static str,
        option: &'a [u8],
        value: &'a [u8],
        expected: &'static str,
    },
    MissingCommand {
        sub: &'static str,
    },
    /// Options that do not go together.
    Conflict {
        sub: &'static str,
        why: &'static str,
    },
    /// A list option given more often than husk has room for.
    TooMany {
        sub: &'static str,
        option: &'a [u8],
        max: usize,
    },
}

/// Why an option's value was refused: not what was expected (the text says what was), or
/// one too many of a list option (its capacity). Applying an option gives this, so that the
/// usage error is built in one place, not by each check on its own.
pub(crate) enum Refusal {
    Expected(&'static str),
    Full(usize),
}

impl Refusal {
    /// The usage error for `value` of `option` of subcommand `sub`. Out of line: one copy
    /// for all the subcommands.
    #[inline(never)]
    pub(crate) fn error<'a>(self, sub: &'static str, option: &'a [u8], value: &'a [u8]) -> UsageError<'a> {
        match self {
            Refusal::Expected(expected) => UsageError::BadValue { sub, option, value, expected },
            Refusal::Full(max) => UsageError::TooMany { sub, option, max },
        }
    }
}

/// The usage error for an unknown option `arg` (`option` without its `=value`): what to do
/// instead when it is one of Docker's that husk does not have (`not_yet`, what), or the known
/// option (a word of `known`) it is closest to (a typo: at most two edits, or the start of
/// a longer name).
#[inline(never)]
pub(crate) fn unknown_option<'a>(
    sub: &'static str,
    arg: &'a [u8],
    option: &'a [u8],
    known: &'static [u8],
    not_yet: Option<&'static str>,
) -> UsageError<'a> {
    if let Some(why) = not_yet {
        return UsageError::Unsupported { sub, option, why };
    }
    let close = crate::text::words(known).find(|name| {
        (option.len() >= 4 && name.starts_with(option)) || (name.len() > 3 && edits(option, name) <= 2)
    });
    match close {
        Some(known) => UsageError::DidYouMean { sub, option: arg, known },
        None => UsageError::UnknownOption { sub, option: arg },
    }
}

/// The edit distance between `a` and `b` (insertions, deletions, substitutions), counted
/// up to 3: enough to tell a typo from another word.
fn edits(a: &[u8], b: &[u8]) -> usize {
    const MAX: usize = 32;
    if a.len() >= MAX || b.len() >= MAX || a.len().abs_diff(b.len()) > 2 {
        return 3;
    }
    // One row of the classic table at a time.
    let mut row = [0usize; MAX];
    for (j, cell) in row.iter_mut().enumerate().take(b.len() + 1) {
        *cell = j;
    }
    for (i, &x) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &y) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(x != y);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()].min(3)
}

/// The longest `--grace` accepted, in seconds (a day: anything longer is surely a typo).
pub const MAX_GRACE_SECONDS: u64 = 86_400;

/// Parses the whole argv, argv[0] included.
pub fn parse<'a, A: Argv<'a> + ?Sized>(argv: &A) -> Result<Command<'a>, UsageError<'a>> {
    // Started as `init` (e.g. /sbin/init or /init): the arguments are `husk init`'s, and
    // with no COMMAND the default shell runs, as the kernel's init or a container's.
    if argv.count() > 0 && basename(argv.get(0)) == b"init" {
        return init::parse(argv, 1, true);
    }
    #[cfg(feature = "oci")]
    if argv.count() > 0
        && let Some(at) =
            crate::oci::args::is_oci(argv.get(0), if argv.count() > 1 { argv.get(1) } else { b"" })
    {
        return Ok(Command::Oci(at));
    }
    if argv.count() < 2 {
        return Err(UsageError::NoSubcommand);
    }
    let first = argv.get(1);
    if is_help(first) {
        return Ok(Command::Help(Topic::Main));
    }
    if first == b"-V" || first == b"--version" || first == b"version" {
        return Ok(Command::Version);
    }
    if first == b"help" {
        if argv.count() <= 2 {
            return Ok(Command::Help(Topic::Main));
        }
        let name = argv.get(2);
        return subcommand(name).map(Command::Help).ok_or(UsageError::UnknownSubcommand(name));
    }
    match subcommand(first) {
        Some(Topic::Init) => init::parse(argv, 2, false),
        Some(Topic::Run) => run::parse(argv, 2),
        Some(Topic::Exec) => manage::parse_exec(argv, 2),
        Some(Topic::Main) | None => Err(UsageError::UnknownSubcommand(first)),
        Some(topic) => manage::parse_other(argv, topic, 2),
    }
}

/// `-h` or `--help`, which every subcommand takes.
fn is_help(arg: &[u8]) -> bool {
    arg == b"-h" || arg == b"--help"
}

/// The subcommands (text::position) and, in the same order, the help topic of each.
const SUBCOMMAND_NAMES: &[u8] = b"init run exec ps kill logs wait stop rm images rmi";
const SUBCOMMANDS: [Topic; 11] = [
    Topic::Init,
    Topic::Run,
    Topic::Exec,
    Topic::Ps,
    Topic::Kill,
    Topic::Logs,
    Topic::Wait,
    Topic::Stop,
    Topic::Rm,
    Topic::Images,
    Topic::Rmi,
];

/// The subcommand named `name`, as its help topic.
fn subcommand(name: &[u8]) -> Option<Topic> {
    SUBCOMMANDS.get(crate::text::position(SUBCOMMAND_NAMES, name)?).copied()
}

/// The value `name` stands for: `values` in the order of the words of `names`, compared
/// exactly. Tables rather than `match`es on byte strings: such a match compiles to a compare
/// and a branch for every byte of every pattern, several times the size of table and loop;
/// and names in one string rather than (name, value) pairs: no pointer and length per name.
pub(crate) fn lookup<T: Copy>(names: &'static [u8], values: &[T], name: &[u8]) -> Option<T> {
    values.get(crate::text::position(names, name)?).copied()
}

/// An option argument as (the whole argument, the option, its inline `=value`).
pub(crate) type OptionArg<'a> = (&'a [u8], &'a [u8], Option<&'a [u8]>);

/// The option at `argv[*i]` as (argument, option, inline value), or None where the options
/// end: at the first non-option, or after a `--` (which is skipped).
pub(crate) fn next_option<'a, A: Argv<'a> + ?Sized>(argv: &A, i: &mut usize) -> Option<OptionArg<'a>> {
    if *i >= argv.count() {
        return None;
    }
    let arg = argv.get(*i);
    if arg == b"--" {
        *i += 1;
        return None;
    }
    if !arg.starts_with(b"-") || arg == b"-" {
        return None;
    }
    let (option, inline) = split_inline_value(arg);
    Some((arg, option, inline))
}

/// An option's value: inline (`--opt=v`), or the next argument; with its argv index.
pub(crate) fn option_value<'a, A: Argv<'a> + ?Sized>(
    argv: &A,
    i: &mut usize,
    inline: Option<&'a [u8]>,
    sub: &'static str,
    option: &'a [u8],
) -> Result<(&'a [u8], usize), UsageError<'a>> {
    if let Some(v) = inline {
        return Ok((v, *i));
    }
    *i += 1;
    if *i >= argv.count() {
        return Err(UsageError::MissingValue { sub, option });
    }
    Ok((argv.get(*i), *i))
}

/// `--name=value` → (`--name`, Some(`value`)); anything else → (arg, None).
pub(crate) fn split_inline_value(arg: &[u8]) -> (&[u8], Option<&[u8]>) {
    if arg.starts_with(b"--")
        && let Some(eq) = arg.iter().position(|&b| b == b'=')
    {
        return (&arg[..eq], Some(&arg[eq + 1..]));
    }
    (arg, None)
}

/// Seconds as `N` or `N.fff` (up to millisecond precision) → milliseconds.
pub fn parse_seconds_ms(s: &[u8]) -> Option<u64> {
    let (whole, frac) = match s.iter().position(|&b| b == b'.') {
        Some(dot) => (&s[..dot], &s[dot + 1..]),
        None => (s, &b""[..]),
    };
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    let secs = if whole.is_empty() { 0 } else { parse_decimal(whole, 6)? };
    let ms = if frac.is_empty() { 0 } else { parse_decimal(frac, 3)? * [100, 10, 1][frac.len() - 1] };
    if secs > MAX_GRACE_SECONDS || (secs == MAX_GRACE_SECONDS && ms > 0) {
        return None;
    }
    Some(secs * 1000 + ms)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn p(args: &[&str]) -> Result<Command<'static>, UsageError<'static>> {
        let v: Vec<&'static [u8]> =
            args.iter().map(|s| -> &'static [u8] { s.to_string().leak().as_bytes() }).collect();
        let v: &'static [&'static [u8]] = v.leak();
        parse(v)
    }

    #[test]
    fn subcommand_names_and_topics_pair_up() {
        assert_eq!(crate::text::words(SUBCOMMAND_NAMES).count(), SUBCOMMANDS.len());
        assert_eq!(subcommand(b"rm"), Some(Topic::Rm));
        assert_eq!(subcommand(b"r"), None);
    }

    #[test]
    fn top_level() {
        assert_eq!(p(&["husk"]), Err(UsageError::NoSubcommand));
        assert_eq!(p(&["husk", "--help"]), Ok(Command::Help(Topic::Main)));
        assert_eq!(p(&["husk", "-h"]), Ok(Command::Help(Topic::Main)));
        assert_eq!(p(&["husk", "help"]), Ok(Command::Help(Topic::Main)));
        assert_eq!(p(&["husk", "help", "init"]), Ok(Command::Help(Topic::Init)));
        assert_eq!(p(&["husk", "help", "nope"]), Err(UsageError::UnknownSubcommand(b"nope")));
        assert_eq!(p(&["husk", "--version"]), Ok(Command::Version));
        assert_eq!(p(&["husk", "-V"]), Ok(Command::Version));
        assert_eq!(p(&["husk", "frobnicate"]), Err(UsageError::UnknownSubcommand(b"frobnicate")));
        assert_eq!(p(&["husk", "--bogus"]), Err(UsageError::UnknownSubcommand(b"--bogus")));
    }

    #[test]
    fn seconds() {
        let cases: &[(&str, Option<u64>)] = &[
            ("0", Some(0)),
            ("5", Some(5000)),
            ("0.5", Some(500)),
            (".25", Some(250)),
            ("1.", Some(1000)),
            ("1.001", Some(1001)),
            ("1.0001", None),
            ("86400", Some(86_400_000)),
            ("86400.1", None),
            ("86401", None),
            ("", None),
            (".", None),
            ("1e3", None),
            ("-1", None),
            ("1.2.3", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_seconds_ms(s.as_bytes()), *want, "{s}");
        }
    }

    #[test]
    fn typos_and_docker_options_get_hints() {
        assert_eq!(edits(b"--rootf", b"--rootfs"), 1);
        assert_eq!(edits(b"--hostanme", b"--hostname"), 2);
        assert_eq!(edits(b"kitten", b"sitting"), 3);
        assert_eq!(edits(b"", b"abc"), 3);
        assert_eq!(
            p(&["husk", "run", "--rootf", "/r", "sh"]),
            Err(UsageError::DidYouMean { sub: "run", option: b"--rootf", known: b"--rootfs" })
        );
        assert_eq!(
            p(&["husk", "run", "--memo=1G", "sh"]),
            Err(UsageError::DidYouMean { sub: "run", option: b"--memo=1G", known: b"--memory" })
        );
        assert!(matches!(
            p(&["husk", "run", "-P", "sh"]),
            Err(UsageError::Unsupported { option: b"-P", .. })
        ));
        assert_eq!(
            p(&["husk", "run", "--zzz", "sh"]),
            Err(UsageError::UnknownOption { sub: "run", option: b"--zzz" })
        );
    }

    #[test]
    fn basenames() {
        assert_eq!(basename(b"/sbin/init"), b"init");
        assert_eq!(basename(b"init"), b"init");
        assert_eq!(basename(b"/"), b"");
    }
}
