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
  husk images [-q] | rmi ID...|all           the image store (--rootfs ARCHIVE)
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
  -e, --remap-exit CODE          exit 0 when the status is CODE (128+N too; repeatable)
  -r, --rewrite SIG:SIG          forward the first signal as the second, or drop it (0)
      --grace SECONDS            when COMMAND exits: SIGTERM the rest, wait, SIGKILL
  -v, --verbose                  tell on stderr: start and end; -vv every signal and reap
  -s                             tini compatibility (husk always subreaps)
  -h, --help                     this help (-V, --version: husk's version)
Environment, read after the options: TINI_KILL_PROCESS_GROUP (as -g), TINI_VERBOSITY=N
(tini's level: N-1 times -v), DUMB_INIT_SETSID=0 (signal COMMAND alone).
Kernel command line: -- COMMAND...; husk.exit=poweroff|reboot|halt|qemu.
";

const RUN: &str = "\
Usage: husk run [OPTIONS] [--] COMMAND [ARG]...
COMMAND in new PID, mount, UTS, IPC, network and cgroup namespaces, husk its PID 1.

Root and mounts:
      --rootfs DIR            the root (default: the host's /, read-only, fresh /tmp)
      --rootfs ARCHIVE        a tar archive (plain, .gz, .zst, .xz), unpacked once into
                              husk's store; each run writes to a layer of its own
      --max-unpacked SIZE     the most an archive may unpack to (default 8G)
      --read-only             the root read-only, with a tmpfs /tmp
      --bind SRC:DST[:ro|rw]  bind a host path; --ro-bind SRC:DST: read-only
  -v, --volume SRC:DST[:ro|rw]   the same; SRC a host path (/... or ./...)
      --mount type=bind,source=SRC,target=DST[,readonly]   paths with ':' go here
      --mount type=tmpfs,target=DST[,tmpfs-size=SIZE][,tmpfs-mode=MODE]
      --tmpfs DST[:size=SIZE,mode=MODE]   a tmpfs (mode 1777 unless given)
Process:
  -e, --env KEY=VALUE|KEY     set a variable (KEY alone: the caller's value)
      --env-file FILE         KEY=VALUE lines (# comments); -e wins over them
  -w, --workdir, --cwd DIR    working directory (default: /)
  -u, --user USER[:GROUP]     name or number, from the root's /etc/passwd and
                              /etc/group (HOME, supplementary groups as there)
  -h, --hostname NAME         default: husk
  -i, -t, -it, --init, --rm   as Docker: the caller's terminal and stdin pass through
                              (-t needs one), husk is always the init and removes
                              the container when it ends (--rm: also a detached one)
Network:
      --net, --network MODE   none: its own, loopback only (default); host: the
                              host's; bridge (root): on bridge husk0, an address
                              of its own, NAT out; pasta: a user's way out (passt);
                              container:NAME: a running container's (a pod)
  -p, --publish [IP:]HOSTPORT:PORT[/udp]   a host port to the container's
      --subnet CIDR           husk0's when first made (default 10.87.0.0/24)
Limits (cgroup v2):
  -m, --memory SIZE           no swap unless --memory-swap SIZE (memory+swap, -1)
      --pids-limit N  --cpus N.N  --cgroup-parent PATH    0: no limit
      --stats                 peak memory, CPU time, peak pids at the end
Security:
      --userns private|keep-id|host   a user always gets a user namespace (root
                              inside is the caller); private: root's own range
      --cap-add, --cap-drop CAP   from Docker's default set (ALL too)
      --seccomp default|unconfined    --security-opt seccomp=unconfined
      --security-opt no-new-privileges=false   let setuid and file-capability
                              programs gain privileges (within the bounding set)
Named containers:
      --name NAME             for exec, ps, logs, stop, wait, rm;  -d, --detach: in
                              the background, kept as exited until husk rm (or --rm)
      --log-size SIZE         a detached container's log keeps its last SIZE

Examples:
  husk run --rootfs ./rootfs -v $PWD:/src:ro -w /src -- make
  husk run --rootfs ./rootfs -u app --tmpfs /tmp:size=64m -m 256M -- ./serve
  husk run --name web -d --rootfs ./rootfs -- httpd -f

Notes: with --net none nothing outside can reach the container. A usage mistake or a
failed step exits 125 before COMMAND runs; otherwise husk exits with COMMAND's status.
";

const EXEC: &str = "\
Usage: husk exec [-e KEY=VALUE] [-w DIR] [-u USER[:GROUP]] NAME [--] COMMAND [ARG]...
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

#[cfg(feature = "images")]
const IMAGES: &str = "\
Usage: husk images [-q]
The store's images: digest, size unpacked, last use (UTC), source; -q, --quiet: digests.
Store: $HUSK_STORE, else /var/lib/husk (root), $XDG_DATA_HOME/husk (a user).
";
#[cfg(feature = "images")]
const RMI: &str = "\
Usage: husk rmi ID...|all
Removes images from the store (ID: a digest, or 4 or more of its first hex digits);
never one that a container is running.
";
#[cfg(not(feature = "images"))]
const IMAGES: &str = "husk images, husk rmi: in a husk built with them (cargo build --features images)\n";
#[cfg(not(feature = "images"))]
const RMI: &str = IMAGES;

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
        Topic::Images => IMAGES,
        Topic::Rmi => RMI,
    });
}

/// Prints one line for a usage mistake on stderr.
#[inline(never)] // a role's own frame: see main.rs
pub fn usage_error(error: &UsageError) {
    let mut line = Line::new();
    describe(&mut line, error);
    line.write_to(2);
}

/// `husk: <what is wrong> (see 'husk help <sub>')`; what is wrong starts with `<sub>: ` for
/// an error of a subcommand's.
pub fn describe(line: &mut Line, error: &UsageError) {
    use UsageError as E;
    line.str("husk: ");
    let sub = match *error {
        E::NoSubcommand | E::UnknownSubcommand(_) => None,
        E::UnknownOption { sub, .. }
        | E::DidYouMean { sub, .. }
        | E::Unsupported { sub, .. }
        | E::MissingArgument { sub, .. }
        | E::ExtraArgument { sub, .. }
        | E::MissingValue { sub, .. }
        | E::BadValue { sub, .. }
        | E::Conflict { sub, .. }
        | E::TooMany { sub, .. }
        | E::MissingCommand { sub } => Some(sub),
    };
    if let Some(sub) = sub {
        line.str(sub).str(": ");
    }
    match *error {
        E::NoSubcommand => line.str("missing subcommand"),
        E::UnknownSubcommand(name) => line.str("unknown subcommand '").quoted(name).str("'"),
        E::UnknownOption { option, .. } => line.str("unknown option '").quoted(option).str("'"),
        E::DidYouMean { option, known, .. } => {
            line.str("unknown option '").quoted(option).str("': did you mean '").bytes(known).str("'?")
        }
        E::Unsupported { option, why, .. } => {
            line.str("'").quoted(option).str("' is not supported: ").str(why)
        }
        E::MissingArgument { what, .. } => line.str("missing ").str(what),
        E::ExtraArgument { arg, .. } => line.str("unexpected argument '").quoted(arg).str("'"),
        E::MissingValue { option, .. } => line.str("option '").quoted(option).str("' needs a value"),
        E::BadValue { option, value, expected, .. } => line
            .str("bad value '")
            .quoted(value)
            .str("' for '")
            .quoted(option)
            .str("': expected ")
            .str(expected),
        E::Conflict { why, .. } => line.str(why),
        E::TooMany { option, max, .. } => {
            line.str("at most ").num(max as u64).str(" of '").quoted(option).str("'")
        }
        E::MissingCommand { .. } => line.str("missing COMMAND"),
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
            text(UsageError::MissingArgument { sub: "logs", what: "NAME" }),
            "husk: logs: missing NAME (see 'husk help logs')"
        );
        assert_eq!(
            text(UsageError::ExtraArgument { sub: "ps", arg: b"x" }),
            "husk: ps: unexpected argument 'x' (see 'husk help ps')"
        );
        assert_eq!(
            text(UsageError::MissingCommand { sub: "init" }),
            "husk: init: missing COMMAND (see 'husk help init')"
        );
    }
}
