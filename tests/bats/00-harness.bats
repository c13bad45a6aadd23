#!/usr/bin/env bats
# The test harness itself: the throwaway sshd (real ssh, rsync and direct-tcpip through it),
# the temp tree and bundles, json_get, and the stand-in runc (tests/fake-runc).

load ../lib/common

setup() {
	BG_PIDS=()
	mk_hosts
}

teardown() {
	local p
	for p in "${BG_PIDS[@]}"; do stop_pid "$p" 2; done
	sshd_stop
	rm_hosts
}

# fr ROOT ARGS...: fake-runc with --root ROOT, under `run`.
fr() {
	local root=$1
	shift
	run "$FAKE_RUNC" --root "$root" "$@"
}

@test "sshd_start: real ssh login with the known host key, rsync over ssh, sshd_stop" {
	sshd_start "$TEST_TMP/sshd"
	[ -n "$SSHD_PID" ]
	kill -0 "$SSHD_PID"
	[ "$SSHD_PORT" -ge 20000 ]
	[ "$SSHD_PORT" -le 60000 ]
	[ -f "$SSH_KEY" ]
	[ -f "$SSH_KEY.pub" ]
	grep -q "^\[127.0.0.1\]:$SSHD_PORT ssh-ed25519 " "$SSH_KNOWN_HOSTS"

	run ssh -p "$SSHD_PORT" -i "$SSH_KEY" -o UserKnownHostsFile="$SSH_KNOWN_HOSTS" \
		-o StrictHostKeyChecking=yes -o BatchMode=yes root@127.0.0.1 'echo "hi from $(id -un)"'
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"hi from root"* ]]
	assert_file_contains "$TEST_TMP/sshd/sshd.log" "Accepted publickey for root from 127.0.0.1"

	mkdir -p "$TEST_TMP/from/sub"
	echo one >"$TEST_TMP/from/a.txt"
	head -c 100000 /dev/urandom >"$TEST_TMP/from/sub/b.bin"
	ln -s a.txt "$TEST_TMP/from/link"
	run rsync -a -e "ssh -p $SSHD_PORT -i $SSH_KEY -o UserKnownHostsFile=$SSH_KNOWN_HOSTS -o StrictHostKeyChecking=yes -o BatchMode=yes" \
		"$TEST_TMP/from/" "root@127.0.0.1:$TEST_TMP/to/"
	echo "$output"
	[ "$status" -eq 0 ]
	diff -r "$TEST_TMP/from" "$TEST_TMP/to"
	[ "$(readlink "$TEST_TMP/to/link")" = a.txt ]

	# SSH_CMD is the same ssh, ready for rsync -e.
	rm -rf --one-file-system "$TEST_TMP/to"
	rsync -a -e "$SSH_CMD" "$TEST_TMP/from/" "root@127.0.0.1:$TEST_TMP/to/"
	diff -r "$TEST_TMP/from" "$TEST_TMP/to"

	pid=$SSHD_PID
	sshd_stop
	[ -z "$SSHD_PID" ]
	run kill -0 "$pid"
	[ "$status" -ne 0 ]
	run $SSH_CMD root@127.0.0.1 true
	[ "$status" -ne 0 ]
}

@test "sshd_start: another host key is refused, direct-tcpip forwarding works" {
	sshd_start "$TEST_TMP/sshd"
	ssh-keygen -q -t ed25519 -N '' -f "$TEST_TMP/other" -C other
	echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$TEST_TMP/other.pub")" >"$TEST_TMP/wrong_known_hosts"
	run ssh -F /dev/null -p "$SSHD_PORT" -i "$SSH_KEY" -o UserKnownHostsFile="$TEST_TMP/wrong_known_hosts" \
		-o StrictHostKeyChecking=yes -o BatchMode=yes root@127.0.0.1 true
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"HOST IDENTIFICATION HAS CHANGED"* || "$output" == *"verification failed"* ]]

	# A direct-tcpip channel (what libssh opens for the control connection) to sshd itself:
	# its banner comes back through the tunnel.
	run timeout 10 $SSH_CMD -W "127.0.0.1:$SSHD_PORT" root@127.0.0.1 </dev/null
	[[ "$output" == SSH-2.0-* ]]
}

@test "two sshd_start in one test get different ports; sshd_stop is idempotent" {
	sshd_start "$TEST_TMP/sshd1"
	p1=$SSHD_PORT pid1=$SSHD_PID
	BG_PIDS+=("$pid1")
	sshd_start "$TEST_TMP/sshd2"
	[ "$SSHD_PORT" != "$p1" ]
	kill -0 "$pid1"
	kill -0 "$SSHD_PID"
	sshd_stop
	sshd_stop
	stop_pid "$pid1"
	run kill -0 "$pid1"
	[ "$status" -ne 0 ]
}

@test "mk_hosts, fake_bundle, json_get, wait_for_line" {
	for d in "$SRC_BASE" "$DST_BASE" "$SRC_ROOT" "$DST_ROOT"; do
		[ -d "$d" ]
		[[ "$d" == "$TEST_TMP"/* ]]
	done
	fake_bundle "$SRC_BASE" c1
	fake_bundle "$SRC_BASE" t1 terminal
	[ -f "$SRC_BASE/c1/rootfs/hello.txt" ]
	[ "$(jq -r .process.terminal "$SRC_BASE/c1/config.json")" = false ]
	[ "$(jq -r .process.terminal "$SRC_BASE/t1/config.json")" = true ]
	[ "$(jq -r .root.path "$SRC_BASE/t1/config.json")" = rootfs ]
	[ "$(jq -c .process.args "$SRC_BASE/t1/config.json")" = '["sh"]' ]

	line='{"ok":true,"container":"c1","error":null,"dump_ms":12,"dirs":["a","b"],"o":{"k":1}}'
	[ "$(json_get "$line" ok)" = true ]
	[ "$(json_get "$line" container)" = c1 ]
	[ "$(json_get "$line" error)" = null ]
	[ "$(json_get "$line" missing)" = null ]
	[ "$(json_get "$line" dump_ms)" -eq 12 ]
	[ "$(json_get "$line" dirs)" = '["a","b"]' ]
	[ "$(json_get '{"ok":false}' ok)" = false ]
	run json_get 'not json' ok
	[ "$status" -ne 0 ]

	(sleep 0.3; echo "migrate-dst: listening on 127.0.0.1:4242" >>"$TEST_TMP/log") &
	BG_PIDS+=("$!")
	wait_for_line "$TEST_TMP/log" 'listening on 127\.0\.0\.1:[0-9]+' 5
	assert_file_contains "$TEST_TMP/log" ':4242$'
	run assert_file_contains "$TEST_TMP/log" 'nothing like this'
	[ "$status" -eq 1 ]
	run wait_for_line "$TEST_TMP/log" 'never' 1
	[ "$status" -eq 1 ]
}

@test "fake-runc: --version without --root; --root is required otherwise" {
	run "$FAKE_RUNC" --version
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "runc version 1.1.15-fake" ]]
	[[ "$output" == *"spec: 1.2.0"* ]]
	run "$FAKE_RUNC" -v
	[ "$status" -eq 0 ]
	run "$FAKE_RUNC" state c1
	[ "$status" -eq 1 ]
	[ "$output" = "fake-runc: --root is required" ]
}

@test "fake-runc: run, state, checkpoint (image of the configured size), restore, argv.log" {
	fake_bundle "$SRC_BASE" c1
	fr "$SRC_ROOT" state c1
	[ "$status" -eq 1 ]
	[[ "$output" == *'level=error msg="container does not exist"'* ]]

	fr "$SRC_ROOT" run -d --bundle "$SRC_BASE/c1" c1
	[ "$status" -eq 0 ]
	fr "$SRC_ROOT" run -d --bundle "$SRC_BASE/c1" c1
	[ "$status" -eq 1 ]
	[[ "$output" == *"container with given ID already exists"* ]]
	fr "$SRC_ROOT" state c1
	[ "$status" -eq 0 ]
	[ "$(json_get "$(echo "$output" | jq -c .)" status)" = running ]
	[ "$(echo "$output" | jq -r .id)" = c1 ]
	[ "$(echo "$output" | jq -r .bundle)" = "$SRC_BASE/c1" ]
	[ "$(echo "$output" | jq -r .rootfs)" = "$SRC_BASE/c1/rootfs" ]
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]

	echo 2097152 >"$SRC_ROOT/image-size"
	fr "$SRC_ROOT" checkpoint --image-path "$SRC_BASE/c1/image" --work-path "$SRC_BASE/c1/work" c1
	[ "$status" -eq 0 ]
	[ "$(stat -c %s "$SRC_BASE/c1/image/pages-1.img")" -eq 2097152 ]
	[ -s "$SRC_BASE/c1/image/inventory.img" ]
	[ -s "$SRC_BASE/c1/work/dump.log" ]
	[ "$(fake_status "$SRC_ROOT" c1)" = absent ]
	fr "$SRC_ROOT" state c1
	[ "$status" -eq 1 ]

	# --leave-running and --pre-dump keep it; the default image size is 1 MiB.
	rm -f "$SRC_ROOT/image-size"
	fr "$SRC_ROOT" run -d -b "$SRC_BASE/c1" c1
	fr "$SRC_ROOT" checkpoint --pre-dump --image-path "$TEST_TMP/pre" --work-path "$TEST_TMP/prew" c1
	[ "$status" -eq 0 ]
	[ -s "$TEST_TMP/prew/pre-dump.log" ]
	[ "$(stat -c %s "$TEST_TMP/pre/pages-1.img")" -eq 1048576 ]
	fr "$SRC_ROOT" checkpoint --leave-running --image-path "$TEST_TMP/img2" --parent-path ../pre c1
	[ "$status" -eq 0 ]
	[ "$(readlink "$TEST_TMP/img2/parent")" = ../pre ]
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
	fr "$SRC_ROOT" delete -f c1
	[ "$status" -eq 0 ]

	# Restore on the "destination": bundle and image there.
	fake_bundle "$DST_BASE" c1
	cp -a "$SRC_BASE/c1/image" "$DST_BASE/c1/image"
	fr "$DST_ROOT" restore -d --image-path "$DST_BASE/c1/image" --work-path "$DST_BASE/c1/work" \
		--bundle "$DST_BASE/c1" --pid-file "$TEST_TMP/pid" c1
	[ "$status" -eq 0 ]
	[ "$(fake_status "$DST_ROOT" c1)" = running ]
	[ "$(cat "$TEST_TMP/pid")" -gt 0 ]
	[ -s "$DST_BASE/c1/work/restore.log" ]
	fr "$DST_ROOT" state c1
	[ "$(echo "$output" | jq -r .bundle)" = "$DST_BASE/c1" ]

	# argv.log: "$*" of each call, one a line.
	grep -qx -- "--root $SRC_ROOT run -d --bundle $SRC_BASE/c1 c1" "$SRC_ROOT/argv.log"
	grep -qx -- "--root $SRC_ROOT checkpoint --image-path $SRC_BASE/c1/image --work-path $SRC_BASE/c1/work c1" "$SRC_ROOT/argv.log"
	grep -qx -- "--root $DST_ROOT restore -d --image-path $DST_BASE/c1/image --work-path $DST_BASE/c1/work --bundle $DST_BASE/c1 --pid-file $TEST_TMP/pid c1" "$DST_ROOT/argv.log"
	[ "$(wc -l <"$SRC_ROOT/argv.log")" -eq 10 ]
	[ "$(wc -l <"$DST_ROOT/argv.log")" -eq 2 ]
}

@test "fake-runc: restore refuses what real runc refuses" {
	fake_bundle "$DST_BASE" c1
	fake_bundle "$DST_BASE" t1 terminal
	mkdir -p "$DST_BASE/c1/image" "$DST_BASE/t1/image"
	fr "$DST_ROOT" restore -d --image-path "$DST_BASE/c1/image" --bundle "$DST_BASE/c1" c1
	[ "$status" -eq 1 ]
	[[ "$output" == *"criu failed"*"no image"* ]]
	echo x >"$DST_BASE/c1/image/inventory.img"
	echo x >"$DST_BASE/t1/image/inventory.img"
	fr "$DST_ROOT" restore -d --image-path "$DST_BASE/c1/image" --bundle "$DST_BASE/nosuch" c1
	[ "$status" -eq 1 ]
	[[ "$output" == *"chdir $DST_BASE/nosuch: no such file or directory"* ]]
	rm "$DST_BASE/c1/config.json"
	fr "$DST_ROOT" restore -d --image-path "$DST_BASE/c1/image" --bundle "$DST_BASE/c1" c1
	[ "$status" -eq 1 ]
	[[ "$output" == *"JSON specification file config.json not found"* ]]
	fake_bundle "$DST_BASE" c1
	fr "$DST_ROOT" run -d --bundle "$DST_BASE/c1" c1
	fr "$DST_ROOT" restore -d --image-path "$DST_BASE/c1/image" --bundle "$DST_BASE/c1" c1
	[ "$status" -eq 1 ]
	[[ "$output" == *"container with given ID already exists"* ]]
	# Terminal: a console socket is required, and must be a socket.
	fr "$DST_ROOT" restore -d --image-path "$DST_BASE/t1/image" --bundle "$DST_BASE/t1" t1
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot allocate tty if runc will detach without setting console socket"* ]]
	touch "$TEST_TMP/plainfile"
	fr "$DST_ROOT" restore -d --image-path "$DST_BASE/t1/image" --bundle "$DST_BASE/t1" \
		--console-socket "$TEST_TMP/plainfile" t1
	[ "$status" -eq 1 ]
	[[ "$output" == *"console socket $TEST_TMP/plainfile: not a socket"* ]]
	[ "$(fake_status "$DST_ROOT" t1)" = absent ]
	fr "$DST_ROOT" checkpoint --bogus c1
	[ "$status" -eq 1 ]
	[[ "$output" == *"flag provided but not defined: --bogus"* ]]
}

@test "fake-runc: restore with a console socket sends a pty master to it" {
	fake_bundle "$DST_BASE" t1 terminal
	mkdir -p "$DST_BASE/t1/image"
	echo x >"$DST_BASE/t1/image/inventory.img"
	sock=$TEST_TMP/console.sock
	if [ -x "$HOLDPTY" ] && [ -x "$SENDPTY" ]; then
		# holdpty: listens, takes the pty master, prints "ready" then the keeper's PID.
		"$HOLDPTY" "$sock" "$TEST_TMP/console.log" >"$TEST_TMP/holdpty.out" 2>&1 3>&- &
		BG_PIDS+=("$!")
		wait_for_line "$TEST_TMP/holdpty.out" '^ready$' 5
		fr "$DST_ROOT" restore -d --image-path "$DST_BASE/t1/image" --bundle "$DST_BASE/t1" --console-socket "$sock" t1
		echo "$output"
		[ "$status" -eq 0 ]
		wait_for_line "$TEST_TMP/holdpty.out" '^[0-9]+$' 5
		keeper=$(grep -E '^[0-9]+$' "$TEST_TMP/holdpty.out")
		BG_PIDS+=("$keeper")
	elif command -v python3 >/dev/null; then
		# Without the helpers built: a bound unix socket is enough for fake-runc.
		python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$sock"
		SENDPTY=/nonexistent fr "$DST_ROOT" restore -d --image-path "$DST_BASE/t1/image" --bundle "$DST_BASE/t1" --console-socket "$sock" t1
		echo "$output"
		[ "$status" -eq 0 ]
	else
		skip "needs build/tests/helpers/{holdpty,sendpty} (make) or python3"
	fi
	[ "$(fake_status "$DST_ROOT" t1)" = running ]
}

@test "fake-runc: list -q, --format json (null when empty) and table" {
	fr "$SRC_ROOT" list --format json
	[ "$status" -eq 0 ]
	[ "$output" = null ]
	fr "$SRC_ROOT" list -q
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	fr "$SRC_ROOT" list
	[ "$output" = "ID          PID         STATUS      BUNDLE      CREATED     OWNER" ]

	fake_bundle "$SRC_BASE" b1
	fake_bundle "$SRC_BASE" a1
	fr "$SRC_ROOT" run -d --bundle "$SRC_BASE/b1" b1
	fr "$SRC_ROOT" run -d --bundle "$SRC_BASE/a1" a1
	fr "$SRC_ROOT" pause b1
	[ "$status" -eq 0 ]
	fr "$SRC_ROOT" list -q
	[ "$output" = "$(printf 'a1\nb1')" ]
	fr "$SRC_ROOT" list --format json
	[ "${#lines[@]}" -eq 1 ]
	[ "$(echo "$output" | jq -r 'map(.id + "=" + .status) | join(",")')" = "a1=running,b1=paused" ]
	[ "$(echo "$output" | jq -r '.[1].bundle')" = "$SRC_BASE/b1" ]
	fr "$SRC_ROOT" list
	[ "${#lines[@]}" -eq 3 ]
	[[ "${lines[0]}" == "ID          PID         STATUS      BUNDLE   "* ]]
	[[ "${lines[2]}" =~ ^b1\ +12345\ +paused\ +$SRC_BASE/b1\ +[0-9T:.-]+Z\ +root$ ]]
	fr "$SRC_ROOT" list --format yaml
	[ "$status" -eq 1 ]
	[[ "$output" == *"invalid format option"* ]]
}

@test "fake-runc: kill, delete, pause, resume" {
	fake_bundle "$SRC_BASE" c1
	fr "$SRC_ROOT" run -d --bundle "$SRC_BASE/c1" c1
	fr "$SRC_ROOT" resume c1
	[ "$status" -eq 1 ]
	[[ "$output" == *"container not paused"* ]]
	fr "$SRC_ROOT" pause c1
	fr "$SRC_ROOT" pause c1
	[ "$status" -eq 1 ]
	[[ "$output" == *"container not running"* ]]
	fr "$SRC_ROOT" resume c1
	[ "$status" -eq 0 ]
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
	fr "$SRC_ROOT" delete c1
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot delete container c1 that is not stopped: running"* ]]
	fr "$SRC_ROOT" kill c1 KILL
	[ "$status" -eq 0 ]
	[ "$(fake_status "$SRC_ROOT" c1)" = stopped ]
	fr "$SRC_ROOT" kill c1
	[ "$status" -eq 1 ]
	fr "$SRC_ROOT" checkpoint --image-path "$TEST_TMP/img" c1
	[ "$status" -eq 1 ]
	[[ "$output" == *"Container cannot be checkpointed in stopped state"* ]]
	fr "$SRC_ROOT" delete c1
	[ "$status" -eq 0 ]
	[ "$(fake_status "$SRC_ROOT" c1)" = absent ]
	fr "$SRC_ROOT" delete c1
	[ "$status" -eq 1 ]
	[[ "$output" == *"container does not exist"* ]]
	fr "$SRC_ROOT" delete -f c1
	[ "$status" -eq 0 ]
	fr "$SRC_ROOT" run -d --bundle "$SRC_BASE/c1" c1
	fr "$SRC_ROOT" --log "$TEST_TMP/runc.log" --log-format json delete --force c1
	[ "$status" -eq 0 ]
	[ "$(fake_status "$SRC_ROOT" c1)" = absent ]
	# With --log: the bare message on stderr, the formatted line in the log.
	fr "$SRC_ROOT" --log "$TEST_TMP/runc.log" --log-format json state c1
	[ "$output" = "container does not exist" ]
	[ "$(jq -r .msg "$TEST_TMP/runc.log")" = "container does not exist" ]
}

@test "fake-runc: fail-, hang-, delay- and hook- files" {
	fake_bundle "$SRC_BASE" c1
	fr "$SRC_ROOT" run -d --bundle "$SRC_BASE/c1" c1

	echo "criu failed: type DUMP errno 0" >"$SRC_ROOT/fail-checkpoint"
	fr "$SRC_ROOT" checkpoint --image-path "$TEST_TMP/img" c1
	[ "$status" -eq 1 ]
	[ "$output" = "criu failed: type DUMP errno 0" ]
	[ ! -e "$TEST_TMP/img" ]
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
	grep -qx -- "--root $SRC_ROOT checkpoint --image-path $TEST_TMP/img c1" "$SRC_ROOT/argv.log"
	rm "$SRC_ROOT/fail-checkpoint"

	# hang: the process becomes a sleep (same PID), so ending it by PID ends the call.
	touch "$SRC_ROOT/hang-checkpoint"
	"$FAKE_RUNC" --root "$SRC_ROOT" checkpoint --image-path "$TEST_TMP/img" c1 3>&- &
	pid=$!
	BG_PIDS+=("$pid")
	for _ in $(seq 50); do
		[ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" = "sleep 1000000 " ] && break
		sleep 0.1
	done
	[ "$(tr '\0' ' ' <"/proc/$pid/cmdline")" = "sleep 1000000 " ]
	stop_pid "$pid" 2
	run kill -0 "$pid"
	[ "$status" -ne 0 ]
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
	run timeout 1 "$FAKE_RUNC" --root "$SRC_ROOT" checkpoint --image-path "$TEST_TMP/img" c1
	[ "$status" -eq 124 ]
	rm "$SRC_ROOT/hang-checkpoint"

	echo 0.6 >"$SRC_ROOT/delay-state"
	start=$(date +%s%N)
	fr "$SRC_ROOT" state c1
	[ "$status" -eq 0 ]
	[ $(( ($(date +%s%N) - start) / 1000000 )) -ge 600 ]
	rm "$SRC_ROOT/delay-state"

	printf '#!/bin/sh\necho "hook $FAKE_RUNC_ROOT $*" >%s\n' "$TEST_TMP/hook.out" >"$SRC_ROOT/hook-pause"
	chmod +x "$SRC_ROOT/hook-pause"
	fr "$SRC_ROOT" pause c1
	[ "$status" -eq 0 ]
	[ "$(cat "$TEST_TMP/hook.out")" = "hook $SRC_ROOT c1" ]
	[ "$(fake_status "$SRC_ROOT" c1)" = paused ]
	printf '#!/bin/sh\nexit 3\n' >"$SRC_ROOT/hook-resume"
	chmod +x "$SRC_ROOT/hook-resume"
	fr "$SRC_ROOT" resume c1
	[ "$status" -eq 1 ]
	[ "$(fake_status "$SRC_ROOT" c1)" = paused ]
}

@test "fake-runc: --status-fd gets one NUL byte; --lazy-pages serves until lazy-done, and fails when its time is up" {
	fake_bundle "$SRC_BASE" c1
	fr "$SRC_ROOT" run -d --bundle "$SRC_BASE/c1" c1
	echo 300 >"$SRC_ROOT/lazy-serve-ms"
	port=$(free_port)
	# As CRIU would, it listens on every address unless its configuration says loopback.
	run "$FAKE_RUNC" --root "$SRC_ROOT" checkpoint --image-path "$TEST_TMP/img" --lazy-pages \
		--page-server 127.0.0.1:$port c1
	[ "$status" -eq 1 ]
	[[ "$output" == *"would listen on every address"* ]]
	printf 'address 127.0.0.1\n' >"$TEST_TMP/criu.conf"
	export CRIU_CONFIG_FILE=$TEST_TMP/criu.conf
	start=$(date +%s%N)
	run "$FAKE_RUNC" --root "$SRC_ROOT" checkpoint --image-path "$TEST_TMP/img" --lazy-pages \
		--page-server 127.0.0.1:$port --status-fd 5 c1 5>"$TEST_TMP/status"
	# nobody fetched the pages within lazy-serve-ms: a failed transfer, the container kept
	[ "$status" -eq 1 ]
	[ $(( ($(date +%s%N) - start) / 1000000 )) -ge 300 ]
	[ "$(od -An -tx1 "$TEST_TMP/status" | tr -d ' ')" = 00 ]
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
	fr "$SRC_ROOT" kill c1 KILL
	fr "$SRC_ROOT" delete c1

	# A status fd that is not open fails.
	fr "$SRC_ROOT" run -d --bundle "$SRC_BASE/c1" c1
	fr "$SRC_ROOT" checkpoint --image-path "$TEST_TMP/img" --status-fd 77 c1
	[ "$status" -eq 1 ]
	[[ "$output" == *"status fd 77"* ]]

	# lazy-done ends the serving early.
	echo 60000 >"$SRC_ROOT/lazy-serve-ms"
	(sleep 0.5; touch "$TEST_TMP/img2/lazy-done") 3>&- &
	BG_PIDS+=("$!")
	SECONDS=0
	run timeout 20 "$FAKE_RUNC" --root "$SRC_ROOT" checkpoint --image-path "$TEST_TMP/img2" --lazy-pages \
		--page-server 127.0.0.1:$port c1
	[ "$status" -eq 0 ]
	[ "$SECONDS" -lt 10 ]
}

@test "fakeps speaks CRIU's page-server records: pages for a GET, a reset is a failure, an end without goodbye is not" {
	head -c 100000 /dev/urandom >"$TEST_TMP/pages"
	zeros='\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00'
	for mode in goodbye no-goodbye; do
		port=$(free_port)
		"$FAKEPS" serve "$port" "$TEST_TMP/pages" >"$TEST_TMP/ps.out" 2>"$TEST_TMP/ps.err" &
		ps_pid=$!
		BG_PIDS+=("$ps_pid")
		wait_for_line "$TEST_TMP/ps.out" listening 5
		exec 7<>"/dev/tcp/127.0.0.1/$port"
		printf "\\x07\\x00\\x00\\x00$zeros" >&7
		head -c 100000 <&7 | cmp - "$TEST_TMP/pages"
		if [ "$mode" = goodbye ]; then
			printf "\\x24\\x10\\x00\\x00$zeros" >&7
			[ "$(head -c 4 <&7 | od -An -tx1 | tr -d ' \n')" = 00000000 ]
		fi
		exec 7<&-
		wait "$ps_pid"   # both end "successfully", by CRIU's rules
	done
	# A reset (SO_LINGER 0) is a broken transfer: exit 1.
	port=$(free_port)
	"$FAKEPS" serve "$port" "$TEST_TMP/pages" >"$TEST_TMP/ps.out" 2>"$TEST_TMP/ps.err" &
	ps_pid=$!
	BG_PIDS+=("$ps_pid")
	wait_for_line "$TEST_TMP/ps.out" listening 5
	"$FAKEPS" reset "$port"
	# Not `run wait`: run's subshell cannot wait for this shell's child, and says 127
	# whenever fakeps has not ended yet (a race the sanitized pass lost).
	rc=0
	wait "$ps_pid" || rc=$?
	[ "$rc" -eq 1 ]
	grep -q "the connection broke" "$TEST_TMP/ps.err"
}
