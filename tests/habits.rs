//! Black-box tests of what a docker, podman or bubblewrap user brings to `husk run`: their
//! spellings accepted with their meaning (checked inside the container), or refused with
//! husk's spelling — and never a value taken literally by accident (`--bind A:B:ro` is a
//! read-only mount at B, not a read-write one at `B:ro`).
//!
//! Same rules as tests/run.rs: each test has its own directory (its path is the marker),
//! nothing may be left behind after a run, shared fixtures are copied before they change.

mod common;

use common::case::Case;
use common::proc::{HUSK, Outcome, Proc, busybox, debian, path_str};
use common::{need, tool};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn new_case(test: &str, rootfs: &[&Path]) -> Case {
    Case::new(test, rootfs)
}

/// `husk ARGS` run to its end (stdin /dev/null).
fn husk(args: &[&str]) -> Outcome {
    Proc::start(Command::new(HUSK).args(args)).wait()
}

/// Asserts a usage refusal: exit 125, one line on stderr holding `says`, nothing on stdout.
fn refused(out: &Outcome, says: &str) {
    assert!(
        out.status.code() == Some(125) && out.stdout.is_empty() && out.stderr.lines().count() == 1,
        "expected 125 and one line\n got {out}"
    );
    assert!(out.stderr.contains(says), "expected stderr to say {says:?}\n got {out}");
}

// ---------------------------------------------------------------------------------------
// Mounts: docker's suffixes mean what they say
// ---------------------------------------------------------------------------------------

/// Writes into each volume and reports, then lists the root (where a literal `b:ro`
/// directory would show).
const WRITE_EACH: &str =
    "for d in /ro /rw /v /vro /m; do { echo x > $d/new; } 2>/dev/null; echo $d=$?; done; ls /";

#[test]
fn mount_suffixes_are_read_only_or_read_write_never_part_of_the_path() {
    let bb = need!("mount_suffixes_are_read_only_or_read_write_never_part_of_the_path", busybox());
    let case = new_case("suffixes", &[]);
    let root = case.rootfs_copy(bb);
    for d in ["ro", "rw", "v", "vro", "m"] {
        fs::create_dir(root.join(d)).unwrap();
    }
    let before = listing(&root);
    let vol = case.mkdir("vol");
    fs::set_permissions(&vol, fs::Permissions::from_mode(0o777)).unwrap();
    let v = path_str(&vol);
    let out = case.run(&mut case.sh(
        &[
            "--rootfs",
            path_str(&root),
            "--bind",
            &format!("{v}:/ro:ro"),
            "--ro-bind",
            &format!("{v}:/rw:ro"),
            "--bind",
            &format!("{v}:/rw:rw"),
            "-v",
            &format!("{v}:/v"),
            "--volume",
            &format!("{v}:/vro:ro"),
            "--mount",
            &format!("type=bind,source={v},target=/m,readonly"),
        ],
        WRITE_EACH,
    ));
    let lines: Vec<&str> = out.expect_success().lines().collect();
    // /rw: the --bind over the --ro-bind at the same place is read-write.
    assert_eq!(lines[..5], ["/ro=1", "/rw=0", "/v=0", "/vro=1", "/m=1"], "{out}");
    assert!(!lines.iter().any(|l| l.contains(':')), "a directory named after a suffix: {out}");
    assert_eq!(listing(&root), before, "the rootfs must be as it was");
    assert!(vol.join("new").exists());
}

#[test]
fn a_destination_with_a_colon_goes_through_mount() {
    let bb = need!("a_destination_with_a_colon_goes_through_mount", busybox());
    let case = new_case("colon", &[]);
    let root = case.rootfs_copy(bb);
    fs::create_dir(root.join("a:b")).unwrap();
    let vol = case.mkdir("v:ol");
    fs::write(vol.join("f"), "in\n").unwrap();
    let out = case.run(&mut case.sh(
        &["--rootfs", path_str(&root), "--mount", &format!("type=bind,src={},dst=/a:b,ro", path_str(&vol))],
        "cat /a:b/f; { echo x > /a:b/g; } 2>/dev/null; echo $?",
    ));
    out.expect(0, "in\n1\n", "");
}

#[test]
fn unknown_or_contradictory_mount_options_are_refused_before_anything_runs() {
    let bb = need!("unknown_or_contradictory_mount_options_are_refused_before_anything_runs", busybox());
    let case = new_case("bad-mounts", &[bb]);
    let root = path_str(bb);
    for (opts, says) in [
        (&["--bind", "/tmp:/b:rx"][..], "bad value '/tmp:/b:rx' for '--bind': expected SRC:DST[:ro|rw]"),
        (&["--ro-bind", "/tmp:/b:rw"], "for '--ro-bind'"),
        (&["--bind", "/tmp:/b:ro:x"], "needs --mount"),
        (&["-v", "data:/b"], "husk has no named volumes"),
        (&["--tmpfs", "/s:size=10m,uid=5"], "DST[:size=SIZE,mode=MODE]"),
        (&["--tmpfs", "/s:size=0"], "for '--tmpfs'"),
        (&["--mount", "type=volume,src=v,dst=/b"], "for '--mount'"),
    ] {
        let mut all = vec!["--rootfs", root];
        all.extend(opts);
        let out = case.run(&mut case.sh(&all, "echo ran"));
        refused(&out, says);
    }
}

#[test]
fn tmpfs_takes_size_and_mode_and_lets_everyone_write_by_default() {
    let bb = need!("tmpfs_takes_size_and_mode_and_lets_everyone_write_by_default", busybox());
    let case = new_case("tmpfs", &[bb]);
    let out = case.run(&mut case.sh(
        // Mount points the fixture has: it is shared, nothing may be created in it.
        &["--rootfs", path_str(bb), "-u", "1000", "--tmpfs", "/mnt", "--tmpfs", "/srv:size=1m,mode=700"],
        "echo x > /mnt/f && echo wrote; stat -c %a /mnt /srv; grep ' /srv ' /proc/mounts",
    ));
    let text = out.expect_success();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[..3], ["wrote", "1777", "700"], "{out}");
    assert!(lines[3].contains("size=1024k") && lines[3].contains("mode=700"), "{out}");
}

// ---------------------------------------------------------------------------------------
// The process: environment, user, terminal
// ---------------------------------------------------------------------------------------

#[test]
fn environment_from_inline_options_the_caller_and_env_files() {
    let bb = need!("environment_from_inline_options_the_caller_and_env_files", busybox());
    let case = new_case("env", &[bb]);
    let file = case.join("app.env");
    fs::write(
        &file,
        "# settings\r\n\r\nFROM_FILE=1\r\nSHARED=file\n  INDENTED=yes\nCALLER_ONLY\nUNSET_HERE\nQUOTED=\"kept as is\"\nLAST=no newline",
    )
    .unwrap();
    let mut cmd = case.sh(
        &[
            "--rootfs",
            path_str(bb),
            "--env-file",
            path_str(&file),
            "--env=SHARED=option",
            "--env=INLINE=a=b",
            "-e",
            "FROM_CALLER",
        ],
        "env | grep -E '^(FROM_|SHARED|INDENTED|CALLER_|UNSET_|QUOTED|LAST|INLINE)' | sort",
    );
    cmd.env("FROM_CALLER", "c1").env("CALLER_ONLY", "c2").env_remove("UNSET_HERE");
    let out = case.run(&mut cmd);
    out.expect(
        0,
        "CALLER_ONLY=c2\nFROM_CALLER=c1\nFROM_FILE=1\nINDENTED=yes\nINLINE=a=b\nLAST=no newline\n\
         QUOTED=\"kept as is\"\nSHARED=option\n",
        "",
    );
    // A missing file, and a line that is not KEY=VALUE: refused, nothing runs.
    let out = case.run(&mut case.sh(&["--rootfs", path_str(bb), "--env-file", "/nonexistent"], "echo ran"));
    refused(&out, "husk: env-file /nonexistent: No such file or directory (ENOENT)");
    fs::write(&file, "GOOD=1\nBAD KEY=2\n").unwrap();
    let out = case.run(&mut case.sh(&["--rootfs", path_str(bb), "--env-file", path_str(&file)], "echo ran"));
    refused(&out, "a line is not KEY=VALUE");
}

#[test]
fn user_names_come_from_the_containers_passwd_and_group() {
    let bb = need!("user_names_come_from_the_containers_passwd_and_group", busybox());
    let case = new_case("users", &[]);
    let root = case.rootfs_copy(bb);
    fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\napp:x:1234:1500:App:/srv/app:/bin/sh\n",
    )
    .unwrap();
    fs::write(root.join("etc/group"), "root:x:0:\napp:x:1500:\nstaff:x:50:other,app\naudio:x:29:app\n")
        .unwrap();
    let rootfs = path_str(&root);
    let show = "echo $(id -u) $(id -g) $(id -G) $HOME";
    let id = |user: &str| case.run(&mut case.sh(&["--rootfs", rootfs, "-u", user], show));
    id("app").expect(0, "1234 1500 1500 29 50 /srv/app\n", "");
    id("app:staff").expect(0, "1234 50 50 29 /srv/app\n", "");
    id("1234").expect(0, "1234 1500 1500 29 50 /srv/app\n", "");
    id("4242:audio").expect(0, "4242 29 29 /\n", "");
    refused(
        &id("ghost"),
        "husk: user ghost: No such file or directory (ENOENT): no such user in the container's /etc/passwd",
    );
    refused(&id("app:ghosts"), "no such group in the container's /etc/group");

    // The lookup stays inside the root: an absolute symlink resolves there, not on the host.
    fs::create_dir(root.join("alt")).unwrap();
    fs::write(root.join("alt/passwd"), "alt:x:777:777::/alt:/bin/sh\n").unwrap();
    fs::remove_file(root.join("etc/passwd")).unwrap();
    std::os::unix::fs::symlink("/alt/passwd", root.join("etc/passwd")).unwrap();
    id("alt").expect(0, "777 777 777 /alt\n", "");
    fs::remove_file(root.join("etc/passwd")).unwrap();
    std::os::unix::fs::symlink("../../../../../../../alt/passwd", root.join("etc/passwd")).unwrap();
    id("alt").expect(0, "777 777 777 /alt\n", "");
    fs::remove_file(root.join("etc/passwd")).unwrap();
    std::os::unix::fs::symlink("/etc/shadow", root.join("etc/passwd")).unwrap();
    refused(&id("root"), "no such user");
    // A FIFO planted there is refused at once, not waited on.
    fs::remove_file(root.join("etc/passwd")).unwrap();
    let mkfifo = Command::new("mkfifo").arg(root.join("etc/passwd")).status().unwrap();
    assert!(mkfifo.success());
    refused(&id("app"), "husk: user /etc/passwd: Invalid argument (EINVAL)");
    // A device node there is never opened by root on the host (its open alone can act: a
    // watchdog, a tape, a module loaded): only looked at, through O_PATH.
    fs::remove_file(root.join("etc/passwd")).unwrap();
    let mknod = Command::new("mknod").arg(root.join("etc/passwd")).args(["c", "1", "3"]).status().unwrap();
    assert!(mknod.success());
    let strace = need!("user_names_come_from_the_containers_passwd_and_group", tool("strace", "strace"));
    let trace = case.join("trace");
    let mut cmd = Command::new(strace);
    cmd.args(["-f", "-e", "trace=open,openat,openat2", "-o"]).arg(&trace).arg(HUSK);
    cmd.args(["run", "--rootfs", rootfs, "-u", "app", "--", "sh", "-c", show, &case.marker]);
    refused(&case.run(&mut cmd), "husk: user /etc/passwd: Invalid argument (EINVAL)");
    let opens: Vec<String> = fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .filter(|l| l.contains("etc/passwd") && !l.contains("O_PATH"))
        .map(str::to_string)
        .collect();
    assert!(opens.is_empty(), "the device node was opened: {opens:?}");
}

/// COMMAND never keeps the supplementary groups husk was started with (a service's `docker`
/// group, say): root's by default, the user's from the root's /etc/group with `-u`.
#[test]
fn the_callers_supplementary_groups_stay_outside() {
    let bb = need!("the_callers_supplementary_groups_stay_outside", busybox());
    let setpriv = need!("the_callers_supplementary_groups_stay_outside", tool("setpriv", "util-linux"));
    let case = new_case("groups", &[bb]);
    for (opts, want) in [(&[][..], "0\n"), (&["-u", "1000"], "1000\n")] {
        let mut cmd = Command::new(&setpriv);
        cmd.args(["--groups", "4242,4343", HUSK, "run", "--rootfs", path_str(bb)]).args(opts);
        cmd.args(["--", "sh", "-c", "id -G", &case.marker]);
        case.run(&mut cmd).expect(0, want, "");
    }
}

#[test]
fn a_terminal_is_passed_through_and_t_without_one_is_refused() {
    let bb = need!("a_terminal_is_passed_through_and_t_without_one_is_refused", busybox());
    let case = new_case("tty", &[bb]);
    let root = path_str(bb);
    // stdin is /dev/null here.
    refused(
        &case.run(&mut case.sh(&["--rootfs", root, "-t"], "echo ran")),
        "husk: -t: Inappropriate ioctl for device (ENOTTY): standard input is not a terminal",
    );
    refused(&case.run(&mut case.sh(&["--rootfs", root, "-it"], "echo ran")), "ENOTTY");
    // -i, --init and --rm are what husk does anyway.
    case.run(&mut case.sh(&["--rootfs", root, "-i", "--init", "--rm"], "echo ran")).expect(0, "ran\n", "");
    // With a terminal (script(1) gives one), -it runs and COMMAND has it.
    let script =
        need!("a_terminal_is_passed_through_and_t_without_one_is_refused", tool("script", "bsdutils"));
    let inner = format!("{HUSK} run -it --rootfs {root} -- sh -c 'test -t 0 && echo tty' {}", case.marker);
    let out = case.run(Command::new(script).args(["-qec", &inner, "/dev/null"]));
    assert!(out.status.success() && out.stdout.contains("tty"), "{out}");
}

#[test]
fn docker_hostname_and_zero_limits() {
    let bb = need!("docker_hostname_and_zero_limits", busybox());
    let case = new_case("zeros", &[bb]);
    let root = path_str(bb);
    case.run(&mut case.sh(&["--rootfs", root, "-h", "box"], "hostname")).expect(0, "box\n", "");
    // Docker's zeros mean no limit: no cgroup is needed, so they run anywhere.
    let zeros = ["--rootfs", root, "-m", "0", "--pids-limit", "0", "--cpus", "0", "--memory-swap", "0"];
    case.run(&mut case.sh(&zeros, "echo ran")).expect(0, "ran\n", "");
    refused(
        &case.run(&mut case.sh(&["--rootfs", root, "-m", "100"], "echo ran")),
        "bad value '100' for '-m'",
    );
}

// ---------------------------------------------------------------------------------------
// Security options
// ---------------------------------------------------------------------------------------

#[test]
fn security_opt_spellings() {
    let bb = need!("security_opt_spellings", busybox());
    let case = new_case("security-opt", &[bb]);
    let root = path_str(bb);
    let show = "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status | tr -d '\\t' | tr '\\n' ' '";
    for (opts, want) in [
        (&[][..], "NoNewPrivs:1 Seccomp:2 "),
        (&["--security-opt", "no-new-privileges"], "NoNewPrivs:1 Seccomp:2 "),
        (&["--security-opt", "no-new-privileges=false"], "NoNewPrivs:0 Seccomp:2 "),
        (&["--security-opt=no-new-privileges:false", "-u", "1000"], "NoNewPrivs:0 Seccomp:2 "),
        (&["--security-opt", "seccomp=unconfined"], "NoNewPrivs:1 Seccomp:0 "),
        (
            &["--security-opt", "no-new-privileges=false", "--security-opt", "seccomp=unconfined"],
            "NoNewPrivs:0 Seccomp:0 ",
        ),
        (
            &["--security-opt", "apparmor=unconfined", "--security-opt", "label=disable"],
            "NoNewPrivs:1 Seccomp:2 ",
        ),
    ] {
        let mut all = vec!["--rootfs", root];
        all.extend(opts);
        case.run(&mut case.sh(&all, show)).expect(0, want, "");
    }
    refused(
        &case.run(&mut case.sh(&["--rootfs", root, "--security-opt", "seccomp=/p.json"], "true")),
        "seccomp=unconfined",
    );
}

/// The walk's own step: python given cap_net_bind_service with setcap binds port 80 as
/// uid 1000 — only when no_new_privs is off, as Docker allows with the same option.
#[test]
fn file_capabilities_work_only_when_no_new_privileges_is_off() {
    let debian = need!("file_capabilities_work_only_when_no_new_privileges_is_off", debian());
    let setcap =
        need!("file_capabilities_work_only_when_no_new_privileges_is_off", tool("setcap", "libcap2-bin"));
    let case = new_case("setcap", &[debian]);
    let python = fs::canonicalize(debian.join("usr/bin/python3")).unwrap();
    let inside = format!("/{}", python.strip_prefix(debian).unwrap().display());
    let copy = case.join("python");
    fs::copy(&python, &copy).unwrap();
    let out = Command::new(setcap).arg("cap_net_bind_service=+ep").arg(&copy).output().unwrap();
    assert!(out.status.success(), "setcap: {}", String::from_utf8_lossy(&out.stderr));
    let bind = format!("{}:{inside}:ro", path_str(&copy));
    let script = "import socket; s = socket.socket(); s.bind(('0.0.0.0', 80)); print('bound to 80')";
    let run = |extra: &[&str]| {
        let mut opts = vec!["--rootfs", path_str(debian), "--read-only", "-u", "1000", "-v", &bind];
        opts.extend(extra);
        case.run(&mut case.cmd(&opts, &["python3", "-c", script, &case.marker]))
    };
    let denied = run(&[]);
    assert!(
        denied.status.code() == Some(1) && denied.stderr.contains("PermissionError"),
        "no_new_privs on: {denied}"
    );
    run(&["--security-opt", "no-new-privileges=false"]).expect(0, "bound to 80\n", "");
    // Still within the bounding set: dropped there, the kernel refuses to run a program
    // whose file capabilities it cannot grant (capabilities(7), "Safety checking for
    // capability-dumb binaries").
    let dropped = run(&["--security-opt", "no-new-privileges=false", "--cap-drop", "NET_BIND_SERVICE"]);
    dropped.expect(126, "", "husk: exec python3: Operation not permitted (EPERM)\n");
}

// ---------------------------------------------------------------------------------------
// Usage errors: named, with hints
// ---------------------------------------------------------------------------------------

#[test]
fn unknown_options_get_a_hint() {
    refused(
        &husk(&["run", "--rootf", "/", "true"]),
        "husk: run: unknown option '--rootf': did you mean '--rootfs'?",
    );
    refused(&husk(&["run", "--hostnme=x", "true"]), "did you mean '--hostname'?");
    // Docker's -p publishes from its default bridge; husk's default network is none.
    refused(
        &husk(&["run", "-p", "8080:80", "true"]),
        "husk: run: -p forwards to a network of the container's own: add --net bridge (root) or --net pasta",
    );
    refused(
        &husk(&["run", "-P", "true"]),
        "husk: run: '-P' is not supported: husk publishes only the ports asked for",
    );
    refused(&husk(&["run", "--privileged", "true"]), "--cap-add ALL");
    refused(&husk(&["run", "--entrypoint", "sh", "true"]), "put the program first in COMMAND");
    refused(&husk(&["run", "--bogus", "true"]), "husk: run: unknown option '--bogus' (see 'husk help run')");
    // Arguments are named by their own names.
    refused(&husk(&["logs"]), "husk: logs: missing NAME (see 'husk help logs')");
    refused(&husk(&["ps", "extra"]), "husk: ps: unexpected argument 'extra' (see 'husk help ps')");
    refused(&husk(&["run", "--rootfs"]), "husk: run: option '--rootfs' needs a value");
}

#[test]
fn help_run_is_grouped_with_examples() {
    let out = husk(&["help", "run"]);
    let text = out.expect_success();
    for heading in [
        "Root and mounts:",
        "Process:",
        "Network:",
        "Limits",
        "Security:",
        "Named containers:",
        "Examples:",
        "Notes:",
    ] {
        assert!(text.contains(heading), "no {heading:?} in husk help run:\n{text}");
    }
    for option in [
        "--volume",
        "--mount",
        "--tmpfs",
        "--env-file",
        "--security-opt",
        "--workdir",
        "--network",
        "-it",
        "--rm",
    ] {
        assert!(text.contains(option), "{option} is not in husk help run:\n{text}");
    }
}

/// The sorted names under `dir`, recursively (symlinks not followed).
fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            out.push(path.strip_prefix(dir).unwrap().display().to_string());
            if entry.file_type().unwrap().is_dir() {
                stack.push(path);
            }
        }
    }
    out.sort();
    out
}
