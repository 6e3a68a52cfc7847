//! Black-box tests of the OCI runtime interface (issue 18): the real static binary, built
//! with `--features oci`, driven as an engine drives runc: `create`, `start`, `state`,
//! `kill`, `delete`, `run`, `exec`, `ps`, `spec`, `features`, over bundles whose config.json
//! each test writes (as runtime-tools' generator would), on the shared busybox tree (always
//! `root.readonly`: tests never write into it). Every test has a state root of its own
//! (`--root`), which must be empty at the end.
#![cfg(feature = "oci")]

mod common;

use common::proc::{HUSK, Outcome};
use common::{need, rootfs};
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One test's bundle and state root under target/tmp/oci/NAME.
struct Bundle {
    dir: PathBuf,
    root: PathBuf,
}

impl Bundle {
    fn new(name: &str, rootfs: &Path, config: serde_json_lite::Value) -> Bundle {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oci").join(name);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let root = dir.join("state");
        let mut config = config;
        config.set(&["root", "path"], serde_json_lite::Value::Str(rootfs.to_str().unwrap().into()));
        fs::write(dir.join("config.json"), config.to_string()).unwrap();
        Bundle { dir, root }
    }

    /// `husk oci --root ROOT ARGS…`.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(HUSK);
        cmd.arg("oci").arg("--root").arg(&self.root).args(args).current_dir(&self.dir);
        cmd.stdin(Stdio::null());
        cmd
    }

    fn oci(&self, args: &[&str]) -> Outcome {
        run(&mut self.cmd(args))
    }

    fn create(&self, id: &str) -> Outcome {
        let pid_file = self.dir.join("pid");
        self.oci(&[
            "create",
            "--bundle",
            self.dir.to_str().unwrap(),
            "--pid-file",
            pid_file.to_str().unwrap(),
            id,
        ])
    }

    fn state(&self, id: &str) -> serde_json_lite::Value {
        let out = self.oci(&["state", id]);
        assert_eq!(out.status.code(), Some(0), "{out}");
        serde_json_lite::parse(&out.stdout)
            .unwrap_or_else(|e| panic!("state is not JSON ({e}): {}", out.stdout))
    }

    fn status(&self, id: &str) -> String {
        self.state(id).get("status").and_then(|s| s.as_str()).unwrap().to_string()
    }

    /// Waits until `id` reports `status`.
    fn wait_status(&self, id: &str, status: &str) {
        let end = Instant::now() + Duration::from_secs(10);
        while self.status(id) != status {
            assert!(Instant::now() < end, "{id} never became {status}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Nothing left in the state root.
    fn assert_empty(&self) {
        let left: Vec<_> = fs::read_dir(&self.root)
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "left in the state root: {left:?}");
    }
}

/// Runs `cmd` with its output in files, not pipes: a created container's init keeps
/// `create`'s stdout and stderr (they are the container's), so a pipe would stay open.
fn run(cmd: &mut Command) -> Outcome {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let what = format!("{cmd:?}");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oci-out");
    fs::create_dir_all(&dir).unwrap();
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (out, err) = (
        dir.join(format!("{}-{n}.out", std::process::id())),
        dir.join(format!("{}-{n}.err", std::process::id())),
    );
    let status = cmd
        .stdout(fs::File::create(&out).unwrap())
        .stderr(fs::File::create(&err).unwrap())
        .status()
        .expect("run husk");
    let read = |p: &Path| {
        let text = fs::read_to_string(p).unwrap_or_default();
        let _ = fs::remove_file(p);
        text
    };
    Outcome { what, status, stdout: read(&out), stderr: read(&err) }
}

/// A config as runtime-tools' generator writes it, with `args`.
fn config(args: &[&str]) -> serde_json_lite::Value {
    let args: Vec<String> = args.iter().map(|a| format!("{a:?}")).collect();
    serde_json_lite::parse(&format!(
        r#"{{
  "ociVersion": "1.0.2",
  "process": {{
    "terminal": false, "user": {{"uid": 0, "gid": 0}}, "args": [{}],
    "env": ["PATH=/bin:/usr/bin", "TERM=xterm"], "cwd": "/",
    "capabilities": {{
      "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID"],
      "effective": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID"],
      "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID"]
    }},
    "rlimits": [{{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 512}}],
    "noNewPrivileges": true
  }},
  "root": {{"path": "rootfs", "readonly": true}},
  "hostname": "oci-test",
  "mounts": [
    {{"destination": "/proc", "type": "proc", "source": "proc"}},
    {{"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}},
    {{"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]}},
    {{"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}},
    {{"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}},
    {{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "size=1m"]}}
  ],
  "linux": {{
    "namespaces": [{{"type": "pid"}}, {{"type": "network"}}, {{"type": "ipc"}}, {{"type": "uts"}}, {{"type": "mount"}}],
    "maskedPaths": ["/proc/kcore", "/proc/timer_list", "/sys/firmware"],
    "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"]
  }}
}}"#,
        args.join(",")
    ))
    .unwrap()
}

fn ready() -> Result<&'static Path, String> {
    rootfs::require_root()?;
    rootfs::busybox()
}

// ---------------------------------------------------------------------------------------
// The lifecycle
// ---------------------------------------------------------------------------------------

#[test]
fn create_start_state_kill_delete() {
    let tree = need!("create_start_state_kill_delete", ready());
    let mut c = config(&["sh", "-c", "echo started > /tmp/x; sleep 60"]);
    // Annotations longer than any line buffer of husk's: shown whole.
    let long = "a\\\"".repeat(3000);
    c.set(&["annotations"], serde_json_lite::parse(&format!(r#"{{"long": "{long}"}}"#)).unwrap());
    let b = Bundle::new("lifecycle", tree, c);
    let created = b.create("c1");
    created.expect(0, "", "");
    let pid: i32 = fs::read_to_string(b.dir.join("pid")).unwrap().trim().parse().unwrap();
    let state = b.state("c1");
    assert_eq!(state.get("status").unwrap().as_str(), Some("created"));
    assert_eq!(state.get("id").unwrap().as_str(), Some("c1"));
    assert_eq!(state.get("pid").unwrap().as_i64(), Some(pid as i64));
    assert_eq!(state.get("bundle").unwrap().as_str(), b.dir.to_str());
    assert!(state.get("ociVersion").is_some() && state.get("created").is_some());
    let shown = state.get("annotations").and_then(|a| a.get("long")).and_then(|v| v.as_str()).unwrap();
    assert_eq!(shown, "a\\\"".repeat(3000).replace("\\\"", "\""));
    // Created: the init waits at the gate, COMMAND has not run.
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    assert_eq!(fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap().trim(), "");
    b.oci(&["start", "c1"]).expect(0, "", "");
    b.wait_status("c1", "running");
    // A second start is refused; so is a delete of a running container.
    assert!(b.oci(&["start", "c1"]).is_refusal());
    assert!(b.oci(&["delete", "c1"]).is_refusal());
    // ps lists the init and COMMAND.
    let ps = b.oci(&["ps", "--format", "json", "c1"]);
    assert!(ps.stdout.starts_with(&format!("[{pid},")), "{ps}");
    b.oci(&["kill", "c1", "KILL"]).expect(0, "", "");
    b.wait_status("c1", "stopped");
    assert_eq!(b.state("c1").get("pid").unwrap().as_i64(), Some(0));
    assert!(b.oci(&["kill", "c1", "TERM"]).is_refusal(), "kill of a stopped container");
    b.oci(&["delete", "c1"]).expect(0, "", "");
    let gone = b.oci(&["state", "c1"]);
    assert!(gone.is_refusal() && gone.stderr.contains("ENOENT"), "{gone}");
    b.assert_empty();
}

#[test]
fn run_passes_the_status_back_and_leaves_nothing() {
    let tree = need!("run_passes_the_status_back_and_leaves_nothing", ready());
    let b = Bundle::new("run", tree, config(&["sh", "-c", "echo out; exit 7"]));
    let out = b.oci(&["run", "--bundle", b.dir.to_str().unwrap(), "r1"]);
    out.expect(7, "out\n", "");
    b.assert_empty();
}

#[test]
fn signals_reach_command_and_delete_force_kills() {
    let tree = need!("signals_reach_command_and_delete_force_kills", ready());
    let script = "trap 'echo got-usr1 > /tmp/u' USR1; trap 'exit 42' TERM; while :; do sleep 0.1; done";
    let b = Bundle::new("signals", tree, config(&["sh", "-c", script]));
    b.create("s1").expect(0, "", "");
    b.oci(&["start", "s1"]).expect(0, "", "");
    b.wait_status("s1", "running");
    std::thread::sleep(Duration::from_millis(200));
    b.oci(&["kill", "s1", "USR1"]).expect(0, "", "");
    let probe = b.oci(&["exec", "s1", "sh", "-c", "sleep 0.3; cat /tmp/u"]);
    assert_eq!(probe.stdout, "got-usr1\n", "{probe}");
    b.oci(&["delete", "--force", "s1"]).expect(0, "", "");
    b.assert_empty();
}

#[test]
fn a_created_container_can_be_deleted_and_its_id_reused() {
    let tree = need!("a_created_container_can_be_deleted_and_its_id_reused", ready());
    let b = Bundle::new("reuse", tree, config(&["true"]));
    b.create("x").expect(0, "", "");
    let again = b.create("x");
    assert!(again.is_refusal() && again.stderr.contains("EEXIST"), "{again}");
    let pid: i32 = fs::read_to_string(b.dir.join("pid")).unwrap().trim().parse().unwrap();
    // Not stopped: delete is an error with no effect, unless forced.
    assert!(b.oci(&["delete", "x"]).is_refusal());
    assert_eq!(b.status("x"), "created");
    b.oci(&["delete", "--force", "x"]).expect(0, "", "");
    // The init is gone (a zombie until its reaper, the test's own PID 1, takes it).
    let end = Instant::now() + Duration::from_secs(5);
    while fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z")) {
        assert!(Instant::now() < end, "the created init survived delete");
        std::thread::sleep(Duration::from_millis(10));
    }
    b.create("x").expect(0, "", "");
    b.oci(&["delete", "--force", "x"]).expect(0, "", "");
    b.assert_empty();
}

// ---------------------------------------------------------------------------------------
// config.json, as the container sees it
// ---------------------------------------------------------------------------------------

#[test]
fn the_process_is_what_config_json_says() {
    let tree = need!("the_process_is_what_config_json_says", ready());
    let script = "echo env=$(tr '\\0' '\\n' < /proc/$$/environ | sort | tr '\\n' ' '); echo cwd=$(pwd); echo id=$(id); \
                  grep -E '^Cap(Eff|Bnd|Amb)' /proc/self/status | tr -s '\\t ' ' '; echo nofile=$(ulimit -Sn)/$(ulimit -Hn); \
                  echo host=$(hostname); echo umask=$(umask); grep NoNewPrivs /proc/self/status";
    let mut c = config(&["sh", "-c", script]);
    c.set(&["process", "cwd"], serde_json_lite::Value::Str("/tmp".into()));
    c.set(
        &["process", "user"],
        serde_json_lite::parse(r#"{"uid": 1000, "gid": 1000, "umask": 63, "additionalGids": [5, 7]}"#)
            .unwrap(),
    );
    c.set(&["process", "env"], serde_json_lite::parse(r#"["PATH=/bin", "A=1"]"#).unwrap());
    c.set(
        &["process", "capabilities", "ambient"],
        serde_json_lite::parse(r#"["CAP_NET_BIND_SERVICE"]"#).unwrap(),
    );
    c.set(
        &["process", "capabilities", "inheritable"],
        serde_json_lite::parse(r#"["CAP_NET_BIND_SERVICE"]"#).unwrap(),
    );
    let b = Bundle::new("process", tree, c);
    let out = b.oci(&["run", "p1"]);
    assert_eq!(out.status.code(), Some(0), "{out}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    // Exactly the config's environment: nothing of husk's own defaults (HOME, HOSTNAME).
    assert_eq!(lines[0], "env=A=1 PATH=/bin", "{out}");
    assert_eq!(lines[1], "cwd=/tmp");
    assert_eq!(lines[2], "id=uid=1000(user) gid=1000(user) groups=5,7", "{out}");
    assert_eq!(lines[3], "CapEff: 0000000000000400", "{out}");
    assert_eq!(lines[4], "CapBnd: 00000000000004e1", "{out}");
    assert_eq!(lines[5], "CapAmb: 0000000000000400", "{out}");
    assert_eq!(lines[6], "nofile=512/1024");
    assert_eq!(lines[7], "host=oci-test");
    assert_eq!(lines[8], "umask=0077");
    assert!(lines[9].ends_with('1'), "{out}");
}

#[test]
fn mounts_masks_and_readonly_paths() {
    let tree = need!("mounts_masks_and_readonly_paths", ready());
    let host_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oci").join("mounts-src");
    let _ = fs::remove_dir_all(&host_dir);
    fs::create_dir_all(&host_dir).unwrap();
    fs::write(host_dir.join("f"), "from-host\n").unwrap();
    let script = "cat /mnt/f; echo x > /mnt/g 2>/dev/null && echo wrote || echo ro; \
                  wc -c < /proc/timer_list; ls /sys/firmware | wc -l; echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo sys-rw || echo sys-ro; \
                  grep ' /tmp ' /proc/self/mountinfo | grep -o 'size=[0-9]*k'; touch /etc/x 2>/dev/null && echo root-rw || echo root-ro; \
                  cat /proc/sys/net/ipv4/ip_forward";
    let mut c = config(&["sh", "-c", script]);
    let mounts = c.get_mut(&["mounts"]).unwrap();
    mounts.push(
        serde_json_lite::parse(&format!(
            r#"{{"destination": "/mnt", "type": "bind", "source": {:?}, "options": ["rbind", "ro"]}}"#,
            host_dir.to_str().unwrap()
        ))
        .unwrap(),
    );
    c.set(&["linux", "sysctl"], serde_json_lite::parse(r#"{"net.ipv4.ip_forward": "1"}"#).unwrap());
    let b = Bundle::new("mounts", tree, c);
    let out = b.oci(&["run", "m1"]);
    assert_eq!(out.status.code(), Some(0), "{out}");
    assert_eq!(out.stdout, "from-host\nro\n0\n0\nsys-ro\nsize=1024k\nroot-ro\n1\n", "{out}");
    assert!(!host_dir.join("g").exists());
}

#[test]
fn devices_and_a_uts_namespace_left_out() {
    let tree = need!("devices_and_a_uts_namespace_left_out", ready());
    let mut c = config(&[
        "sh",
        "-c",
        "ls -ln /dev/fuse2 | cut -c1-10; stat -c '%t %T %u %g' /dev/fuse2; hostname; \
                                      echo x > /dev/null2 && head -c 3 /dev/zero2 | wc -c",
    ]);
    c.set(&["linux", "devices"], serde_json_lite::parse(
        r#"[{"path": "/dev/fuse2", "type": "c", "major": 10, "minor": 229, "fileMode": 432, "uid": 5, "gid": 6},
            {"path": "/dev/null2", "type": "c", "major": 1, "minor": 3}, {"path": "/dev/zero2", "type": "c", "major": 1, "minor": 5}]"#).unwrap());
    c.set(
        &["linux", "namespaces"],
        serde_json_lite::parse(r#"[{"type": "pid"}, {"type": "mount"}, {"type": "network"}]"#).unwrap(),
    );
    c.remove(&["hostname"]);
    let b = Bundle::new("devices", tree, c);
    let out = b.oci(&["run", "d1"]);
    let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    // (The nodes work: /dev is nodev, each of them a mount of its own.)
    assert_eq!(out.stdout, format!("crw-rw----\na e5 5 6\n{host}3\n"), "{out}");
}

#[test]
fn hooks_run_in_order_with_the_state_on_stdin() {
    let tree = need!("hooks_run_in_order_with_the_state_on_stdin", ready());
    let b_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oci").join("hooks-log");
    let _ = fs::remove_dir_all(&b_dir);
    fs::create_dir_all(&b_dir).unwrap();
    let log = b_dir.join("log");
    let hook = |point: &str| {
        format!(
            r#"[{{"path": "/bin/sh", "args": ["sh", "-c", "read -r state; echo {point} \"$state\" >> {}"]}}]"#,
            log.to_str().unwrap()
        )
    };
    let mut c = config(&["true"]);
    for point in ["prestart", "createRuntime", "poststart", "poststop"] {
        c.set(&["hooks", point], serde_json_lite::parse(&hook(point)).unwrap());
    }
    c.set(&["annotations"], serde_json_lite::parse(r#"{"org.test": "yes"}"#).unwrap());
    let b = Bundle::new("hooks", tree, c);
    b.create("h1").expect(0, "", "");
    b.oci(&["start", "h1"]).expect(0, "", "");
    b.wait_status("h1", "stopped");
    b.oci(&["delete", "h1"]).expect(0, "", "");
    let text = fs::read_to_string(&log).unwrap();
    let points: Vec<&str> = text.lines().map(|l| l.split(' ').next().unwrap()).collect();
    // createRuntime at create; prestart at start, before COMMAND; poststart once it runs.
    assert_eq!(points, ["createRuntime", "prestart", "poststart", "poststop"], "{text}");
    for line in text.lines() {
        let state = serde_json_lite::parse(line.split_once(' ').unwrap().1).unwrap();
        assert_eq!(state.get("id").unwrap().as_str(), Some("h1"), "{line}");
        assert_eq!(
            state.get("annotations").unwrap().get("org.test").unwrap().as_str(),
            Some("yes"),
            "{line}"
        );
    }
    b.assert_empty();
}

#[test]
fn failing_hooks_fail_their_step_and_leave_nothing() {
    let tree = need!("failing_hooks_fail_their_step_and_leave_nothing", ready());
    // createRuntime fails create: nothing is left.
    let mut c = config(&["true"]);
    c.set(&["hooks", "createRuntime"], serde_json_lite::parse(r#"[{"path": "/bin/false"}]"#).unwrap());
    let b = Bundle::new("hook-fails", tree, c);
    let out = b.create("f1");
    assert_eq!(out.status.code(), Some(125), "{out}");
    assert!(out.stderr.contains("hook createRuntime"), "{out}");
    b.assert_empty();
    // prestart fails start: COMMAND never runs, the container is stopped and deleted.
    let mut c = config(&["sh", "-c", "echo ran > /dev/shm/x; sleep 5"]);
    c.set(&["hooks", "prestart"], serde_json_lite::parse(r#"[{"path": "/bin/false"}]"#).unwrap());
    let b = Bundle::new("hook-fails-start", tree, c);
    b.create("f2").expect(0, "", "");
    let pid: i32 = fs::read_to_string(b.dir.join("pid")).unwrap().trim().parse().unwrap();
    let out = b.oci(&["start", "f2"]);
    assert!(out.is_refusal() && out.stderr.contains("hook prestart"), "{out}");
    assert!(
        fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z"))
            || !Path::new(&format!("/proc/{pid}")).exists()
    );
    assert!(b.oci(&["state", "f2"]).is_refusal());
    b.assert_empty();
    // A failing poststart hook is a warning: the next one runs, and so does COMMAND.
    let log = b.dir.join("post.log");
    let mut c = config(&["true"]);
    let hooks = format!(
        r#"[{{"path": "/bin/false"}}, {{"path": "/bin/sh", "args": ["sh", "-c", "echo second > {}"]}}]"#,
        log.display()
    );
    c.set(&["hooks", "poststart"], serde_json_lite::parse(&hooks).unwrap());
    let b = Bundle::new("hook-warns", tree, c);
    b.create("f3").expect(0, "", "");
    let out = b.oci(&["start", "f3"]);
    assert_eq!(out.status.code(), Some(0), "{out}");
    assert!(out.stderr.contains("warning"), "{out}");
    assert_eq!(fs::read_to_string(&log).unwrap(), "second\n");
    b.wait_status("f3", "stopped");
    b.oci(&["delete", "f3"]).expect(0, "", "");
}

// ---------------------------------------------------------------------------------------
// Mistakes: one line, 125, nothing made
// ---------------------------------------------------------------------------------------

#[test]
fn bad_configs_name_their_json_path() {
    let tree = need!("bad_configs_name_their_json_path", ready());
    type Change = fn(&mut serde_json_lite::Value);
    let cases: [(&str, Change, &str); 7] = [
        ("args", |c| c.set(&["process", "args"], serde_json_lite::parse("[]").unwrap()), "process.args"),
        ("cwd", |c| c.set(&["process", "cwd"], serde_json_lite::Value::Str("tmp".into())), "process.cwd"),
        (
            "cap",
            |c| {
                c.set(
                    &["process", "capabilities", "bounding"],
                    serde_json_lite::parse(r#"["CAP_NOPE"]"#).unwrap(),
                )
            },
            "process.capabilities.bounding",
        ),
        (
            "rlimit",
            |c| {
                c.set(
                    &["process", "rlimits"],
                    serde_json_lite::parse(r#"[{"type": "RLIMIT_NOPE", "soft": 1, "hard": 1}]"#).unwrap(),
                )
            },
            "process.rlimits",
        ),
        (
            "mount",
            |c| {
                c.get_mut(&["mounts"])
                    .unwrap()
                    .push(serde_json_lite::parse(r#"{"destination": "/a/../b", "type": "tmpfs"}"#).unwrap())
            },
            "mounts[6].destination",
        ),
        (
            "ns",
            |c| c.set(&["linux", "namespaces"], serde_json_lite::parse(r#"[{"type": "mount"}]"#).unwrap()),
            "linux.namespaces",
        ),
        (
            "limits",
            |c| {
                c.set(
                    &["linux", "resources"],
                    serde_json_lite::parse(r#"{"rdma": {"mlx5_0": {"hcaHandles": 1}}}"#).unwrap(),
                )
            },
            "linux.resources.rdma",
        ),
    ];
    for (name, change, path) in cases {
        let mut c = config(&["true"]);
        change(&mut c);
        let b = Bundle::new(&format!("bad-{name}"), tree, c);
        let out = b.create("bad");
        assert!(out.is_refusal(), "{name}: {out}");
        assert!(out.stderr.starts_with(&format!("husk: config.json {path}:")), "{name}: {out}");
        b.assert_empty();
    }
    // Not JSON at all.
    let b = Bundle::new("bad-json", tree, config(&["true"]));
    fs::write(b.dir.join("config.json"), "{\"ociVersion\": ").unwrap();
    let out = b.create("bad");
    assert!(out.is_refusal() && out.stderr.contains("not JSON"), "{out}");
    b.assert_empty();
}

#[test]
fn ids_and_the_state_root_are_checked() {
    let tree = need!("ids_and_the_state_root_are_checked", ready());
    let b = Bundle::new("ids", tree, config(&["true"]));
    for id in ["../x", "a/b", ".hidden", ""] {
        let out = b.oci(&["create", "--bundle", b.dir.to_str().unwrap(), id]);
        assert_eq!(out.status.code(), Some(125), "{id}: {out}");
    }
    // A state root others may write into could hold a forged record: refused.
    fs::create_dir_all(&b.root).unwrap();
    fs::set_permissions(&b.root, fs::Permissions::from_mode(0o777)).unwrap();
    let out = b.create("ok");
    assert!(out.is_refusal() && out.stderr.contains("state root"), "{out}");
    fs::set_permissions(&b.root, fs::Permissions::from_mode(0o700)).unwrap();
    b.assert_empty();
}

// ---------------------------------------------------------------------------------------
// What the container can reach
// ---------------------------------------------------------------------------------------

#[test]
fn the_container_holds_no_descriptor_of_husks() {
    let tree = need!("the_container_holds_no_descriptor_of_husks", ready());
    // COMMAND's own descriptors, and what it can see of its PID 1's.
    let script = "ls /proc/self/fd | sort -n | tr '\\n' ' '; echo; ls /proc/1/fd | sort -n | tr '\\n' ' '; echo; \
                  readlink /proc/1/fd/0 || echo denied; ls /proc/1/root >/dev/null 2>&1 || echo denied";
    let b = Bundle::new("fds", tree, config(&["sh", "-c", script]));
    // Created and started (the gate's FIFOs, the console socket path): PID 1 holds stdio alone.
    let mut c = config(&["sleep", "30"]);
    c.set(&["process", "args"], serde_json_lite::parse(r#"["sleep", "30"]"#).unwrap());
    let held = Bundle::new("fds-held", tree, c);
    held.create("f").expect(0, "", "");
    held.oci(&["start", "f"]).expect(0, "", "");
    let init_fds = held.oci(&[
        "exec",
        "f",
        "sh",
        "-c",
        "ls /proc/1/fd | sort -n | tr '\\n' ' '; ls /proc/2/fd | sort -n | tr '\\n' ' '",
    ]);
    assert_eq!(init_fds.stdout, "0 1 2 0 1 2 ", "{init_fds}");
    held.oci(&["delete", "--force", "f"]).expect(0, "", "");
    let out = b.oci(&["run", "f2"]);
    // ls's own directory is 3; PID 1 holds stdio alone, and none of it can be followed.
    assert_eq!(out.stdout, "0 1 2 3 \n0 1 2 \ndenied\ndenied\n", "{out}");
}

#[test]
fn a_terminal_goes_to_the_console_socket() {
    let tree = need!("a_terminal_goes_to_the_console_socket", ready());
    let mut c = config(&["sh"]);
    c.set(&["process", "terminal"], serde_json_lite::Value::Bool(true));
    c.set(&["process", "consoleSize"], serde_json_lite::parse(r#"{"height": 30, "width": 100}"#).unwrap());
    let b = Bundle::new("terminal", tree, c);
    // The engine's side, as conmon does it: listen, run create, take the master from the
    // socket (SCM_RIGHTS: Python, since std has no recvmsg), start, talk to the shell.
    let engine = r#"
import array, os, select, socket, subprocess, sys, time
husk, root, sock = sys.argv[1:4]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); srv.bind(sock); srv.listen(1)
create = subprocess.Popen([husk, "oci", "--root", root, "create", "--console-socket", sock, "t"])
conn, _ = srv.accept()
fds = array.array("i")
_, anc, _, _ = conn.recvmsg(16, socket.CMSG_LEN(fds.itemsize))
fds.frombytes(anc[0][2][:fds.itemsize])
print("create", create.wait(), anc[0][0] == socket.SOL_SOCKET and anc[0][1] == socket.SCM_RIGHTS)
subprocess.run([husk, "oci", "--root", root, "start", "t"], check=True)
os.write(fds[0], b"tty; stty size; exit 3\n")
out, end = b"", time.time() + 10
while time.time() < end:
    if select.select([fds[0]], [], [], 0.5)[0]:
        try:
            data = os.read(fds[0], 4096)
        except OSError:
            break
        if not data:
            break
        out += data
print(out.decode(errors="replace"))
"#;
    let out = run(Command::new("python3")
        .args(["-c", engine, HUSK, b.root.to_str().unwrap(), b.dir.join("console.sock").to_str().unwrap()])
        .current_dir(&b.dir));
    assert!(out.stdout.starts_with("create 0 True\n"), "{out}");
    assert!(out.stdout.contains("/dev/pts/0") && out.stdout.contains("30 100"), "{out}");
    b.wait_status("t", "stopped");
    b.oci(&["delete", "t"]).expect(0, "", "");
    b.assert_empty();
}

#[test]
fn exec_runs_a_process_file_and_detaches() {
    let tree = need!("exec_runs_a_process_file_and_detaches", ready());
    let b = Bundle::new("exec", tree, config(&["sleep", "60"]));
    b.create("e").expect(0, "", "");
    b.oci(&["start", "e"]).expect(0, "", "");
    let process = b.dir.join("process.json");
    fs::write(&process, r#"{"args": ["sh", "-c", "id; echo $FOO; pwd; exit 5"], "env": ["FOO=bar"], "cwd": "/tmp", "user": {"uid": 1000, "gid": 1000}}"#).unwrap();
    b.oci(&["exec", "--process", process.to_str().unwrap(), "e"]).expect(
        5,
        "uid=1000(user) gid=1000(user)\nbar\n/tmp\n",
        "",
    );
    let pid_file = b.dir.join("exec.pid");
    b.oci(&["exec", "--detach", "--pid-file", pid_file.to_str().unwrap(), "e", "sleep", "30"])
        .expect(0, "", "");
    let pid: i32 = fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    let cmdline = fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap();
    assert_eq!(cmdline, "husk\0exec\0--\0sleep\x0030\0");
    b.oci(&["delete", "--force", "e"]).expect(0, "", "");
    b.assert_empty();
}

#[test]
fn spec_features_and_the_runtime_names() {
    let tree = need!("spec_features_and_the_runtime_names", ready());
    let b = Bundle::new("spec", tree, config(&["true"]));
    fs::remove_file(b.dir.join("config.json")).unwrap();
    b.oci(&["spec"]).expect(0, "", "");
    let spec = serde_json_lite::parse(&fs::read_to_string(b.dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(spec.get("root").unwrap().get("path").unwrap().as_str(), Some("rootfs"));
    assert!(b.oci(&["spec"]).is_refusal(), "spec over an existing config.json");
    let features = b.oci(&["features"]);
    let features = serde_json_lite::parse(&features.stdout).unwrap();
    assert_eq!(features.get("ociVersionMax").unwrap().as_str(), Some("1.2.0"));
    // Invoked as runc or crun, husk is the OCI runtime, `run` and `kill` included.
    let link = b.dir.join("runc");
    std::os::unix::fs::symlink(HUSK, &link).unwrap();
    let out = run(Command::new(&link).arg("--version"));
    assert!(out.stdout.contains("spec: 1.2.0"), "{out}");
    // husk's own `run` is unchanged under its own name.
    let own = run(Command::new(HUSK).args([
        "run",
        "--rootfs",
        tree.to_str().unwrap(),
        "--read-only",
        "--",
        "true",
    ]));
    own.expect(0, "", "");
}

/// A JSON reader and writer just big enough for these tests (no crates: the project's
/// design card).
mod serde_json_lite {
    #[derive(Clone, Debug, PartialEq)]
    pub enum Value {
        Null,
        Bool(bool),
        Num(f64),
        Str(String),
        Arr(Vec<Value>),
        Obj(Vec<(String, Value)>),
    }

    impl Value {
        pub fn get(&self, key: &str) -> Option<&Value> {
            match self {
                Value::Obj(m) => m.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
                _ => None,
            }
        }
        pub fn as_str(&self) -> Option<&str> {
            if let Value::Str(s) = self { Some(s) } else { None }
        }
        pub fn as_i64(&self) -> Option<i64> {
            if let Value::Num(n) = self { Some(*n as i64) } else { None }
        }
        pub fn get_mut(&mut self, path: &[&str]) -> Option<&mut Vec<Value>> {
            let mut v = self;
            for k in path {
                v = match v {
                    Value::Obj(m) => &mut m.iter_mut().find(|(key, _)| key == k)?.1,
                    _ => return None,
                };
            }
            if let Value::Arr(a) = v { Some(a) } else { None }
        }
        pub fn set(&mut self, path: &[&str], value: Value) {
            let Value::Obj(m) = self else { panic!("not an object") };
            let (first, rest) = path.split_first().unwrap();
            let slot = match m.iter().position(|(k, _)| k == first) {
                Some(i) => &mut m[i].1,
                None => {
                    m.push((first.to_string(), Value::Obj(vec![])));
                    &mut m.last_mut().unwrap().1
                }
            };
            if rest.is_empty() { *slot = value } else { slot.set(rest, value) }
        }
        pub fn remove(&mut self, path: &[&str]) {
            if let Value::Obj(m) = self {
                m.retain(|(k, _)| k != path[0]);
            }
        }
    }

    impl std::fmt::Display for Value {
        fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            match self {
                Value::Null => write!(f, "null"),
                Value::Bool(b) => write!(f, "{b}"),
                Value::Num(n) => write!(f, "{n}"),
                Value::Str(s) => write!(f, "{s:?}"),
                Value::Arr(a) => {
                    write!(f, "[")?;
                    for (i, v) in a.iter().enumerate() {
                        write!(f, "{}{v}", if i > 0 { "," } else { "" })?;
                    }
                    write!(f, "]")
                }
                Value::Obj(m) => {
                    write!(f, "{{")?;
                    for (i, (k, v)) in m.iter().enumerate() {
                        write!(f, "{}{k:?}:{v}", if i > 0 { "," } else { "" })?;
                    }
                    write!(f, "}}")
                }
            }
        }
    }

    pub fn parse(text: &str) -> Result<Value, String> {
        let b = text.as_bytes();
        let mut i = 0;
        let v = value(b, &mut i)?;
        ws(b, &mut i);
        if i != b.len() { Err(format!("trailing bytes at {i}")) } else { Ok(v) }
    }

    fn ws(b: &[u8], i: &mut usize) {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    }

    fn value(b: &[u8], i: &mut usize) -> Result<Value, String> {
        ws(b, i);
        let c = *b.get(*i).ok_or("end")?;
        match c {
            b'{' => {
                *i += 1;
                let mut m = vec![];
                loop {
                    ws(b, i);
                    if b.get(*i) == Some(&b'}') {
                        *i += 1;
                        return Ok(Value::Obj(m));
                    }
                    let Value::Str(k) = value(b, i)? else { return Err("key".into()) };
                    ws(b, i);
                    if b.get(*i) != Some(&b':') {
                        return Err(format!("colon at {i}"));
                    }
                    *i += 1;
                    m.push((k, value(b, i)?));
                    ws(b, i);
                    if b.get(*i) == Some(&b',') {
                        *i += 1;
                    }
                }
            }
            b'[' => {
                *i += 1;
                let mut a = vec![];
                loop {
                    ws(b, i);
                    if b.get(*i) == Some(&b']') {
                        *i += 1;
                        return Ok(Value::Arr(a));
                    }
                    a.push(value(b, i)?);
                    ws(b, i);
                    if b.get(*i) == Some(&b',') {
                        *i += 1;
                    }
                }
            }
            b'"' => {
                *i += 1;
                let mut s = String::new();
                while b[*i] != b'"' {
                    if b[*i] == b'\\' {
                        *i += 1;
                        match b[*i] {
                            b'n' => s.push('\n'),
                            b't' => s.push('\t'),
                            b'u' => {
                                let code =
                                    u32::from_str_radix(std::str::from_utf8(&b[*i + 1..*i + 5]).unwrap(), 16)
                                        .unwrap();
                                s.push(char::from_u32(code).unwrap_or('?'));
                                *i += 4;
                            }
                            c => s.push(c as char),
                        }
                        *i += 1;
                    } else {
                        let start = *i;
                        while b[*i] != b'"' && b[*i] != b'\\' {
                            *i += 1;
                        }
                        s.push_str(std::str::from_utf8(&b[start..*i]).unwrap());
                    }
                }
                *i += 1;
                Ok(Value::Str(s))
            }
            b't' => {
                *i += 4;
                Ok(Value::Bool(true))
            }
            b'f' => {
                *i += 5;
                Ok(Value::Bool(false))
            }
            b'n' => {
                *i += 4;
                Ok(Value::Null)
            }
            _ => {
                let start = *i;
                while *i < b.len() && matches!(b[*i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
                    *i += 1;
                }
                std::str::from_utf8(&b[start..*i])
                    .unwrap()
                    .parse()
                    .map(Value::Num)
                    .map_err(|e| format!("{e} at {start}"))
            }
        }
    }
}

#[test]
fn the_seccomp_profile_holds_for_command_and_exec() {
    let tree = need!("the_seccomp_profile_holds_for_command_and_exec", ready());
    let mut c = config(&["sh", "-c", "mkdir /tmp/a 2>&1; sleep 30"]);
    c.set(
        &["linux", "seccomp"],
        serde_json_lite::parse(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}"#,
        )
        .unwrap(),
    );
    let b = Bundle::new("seccomp", tree, c);
    b.create("sc").expect(0, "", "");
    b.oci(&["start", "sc"]).expect(0, "", "");
    let exec =
        b.oci(&["exec", "sc", "sh", "-c", "mkdir /tmp/b || echo refused; grep Seccomp: /proc/self/status"]);
    assert_eq!(exec.stdout, "refused\nSeccomp:\t2\n", "{exec}");
    assert!(exec.stderr.contains("Permission denied"), "{exec}");
    b.oci(&["delete", "--force", "sc"]).expect(0, "", "");
    // A profile husk cannot honour names its place.
    let mut c = config(&["true"]);
    c.set(&["linux", "seccomp"], serde_json_lite::parse(r#"{"defaultAction": "SCMP_ACT_NOPE"}"#).unwrap());
    let b = Bundle::new("seccomp-bad", tree, c);
    let out = b.create("sb");
    assert!(
        out.is_refusal() && out.stderr.starts_with("husk: config.json linux.seccomp.defaultAction:"),
        "{out}"
    );
    b.assert_empty();
}

// ---------------------------------------------------------------------------------------
// podman, with husk as its runtime
// ---------------------------------------------------------------------------------------

/// podman (Debian's 4.3) running its containers with husk: `--runtime` names a symlink called
/// `crun`, since podman allows `--cgroups=disabled` (this hybrid host's v2 has no
/// controllers) only for runtimes it knows by that name; the ulimits because this VM's
/// bounding set lacks CAP_SYS_RESOURCE. The image is the busybox fixture, imported.
#[test]
fn podman_runs_its_containers_with_husk() {
    let tree = need!("podman_runs_its_containers_with_husk", ready());
    let podman = need!("podman_runs_its_containers_with_husk", common::tool("podman", "podman"));
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oci").join("podman");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("bin")).unwrap();
    std::os::unix::fs::symlink(HUSK, dir.join("bin/crun")).unwrap();
    let runtime = dir.join("bin/crun");
    let image = format!("localhost/husk-oci-test-{}", std::process::id());
    let tar = run(Command::new("sh")
        .args(["-c", &format!("tar -C {} -c . | {} import - {image}", tree.display(), podman.display())]));
    assert_eq!(tar.status.code(), Some(0), "{tar}");
    let podman_cmd = |args: &[&str]| {
        let mut cmd = Command::new(&podman);
        cmd.arg("--runtime").arg(&runtime).args(args);
        cmd
    };
    let opts = ["--cgroups=disabled", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];
    let run_args = |extra: &[&str], command: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec!["run".into(), "--rm".into()];
        v.extend(opts.iter().map(|s| s.to_string()));
        v.extend(extra.iter().map(|s| s.to_string()));
        v.push(image.clone());
        v.extend(command.iter().map(|s| s.to_string()));
        v
    };
    let pod = |extra: &[&str], command: &[&str]| {
        let args = run_args(extra, command);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&mut podman_cmd(&args))
    };
    // Exit codes, environment, directory, user, hostname.
    assert_eq!(pod(&[], &["sh", "-c", "exit 7"]).status.code(), Some(7));
    let out = pod(
        &["-e", "FOO=bar", "-w", "/tmp", "-u", "1000:1000", "--hostname", "hh"],
        &["sh", "-c", "echo $FOO; pwd; id -u; hostname"],
    );
    assert_eq!(out.stdout, "bar\n/tmp\n1000\nhh\n", "{out}");
    // husk is PID 1, podman's init under it with --init.
    let out = pod(&["--init"], &["ps", "-o", "comm"]);
    assert_eq!(out.stdout, "COMMAND\nhusk\npodman-init\nps\n", "{out}");
    // --read-only (tmpfs /run and /tmp with tmpcopyup), volumes ro and rw, --cap-drop all.
    let vol = dir.join("vol");
    fs::create_dir_all(&vol).unwrap();
    fs::write(vol.join("f"), "data\n").unwrap();
    let ro = format!("{}:/v:ro", vol.display());
    let out = pod(
        &["--read-only", "-v", &ro, "--cap-drop", "all"],
        &[
            "sh",
            "-c",
            "cat /v/f; touch /x 2>/dev/null || echo root-ro; touch /v/g 2>/dev/null || echo vol-ro; touch /tmp/t && echo tmp-rw; grep CapEff /proc/self/status",
        ],
    );
    assert_eq!(out.stdout, "data\nroot-ro\nvol-ro\ntmp-rw\nCapEff:\t0000000000000000\n", "{out}");
    // -i: stdin passes through.
    let mut cmd = podman_cmd(&run_args(&["-i"], &["cat"]).iter().map(String::as_str).collect::<Vec<_>>());
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"through stdin\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "through stdin\n");
    // -d, exec (status, -u, -e, -w), logs, kill -s, stop past an ignored SIGTERM, rm.
    let name = format!("husk-oci-{}", std::process::id());
    let mut detached = vec!["run", "-d", "--name", &name];
    detached.extend(opts);
    detached.extend([image.as_str(), "sh", "-c", "trap '' TERM; echo started; while :; do sleep 0.1; done"]);
    assert_eq!(run(&mut podman_cmd(&detached)).status.code(), Some(0));
    let exec = run(&mut podman_cmd(&[
        "exec",
        "-u",
        "1000",
        "-e",
        "A=1",
        "-w",
        "/tmp",
        &name,
        "sh",
        "-c",
        "echo $A $(id -u) $(pwd); exit 3",
    ]));
    assert_eq!((exec.status.code(), exec.stdout.as_str()), (Some(3), "1 1000 /tmp\n"), "{exec}");
    let logs = run(&mut podman_cmd(&["logs", &name]));
    assert_eq!(logs.stdout, "started\n", "{logs}");
    let start = Instant::now();
    let stop = run(&mut podman_cmd(&["stop", "-t", "1", &name]));
    assert_eq!(stop.status.code(), Some(0), "{stop}");
    assert!(start.elapsed() >= Duration::from_millis(900), "SIGTERM was not ignored");
    let status = run(&mut podman_cmd(&["inspect", "--format", "{{.State.ExitCode}}", &name]));
    assert_eq!(status.stdout.trim(), "137", "{status}");
    run(&mut podman_cmd(&["rm", &name])).expect(0, &format!("{name}\n"), "");
    let _ = run(&mut podman_cmd(&["rmi", &image]));
}

/// containerd (Debian's 1.6), a daemon of the test's own, its runc shim pointed at husk
/// (`ctr run --runc-binary`): an imported image run (its status back), and a detached task
/// with an exec, a kill and a delete. The image is the busybox fixture, imported into podman
/// and saved as a docker archive.
#[test]
fn containerd_runs_its_tasks_with_husk() {
    let tree = need!("containerd_runs_its_tasks_with_husk", ready());
    let podman = need!("containerd_runs_its_tasks_with_husk", common::tool("podman", "podman"));
    let containerd = need!("containerd_runs_its_tasks_with_husk", common::tool("containerd", "containerd"));
    let ctr = need!("containerd_runs_its_tasks_with_husk", common::tool("ctr", "containerd"));
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oci").join("containerd");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("bin")).unwrap();
    let runtime = dir.join("bin/husk-oci");
    std::os::unix::fs::symlink(HUSK, &runtime).unwrap();
    let socket = dir.join("containerd.sock");
    fs::write(
        dir.join("config.toml"),
        format!(
            "version = 2\nroot = \"{0}/root\"\nstate = \"{0}/state\"\n[grpc]\n  address = \"{1}\"\n",
            dir.display(),
            socket.display()
        ),
    )
    .unwrap();
    let log = fs::File::create(dir.join("containerd.log")).unwrap();
    let mut daemon = Command::new(&containerd)
        .arg("--config")
        .arg(dir.join("config.toml"))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let end = Instant::now() + Duration::from_secs(20);
    while !socket.exists() {
        assert!(Instant::now() < end, "containerd did not start");
        assert!(daemon.try_wait().unwrap().is_none(), "containerd ended");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _daemon = Kill(daemon);
    let image = format!("localhost/husk-ctr-test-{}", std::process::id());
    let archive = dir.join("image.tar");
    let made = run(Command::new("sh").args([
        "-c",
        &format!(
            "tar -C {} -c . | {p} import - {image} >/dev/null && {p} save --format docker-archive -o {} {image} && {p} rmi {image}",
            tree.display(),
            archive.display(),
            p = podman.display()
        ),
    ]));
    assert_eq!(made.status.code(), Some(0), "{made}");
    let ctr_cmd = |args: &[&str]| {
        let mut cmd = Command::new(&ctr);
        cmd.arg("-a").arg(&socket).args(args);
        cmd
    };
    let import = run(&mut ctr_cmd(&["image", "import", archive.to_str().unwrap()]));
    assert_eq!(import.status.code(), Some(0), "{import}");
    let tag = format!("{image}:latest");
    let rt = runtime.to_str().unwrap();
    let out = run(&mut ctr_cmd(&[
        "run",
        "--rm",
        "--runc-binary",
        rt,
        &tag,
        "t1",
        "sh",
        "-c",
        "echo hello; exit 3",
    ]));
    assert_eq!((out.status.code(), out.stdout.as_str()), (Some(3), "hello\n"), "{out}");
    let script = "trap 'exit 5' TERM; while :; do sleep 0.1; done";
    run(&mut ctr_cmd(&["run", "-d", "--runc-binary", rt, &tag, "t2", "sh", "-c", script])).expect(0, "", "");
    let exec = run(&mut ctr_cmd(&[
        "task",
        "exec",
        "--exec-id",
        "e1",
        "t2",
        "sh",
        "-c",
        "ps -o comm | head -3; exit 4",
    ]));
    assert_eq!((exec.status.code(), exec.stdout.as_str()), (Some(4), "COMMAND\nhusk\nsh\n"), "{exec}");
    run(&mut ctr_cmd(&["task", "kill", "t2"])).expect(0, "", "");
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let ls = run(&mut ctr_cmd(&["task", "ls"]));
        if ls.stdout.lines().any(|l| l.starts_with("t2") && l.contains("STOPPED")) {
            break;
        }
        assert!(Instant::now() < end, "t2 did not stop: {ls}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // (ctr says the status of what it deletes: the trap's.)
    let deleted = run(&mut ctr_cmd(&["task", "delete", "t2"]));
    assert!(deleted.status.success() && deleted.stderr.contains("exit code 5"), "{deleted}");
    run(&mut ctr_cmd(&["container", "delete", "t2"])).expect(0, "", "");
    let _ = run(&mut ctr_cmd(&["image", "rm", &tag]));
}

#[test]
fn errors_go_to_the_log_as_json_lines() {
    let tree = need!("errors_go_to_the_log_as_json_lines", ready());
    let b = Bundle::new("log", tree, config(&["true"]));
    let log = b.dir.join("log.json");
    let out = b.oci(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "create",
        "--bundle",
        "/nonexistent",
        "x",
    ]);
    assert!(out.is_refusal(), "{out}");
    let text = fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    let entry = serde_json_lite::parse(text.trim_end()).unwrap();
    assert_eq!(entry.get("level").unwrap().as_str(), Some("error"));
    assert_eq!(entry.get("msg").unwrap().as_str(), Some(out.stderr.trim_end()));
    assert!(entry.get("time").unwrap().as_str().unwrap().ends_with('Z'));
    b.assert_empty();
}
// cgroups: where linux.cgroupsPath says, with linux.resources (oci/cgroups.rs)
// ---------------------------------------------------------------------------------------

/// A v1 pids hierarchy at /sys/fs/cgroup/pids (this host's hybrid layout), or why not.
fn pids_v1() -> Result<(), String> {
    let root = Path::new("/sys/fs/cgroup/pids/cgroup.procs");
    if root.exists() { Ok(()) } else { Err("no v1 pids hierarchy at /sys/fs/cgroup/pids".into()) }
}

#[test]
fn cgroups_where_cgroups_path_says_and_removed_by_delete() {
    let tree = need!("cgroups_where_cgroups_path_says_and_removed_by_delete", ready());
    need!("cgroups_where_cgroups_path_says_and_removed_by_delete", pids_v1());
    let top = Path::new("/sys/fs/cgroup/pids/husk-oci-test");
    let _ = fs::remove_dir(top.join("c"));
    let _ = fs::remove_dir(top);
    let mut c = config(&["true"]);
    c.set(&["linux", "cgroupsPath"], serde_json_lite::Value::Str("/husk-oci-test/c".into()));
    c.set(&["linux", "resources"], serde_json_lite::parse(r#"{"pids": {"limit": 7}}"#).unwrap());
    let b = Bundle::new("cgroups-path", tree, c);
    let out = b.create("cg");
    assert_eq!(out.status.code(), Some(0), "{out}");
    // Written before anything ran, and the init is inside.
    assert_eq!(fs::read_to_string(top.join("c/pids.max")).unwrap().trim(), "7");
    let pid = fs::read_to_string(b.dir.join("pid")).unwrap();
    let procs = fs::read_to_string(top.join("c/cgroup.procs")).unwrap();
    assert!(procs.lines().any(|l| l == pid.trim()), "{pid} not in {procs}");
    let out = b.oci(&["delete", "--force", "cg"]);
    assert_eq!(out.status.code(), Some(0), "{out}");
    assert!(!top.exists(), "delete left {top:?}");
    b.assert_empty();
}

#[test]
fn a_failed_create_leaves_no_cgroup_and_names_the_resource() {
    let tree = need!("a_failed_create_leaves_no_cgroup_and_names_the_resource", ready());
    need!("a_failed_create_leaves_no_cgroup_and_names_the_resource", pids_v1());
    let top = Path::new("/sys/fs/cgroup/pids/husk-oci-fail");
    let mut c = config(&["true"]);
    c.set(&["linux", "cgroupsPath"], serde_json_lite::Value::Str("/husk-oci-fail/c".into()));
    // pids is written first, then a file no kernel has: the error names its JSON path.
    let r = r#"{"pids": {"limit": 7}, "hugepageLimits": [{"pageSize": "3MB", "limit": 1}]}"#;
    c.set(&["linux", "resources"], serde_json_lite::parse(r).unwrap());
    let b = Bundle::new("cgroups-fail", tree, c);
    let out = b.create("cg");
    assert!(out.is_refusal(), "{out}");
    assert!(out.stderr.starts_with("husk: config.json linux.resources.hugepageLimits:"), "{out}");
    assert!(!top.exists(), "a failed create left {top:?}");
    b.assert_empty();
    // And with --cgroup-manager disabled, resources are refused outright.
    let out = b.oci(&["--cgroup-manager", "disabled", "create", "--bundle", b.dir.to_str().unwrap(), "cg"]);
    assert!(out.stderr.contains("linux.resources"), "{out}");
}
