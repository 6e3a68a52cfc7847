//! An OCI container's cgroups: made where config.json's `linux.cgroupsPath` says, with the
//! values of `linux.resources` written, before the container's init exists; handed to the
//! host side as a [`Group`] (`Group::adopt`), so the init starts inside them as in husk's
//! own (CLONE_INTO_CGROUP for v2, the init's own write to each v1 group's `tasks`); and
//! removed by `delete`, only the directories husk made.
//!
//! Where (runc's meaning, which runtime-tools' linux_cgroups_* and *_relative_* check): an
//! absolute cgroupsPath is relative to each hierarchy's root (/sys/fs/cgroup/cpu/cgrouptest);
//! a relative one is below the runtime's own cgroup in each hierarchy (the suite looks for it
//! in the container's /proc/PID/cgroup); none is `/husk/<id>`. The systemd form
//! `slice:prefix:name` is refused: husk has no systemd driver.
//!
//! Which hierarchies: every v1 hierarchy husk is in (/proc/self/cgroup: cpu, cpuset, memory,
//! devices, freezer, …; not the named ones such as name=systemd), and the unified one. A
//! resource goes to its controller's v1 hierarchy where there is one, else to the unified
//! hierarchy under its v2 name and meaning (cpu.shares as cpu.weight, runc's conversions).
//! Anything asked that cannot be applied is an error naming its JSON path, never a silent
//! skip, with two exceptions the runtime-spec allows: `memory.kernel` (deprecated, "runtimes
//! MAY ignore it") where the kernel has no kmem limit, and device rules on cgroup v2, which
//! needs a BPF program husk does not load: rules that only deny are accepted there (husk's
//! /dev holds only the configured devices anyway), an allow rule is refused.
//!
//! The record (`cgroups` in the state directory): a line `d PATH` for each directory husk
//! made, in the order made, and `g LIST PATH` for the container's group in each hierarchy
//! (LIST: the v1 controllers, `-` for the unified one). `delete` removes the `d` ones, the
//! last made first.

use core::ffi::CStr;

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{Mode, OFlags, mkdir, open, rmdir};
use rustix::io::Errno;

use crate::cgroup::Group;
use crate::cpath::CPath;
use crate::error::Failure;
use crate::json::{Kind, Value};

/// The longest group path husk computes (below a hierarchy's mount point).
pub const PATH_MAX: usize = 512;

/// A group path, absolute from a hierarchy's root, without a trailing slash.
pub type GroupPath = heapless::Vec<u8, PATH_MAX>;

/// The group path for `cgroups_path` (config.json `linux.cgroupsPath`, empty when
/// absent), container `id`, and `own`: the runtime's own cgroup path in that hierarchy
/// (from /proc/self/cgroup, "/" at the root).
pub fn group_path(cgroups_path: &[u8], id: &[u8], own: &[u8]) -> Result<GroupPath, Errno> {
    let mut out = GroupPath::new();
    if cgroups_path.contains(&b':') {
        return Err(Errno::OPNOTSUPP); // systemd's slice:prefix:name
    }
    let (base, rest): (&[u8], &[u8]) = match cgroups_path {
        [] => (b"/husk", id),
        [b'/', ..] => (b"", cgroups_path),
        _ => (own, cgroups_path),
    };
    for part in base.split(|&b| b == b'/').chain(rest.split(|&b| b == b'/')) {
        match part {
            b"" | b"." => {}
            b".." => return Err(Errno::INVAL),
            // (The record is lines.)
            _ if part.contains(&b'\n') => return Err(Errno::INVAL),
            _ => {
                out.push(b'/').map_err(|_| Errno::NAMETOOLONG)?;
                out.extend_from_slice(part).map_err(|_| Errno::NAMETOOLONG)?;
            }
        }
    }
    if out.is_empty() {
        return Err(Errno::INVAL); // the root of a hierarchy is nobody's own group
    }
    Ok(out)
}

/// v1 `cpu.shares` as v2 `cpu.weight`, runc's conversion.
pub fn shares_to_weight(shares: u64) -> u64 {
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

/// v1 `blkio.weight` (10-1000) as v2 `io.weight` (1-10000), runc's conversion.
pub fn blkio_to_io_weight(weight: u64) -> u64 {
    1 + (weight.clamp(10, 1000) - 10) * 9999 / 990
}

/// One file to write in the container's group.
pub struct Setting {
    /// Its controller's v1 hierarchy name (`cpu`, `blkio`), or for v2 its controller (`io`).
    pub controller: &'static str,
    /// A v2 file (in the unified hierarchy).
    pub v2: bool,
    pub file: heapless::Vec<u8, 64>,
    pub value: heapless::Vec<u8, 256>,
    /// The JSON path it comes from, which an error names.
    pub path: &'static [u8],
    /// May be left out where the kernel lacks it (`memory.kernel`: see the module's doc).
    pub optional: bool,
}

/// Where a setting goes: whether the host has a v1 hierarchy for a controller.
pub type V1<'f> = &'f dyn Fn(&str) -> bool;
/// What takes each setting.
pub type Emit<'f> = &'f mut dyn FnMut(&Setting) -> Result<(), Failure<'static>>;

fn bad(path: &'static [u8], errno: Errno, why: &'static str) -> Failure<'static> {
    Failure::new("config.json", path, errno).with_hint(why)
}

/// `key` of `obj` as a number (None: absent or null).
fn int(obj: Value, key: &[u8], path: &'static [u8]) -> Result<Option<i64>, Failure<'static>> {
    match obj.get(key) {
        None => Ok(None),
        Some(v) if v.kind() == Kind::Null => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or(bad(path, Errno::INVAL, "not a number")),
    }
}

/// `key` of `obj` as a string without escapes (None: absent).
fn string<'d>(obj: Value<'d>, key: &[u8], path: &'static [u8]) -> Result<Option<&'d [u8]>, Failure<'static>> {
    match obj.get(key) {
        None => Ok(None),
        Some(v) if v.kind() == Kind::Null => Ok(None),
        Some(v) => match v.as_str().map(|s| s.raw()) {
            Some(raw) if !raw.contains(&b'\\') && !raw.contains(&b'\n') => Ok(Some(raw)),
            _ => Err(bad(path, Errno::INVAL, "not a plain string")),
        },
    }
}

fn decimal(out: &mut heapless::Vec<u8, 256>, n: i64) {
    if n < 0 {
        let _ = out.push(b'-');
    }
    let _ = out.extend_from_slice(crate::text::digits(n.unsigned_abs(), 10, &mut [0; 24]).to_bytes());
}

/// A setting being built: `emit` sends it.
struct Out<'e, 'f> {
    emit: Emit<'f>,
    s: &'e mut Setting,
}

impl Out<'_, '_> {
    fn start(
        &mut self,
        controller: &'static str,
        v2: bool,
        file: &[&[u8]],
        path: &'static [u8],
    ) -> &mut Self {
        self.s.controller = controller;
        self.s.v2 = v2;
        self.s.path = path;
        self.s.optional = false;
        self.s.file.clear();
        self.s.value.clear();
        for part in file {
            let _ = self.s.file.extend_from_slice(part);
        }
        self
    }

    fn text(&mut self, parts: &[&[u8]]) -> &mut Self {
        for part in parts {
            let _ = self.s.value.extend_from_slice(part);
        }
        self
    }

    fn num(&mut self, n: i64) -> &mut Self {
        decimal(&mut self.s.value, n);
        self
    }

    /// A number, or v2's `max` for a negative one (unlimited).
    fn limit(&mut self, n: i64) -> &mut Self {
        if n < 0 && self.s.v2 { self.text(&[b"max"]) } else { self.num(n) }
    }

    fn send(&mut self) -> Result<(), Failure<'static>> {
        if self.s.value.len() == self.s.value.capacity() {
            return Err(bad(self.s.path, Errno::NAMETOOLONG, "too long"));
        }
        (self.emit)(self.s)
    }
}

/// Each file `linux.resources` (`r`) asks written, in the order to write them, v1 files for
/// the controllers `v1` has a hierarchy for, v2 ones for the others. What cgroup v2 cannot
/// express is an error (see the module's doc).
pub fn each(r: Value, v1: V1, emit: Emit) -> Result<(), Failure<'static>> {
    let mut s = Setting {
        controller: "",
        v2: false,
        file: heapless::Vec::new(),
        value: heapless::Vec::new(),
        path: b"",
        optional: false,
    };
    let mut out = Out { emit, s: &mut s };
    if r.kind() != Kind::Object {
        return Err(bad(b"linux.resources", Errno::INVAL, "not an object"));
    }
    if let Some(m) = r.get(b"memory") {
        memory(m, !v1("memory"), &mut out)?;
    }
    if let Some(c) = r.get(b"cpu") {
        cpu(c, !v1("cpu"), !v1("cpuset"), &mut out)?;
    }
    if let Some(p) = r.get(b"pids")
        && let Some(n) = int(p, b"limit", b"linux.resources.pids.limit")?
    {
        let v2 = !v1("pids");
        out.start("pids", v2, &[b"pids.max"], b"linux.resources.pids.limit");
        if n <= 0 { out.text(&[b"max"]) } else { out.num(n) }.send()?;
    }
    if let Some(b) = r.get(b"blockIO") {
        block_io(b, !v1("blkio"), &mut out)?;
    }
    if let Some(list) = r.get(b"hugepageLimits") {
        let v2 = !v1("hugetlb");
        const P: &[u8] = b"linux.resources.hugepageLimits";
        for h in list.items() {
            let size = string(h, b"pageSize", P)?.ok_or(bad(P, Errno::INVAL, "each needs a pageSize"))?;
            let limit = int(h, b"limit", P)?.ok_or(bad(P, Errno::INVAL, "each needs a limit"))?;
            let end: &[u8] = if v2 { b".max" } else { b".limit_in_bytes" };
            out.start("hugetlb", v2, &[b"hugetlb.", size, end], P).limit(limit).send()?;
        }
    }
    if let Some(n) = r.get(b"network") {
        network(n, v1, &mut out)?;
    }
    if let Some(list) = r.get(b"devices") {
        devices(list, !v1("devices"), &mut out)?;
    }
    if let Some(rdma) = r.get(b"rdma")
        && rdma.entries().next().is_some()
    {
        return Err(bad(b"linux.resources.rdma", Errno::OPNOTSUPP, "husk sets no rdma limits"));
    }
    if let Some(map) = r.get(b"unified") {
        const P: &[u8] = b"linux.resources.unified";
        for (key, value) in map.entries() {
            let file = key.raw();
            let controller = crate::text::split_once(file, b'.').0;
            if controller.is_empty() || file.contains(&b'/') || file.contains(&b'\\') {
                return Err(bad(P, Errno::INVAL, "a key is a cgroup v2 file name"));
            }
            let value = value.as_str().map(|s| s.raw()).ok_or(bad(P, Errno::INVAL, "values are strings"))?;
            // Which controller's: every v1 one lacks it, so the unified group's own check
            // (the file is there or not) is the one that counts.
            out.start("unified", true, &[file], P).text(&[value]).send()?;
        }
    }
    Ok(())
}

fn memory(m: Value, v2: bool, out: &mut Out) -> Result<(), Failure<'static>> {
    const LIMIT: &[u8] = b"linux.resources.memory.limit";
    const SWAP: &[u8] = b"linux.resources.memory.swap";
    let limit = int(m, b"limit", LIMIT)?;
    if let Some(n) = limit {
        out.start("memory", v2, &[if v2 { b"memory.max" } else { b"memory.limit_in_bytes" }], LIMIT);
        out.limit(n).send()?;
    }
    if let Some(swap) = int(m, b"swap", SWAP)? {
        if !v2 {
            out.start("memory", v2, &[b"memory.memsw.limit_in_bytes"], SWAP).num(swap).send()?;
        } else {
            // memory + swap, as v2's swap alone (runc's conversion).
            let swap = match (swap, limit) {
                (-1, _) => -1,
                (0, _) => 0,
                (_, Some(-1)) => -1,
                (s, Some(l)) if l > 0 && s >= l => s - l,
                (_, Some(l)) if l > 0 => {
                    return Err(bad(SWAP, Errno::INVAL, "memory and swap together below the memory limit"));
                }
                _ => return Err(bad(SWAP, Errno::INVAL, "a swap limit needs a memory limit on cgroup v2")),
            };
            out.start("memory", v2, &[b"memory.swap.max"], SWAP).limit(swap).send()?;
        }
    }
    const RESERVATION: &[u8] = b"linux.resources.memory.reservation";
    if let Some(n) = int(m, b"reservation", RESERVATION)? {
        let file: &[u8] = if v2 { b"memory.low" } else { b"memory.soft_limit_in_bytes" };
        out.start("memory", v2, &[file], RESERVATION).limit(n).send()?;
    }
    const KERNEL: &[u8] = b"linux.resources.memory.kernel";
    if let Some(n) = int(m, b"kernel", KERNEL)?
        && !v2
    {
        out.start("memory", v2, &[b"memory.kmem.limit_in_bytes"], KERNEL).num(n);
        out.s.optional = true;
        out.send()?;
    }
    const TCP: &[u8] = b"linux.resources.memory.kernelTCP";
    if let Some(n) = int(m, b"kernelTCP", TCP)? {
        if v2 {
            return Err(bad(TCP, Errno::OPNOTSUPP, "cgroup v2 has no kernel TCP memory limit"));
        }
        out.start("memory", v2, &[b"memory.kmem.tcp.limit_in_bytes"], TCP).num(n).send()?;
    }
    const SWAPPINESS: &[u8] = b"linux.resources.memory.swappiness";
    if let Some(n) = int(m, b"swappiness", SWAPPINESS)? {
        if !(0..=100).contains(&n) {
            return Err(bad(SWAPPINESS, Errno::INVAL, "from 0 to 100"));
        }
        if v2 {
            return Err(bad(SWAPPINESS, Errno::OPNOTSUPP, "cgroup v2 has no per-group swappiness"));
        }
        out.start("memory", v2, &[b"memory.swappiness"], SWAPPINESS).num(n).send()?;
    }
    const OOM: &[u8] = b"linux.resources.memory.disableOOMKiller";
    match m.get(b"disableOOMKiller").map(|v| v.as_bool().ok_or(bad(OOM, Errno::INVAL, "not true or false"))) {
        Some(Err(e)) => return Err(e),
        Some(Ok(true)) if v2 => {
            return Err(bad(OOM, Errno::OPNOTSUPP, "cgroup v2 cannot turn the OOM killer off"));
        }
        Some(Ok(true)) => out.start("memory", v2, &[b"memory.oom_control"], OOM).text(&[b"1"]).send()?,
        _ => {}
    }
    const HIERARCHY: &[u8] = b"linux.resources.memory.useHierarchy";
    if let Some(on) = m.get(b"useHierarchy").and_then(|v| v.as_bool())
        && !v2
    {
        let value: &[u8] = if on { b"1" } else { b"0" };
        out.start("memory", v2, &[b"memory.use_hierarchy"], HIERARCHY).text(&[value]).send()?;
    }
    Ok(())
}

fn cpu(c: Value, v2: bool, cpuset_v2: bool, out: &mut Out) -> Result<(), Failure<'static>> {
    const SHARES: &[u8] = b"linux.resources.cpu.shares";
    const QUOTA: &[u8] = b"linux.resources.cpu.quota";
    const PERIOD: &[u8] = b"linux.resources.cpu.period";
    if let Some(n) = int(c, b"shares", SHARES)?.filter(|&n| n != 0) {
        if v2 {
            let weight = shares_to_weight(n.max(0) as u64) as i64;
            out.start("cpu", v2, &[b"cpu.weight"], SHARES).num(weight).send()?;
        } else {
            out.start("cpu", v2, &[b"cpu.shares"], SHARES).num(n).send()?;
        }
    }
    let (quota, period) = (int(c, b"quota", QUOTA)?, int(c, b"period", PERIOD)?);
    if v2 && (quota.is_some() || period.is_some()) {
        out.start("cpu", v2, &[b"cpu.max"], if quota.is_some() { QUOTA } else { PERIOD });
        match quota {
            Some(q) if q > 0 => out.num(q),
            _ => out.text(&[b"max"]),
        };
        out.text(&[b" "])
            .num(period.filter(|&p| p > 0).unwrap_or(crate::cgroup::CPU_PERIOD_US as i64))
            .send()?;
    } else {
        if let Some(p) = period.filter(|&p| p != 0) {
            out.start("cpu", v2, &[b"cpu.cfs_period_us"], PERIOD).num(p).send()?;
        }
        if let Some(q) = quota.filter(|&q| q != 0) {
            out.start("cpu", v2, &[b"cpu.cfs_quota_us"], QUOTA).num(q).send()?;
        }
    }
    const RT_PERIOD: &[u8] = b"linux.resources.cpu.realtimePeriod";
    const RT_RUNTIME: &[u8] = b"linux.resources.cpu.realtimeRuntime";
    for (key, file, path) in [
        (&b"realtimePeriod"[..], &b"cpu.rt_period_us"[..], RT_PERIOD),
        (b"realtimeRuntime", b"cpu.rt_runtime_us", RT_RUNTIME),
    ] {
        if let Some(n) = int(c, key, path)?.filter(|&n| n != 0) {
            if v2 {
                return Err(bad(path, Errno::OPNOTSUPP, "cgroup v2 has no real-time group scheduling"));
            }
            out.start("cpu", v2, &[file], path).num(n).send()?;
        }
    }
    const IDLE: &[u8] = b"linux.resources.cpu.idle";
    if let Some(n) = int(c, b"idle", IDLE)? {
        out.start("cpu", v2, &[b"cpu.idle"], IDLE).num(n).send()?;
    }
    const BURST: &[u8] = b"linux.resources.cpu.burst";
    if let Some(n) = int(c, b"burst", BURST)? {
        out.start("cpu", v2, &[if v2 { b"cpu.max.burst" } else { b"cpu.cfs_burst_us" }], BURST)
            .num(n)
            .send()?;
    }
    const CPUS: &[u8] = b"linux.resources.cpu.cpus";
    const MEMS: &[u8] = b"linux.resources.cpu.mems";
    for (key, file, path) in [(&b"cpus"[..], &b"cpuset.cpus"[..], CPUS), (b"mems", b"cpuset.mems", MEMS)] {
        if let Some(list) = string(c, key, path)?.filter(|l| !l.is_empty()) {
            out.start("cpuset", cpuset_v2, &[file], path).text(&[list]).send()?;
        }
    }
    Ok(())
}

fn block_io(b: Value, v2: bool, out: &mut Out) -> Result<(), Failure<'static>> {
    const WEIGHT: &[u8] = b"linux.resources.blockIO.weight";
    const LEAF: &[u8] = b"linux.resources.blockIO.leafWeight";
    const DEVICE: &[u8] = b"linux.resources.blockIO.weightDevice";
    let ctl = if v2 { "io" } else { "blkio" };
    if let Some(w) = int(b, b"weight", WEIGHT)? {
        if v2 {
            let weight = blkio_to_io_weight(w.max(0) as u64) as i64;
            out.start(ctl, v2, &[b"io.weight"], WEIGHT).text(&[b"default "]).num(weight).send()?;
        } else {
            out.start(ctl, v2, &[b"blkio.weight"], WEIGHT).num(w).send()?;
        }
    }
    if let Some(w) = int(b, b"leafWeight", LEAF)? {
        if v2 {
            return Err(bad(LEAF, Errno::OPNOTSUPP, "cgroup v2 has no leaf weight"));
        }
        out.start(ctl, v2, &[b"blkio.leaf_weight"], LEAF).num(w).send()?;
    }
    let device = |d: Value, path: &'static [u8]| -> Result<(i64, i64), Failure<'static>> {
        let major = int(d, b"major", path)?.ok_or(bad(path, Errno::INVAL, "each needs a major"))?;
        let minor = int(d, b"minor", path)?.ok_or(bad(path, Errno::INVAL, "each needs a minor"))?;
        Ok((major, minor))
    };
    for d in b.get(b"weightDevice").into_iter().flat_map(Value::items) {
        let (major, minor) = device(d, DEVICE)?;
        for (key, file) in
            [(&b"weight"[..], &b"blkio.weight_device"[..]), (b"leafWeight", b"blkio.leaf_weight_device")]
        {
            let Some(w) = int(d, key, DEVICE)? else { continue };
            if v2 && key == b"leafWeight" {
                return Err(bad(DEVICE, Errno::OPNOTSUPP, "cgroup v2 has no leaf weight"));
            }
            let (file, w): (&[u8], i64) =
                if v2 { (b"io.weight", blkio_to_io_weight(w.max(0) as u64) as i64) } else { (file, w) };
            out.start(ctl, v2, &[file], DEVICE)
                .num(major)
                .text(&[b":"])
                .num(minor)
                .text(&[b" "])
                .num(w)
                .send()?;
        }
    }
    /// JSON key, v1 file, v2 key, JSON path.
    type Throttle = (&'static [u8], &'static [u8], &'static [u8], &'static [u8]);
    const THROTTLES: [Throttle; 4] = [
        (
            b"throttleReadBpsDevice",
            b"blkio.throttle.read_bps_device",
            b"rbps=",
            b"linux.resources.blockIO.throttleReadBpsDevice",
        ),
        (
            b"throttleWriteBpsDevice",
            b"blkio.throttle.write_bps_device",
            b"wbps=",
            b"linux.resources.blockIO.throttleWriteBpsDevice",
        ),
        (
            b"throttleReadIOPSDevice",
            b"blkio.throttle.read_iops_device",
            b"riops=",
            b"linux.resources.blockIO.throttleReadIOPSDevice",
        ),
        (
            b"throttleWriteIOPSDevice",
            b"blkio.throttle.write_iops_device",
            b"wiops=",
            b"linux.resources.blockIO.throttleWriteIOPSDevice",
        ),
    ];
    for (key, file, v2_key, path) in THROTTLES {
        for d in b.get(key).into_iter().flat_map(Value::items) {
            let (major, minor) = device(d, path)?;
            let rate = int(d, b"rate", path)?.ok_or(bad(path, Errno::INVAL, "each needs a rate"))?;
            let file: &[u8] = if v2 { b"io.max" } else { file };
            out.start(ctl, v2, &[file], path).num(major).text(&[b":"]).num(minor).text(&[b" "]);
            if v2 {
                out.text(&[v2_key]);
            }
            out.num(rate).send()?;
        }
    }
    Ok(())
}

fn network(n: Value, v1: V1, out: &mut Out) -> Result<(), Failure<'static>> {
    const CLASS: &[u8] = b"linux.resources.network.classID";
    const PRIO: &[u8] = b"linux.resources.network.priorities";
    if let Some(id) = int(n, b"classID", CLASS)? {
        if !v1("net_cls") {
            return Err(bad(CLASS, Errno::OPNOTSUPP, "no net_cls cgroup hierarchy on this host"));
        }
        out.start("net_cls", false, &[b"net_cls.classid"], CLASS).num(id).send()?;
    }
    for p in n.get(b"priorities").into_iter().flat_map(Value::items) {
        if !v1("net_prio") {
            return Err(bad(PRIO, Errno::OPNOTSUPP, "no net_prio cgroup hierarchy on this host"));
        }
        let name = string(p, b"name", PRIO)?.ok_or(bad(PRIO, Errno::INVAL, "each needs a name"))?;
        let prio = int(p, b"priority", PRIO)?.ok_or(bad(PRIO, Errno::INVAL, "each needs a priority"))?;
        out.start("net_prio", false, &[b"net_prio.ifpriomap"], PRIO).text(&[name, b" "]).num(prio).send()?;
    }
    Ok(())
}

/// `linux.resources.devices`, in order, as v1 rules (`devices.allow`, `devices.deny`).
fn devices(list: Value, v2: bool, out: &mut Out) -> Result<(), Failure<'static>> {
    const P: &[u8] = b"linux.resources.devices";
    if list.kind() != Kind::Array {
        return Err(bad(P, Errno::INVAL, "not an array"));
    }
    for d in list.items() {
        let allow =
            d.get(b"allow").and_then(|v| v.as_bool()).ok_or(bad(P, Errno::INVAL, "each needs allow"))?;
        if v2 {
            if allow {
                return Err(bad(
                    P,
                    Errno::OPNOTSUPP,
                    "device rules on cgroup v2 need BPF, which husk does not load",
                ));
            }
            continue;
        }
        let kind = string(d, b"type", P)?.unwrap_or(b"a");
        if !matches!(kind, b"a" | b"c" | b"b") {
            return Err(bad(P, Errno::INVAL, "a type is a, c or b"));
        }
        let access = string(d, b"access", P)?.unwrap_or(b"rwm");
        if access.is_empty() || access.iter().any(|c| !matches!(c, b'r' | b'w' | b'm')) {
            return Err(bad(P, Errno::INVAL, "access is made of r, w and m"));
        }
        let file: &[u8] = if allow { b"devices.allow" } else { b"devices.deny" };
        out.start("devices", false, &[file], P).text(&[kind, b" "]);
        for (i, key) in [&b"major"[..], b"minor"].into_iter().enumerate() {
            if i == 1 {
                out.text(&[b":"]);
            }
            match int(d, key, P)? {
                Some(n) if n >= 0 => out.num(n),
                _ => out.text(&[b"*"]),
            };
        }
        out.text(&[b" ", access]).send()?;
    }
    Ok(())
}

/// Whether `linux.resources` asks anything husk would write (`--cgroup-manager disabled`
/// refuses that): device rules that only deny do not count (the container's /dev is
/// husk's, holding only the configured devices).
pub fn asked(r: Value) -> Result<bool, Failure<'static>> {
    let mut any = false;
    each(r, &|_| true, &mut |s| {
        any |= s.file.as_slice() != b"devices.deny";
        Ok(())
    })?;
    Ok(any)
}

/// The record's room: a line per directory made and per group.
pub type Record = heapless::Vec<u8, 8192>;

/// One hierarchy the container gets a group in.
struct Hierarchy<'a> {
    /// The v1 controllers (`cpu,cpuacct`), empty for the unified hierarchy.
    list: &'a [u8],
    mount: &'static [u8],
}

const V1_ROOT: &[u8] = b"/sys/fs/cgroup/";

/// The container's groups, made and written (see the module's doc), recorded in the state
/// directory; None with `--cgroup-manager disabled`, or where nothing was asked (no
/// resources, no cgroupsPath) and no group can be made (an ordinary user's runtime).
/// Everything made is removed again on an error.
#[inline(never)] // its buffers off the host side's frame
pub fn create(created: &super::Created) -> Result<Option<Group>, Failure<'static>> {
    let extra = created.extra;
    let Some(doc) = extra.doc.filter(|_| created.oci.global.cgroups) else { return Ok(None) };
    let resources = doc.path(&[b"linux", b"resources"]);
    let mut own = [0u8; crate::cgroup::CGROUP_FILE];
    let host = crate::cgroup::host(&mut own)?;
    let mut record = Record::new();
    let mut groups: heapless::Vec<(&[u8], OwnedFd), { crate::cgroup::V1_GROUPS + 1 }> = heapless::Vec::new();
    let required = !extra.cgroups_path.is_empty() || resources.map(asked).transpose()?.unwrap_or(false);
    let devices = doc.path(&[b"linux", b"devices"]);
    let made =
        build(created.oci.id, extra.cgroups_path, (resources, devices), host, &mut record, &mut groups);
    let made = made.and_then(|()| {
        let mut v2 = None;
        let mut v1: heapless::Vec<(OwnedFd, &[u8]), { crate::cgroup::V1_GROUPS }> = heapless::Vec::new();
        for (list, fd) in groups {
            if list.is_empty() {
                v2 = Some(fd);
            } else if v1.push((fd, list)).is_err() {
                return Err(Failure::new("cgroup", b"", Errno::NOSPC));
            }
        }
        let group = Group::adopt(v2, v1.into_iter()).map_err(|e| Failure::new("cgroup", b"", e))?;
        created
            .dir
            .put(c"cgroups", c".cgroups", &record)
            .map_err(|e| Failure::new("state", b"cgroups", e))?;
        Ok(group)
    });
    match made {
        Ok(group) => Ok(Some(group)),
        Err(failure) => {
            remove_made(&record);
            if required { Err(failure) } else { Ok(None) }
        }
    }
}

/// `create`'s work: the groups made (`record`), opened (`groups`), written.
fn build<'o>(
    id: &[u8],
    cgroups_path: &[u8],
    (resources, devices): (Option<Value>, Option<Value>),
    host: crate::cgroup::Host<'o>,
    record: &mut Record,
    groups: &mut heapless::Vec<(&'o [u8], OwnedFd), { crate::cgroup::V1_GROUPS + 1 }>,
) -> Result<(), Failure<'static>> {
    use crate::cgroup::Layout;
    const PATH: &[u8] = b"linux.cgroupsPath";
    let v1_list = |controller: &str| {
        crate::procfs::hierarchies(host.own).find_map(|(id, list, _)| {
            let v1 = !crate::procfs::unified(id, list) && host.layout != Layout::Unified;
            (v1 && crate::text::fields(list, b',').any(|c| c == controller.as_bytes())).then_some(list)
        })
    };
    let has_v1 = |controller: &str| v1_list(controller).is_some();
    // The v2 controllers to enable on the way down.
    let mut wanted: heapless::Vec<&'static str, 8> = heapless::Vec::new();
    if let Some(r) = resources {
        each(r, &has_v1, &mut |s| {
            if s.v2 && s.controller != "unified" && !wanted.contains(&s.controller) {
                let _ = wanted.push(s.controller);
            }
            Ok(())
        })?;
    }
    for (hid, list, own) in crate::procfs::hierarchies(host.own) {
        let v2 = crate::procfs::unified(hid, list);
        let mount: &'static [u8] = match (v2, host.layout) {
            (true, Layout::Unified) => crate::cgroup::MOUNT,
            (true, Layout::Hybrid) => b"/sys/fs/cgroup/unified",
            (true, Layout::Legacy) | (false, Layout::Unified) => continue,
            (false, _) if list.is_empty() || list.starts_with(b"name=") => continue,
            (false, _) => V1_ROOT,
        };
        let h = Hierarchy { list: if v2 { b"" } else { list }, mount };
        let path = group_path(cgroups_path, id, own).map_err(|e| {
            let why = match e {
                Errno::OPNOTSUPP => "husk has no systemd cgroup driver: give a path",
                _ => "a path inside the hierarchy, without ..",
            };
            bad(PATH, e, why)
        })?;
        let dir = descend(&h, &path, if v2 { &wanted } else { &[] }, record)?;
        let mut cpath = CPath::new();
        let at = full(&mut cpath, &h, &path).map_err(|e| bad(PATH, e, ""))?.to_bytes();
        let line: [&[u8]; 5] = [b"g ", if v2 { b"-" } else { h.list }, b" ", at, b"\n"];
        line.iter()
            .try_for_each(|part| record.extend_from_slice(part))
            .map_err(|_| bad(PATH, Errno::NAMETOOLONG, ""))?;
        groups.push((h.list, dir)).map_err(|_| Failure::new("cgroup", b"", Errno::NOSPC))?;
    }
    let Some(r) = resources else { return Ok(()) };
    let mut rules = false;
    each(r, &has_v1, &mut |s| {
        rules |= s.controller == "devices";
        let want: &[u8] = if s.v2 { b"" } else { v1_list(s.controller).unwrap_or(b"\0") };
        let Some((_, dir)) = groups.iter().find(|(list, _)| *list == want) else {
            return Err(bad(s.path, Errno::OPNOTSUPP, "this host has no cgroup controller for it"));
        };
        match write(dir.as_fd(), &s.file, &s.value) {
            Ok(()) => Ok(()),
            Err(Errno::NOENT | Errno::OPNOTSUPP) if s.optional => Ok(()),
            Err(e) => Err(bad(
                s.path,
                e,
                match e {
                    Errno::NOENT => {
                        "this host's cgroup has no such setting (controller or kernel feature missing)"
                    }
                    Errno::INVAL | Errno::RANGE => "the kernel refused the value",
                    _ => "",
                },
            )),
        }
    })?;
    // The devices husk makes in the container's /dev, and linux.devices, stay usable
    // whatever the rules deny (runc's defaults too): the init's mknod needs them.
    let Some((_, dir)) = groups.iter().find(|(list, _)| Some(*list) == v1_list("devices")).filter(|_| rules)
    else {
        return Ok(());
    };
    const DEFAULTS: [&[u8]; 9] = [
        b"c 1:3 rwm",
        b"c 1:5 rwm",
        b"c 1:7 rwm",
        b"c 1:8 rwm",
        b"c 1:9 rwm",
        b"c 5:0 rwm",
        b"c 5:1 rwm",
        b"c 5:2 rwm",
        b"c 136:* rwm",
    ];
    for rule in DEFAULTS {
        write(dir.as_fd(), b"devices.allow", rule).map_err(|e| bad(b"linux.resources.devices", e, ""))?;
    }
    for d in devices.into_iter().flat_map(Value::items) {
        let kind = d.get(b"type").and_then(|v| v.as_str()).map(|s| s.raw());
        let (Some(kind @ (b"c" | b"b")), Some(major), Some(minor)) =
            (kind, d.get(b"major").and_then(|v| v.as_i64()), d.get(b"minor").and_then(|v| v.as_i64()))
        else {
            continue;
        };
        let mut rule = heapless::Vec::<u8, 256>::new();
        let _ = rule.extend_from_slice(kind);
        let _ = rule.push(b' ');
        decimal(&mut rule, major);
        let _ = rule.push(b':');
        decimal(&mut rule, minor);
        let _ = rule.extend_from_slice(b" rwm");
        write(dir.as_fd(), b"devices.allow", &rule).map_err(|e| bad(b"linux.devices", e, ""))?;
    }
    Ok(())
}

/// The full path of `path` (a group path) in `h`.
fn full<'c>(cpath: &'c mut CPath, h: &Hierarchy, path: &[u8]) -> Result<&'c CStr, Errno> {
    if h.list.is_empty() { cpath.of(&[h.mount, path]) } else { cpath.of(&[h.mount, h.list, path]) }
}

/// mkdir -p of `path` in `h`, each directory made recorded; v2 controllers `wanted`
/// enabled in each level's subtree_control on the way, a v1 cpuset's cpus and mems copied
/// from its parent where empty. Returns the group's directory.
fn descend(
    h: &Hierarchy,
    path: &[u8],
    wanted: &[&str],
    record: &mut Record,
) -> Result<OwnedFd, Failure<'static>> {
    const PATH: &[u8] = b"linux.cgroupsPath";
    let cpuset = crate::text::fields(h.list, b',').any(|c| c == b"cpuset");
    let mut cpath = CPath::new();
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let mut level = open(full(&mut cpath, h, b"").map_err(|e| bad(PATH, e, ""))?, flags, Mode::empty())
        .map_err(|e| bad(PATH, e, "the cgroup hierarchy is not mounted where /proc/self/cgroup says"))?;
    let ends =
        path.iter().enumerate().skip(1).filter(|(_, b)| **b == b'/').map(|(i, _)| i).chain([path.len()]);
    for end in ends {
        if !wanted.is_empty() {
            enable(level.as_fd(), wanted).map_err(|e| {
                bad(
                    PATH,
                    e,
                    "a v2 controller cannot be enabled there (not available, or the group holds processes)",
                )
            })?;
        }
        let c = full(&mut cpath, h, &path[..end]).map_err(|e| bad(PATH, e, ""))?;
        match mkdir(c, Mode::from_raw_mode(0o755)) {
            Ok(()) => {
                let line: [&[u8]; 4] = [b"d ", c.to_bytes(), b"\n", b""];
                line.iter()
                    .try_for_each(|part| record.extend_from_slice(part))
                    .map_err(|_| bad(PATH, Errno::NAMETOOLONG, ""))?;
            }
            Err(Errno::EXIST) => {}
            Err(e) => return Err(bad(PATH, e, "the group cannot be made (root's, or delegated to you)")),
        }
        let next = open(c, flags, Mode::empty()).map_err(|e| bad(PATH, e, ""))?;
        if cpuset {
            for file in [&b"cpuset.cpus"[..], b"cpuset.mems"] {
                inherit(level.as_fd(), next.as_fd(), file).map_err(|e| bad(PATH, e, "cpuset"))?;
            }
        }
        level = next;
    }
    Ok(level)
}

/// A v1 cpuset's `file` copied from `parent` when empty (an empty cpuset takes no task).
fn inherit(parent: BorrowedFd, dir: BorrowedFd, file: &[u8]) -> Result<(), Errno> {
    let mut buf = [0u8; 256];
    if !read(dir, file, &mut buf)?.trim_ascii().is_empty() {
        return Ok(());
    }
    let mut from = [0u8; 256];
    let value = read(parent, file, &mut from)?.trim_ascii();
    write(dir, file, value)
}

/// `+NAME` in `dir`'s cgroup.subtree_control for each controller `wanted` not yet there.
fn enable(dir: BorrowedFd, wanted: &[&str]) -> Result<(), Errno> {
    let mut buf = [0u8; 256];
    let on = read(dir, b"cgroup.subtree_control", &mut buf)?;
    for name in wanted {
        if !crate::text::fields(on.trim_ascii(), b' ').any(|w| w == name.as_bytes()) {
            let mut word = heapless::Vec::<u8, 16>::new();
            let _ = word.push(b'+');
            let _ = word.extend_from_slice(name.as_bytes());
            write(dir, b"cgroup.subtree_control", &word)?;
        }
    }
    Ok(())
}

fn write(dir: BorrowedFd, file: &[u8], value: &[u8]) -> Result<(), Errno> {
    let mut cpath = CPath::new();
    let fd = rustix::fs::openat(dir, cpath.of(&[file])?, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())?;
    rustix::io::write(&fd, value).map(drop)
}

fn read<'b>(dir: BorrowedFd, file: &[u8], buf: &'b mut [u8]) -> Result<&'b [u8], Errno> {
    let mut cpath = CPath::new();
    let fd = rustix::fs::openat(dir, cpath.of(&[file])?, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    let n = rustix::io::read(&fd, &mut *buf)?;
    Ok(&buf[..n])
}

/// Removes the directories `record` says husk made, the last made first (the deepest of
/// each hierarchy before its parents). A group that still holds a process for a moment
/// (a zombie being reaped) says EBUSY: tried again for up to a second. Best effort.
pub fn remove_made(record: &[u8]) {
    let mut cpath = CPath::new();
    for line in record.rsplit(|&b| b == b'\n') {
        let Some(path) = crate::text::after(line, b"d ") else { continue };
        let Ok(c) = cpath.of(&[path]) else { continue };
        for _ in 0..100 {
            match rmdir(c) {
                Err(Errno::BUSY) => crate::rt::sys::sleep_ns(10_000_000),
                _ => break,
            }
        }
    }
}

/// `delete`: the groups of the container recorded in `dir` removed (see `remove_made`).
pub fn remove(dir: &super::state::Dir) {
    if let Ok(record) = dir.file(c"cgroups") {
        remove_made(record);
    }
}

/// The container's group in the hierarchy with `controller` (`b""`: the unified one), from
/// the record.
pub fn group_of<'r>(record: &'r [u8], controller: &[u8]) -> Option<&'r [u8]> {
    crate::text::fields(record, b'\n').find_map(|line| {
        let rest = crate::text::after(line, b"g ")?;
        let (list, path) = crate::text::split_once(rest, b' ');
        let found = match controller {
            b"" => list == b"-",
            c => crate::text::fields(list, b',').any(|l| l == c),
        };
        if found { path } else { None }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str, id: &str, own: &str) -> Result<String, Errno> {
        group_path(p.as_bytes(), id.as_bytes(), own.as_bytes())
            .map(|v| String::from_utf8(v.to_vec()).unwrap())
    }

    #[test]
    fn paths() {
        assert_eq!(path("/cgrouptest", "c", "/user.slice/x").unwrap(), "/cgrouptest");
        assert_eq!(
            path("testdir/cgrouptest/container", "c", "/a/b").unwrap(),
            "/a/b/testdir/cgrouptest/container"
        );
        assert_eq!(path("rel", "c", "/").unwrap(), "/rel");
        assert_eq!(path("", "ctr", "/a").unwrap(), "/husk/ctr");
        assert_eq!(path("//x//./y/", "c", "/").unwrap(), "/x/y");
        assert_eq!(path("system.slice:husk:c", "c", "/"), Err(Errno::OPNOTSUPP));
        assert_eq!(path("/a/../b", "c", "/"), Err(Errno::INVAL));
        assert_eq!(path("/a\nb", "c", "/"), Err(Errno::INVAL));
        assert_eq!(path("/", "c", "/"), Err(Errno::INVAL));
        assert_eq!(path(&"x/".repeat(300), "c", "/"), Err(Errno::NAMETOOLONG));
    }

    #[test]
    fn conversions() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(1_000_000), 10_000);
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(500), 4950);
        assert_eq!(blkio_to_io_weight(1000), 10_000);
    }

    /// The settings of `json` as `file=value` (v2 ones marked `2:`), or the JSON path of
    /// the error.
    fn settings(json: &str, v1: &[&str]) -> Result<Vec<String>, String> {
        let doc = crate::json::parse(json.as_bytes()).unwrap();
        let mut got = Vec::new();
        each(doc, &|c| v1.contains(&c), &mut |s| {
            let file = String::from_utf8(s.file.to_vec()).unwrap();
            let value = String::from_utf8(s.value.to_vec()).unwrap();
            got.push(format!("{}{file}={value}", if s.v2 { "2:" } else { "" }));
            Ok(())
        })
        .map_err(|f| String::from_utf8(f.path.to_vec()).unwrap())?;
        Ok(got)
    }

    const ALL_V1: &[&str] =
        &["cpu", "cpuset", "memory", "pids", "blkio", "devices", "hugetlb", "net_cls", "net_prio"];

    #[test]
    fn v1_files() {
        let cpu = r#"{"cpu":{"shares":1024,"quota":50000,"period":100000,"realtimePeriod":1000000,
            "realtimeRuntime":950000,"cpus":"0-1","mems":"0"}}"#;
        assert_eq!(
            settings(cpu, ALL_V1).unwrap(),
            [
                "cpu.shares=1024",
                "cpu.cfs_period_us=100000",
                "cpu.cfs_quota_us=50000",
                "cpu.rt_period_us=1000000",
                "cpu.rt_runtime_us=950000",
                "cpuset.cpus=0-1",
                "cpuset.mems=0"
            ]
        );
        let memory = r#"{"memory":{"limit":50593792,"reservation":50593792,"swap":50593792,"kernel":50593792,
            "kernelTCP":50593792,"swappiness":10,"disableOOMKiller":true}}"#;
        assert_eq!(
            settings(memory, ALL_V1).unwrap(),
            [
                "memory.limit_in_bytes=50593792",
                "memory.memsw.limit_in_bytes=50593792",
                "memory.soft_limit_in_bytes=50593792",
                "memory.kmem.limit_in_bytes=50593792",
                "memory.kmem.tcp.limit_in_bytes=50593792",
                "memory.swappiness=10",
                "memory.oom_control=1"
            ]
        );
        let rest = r#"{"pids":{"limit":-1},"blockIO":{"weight":500,"leafWeight":300,
            "weightDevice":[{"major":8,"minor":0,"weight":500,"leafWeight":300}],
            "throttleReadBpsDevice":[{"major":8,"minor":0,"rate":102400}]},
            "hugepageLimits":[{"pageSize":"2MB","limit":209715200}],
            "network":{"classID":1048577,"priorities":[{"name":"lo","priority":2}]},
            "devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":10,"minor":229,"access":"rw"},
                       {"allow":true,"type":"b","major":8,"access":"r"}]}"#;
        assert_eq!(
            settings(rest, ALL_V1).unwrap(),
            [
                "pids.max=max",
                "blkio.weight=500",
                "blkio.leaf_weight=300",
                "blkio.weight_device=8:0 500",
                "blkio.leaf_weight_device=8:0 300",
                "blkio.throttle.read_bps_device=8:0 102400",
                "hugetlb.2MB.limit_in_bytes=209715200",
                "net_cls.classid=1048577",
                "net_prio.ifpriomap=lo 2",
                "devices.deny=a *:* rwm",
                "devices.allow=c 10:229 rw",
                "devices.allow=b 8:* r"
            ]
        );
    }

    #[test]
    fn v2_files() {
        let doc = r#"{"cpu":{"shares":1024,"quota":50000,"cpus":"0"},"memory":{"limit":1048576,"swap":3145728,
            "reservation":524288,"kernel":1},"pids":{"limit":10},"blockIO":{"weight":500,
            "throttleWriteIOPSDevice":[{"major":8,"minor":0,"rate":100}]},
            "hugepageLimits":[{"pageSize":"2MB","limit":0}],"devices":[{"allow":false,"access":"rwm"}],
            "unified":{"memory.high":"max"}}"#;
        assert_eq!(
            settings(doc, &[]).unwrap(),
            [
                "2:memory.max=1048576",
                "2:memory.swap.max=2097152",
                "2:memory.low=524288",
                "2:cpu.weight=39",
                "2:cpu.max=50000 100000",
                "2:cpuset.cpus=0",
                "2:pids.max=10",
                "2:io.weight=default 4950",
                "2:io.max=8:0 wiops=100",
                "2:hugetlb.2MB.max=0",
                "2:memory.high=max"
            ]
        );
        // A hybrid host: memory in v1, cpu in the unified hierarchy.
        assert_eq!(
            settings(r#"{"memory":{"limit":-1},"cpu":{"period":200000}}"#, &["memory"]).unwrap(),
            ["memory.limit_in_bytes=-1", "2:cpu.max=max 200000"]
        );
    }

    #[test]
    fn what_cannot_be_applied_names_its_path() {
        for (doc, path) in [
            (r#"{"memory":{"swappiness":10}}"#, "linux.resources.memory.swappiness"),
            (r#"{"memory":{"disableOOMKiller":true}}"#, "linux.resources.memory.disableOOMKiller"),
            (r#"{"memory":{"swap":10}}"#, "linux.resources.memory.swap"),
            (r#"{"memory":{"kernelTCP":10}}"#, "linux.resources.memory.kernelTCP"),
            (r#"{"cpu":{"realtimeRuntime":10}}"#, "linux.resources.cpu.realtimeRuntime"),
            (r#"{"blockIO":{"leafWeight":10}}"#, "linux.resources.blockIO.leafWeight"),
            (r#"{"network":{"classID":1}}"#, "linux.resources.network.classID"),
            (r#"{"devices":[{"allow":true,"access":"rwm"}]}"#, "linux.resources.devices"),
            (r#"{"rdma":{"mlx5_0":{"hcaHandles":1}}}"#, "linux.resources.rdma"),
            (r#"{"pids":{"limit":"ten"}}"#, "linux.resources.pids.limit"),
        ] {
            assert_eq!(settings(doc, &[]), Err(path.to_string()), "{doc}");
        }
        assert_eq!(
            settings(r#"{"devices":[{"allow":true,"type":"x","access":"rwm"}]}"#, ALL_V1),
            Err("linux.resources.devices".into())
        );
        assert_eq!(
            settings(r#"{"devices":[{"allow":false,"access":"rwm"}]}"#, &[]).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn asked_ignores_deny_rules() {
        fn doc(s: &str) -> Value<'_> {
            crate::json::parse(s.as_bytes()).unwrap()
        }
        assert!(!asked(doc(r#"{"devices":[{"allow":false,"access":"rwm"}]}"#)).unwrap());
        assert!(asked(doc(r#"{"pids":{"limit":5}}"#)).unwrap());
        assert!(!asked(doc(r#"{}"#)).unwrap());
    }

    #[test]
    fn the_record() {
        let record =
            b"d /sys/fs/cgroup/cpu/a\nd /sys/fs/cgroup/cpu/a/b\ng cpu,cpuacct /sys/fs/cgroup/cpu/a/b\n\
                       g - /sys/fs/cgroup/unified/a/b\ng freezer /sys/fs/cgroup/freezer/a/b\n";
        assert_eq!(group_of(record, b"cpuacct"), Some(&b"/sys/fs/cgroup/cpu/a/b"[..]));
        assert_eq!(group_of(record, b""), Some(&b"/sys/fs/cgroup/unified/a/b"[..]));
        assert_eq!(group_of(record, b"freezer"), Some(&b"/sys/fs/cgroup/freezer/a/b"[..]));
        assert_eq!(group_of(record, b"memory"), None);
    }
}
