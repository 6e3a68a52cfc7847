#!/usr/bin/env bash
# The OCI runtime conformance suite (opencontainers/runtime-tools 260e151b, runtime-spec
# v1.1.0) against one runtime: every validation/NAME/NAME.t, one line per program and a
# summary; with a recorded minimum it fails on regression (CI).
#
#   tests/oci/conformance.sh RUNTIME [OUT_DIR] [MIN_FILE]
#
#   RUNTIME   absolute path of the runtime binary (husk built with --features oci, crun, runc),
#             or of an executable wrapper around one: the suite runs it as `RUNTIME VERB ...`
#             through exec.LookPath, so it must be one file, not a command line.
#   OUT_DIR   where each program's TAP (NAME.tap) and stderr (NAME.err) go, and summary.txt
#             (default target/oci-conformance under the repository root).
#   MIN_FILE  a recorded minimum, e.g. `clean=31 notok_max=32` (# starts a comment): exit 1
#             when fewer programs are clean or more `not ok` lines appear than recorded.
#
# Environment:
#   RUNTIME_TOOLS_TAR  the suite's source archive (default ../shared/conformance/
#                      runtime-tools-260e151b.tar.gz beside the repository root).
#   HUSK_CACHE         cache root (default /var/cache/husk-ci); the suite is extracted and
#                      built once into HUSK_CACHE/runtime-tools-260e151b and reused.
#   OCI_TIMEOUT        seconds per program (default 60); a program past it is "timeout".
#   OCI_ONLY           space-separated program names to run instead of all of them.
#   OCI_CGROUP2        "private": run every runtime invocation in its own mount namespace with
#                      a fresh cgroup2 mounted over /sys/fs/cgroup (see "Cgroups" below).
#   OCI_RUNTIME_ARGS   global options put before the verb, e.g. --cgroup-manager=disabled.
#
# Cgroups. This host is "hybrid": v1 controllers under /sys/fs/cgroup/* (a tmpfs) plus a
# cgroup2 at /sys/fs/cgroup/unified with the hugetlb controller in it. runc 1.1 runs on that
# as it is. crun 1.8 refuses it at create ("cgroups in hybrid mode not supported, drop all
# controllers from cgroupv2"), because it sees a controller on the v2 hierarchy. crun is
# therefore measured the way benches/run.sh runs it: each invocation in
#   unshare -m --propagation private sh -c 'mount -t cgroup2 none /sys/fs/cgroup && exec "$@"'
# so crun sees a pure cgroup2 host (statfs of /sys/fs/cgroup says cgroup2), plus
# --cgroup-manager=disabled so it creates no cgroup at all (the fresh root is the host's, and
# the container then stays in its creator's cgroups):
#   OCI_CGROUP2=private OCI_RUNTIME_ARGS=--cgroup-manager=disabled tests/oci/conformance.sh /usr/bin/crun
# The mount is private to that one invocation: create, start, state, kill and delete each get
# their own, which is harmless because with cgroups disabled nothing of the container lives
# there (crun keeps its state under /run/crun). The suite itself is never wrapped: its cgroup
# checks (linux_cgroups_*, cgroups/cgroups.go FindCgroup) read the *suite's* /proc/self/
# mountinfo, take the parent of the first `cgroup` (v1) mount point (/sys/fs/cgroup here) and
# the container's /proc/PID/cgroup; a pure cgroup2 view would make them fail with "cgroupv2 is
# not supported yet". So with cgroups disabled those programs fail, as the baseline records.
# Use the same two variables for husk if it needs them; a wrapper is generated in the run
# directory and its path is what the suite gets as RUNTIME.
#
# husk: the suite calls `RUNTIME kill ID KILL`, and a bare `husk kill` is husk's own command;
# husk takes the OCI command line when called as husk-oci (a symlink), after `husk oci`, or
# with a global option first. So either pass a husk-oci symlink's absolute path, or
#   OCI_RUNTIME_ARGS=oci tests/oci/conformance.sh "$PWD/target/release/husk"
# (The symlink keeps the suite's view closest to an engine's; the wrapper adds a bash exec.)
#
# What "clean" means: exit status 0, no `not ok` line at the start of a line (runtimetest's own
# TAP, nested in YAML blocks, is indented and not counted; programs that run runtimetest
# without a TAP of their own print its lines unindented, and those count), and for programs
# whose plan is `1..0` no YAML `"error":` diagnostic. The *_fail programs (prestart_fail,
# poststart_fail, poststop_fail) print only `TAP version 13` and `1..0` when the runtime
# behaved, and the spec error as a YAML block when it did not, still exiting 0;
# process_rlimits_fail and process_capabilities_fail print nothing when the runtime refused
# the config at create and exit 1 (util.Fatal) when it accepted it. The `ok` total includes
# `# SKIP` points, as the suite's own TAP does.
set -eu

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
name=runtime-tools-260e151b

if [ $# -lt 1 ] || [ $# -gt 3 ]; then
	echo "usage: $0 RUNTIME [OUT_DIR] [MIN_FILE]" >&2
	exit 2
fi
runtime=$1
out=${2:-$root/target/oci-conformance}
min_file=${3:-}
case $runtime in
/*) ;;
*) echo "conformance: RUNTIME must be an absolute path: $runtime" >&2; exit 2 ;;
esac
if [ ! -x "$runtime" ]; then
	echo "conformance: $runtime is not an executable file" >&2
	exit 2
fi
if [ -n "$min_file" ] && [ ! -r "$min_file" ]; then
	echo "conformance: cannot read the recorded minimum $min_file" >&2
	exit 2
fi
# Beside the repository (../shared, this workplace's layout), or where a clean clone of it
# elsewhere finds this workplace's copy.
tar_file=${RUNTIME_TOOLS_TAR:-$root/../shared/conformance/$name.tar.gz}
[ -f "$tar_file" ] || [ -n "${RUNTIME_TOOLS_TAR:-}" ] || tar_file=/work/shared/conformance/$name.tar.gz
cache=${HUSK_CACHE:-/var/cache/husk-ci}
suite=$cache/$name
timeout_s=${OCI_TIMEOUT:-60}

# The bundles (os.MkdirTemp under TMPDIR), the runtimetest copy in them and the suite dir
# must be reachable by the non-root users some programs switch to (process_user): every
# directory from / down is made 0755 here, as the suite's README asks.
mkdir -p "$cache"
chmod 0755 "$cache"

# Build once. A half-finished build never becomes $suite: it is made in a temporary sibling
# and renamed into place, so an interrupted run just builds again.
if [ ! -x "$suite/runtimetest" ] || [ ! -e "$suite/.built" ]; then
	if [ ! -r "$tar_file" ]; then
		echo "conformance: the suite's archive $tar_file is missing (set RUNTIME_TOOLS_TAR)" >&2
		exit 2
	fi
	command -v go >/dev/null || { echo "conformance: go is missing (apt-get install golang-go)" >&2; exit 2; }
	echo "conformance: building $name in $suite (once)"
	build=$(mktemp -d "$cache/$name.build.XXXXXX")
	tar -xzf "$tar_file" -C "$build"
	# No network: the archive vendors its modules. GOCACHE must be set when HOME is not (CI).
	(cd "$build" && GOFLAGS=-mod=vendor GOPROXY=off GOCACHE=${GOCACHE:-$cache/go-build} \
		make tool runtimetest validation-executables) >"$build.log" 2>&1 || {
		echo "conformance: building the suite failed; the log is $build.log" >&2
		tail -20 "$build.log" >&2
		exit 1
	}
	touch "$build/.built"
	chmod 0755 "$build"
	rm -rf "$suite"
	mv "$build" "$suite"
	rm -f "$build.log"
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$out"/*.tap "$out"/*.err "$out/summary.txt"

# One run directory per invocation of this script: the bundles go under it (TMPDIR), so a
# program killed by its timeout leaves nothing in /tmp, and it is removed at the end.
run=$(mktemp -d "$cache/run.XXXXXX")
chmod 0755 "$run"
# Mount points at or below $1 in this mount namespace, deepest first (mountinfo field 5;
# octal escapes such as \040 are left as they are: our paths have none).
unmount_under() {
	awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo |
		sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
}
# Pids of processes whose command line or root directory names a path under $1.
leftovers() {
	local d pid
	for d in /proc/[0-9]*; do
		pid=${d#/proc/}
		[ "$pid" = $$ ] && continue
		if { tr '\0' ' ' <"$d/cmdline"; echo; readlink "$d/root"; } 2>/dev/null | grep -qF "$1/"; then
			echo "$pid"
		fi
	done
}
trap 'unmount_under "$run"; rm -rf "$run" 2>/dev/null || true' EXIT

# The optional wrapper (see "Cgroups" above): one executable file, as the suite needs.
if [ "${OCI_CGROUP2:-}" = private ] || [ -n "${OCI_RUNTIME_ARGS:-}" ]; then
	wrapper=$run/runtime
	{
		echo '#!/usr/bin/env bash'
		printf 'runtime=%q\n' "$runtime"
		# Word-split on purpose: OCI_RUNTIME_ARGS is a list of options.
		# shellcheck disable=SC2086
		printf 'args=(%s)\n' "$(printf '%q ' ${OCI_RUNTIME_ARGS:-})"
		if [ "${OCI_CGROUP2:-}" = private ]; then
			echo 'exec unshare -m --propagation private sh -c '\''mount -t cgroup2 none /sys/fs/cgroup && exec "$@"'\'' sh "$runtime" "${args[@]}" "$@"'
		else
			echo 'exec "$runtime" "${args[@]}" "$@"'
		fi
	} >"$wrapper"
	chmod 0755 "$wrapper"
	runtime_cmd=$wrapper
	echo "conformance: $runtime through $wrapper:" >&2
	sed 1d "$wrapper" | sed 's/^/    /' >&2
else
	runtime_cmd=$runtime
fi

if [ -n "${OCI_ONLY:-}" ]; then
	programs=$OCI_ONLY
else
	programs=$(cd "$suite/validation" && for d in */; do
		d=${d%/}
		if [ -x "$d/$d.t" ]; then echo "$d"; fi # validation/util is a library
	done)
fi

total=0 clean=0 oks=0 notoks=0
for p in $programs; do
	t=$suite/validation/$p/$p.t
	if [ ! -x "$t" ]; then
		echo "conformance: no such program $p" >&2
		exit 2
	fi
	mkdir -p "$run/$p"
	chmod 0755 "$run/$p"
	rc=0
	# The programs find rootfs-amd64.tar.gz and runtimetest in their working directory.
	(cd "$suite" && TMPDIR=$run/$p RUNTIME=$runtime_cmd \
		timeout -k 10 "$timeout_s" "$t" >"$out/$p.tap" 2>"$out/$p.err") || rc=$?
	ok=$(grep -c '^ok\b' "$out/$p.tap" || true)
	notok=$(grep -c '^not ok\b' "$out/$p.tap" || true)
	yaml_error=no
	if grep -qx '1\.\.0' "$out/$p.tap" && grep -qE '^ +"?error"?:' "$out/$p.tap"; then
		yaml_error=yes
	fi
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		verdict=timeout
	elif [ "$notok" -gt 0 ]; then
		verdict="$notok not ok"
	elif [ "$yaml_error" = yes ]; then
		verdict="yaml error"
	elif [ "$rc" -ne 0 ]; then
		verdict="exit $rc"
	else
		verdict=clean
		clean=$((clean + 1))
	fi
	[ "$rc" -ne 0 ] && [ "$verdict" != timeout ] && [ "$verdict" != "exit $rc" ] && verdict="$verdict, exit $rc"
	total=$((total + 1)) oks=$((oks + ok)) notoks=$((notoks + notok))
	# A container the program did not get rid of (a runtime's `delete --force` that failed, or
	# a timeout) is still running: find it by the bundle path in its command line (the waiting
	# init of a created container is the runtime's own fork) or its root, say so, and kill it
	# by pid so it does not outlive the run. Nothing outside this program's directory is touched.
	left=$(leftovers "$run/$p")
	if [ -n "$left" ]; then
		# shellcheck disable=SC2086
		kill -9 $left 2>/dev/null || true
		verdict="$verdict, left $(echo $left | wc -w) process(es) running: killed"
	fi
	printf '%-40s %s (%d ok)\n' "$p" "$verdict" "$ok" | tee -a "$out/summary.txt"
	# linux_ns_itype runs a container that shares the host's mount namespace, so the
	# runtime's /proc, /dev, /sys mounts land in ours and stay after delete: lift them.
	unmount_under "$run/$p"
	rm -rf "${run:?}/$p" 2>/dev/null || echo "conformance: could not remove $run/$p (a container left running?)" >&2
done

summary="conformance: $clean/$total programs clean, $oks ok, $notoks not ok"
echo "$summary" | tee -a "$out/summary.txt"

if [ -n "$min_file" ]; then
	min_clean='' max_notok=''
	for kv in $(sed 's/#.*//' "$min_file"); do
		case $kv in
		clean=*) min_clean=${kv#clean=} ;;
		notok_max=*) max_notok=${kv#notok_max=} ;;
		*) echo "conformance: unknown entry '$kv' in $min_file" >&2; exit 2 ;;
		esac
	done
	if [ -z "$min_clean" ] || [ -z "$max_notok" ]; then
		echo "conformance: $min_file must hold clean=N notok_max=M" >&2
		exit 2
	fi
	failed=0
	if [ "$clean" -lt "$min_clean" ]; then
		echo "conformance: REGRESSION: $clean programs clean, fewer than the recorded $min_clean ($min_file)" >&2
		failed=1
	fi
	if [ "$notoks" -gt "$max_notok" ]; then
		echo "conformance: REGRESSION: $notoks not ok, more than the recorded $max_notok ($min_file)" >&2
		failed=1
	fi
	[ "$failed" -eq 0 ] || exit 1
	echo "conformance: at or above the recorded minimum (clean=$min_clean notok_max=$max_notok)"
fi
