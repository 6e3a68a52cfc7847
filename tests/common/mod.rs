//! Helpers shared by black-box test binaries (`mod common;` in the test file).

pub mod case;
pub mod proc;
pub mod rootfs;
pub mod tree;

/// The fixture, or print why the test is skipped and return (`use common::need;`; init uses
/// no fixture, hence the `allow`s).
#[allow(unused_macros)]
macro_rules! need {
    ($test:literal, $fixture:expr) => {
        match $fixture {
            Ok(value) => value,
            Err(why) => {
                eprintln!("skipped: {}: {why}", $test);
                return;
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use need;
