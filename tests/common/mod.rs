//! Helpers shared by black-box test binaries (`mod common;` in the test file).

pub mod proc;
pub mod rootfs;
pub mod tree;
