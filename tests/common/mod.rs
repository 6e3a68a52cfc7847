//! Helpers shared by black-box test binaries (`mod common;` in the test file).

pub mod rootfs;
