#!/usr/bin/env bats
# migrate-src --check against real runc and CRIU: a live container on the source, a real
# migrate-dst, real `criu check`, feature checks and test dumps on both "hosts" of this
# machine.  Cold must be possible here; pre-copy only where the kernel has soft-dirty
# tracking (not on the project's VM kernel: docs/notes-platform.md).

load ../lib/common
load ../lib/real

setup_file() {
	export CRIU_FAULT=130 # no hardware breakpoints on some VMs: docs/notes-platform.md
}

setup() {
	e2e_possible || skip "$E2E_SKIP_REASON"
	mk_hosts
	sshd_start "$TEST_TMP/sshd"
	dst_start "$TEST_TMP/dst.log" -b "$DST_BASE" --runc-root "$DST_ROOT" --timeout 60
	make_real_bundle "$SRC_BASE/c1"
	make_real_bundle "$DST_BASE/c1"
	run_real "$SRC_ROOT" "$SRC_BASE/c1" c1
	wait_lines "$SRC_BASE/c1/rootfs/counter.log" 3
}

teardown() {
	dst_stop
	sshd_stop
	real_cleanup c1
	rm_hosts
}

check() {
	run "$MIGRATE_SRC" --check -b "$SRC_BASE" --runc-root "$SRC_ROOT" --ssh-port "$SSHD_PORT" ${DST_TOKEN:+--dst-token-file "$DST_TOKEN"} \
		-i "$SSH_KEY" --known-hosts "$SSH_KNOWN_HOSTS" --socket "$DST_SOCKET" "$@"
	echo "$output"
}

line() {
	printf '%s\n' "$output" | grep -Eq "^$1 +$2 +$3 +${4:-}" ||
		{ echo "no line: $1 / $2 / $3 / ${4:-}"; return 1; }
}

assert_consecutive() {
	awk 'NR != $1 { printf "line %d holds %s\n", NR, $1; bad = 1; exit } END { exit bad }' "$1"
}

@test "real tools, cold: every check OK, exit 0, and the container never noticed" {
	check c1 127.0.0.1
	[ "$status" -eq 0 ]
	[ -z "$(printf '%s\n' "$output" | grep -E '^(source|destination|link|both) .* FAIL ')" ]
	v=$(criu --version | sed -n 's/^Version: //p')
	line both "criu versions" OK "$v on both"
	for host in source destination; do
		line "$host" "criu check" OK "Looks good"
		line "$host" "dump hang test" OK "criu dump (of a test process works without|hangs without) CRIU_FAULT=130"
	done
	line source container OK "c1 is running \(pid [0-9]+\)"
	# The real container's memory gives the image size the free space is measured against.
	line source "free space" OK ".* free in $SRC_BASE; needs about [0-9.]+ [KM]iB"
	line destination "feature uffd-noncoop" OK supported
	line link "rsync over ssh" OK "works \(dry run"
	line technique cold OK "can run \(chosen\)"
	# Nothing was dumped from it and it kept running, its counter unbroken.
	[ "$(runc --root "$SRC_ROOT" state c1 | jq -r .status)" = running ]
	[ ! -e "$SRC_BASE/c1/image" ]
	[ ! -e "$DST_BASE/c1/image" ]
	[ -z "$(runc --root "$DST_ROOT" list -q)" ]
	n=$(wc -l <"$SRC_BASE/c1/rootfs/counter.log")
	wait_lines "$SRC_BASE/c1/rootfs/counter.log" $((n + 2))
	assert_consecutive "$SRC_BASE/c1/rootfs/counter.log"
}

@test "real tools, pre-copy: refused (exit 2) where the kernel has no soft-dirty tracking" {
	check -t pre-copy --no-hang-test c1 127.0.0.1
	if criu check --feature mem_dirty_track >/dev/null 2>&1; then
		[ "$status" -eq 0 ]
		line source "feature mem_dirty_track" OK supported
		return
	fi
	[ "$status" -eq 2 ]
	line source "feature mem_dirty_track" FAIL "missing: criu check --feature mem_dirty_track fails; kernel option CONFIG_MEM_SOFT_DIRTY"
	line technique pre-copy FAIL "cannot run: source feature mem_dirty_track \(chosen\)"
	line technique cold OK "can run$"
	[[ "${lines[-1]}" == "techniques: cold yes, pre-copy no, post-copy "*", hybrid no; pre-copy CANNOT run here" ]]
	check -t pre-copy --json --no-hang-test c1 127.0.0.1
	[ "$status" -eq 2 ]
	[ "$(jq -r '.facts.source.features.mem_dirty_track' <<<"${lines[0]}")" = false ]
	[ "$(jq -r .techniques.cold <<<"${lines[0]}")" = true ]
}

# CI runs us in a pid namespace whose session leader sits outside it; CRIU cannot dump a
# process of such a session ("A session leader of N is outside of its pid namespace").
# The throwaway process gets a session of its own, so the hang test measures CRIU, not
# where we were started.  The container's row fails in there (its pid is not visible),
# so only the hang test's line is asserted.
@test "the dump hang test works when our session leader is outside our pid namespace" {
	command -v unshare >/dev/null || skip "unshare is not installed"
	run unshare --pid --fork --mount-proc "$MIGRATE_SRC" --check -b "$SRC_BASE" \
		--runc-root "$SRC_ROOT" --ssh-port "$SSHD_PORT" ${DST_TOKEN:+--dst-token-file "$DST_TOKEN"} -i "$SSH_KEY" \
		--known-hosts "$SSH_KNOWN_HOSTS" --socket "$DST_SOCKET" c1 127.0.0.1
	echo "$output"
	line source "dump hang test" OK "criu dump (of a test process works without|hangs without) CRIU_FAULT=130"
	[ "$(runc --root "$SRC_ROOT" state c1 | jq -r .status)" = running ]
}

# PIDs of the descendants of $1 that run the TCP test (their environment names it).
tcp_test_children() {
	local p
	for p in $(ps -o pid= --ppid "$1"); do
		if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -q '^MIGRATE_TCP_TEST_FD='; then
			echo "$p"
		fi
	done
}

@test "the TCP test's throwaway process ends with migrate-src, even after SIGKILL" {
	"$MIGRATE_SRC" --check -b "$SRC_BASE" --runc-root "$SRC_ROOT" --ssh-port "$SSHD_PORT" ${DST_TOKEN:+--dst-token-file "$DST_TOKEN"} \
		-i "$SSH_KEY" --known-hosts "$SSH_KNOWN_HOSTS" --socket "$DST_SOCKET" c1 127.0.0.1 \
		>"$TEST_TMP/check.out" 2>&1 &
	local pid=$! child=
	for _ in $(seq 200); do
		child=$(tcp_test_children "$pid")
		[ -z "$child" ] || break
		sleep 0.05
	done
	[ -n "$child" ] || { kill "$pid"; wait "$pid"; cat "$TEST_TMP/check.out"; false; }
	kill -KILL "$pid"
	wait "$pid" || true
	for _ in $(seq 40); do [ -d "/proc/$child" ] || break; sleep 0.05; done
	[ ! -d "/proc/$child" ] || { kill -KILL "$child"; echo "child $child outlived its parent"; false; }
}
