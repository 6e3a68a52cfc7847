//! The OCI runtime interface (README, "OCI runtime"): the verbs of runc and crun over a
//! bundle's config.json. Built with `--features oci`.

pub mod seccomp;
