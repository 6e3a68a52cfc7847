//! Help and version text, and the one line printed for a usage mistake.

use crate::args::{Topic, UsageError};
use crate::out::{self, Line};

pub const VERSION: &str = concat!("husk ", env!("CARGO_PKG_VERSION"), "\n");

const MAIN: &str = "\
husk: a tiny static container runtime and init

Usage:
  husk run [OPTIONS] [--] COMMAND [ARG]...    run COMMAND in a new container
  husk init [OPTIONS] [--] COMMAND [ARG]...   run COMMAND as its init (PID 1 or subreaper)
  husk help [SUBCOMMAND]                     show help
  husk --version                             show the version

Started as `init` (/init, /sbin/init), husk is `husk init`; as the kernel's PID 1 it also
mounts /proc, /sys, /dev, /run, /tmp and cgroup2, and powers off when COMMAND ends.

Exit status: COMMAND's own; 128+N if it was killed by signal N; 125 if husk failed;
126 if COMMAND could not be executed; 127 if it was not found.
";

const INIT: &str = "\
Usage: husk init [OPTIONS] [--] COMMAND [ARG]...

Runs COMMAND and serves as its init: forwards every signal it receives to COMMAND, reaps
every orphan (as PID 1, or else as child subreaper) and exits with COMMAND's status.

Options:
  -g, --process-group            forward signals to COMMAND's process group
  -p, --parent-death-signal SIG  receive (and forward) SIG when husk's parent dies
      --grace SECONDS            when COMMAND exits, SIGTERM what is left, wait up to
                                 SECONDS, then SIGKILL (default: exit at once)
  -s                             accepted for tini compatibility (husk always subreaps)
  -h, --help                     show this help

As the kernel's init (PID 1 of the initial PID namespace): COMMAND comes from the words
after `--` on the kernel command line (default /bin/sh); `husk.exit=poweroff|reboot|halt|qemu`
chooses how the machine ends; SIGTERM ends COMMAND and powers off, Ctrl-Alt-Del reboots.
";

const RUN: &str = "\
Usage: husk run [OPTIONS] [--] COMMAND [ARG]...

Runs COMMAND in a new container: new PID, mount, UTS, IPC, network and cgroup namespaces,
a fresh /proc, a minimal /dev, pivot_root into the root filesystem. husk is the container's
PID 1 (as in `husk init`) and passes COMMAND's status back.

Options:
      --rootfs DIR         root filesystem (default: the host's /, read-only, fresh /tmp)
      --read-only          mount the root filesystem read-only (and /tmp as a tmpfs)
      --bind SRC:DST       bind-mount host SRC at DST (read-write)
      --ro-bind SRC:DST    bind-mount host SRC at DST, read-only
      --tmpfs DST          a fresh tmpfs at DST
      --hostname NAME      the container's hostname (default: husk)
  -e, --env KEY=VALUE      set a variable (the environment starts with PATH, HOME,
                           HOSTNAME and the host's TERM only)
  -w, --cwd DIR            working directory inside (default: /)
  -u, --user UID[:GID]     run COMMAND as UID:GID, no supplementary groups (default: 0:0)
      --net none|host      none: own network namespace with loopback up (default);
                           host: the host's network
      --cap-add CAP        give COMMAND a capability beyond Docker's default set
      --cap-drop CAP       take one away (ALL: every one; names with or without CAP_)
      --seccomp default|unconfined
                           COMMAND's seccomp filter (default: husk's)
  -m, --memory SIZE        memory limit (100M, 512k, 1G, bytes); no swap unless:
      --memory-swap SIZE   memory plus swap (-1: unlimited swap)
      --pids-limit N       at most N processes
      --cpus N.N           CPU time, in CPUs
      --cgroup-parent PATH where the container's cgroup goes (under /sys/fs/cgroup)
      --stats              print peak memory, CPU time and peak pids at the end
  -h, --help               show this help
";

/// Prints the help text for `topic` on stdout.
pub fn print(topic: Topic) {
    out::print(match topic {
        Topic::Main => MAIN,
        Topic::Init => INIT,
        Topic::Run => RUN,
    });
}

/// Prints one line for a usage mistake on stderr.
pub fn usage_error(error: &UsageError) {
    let mut line = Line::new();
    describe(&mut line, error);
    line.write_to(2);
}

/// `husk: <what is wrong> (see 'husk help <sub>')`
pub fn describe(line: &mut Line, error: &UsageError) {
    line.str("husk: ");
    let sub = match *error {
        UsageError::NoSubcommand => {
            line.str("missing subcommand");
            None
        }
        UsageError::UnknownSubcommand(name) => {
            line.str("unknown subcommand '").quoted(name).str("'");
            None
        }
        UsageError::UnknownOption { sub, option } => {
            line.str(sub).str(": unknown option '").quoted(option).str("'");
            Some(sub)
        }
        UsageError::MissingValue { sub, option } => {
            line.str(sub).str(": option '").quoted(option).str("' needs a value");
            Some(sub)
        }
        UsageError::BadValue { sub, option, value, expected } => {
            line.str(sub).str(": bad value '").quoted(value).str("' for '").quoted(option);
            line.str("': expected ").str(expected);
            Some(sub)
        }
        UsageError::Conflict { sub, why } => {
            line.str(sub).str(": ").str(why);
            Some(sub)
        }
        UsageError::TooMany { sub, option, max } => {
            line.str(sub).str(": at most ").num(max as u64).str(" of '").quoted(option).str("'");
            Some(sub)
        }
        UsageError::MissingCommand { sub } => {
            line.str(sub).str(": missing COMMAND");
            Some(sub)
        }
    };
    match sub {
        Some(sub) => line.str(" (see 'husk help ").str(sub).str("')"),
        None => line.str(" (see 'husk --help')"),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(e: UsageError) -> String {
        let mut line = Line::new();
        describe(&mut line, &e);
        String::from_utf8(line.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn usage_lines() {
        assert_eq!(text(UsageError::NoSubcommand), "husk: missing subcommand (see 'husk --help')");
        assert_eq!(
            text(UsageError::UnknownSubcommand(b"x")),
            "husk: unknown subcommand 'x' (see 'husk --help')"
        );
        assert_eq!(
            text(UsageError::UnknownOption { sub: "init", option: b"--x" }),
            "husk: init: unknown option '--x' (see 'husk help init')"
        );
        assert_eq!(
            text(UsageError::MissingValue { sub: "init", option: b"-p" }),
            "husk: init: option '-p' needs a value (see 'husk help init')"
        );
        assert_eq!(
            text(UsageError::BadValue { sub: "init", option: b"--grace", value: b"x", expected: "seconds" }),
            "husk: init: bad value 'x' for '--grace': expected seconds (see 'husk help init')"
        );
        assert_eq!(
            text(UsageError::MissingCommand { sub: "init" }),
            "husk: init: missing COMMAND (see 'husk help init')"
        );
    }
}
