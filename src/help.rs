//! Help and version text, and the one line printed for a usage mistake.

use crate::args::{Topic, UsageError};
use crate::out::{self, Line};

pub const VERSION: &str = concat!("husk ", env!("CARGO_PKG_VERSION"), "\n");

const MAIN: &str = "\
husk: a tiny static container runtime and init

Usage:
  husk run [OPTIONS] [--] COMMAND [ARG]...    run COMMAND in a new container
  husk exec [OPTIONS] NAME [--] COMMAND...    run COMMAND in a named container
  husk ps [-a] [-q] | logs [-f] NAME | kill NAME [SIGNAL]
  husk wait NAME | stop [-t SECONDS] NAME | rm [-f] NAME
  husk init [OPTIONS] [--] COMMAND [ARG]...   be COMMAND's init (PID 1 or subreaper)
  husk help [SUBCOMMAND]
  husk --version

As /init or /sbin/init, husk is `husk init`; as the kernel's PID 1 it also mounts the basics
and powers off when COMMAND ends. Exit: COMMAND's status, 128+N for signal N, 125 husk
failed, 126 cannot execute, 127 not found.
";

const INIT: &str = "\
Usage: husk init [OPTIONS] [--] COMMAND [ARG]...
Forwards every signal to COMMAND, reaps every orphan, exits with COMMAND's status.
  -g, --process-group            signal COMMAND's process group
  -p, --parent-death-signal SIG  get SIG (and forward it) when husk's parent dies
      --grace SECONDS            when COMMAND exits: SIGTERM the rest, wait, SIGKILL
  -s                             tini compatibility (husk always subreaps)
  -h, --help                     this help
Kernel command line: -- COMMAND...; husk.exit=poweroff|reboot|halt|qemu.
";

const RUN: &str = "\
Usage: husk run [OPTIONS] [--] COMMAND [ARG]...
New PID, mount, UTS, IPC, network and cgroup namespaces; husk is PID 1.
      --rootfs DIR          root (default: the host's /, read-only, fresh /tmp)
      --read-only           read-only root, tmpfs /tmp
      --bind SRC:DST        bind mount (--ro-bind: read-only); --tmpfs DST
      --hostname NAME       default: husk
  -e, --env KEY=VALUE       set a variable (starts with PATH, HOME, HOSTNAME, TERM)
  -w, --cwd DIR             working directory (default: /)
  -u, --user UID[:GID]      run as UID:GID, no supplementary groups
      --net none|host       none: own network, loopback up (default)
      --cap-add/--cap-drop CAP   adjust Docker's default capabilities (ALL too)
      --seccomp default|unconfined
  -m, --memory SIZE         memory limit, no swap; --memory-swap SIZE: memory+swap
      --pids-limit N        --cpus N.N    --cgroup-parent PATH    --stats
      --name NAME           register it (exec, ps, kill, logs); -d, --detach
      --rm                  with -d: remove it when it ends (else kept until husk rm;
                            without -d husk always removes it)
";

const EXEC: &str = "\
Usage: husk exec [-e KEY=VALUE] [-w DIR] [-u UID[:GID]] NAME [--] COMMAND [ARG]...
Runs COMMAND in container NAME's namespaces, cgroup, root, identity and filters.
";

const PS: &str = "\
Usage: husk ps [-a] [-q]
NAME PID UPTIME ROOTFS COMMAND of each running named container, by name.
  -a, --all     exited ones too: UPTIME says `Exited (STATUS) 5m ago`
  -q, --quiet   names only
";
const KILL: &str = "Usage: husk kill NAME [SIGNAL]\nSignals the container's init (default TERM).\n";
const LOGS: &str = "\
Usage: husk logs [-f] NAME
A detached container's output, running or exited; -f, --follow: then what it writes
until it ends.
";
const WAIT: &str = "Usage: husk wait NAME\nWaits until the container ends and prints its exit status.\n";
const STOP: &str = "\
Usage: husk stop [-t SECONDS] NAME
SIGTERM to COMMAND (through the container's init), SIGKILL after SECONDS (-t, --time;
default 10); returns once the container has ended.
";
const RM: &str = "\
Usage: husk rm [-f] NAME
Removes an exited container's record and log; -f, --force: a running one too, killed.
";

/// Prints the help text for `topic` on stdout.
#[inline(never)] // a role's own frame: see main.rs
pub fn print(topic: Topic) {
    out::print(match topic {
        Topic::Main => MAIN,
        Topic::Init => INIT,
        Topic::Run => RUN,
        Topic::Exec => EXEC,
        Topic::Ps => PS,
        Topic::Kill => KILL,
        Topic::Logs => LOGS,
        Topic::Wait => WAIT,
        Topic::Stop => STOP,
        Topic::Rm => RM,
    });
}

/// Prints one line for a usage mistake on stderr.
#[inline(never)] // a role's own frame: see main.rs
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
