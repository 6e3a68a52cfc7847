//! Black-box tests of what `husk run` leaves COMMAND in privileges: its capability sets
//! (Docker's default bounding set, `--cap-add` / `--cap-drop`, nothing for a non-root `-u`
//! unless added, then as ambient capabilities), no_new_privs, and what that means against
//! real attacks — binding port 80, setuid-root and file-capability binaries, remounting a
//! `--ro-bind` volume read-write, changing uid, killing another user's process.
//!
//! Expected capability masks are computed here from capability numbers (capabilities(7),
//! linux/capability.h), never copied from husk. Every refusal is paired with a control that
//! shows the probe would see success: the same bind with the capability, the same setuid
//! and file-capability binaries run on the host without no_new_privs, the same remount with
//! CAP_SYS_ADMIN and no seccomp filter.
//!
//! Rules kept throughout (as in tests/run.rs and tests/escape.rs): every test has its own
//! directory `<target>/tmp/husk-privileges.<pid>.<test>.t` whose path is the marker passed to
//! every container command (`sh -c SCRIPT MARKER`, `python3 -c SCRIPT MARKER`); after every
//! run no process may mention the marker and nothing may be mounted under the directory;
//! waits poll against a deadline; every process started is killed and reaped even when the
//! test fails; the shared fixtures are never written to (`--read-only`, or a private copy).

mod common;

use common::case::{Case, husk_run};
use common::proc::{HUSK, Outcome, Proc, busybox, debian, path_str};
use common::tree::PATIENCE;
use common::{host_branch, need, tool};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

// ---------------------------------------------------------------------------------------
// Capabilities: numbers and masks
// ---------------------------------------------------------------------------------------

// Capability numbers, from capabilities(7) / linux/capability.h.
const CHOWN: u32 = 0;
const DAC_OVERRIDE: u32 = 1;
const FOWNER: u32 = 3;
const FSETID: u32 = 4;
const KILL: u32 = 5;
const SETGID: u32 = 6;
const SETUID: u32 = 7;
const SETPCAP: u32 = 8;
const NET_BIND_SERVICE: u32 = 10;
const NET_RAW: u32 = 13;
const SYS_CHROOT: u32 = 18;
const SYS_ADMIN: u32 = 21;
const MKNOD: u32 = 27;
const AUDIT_WRITE: u32 = 29;
const SETFCAP: u32 = 31;
const WAKE_ALARM: u32 = 35;
/// The last capability of Linux 5.9 and later (CAP_CHECKPOINT_RESTORE).
const CHECKPOINT_RESTORE: u32 = 40;

/// The set of the given capabilities.
fn caps(numbers: &[u32]) -> u64 {
    numbers.iter().fold(0, |set, &n| set | (1u64 << n))
}

/// Docker's default capability set (moby's `oci/caps/defaults.go`).
fn docker_default() -> u64 {
    caps(&[
        CHOWN,
        DAC_OVERRIDE,
        FSETID,
        FOWNER,
        MKNOD,
        NET_RAW,
        SETGID,
        SETUID,
        SETFCAP,
        SETPCAP,
        NET_BIND_SERVICE,
        SYS_CHROOT,
        KILL,
        AUDIT_WRITE,
    ])
}

/// A `/proc/PID/status` field holding a capability mask, e.g. `CapBnd`.
fn status_mask(status: &str, field: &str) -> u64 {
    let value = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {field} in\n{status}"));
    u64::from_str_radix(value.trim(), 16).unwrap_or_else(|e| panic!("{field}: {value:?}: {e}"))
}

/// What this test process (root) holds: the most any child of it can have.
fn own_caps() -> u64 {
    let status = fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status_mask(&status, "CapBnd") & status_mask(&status, "CapPrm")
}

/// Every capability the running kernel has, up to the last one husk can know by name.
fn kernel_caps() -> u64 {
    let last: u32 = fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .expect("read /proc/sys/kernel/cap_last_cap")
        .trim()
        .parse()
        .expect("cap_last_cap is a number");
    caps(&(0..=last.min(CHECKPOINT_RESTORE)).collect::<Vec<_>>())
}

/// The lines the script [`STATUS`] prints, for these sets and no_new_privs on.
fn status_lines(inh: u64, prm: u64, eff: u64, bnd: u64, amb: u64) -> String {
    format!(
        "CapInh:\t{inh:016x}\nCapPrm:\t{prm:016x}\nCapEff:\t{eff:016x}\nCapBnd:\t{bnd:016x}\n\
         CapAmb:\t{amb:016x}\nNoNewPrivs:\t1\n"
    )
}

/// Prints the capability sets and no_new_privs of a process COMMAND started (a second
/// execve after husk's: what survives it is what a real workload gets).
const STATUS: &str = "grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):' /proc/self/status";

// ---------------------------------------------------------------------------------------
// Helpers: processes, output, one test's directory
// ---------------------------------------------------------------------------------------

/// Starts `cmd` (stdin /dev/null), its waits held to [`PATIENCE`].
fn start(cmd: &mut Command) -> Proc {
    Proc::start(cmd).patient(PATIENCE)
}

/// One test's [`Case`], its runs and waits held to [`PATIENCE`] (python3 in containers). Its
/// directory is under `target/tmp`, not /tmp: the host-side controls run setuid and
/// file-capability binaries from it, which a nosuid /tmp would defeat.
fn new_case(test: &str) -> Case {
    Case::at(Path::new(env!("CARGO_TARGET_TMPDIR")), test, &[]).patient(PATIENCE)
}

impl Case {
    /// `husk run OPTS -- sh -c 'python3 -c "$1" "$0"' MARKER SCRIPT`: python3 started by a
    /// shell, so what it holds has survived two execve calls after husk's set-up.
    fn py(&self, opts: &[&str], script: &str) -> Command {
        husk_run(opts, &["sh", "-c", "python3 -c \"$1\" \"$0\"", &self.marker, script])
    }
}

// ---------------------------------------------------------------------------------------
// 1. The capability sets COMMAND holds, and no_new_privs
// ---------------------------------------------------------------------------------------

#[test]
fn docker_default_set_is_what_docker_documents() {
    // The figure Docker's documentation and `docker run ... grep CapBnd` show; a check of the
    // numbers above, independent of husk.
    assert_eq!(docker_default(), 0x00000000a80425fb);
}

#[test]
fn capability_sets_inside() {
    let bb = need!("capability_sets_inside", busybox());
    let case = new_case("sets");
    let root = path_str(bb);
    let default = docker_default();
    let nbs = caps(&[NET_BIND_SERVICE]);
    let admin = caps(&[SYS_ADMIN]);
    // (options, expected CapInh, CapPrm, CapEff, CapBnd, CapAmb)
    let cases: Vec<(&[&str], [u64; 5])> = vec![
        // root: the default set, permitted and effective; nothing inheritable or ambient
        (&[], [0, default, default, default, 0]),
        (&["-u", "0"], [0, default, default, default, 0]),
        (&["-u", "0:1000"], [0, default, default, default, 0]),
        (&["--cap-drop", "ALL"], [0; 5]),
        (&["--cap-drop", "all"], [0; 5]),
        (&["--cap-drop", "CAP_ALL"], [0; 5]),
        (&["--cap-add", "SYS_ADMIN", "--cap-drop", "CHOWN"], {
            let set = (default | admin) & !caps(&[CHOWN]);
            [0, set, set, set, 0]
        }),
        (&["--cap-add", "cap_sys_admin", "--cap-drop", "Cap_Chown"], {
            let set = (default | admin) & !caps(&[CHOWN]);
            [0, set, set, set, 0]
        }),
        (&["--cap-drop", "NET_RAW", "--cap-drop", "MKNOD"], {
            let set = default & !caps(&[NET_RAW, MKNOD]);
            [0, set, set, set, 0]
        }),
        // a specific drop wins over an add of the same capability
        (&["--cap-add", "SYS_ADMIN", "--cap-drop", "SYS_ADMIN"], [0, default, default, default, 0]),
        // --cap-drop ALL --cap-add X is exactly X, in either order
        (&["--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE"], [0, nbs, nbs, nbs, 0]),
        (&["--cap-add", "NET_BIND_SERVICE", "--cap-drop", "ALL"], [0, nbs, nbs, nbs, 0]),
        // non-root: nothing unless added, and what is added is ambient (survives execve)
        (&["-u", "1000"], [0, 0, 0, default, 0]),
        (&["-u", "1000:1000"], [0, 0, 0, default, 0]),
        (&["-u", "1000", "--cap-add", "NET_BIND_SERVICE"], [nbs, nbs, nbs, default, nbs]),
        (&["-u", "1000:1000", "--cap-add", "CAP_NET_BIND_SERVICE"], [nbs, nbs, nbs, default, nbs]),
        (&["-u", "1000", "--cap-add", "SYS_ADMIN"], [admin, admin, admin, default | admin, admin]),
        (&["-u", "1000", "--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE"], [nbs, nbs, nbs, nbs, nbs]),
        (&["-u", "1000", "--cap-add", "SYS_ADMIN", "--cap-drop", "SYS_ADMIN"], [0, 0, 0, default, 0]),
        // adding a capability already in the default set to a non-root user
        (&["-u", "1000", "--cap-add", "CHOWN"], {
            let c = caps(&[CHOWN]);
            [c, c, c, default, c]
        }),
    ];
    let mut failures = Vec::new();
    for (opts, [inh, prm, eff, bnd, amb]) in &cases {
        let mut all = vec!["--rootfs", root];
        all.extend_from_slice(opts);
        let out = case.run(&mut case.sh(&all, STATUS));
        let expected = status_lines(*inh, *prm, *eff, *bnd, *amb);
        if out.status.code() != Some(0) || out.stdout != expected || !out.stderr.is_empty() {
            failures.push(format!("{opts:?}: expected {expected:?}\n  got {out}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} option sets gave the wrong capabilities:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// `--cap-add all`: every capability the kernel has (husk knows them up to
/// CHECKPOINT_RESTORE) — as far as husk itself holds them: no process can give more than
/// it has, so where husk runs with a reduced bounding set (in a container of its own, say),
/// ALL is what is left, not an error.
#[test]
fn cap_add_all_is_every_capability_available() {
    let bb = need!("cap_add_all_is_every_capability_available", busybox());
    let case = new_case("all");
    let all = kernel_caps() & own_caps();
    let root = path_str(bb);
    let mut failures = Vec::new();
    for (opts, expected) in [
        (vec!["--cap-add", "all"], status_lines(0, all, all, all, 0)),
        (vec!["--cap-add", "ALL"], status_lines(0, all, all, all, 0)),
        (vec!["--cap-drop", "ALL", "--cap-add", "CAP_ALL"], status_lines(0, all, all, all, 0)),
        (vec!["-u", "1000", "--cap-add", "all"], status_lines(all, all, all, all, all)),
    ] {
        let mut with_root = vec!["--rootfs", root];
        with_root.extend(opts.iter().copied());
        let out = case.run(&mut case.sh(&with_root, STATUS));
        if out.status.code() != Some(0) || out.stdout != expected || !out.stderr.is_empty() {
            failures.push(format!("{opts:?}: expected {expected:?}\n  got {out}"));
        }
    }
    assert!(
        failures.is_empty(),
        "--cap-add all (this process holds {:016x}, the kernel has {:016x}):\n{}",
        own_caps(),
        kernel_caps(),
        failures.join("\n")
    );
}

/// Capability names by number (capabilities(7)), for the test below.
const NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// `--cap-add X` *by name*, for a capability the kernel has but husk itself does not hold
/// (where husk runs with a reduced bounding set), cannot be honoured: husk must say so
/// (125 and one line naming it, as Docker/runc fail), not run COMMAND without it as if it
/// had been granted. Where this process holds every capability of the kernel, husk is made
/// to lack one as such a host would: started by `setpriv --bounding-set -wake_alarm`
/// (util-linux), it holds no CAP_WAKE_ALARM.
#[test]
fn cap_add_of_a_capability_husk_lacks_is_refused() {
    let test = "cap_add_of_a_capability_husk_lacks_is_refused";
    let bb = need!("cap_add_of_a_capability_husk_lacks_is_refused", busybox());
    let lacking = kernel_caps() & !own_caps();
    let (number, held, setpriv) = match (0..=CHECKPOINT_RESTORE).find(|&n| lacking & caps(&[n]) != 0) {
        Some(number) => (number, own_caps(), None),
        None => {
            let setpriv =
                need!("cap_add_of_a_capability_husk_lacks_is_refused", tool("setpriv", "util-linux"));
            host_branch(test, "this process holds every capability: husk is started without CAP_WAKE_ALARM");
            (WAKE_ALARM, own_caps() & !caps(&[WAKE_ALARM]), Some(setpriv))
        }
    };
    let name = NAMES[number as usize];
    let case = new_case("lacking");
    let root = path_str(bb);
    let mut failures = Vec::new();
    for opts in [vec!["--cap-add", name], vec!["-u", "1000", "--cap-add", name]] {
        let mut all = vec!["--rootfs", root];
        all.extend(opts.iter().copied());
        let husk = case.sh(&all, STATUS);
        let mut cmd = match &setpriv {
            None => husk,
            Some(setpriv) => {
                let mut cmd = Command::new(setpriv);
                cmd.args(["--bounding-set", "-wake_alarm"]).arg(husk.get_program()).args(husk.get_args());
                cmd
            }
        };
        let out = case.run(&mut cmd);
        if !out.is_refusal() || !out.stderr.contains(name) {
            failures.push(format!(
                "{opts:?} (CAP_{name} = {number}, not held by husk: {held:016x}): expected status \
                 125, no stdout, one line naming {name}\n  got {out}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------
// 2. Port 80: CAP_NET_BIND_SERVICE
// ---------------------------------------------------------------------------------------

/// Prints the network namespace's first unprivileged port (so a namespace where every port
/// is unprivileged cannot make the test pass by accident), then binds TCP 127.0.0.1:80.
const BIND_80: &str = r#"
import socket
print(open('/proc/sys/net/ipv4/ip_unprivileged_port_start').read().strip())
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
try:
    s.bind(('127.0.0.1', 80))
    s.listen()
    print('bound', s.getsockname()[1])
except OSError as e:
    print('error', e.errno, e.strerror)
"#;

#[test]
fn port_80_needs_net_bind_service_python() {
    let deb = need!("port_80_needs_net_bind_service_python", debian());
    let case = new_case("port80-py");
    let root = path_str(deb);
    let denied = "1024\nerror 13 Permission denied\n";
    let bound = "1024\nbound 80\n";
    let mut failures = Vec::new();
    for (opts, expected) in [
        (vec!["-u", "1000"], denied),
        (vec!["-u", "1000:1000"], denied),
        (vec!["-u", "1000", "--cap-add", "NET_BIND_SERVICE"], bound),
        (vec!["-u", "1000:1000", "--cap-add", "cap_net_bind_service"], bound),
        (vec!["-u", "1000", "--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE"], bound),
        (vec!["-u", "1000", "--cap-add", "NET_BIND_SERVICE", "--cap-drop", "NET_BIND_SERVICE"], denied),
        (vec![], bound),
        (vec!["--cap-drop", "NET_BIND_SERVICE"], denied),
        (vec!["--cap-drop", "ALL"], denied),
        (vec!["--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE"], bound),
    ] {
        let mut all = vec!["--rootfs", root, "--read-only"];
        all.extend(opts.iter().copied());
        let out = case.run(&mut case.py(&all, BIND_80));
        if out.status.code() != Some(0) || out.stdout != expected || !out.stderr.is_empty() {
            failures.push(format!("{opts:?}: expected {expected:?}\n  got {out}"));
        }
    }
    assert!(failures.is_empty(), "binding port 80:\n{}", failures.join("\n"));
}

/// busybox `nc -l -p 80` in the background; waits until the container's own /proc/net shows
/// a listener on port 80 (0x0050, state 0A), says so and stops it. A refused bind makes nc
/// exit at once with `nc: bind: Permission denied` (then the script says how it ended).
const NC_80: &str = r#"
nc -l -p 80 </dev/null >/dev/null & pid=$!
until grep -qE ':0050 [0-9A-F]+:[0-9A-F]{4} 0A ' /proc/net/tcp /proc/net/tcp6; do
    if ! kill -0 $pid 2>/dev/null; then wait $pid; echo "nc ended: $?"; exit 0; fi
    sleep 0.01
done
echo listening
kill $pid
"#;

#[test]
fn port_80_needs_net_bind_service_busybox_nc() {
    let bb = need!("port_80_needs_net_bind_service_busybox_nc", busybox());
    let case = new_case("port80-nc");
    let root = path_str(bb);
    let refused = |out: &Outcome| out.expect(0, "nc ended: 1\n", "nc: bind: Permission denied\n");
    let listens = |out: &Outcome| out.expect(0, "listening\n", "");
    refused(&case.run(&mut case.sh(&["--rootfs", root, "-u", "1000"], NC_80)));
    listens(
        &case.run(&mut case.sh(&["--rootfs", root, "-u", "1000", "--cap-add", "NET_BIND_SERVICE"], NC_80)),
    );
    listens(&case.run(&mut case.sh(&["--rootfs", root], NC_80)));
    refused(&case.run(&mut case.sh(&["--rootfs", root, "--cap-drop", "NET_BIND_SERVICE"], NC_80)));
}

// ---------------------------------------------------------------------------------------
// 3. Setuid-root binaries: no_new_privs
// ---------------------------------------------------------------------------------------

/// Copies `src` to `dst` with `cp` (this multi-threaded process must never hold an
/// executable open for writing: a concurrent fork would inherit it and exec would fail with
/// ETXTBSY), then sets `mode`.
fn install(src: &Path, dst: &Path, mode: u32) {
    if let Some(parent) = dst.parent() {
        fs::create_dir_all(parent).unwrap_or_else(|e| panic!("mkdir {}: {e}", parent.display()));
    }
    let out = Command::new("cp").arg(src).arg(dst).stdin(Stdio::null()).output().expect("run cp");
    assert!(out.status.success(), "cp {} {}: {}", src.display(), dst.display(), out.status);
    fs::set_permissions(dst, fs::Permissions::from_mode(mode)).unwrap();
}

/// A setuid-root busybox run by uid 1000 stays uid 1000 with no capabilities.
///
/// busybox named `sh` would not show an escalation even without no_new_privs: busybox
/// itself drops a setuid root for every applet but the few that need it (`sh`, `id`, ...
/// call setuid(getuid()) first). So the attack that matters is the one with `su`, an applet
/// busybox keeps root for: with root's password field empty (the copy's /etc/passwd),
/// `su -c CMD root` run setuid-root by uid 1000 *is* root — the host-side control shows it
/// (`chroot --userspec=1000:1000` into the same tree, no no_new_privs: prints 0). In the
/// container, no_new_privs leaves the euid at 1000 and busybox says so itself.
#[test]
fn no_new_privs_defeats_setuid_root_binaries() {
    let bb = need!("no_new_privs_defeats_setuid_root_binaries", busybox());
    let chroot = need!("no_new_privs_defeats_setuid_root_binaries", tool("chroot", "coreutils"));
    let case = new_case("setuid");
    let root = case.rootfs_copy(bb);
    let passwd = root.join("etc/passwd");
    let text = fs::read_to_string(&passwd).unwrap();
    fs::write(&passwd, text.replacen("root:x:", "root::", 1)).unwrap();
    let busybox = root.join("bin/busybox");
    install(&busybox, &root.join("suid/sh"), 0o4755);
    install(&busybox, &root.join("suid/su"), 0o4755);

    // The control: on the host, without no_new_privs, uid 1000 becomes root through it.
    let control = start(Command::new(&chroot).arg("--userspec=1000:1000").arg(&root).args([
        "/suid/su",
        "-c",
        "id -u",
        "root",
        &case.marker,
    ]))
    .wait();
    control.expect(0, "0\n", "");

    let rootfs = path_str(&root);
    // The same binary in the container: refused, by busybox, because the euid is not 0.
    let out = case.run(
        &mut case
            .cmd(&["--rootfs", rootfs, "-u", "1000"], &["/suid/su", "-c", "id -u", "root", &case.marker]),
    );
    out.expect(1, "", "su: must be suid to work properly\n");
    // ... and through a shell, with capabilities to add: the same.
    let out = case.run(&mut case.sh(
        &["--rootfs", rootfs, "-u", "1000", "--cap-add", "NET_BIND_SERVICE"],
        "/suid/su -c 'id -u' root; echo su=$?",
    ));
    out.expect(0, "su=1\n", "su: must be suid to work properly\n");

    // The setuid `sh` of the brief: uid 1000 throughout, no capabilities.
    let out = case.run(&mut case.cmd(
        &["--rootfs", rootfs, "-u", "1000"],
        &[
            "/suid/sh",
            "-c",
            "id -u; grep -E '^(Uid|CapPrm|CapEff|NoNewPrivs):' /proc/self/status",
            &case.marker,
        ],
    ));
    out.expect(
        0,
        "1000\nUid:\t1000\t1000\t1000\t1000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n\
         NoNewPrivs:\t1\n",
        "",
    );
}

// ---------------------------------------------------------------------------------------
// 4. File capabilities: no_new_privs
// ---------------------------------------------------------------------------------------

/// Whether the process `pid` (in a network namespace of its own) listens on TCP port 80.
fn listens_on_80(pid: i32) -> bool {
    ["tcp", "tcp6"].iter().any(|file| {
        fs::read_to_string(format!("/proc/{pid}/net/{file}")).unwrap_or_default().lines().skip(1).any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.get(1).is_some_and(|local| local.ends_with(":0050")) && f.get(3) == Some(&"0A")
        })
    })
}

/// A copy of busybox with `cap_net_bind_service+ep` gives uid 1000 nothing in the container.
/// The control runs the same file on the host (a network namespace of its own, uid 1000,
/// no no_new_privs): it holds CAP_NET_BIND_SERVICE and listens on port 80.
#[test]
fn file_capabilities_give_nothing() {
    let bb = need!("file_capabilities_give_nothing", busybox());
    let setcap = need!("file_capabilities_give_nothing", tool("setcap", "libcap2-bin"));
    let unshare = need!("file_capabilities_give_nothing", tool("unshare", "util-linux"));
    let setpriv = need!("file_capabilities_give_nothing", tool("setpriv", "util-linux"));
    let case = new_case("file-caps");
    let root = case.rootfs_copy(bb);
    let busybox = root.join("bin/busybox");
    let nc = root.join("fcap/nc");
    let grep = root.join("fcap/grep");
    install(&busybox, &nc, 0o755);
    install(&busybox, &grep, 0o755);
    for file in [&nc, &grep] {
        let out =
            Command::new(&setcap).arg("cap_net_bind_service+ep").arg(file).output().expect("run setcap");
        assert!(out.status.success(), "setcap {}: {}", file.display(), String::from_utf8_lossy(&out.stderr));
    }

    // The control.
    let mut control = start(
        Command::new(&unshare)
            .arg("--net")
            .arg(&setpriv)
            .args(["--reuid", "1000", "--regid", "1000", "--clear-groups"])
            .arg(&nc)
            .args(["-l", "-p", "80"]),
    );
    let pid = control.pid();
    let what = control.what.clone();
    PATIENCE.wait_for(
        || format!("the host-side control {what} to listen on port 80"),
        || {
            if let Some(status) = control.ended() {
                panic!(
                    "the host-side control ended ({status}): stdout {:?}, stderr {:?}",
                    control.stdout.text(),
                    control.stderr.text()
                );
            }
            // Only once the exec chain reached nc: before that /proc/PID/net is the host's.
            let at_nc = fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == nc);
            (at_nc && listens_on_80(pid)).then_some(())
        },
    );
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert_eq!(status_mask(&status, "CapEff"), caps(&[NET_BIND_SERVICE]), "host-side control:\n{status}");
    drop(control);

    // In the container.
    let rootfs = path_str(&root);
    let out = case.run(&mut case.sh(
        &["--rootfs", rootfs, "-u", "1000"],
        "/fcap/grep -E '^Cap(Prm|Eff):' /proc/self/status; /fcap/nc -l -p 80; echo nc=$?",
    ));
    out.expect(
        0,
        "CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nnc=1\n",
        "nc: bind: Permission denied\n",
    );
}

// ---------------------------------------------------------------------------------------
// 5. A read-only volume stays read-only: no CAP_SYS_ADMIN
// ---------------------------------------------------------------------------------------

/// Tries to make the read-only volume at /srv writable, to mount a tmpfs and to unmount the
/// volume, as root; then reads the volume's file.
const REMOUNT: &str = "exec 2>&1
mount -o remount,rw /srv; echo remount=$?
echo overwritten > /srv/data.txt; echo write=$?
mount -t tmpfs none /mnt; echo tmpfs=$?
umount /srv; echo umount=$?
mount -o remount,bind,rw /srv; echo rebind=$?
cat /srv/data.txt";

#[test]
fn ro_bind_cannot_be_remounted_read_write() {
    let bb = need!("ro_bind_cannot_be_remounted_read_write", busybox());
    let case = new_case("remount");
    let vol = case.join("vol");
    fs::create_dir(&vol).unwrap();
    fs::write(vol.join("data.txt"), "ro-data\n").unwrap();
    let bind = format!("{}:/srv", path_str(&vol));
    let root = path_str(bb);
    // (busybox sh names itself by $0, the marker, in its error messages)
    let refused = format!(
        "mount: permission denied (are you root?)\nremount=1\n\
         {}: line 2: can't create /srv/data.txt: Read-only file system\nwrite=1\n\
         mount: permission denied (are you root?)\ntmpfs=1\n\
         umount: can't unmount /srv: Operation not permitted\numount=1\n\
         mount: permission denied (are you root?)\nrebind=1\n\
         ro-data\n",
        case.marker
    );
    // Default; then without the seccomp filter (which refuses mount calls too), so that it
    // is the missing CAP_SYS_ADMIN alone that refuses; then with CAP_SYS_ADMIN but the filter.
    for opts in [&[][..], &["--seccomp", "unconfined"], &["--cap-add", "SYS_ADMIN"]] {
        let mut all = vec!["--rootfs", root, "--ro-bind", &bind];
        all.extend_from_slice(opts);
        case.run(&mut case.sh(&all, REMOUNT)).expect(0, &refused, "");
    }
    // The control: with CAP_SYS_ADMIN and no filter the same remount works.
    let out = case.run(&mut case.sh(
        &["--rootfs", root, "--ro-bind", &bind, "--cap-add", "SYS_ADMIN", "--seccomp", "unconfined"],
        "mount -o remount,rw /srv; echo remount=$?",
    ));
    out.expect(0, "remount=0\n", "");
    assert_eq!(fs::read_to_string(vol.join("data.txt")).unwrap(), "ro-data\n");
    assert_eq!(fs::read_dir(&vol).unwrap().count(), 1, "nothing may appear in the volume");
}

// ---------------------------------------------------------------------------------------
// 6. Unknown capability names
// ---------------------------------------------------------------------------------------

#[test]
fn unknown_capability_names_are_refused() {
    let bb = need!("unknown_capability_names_are_refused", busybox());
    let case = new_case("bad-names");
    let root = path_str(bb);
    let mut failures = Vec::new();
    let mut cases = 0;
    for option in ["--cap-add", "--cap-drop"] {
        for value in ["NOPE", "CAP_", "", "CAP_NOPE", "ALLL", "CAP_CAP_CHOWN", "NET_BIND_SERVIC", "5"] {
            cases += 1;
            let out = case.run(&mut case.sh(&["--rootfs", root, option, value], "echo ran"));
            let quoted = [format!("'{value}'"), format!("\"{value}\""), format!("`{value}`")];
            if !out.is_refusal() || !quoted.iter().any(|q| out.stderr.contains(q.as_str())) {
                failures.push(format!(
                    "{option} {value:?}: expected status 125, no stdout, one line `husk: ...` \
                     quoting the value\n  got {out}"
                ));
            }
        }
        // The option with no value at all.
        cases += 1;
        let out = case.run(Command::new(HUSK).args(["run", "--rootfs", root, option]));
        if !out.is_refusal() || !out.stderr.contains(option) {
            failures.push(format!("{option} without a value: expected a refusal naming it\n  got {out}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {cases} bad capability options not refused as they should be:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// 7. Dropped capabilities are really gone; added ones do not lead to more
// ---------------------------------------------------------------------------------------

/// setuid(1000) as root, then what the process is.
const SETUID_1000: &str = r#"
import os
try:
    os.setuid(1000)
except OSError as e:
    print('error', e.errno, e.strerror)
print(os.getuid(), os.geteuid())
"#;

#[test]
fn cap_drop_setuid_stops_changing_uid() {
    let deb = need!("cap_drop_setuid_stops_changing_uid", debian());
    let bb = need!("cap_drop_setuid_stops_changing_uid", busybox());
    let case = new_case("drop-setuid");
    let deb = path_str(deb);
    case.run(&mut case.py(&["--rootfs", deb, "--read-only"], SETUID_1000)).expect(0, "1000 1000\n", "");
    case.run(&mut case.py(&["--rootfs", deb, "--read-only", "--cap-drop", "SETUID"], SETUID_1000)).expect(
        0,
        "error 1 Operation not permitted\n0 0\n",
        "",
    );
    // busybox su, as root (no password asked): the same.
    let bb = path_str(bb);
    let su = "su user -c 'id -u'";
    case.run(&mut case.sh(&["--rootfs", bb], su)).expect(0, "1000\n", "");
    case.run(&mut case.sh(&["--rootfs", bb, "--cap-drop", "SETUID"], su)).expect(
        1,
        "",
        "su: setuid: Operation not permitted\n",
    );
}

/// Starts `sleep` as uid 1000 (busybox su), waits until it runs, and kills it as root.
const KILL_OTHER_UID: &str = r#"
su user -c 'exec sleep 1000' & pid=$!
while [ "$(cat /proc/$pid/comm 2>/dev/null)" != sleep ]; do
    # not kill -0: without CAP_KILL it fails as soon as su has become uid 1000
    case "$(cut -d' ' -f3 /proc/$pid/stat 2>/dev/null)" in Z|'') echo "su ended"; exit 1;; esac
    sleep 0.01
done
grep '^Uid:' /proc/$pid/status
kill $pid; echo kill=$?
"#;

#[test]
fn cap_drop_kill_stops_killing_other_users() {
    let bb = need!("cap_drop_kill_stops_killing_other_users", busybox());
    let case = new_case("drop-kill");
    let bb = path_str(bb);
    let uid = "Uid:\t1000\t1000\t1000\t1000\n";
    let script = format!("{KILL_OTHER_UID}wait $pid 2>/dev/null; echo wait=$?");
    case.run(&mut case.sh(&["--rootfs", bb], &script)).expect(0, &format!("{uid}kill=0\nwait=143\n"), "");
    // Without CAP_KILL the sleep survives the kill; it ends with the container.
    let out = case.run(&mut case.sh(&["--rootfs", bb, "--cap-drop", "KILL"], KILL_OTHER_UID));
    assert!(
        out.status.code() == Some(0)
            && out.stdout == format!("{uid}kill=1\n")
            && out.stderr.starts_with("sh: can't kill pid ")
            && out.stderr.ends_with(": Operation not permitted\n")
            && out.stderr.matches('\n').count() == 1,
        "expected kill=1 and `sh: can't kill pid N: Operation not permitted`\n got {out}"
    );
}

/// As uid 1000 with CAP_SETUID only: become uid 0, then run a program. Without
/// no_new_privs, root's execve would grant the whole bounding set (Docker's default set);
/// with it, nothing beyond what the process already held.
const SETUID_0_THEN_EXEC: &str = r#"
import os, subprocess
os.setuid(0)
print(os.getuid(), os.geteuid(), flush=True)
subprocess.run(['grep', '-E', '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):', '/proc/self/status'], check=True)
"#;

#[test]
fn cap_add_setuid_to_a_user_does_not_lead_to_root_capabilities() {
    let deb = need!("cap_add_setuid_to_a_user_does_not_lead_to_root_capabilities", debian());
    let case = new_case("setuid-0");
    let setuid = caps(&[SETUID]);
    let out = case.run(&mut case.py(
        &["--rootfs", path_str(deb), "--read-only", "-u", "1000", "--cap-add", "SETUID"],
        SETUID_0_THEN_EXEC,
    ));
    out.expect(0, &format!("0 0\n{}", status_lines(setuid, setuid, setuid, docker_default(), setuid)), "");
}
