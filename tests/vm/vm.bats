#!/usr/bin/env bats
# The VM bed's suite, run INSIDE a guest of tests/vm/run-guest (Debian 12's kernel: soft-dirty,
# userfaultfd, cgroup v2): one live container goes A -> B -> A -> B -> A between two
# simulated hosts (two base dirs, two runc roots, two migrate-dst, one sshd on loopback),
# once with each technique, the way the host suite cannot (no soft-dirty there, cgroup v1):
#
#   1. pre-copy   A -> B   3 rounds (--pre-dumps 3; --converge 1 is never reached)
#   2. hybrid     B -> A   --pre-dumps 6 --converge 1G: converges after round 1, lazy final dump
#   3. cold       A -> B
#   4. post-copy  B -> A
#
# Each move is made by the source side's own migrate-src (B's with B's dirs for the way
# back), and each checks: exit 0, the container runs on the destination only, the
# destination's counter.log begins with exactly the source's file as it was frozen (the
# rootfs log is complete), and the counter goes on from there without a gap or restart.
# The tests depend on each other (one container, in order).  Timings go to
# $MIGVM_RESULTS/timings.tsv when run under run-guest.

load ../lib/common
load ../lib/real

setup_file() {
	[ -n "${MIGVM_NAME:-}" ] || skip "runs inside a tests/vm guest (tests/vm/run-suite)"
	mk_hosts
	sshd_start "$TEST_TMP/sshd"
	# Each migrate-dst on a control socket and with a token of its own (dst_start): the
	# source reaches it through SSH (--socket) and reads its token over SSH
	# (--dst-token-file), as on two real hosts.
	dst_start "$TEST_TMP/dst-a.log" --json -b "$SRC_BASE" --runc-root "$SRC_ROOT" --timeout 120 \
		--token-file "$TEST_TMP/a-token"
	A_PID=$DST_PID A_START=$_DST_START A_SOCKET=$DST_SOCKET A_TOKEN=$TEST_TMP/a-token
	dst_start "$TEST_TMP/dst-b.log" --json -b "$DST_BASE" --runc-root "$DST_ROOT" --timeout 120
	B_PID=$DST_PID B_START=$_DST_START B_SOCKET=$DST_SOCKET B_TOKEN=$DST_TOKEN
	[ "$A_SOCKET" != "$B_SOCKET" ]
	[ -n "$B_TOKEN" ]
	export A_PID A_START A_SOCKET A_TOKEN B_PID B_START B_SOCKET B_TOKEN
	make_real_bundle "$SRC_BASE/c1"
	make_real_bundle "$DST_BASE/c1"
	run_real "$SRC_ROOT" "$SRC_BASE/c1" c1
	wait_lines "$SRC_BASE/c1/rootfs/counter.log" 5 60
	TIMINGS=${MIGVM_RESULTS:+$MIGVM_RESULTS/timings.tsv}
	export TIMINGS
}

teardown_file() {
	[ -n "${MIGVM_NAME:-}" ] || return 0
	stop_pid "${B_PID:-}" 5 "${B_START:-}"
	stop_pid "${A_PID:-}" 5 "${A_START:-}"
	sshd_stop
	real_cleanup c1
	# The logs, for a failure's post-mortem.
	if [ -n "${MIGVM_RESULTS:-}" ]; then
		mkdir -p "$MIGVM_RESULTS/vm.bats"
		cp "$TEST_TMP"/dst-*.log "$MIGVM_RESULTS/vm.bats/" 2>/dev/null
		for d in "$SRC_BASE/c1" "$DST_BASE/c1"; do
			for f in image/dump.log work/restore.log; do
				[ -f "$d/$f" ] && cp "$d/$f" "$MIGVM_RESULTS/vm.bats/$(basename "$(dirname "$d")")-${f//\//-}"
			done
		done
	fi
	rm_hosts
}

assert_consecutive() {
	awk 'NR != $1 { printf "line %d holds %s\n", NR, $1; bad = 1; exit } END { exit bad }' "$1"
}

# move a|b TECHNIQUE [OPTIONS...]: c1 from that side to the other, by that side's migrate-src.
move() {
	local from=$1 tech=$2 fbase froot tbase troot sock tok
	shift 2
	if [ "$from" = a ]; then
		fbase=$SRC_BASE froot=$SRC_ROOT tbase=$DST_BASE troot=$DST_ROOT
		sock=$B_SOCKET tok=$B_TOKEN
	else
		fbase=$DST_BASE froot=$DST_ROOT tbase=$SRC_BASE troot=$SRC_ROOT
		sock=$A_SOCKET tok=$A_TOKEN
	fi
	if [ -f "$TEST_TMP/broken" ]; then
		echo "an earlier move failed ($(cat "$TEST_TMP/broken")): c1 is not where this test expects it" >&2
		return 1
	fi
	echo "move $from $tech $*" >"$TEST_TMP/broken" # removed when this move's checks pass
	local t0=$SECONDS
	run "$MIGRATE_SRC" -b "$fbase" --runc-root "$froot" --ssh-port "$SSHD_PORT" -i "$SSH_KEY" \
		--known-hosts "$SSH_KNOWN_HOSTS" --socket "$sock" --dst-token-file "$tok" \
		--timeout 120 --json -t "$tech" "$@" c1 127.0.0.1
	echo "$output"
	local secs=$((SECONDS - t0))
	[ "$status" -eq 0 ]
	LINE=$(printf '%s\n' "$output" | grep '^{' | tail -1)
	[ "$(json_get "$LINE" ok)" = true ]
	[ "$(json_get "$LINE" technique)" = "$tech" ]
	[ -z "$(runc --root "$froot" list -q)" ]
	[ "$(runc --root "$troot" state c1 | jq -r .status)" = running ]
	# cgroup v2: the init is in the destination bundle's cgroup, where runc manages it (runc
	# 1.1 alone would leave it in the source's: docs/notes-platform.md, "runc 1.1 on cgroup
	# v2"), and the source's pause froze the container's own cgroup.
	local pid want
	pid=$(runc --root "$troot" state c1 | jq .pid)
	want=$(jq -r .linux.cgroupsPath "$tbase/c1/config.json")
	grep -x "0::$want" "/proc/$pid/cgroup"
	[[ "$(json_get "$LINE" notes)" != *"not frozen"* ]]
	# The rootfs log is complete: what the source wrote up to the freeze, exactly.
	local n
	n=$(wc -l <"$fbase/c1/rootfs/counter.log")
	[ "$n" -ge 5 ]
	head -n "$n" "$tbase/c1/rootfs/counter.log" | cmp - "$fbase/c1/rootfs/counter.log"
	# The counter goes on from the frozen value.
	wait_lines "$tbase/c1/rootfs/counter.log" $((n + 3)) 60
	assert_consecutive "$tbase/c1/rootfs/counter.log"
	rm -f "$TEST_TMP/broken"
	if [ -n "${TIMINGS:-}" ]; then
		[ -s "$TIMINGS" ] || printf 'move\ttechnique\twall_s\ttotal_ms\tdowntime_ms\tdump_ms\trestore_ms\tpre_dumps\tlazy_ms\n' >"$TIMINGS"
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$from" "$tech" "$secs" \
			"$(json_get "$LINE" total_ms)" "$(json_get "$LINE" downtime_ms)" \
			"$(json_get "$LINE" dump_ms)" "$(json_get "$LINE" restore_ms)" \
			"$(printf '%s' "$LINE" | jq '.pre_dumps | length')" \
			"$(json_get "$LINE" lazy_ms)" >>"$TIMINGS"
	fi
}

@test "the guest: cgroup v2, soft-dirty tracking, userfaultfd, netem, criu check" {
	[ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]
	criu check --feature mem_dirty_track
	criu check --feature uffd-noncoop
	criu check
	ip link add vmh-d0 type dummy
	tc qdisc add dev vmh-d0 root netem delay 10ms
	tc qdisc show dev vmh-d0 | grep -q netem
	ip link del vmh-d0
	# The container's cgroup is the one runc manages (cgroup v2: one hierarchy).
	pid=$(runc --root "$SRC_ROOT" state c1 | jq .pid)
	want=$(jq -r .linux.cgroupsPath "$SRC_BASE/c1/config.json")
	grep -qx "0::$want" "/proc/$pid/cgroup"
}

@test "pre-copy A -> B: three rounds, then the final dump" {
	move a pre-copy --pre-dumps 3 --converge 1
	[ "$(printf '%s' "$LINE" | jq '.pre_dumps | length')" -eq 3 ]
	[ "$(printf '%s' "$LINE" | jq '[.pre_dumps[].bytes] | min')" -gt 0 ]
	[ "$(json_get "$LINE" pages_skipped_parent)" -gt 0 ]
}

@test "hybrid B -> A (B's second dump, cgroup v2): --converge stops after round 1, lazy final dump" {
	move b hybrid --pre-dumps 6 --converge 1073741824 \
		--page-server-port $((24000 + RANDOM % 1000))
	[ "$(printf '%s' "$LINE" | jq '.pre_dumps | length')" -eq 1 ]
	[ "$(json_get "$LINE" lazy_bytes)" -gt 0 ]
}

@test "cold A -> B" {
	move a cold
	[ "$(json_get "$LINE" pages_written)" -gt 0 ]
}

@test "post-copy B -> A: home again" {
	move b post-copy --page-server-port $((24000 + RANDOM % 1000))
	[ "$(json_get "$LINE" lazy_bytes)" -gt 0 ]
	[ "$(runc --root "$SRC_ROOT" state c1 | jq -r .status)" = running ]
}
