//! Named containers, as the binaries that start them keep them (named, exec_race): the
//! registry in /run/husk read through `husk ps`, names unique to a test process, and the
//! guard ([`Named`]) that ends a container and removes its entry even when the test fails.
//!
//! Their processes are [`Kill::Process`]: a container outlives the `husk run -d` that
//! started it by design, and ending it is its guard's work.

// Each test binary compiles this module and uses a different subset of it.
#![allow(dead_code)]

use super::case::{Case, husk_run};
use super::proc::{HUSK, Kill, Outcome, Patience, Proc, kill_mentioning};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The registry of named containers (root's).
pub const REGISTRY: &str = "/run/husk";

/// Starts `cmd` (stdin from /dev/null); dropped unreaped, only the process itself is killed.
pub fn start(cmd: &mut Command) -> Proc {
    Proc::start(cmd).kill_on_drop(Kill::Process)
}

/// Runs `cmd` to its end (stdin from /dev/null).
pub fn run(cmd: &mut Command) -> Outcome {
    start(cmd).wait()
}

/// Runs `husk ARGS...` to its end.
pub fn husk(args: &[&str]) -> Outcome {
    run(Command::new(HUSK).args(args))
}

/// A container name unique to this test process and test.
pub fn unique(test: &str) -> String {
    format!("t{}-{test}", std::process::id())
}

/// The registry entry of `name`.
pub fn entry(name: &str) -> PathBuf {
    Path::new(REGISTRY).join(name)
}

/// `husk ps ARGS`'s stdout. Other tests (and users) may have an entry whose record does not
/// parse at the moment (see named.rs's `arguments_cannot_forge_or_push_out_the_record`): ps
/// then says so on stderr and ends with 125, but still lists every other container.
pub fn ps_stdout(args: &[&str]) -> String {
    let out = husk(&[&["ps"][..], args].concat());
    let refused =
        |l: &str| l.starts_with("husk: state ") && l.ends_with("its record does not parse: refused");
    match out.status.code() {
        Some(125) if !out.stderr.is_empty() && out.stderr.lines().all(refused) => out.stdout,
        _ => out.expect_success().to_string(),
    }
}

/// The names `husk ps -q` lists.
pub fn ps_names() -> Vec<String> {
    ps_stdout(&["-q"]).lines().map(str::to_string).collect()
}

/// The names `husk ps -a -q` lists: running and exited.
pub fn ps_all_names() -> Vec<String> {
    ps_stdout(&["-a", "-q"]).lines().map(str::to_string).collect()
}

/// Waits until `name` has ended: not listed by `husk ps -q` (running ones), and either
/// listed by `husk ps -a -q` (a detached container kept as exited) or without an entry.
pub fn wait_ended(name: &str) {
    Patience::DEFAULT.wait_until(
        || format!("{name} to leave husk ps -q ({:?})", ps_names()),
        || {
            !ps_names().iter().any(|n| n == name)
                && (ps_all_names().iter().any(|n| n == name) || fs::symlink_metadata(entry(name)).is_err())
        },
    );
}

/// Waits until `name` is gone: not listed by `husk ps -q`; a detached container kept as
/// exited is then removed with `husk rm`; no registry entry is left.
pub fn wait_gone(name: &str) {
    wait_gone_within(name, Patience::DEFAULT);
}

/// [`wait_gone`], held to `patience`.
pub fn wait_gone_within(name: &str, patience: Patience) {
    patience.wait_until(
        || format!("{name} to leave husk ps -q ({:?})", ps_names()),
        || !ps_names().iter().any(|n| n == name),
    );
    // Its own husk run may be removing it this instant (--rm, a foreground or a failed
    // run): what counts is that nothing is left afterwards.
    if fs::symlink_metadata(entry(name)).is_ok() {
        husk(&["rm", name]);
    }
    patience.wait_until(
        || format!("{name} to leave husk ps -a -q ({:?}) and {REGISTRY}", ps_all_names()),
        || !ps_all_names().iter().any(|n| n == name) && fs::symlink_metadata(entry(name)).is_err(),
    );
}

/// Removes the registry entry `name` (its files, then the directory), if any.
pub fn remove_entry(name: &str) {
    let dir = entry(name);
    if let Ok(files) = fs::read_dir(&dir) {
        for file in files.flatten() {
            let _ = fs::remove_file(file.path());
        }
    }
    let _ = fs::remove_dir(&dir);
}

/// A container this test started (or a registry entry it made): on drop, SIGKILL to it
/// through husk, SIGKILL to every process still mentioning the marker, and its registry
/// entry removed.
pub struct Named {
    pub name: String,
    pub marker: String,
}

impl Drop for Named {
    fn drop(&mut self) {
        let _ = Command::new(HUSK)
            .args(["kill", &self.name, "KILL"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        kill_mentioning(&self.marker);
        remove_entry(&self.name);
    }
}

impl Case {
    /// A guard for the container `name` of this test.
    pub fn guard(&self, name: &str) -> Named {
        Named { name: name.to_string(), marker: self.marker.clone() }
    }

    /// `husk run -d --name NAME OPTS -- COMMAND...` (COMMAND must mention the marker): must
    /// print the name and exit 0. The guard is made first, so a failed start is cleaned too.
    pub fn detach_command(&self, name: &str, opts: &[&str], command: &[&str]) -> Named {
        let guard = self.guard(name);
        assert!(command.contains(&self.marker.as_str()), "COMMAND must mention the marker");
        let out = run(&mut husk_run(&[&["-d", "--name", name], opts].concat(), command));
        out.expect(0, &format!("{name}\n"), "");
        guard
    }

    /// `husk run -d --name NAME OPTS -- sh -c SCRIPT MARKER`: must print the name and exit 0.
    pub fn detach(&self, name: &str, opts: &[&str], script: &str) -> Named {
        self.detach_command(name, opts, &["sh", "-c", script, &self.marker])
    }
}
