//! An OCI seccomp profile (config.json's `linux.seccomp`) compiled to classic BPF.
