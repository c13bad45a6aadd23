#!/usr/bin/env bats
# Pre-copy, post-copy and hybrid with the stand-in runc and criu: the exact argv on both
# hosts, the order of the phases, the rounds and their report, and refusals before the
# container is touched.

load ../lib/common

setup() {
	BG_PIDS=()
	mk_hosts
	export FAKE_CRIU_DIR="$TEST_TMP/criu"
	FAKE_CRIU="$_COMMON_TESTS_DIR/fake-criu"
	mkdir -p "$FAKE_CRIU_DIR"
	sshd_start "$TEST_TMP/sshd"
	fake_bundle "$SRC_BASE" c1
	fake_bundle "$DST_BASE" c1
	echo 1048576 >"$SRC_ROOT/image-size"
	"$FAKE_RUNC" --root "$SRC_ROOT" run -d --bundle "$SRC_BASE/c1" c1
	PS_PORT=$(free_port)
	PIPE_MAX_BEFORE=$(cat /proc/sys/fs/pipe-max-size)
	dst_start "$TEST_TMP/dst.log" --json -b "$DST_BASE" --runc "$FAKE_RUNC" --runc-root "$DST_ROOT" \
		--criu "$FAKE_CRIU"
}

teardown() {
	for p in "${BG_PIDS[@]}"; do stop_pid "$p" 2; done
	dst_stop
	sshd_stop
	echo "$PIPE_MAX_BEFORE" >/proc/sys/fs/pipe-max-size
	rm_hosts
}

src() {
	run "$MIGRATE_SRC" -b "$SRC_BASE" --runc "$FAKE_RUNC" --runc-root "$SRC_ROOT" \
		--criu "$FAKE_CRIU" --ssh-port "$SSHD_PORT" ${DST_TOKEN:+--dst-token-file "$DST_TOKEN"} -i "$SSH_KEY" \
		--known-hosts "$SSH_KNOWN_HOSTS" --socket "$DST_SOCKET" --page-server-port "$PS_PORT" "$@"
}

ckpt_lines() { grep -- ' checkpoint ' "$SRC_ROOT/argv.log"; }

@test "pre-copy (the seed's True False): one pre-dump sent while running, then the final dump on it" {
	src --json c1 127.0.0.1 True False
	echo "$output"
	[ "$status" -eq 0 ]
	run ckpt_lines
	[ "${lines[0]}" = "--root $SRC_ROOT --criu $FAKE_CRIU checkpoint --pre-dump --image-path $SRC_BASE/c1/parent/1 c1" ]
	[ "${lines[1]}" = "--root $SRC_ROOT --criu $FAKE_CRIU checkpoint --image-path $SRC_BASE/c1/image --parent-path ../parent/1 c1" ]
	[ "${#lines[@]}" -eq 2 ]
	# The pre-dump reached the destination, and the final image links to it there.
	cmp "$SRC_BASE/c1/parent/1/pages-1.img" "$DST_BASE/c1/parent/1/pages-1.img"
	[ "$(readlink "$DST_BASE/c1/image/parent")" = ../parent/1 ]
	# runc --log: the restored container inherits runc's stdio, so runc's messages come through a log
	grep -Eqx -- "--root $DST_ROOT --criu $FAKE_CRIU --log /proc/self/fd/[0-9]+ restore -d --image-path $DST_BASE/c1/image --work-path $DST_BASE/c1/work --bundle $DST_BASE/c1 c1" "$DST_ROOT/argv.log"
	[ "$(fake_status "$DST_ROOT" c1)" = running ]
	[ "$(fake_status "$SRC_ROOT" c1)" = absent ]
	run grep -c "check --feature mem_dirty_track" "$FAKE_CRIU_DIR/argv.log"
	[ "$output" -eq 1 ]
}

@test "pre-copy report: the pre_dumps array, one entry per round" {
	src --json --pre-dumps 3 -t pre-copy c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 0 ]
	line=$(printf '%s\n' "$output" | grep '^{')
	[ "$(json_get "$line" technique)" = pre-copy ]
	pre=$(json_get "$line" pre_dumps)
	[ "$(jq length <<<"$pre")" -eq 3 ]
	for i in 0 1 2; do
		[ "$(jq ".[$i].bytes" <<<"$pre")" -ge 1048576 ]
		[ "$(jq ".[$i].xfer_bytes" <<<"$pre")" -gt 0 ]
		[ "$(jq ".[$i].dump_ms" <<<"$pre")" -ge 0 ]
		[ "$(jq ".[$i].xfer_ms" <<<"$pre")" -ge 0 ]
	done
	# Each round chained on the one before; the final dump on the last.
	run ckpt_lines
	[[ "${lines[0]}" == *"--pre-dump --image-path $SRC_BASE/c1/parent/1 c1" ]]
	[[ "${lines[1]}" == *"--pre-dump --image-path $SRC_BASE/c1/parent/2 --parent-path ../1 c1" ]]
	[[ "${lines[2]}" == *"--pre-dump --image-path $SRC_BASE/c1/parent/3 --parent-path ../2 c1" ]]
	[[ "${lines[3]}" == *"--image-path $SRC_BASE/c1/image --parent-path ../parent/3 c1" ]]
}

@test "pre-copy --converge stops the rounds once one dumps less" {
	src --json --pre-dumps 5 --converge 4M -t pre-copy c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 0 ]
	line=$(printf '%s\n' "$output" | grep '^{')
	[ "$(jq length <<<"$(json_get "$line" pre_dumps)")" -eq 1 ]
	[[ "$output" == *"converged"* ]]
	run grep -c -- '--pre-dump' "$SRC_ROOT/argv.log"
	[ "$output" -eq 1 ]
	# Rounds bigger than the threshold go on.
	"$FAKE_RUNC" --root "$DST_ROOT" delete -f c1
	"$FAKE_RUNC" --root "$SRC_ROOT" run -d --bundle "$SRC_BASE/c1" c1
	: >"$SRC_ROOT/argv.log"
	src --json --pre-dumps 3 --converge 512K -t pre-copy c1 127.0.0.1
	[ "$status" -eq 0 ]
	run grep -c -- '--pre-dump' "$SRC_ROOT/argv.log"
	[ "$output" -eq 3 ]
}

@test "post-copy (the seed's False True): lazy dump, lazy-pages daemon before the restore, lazy report" {
	# The restore must find the lazy-pages daemon's socket already there.
	printf '#!/bin/sh\ntest -e "%s/c1/work/lazy-pages.socket" || { echo "no lazy-pages socket" >&2; exit 1; }\n' "$DST_BASE" >"$DST_ROOT/hook-restore"
	chmod +x "$DST_ROOT/hook-restore"
	# Long enough that a slow restore (a loaded machine, the sanitized pass) cannot eat it.
	echo 1500 >"$FAKE_CRIU_DIR/lazy-ms"
	src --json c1 127.0.0.1 False True
	echo "$output"; cat "$TEST_TMP/dst.log"
	[ "$status" -eq 0 ]
	line=$(printf '%s\n' "$output" | grep '^{')
	run ckpt_lines
	[[ "${lines[0]}" =~ checkpoint\ --image-path\ $SRC_BASE/c1/image\ --lazy-pages\ --page-server\ 127\.0\.0\.1:$PS_PORT\ --status-fd\ [0-9]+\ c1$ ]]
	# The daemon gets the pages connection itself (--ps-socket); it connects nowhere.
	grep -Eqx "lazy-pages --page-server --ps-socket [0-9]+ --images-dir $DST_BASE/c1/image --work-dir $DST_BASE/c1/work --log-file $DST_BASE/c1/work/lazy-pages.log -v4" "$FAKE_CRIU_DIR/argv.log"
	# The stand-in daemon checked the bytes: the source's pages-1.img, through the tunnel.
	cmp "$DST_BASE/c1/work/lazy-pages.received" "$DST_BASE/c1/image/pages-1.img"
	[ "$(json_get "$line" lazy_wire_bytes)" -ge 1048576 ]
	# the stand-in page server got the daemon's goodbye (handed over after lazy_done ok)
	grep -qx goodbye "$SRC_BASE/c1/image/fakeps.out"
	grep -q -- "restore -d --lazy-pages --image-path $DST_BASE/c1/image" "$DST_ROOT/argv.log"
	grep -qx "check --feature uffd-noncoop" "$FAKE_CRIU_DIR/argv.log"
	[ "$(json_get "$line" technique)" = post-copy ]
	[ "$(json_get "$line" lazy_ms)" -ge 750 ]   # the stand-in daemon fetches for 1500 ms from its start
	[ "$(json_get "$line" lazy_bytes)" -eq 1048576 ]
	[ "$(json_get "$line" page_server_ms)" -ge 0 ]
	[ "$(json_get "$line" downtime_ms)" -lt "$(json_get "$line" total_ms)" ]
	wait_for_line "$TEST_TMP/dst.log" '"role":"destination"'
	dl=$(grep '"role":"destination"' "$TEST_TMP/dst.log")
	[ "$(json_get "$dl" lazy_ms)" -ge 750 ]
	[ "$(fake_status "$DST_ROOT" c1)" = running ]
	[ "$(fake_status "$SRC_ROOT" c1)" = absent ]
}

@test "hybrid (True True): pre-dump rounds, then the lazy final dump on the last one" {
	src --json c1 127.0.0.1 True True
	echo "$output"
	[ "$status" -eq 0 ]
	line=$(printf '%s\n' "$output" | grep '^{')
	run ckpt_lines
	[[ "${lines[0]}" == *"checkpoint --pre-dump --image-path $SRC_BASE/c1/parent/1 c1" ]]
	[[ "${lines[1]}" == *"checkpoint --image-path $SRC_BASE/c1/image --parent-path ../parent/1 --lazy-pages --page-server 127.0.0.1:$PS_PORT --status-fd "* ]]
	[ "$(json_get "$line" technique)" = hybrid ]
	[ "$(jq length <<<"$(json_get "$line" pre_dumps)")" -eq 1 ]
	[ "$(json_get "$line" lazy_bytes)" -eq 1048576 ]
	[ "$(fake_status "$DST_ROOT" c1)" = running ]
}

@test "post-copy with -p (TCP through SSH) and with --direct: the pages connection goes the way the control channel went" {
	src --json -p "$DST_PORT" -t post-copy c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 0 ]
	line=$(printf '%s\n' "$output" | grep '^{')
	[ "$(json_get "$line" lazy_wire_bytes)" -ge 1048576 ]
	# the stand-in page server got the daemon's goodbye (handed over after lazy_done ok)
	grep -qx goodbye "$SRC_BASE/c1/image/fakeps.out"
	cmp "$DST_BASE/c1/work/lazy-pages.received" "$DST_BASE/c1/image/pages-1.img"
	[ "$(fake_status "$DST_ROOT" c1)" = running ]
	"$FAKE_RUNC" --root "$DST_ROOT" delete -f c1
	"$FAKE_RUNC" --root "$SRC_ROOT" run -d --bundle "$SRC_BASE/c1" c1
	rm -f "$DST_BASE/c1/work/lazy-pages.received" "$SRC_BASE/c1/image/fakeps.out"
	src --json --direct -p "$DST_PORT" --token-file "$DST_TOKEN" -t post-copy c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 0 ]
	line=$(printf '%s\n' "$output" | grep '^{')
	[ "$(json_get "$line" lazy_wire_bytes)" -ge 1048576 ]
	# the stand-in page server got the daemon's goodbye (handed over after lazy_done ok)
	grep -qx goodbye "$SRC_BASE/c1/image/fakeps.out"
	cmp "$DST_BASE/c1/work/lazy-pages.received" "$DST_BASE/c1/image/pages-1.img"
	[ "$(fake_status "$DST_ROOT" c1)" = running ]
	[ "$(fake_status "$SRC_ROOT" c1)" = absent ]
}

@test "--page-server-addr is refused: the page server listens on loopback only" {
	src --json --page-server-addr 10.0.0.1 -t post-copy c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 1 ] # a usage error
	[[ "$output" == *"--page-server-addr is gone"*"127.0.0.1 only"* ]]
	[ ! -e "$SRC_ROOT/argv.log" ] || ! grep -q checkpoint "$SRC_ROOT/argv.log"
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
}

@test "a local process that connects to the page server first gets nothing more: refused, the container runs on the source" {
	# It connects the moment the page server listens, before migrate-src can.
	cat >"$SRC_ROOT/hook-page-server" <<HOOK
#!/bin/bash
( exec 7<>/dev/tcp/127.0.0.1/\$1; sleep 30 ) </dev/null >/dev/null 2>&1 &
echo \$! >"$TEST_TMP/squatter.pid"
sleep 0.3
HOOK
	chmod +x "$SRC_ROOT/hook-page-server"
	src -t post-copy c1 127.0.0.1
	echo "$output"
	kill "$(cat "$TEST_TMP/squatter.pid")" 2>/dev/null || true
	[ "$status" -eq 3 ]
	[[ "$output" == *"another local process connected to it first"* ]]
	[[ "$output" == *"memory may have been read"* ]]
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
	[ "$(fake_status "$DST_ROOT" c1)" = absent ]
	# nothing was asked of the destination's runc
	! grep -q restore "$DST_ROOT/argv.log" 2>/dev/null
}

@test "the lazy-pages daemon dies mid-transfer (no goodbye): the page server's connection is reset, CRIU resumes the container here, the destination removes its copy" {
	echo 100000 >"$FAKE_CRIU_DIR/cut-lazy-pages"
	echo 20000 >"$SRC_ROOT/lazy-serve-ms"
	src -t post-copy c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"went away after 100000 bytes"* ]]
	[[ "$output" == *"running on this host again"* ]]
	# The stand-in page server saw a broken connection, not an end (which CRIU would take
	# for a finished transfer, and kill the container here).
	grep -q "the connection broke" "$SRC_BASE/c1/image/fakeps.err"
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
	[ "$(fake_status "$DST_ROOT" c1)" = absent ]
}

@test "the SSH connection is cut in the lazy phase: reset on both sides, the container runs on the source only" {
	echo 5 >"$FAKE_CRIU_DIR/pause-lazy-pages"
	echo 60000 >"$SRC_ROOT/lazy-serve-ms"
	# --timeout 20: the lazy phase's silence limit is 5 s (timeouts.h, 8.)
	"$MIGRATE_SRC" -b "$SRC_BASE" --runc "$FAKE_RUNC" --runc-root "$SRC_ROOT" --criu "$FAKE_CRIU" \
		--ssh-port "$SSHD_PORT" --dst-token-file "$DST_TOKEN" -i "$SSH_KEY" \
		--known-hosts "$SSH_KNOWN_HOSTS" --socket "$DST_SOCKET" --page-server-port "$PS_PORT" \
		--timeout 20 -t post-copy c1 127.0.0.1 >"$TEST_TMP/src.out" 2>&1 3>&- &
	src_pid=$!
	BG_PIDS+=("$src_pid")
	# the lazy phase: committed, the daemon in the middle of its pages
	wait_for_line "$TEST_TMP/src.out" 'its memory follows through the page tunnel' 60
	for _ in $(seq 200); do [ -e "$FAKE_CRIU_DIR/lazy-paused" ] && break; sleep 0.1; done
	[ -e "$FAKE_CRIU_DIR/lazy-paused" ]
	# End every SSH session of our own sshd (its children, by PID): the link is gone.
	for p in $(ps -o pid= --ppid "$SSHD_PID"); do kill -KILL "$p"; done
	t0=$SECONDS
	wait "$src_pid" && rc=0 || rc=$?
	cat "$TEST_TMP/src.out"
	[ "$rc" -eq 3 ]
	# it waited the silence limit and the margin before letting CRIU resume the container
	[ $((SECONDS - t0)) -ge 9 ]
	grep -q "running on this host again" "$TEST_TMP/src.out"
	wait_for_line "$TEST_TMP/dst.log" '"role":"destination"' 20
	run cat "$TEST_TMP/dst.log"
	echo "$output"
	[[ "$output" == *"incomplete copy"* ]]
	[ "$(fake_status "$DST_ROOT" c1)" = absent ]
	grep -q "the connection broke" "$SRC_BASE/c1/image/fakeps.err"
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
}

@test "the page server never signals ready: stopped after --timeout, container runs on the source" {
	touch "$SRC_ROOT/hang-checkpoint"
	src --timeout 2 -t post-copy c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"checkpoint did not finish in 2 s"* ]]
	[[ "$output" == *"running on this host again"* ]]
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
	[ "$(fake_status "$DST_ROOT" c1)" = absent ]
	run grep -c 'restore' "$DST_ROOT/argv.log"
	[ "$output" = 0 ]
}

@test "pre-copy and hybrid are refused without dirty tracking on the source (exit 2)" {
	touch "$FAKE_CRIU_DIR/missing-mem_dirty_track"
	for t in pre-copy hybrid; do
		src -t "$t" c1 127.0.0.1
		echo "$output"
		[ "$status" -eq 2 ]
		[[ "$output" == *"$t needs memory dirty tracking"*"CONFIG_MEM_SOFT_DIRTY"* ]]
		[ "$(fake_status "$SRC_ROOT" c1)" = running ]
	done
	run grep -c checkpoint "$SRC_ROOT/argv.log"
	[ "$output" = 0 ]
}

@test "post-copy is refused when the destination lacks userfaultfd (exit 2)" {
	touch "$FAKE_CRIU_DIR/missing-uffd-noncoop"
	src -t post-copy c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"needs userfaultfd on the destination"*"uffd-noncoop"* ]]
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
	run grep -c checkpoint "$SRC_ROOT/argv.log"
	[ "$output" = 0 ]
}

@test "the destination's lazy restore fails: the page server is stopped, the container runs on the source" {
	echo "criu failed: type RESTORE errno 0" >"$DST_ROOT/fail-restore"
	echo 20000 >"$SRC_ROOT/lazy-serve-ms"
	src -t post-copy c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"criu failed: type RESTORE"* ]]
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
	[ "$(fake_status "$DST_ROOT" c1)" = absent ]
}

@test "the lazy-pages daemon dies during the restore: the error says so, with its log's words" {
	echo "criu failed: type RESTORE errno 0" >"$DST_ROOT/fail-restore"
	echo "uffd: cannot handle the tasks" >"$FAKE_CRIU_DIR/die-lazy-pages"
	# the restore fails only once the daemon has exited (a zombie, or reaped)
	cat >"$DST_ROOT/hook-restore" <<HOOK
#!/bin/bash
touch "$FAKE_CRIU_DIR/lazy-die-now"
pid=\$(cat "$FAKE_CRIU_DIR/lazy-pages.pid")
for _ in \$(seq 100); do
	st=\$(awk '{ print \$3 }' "/proc/\$pid/stat" 2>/dev/null || echo gone)
	[ "\$st" = Z ] || [ "\$st" = gone ] && exit 0
	sleep 0.05
done
exit 1
HOOK
	chmod +x "$DST_ROOT/hook-restore"
	src -t post-copy c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"criu failed: type RESTORE"*"the lazy-pages daemon had ended before: criu lazy-pages exited with code 1"* ]]
	[[ "$output" == *"lazy-pages.log says: "*"uffd: cannot handle the tasks"* ]]
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
	[ "$(fake_status "$DST_ROOT" c1)" = absent ]
}

@test "post-copy raises fs.pipe-max-size when CRIU needs it, or refuses with --no-sysctl" {
	cap=$(sed -n 's/^CapEff:[[:space:]]*//p' /proc/self/status)
	has_cap=$(( (0x$cap >> 24) & 1 )) # CAP_SYS_RESOURCE
	echo 1048576 >/proc/sys/fs/pipe-max-size
	src --no-sysctl -t post-copy c1 127.0.0.1
	echo "$output"
	if [ "$has_cap" = 1 ]; then
		[ "$status" -eq 0 ] # CAP_SYS_RESOURCE: CRIU can size its pipe; nothing to do
		return
	fi
	[ "$status" -eq 2 ]
	[[ "$output" == *"run: sysctl -w fs.pipe-max-size=4194304"* ]]
	[ "$(cat /proc/sys/fs/pipe-max-size)" -eq 1048576 ]
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
	src -t post-copy c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"raised fs.pipe-max-size from 1048576 to 4194304"* ]]
	[ "$(cat /proc/sys/fs/pipe-max-size)" -eq 4194304 ]
}

@test "the lazy transfer breaks: the destination discards its copy, the container runs on the source" {
	echo "Remote side closed connection" >"$FAKE_CRIU_DIR/fail-lazy-pages"
	touch "$SRC_ROOT/fail-lazy-serve"
	src -t post-copy c1 127.0.0.1
	echo "$output"; cat "$TEST_TMP/dst.log"
	[ "$status" -eq 3 ]
	[[ "$output" == *"Remote side closed connection"* ]]
	[[ "$output" == *"the destination removed its incomplete copy of c1"* ]]
	[[ "$output" == *"running on this host again"* ]]
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
	[ "$(fake_status "$DST_ROOT" c1)" = absent ]
	grep -q -- "kill c1 KILL" "$DST_ROOT/argv.log"
}

@test "the lazy-pages daemon fails after its goodbye (CRIU's says it either way): the page server never sees it, the container runs on the source" {
	# the daemon fetches every page, says its goodbye, gets the tunnel's answer, exits 1
	echo "Remote side closed connection" >"$FAKE_CRIU_DIR/fail-lazy-pages"
	src -t post-copy c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"Remote side closed connection"* ]]
	[[ "$output" == *"the destination removed its incomplete copy of c1"* ]]
	[[ "$output" == *"running on this host again"* ]]
	# the stand-in page server got a reset, never the goodbye (which it would have taken
	# for a finished transfer, and CRIU would have killed the container here)
	grep -q "the connection broke" "$SRC_BASE/c1/image/fakeps.err"
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
	[ "$(fake_status "$DST_ROOT" c1)" = absent ]
}

@test "post-copy, the destination's handler killed during the restore: exit 4, the page server left to serve the pages" {
	# the handler (the parent of the stand-in runc that runs this hook) dies mid-restore; the
	# restore goes on without it
	cat >"$DST_ROOT/hook-restore" <<'HOOK'
#!/bin/sh
kill -KILL "$(ps -o ppid= -p "$PPID" | tr -d ' ')"
HOOK
	chmod +x "$DST_ROOT/hook-restore"
	src -t post-copy c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 4 ]
	[[ "$output" == *"may or may not be running on 127.0.0.1"* ]]
	# not killed: a destination that kept its copy would lose its memory with it
	[[ "$output" == *"the page server here then served every page the destination asked for"* ]]
	[ "$(fake_status "$DST_ROOT" c1)" = running ]
	[ "$(fake_status "$SRC_ROOT" c1)" = absent ]
}
