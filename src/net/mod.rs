//! Networking on the host side of `husk run --net bridge`, spoken to the kernel over netlink
//! (netlink(7)): no `ip`, no `nft`, no heap. `netlink` is the transport (one socket type, one
//! message builder, one transact loop); `link` speaks rtnetlink (links, addresses, routes);
//! `nft` speaks nf_tables (the masquerade and the published ports).

#[cfg(feature = "net")]
pub mod bridge;
#[cfg(feature = "net")]
pub mod link;
#[cfg(feature = "net")]
pub mod netlink;
#[cfg(feature = "net")]
pub mod nft;
pub mod setup;

#[cfg(feature = "net")]
/// The netmask of an IPv4 `prefix` (0..=32; more counts as 32), as a big-endian number.
pub fn mask(prefix: u8) -> u32 {
    (!0u64 << (32 - prefix.min(32))) as u32
}

#[cfg(all(test, feature = "net"))]
pub(crate) mod testing {
    //! What the real-kernel tests share: root or a loud skip, fresh network namespaces made by
    //! the test thread itself (never the host's), and commands run from inside them.

    use rustix::fd::OwnedFd;

    /// Whether this test can run: as root (a skip outside CI, a failure under CI).
    pub fn can_run(test: &str) -> bool {
        if rustix::process::geteuid().is_root() {
            return true;
        }
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
        assert!(!ci, "{test} needs root, and nothing may be skipped in CI");
        eprintln!("skipping {test}: it needs root (network namespaces)");
        false
    }

    /// Runs `f` on a new thread in a new network namespace, which stands in for the host, if
    /// test `test` can run (as root).
    pub fn on_a_stand_in_host(test: &str, f: impl FnOnce() + Send + 'static) {
        if can_run(test) {
            std::thread::spawn(|| {
                let _host = new_netns();
                f()
            })
            .join()
            .unwrap();
        }
    }

    /// Moves the calling thread (only it: namespaces are per task) into a new network
    /// namespace, and returns a handle on it.
    pub fn new_netns() -> OwnedFd {
        crate::rt::namespace::unshare(crate::rt::namespace::Namespaces::NET).expect("unshare(CLONE_NEWNET)");
        rustix::fs::open(
            "/proc/thread-self/ns/net",
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
            0.into(),
        )
        .expect("open /proc/thread-self/ns/net")
    }

    /// Runs `f` on a new thread that first joins the network namespace `ns` (setns(2)).
    pub fn inside<T: Send>(ns: &OwnedFd, f: impl FnOnce() -> T + Send) -> T {
        use rustix::fd::AsFd;
        std::thread::scope(|s| {
            s.spawn(|| {
                rustix::thread::move_into_link_name_space(
                    ns.as_fd(),
                    Some(rustix::thread::LinkNameSpaceType::Network),
                )
                .expect("setns");
                f()
            })
            .join()
            .unwrap()
        })
    }

    /// The output of `sh -c cmd`, run from the calling thread (so in its network namespace),
    /// which must succeed.
    pub fn sh(cmd: &str) -> String {
        let out = std::process::Command::new("sh").args(["-c", cmd]).output().expect("sh");
        assert!(out.status.success(), "{cmd}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }
}
