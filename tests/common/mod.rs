//! Helpers shared by black-box test binaries (`mod common;` in the test file).
//!
//! - [`case`]: one test's world ([`case::Case`]): its directory, whose path is the marker,
//!   the host mount table lines it watches, and the check that nothing was left behind;
//! - [`proc`]: a started process ([`proc::Proc`]) and the one guard that kills what a failed
//!   test left, waits against a deadline, /proc readers;
//! - [`images`]: the tarballs, images and hostile archives of the images tests;
//! - [`named`]: the registry of named containers and the guard of one ([`named::Named`]);
//! - [`rootfs`]: the busybox and Debian root filesystem fixtures;
//! - [`tree`]: process trees, and the more generous patience of the python3 tests;
//! - [`user`]: the ordinary users of the rootless tests, running as them, their fixtures;
//! - here: whether the tests run in CI ([`in_ci`]), and what a test that cannot run does
//!   ([`skip`], [`missing`], [`need!`]) or a test that takes a branch of this host says
//!   ([`host_branch`]).
//!
//! **A skip under CI is a failure.** A test that cannot run for want of something (root, a
//! tool, a fixture, a second CPU) says why and returns, except under CI, where it fails:
//! `.ci/run` installs every prerequisite, so there a skip can only mean a broken set-up, and
//! a green run must mean every test ran. A test whose host decides *which* of its checks
//! can be made (the kernel's files, the cgroup layout) is not skipped: it makes the checks
//! this host allows, says which branch it took ([`host_branch`]), and fails if they fail.

pub mod case;
pub mod images;
pub mod named;
pub mod proc;
pub mod rootfs;
pub mod tree;
pub mod user;

use std::path::PathBuf;

/// Whether the tests run in CI (`CI=true`, as CI services set it), where nothing may be
/// skipped.
#[allow(dead_code)] // not every binary uses it
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// A missing prerequisite, for a function that returns why a test cannot run: the reason,
/// or (in CI) a failure.
#[allow(dead_code)] // not every binary uses it
pub fn missing(reason: impl Into<String>) -> String {
    let reason = reason.into();
    if in_ci() {
        panic!("prerequisite missing in CI: {reason}");
    }
    reason
}

/// A tool of a Debian package: found in PATH or in the directories a root PATH has (sbin
/// tools are often not in a user's), or why the test cannot run ([`missing`]: a failure in
/// CI).
#[allow(dead_code)] // not every binary uses it
pub fn tool(name: &str, package: &str) -> Result<PathBuf, String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| missing(format!("{name} not installed (apt-get install {package})")))
}

/// Test `test` cannot run here for `reason`: says so on stderr; under CI, fails instead.
/// The caller returns (`return skip(TEST, REASON);`).
#[allow(dead_code)] // not every binary uses it
pub fn skip(test: &str, reason: &str) {
    if in_ci() {
        panic!("{test} would be skipped, and nothing may be skipped in CI: {reason}");
    }
    eprintln!("skipped: {test}: {reason}");
}

/// Test `test` took the branch this host allows (`what`: which, and why it is not a skip).
/// Only says so: the branch makes checks of its own, and they fail the test as any other.
#[allow(dead_code)] // not every binary uses it
pub fn host_branch(test: &str, what: &str) {
    eprintln!("host branch: {test}: {what}");
}

/// The fixture, or [`skip`] the test (a failure under CI) and return
/// (`use common::need;`; init uses no fixture, hence the `allow`s).
#[allow(unused_macros)]
macro_rules! need {
    ($test:literal, $fixture:expr) => {
        match $fixture {
            Ok(value) => value,
            Err(why) => {
                $crate::common::skip($test, &why);
                return;
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use need;
