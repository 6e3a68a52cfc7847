//! QEMU boot tests: husk as the kernel's `/init` in an initramfs, booted with Debian's
//! kernel under TCG. Each test is one boot; assertions are on the serial console and on how
//! QEMU itself ended (power-off, reboot, debug-exit code), never on timing.

// Only `HUSK`, `skip` and `missing` are used here: the rest would be dead code.
#[allow(dead_code)]
mod common;

use common::proc::HUSK;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// Why this machine cannot boot QEMU tests, if it cannot. In CI a missing piece is a
/// failure, not a skip: .ci/run installs everything these tests need.
fn missing_prerequisite() -> Option<String> {
    let have_qemu =
        Command::new("qemu-system-x86_64").arg("--version").stdout(Stdio::null()).status().is_ok();
    let have_kernel = std::fs::read_dir("/boot")
        .map(|d| d.flatten().any(|e| e.file_name().to_string_lossy().starts_with("vmlinuz-")))
        .unwrap_or(false);
    let have_busybox = Path::new("/bin/busybox").exists();
    let have_gcc = Command::new("gcc").arg("--version").stdout(Stdio::null()).status().is_ok();
    let reason = match (have_qemu, have_kernel, have_busybox, have_gcc) {
        (false, _, _, _) => "qemu-system-x86_64 not installed (apt-get install qemu-system-x86)",
        (_, false, _, _) => "no /boot/vmlinuz-* (apt-get install linux-image-amd64)",
        (_, _, false, _) => "no /bin/busybox (apt-get install busybox-static)",
        (_, _, _, false) => "no gcc to build the static memory hog (apt-get install gcc libc6-dev)",
        _ => return None,
    };
    Some(common::missing(reason))
}

/// Returns from test `$test` (a failure under CI) unless this machine can boot QEMU tests.
macro_rules! require_qemu {
    ($test:literal) => {
        if let Some(reason) = missing_prerequisite() {
            return common::skip($test, &reason);
        }
    };
}

/// Builds an initramfs in the test scratch dir: husk as /init, busybox applets, the test
/// scripts, an /etc/hostname, and `extra` files (`SRC:DEST`, replacing what is there).
fn build_initramfs(name: &str, extra: &[String]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("boot");
    std::fs::create_dir_all(&dir).unwrap();
    let hostname = dir.join("hostname");
    std::fs::write(&hostname, "husk-vm\n").unwrap();
    let cpio = dir.join(format!("{name}.cpio"));
    // The memory hog of the limits test: a static C program, since the VM has no libc.
    let memhog = dir.join(format!("memhog-{name}"));
    let built = Command::new("gcc")
        .args(["-static", "-O2", "-o"])
        .arg(&memhog)
        .arg(format!("{REPO}/tests/boot/memhog.c"))
        .status()
        .expect("run gcc");
    assert!(built.success(), "gcc -static memhog.c failed: {built}");
    let status = Command::new(format!("{REPO}/qemu/mkinitramfs"))
        .arg(&cpio)
        .args(["--init", HUSK, "--busybox"])
        .args(["--add", &format!("{}:/etc/hostname", hostname.display())])
        .args(["--add", &format!("{REPO}/tests/boot/basics.sh:/test/basics.sh")])
        .args(["--add", &format!("{REPO}/tests/boot/run.sh:/test/run.sh")])
        .args(["--add", &format!("{REPO}/tests/boot/limits.sh:/test/limits.sh")])
        .args(["--add", &format!("{REPO}/tests/boot/limits_v1.sh:/test/limits_v1.sh")])
        .args(["--add", &format!("{REPO}/tests/boot/forkbomb.sh:/test/forkbomb.sh")])
        .args(["--add", &format!("{}:/test/memhog", memhog.display())])
        .args(extra.iter().flat_map(|e| ["--add", e.as_str()]))
        .status()
        .expect("run qemu/mkinitramfs");
    assert!(status.success(), "mkinitramfs failed: {status}");
    cpio
}

/// The initramfs most boots share, built once per test run.
fn initramfs() -> &'static Path {
    static CPIO: OnceLock<PathBuf> = OnceLock::new();
    CPIO.get_or_init(|| build_initramfs("husk-test", &[]))
}

struct Boot {
    console: String,
    code: i32,
}

/// Boots the test initramfs with `extra` kernel words and init's `argv` after `--`.
fn boot(extra: &str, debug_exit: bool, argv: &[&str]) -> Boot {
    boot_image(initramfs(), extra, debug_exit, argv)
}

fn boot_image(initrd: &Path, extra: &str, debug_exit: bool, argv: &[&str]) -> Boot {
    let mut cmd = Command::new(format!("{REPO}/qemu/boot"));
    cmd.args(["--initrd".as_ref(), initrd.as_os_str()]).args(["--timeout", "180"]);
    if !extra.is_empty() {
        cmd.args(["--append-extra", extra]);
    }
    if debug_exit {
        cmd.arg("--debug-exit");
    }
    let out = cmd.arg("--").args(argv).stdin(Stdio::null()).output().expect("run qemu/boot");
    let console = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    let boot = Boot { console, code: out.status.code().unwrap_or(-1) };
    // qemu/boot's own failures (bad arguments: 2, QEMU did not start: 1) say why on stderr.
    assert!(
        ![1, 2].contains(&boot.code),
        "qemu/boot failed ({}): {}",
        boot.code,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!boot.console.contains("Kernel panic"), "kernel panicked:\n{}", boot.console);
    assert_ne!(boot.code, 124, "the VM did not end by itself:\n{}", boot.console);
    boot
}

impl Boot {
    /// The lines husk's own status report printed: there must be exactly one.
    fn exit_status(&self) -> u32 {
        let lines: Vec<&str> = self.console.lines().filter(|l| l.starts_with("husk: exit status ")).collect();
        assert_eq!(lines.len(), 1, "want exactly one status line:\n{}", self.console);
        lines[0]["husk: exit status ".len()..].trim().parse().unwrap()
    }

    fn assert_powered_off(&self) {
        assert_eq!(self.code, 0, "QEMU exit code:\n{}", self.console);
        assert!(self.console.contains("reboot: Power down"), "no power-off:\n{}", self.console);
    }

    fn has_line(&self, line: &str) -> bool {
        self.console.lines().any(|l| l == line)
    }
}

#[test]
fn basics_are_mounted_and_status_is_reported() {
    require_qemu!("basics_are_mounted_and_status_is_reported");
    let b = boot("", false, &["/bin/sh", "/test/basics.sh", "3"]);
    for marker in [
        "ok proc",
        "ok sysfs",
        "ok devtmpfs",
        "ok devpts",
        "ok /dev/shm tmpfs",
        "ok /run tmpfs",
        "ok /tmp tmpfs",
        "ok cgroup2",
        "ok controllers",
        "ok console",
        "ok hostname",
        "ok path",
        "ok pid1",
        "ok pgroup",
    ] {
        assert!(b.has_line(marker), "missing '{marker}':\n{}", b.console);
    }
    assert!(!b.console.contains("FAIL"), "{}", b.console);
    assert_eq!(b.exit_status(), 3);
    b.assert_powered_off();
}

#[test]
fn no_command_runs_bin_sh() {
    require_qemu!("no_command_runs_bin_sh");
    // With no words after `--`, init runs /bin/sh. An interactive shell on the console would
    // wait for input forever, so this image's /bin/sh is a script that says who it is.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("boot");
    std::fs::create_dir_all(&dir).unwrap();
    let sh = dir.join("default-sh");
    std::fs::write(&sh, "#!/bin/busybox sh\necho \"default shell as $0 with $# args\"\nexit 0\n").unwrap();
    std::fs::set_permissions(&sh, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let image = build_initramfs("default-sh", &[format!("{}:/bin/sh", sh.display())]);
    let b = boot_image(&image, "", false, &[]);
    assert!(b.has_line("default shell as /bin/sh with 0 args"), "{}", b.console);
    assert_eq!(b.exit_status(), 0);
    b.assert_powered_off();
}

#[test]
fn killed_command_is_128_plus_signal() {
    require_qemu!("killed_command_is_128_plus_signal");
    let b = boot("", false, &["sh", "-c", "kill -KILL $$"]);
    assert_eq!(b.exit_status(), 137);
    b.assert_powered_off();
}

#[test]
fn sigterm_to_init_ends_command_then_machine() {
    require_qemu!("sigterm_to_init_ends_command_then_machine");
    // The command asks PID 1 (husk) for SIGTERM; husk forwards it; the trap exits 9.
    let script = "trap 'echo got-term; exit 9' TERM; kill -TERM 1; while :; do sleep 1; done";
    let b = boot("", false, &["sh", "-c", script]);
    assert!(b.has_line("got-term"), "{}", b.console);
    assert_eq!(b.exit_status(), 9);
    b.assert_powered_off();
}

#[test]
fn ctrl_alt_del_ends_command_and_reboots() {
    require_qemu!("ctrl_alt_del_ends_command_and_reboots");
    // SIGINT to PID 1 is what the kernel sends on Ctrl-Alt-Del once husk disabled the
    // immediate reboot: COMMAND gets SIGTERM, then the machine restarts (QEMU's -no-reboot
    // turns the restart into an exit).
    let script = "trap 'echo got-term; exit 4' TERM; kill -INT 1; while :; do sleep 1; done";
    let b = boot("", false, &["sh", "-c", script]);
    assert!(b.has_line("got-term"), "{}", b.console);
    assert_eq!(b.exit_status(), 4);
    assert!(b.console.contains("reboot: Restarting system"), "{}", b.console);
    assert_eq!(b.code, 0);
}

#[test]
fn leftovers_are_ended_and_exit_word_chooses_reboot() {
    require_qemu!("leftovers_are_ended_and_exit_word_chooses_reboot");
    // A leftover that ignores SIGTERM must not keep the machine up: SIGKILL after the grace.
    let script = "(trap '' TERM; while :; do sleep 1; done) & sleep 1000 & echo started; exit 5";
    // No second `--`: the kernel stops passing words to init at one (see README).
    let b = boot("husk.exit=reboot", false, &["--grace", "1", "sh", "-c", script]);
    assert!(b.has_line("started"), "{}", b.console);
    assert_eq!(b.exit_status(), 5);
    assert!(b.console.contains("reboot: Restarting system"), "{}", b.console);
}

#[test]
fn qemu_exit_word_carries_the_status() {
    require_qemu!("qemu_exit_word_carries_the_status");
    let b = boot("husk.exit=qemu", true, &["sh", "-c", "exit 21"]);
    assert_eq!(b.exit_status(), 21);
    // isa-debug-exit: QEMU exits with (N << 1) | 1.
    assert_eq!(b.code, (21 << 1) | 1, "{}", b.console);
}

#[test]
fn missing_command_is_127_and_still_powers_off() {
    require_qemu!("missing_command_is_127_and_still_powers_off");
    let b = boot("", false, &["/no/such/command"]);
    assert!(b.has_line("husk: exec /no/such/command: No such file or directory (ENOENT)"), "{}", b.console);
    assert_eq!(b.exit_status(), 127);
    b.assert_powered_off();
}

#[test]
fn husk_run_works_inside_the_vm() {
    require_qemu!("husk_run_works_inside_the_vm");
    // The VM's root is the initramfs, which pivot_root refuses: husk run falls back to
    // move-mount + chroot. The container sees its own PID 1 and hostname, not the VM's /c.
    let b = boot("", false, &["sh", "/test/run.sh"]);
    assert!(b.console.contains("inside pid 2 host box procs "), "{}", b.console);
    assert!(b.has_line("ls: /c: No such file or directory"), "{}", b.console);
    assert!(b.has_line("run status 6"), "{}", b.console);
    assert!(b.console.contains("CapBnd:\t00000000a80025fb"), "{}", b.console);
    assert!(
        b.has_line("chroot: can't change root directory to '/x': Operation not permitted"),
        "{}",
        b.console
    );
    // No --rootfs: the VM's own root, read-only.
    assert!(b.has_line("default root husk-vm"), "{}", b.console);
    assert!(b.has_line("touch: /etc/x: Read-only file system"), "{}", b.console);
    assert!(b.has_line("run status 1"), "{}", b.console);
    // `--rootfs /` and `--rootfs .` (once EINVAL and EBUSY): the initramfs, writable.
    assert!(b.has_line("slash root husk-vm"), "{}", b.console);
    assert!(
        b.has_line("slash status 0 /from-slash made ls: /made: No such file or directory"),
        "{}",
        b.console
    );
    assert!(b.has_line("dot root /bin/busybox"), "{}", b.console);
    assert_eq!(b.exit_status(), 0);
    b.assert_powered_off();
}

/// The value after `prefix` on the console line that starts with it.
fn line_after<'a>(b: &'a Boot, prefix: &str) -> &'a str {
    b.console
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?}:\n{}", b.console))
}

/// `m100 status …`: memhog's 10 MB steps under --memory 100M were killed near 100 MB, with
/// status 137 and husk's OOM line.
fn assert_killed_near_100_mb(b: &Boot) {
    assert_killed_near_100_mb_by(b, "memory.max");
}

/// [`assert_killed_near_100_mb`], with `file` (the limit's file) named in husk's OOM line.
fn assert_killed_near_100_mb_by(b: &Boot, file: &str) {
    let m100 = line_after(b, "m100 status ");
    assert!(m100.starts_with("137 last got "), "{m100}");
    let got: u32 = m100["137 last got ".len()..].split(' ').next().unwrap().parse().unwrap();
    assert!((70..100).contains(&got), "killed after {got} MB under a 100 MB limit:\n{}", b.console);
    assert!(m100.ends_with(&format!("err husk: out of memory ({file}=104857600)")), "{m100}");
}

/// forkbomb.sh under --pids-limit 10: the bomb hit the limit and the container still ended
/// with its own status.
fn assert_bomb_contained(b: &Boot) {
    let bomb = line_after(b, "bomb current ");
    let (current, events) = bomb.split_once(" events max ").unwrap();
    assert!(current.parse::<u32>().unwrap() <= 10, "{bomb}");
    assert!(events.parse::<u32>().unwrap() > 0, "the limit was never hit: {bomb}");
    assert_eq!(line_after(b, "bomb status "), "4");
}

/// `cpu wall_cs W usage_us U`: a busy loop under --cpus 0.5 got about half of the wall time
/// (generous bounds: this is an emulated VM).
fn assert_half_a_cpu(b: &Boot) {
    let cpu = line_after(b, "cpu wall_cs ");
    let (wall_cs, usage_us) = cpu.split_once(" usage_us ").unwrap();
    let ratio = usage_us.parse::<f64>().unwrap() / (wall_cs.parse::<f64>().unwrap() * 10_000.0);
    assert!((0.3..0.7).contains(&ratio), "--cpus 0.5 gave {ratio:.2} of a CPU");
}

/// `stats status 0 husk: stats: …` of a container whose memhog held 30 MB: its memory.peak
/// is what the group said from inside at the end (`peak inside N`).
fn assert_stats_match_inside(b: &Boot) {
    let inside: u64 = line_after(b, "peak inside ").parse().unwrap();
    let stats = line_after(b, "stats status ");
    assert!(stats.starts_with("0 husk: stats: memory.peak="), "{stats}");
    let peak: u64 = stats["0 husk: stats: memory.peak=".len()..].split(' ').next().unwrap().parse().unwrap();
    assert!(peak >= inside && peak - inside < 2 << 20, "stats peak {peak}, inside {inside}");
    assert!(peak >= 30 << 20, "memhog held 30 MB, peak {peak}");
    assert!(
        stats.contains(" cpu.user=") && stats.contains(" cpu.system=") && stats.contains(" pids.peak="),
        "{stats}"
    );
}

#[test]
fn cgroup_limits_are_enforced_reported_and_removed() {
    require_qemu!("cgroup_limits_are_enforced_reported_and_removed");
    // The VM (Debian's kernel, husk as init) has the whole cgroup v2 hierarchy, unlike the
    // development host: the real limit tests live here.
    let b = boot("", false, &["sh", "/test/limits.sh"]);
    // 10 MB steps under --memory 100M: killed near 100 MB, status 137, husk's OOM line.
    assert_killed_near_100_mb(&b);
    // Under --memory 10M: killed before the first 10 MB step completes.
    assert_eq!(line_after(&b, "m10 status "), "137 last  err husk: out of memory (memory.max=10485760)");
    // 50 MB fits under 100M.
    assert_eq!(line_after(&b, "m50 status "), "0 last got 50 MB");
    // Inside: the container's group is its cgroup root, with its own limits; swap off.
    assert_eq!(line_after(&b, "inside "), "0::/ max 67108864 swap 0 pids 20");
    assert_bomb_contained(&b);
    // --cpus 0.5: about half of the wall time (generous bounds: this is an emulated VM).
    assert_half_a_cpu(&b);
    // --stats reports what the group's own files said.
    assert_stats_match_inside(&b);
    // /bin/true fits in the 512 KiB crun advertises.
    assert!(b.has_line("tiny 512k ok"), "{}", b.console);
    // husk exec runs inside the named container's cgroup: its own group is the cgroup root
    // there, with the container's limit; cgroup.procs lists the container's init, its
    // command, exec's helper and the cat itself.
    assert_eq!(line_after(&b, "exec cgroup "), "0::/ max 67108864");
    assert_eq!(line_after(&b, "exec procs "), "4");
    // The same in root's private user namespace, which the host's own tree always gets
    // (issue 14): exec's COMMAND is the range's root, in the container's group.
    let private = line_after(&b, "private exec cgroup ").split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(private, "0::/ max 67108864 map 0 1073741824 65536", "{}", b.console);
    assert_eq!(line_after(&b, "private exec procs "), "4");
    assert_eq!(line_after(&b, "private m10 status "), "137 err husk: out of memory (memory.max=10485760)");
    // Every container's group was removed.
    assert_eq!(line_after(&b, "groups left "), "0");
    assert_eq!(b.exit_status(), 0);
    b.assert_powered_off();
}

/// What `limits_v1.sh` finds in both of its layouts, memory being cgroup v1 in both and pids
/// in the hierarchy at `pids`: the limits are enforced, seen inside (read-only) and by the
/// host, and reported as on v2. `controllers`: the hierarchies of the container, sorted.
fn assert_limits_on_other_layouts(b: &Boot, test: &str, pids: &str, controllers: &[&str]) {
    assert!(!b.console.contains("FAIL"), "{}", b.console);
    // v1 memory: killed near 100 MB under --memory 100M, 137 and the OOM line naming the v1
    // file; 50 MB fits.
    assert_killed_near_100_mb_by(b, "memory.limit_in_bytes");
    assert_eq!(line_after(b, "m50 status "), "0 last got 50 MB");
    // Inside: every hierarchy's line of /proc/self/cgroup is the container's own group, `/`.
    let inside = line_after(b, "inside cgroup ");
    let mut seen: Vec<&str> = inside
        .split_whitespace()
        .map(|l| {
            let (id_controllers, path) = l.rsplit_once(':').unwrap();
            assert_eq!(path, "/", "{inside}");
            id_controllers.split_once(':').unwrap().1
        })
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, controllers, "{inside}");
    // The limits, read through the container's own read-only /sys/fs/cgroup. Swap is off
    // through memsw where the kernel accounts swap (Debian's 6.1 always does: it ignores
    // swapaccount=0), through swappiness 0 otherwise.
    let memory = line_after(b, "inside memory ");
    if memory.contains(" swappiness ") {
        common::host_branch(test, "no memory.memsw.* in this kernel: memory.swappiness=0 checked");
        assert_eq!(memory, "67108864 swappiness 0");
    } else {
        assert_eq!(memory, "67108864 memsw 67108864");
        // --memory-swap is memory + swap, as memsw is; -1 is the kernel's unlimited.
        assert_eq!(line_after(b, "swap128 "), "memsw 134217728");
        assert_eq!(line_after(b, "swapmax "), "memsw 9223372036854771712");
    }
    assert_eq!(line_after(b, "inside pids "), "20");
    assert_eq!(line_after(b, "inside cpu "), "50000 100000");
    let rofs = |file: &str| format!("sh: can't create {file}: Read-only file system");
    assert_eq!(line_after(b, "inside rofs memory "), rofs("/sys/fs/cgroup/memory/memory.limit_in_bytes"));
    assert_eq!(line_after(b, "inside rofs pids "), rofs(&format!("{pids}/pids.max")));
    assert_eq!(line_after(b, "inside status "), "0");
    // The host's view while it ran: husk/husk-PID in each hierarchy, with the limits.
    assert_eq!(line_after(b, "host memory "), "67108864 pids 20");
    assert_eq!(line_after(b, "host status "), "0");
    // After SIGKILL of husk run, the next start sweeps the dead container's groups.
    assert_ne!(line_after(b, "killed stale "), "0", "no group to sweep: the check proves nothing");
    assert_eq!(line_after(b, "killed swept "), "0");
    // husk exec joins the container's groups.
    let exec = line_after(b, "exec cgroup ");
    let inside: Vec<&str> = line_after(b, "inside cgroup ").split_whitespace().collect();
    assert_eq!(exec.split_whitespace().collect::<Vec<_>>(), inside, "exec's groups");
    assert_eq!(line_after(b, "exec procs "), "4");
    assert_bomb_contained(b);
    assert_half_a_cpu(b);
    assert_stats_match_inside(b);
    let stats = line_after(b, "stats status ");
    assert!(!stats.contains("cpu.user=n/a") && !stats.contains("cpu.system=n/a"), "{stats}");
}

#[test]
fn cgroup_v1_limits_are_enforced_visible_and_removed() {
    require_qemu!("cgroup_v1_limits_are_enforced_visible_and_removed");
    // Pure cgroup v1 as systemd mounts it (no unified hierarchy), built by the script.
    let b = boot("", false, &["sh", "/test/limits_v1.sh", "v1"]);
    // No pids hierarchy yet: --pids-limit is one line and 125, the command never ran, and
    // no memory group is left from it.
    let missing = "125 out  lines 1 err husk: cgroup /sys/fs/cgroup/pids: No such file or directory (ENOENT): \
                   the controller is not mounted there (a v1 hierarchy of its own, or listed in \
                   /sys/fs/cgroup/unified/cgroup.controllers)";
    assert_eq!(line_after(&b, "nopids status "), missing);
    assert_eq!(line_after(&b, "nopids left "), "0");
    assert_limits_on_other_layouts(
        &b,
        "cgroup_v1_limits_are_enforced_visible_and_removed",
        "/sys/fs/cgroup/pids",
        &["", "cpu,cpuacct", "memory", "pids"],
    );
    // One mount per hierarchy, and the co-mounted controllers' symlinks, which work.
    assert_eq!(line_after(&b, "inside ls ").trim_end(), "cpu cpu,cpuacct cpuacct memory pids");
    assert_eq!(line_after(&b, "inside cpulink "), "50000 acct /sys/fs/cgroup/cpuacct/cpuacct.usage");
    assert_eq!(line_after(&b, "host cpu "), "50000 100000");
    // Every container's group is gone from the three hierarchies; husk/ stays in each.
    assert_eq!(line_after(&b, "groups left "), "0 parents 3");
    // pids unmounted (the hierarchy lives on): its empty directory on the tmpfs is no cgroup.
    assert_eq!(line_after(&b, "gone status "), missing);
    assert_eq!(line_after(&b, "gone dir "), "[]");
    assert_eq!(b.exit_status(), 0);
    b.assert_powered_off();
}

#[test]
fn hybrid_cgroup_puts_memory_in_v1_and_pids_and_cpu_in_v2() {
    require_qemu!("hybrid_cgroup_puts_memory_in_v1_and_pids_and_cpu_in_v2");
    // v1 memory, and cgroup2 at /sys/fs/cgroup/unified with pids and cpu: each controller is
    // used where it is attached.
    let b = boot("", false, &["sh", "/test/limits_v1.sh", "hybrid"]);
    assert_limits_on_other_layouts(
        &b,
        "hybrid_cgroup_puts_memory_in_v1_and_pids_and_cpu_in_v2",
        "/sys/fs/cgroup/unified",
        &["", "memory"],
    );
    assert_eq!(line_after(&b, "inside ls ").trim_end(), "memory unified");
    // cpu.max in v2; no memory.max nor memory.current there (memory.pressure is PSI's, in
    // every group): memory is v1's alone.
    assert_eq!(line_after(&b, "inside v2 memory "), "0");
    assert_eq!(line_after(&b, "host cpu "), "50000 100000 v2 memory 0");
    assert_eq!(line_after(&b, "groups left "), "0 parents 2");
    assert_eq!(b.exit_status(), 0);
    b.assert_powered_off();
}

/// The initramfs of the rootless tests: the shared one plus an ordinary user, `huskuser`
/// (uid and gid 1000), in /etc/passwd and /etc/group for busybox's `su`.
fn rootless_initramfs() -> &'static Path {
    static CPIO: OnceLock<PathBuf> = OnceLock::new();
    CPIO.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("boot");
        std::fs::create_dir_all(&dir).unwrap();
        let passwd = dir.join("passwd");
        std::fs::write(&passwd, "root:x:0:0:root:/root:/bin/sh\nhuskuser:x:1000:1000::/tmp:/bin/sh\n")
            .unwrap();
        let group = dir.join("group");
        std::fs::write(&group, "root:x:0:\nhuskuser:x:1000:\n").unwrap();
        build_initramfs(
            "rootless",
            &[
                format!("{}:/etc/passwd", passwd.display()),
                format!("{}:/etc/group", group.display()),
                format!("{REPO}/tests/boot/rootless.sh:/test/rootless.sh"),
            ],
        )
    })
}

#[test]
fn forbidden_user_namespaces_are_named() {
    require_qemu!("forbidden_user_namespaces_are_named");
    let b = boot_image(rootless_initramfs(), "", false, &["sh", "/test/rootless.sh", "forbidden"]);
    // The premise: the user (uid 1000 on the VM) is root in a user namespace of its own.
    assert_eq!(line_after(&b, "user status "), "0 uid 0 as 1000");
    // user.max_user_namespaces=0: clone3 fails ENOSPC; one line names the setting.
    let max = line_after(&b, "max status ");
    assert!(max.starts_with("125 lines 1 err husk: "), "{max}");
    assert!(
        max.ends_with("(ENOSPC): user namespaces are disabled: user.max_user_namespaces=0 (sysctl)"),
        "{max}"
    );
    // Debian's kernel.unprivileged_userns_clone=0: EPERM, named likewise.
    if b.has_line("debian absent") {
        eprintln!("forbidden_user_namespaces_are_named: this kernel has no kernel.unprivileged_userns_clone");
    } else {
        let debian = line_after(&b, "debian status ");
        assert!(debian.starts_with("125 lines 1 err husk: "), "{debian}");
        assert!(
            debian.ends_with(
                "(EPERM): user namespaces are disabled: kernel.unprivileged_userns_clone=0 (sysctl)"
            ),
            "{debian}"
        );
    }
    // The settings put back, the same run works again: they were the cause.
    assert_eq!(line_after(&b, "restored status "), "0");
    assert_eq!(b.exit_status(), 0);
    b.assert_powered_off();
}

#[test]
fn limits_as_a_user_need_a_delegated_group() {
    require_qemu!("limits_as_a_user_need_a_delegated_group");
    let b = boot_image(rootless_initramfs(), "", false, &["sh", "/test/rootless.sh", "limits"]);
    assert_eq!(line_after(&b, "shell in "), "0::/u/shell");
    // --cgroup-parent in the delegated group: killed near 100 MB, 137 and husk's OOM line.
    assert_killed_near_100_mb(&b);
    assert_bomb_contained(&b);
    // The default parent, the user's own group holding husk alone: the container's group
    // is made there (its cgroup root inside, with the limit), the hog killed...
    assert_eq!(
        line_after(&b, "scope status "),
        "137 inside 0::/ max 104857600 err husk: out of memory (memory.max=104857600)"
    );
    // ... and the group is left as it was found.
    assert_eq!(line_after(&b, "scope after "), "[] groups 0 procs 0");
    // Detached in such a scope: the caller's husk and the logger move out with the
    // supervisor, the limit holds, and the scope is left as it was found.
    assert_eq!(line_after(&b, "detached status "), "0 dl err ");
    assert_eq!(line_after(&b, "detached log "), "67108864 err ");
    assert_eq!(line_after(&b, "dscope after "), "[] groups 0 procs 0");
    // A group holding other processes too: one line, 125, what to do.
    let hint = "limits need a group delegated to you and to husk alone: systemd-run --user --scope -p \
                Delegate=yes husk run …, or --cgroup-parent with a group root chowned to you";
    assert_eq!(
        line_after(&b, "busy status "),
        format!(
            "125 lines 1 err husk: cgroup.subtree_control /u/shell: Device or resource busy (EBUSY): {hint}"
        )
    );
    // No container's group (nor husk's own leaf) is left in the delegated group.
    assert_eq!(line_after(&b, "groups left "), "0");
    // Not delegated: 125 naming the group the user may not write, never a run without limits.
    assert_eq!(
        line_after(&b, "v status "),
        format!("125 lines 1 err husk: cgroup.subtree_control /v: Permission denied (EACCES): {hint}")
    );
    assert_eq!(
        line_after(&b, "vctr status "),
        format!("125 lines 1 err husk: mkdir /v/ctr: Permission denied (EACCES): {hint}")
    );
    assert_eq!(
        line_after(&b, "w status "),
        format!("125 lines 1 err husk: cgroup /w: Permission denied (EACCES): {hint}")
    );
    assert_eq!(line_after(&b, "v w left "), "0");
    assert_eq!(b.exit_status(), 0);
    b.assert_powered_off();
}
