//! Black-box tests of the limits on this host's own kind of cgroup layout (issue 15): the
//! release binary run as root with `--memory`, `--pids-limit`, `--cpus`, `--stats` and
//! `--cgroup-parent`, judged by its exit status and lines, by what the command sees inside,
//! and by the groups it leaves (or not) in the host's hierarchies.
//!
//! The development host and CI's are hybrid: each v1 controller at /sys/fs/cgroup/NAME, a
//! cgroup2 without controllers at /sys/fs/cgroup/unified. Where a controller lives is found
//! here as husk is to find it ([`Controller::find`]): cgroup2 at /sys/fs/cgroup, or at
//! /sys/fs/cgroup/unified when that lists the controller, else v1 at /sys/fs/cgroup/NAME. The
//! container's group is `<the test process's own group there>/husk/husk-PID` (PID: the
//! `husk run` process), in each hierarchy. On a host where a controller is on cgroup2 the
//! tests say so ([`host_branch`]) and check the same things with the v2 files instead —
//! never a silent pass. The QEMU tests (tests/boot/limits.sh) keep the pure v2 checks.
//!
//! Rules kept throughout (as in run.rs): each test has its own directory, whose path is its
//! marker and an argument of every container command; nothing may be left after a run (no
//! process mentioning the marker, no mount, no group of the run's PID in any hierarchy); no
//! sleeping and hoping; the shared fixtures are never written to (the memory hog goes into a
//! copy of the busybox tree). Timing checks have wide margins: the machine's two CPUs are
//! shared with other test runs.

mod common;

use common::case::Case;
use common::named::{self, husk, unique, wait_gone};
use common::proc::{
    HUSK, Outcome, Proc, SIGKILL, SIGTERM, busybox, debian, host_has_cgroup2, mentioning, path_str, send,
    wait_for,
};
use common::tree::{PATIENCE, in_pid_namespace, namespace, ppid};
use common::{host_branch, missing, need, tool};
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

// ---------------------------------------------------------------------------------------
// Where each controller lives on this host
// ---------------------------------------------------------------------------------------

/// Where one controller's groups are on this host, found as husk is to find them.
struct Controller {
    name: &'static str,
    /// A cgroup v1 hierarchy (else cgroup v2).
    v1: bool,
    /// The hierarchy's mount point on the host (a symlink such as cpu -> cpu,cpuacct
    /// followed).
    mount: PathBuf,
    /// This test process's group in it, from /proc/self/cgroup (`/`, `/process_api/ID`).
    own: String,
    /// Where the container's own group shows inside the container.
    inside: String,
    /// The names this controller's hierarchy has in the container's /sys/fs/cgroup (README:
    /// as /proc/self/cgroup names it, with a link per co-mounted controller; `unified`; none
    /// where /sys/fs/cgroup is the unified hierarchy itself).
    names: Vec<String>,
}

/// The controllers the limits use, in the order husk's options name them.
const CONTROLLERS: [&str; 4] = ["memory", "pids", "cpu", "cpuacct"];

impl Controller {
    fn find(name: &'static str) -> Controller {
        let cgroup = fs::read_to_string("/proc/self/cgroup").expect("read /proc/self/cgroup");
        // `HIERARCHY:CONTROLLERS:PATH`; cgroup2's line is `0::PATH`.
        let own_in = |wanted: &dyn Fn(&str, &str) -> bool| {
            cgroup.lines().find_map(|l| {
                let mut f = l.splitn(3, ':');
                let (id, ctls, path) = (f.next()?, f.next()?, f.next()?);
                wanted(id, ctls).then(|| (ctls.to_string(), path.to_string()))
            })
        };
        let v2_own =
            || own_in(&|id, ctls| id == "0" && ctls.is_empty()).expect("no 0:: line in /proc/self/cgroup").1;
        // cgroup2 has no cpuacct: its cpu.stat tells the usage.
        let v2_name = if name == "cpuacct" { "cpu" } else { name };
        if host_has_cgroup2() {
            return Controller {
                name,
                v1: false,
                mount: PathBuf::from("/sys/fs/cgroup"),
                own: v2_own(),
                inside: "/sys/fs/cgroup".to_string(),
                names: Vec::new(),
            };
        }
        let unified = Path::new("/sys/fs/cgroup/unified");
        let listed = fs::read_to_string(unified.join("cgroup.controllers")).unwrap_or_default();
        if is_mount_of(unified, "cgroup2") && listed.split_whitespace().any(|c| c == v2_name) {
            return Controller {
                name,
                v1: false,
                mount: unified.to_path_buf(),
                own: v2_own(),
                inside: "/sys/fs/cgroup/unified".to_string(),
                names: vec!["unified".to_string()],
            };
        }
        let link = PathBuf::from(format!("/sys/fs/cgroup/{name}"));
        let mount = link.canonicalize().unwrap_or_else(|e| {
            panic!("{name}: neither on cgroup2 nor a v1 hierarchy at {}: {e}", link.display())
        });
        assert!(is_mount_of(&mount, "cgroup"), "{} is not a cgroup v1 mount", mount.display());
        let (ctls, own) = own_in(&|id, ctls| id != "0" && ctls.split(',').any(|c| c == name))
            .unwrap_or_else(|| panic!("no {name} line in /proc/self/cgroup:\n{cgroup}"));
        let mut names = vec![ctls.clone()];
        if ctls.contains(',') {
            names.extend(ctls.split(',').map(str::to_string));
        }
        Controller { name, v1: true, mount, own, inside: format!("/sys/fs/cgroup/{name}"), names }
    }

    /// `v1` or `v2`: the name of the same file in this controller's version.
    fn file(&self, v1: &'static str, v2: &'static str) -> &'static str {
        if self.v1 { v1 } else { v2 }
    }

    /// The host path of group `group` (`/a/b`, as /proc/PID/cgroup writes it).
    fn host_path(&self, group: &str) -> PathBuf {
        self.mount.join(group.trim_start_matches('/'))
    }

    /// The group (as /proc/PID/cgroup writes it) of the container of the `husk run` process
    /// `pid` under `parent` (husk's default: `husk` below its own group).
    fn group_under(&self, parent: Option<&str>, pid: i32) -> String {
        let parent = match parent {
            Some(p) => p.trim_end_matches('/').to_string(),
            None => format!("{}/husk", self.own.trim_end_matches('/')),
        };
        format!("{parent}/husk-{pid}")
    }

    /// The host directory of the container group of `husk run` process `pid`.
    fn group(&self, pid: i32) -> PathBuf {
        self.host_path(&self.group_under(None, pid))
    }
}

/// Whether `path` is a mount point of type `fstype` in this process's mount table.
fn is_mount_of(path: &Path, fstype: &str) -> bool {
    let path = path_str(path);
    fs::read_to_string("/proc/self/mountinfo").unwrap_or_default().lines().any(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        let sep = f.iter().position(|&x| x == "-");
        f.get(4) == Some(&path) && sep.and_then(|s| f.get(s + 1)) == Some(&fstype)
    })
}

/// The controllers the limits use on this host. A controller on cgroup2 is a branch of this
/// host for `test` (said on stderr): its checks are made with the v2 files.
struct Host {
    memory: Controller,
    pids: Controller,
    cpu: Controller,
    cpuacct: Controller,
}

impl Host {
    fn new(test: &str) -> Host {
        let [memory, pids, cpu, cpuacct] = CONTROLLERS.map(Controller::find);
        let host = Host { memory, pids, cpu, cpuacct };
        for c in host.all().iter().filter(|c| !c.v1) {
            host_branch(
                test,
                &format!("{} is on cgroup2 at {}: checking the v2 files instead", c.name, c.mount.display()),
            );
        }
        host
    }

    fn all(&self) -> [&Controller; 4] {
        [&self.memory, &self.pids, &self.cpu, &self.cpuacct]
    }

    /// husk's OOM line for a memory limit of `bytes`.
    fn oom_line(&self, bytes: u64) -> String {
        format!("husk: out of memory ({}={bytes})\n", self.memory.file("memory.limit_in_bytes", "memory.max"))
    }

    /// Every directory named `husk-PID` in the hierarchies, wherever it is: none may be left
    /// after the run of `husk run` process `pid` ends.
    fn groups_of(&self, pid: i32) -> Vec<PathBuf> {
        let name = format!("husk-{pid}");
        let mut mounts: Vec<&Path> = self.all().iter().map(|c| c.mount.as_path()).collect();
        mounts.sort();
        mounts.dedup();
        let mut found = Vec::new();
        for mount in mounts {
            find_dirs(mount, &name, &mut found);
        }
        found
    }

    /// Asserts that no group of `husk run` process `pid` is left in any hierarchy.
    fn assert_no_group_of(&self, pid: i32, after: &str) {
        let left = self.groups_of(pid);
        assert!(left.is_empty(), "groups left after {after}: {left:?}");
    }
}

/// Appends to `found` every directory named `name` at or below `dir`.
fn find_dirs(dir: &Path, name: &str, found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            if entry.file_name() == name {
                found.push(entry.path());
            }
            find_dirs(&entry.path(), name, found);
        }
    }
}

/// This process's /proc/self/cgroup with every group `/`: what a process in a container with
/// a group of its own sees there (every hierarchy, its cgroup namespace's root in each).
fn own_groups_as_root() -> String {
    let cgroup = fs::read_to_string("/proc/self/cgroup").expect("read /proc/self/cgroup");
    cgroup.lines().map(|l| format!("{}:/\n", &l[..l.rfind(':').unwrap()])).collect()
}

/// The contents of a cgroup file, trimmed.
fn read_value(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display())).trim().to_string()
}

// ---------------------------------------------------------------------------------------
// Fixtures: the memory hog, a busybox tree holding it, processes of a container
// ---------------------------------------------------------------------------------------

/// tests/boot/memhog.c (`memhog STEP_MB TOTAL_MB`: prints `got N MB` after each step),
/// built static once into the test scratch directory.
fn memhog() -> Result<&'static Path, String> {
    static HOG: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = HOG.get_or_init(|| {
        let gcc = tool("gcc", "gcc libc6-dev")?;
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("limits-v1");
        fs::create_dir_all(&dir).expect("create the memhog directory");
        let hog = dir.join("memhog");
        let tmp = dir.join(format!("memhog.{}", std::process::id()));
        let status = Command::new(gcc)
            .args(["-static", "-O2", "-o"])
            .arg(&tmp)
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/boot/memhog.c"))
            .status()
            .expect("run gcc");
        if !status.success() {
            return Err(missing(format!(
                "gcc -static memhog.c failed ({status}): apt-get install libc6-dev"
            )));
        }
        fs::rename(&tmp, &hog).expect("rename memhog into place");
        Ok(hog)
    });
    built.as_deref().map_err(Clone::clone)
}

/// For test `test` (whose case directory is labelled `label`): the host's controllers, the
/// case, and the shared busybox tree; or why it cannot run.
fn busybox_case(test: &str, label: &str) -> Result<(Host, Case, &'static Path), String> {
    let bb = busybox()?;
    Ok((Host::new(test), Case::new(label, &[bb]), bb))
}

/// For test `test` (whose case directory is labelled `label`): the host's controllers, the
/// case, and its private copy of the busybox tree with the memory hog as /bin/memhog; or why
/// it cannot run.
fn hog_case(test: &str, label: &str) -> Result<(Host, Case, PathBuf), String> {
    let bb = busybox()?;
    let hog = memhog()?;
    let host = Host::new(test);
    let case = Case::new(label, &[bb]);
    let root = case.rootfs_copy(bb);
    let dest = root.join("bin/memhog");
    fs::copy(hog, &dest).unwrap_or_else(|e| panic!("copy memhog: {e}"));
    fs::set_permissions(&dest, fs::Permissions::from_mode(0o755)).unwrap();
    Ok((host, case, root))
}

/// [`Case::run`] for a process already started (whose pid the test needs): waits for its
/// end, then checks that nothing was left behind.
fn run_started(case: &Case, proc: Proc) -> Outcome {
    let outcome = proc.patient(case.patience).wait();
    case.assert_clean(&outcome.what);
    outcome
}

/// The host pid of the init of the case's (only) running container: the process that
/// mentions the marker, in a PID namespace other than its parent's, which is this one's.
fn init_of(case: &Case) -> i32 {
    let host = namespace(std::process::id() as i32, "pid");
    wait_for(
        || format!("the container's init among {:?}", mentioning(&case.marker)),
        || {
            let found: Vec<i32> = mentioning(&case.marker)
                .into_iter()
                .map(|(pid, _)| pid)
                .filter(|&pid| {
                    namespace(pid, "pid") != host && ppid(pid).and_then(|p| namespace(p, "pid")) == host
                })
                .collect();
            (found.len() == 1).then(|| found[0])
        },
    )
}

/// /proc/PID/cgroup of a process, as the host sees it.
fn cgroup_of(pid: i32) -> String {
    fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/cgroup: {e}"))
}

/// The `N` of the last `got N MB` line of memhog's output (0 when none).
fn last_got(out: &Outcome) -> u32 {
    out.stdout
        .lines()
        .filter_map(|l| l.strip_prefix("got ")?.strip_suffix(" MB")?.parse().ok())
        .next_back()
        .unwrap_or(0)
}

/// The value of `key=` in a `husk: stats:` line.
fn stat_field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split(' ')
        .find_map(|f| f.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
}

/// Whether `s` is seconds as husk prints them: `S.MMMs`.
fn is_seconds(s: &str) -> bool {
    let Some((whole, millis)) = s.strip_suffix('s').and_then(|s| s.split_once('.')) else { return false };
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && millis.len() == 3
        && millis.bytes().all(|b| b.is_ascii_digit())
}

// ---------------------------------------------------------------------------------------
// 1, 2. Memory: the OOM killer ends the hog near the limit, reported as on v2
// ---------------------------------------------------------------------------------------

#[test]
fn memory_limit_kills_the_hog_near_the_limit() {
    let (host, case, root) = need!(
        "memory_limit_kills_the_hog_near_the_limit",
        hog_case("memory_limit_kills_the_hog_near_the_limit", "oom")
    );
    let root = path_str(&root);
    // 150 MB in 10 MB steps under 100M: killed near 100 MB, 137 and husk's line.
    let mut cmd = case.sh(&["--rootfs", root, "--memory", "100M"], "memhog 10 150");
    let hog_proc = Proc::start(&mut cmd);
    let husk_pid = hog_proc.pid();
    let out = run_started(&case, hog_proc);
    assert!(out.status.code() == Some(137) && out.stderr == host.oom_line(100 << 20), "{out}");
    let got = last_got(&out);
    assert!((80..100).contains(&got), "killed after {got} MB under a 100 MB limit\n{out}");
    host.assert_no_group_of(husk_pid, "the OOM kill");
    // 50 MB fits under 100M.
    let out = case.run(&mut case.sh(&["--rootfs", root, "--memory", "100M"], "memhog 10 50"));
    assert_eq!(out.expect_success().lines().last(), Some("got 50 MB"), "{out}");
    // Under 10M not even the first 10 MB step completes.
    let out = case.run(&mut case.sh(&["--rootfs", root, "--memory", "10M"], "memhog 10 20"));
    out.expect(137, "", &host.oom_line(10 << 20));
}

#[test]
fn the_tutorials_python_hog_is_killed_near_100_mb() {
    let test = "the_tutorials_python_hog_is_killed_near_100_mb";
    let deb = need!("the_tutorials_python_hog_is_killed_near_100_mb", debian());
    let host = Host::new(test);
    let case = Case::new("python-hog", &[deb]).patient(PATIENCE);
    // The walk's hog: 10 MB at a time (bytes really written), the total printed, forever.
    let script =
        "hog = []\nwhile True:\n    hog.append(b'x' * (10 << 20))\n    print(len(hog) * 10, flush=True)\n";
    let out = case.run(
        &mut case
            .cmd(&["--rootfs", path_str(deb), "--memory", "100M"], &["python3", "-c", script, &case.marker]),
    );
    assert!(out.status.code() == Some(137) && out.stderr == host.oom_line(100 << 20), "{out}");
    let last: u32 = out.stdout.lines().last().and_then(|l| l.parse().ok()).unwrap_or(0);
    assert!((70..100).contains(&last), "python killed at {last} MB under a 100 MB limit\n{out}");
}

// ---------------------------------------------------------------------------------------
// 3, 4. pids and cpu
// ---------------------------------------------------------------------------------------

#[test]
fn a_fork_bomb_is_held_by_the_pids_limit() {
    let test = "a_fork_bomb_is_held_by_the_pids_limit";
    let (host, case, bb) = need!("a_fork_bomb_is_held_by_the_pids_limit", busybox_case(test, "forkbomb"));
    // tests/boot/forkbomb.sh, reading the container's own pids files wherever this host has
    // them; only builtins after the bomb (a fork may fail while it runs). The bomb starts in
    // one background subshell: ash forks each command of a background pipeline itself, and
    // its second fork, racing the first child's bomb, could fail and end the script with 2.
    let pids = &host.pids.inside;
    let script = format!(
        "bomb() {{ bomb | bomb & }}\n\
         (bomb) 2>/dev/null &\n\
         i=0; while [ $i -lt 20000 ]; do i=$((i + 1)); done\n\
         read current < {pids}/pids.current\n\
         read events < {pids}/pids.events\n\
         echo \"bomb current $current events $events\"\n\
         kill -9 -1 2>/dev/null\n\
         exit 4"
    );
    let out = case.run(&mut case.sh(&["--rootfs", path_str(bb), "--pids-limit", "10"], &script));
    assert_eq!(out.status.code(), Some(4), "the container ends with its own status\n{out}");
    let line = out.stdout.strip_prefix("bomb current ").unwrap_or_else(|| panic!("{out}"));
    let (current, events) = line.trim_end().split_once(" events max ").unwrap_or_else(|| panic!("{out}"));
    assert!(current.parse::<u32>().unwrap() <= 10, "{out}");
    assert!(events.parse::<u32>().unwrap() > 0, "the limit was never hit\n{out}");
    // The host still forks.
    assert!(Command::new("true").status().expect("fork on the host").success());
}

#[test]
fn cpus_half_holds_a_busy_loop_near_half_a_cpu() {
    let test = "cpus_half_holds_a_busy_loop_near_half_a_cpu";
    let (host, case, bb) = need!("cpus_half_holds_a_busy_loop_near_half_a_cpu", busybox_case(test, "cpus"));
    // Builtins only, so the shell itself is the busy loop: 2 s of wall time by
    // /proc/uptime (centiseconds), then its own CPU time from /proc/self/stat (ticks of
    // 1/100 s), then how often its group was throttled (cpu.stat, v1 and v2 alike): others
    // share these CPUs, so the ratio alone could be low for want of a CPU, not for the quota.
    let script = format!(
        "read up rest < /proc/uptime; start=${{up%.*}}${{up#*.}}\n\
         now=$start\n\
         while [ $((now - start)) -lt 200 ]; do read up rest < /proc/uptime; now=${{up%.*}}${{up#*.}}; done\n\
         read stat < /proc/self/stat\n\
         while read key value; do [ $key = nr_throttled ] && throttled=$value; done < {}/cpu.stat\n\
         echo \"$((now - start)) $throttled $stat\"",
        host.cpu.inside
    );
    let out = case.run(&mut case.sh(&["--rootfs", path_str(bb), "--cpus", "0.5"], &script));
    let line = out.expect_success().trim_end().to_string();
    let mut words = line.splitn(3, ' ');
    let (wall, throttled, stat) = (words.next().unwrap(), words.next().unwrap(), words.next().unwrap());
    let fields: Vec<u64> = stat[stat.rfind(')').unwrap() + 2..]
        .split(' ')
        .skip(11)
        .take(2)
        .map(|f| f.parse().unwrap())
        .collect();
    let ratio = (fields[0] + fields[1]) as f64 / wall.parse::<f64>().unwrap();
    eprintln!("{test}: {ratio:.2} of a CPU over {wall} cs, throttled {throttled} times");
    assert!((0.3..0.7).contains(&ratio), "--cpus 0.5 gave {ratio:.2} of a CPU\n{out}");
    // A group without a quota is never throttled; with one, the loop is in the periods it
    // had a CPU for (not all of them, when others keep both busy).
    assert!(throttled.parse::<u32>().unwrap_or(0) > 0, "never throttled\n{out}");
}

// ---------------------------------------------------------------------------------------
// 5, 6. What the container sees, --stats
// ---------------------------------------------------------------------------------------

#[test]
fn the_limits_are_visible_and_read_only_inside() {
    let test = "the_limits_are_visible_and_read_only_inside";
    let (host, case, bb) = need!("the_limits_are_visible_and_read_only_inside", busybox_case(test, "inside"));
    let (m, p, c) = (&host.memory, &host.pids, &host.cpu);
    let limit = format!("{}/{}", m.inside, m.file("memory.limit_in_bytes", "memory.max"));
    let swap = format!("{}/{}", m.inside, m.file("memory.memsw.limit_in_bytes", "memory.swap.max"));
    let pids_max = format!("{}/pids.max", p.inside);
    let quota = format!("{}/{}", c.inside, c.file("cpu.cfs_quota_us", "cpu.max"));
    let script = format!(
        "cat /proc/self/cgroup; echo --\n\
         for f in {limit} {swap} {pids_max} {quota}; do cat $f; done; echo --\n\
         echo 1000 > {pids_max} || echo refused\n\
         echo 1G > {limit} || echo refused\n\
         mkdir /sys/fs/cgroup/x || echo refused\n\
         echo --; cat {pids_max} {limit}; echo --\n\
         ls /sys/fs/cgroup"
    );
    let opts = ["--rootfs", path_str(bb), "--memory", "64M", "--pids-limit", "20", "--cpus", "0.5"];
    let out = case.run(&mut case.sh(&opts, &script));
    assert_eq!(out.status.code(), Some(0), "{out}");
    let parts: Vec<&str> = out.stdout.split("--\n").collect();
    assert_eq!(parts.len(), 5, "{out}");
    // Every hierarchy the host has, each the container's own group: `/`.
    assert_eq!(parts[0], own_groups_as_root(), "/proc/self/cgroup inside\n{out}");
    let mib64 = (64u64 << 20).to_string();
    let expected =
        [mib64.as_str(), if m.v1 { mib64.as_str() } else { "0" }, "20", c.file("50000", "50000 100000")];
    assert_eq!(parts[1].lines().collect::<Vec<_>>(), expected, "the limits inside\n{out}");
    // Nothing there can be written: the mounts are read-only.
    assert_eq!(parts[2], "refused\nrefused\nrefused\n", "{out}");
    for line in out.stderr.lines() {
        assert!(line.ends_with("Read-only file system"), "{out}");
    }
    assert_eq!(out.stderr.lines().count(), 3, "{out}");
    assert_eq!(parts[3].lines().collect::<Vec<_>>(), ["20", mib64.as_str()], "unchanged\n{out}");
    // Only the hierarchies the container has a group in (README: the others would show
    // husk's own group and all below it); where /sys/fs/cgroup is the unified hierarchy,
    // its files.
    if !host_has_cgroup2() {
        let mut expected: Vec<&str> =
            [m, p, c].iter().flat_map(|c| c.names.iter().map(String::as_str)).collect();
        expected.sort();
        expected.dedup();
        assert_eq!(parts[4].lines().collect::<Vec<_>>(), expected, "ls /sys/fs/cgroup inside\n{out}");
    }
}

#[test]
fn stats_report_a_plausible_peak() {
    let (host, case, root) =
        need!("stats_report_a_plausible_peak", hog_case("stats_report_a_plausible_peak", "stats"));
    let peak_file =
        format!("{}/{}", host.memory.inside, host.memory.file("memory.max_usage_in_bytes", "memory.peak"));
    let script = format!("memhog 10 30 >/dev/null; cat {peak_file}");
    let out = case.run(&mut case.sh(&["--rootfs", path_str(&root), "--memory", "100M", "--stats"], &script));
    assert_eq!(out.status.code(), Some(0), "{out}");
    let inside: u64 = out.stdout.trim().parse().unwrap_or_else(|_| panic!("{out}"));
    let line = out.stderr.strip_prefix("husk: stats: ").unwrap_or_else(|| panic!("{out}"));
    let line = line.strip_suffix('\n').unwrap_or_else(|| panic!("{out}"));
    assert!(!line.contains('\n'), "one stats line\n{out}");
    let keys: Vec<&str> = line.split(' ').map(|f| f.split('=').next().unwrap()).collect();
    assert_eq!(keys, ["memory.peak", "cpu.user", "cpu.system", "pids.peak"], "{out}");
    let peak: u64 = stat_field(line, "memory.peak").parse().unwrap();
    assert!(((30 << 20)..(100 << 20)).contains(&peak), "memhog held 30 MB under 100M: peak {peak}\n{out}");
    assert!(peak >= inside && peak - inside < 2 << 20, "stats peak {peak}, inside {inside}");
    assert!(is_seconds(stat_field(line, "cpu.user")) && is_seconds(stat_field(line, "cpu.system")), "{out}");
    // The init, the shell and memhog (cat came after it).
    let pids: u32 = stat_field(line, "pids.peak").parse().unwrap();
    assert!((2..=4).contains(&pids), "pids.peak {pids}\n{out}");
}

// ---------------------------------------------------------------------------------------
// 7. The groups: where they are while the container runs, gone afterwards
// ---------------------------------------------------------------------------------------

/// Options that give the container a group in every hierarchy the limits use.
fn all_limits(root: &str) -> Vec<&str> {
    vec!["--rootfs", root, "--memory", "64M", "--pids-limit", "20", "--cpus", "1", "--stats"]
}

/// `husk run` with [`all_limits`] of `script` (which says `ready`; stdin from `stdin`) in
/// the busybox tree, once it said `ready`: the `husk run` process, and its container's init.
fn start_limited(case: &Case, bb: &Path, script: &str, stdin: Stdio) -> (Proc, i32) {
    let run = Proc::start_with_stdin(&mut case.sh(&all_limits(path_str(bb)), script), stdin);
    run.wait_stdout("ready");
    (run, init_of(case))
}

#[test]
fn the_groups_are_where_expected_and_removed_after_the_run() {
    let test = "the_groups_are_where_expected_and_removed_after_the_run";
    let (host, case, bb) =
        need!("the_groups_are_where_expected_and_removed_after_the_run", busybox_case(test, "groups"));
    let (mut run, init) = start_limited(&case, bb, "echo ready; read line; echo done", Stdio::piped());
    let pid = run.pid();
    // The init, seen from the host, in `OWN/husk/husk-PID` of each hierarchy, which holds the
    // limits and lists it.
    let seen = cgroup_of(init);
    for c in host.all() {
        let group = c.group_under(None, pid);
        let dir = c.group(pid);
        assert!(
            seen.lines().any(|l| l.ends_with(&format!(":{group}"))
                && (!c.v1 || l.split(':').nth(1).unwrap().split(',').any(|n| n == c.name))),
            "{}: the init's /proc/PID/cgroup lacks {group}:\n{seen}",
            c.name
        );
        let procs = read_value(&dir.join("cgroup.procs"));
        assert!(procs.lines().any(|p| p == init.to_string()), "{}: cgroup.procs {procs:?}", dir.display());
    }
    assert_eq!(
        read_value(&host.memory.group(pid).join(host.memory.file("memory.limit_in_bytes", "memory.max"))),
        (64u64 << 20).to_string()
    );
    if host.memory.v1 {
        assert_eq!(
            read_value(&host.memory.group(pid).join("memory.memsw.limit_in_bytes")),
            (64u64 << 20).to_string()
        );
    }
    assert_eq!(read_value(&host.pids.group(pid).join("pids.max")), "20");
    let cpu = host.cpu.group(pid);
    if host.cpu.v1 {
        assert_eq!(read_value(&cpu.join("cpu.cfs_period_us")), "100000");
        assert_eq!(read_value(&cpu.join("cpu.cfs_quota_us")), "100000");
    } else {
        assert_eq!(read_value(&cpu.join("cpu.max")), "100000 100000");
    }
    run.child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let out = run.wait();
    case.assert_clean("the run");
    assert!(out.status.code() == Some(0) && out.stdout == "ready\ndone\n", "{out}");
    assert!(out.stderr.starts_with("husk: stats: memory.peak="), "{out}");
    host.assert_no_group_of(pid, "the run");
    // A command that cannot start: 127, and nothing left either.
    let mut cmd = case.cmd(&all_limits(path_str(bb)), &["/no/such/command", &case.marker]);
    let failed = Proc::start(&mut cmd);
    let pid = failed.pid();
    let out = run_started(&case, failed);
    out.expect(127, "", "husk: exec /no/such/command: No such file or directory (ENOENT)\n");
    host.assert_no_group_of(pid, "a command that could not start");
}

#[test]
fn sigkill_of_husk_run_ends_the_container_and_the_next_start_sweeps_its_groups() {
    let test = "sigkill_of_husk_run_ends_the_container_and_the_next_start_sweeps_its_groups";
    let (host, case, bb) = need!(
        "sigkill_of_husk_run_ends_the_container_and_the_next_start_sweeps_its_groups",
        busybox_case(test, "sigkill")
    );
    let (mut run, init) = start_limited(&case, bb, "echo ready; while :; do sleep 1000; done", Stdio::null());
    let pid = run.pid();
    assert!(cgroup_of(init).contains(&host.memory.group_under(None, pid)), "{}", cgroup_of(init));
    send(pid, SIGKILL);
    let out = run.wait();
    assert_eq!(out.status.code(), None, "{out}");
    // The container died with it.
    case.assert_clean("SIGKILL of husk run");
    // The next start under the same parents removes the dead run's groups.
    let mut next = case.cmd(&all_limits(path_str(bb)), &["true", &case.marker]);
    let next = Proc::start(&mut next);
    let next_pid = next.pid();
    let out = run_started(&case, next);
    assert_eq!(out.status.code(), Some(0), "{out}");
    host.assert_no_group_of(pid, "the next start after a SIGKILLed husk run");
    host.assert_no_group_of(next_pid, "the next run");
}

// ---------------------------------------------------------------------------------------
// 8. husk exec joins the container's groups
// ---------------------------------------------------------------------------------------

#[test]
fn exec_joins_the_containers_groups_and_its_memory_limit() {
    let (host, case, root) = need!(
        "exec_joins_the_containers_groups_and_its_memory_limit",
        hog_case("exec_joins_the_containers_groups_and_its_memory_limit", "exec")
    );
    let name = unique("v1exec");
    let guard = case.detach(
        &name,
        &["--rootfs", path_str(&root), "--memory", "64M"],
        "echo ready; while :; do sleep 100000; done",
    );
    let init = init_of(&case);
    let init_cgroup = cgroup_of(init);
    let memory_line = init_cgroup
        .lines()
        .find(|l| if host.memory.v1 { l.split(':').nth(1) == Some("memory") } else { l.starts_with("0::") })
        .unwrap_or_else(|| panic!("{init_cgroup}"));
    let group = memory_line.splitn(3, ':').nth(2).unwrap().to_string();
    let parent = format!("{}/husk/husk-", host.memory.own.trim_end_matches('/'));
    assert!(group.starts_with(&parent), "the container's memory group {group}, expected under {parent}");
    let mut exec =
        named::start(Command::new(HUSK).args(["exec", &name, "sh", "-c", "echo ready; exec sleep 100018"]));
    exec.wait_stdout("ready");
    let ns = namespace(init, "pid").unwrap();
    let sleeper = wait_for(
        || "the exec'd sleep".to_string(),
        || in_pid_namespace(&ns).into_iter().find(|&p| common::proc::cmdline(p) == "sleep 100018"),
    );
    assert_eq!(cgroup_of(sleeper), init_cgroup, "the exec'd process is in the init's groups");
    send(exec.pid(), SIGTERM);
    exec.wait().expect(143, "ready\n", "");
    // Inside, the exec'd process sees the container's groups as its roots, with the limit.
    let limit = format!("{}/{}", host.memory.inside, host.memory.file("memory.limit_in_bytes", "memory.max"));
    husk(&["exec", &name, "cat", "/proc/self/cgroup", &limit]).expect(
        0,
        &format!("{}{}\n", own_groups_as_root(), 64u64 << 20),
        "",
    );
    // A hog exec'd into it is held to the container's 64M.
    let out = husk(&["exec", &name, "memhog", "10", "100"]);
    assert_eq!(out.status.code(), Some(137), "{out}");
    let got = last_got(&out);
    assert!((40..64).contains(&got), "killed after {got} MB under a 64 MB limit\n{out}");
    // The container itself lives on.
    husk(&["exec", &name, "true"]).expect(0, "", "");
    husk(&["kill", &name]).expect(0, "", "");
    wait_gone(&name);
    drop(guard);
    case.assert_clean("husk kill");
    let dir = host.memory.host_path(&group);
    assert!(!dir.exists(), "{} left after the container ended", dir.display());
}

// ---------------------------------------------------------------------------------------
// 9. A parent that cannot be made
// ---------------------------------------------------------------------------------------

#[test]
fn a_cgroup_parent_that_cannot_be_made_is_refused_and_leaves_nothing() {
    let test = "a_cgroup_parent_that_cannot_be_made_is_refused_and_leaves_nothing";
    let (host, case, bb) = need!(
        "a_cgroup_parent_that_cannot_be_made_is_refused_and_leaves_nothing",
        busybox_case(test, "parent")
    );
    // cgroup.procs is a file at the root of every hierarchy; memory.limit_in_bytes (v1) or
    // memory.max (v2) only in the memory one, so the others could be made before it fails.
    let memory_file = host.memory.file("memory.limit_in_bytes", "memory.max");
    for parent in ["/cgroup.procs/x".to_string(), format!("/{memory_file}/x")] {
        let mut opts = all_limits(path_str(bb));
        opts.extend(["--cgroup-parent", parent.as_str()]);
        let mut cmd = case.sh(&opts, "echo ran");
        let refused = Proc::start(&mut cmd);
        let pid = refused.pid();
        let out = run_started(&case, refused);
        // mkdir under a file: the reason is the kernel's.
        assert!(
            out.is_refusal() && out.stderr.contains("(ENOTDIR)"),
            "--cgroup-parent {parent}: expected 125 and one husk: line saying ENOTDIR\n{out}"
        );
        host.assert_no_group_of(pid, &format!("--cgroup-parent {parent}"));
        // Nor the parent's components, in any hierarchy.
        let first = parent.split('/').nth(1).unwrap();
        for c in host.all() {
            let made = c.mount.join(first);
            assert!(!made.is_dir(), "{} made by the refused --cgroup-parent {parent}", made.display());
        }
    }
}
