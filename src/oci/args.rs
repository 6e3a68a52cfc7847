//! The OCI command line → [`Oci`]. Pure, like the rest of args: runc's and crun's global
//! options, then a verb with its options and the container's ID in any order.
//!
//! How husk tells this command line from its own (README, "OCI runtime"): invoked under the
//! name `husk-oci`, `runc` or `crun` (a symlink: what an engine is pointed at), or with a
//! global option first (`husk --root DIR kill …`, as every engine calls a runtime), or with
//! a verb husk has no other meaning for (`create`, `start`, `state`, `delete`, `features`,
//! `spec`, `pause`, `resume`), or after `husk oci`. Otherwise `husk run`, `exec`, `ps` and
//! `kill` are husk's own.

use crate::text::{basename, parse_decimal};

/// What the engine asked for.
#[derive(Debug, PartialEq, Eq)]
pub struct Oci<'a> {
    pub global: Global<'a>,
    pub verb: Verb,
    /// The container's ID (every verb but features and spec has one).
    pub id: &'a [u8],
    pub bundle: &'a [u8],
    pub pid_file: Option<&'a [u8]>,
    pub console_socket: Option<&'a [u8]>,
    /// Descriptors from 3 on that the container's process keeps (`--preserve-fds N`).
    pub preserve_fds: u32,
    /// `kill`'s signal (SIGTERM when not given).
    pub signal: i32,
    /// `kill --all`, `delete --force`, `run --detach`: the one switch each verb has.
    pub all: bool,
    pub force: bool,
    pub detach: bool,
    /// `exec --process FILE`.
    pub process: Option<&'a [u8]>,
    /// `exec`'s own options: `--tty`, `--cwd`, `--user`, `--no-new-privs`, `--env` (argv
    /// indices, as many as given), `--cap`.
    pub tty: bool,
    pub cwd: Option<&'a [u8]>,
    pub user: Option<&'a [u8]>,
    pub no_new_privs: bool,
    pub env: heapless::Vec<u16, 64>,
    pub caps: heapless::Vec<u16, 64>,
    /// Where the command of `exec ID COMMAND…` starts in argv (0: none).
    pub command: usize,
}

/// The options before the verb.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct Global<'a> {
    /// Where containers' state lives (`--root`).
    pub root: &'a [u8],
    /// `--log FILE`: errors are written there too, as text or JSON lines.
    pub log: Option<&'a [u8]>,
    pub log_json: bool,
    /// `--cgroup-manager disabled`: no cgroup of the container's own, whatever config.json
    /// asks (a limit asked then is an error, never ignored).
    pub cgroups: bool,
}

/// The OCI verbs (runtime-spec runtime.md "Operations", and runc's extras).
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Verb {
    Create,
    Start,
    State,
    Kill,
    Delete,
    Run,
    Exec,
    Ps,
    Pause,
    Resume,
    Features,
    Spec,
    Version,
}

/// runc's default is /run/runc and crun's /run/crun: husk's own, beside its named
/// containers' /run/husk.
pub const DEFAULT_ROOT: &[u8] = b"/run/husk-oci";

const VERBS: &[u8] = b"create start state kill delete run exec ps pause resume features spec";

/// Whether argv is the OCI's: by the name husk runs under, by a global option first, by a
/// verb of its own, or after `husk oci`. Returns where the global options start.
pub fn is_oci(argv0: &[u8], first: &[u8]) -> Option<usize> {
    if matches!(basename(argv0), b"husk-oci" | b"runc" | b"crun") {
        return Some(1);
    }
    if first == b"oci" {
        return Some(2);
    }
    let global = GLOBAL_VALUED.iter().chain(GLOBAL_SWITCHES).any(|o| name_of(first) == *o);
    let own_verb = matches!(
        first,
        b"create" | b"start" | b"state" | b"delete" | b"features" | b"spec" | b"pause" | b"resume"
    );
    (global || own_verb).then_some(1)
}

const GLOBAL_VALUED: &[&[u8]] = &[b"--root", b"--log", b"--log-format", b"--cgroup-manager", b"--criu"];
const GLOBAL_SWITCHES: &[&[u8]] = &[b"--debug", b"--systemd-cgroup", b"--rootless"];

/// A usage mistake: the option or argument, and what was wrong.
#[derive(Debug, PartialEq, Eq)]
pub struct Mistake<'a> {
    pub arg: &'a [u8],
    pub why: &'static str,
}

fn mistake<'a>(arg: &'a [u8], why: &'static str) -> Mistake<'a> {
    Mistake { arg, why }
}

/// `--name=value` → `--name`.
fn name_of(arg: &[u8]) -> &[u8] {
    crate::text::split_once(arg, b'=').0
}

/// Parses argv from `at` (the first global option or the verb).
pub fn parse<'a, A: super::super::args::Argv<'a> + ?Sized>(
    argv: &A,
    at: usize,
) -> Result<Oci<'a>, Mistake<'a>> {
    let mut global = Global { root: DEFAULT_ROOT, log: None, log_json: false, cgroups: true };
    let mut i = at;
    // The value of the option at `i`: inline after `=`, or the next argument.
    let value = |i: &mut usize| -> Result<&'a [u8], Mistake<'a>> {
        let arg = argv.get(*i);
        match crate::text::split_once(arg, b'=') {
            (_, Some(v)) if arg.starts_with(b"--") => Ok(v),
            _ if *i + 1 < argv.count() => {
                *i += 1;
                Ok(argv.get(*i))
            }
            _ => Err(mistake(arg, "needs a value")),
        }
    };
    let verb = loop {
        if i >= argv.count() {
            return Err(mistake(
                b"",
                "no verb: create, start, state, kill, delete, run, exec, ps, features, spec",
            ));
        }
        let arg = argv.get(i);
        match name_of(arg) {
            b"--root" => global.root = value(&mut i)?,
            b"--log" => global.log = Some(value(&mut i)?),
            b"--log-format" => {
                global.log_json = match value(&mut i)? {
                    b"json" => true,
                    b"text" => false,
                    _ => return Err(mistake(arg, "text or json")),
                }
            }
            b"--cgroup-manager" => match value(&mut i)? {
                b"cgroupfs" => global.cgroups = true,
                b"disabled" => global.cgroups = false,
                _ => {
                    return Err(mistake(
                        arg,
                        "husk manages cgroups itself (cgroupfs) or not at all (disabled)",
                    ));
                }
            },
            b"--systemd-cgroup" => {
                return Err(mistake(arg, "husk manages cgroups itself: --cgroup-manager cgroupfs"));
            }
            b"--criu" => return Err(mistake(arg, "husk has no checkpoint and restore")),
            b"--debug" => {}
            // runc's --rootless auto|true|false: husk decides from who runs it.
            b"--rootless" => {
                if !arg.contains(&b'=') && i + 1 < argv.count() && !argv.get(i + 1).starts_with(b"-") {
                    let next = argv.get(i + 1);
                    if matches!(next, b"auto" | b"true" | b"false") {
                        i += 1;
                    }
                }
            }
            b"-v" | b"--version" | b"version" => break Verb::Version,
            _ if arg.starts_with(b"-") => return Err(mistake(arg, "unknown global option")),
            word => {
                break match crate::text::word_index(VERBS, word) {
                    Some(0) => Verb::Create,
                    Some(1) => Verb::Start,
                    Some(2) => Verb::State,
                    Some(3) => Verb::Kill,
                    Some(4) => Verb::Delete,
                    Some(5) => Verb::Run,
                    Some(6) => Verb::Exec,
                    Some(7) => Verb::Ps,
                    Some(8) => Verb::Pause,
                    Some(9) => Verb::Resume,
                    Some(10) => Verb::Features,
                    Some(11) => Verb::Spec,
                    _ => return Err(mistake(arg, "unknown verb")),
                };
            }
        }
        i += 1;
    };
    let mut oci = Oci {
        global,
        verb,
        id: b"",
        bundle: b".",
        pid_file: None,
        console_socket: None,
        preserve_fds: 0,
        signal: crate::signals::SIGTERM,
        all: false,
        force: false,
        detach: false,
        process: None,
        tty: false,
        cwd: None,
        user: None,
        no_new_privs: false,
        env: heapless::Vec::new(),
        caps: heapless::Vec::new(),
        command: 0,
    };
    let mut positional = 0;
    i += 1;
    while i < argv.count() {
        let arg = argv.get(i);
        let creating = matches!(verb, Verb::Create | Verb::Run);
        let execing = verb == Verb::Exec;
        match name_of(arg) {
            // exec's COMMAND, after the ID: everything from there on is its.
            _ if execing && positional == 1 && !arg.starts_with(b"-") => {
                oci.command = i;
                break;
            }
            b"--" if execing && positional == 1 => {
                oci.command = i + 1;
                break;
            }
            b"--bundle" | b"-b" if creating || verb == Verb::Spec => oci.bundle = value(&mut i)?,
            b"--pid-file" if creating || execing => oci.pid_file = Some(value(&mut i)?),
            b"--console-socket" if creating || execing => oci.console_socket = Some(value(&mut i)?),
            b"--preserve-fds" if creating || execing => {
                let v = value(&mut i)?;
                oci.preserve_fds = parse_decimal(v, 6).ok_or(mistake(arg, "a number"))? as u32;
            }
            b"--no-pivot" | b"--no-new-keyring" if creating => {}
            b"--detach" | b"-d" if verb == Verb::Run || execing => oci.detach = true,
            b"--all" | b"-a" if verb == Verb::Kill => oci.all = true,
            b"--force" | b"-f" if verb == Verb::Delete => oci.force = true,
            // `ps --format json` (what engines ask: `all` then means JSON) or table.
            b"--format" | b"-f" if verb == Verb::Ps => oci.all = value(&mut i)? == b"json",
            b"--rootless" if verb == Verb::Spec => {}
            b"--process" | b"-p" if execing => oci.process = Some(value(&mut i)?),
            b"--tty" | b"-t" if execing => oci.tty = true,
            b"--cwd" if execing => oci.cwd = Some(value(&mut i)?),
            b"--user" | b"-u" if execing => oci.user = Some(value(&mut i)?),
            b"--no-new-privs" if execing => oci.no_new_privs = true,
            b"--env" | b"-e" if execing => {
                let at = if arg.contains(&b'=') && arg.starts_with(b"--") { i } else { i + 1 };
                let _ = value(&mut i)?;
                oci.env.push(at as u16).map_err(|_| mistake(arg, "too many"))?;
            }
            b"--cap" | b"-c" if execing => {
                let at = if arg.contains(&b'=') { i } else { i + 1 };
                let _ = value(&mut i)?;
                oci.caps.push(at as u16).map_err(|_| mistake(arg, "too many"))?;
            }
            _ if arg.starts_with(b"-") && arg.len() > 1 => return Err(mistake(arg, "unknown option")),
            _ => {
                match (positional, verb) {
                    (0, _) => oci.id = arg,
                    (1, Verb::Kill) => {
                        oci.signal = crate::signals::parse(arg).ok_or(mistake(arg, "not a signal"))?
                    }
                    _ => return Err(mistake(arg, "one argument too many")),
                }
                positional += 1;
            }
        }
        i += 1;
    }
    let needs_id = !matches!(verb, Verb::Features | Verb::Spec | Verb::Version);
    if needs_id && !valid_id(oci.id) {
        return Err(mistake(oci.id, "a container ID: letters, digits, _ . - (not first), at most 1024"));
    }
    if execing_without_command(&oci) {
        return Err(mistake(oci.id, "exec needs --process FILE or a command after the ID"));
    }
    Ok(oci)
}

fn execing_without_command(oci: &Oci) -> bool {
    oci.verb == Verb::Exec && oci.process.is_none() && oci.command == 0
}

/// An ID names a directory under the state root: one path component, never `.` or `..`.
pub fn valid_id(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= 1024
        && id[0].is_ascii_alphanumeric()
        && id.iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&'static str]) -> Result<Oci<'static>, Mistake<'static>> {
        let v: Vec<&'static [u8]> = args.iter().map(|a| a.as_bytes()).collect();
        let v: &'static [&'static [u8]] = Vec::leak(v);
        let at = is_oci(v[0], v[1]).expect("oci");
        parse(v, at)
    }

    #[test]
    fn told_apart_from_husks_own() {
        assert_eq!(is_oci(b"husk", b"run"), None);
        assert_eq!(is_oci(b"husk", b"kill"), None);
        assert_eq!(is_oci(b"husk", b"exec"), None);
        assert_eq!(is_oci(b"husk", b"create"), Some(1));
        assert_eq!(is_oci(b"husk", b"--root"), Some(1));
        assert_eq!(is_oci(b"husk", b"--log-format=json"), Some(1));
        assert_eq!(is_oci(b"/usr/local/bin/husk-oci", b"run"), Some(1));
        assert_eq!(is_oci(b"/x/crun", b"kill"), Some(1));
        assert_eq!(is_oci(b"husk", b"oci"), Some(2));
    }

    #[test]
    fn what_podman_sends() {
        let o = p(&[
            "crun",
            "--log-format=json",
            "--log",
            "/tmp/l",
            "--cgroup-manager",
            "disabled",
            "create",
            "--bundle",
            "/b",
            "--pid-file",
            "/p",
            "--console-socket",
            "/s",
            "abc",
        ])
        .unwrap();
        assert_eq!(o.verb, Verb::Create);
        assert_eq!(o.id, b"abc");
        assert_eq!(o.bundle, b"/b");
        assert_eq!(o.pid_file, Some(&b"/p"[..]));
        assert_eq!(o.console_socket, Some(&b"/s"[..]));
        assert!(o.global.log_json && !o.global.cgroups);
        assert_eq!(o.global.log, Some(&b"/tmp/l"[..]));
        let k = p(&["husk", "--root", "/r", "kill", "abc", "9"]).unwrap();
        assert_eq!((k.verb, k.signal, k.global.root), (Verb::Kill, 9, &b"/r"[..]));
        let k = p(&["husk-oci", "kill", "--all", "abc", "SIGUSR1"]).unwrap();
        assert_eq!((k.signal, k.all), (10, true));
        let d = p(&["husk", "delete", "--force", "abc"]).unwrap();
        assert!(d.force);
        // options after the ID
        let c = p(&["husk", "create", "abc", "--bundle=/b"]).unwrap();
        assert_eq!((c.id, c.bundle), (&b"abc"[..], &b"/b"[..]));
    }

    #[test]
    fn exec_forms() {
        let e = p(&["runc", "exec", "--pid-file", "/p", "--process", "/f", "--detach", "abc"]).unwrap();
        assert_eq!((e.process, e.detach, e.command), (Some(&b"/f"[..]), true, 0));
        let e = p(&["runc", "exec", "-e", "A=1", "--cwd", "/tmp", "abc", "ls", "-l"]).unwrap();
        assert_eq!((e.command, e.env.len(), e.cwd), (7, 1, Some(&b"/tmp"[..])));
        assert!(p(&["runc", "exec", "abc"]).is_err());
    }

    #[test]
    fn mistakes() {
        assert!(p(&["husk", "create"]).is_err());
        assert!(p(&["husk", "create", "../x"]).is_err());
        assert!(p(&["husk", "create", ".x"]).is_err());
        assert!(p(&["husk", "create", "a/b"]).is_err());
        assert!(p(&["husk", "--systemd-cgroup", "create", "a"]).is_err());
        assert!(p(&["husk", "--cgroup-manager", "systemd", "create", "a"]).is_err());
        assert!(p(&["husk-oci", "kill", "a", "NOPE"]).is_err());
        assert!(p(&["husk", "state", "a", "b"]).is_err());
        assert!(p(&["husk", "--root"]).is_err());
        assert!(p(&["husk", "--root", "/r"]).is_err());
        assert_eq!(p(&["husk", "features"]).unwrap().verb, Verb::Features);
        assert_eq!(p(&["husk", "spec", "--rootless"]).unwrap().verb, Verb::Spec);
        assert_eq!(p(&["husk", "--root", "/r", "--version"]).unwrap().verb, Verb::Version);
    }
}
