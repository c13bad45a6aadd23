#!/usr/bin/env bats
# Fault injection: signals to migrate-src in each phase, migrate-dst killed or stopped during a
# restore, sshd gone, the destination's disk full, rsync killed, a restore reply that never
# comes.  Real sshd, rsync and migrate-dst; the stand-in runc (tests/fake-runc) on both hosts.
# Each test asserts the exit code, the message naming the cause, and that the container runs
# on exactly one host afterwards (or, with exit 4, what the message says); several then check
# that the destination still serves a normal migration.
#
# migrate-src finds rsync in PATH: the tests put a wrapper first ($TEST_TMP/bin/rsync) that
# counts its calls (1 = the first sync of the rootfs while the container runs, 2 = the final
# transfer) and can delay (rsync-ctl/sleep-N seconds) or throttle (rsync-ctl/bwlimit-N KiB/s)
# call N, then execs the real rsync under the same PID.

load ../lib/common

setup() {
	BG_PIDS=() BG_STARTS=() MNT=""
	mk_hosts
	sshd_start "$TEST_TMP/sshd"
	for c in c1 c2; do
		fake_bundle "$SRC_BASE" "$c"
		fake_bundle "$DST_BASE" "$c"
		"$FAKE_RUNC" --root "$SRC_ROOT" run -d --bundle "$SRC_BASE/$c" "$c"
	done
	echo 1048576 >"$SRC_ROOT/image-size"
	mk_rsync_wrapper
	dst_start "$TEST_TMP/dst.log" --json -b "$DST_BASE" --runc "$FAKE_RUNC" --runc-root "$DST_ROOT"
}

teardown() {
	local i p
	for i in "${!BG_PIDS[@]}"; do stop_pid "${BG_PIDS[$i]}" 2 "${BG_STARTS[$i]}"; done
	# Whatever the tools left behind (a handler still in a restore, an orphaned runc), each
	# by its PID, before and after migrate-dst and sshd are stopped.
	for p in $(leftovers | cut -d' ' -f1); do stop_pid "$p" 1; done
	dst_stop
	sshd_stop
	for p in $(leftovers | cut -d' ' -f1); do stop_pid "$p" 1; done
	if [ -n "$MNT" ] && mountpoint -q "$MNT"; then
		umount "$MNT" || umount -l "$MNT"
	fi
	if [ -n "$MNT" ] && mountpoint -q "$MNT"; then
		echo "teardown: $MNT still mounted; leaving $TEST_TMP" >&2
		return 1
	fi
	rm_hosts
}

# --- helpers ---------------------------------------------------------------------------------

mk_rsync_wrapper() {
	local real
	real=$(command -v rsync)
	mkdir -p "$TEST_TMP/bin" "$TEST_TMP/rsync-ctl"
	cat >"$TEST_TMP/bin/rsync" <<EOF
#!/bin/sh
# The version check of the preflight is not a transfer: not counted.
[ "\$*" = --version ] && exec "$real" --version
d=$TEST_TMP/rsync-ctl
n=\$((\$(cat "\$d/calls" 2>/dev/null || echo 0) + 1))
echo "\$n" >"\$d/calls"
: >"\$d/started-\$n"
[ -f "\$d/sleep-\$n" ] && sleep "\$(cat "\$d/sleep-\$n")"
[ -f "\$d/bwlimit-\$n" ] && exec "$real" --bwlimit="\$(cat "\$d/bwlimit-\$n")" "\$@"
exec "$real" "\$@"
EOF
	chmod +x "$TEST_TMP/bin/rsync"
}

rsync_calls() { cat "$TEST_TMP/rsync-ctl/calls" 2>/dev/null || echo 0; }

# The options every migration needs (ports as they are now), then ARGS.
src_cmd() {
	env PATH="$TEST_TMP/bin:$PATH" "$MIGRATE_SRC" -b "$SRC_BASE" --runc "$FAKE_RUNC" \
		--runc-root "$SRC_ROOT" --ssh-port "$SSHD_PORT" ${DST_TOKEN:+--dst-token-file "$DST_TOKEN"} -i "$SSH_KEY" \
		--known-hosts "$SSH_KNOWN_HOSTS" --socket "$DST_SOCKET" "$@"
}

src() { run src_cmd "$@"; }

# src_bg ARGS...: migrate-src in the background (SRC_PID), output in $TEST_TMP/src.out.
src_bg() {
	PATH="$TEST_TMP/bin:$PATH" "$MIGRATE_SRC" -b "$SRC_BASE" --runc "$FAKE_RUNC" \
		--runc-root "$SRC_ROOT" --ssh-port "$SSHD_PORT" ${DST_TOKEN:+--dst-token-file "$DST_TOKEN"} -i "$SSH_KEY" \
		--known-hosts "$SSH_KNOWN_HOSTS" --socket "$DST_SOCKET" "$@" \
		</dev/null >"$TEST_TMP/src.out" 2>&1 3>&- &
	SRC_PID=$!
	SRC_T0=$SECONDS
	BG_PIDS+=("$SRC_PID")
	BG_STARTS+=("$(_pid_start "$SRC_PID")")
}

# src_wait [SECONDS]: waits for the background migrate-src (default 60 s); sets status and
# output as `run` does, and SRC_SECS.  One still running after SECONDS is a hang: status 124.
src_wait() {
	local secs=${1:-60} i
	for ((i = 0; i < secs * 10; i++)); do
		_pid_running "$SRC_PID" || break
		sleep 0.1
	done
	output=$(cat "$TEST_TMP/src.out")
	SRC_SECS=$((SECONDS - SRC_T0))
	if _pid_running "$SRC_PID"; then
		echo "migrate-src (PID $SRC_PID) still running after $secs s" >&2
		status=124
		return 0
	fi
	status=0
	wait "$SRC_PID" || status=$?
}

# ppid_map: "PID PPID" of every process, one a line.
ppid_map() {
	local f s pid ppid
	for f in /proc/[0-9]*/stat; do
		{ read -r s <"$f"; } 2>/dev/null || continue
		pid=${f#/proc/} pid=${pid%/stat}
		s=${s##*) }
		read -r _ ppid _ <<<"$s"
		echo "$pid $ppid"
	done
}

# children_of PID: the PIDs whose parent is PID.
children_of() {
	ppid_map | awk -v p="$1" '$2 == p { print $1 }'
}

# descendants PID...: their children, their children's children, ...
descendants() {
	ppid_map | awk -v roots="$*" '
		{ kids[$2] = kids[$2] " " $1 }
		END {
			n = split(roots, todo, " ")
			while (n > 0) {
				p = todo[n--]
				m = split(kids[p], k, " ")
				for (i = 1; i <= m; i++) { print k[i]; todo[++n] = k[i] }
			}
		}'
}

# leftovers: "PID command line" of every live process that sshd or migrate-dst started (their
# sessions and handlers included) or whose command line names this test's tree, except sshd
# and migrate-dst's main process themselves.
leftovers() {
	local p cmd
	for p in $( (
		descendants ${SSHD_PID:-} ${DST_PID:-}
		grep -lsF -- "$TEST_TMP" /proc/[0-9]*/cmdline | cut -d/ -f3
	) | sort -un); do
		[ "$p" != "$$" ] && [ "$p" != "${SSHD_PID:-}" ] && [ "$p" != "${DST_PID:-}" ] || continue
		_pid_running "$p" || continue
		cmd=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) || continue
		[ -n "$cmd" ] || continue
		echo "$p $cmd"
	done
	return 0
}

# assert_no_leftovers [SECONDS]: none after at most SECONDS (default 3).
# SIGKILL to migrate-dst and its connection handlers (by PID, each checked to be ours).
kill_dst_and_handlers() {
	local handlers h
	handlers=$(children_of "$DST_PID")
	[ -n "$handlers" ]
	for h in $handlers; do [ "$(cat "/proc/$h/comm")" = migrate-dst ]; done
	kill -KILL $handlers "$DST_PID"
}

assert_no_leftovers() {
	local end=$((SECONDS + ${1:-3})) left
	while :; do
		left=$(leftovers)
		[ -z "$left" ] && return 0
		[ "$SECONDS" -lt "$end" ] || break
		sleep 0.2
	done
	echo "processes left over after ${1:-3} s:" >&2
	echo "$left" >&2
	return 1
}

# runs_on NAME: where the container runs: src, dst, both or none.  Any state other than
# running or absent on a host counts as "none" there and is printed.
runs_on() {
	local s d
	s=$(fake_status "$SRC_ROOT" "$1") d=$(fake_status "$DST_ROOT" "$1")
	case $s in running | absent) ;; *) echo "$1 is $s on the source" >&2 ;; esac
	case $d in running | absent) ;; *) echo "$1 is $d on the destination" >&2 ;; esac
	if [ "$s" = running ] && [ "$d" = running ]; then echo both
	elif [ "$s" = running ] && [ "$d" = absent ]; then echo src
	elif [ "$d" = running ] && [ "$s" = absent ]; then echo dst
	else echo none; fi
}

# A normal migration of c2 right after a fault: the destination still serves.
assert_next_migration_works() {
	rm -f "$SRC_ROOT"/delay-* "$SRC_ROOT"/hang-* "$SRC_ROOT"/hook-* "$DST_ROOT"/delay-* \
		"$DST_ROOT"/hang-* "$DST_ROOT"/hook-* "$TEST_TMP"/rsync-ctl/sleep-* \
		"$TEST_TMP"/rsync-ctl/bwlimit-*
	echo 262144 >"$SRC_ROOT/image-size"
	src c2 127.0.0.1
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(runs_on c2)" = dst ]
}

# --- 1. signals to migrate-src ---------------------------------------------------------------

@test "SIGTERM during the preflight (destination's check): exit 2, container untouched" {
	echo 1.5 >"$DST_ROOT/delay-state"
	src_bg c1 127.0.0.1
	wait_for_line "$DST_ROOT/argv.log" ' state c1$'
	kill -TERM "$SRC_PID"
	src_wait 20
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"refused before touching the container"*"interrupted by a signal"* ]]
	[ "$(runs_on c1)" = src ]
	refute_grep ' checkpoint ' "$SRC_ROOT/argv.log"
	[ "$(rsync_calls)" -eq 0 ]
	assert_no_leftovers
}

@test "SIGINT during the first rootfs sync: exit 2, container untouched" {
	echo 1.5 >"$TEST_TMP/rsync-ctl/sleep-1"
	src_bg c1 127.0.0.1
	wait_for_line "$TEST_TMP/rsync-ctl/calls" '^1$'
	kill -INT "$SRC_PID"
	src_wait 20
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"refused before touching the container"*"interrupted by a signal"* ]]
	[ "$(runs_on c1)" = src ]
	refute_grep ' checkpoint ' "$SRC_ROOT/argv.log"
	[ "$(rsync_calls)" -eq 1 ]
	assert_no_leftovers
}

@test "SIGTERM during the checkpoint: it finishes, then rolled back: exit 3, runs on the source" {
	echo 1.5 >"$SRC_ROOT/delay-checkpoint"
	src_bg c1 127.0.0.1
	wait_for_line "$SRC_ROOT/argv.log" ' checkpoint '
	kill -TERM "$SRC_PID"
	src_wait 30
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"interrupted by a signal"* ]]
	[[ "$output" == *"runs on this host again"* ]]
	[ "$(runs_on c1)" = src ]
	grep -q -- "restore -d --image-path $SRC_BASE/c1/image" "$SRC_ROOT/argv.log"
	refute_grep ' restore ' "$DST_ROOT/argv.log"
	assert_no_leftovers
}

@test "(--transfer rsync) SIGTERM during the final transfer: rolled back, exit 3, runs on the source" {
	echo 1.5 >"$TEST_TMP/rsync-ctl/sleep-2"
	src_bg --transfer rsync c1 127.0.0.1
	wait_for_line "$TEST_TMP/rsync-ctl/calls" '^2$' 10
	kill -TERM "$SRC_PID"
	src_wait 30
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"interrupted by a signal"* ]]
	[[ "$output" == *"runs on this host again"* ]]
	[ "$(runs_on c1)" = src ]
	refute_grep ' restore ' "$DST_ROOT/argv.log"
	assert_no_leftovers
}

@test "SIGTERM while the destination restores: the source waits for the answer, one host" {
	# Once the restore request is sent only the destination's answer tells where the
	# container is: the source must not give up on a signal.  The restore succeeds, so the
	# right outcome is exit 0 with the container on the destination.
	echo 2 >"$DST_ROOT/delay-restore"
	src_bg c1 127.0.0.1
	wait_for_line "$DST_ROOT/argv.log" ' restore '
	kill -TERM "$SRC_PID"
	src_wait 40
	echo "$output"
	where=$(runs_on c1)
	echo "exit $status, container on: $where"
	case $status in
	0) [ "$where" = dst ] ;;
	3)
		[ "$where" = src ]
		[[ "$output" == *"runs on this host again"* ]]
		;;
	*) false ;;
	esac
	[ "$status" -eq 0 ]
	assert_no_leftovers
}

# --- 2. migrate-dst killed or stopped during the restore -------------------------------------

@test "migrate-dst killed during the restore: exit 4 saying it may run there, it runs on one host" {
	echo 3 >"$DST_ROOT/delay-restore"
	src_bg c1 127.0.0.1
	wait_for_line "$DST_ROOT/argv.log" ' restore '
	kill_dst_and_handlers
	src_wait 40
	echo "$output"
	[ "$status" -eq 4 ]
	[[ "$output" == *"no answer to the restore request"* ]]
	[[ "$output" == *"may or may not be running on 127.0.0.1"* ]]
	[[ "$output" == *"checkpoint image is in $SRC_BASE/c1/image"* ]]
	# The runc restore the handler had started goes on without it (its own process group).
	assert_no_leftovers 8
	[ "$(runs_on c1)" = dst ]
	# A new migrate-dst serves the next migration.
	wait "$DST_PID" 2>/dev/null || true
	dst_start "$TEST_TMP/dst2.log" --json -b "$DST_BASE" --runc "$FAKE_RUNC" --runc-root "$DST_ROOT"
	assert_next_migration_works
	assert_no_leftovers
}

@test "(--transfer rsync) migrate-dst killed during the final transfer: nothing was asked of it, rolled back, exit 3" {
	echo 512 >"$TEST_TMP/rsync-ctl/bwlimit-2" # 1 MiB image at 512 KiB/s: two seconds
	src_bg --transfer rsync c1 127.0.0.1
	for _ in $(seq 100); do [ -e "$TEST_TMP/rsync-ctl/started-2" ] && break; sleep 0.1; done
	[ -e "$TEST_TMP/rsync-ctl/started-2" ]
	kill_dst_and_handlers
	src_wait 40
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"control connection to migrate-dst closed before the restore request"* ]]
	[[ "$output" == *"runs on this host again"* ]]
	[ "$(runs_on c1)" = src ]
	refute_grep ' restore ' "$DST_ROOT/argv.log"
	wait "$DST_PID" 2>/dev/null || true
	dst_start "$TEST_TMP/dst2.log" --json -b "$DST_BASE" --runc "$FAKE_RUNC" --runc-root "$DST_ROOT"
	assert_next_migration_works
	assert_no_leftovers
}

@test "migrate-dst stopped (SIGTERM) during the restore: it finishes and answers, exit 0" {
	echo 2 >"$DST_ROOT/delay-restore"
	src_bg c1 127.0.0.1
	wait_for_line "$DST_ROOT/argv.log" ' restore '
	kill -TERM "$DST_PID"
	src_wait 40
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(runs_on c1)" = dst ]
	assert_no_leftovers
}

# --- 3. sshd gone ----------------------------------------------------------------------------

@test "sshd gone before the migration: exit 2 naming ssh, nothing touched" {
	sshd_stop
	src c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"refused before touching the container"* ]]
	[[ "$output" == *"ssh root@127.0.0.1:$SSHD_PORT: connect"* ]]
	[ "$(runs_on c1)" = src ]
	refute_grep ' checkpoint ' "$SRC_ROOT/argv.log"
	[ "$(rsync_calls)" -eq 0 ]
	refute_grep ' state ' "$DST_ROOT/argv.log"
	assert_no_leftovers
}

# --- 4. the destination's disk full ----------------------------------------------------------

# A destination base dir on a 2 MiB tmpfs, and an 8 MiB image to send to it.
small_destination() {
	dst_stop
	MNT=$TEST_TMP/dst-small
	mkdir -p "$MNT"
	mount -t tmpfs -o size=2m tmpfs "$MNT"
	for c in c1 c2; do fake_bundle "$MNT" "$c"; done
	dst_start "$TEST_TMP/dst.log" --json -b "$MNT" --runc "$FAKE_RUNC" --runc-root "$DST_ROOT"
	echo 8388608 >"$SRC_ROOT/image-size"
}

@test "destination disk full while the image streams: rolled back, exit 3, runs on the source" {
	small_destination
	src c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"receiving the image: writing pages-1.img: No space left on device"* ]]
	[[ "$output" == *"runs on this host again"* ]]
	[ "$(rsync_calls)" -eq 1 ] # the first pass only: the image went through the channel
	[ "$(runs_on c1)" = src ]
	refute_grep ' restore ' "$DST_ROOT/argv.log"
	assert_no_leftovers
	# migrate-dst removed the partial image: a small migration still fits.
	[ ! -e "$MNT/c1/image" ]
	assert_next_migration_works
	assert_no_leftovers
}

@test "(--transfer rsync) destination disk full during the final transfer: rolled back, exit 3, runs on the source" {
	small_destination
	src --transfer rsync c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"transfer: rsync exited with code"* ]]
	[[ "$output" == *"No space left on device"* ]]
	[[ "$output" == *"runs on this host again"* ]]
	[ "$(rsync_calls)" -eq 2 ]
	[ "$(runs_on c1)" = src ]
	refute_grep ' restore ' "$DST_ROOT/argv.log"
	assert_no_leftovers
	# rsync removed its partial file: a small migration still fits.
	assert_next_migration_works
	assert_no_leftovers
}

# --- 5. rsync killed -------------------------------------------------------------------------

@test "(--transfer rsync) rsync killed in the middle of the final transfer: rolled back, exit 3, runs on the source" {
	echo 16777216 >"$SRC_ROOT/image-size"
	echo 4096 >"$TEST_TMP/rsync-ctl/bwlimit-2" # 16 MiB at 4 MiB/s: about 4 s
	src_bg --transfer rsync c1 127.0.0.1
	wait_for_line "$TEST_TMP/rsync-ctl/calls" '^2$' 10
	# Data is arriving: rsync's temporary file on the destination.
	for ((i = 0; i < 100; i++)); do
		compgen -G "$DST_BASE/c1/image/.pages-1.img.*" >/dev/null && break
		sleep 0.05
	done
	compgen -G "$DST_BASE/c1/image/.pages-1.img.*" >/dev/null
	rs=""
	for p in $(children_of "$SRC_PID"); do
		if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = rsync ]; then rs=$p; fi
	done
	[ -n "$rs" ]
	kill -KILL "$rs"
	src_wait 30
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"transfer: rsync killed by signal 9"* ]]
	[[ "$output" == *"runs on this host again"* ]]
	[ "$(runs_on c1)" = src ]
	refute_grep ' restore ' "$DST_ROOT/argv.log"
	assert_no_leftovers 5
	assert_next_migration_works
	assert_no_leftovers
}

# --- 6. the restore reply never comes --------------------------------------------------------

@test "the destination's restore hangs and migrate-dst stops it: rolled back, exit 3" {
	dst_stop
	dst_start "$TEST_TMP/dst.log" --json --timeout 2 -b "$DST_BASE" --runc "$FAKE_RUNC" \
		--runc-root "$DST_ROOT"
	touch "$DST_ROOT/hang-restore"
	SECONDS=0
	src c1 127.0.0.1
	echo "$output"
	echo "took $SECONDS s"
	[ "$status" -eq 3 ]
	[[ "$output" == *"restore of c1 on the destination"*"timed out after 2 s"* ]]
	[[ "$output" == *"runs on this host again"* ]]
	[ "$(runs_on c1)" = src ]
	[ "$SECONDS" -lt 20 ]
	assert_no_leftovers
}

@test "the restore reply never comes: the source gives up and hangs up, the destination stops its restore: exit 3" {
	# migrate-dst's own limit (300 s) is far away: only the hang-up can stop its restore.
	touch "$DST_ROOT/hang-restore"
	SECONDS=0
	src --timeout 1 c1 127.0.0.1
	echo "$output"
	echo "took $SECONDS s"
	[ "$status" -eq 3 ]
	[[ "$output" == *"no answer to the restore request"*"timed out"* ]]
	[[ "$output" == *"runs on this host again"* ]]
	[ "$SECONDS" -lt 30 ]
	# The handler stopped runc restore when the source hung up and removed what it began.
	wait_for_line "$TEST_TMP/dst.log" 'stopped because the requester hung up'
	assert_no_leftovers 5
	[ "$(runs_on c1)" = src ]
	rm "$DST_ROOT/hang-restore"
	assert_next_migration_works
	assert_no_leftovers
}

# --- 7. one migration per container at a time --------------------------------------------------

@test "a second migrate-src of the same container is refused while the first runs" {
	echo 2 >"$SRC_ROOT/delay-checkpoint"
	src_bg c1 127.0.0.1
	wait_for_line "$SRC_ROOT/argv.log" ' checkpoint '
	src c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"another migration of this container is in progress on this host"*"locked by PID $SRC_PID"* ]]
	src_wait 30
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(runs_on c1)" = dst ]
	assert_no_leftovers
}

@test "the destination refuses a second migration of a container it is receiving" {
	# A lock held on the destination's bundle, as a handler in the middle of a migration holds it.
	flock -n --no-fork "$DST_BASE/c1/.migrate.lock" sleep 30 3>&- &
	holder=$!
	BG_PIDS+=("$holder") BG_STARTS+=("$(_pid_start "$holder")")
	for _ in $(seq 50); do [ -e "$DST_BASE/c1/.migrate.lock" ] && break; sleep 0.1; done
	src c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"destination: another migration of this container is in progress on this host"* ]]
	[ "$(runs_on c1)" = src ]
	assert_next_migration_works
}

# --- 8. a connection flood during a migration --------------------------------------------------

@test "100 connections at once neither disturb a migration in progress nor stop the service" {
	echo 2 >"$SRC_ROOT/delay-checkpoint"
	src_bg c1 127.0.0.1
	wait_for_line "$SRC_ROOT/argv.log" ' checkpoint '
	# 100 idle connections: at most 8 unauthenticated ones are kept, each new one evicts
	# the oldest, and the last ones are dropped after 10 s since they never prove the token.
	fds=()
	for _ in $(seq 100); do
		exec {fd}<>"/dev/tcp/127.0.0.1/$DST_PORT"
		fds+=("$fd")
	done
	src_wait 40
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(runs_on c1)" = dst ]
	for fd in "${fds[@]}"; do
		timeout 15 cat <&"$fd" >/dev/null || true
		exec {fd}<&-
	done
	evicted=$(grep -c 'evicting an unauthenticated connection' "$TEST_TMP/dst.log")
	echo "$evicted connections were evicted"
	[ "$evicted" -ge 90 ]
	kill -0 "$DST_PID"
	assert_next_migration_works
}

# --- 9. progress ---------------------------------------------------------------------------------

@test "on a terminal each transfer shows a progress line; not when output is not a terminal" {
	echo 1024 >"$TEST_TMP/rsync-ctl/bwlimit-2" # 1 MiB image at 1 MiB/s: a second of progress
	cmd=$(printf '%q ' env PATH="$TEST_TMP/bin:$PATH" "$MIGRATE_SRC" -b "$SRC_BASE" --runc "$FAKE_RUNC" \
		--runc-root "$SRC_ROOT" --ssh-port "$SSHD_PORT" ${DST_TOKEN:+--dst-token-file "$DST_TOKEN"} -i "$SSH_KEY" \
		--known-hosts "$SSH_KNOWN_HOSTS" --socket "$DST_SOCKET" c1 127.0.0.1)
	run script -qfec "$cmd" /dev/null
	echo "$output" | cat -v
	[ "$status" -eq 0 ]
	[[ "$output" == *"transfer: "*"%"*"/s"* ]]
	# without a terminal: no progress, no escape sequences
	rm -f "$TEST_TMP/rsync-ctl/calls"
	echo 1024 >"$TEST_TMP/rsync-ctl/bwlimit-2"
	src c2 127.0.0.1
	[ "$status" -eq 0 ]
	[[ "$output" != *"%"* ]]
	[[ "$output" != *$'\r'* ]]
}
