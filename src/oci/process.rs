//! What an OCI config asks of its process beyond husk's own launch (spawn.rs), set in the
//! init just before COMMAND is forked, so COMMAND inherits it: the umask, the rlimits, the
//! OOM score; then the startContainer hooks, which run in the container.

use rustix::io::Errno;
use rustix::process::{Resource, Rlimit};

use super::bundle::Extra;
use crate::error::{Failure, Result};

/// The kernel's RLIMIT_* numbers, in the order of `bundle::RLIMITS`.
const RESOURCES: [Resource; 16] = [
    Resource::Cpu,
    Resource::Fsize,
    Resource::Data,
    Resource::Stack,
    Resource::Core,
    Resource::Rss,
    Resource::Nproc,
    Resource::Nofile,
    Resource::Memlock,
    Resource::As,
    Resource::Locks,
    Resource::Sigpending,
    Resource::Msgqueue,
    Resource::Nice,
    Resource::Rtprio,
    Resource::Rttime,
];

/// umask, rlimits, oomScoreAdj, then the startContainer hooks.
pub fn prepare(extra: &Extra) -> Result<'static, ()> {
    let Some(doc) = extra.doc else { return Ok(()) };
    if let Some(mask) = extra.umask {
        rustix::process::umask(rustix::fs::Mode::from_raw_mode(mask & 0o777));
    }
    let process = doc.get(b"process").ok_or(Failure::new("config.json", b"process", Errno::INVAL))?;
    for (n, soft, hard) in super::bundle::each_rlimit(process) {
        let resource = RESOURCES[n as usize];
        let unlimited = |v: u64| (v != u64::MAX).then_some(v);
        rustix::process::setrlimit(resource, Rlimit { current: unlimited(soft), maximum: unlimited(hard) })
            .map_err(|e| {
            Failure::new("setrlimit", b"", e)
                .with_hint("process.rlimits (raising a hard limit needs CAP_SYS_RESOURCE)")
        })?;
    }
    if let Some(score) = extra.oom_score_adj {
        let mut line = crate::out::Line::new();
        if score < 0 {
            line.str("-");
        }
        line.num(score.unsigned_abs() as u64);
        let fd = rustix::fs::open(
            c"/proc/self/oom_score_adj",
            rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| Failure::new("oomScoreAdj", b"", e))?;
        rustix::io::write(&fd, line.as_bytes())
            .map_err(|e| Failure::new("oomScoreAdj", b"", e).with_hint("process.oomScoreAdj"))?;
    }
    if doc.path(&[b"hooks", b"startContainer"]).is_some() {
        // The state as the container sees it: the init's pid is 1 there.
        let head = super::state::Head { pid: 1, start: 0, created: super::state::now() };
        let line = super::state_json(
            extra.id,
            super::state::Status::Created,
            &head,
            extra.bundle,
            doc.get(b"annotations"),
        );
        super::hooks::run(doc, b"startContainer", line)?;
    }
    Ok(())
}
