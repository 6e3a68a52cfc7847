//! husk: a tiny static container runtime and init, on raw Linux syscalls.
//!
//! The library holds all of husk; `main.rs` is its table of contents. It is `no_std` in the
//! binary and uses std only for its unit tests on the host.
#![cfg_attr(not(test), no_std)]

pub mod args;
pub mod boot;
pub mod caps;
pub mod cgroup;
pub mod claim;
pub mod config;
pub mod container;
pub mod cpath;
pub mod environment;
pub mod error;
pub mod exec;
pub mod help;
pub mod image;

pub mod init;
pub mod json;
pub mod log;
pub mod manage;
pub mod mask;
pub mod net;
pub mod nsknobs;
#[cfg(feature = "oci")]
pub mod oci;
pub mod out;
pub mod pid1;
pub mod procfs;
pub mod registry;
pub mod rootfs;
pub mod rt;
pub mod seccomp;
pub mod signals;
pub mod spawn;

pub mod status;
pub mod text;
pub mod userns;
pub mod users;
