#!/usr/bin/env bats
# migrate-dst against bad input: every request gets a clear error and the daemon keeps
# serving.  Uses tests/helpers/ctlcat to speak the framing by hand.

load ../lib/common

setup() {
	mk_hosts
	fake_bundle "$DST_BASE" c1
	dst_start "$TEST_TMP/dst.log" -b "$DST_BASE" --runc "$FAKE_RUNC" --runc-root "$DST_ROOT"
}

teardown() {
	dst_stop
	rm_hosts
}

ctl() { run "$CTLCAT" 127.0.0.1 "$DST_PORT" "$@"; echo "$output"; }

# An image of one empty file, as migrate-src streams it, and the restore that follows it.
EMPTY_SHA=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
IMG='{"v":2,"type":"file","name":"inventory.img","size":0,"mode":384}'
RESTORE='{"v":2,"type":"restore","name":"c1","technique":"cold","deadline_ms":20000,"stream":{"files":1,"bytes":0,"sha256":"'$EMPTY_SHA'"}}'
CHECK='{"v":2,"type":"check","name":"c1"}'

# Authenticated requests: hello first (its reply is dropped from output and lines).
actl() {
	run "$CTLCAT" --token "$DST_TOKEN" 127.0.0.1 "$DST_PORT" '{"v":2,"type":"hello"}' "$@"
	echo "$output"
	lines=("${lines[@]:1}")
	output=$(printf '%s\n' "${lines[@]}")
}

still_serving() {
	run "$CTLCAT" --token "$DST_TOKEN" 127.0.0.1 "$DST_PORT" '{"v":2,"type":"hello"}'
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *'"ok":true'* ]]
	kill -0 "$DST_PID"
}

@test "hello answers ok, v, base_dir, runc_version, criu_version, MACed with both nonces" {
	run "$CTLCAT" --token "$DST_TOKEN" 127.0.0.1 "$DST_PORT" '{"v":2,"type":"hello"}'
	echo "$output"
	line=${lines[0]}
	[ "${#lines[@]}" -eq 1 ] # no "<bad mac>" after it
	[ "$(json_get "$line" ok)" = true ]
	[ "$(json_get "$line" v)" -eq 2 ]
	[ "$(json_get "$line" seq)" -eq 0 ]
	[[ "$(json_get "$line" mac)" =~ ^[0-9a-f]{64}$ ]]
	[[ "$(json_get "$line" nonce)" =~ ^[0-9a-f]{64}$ ]]
	[ "$(json_get "$line" token_file)" = null ] # the source never learns a path from us
	[ "$(json_get "$line" base_dir)" = "$(realpath "$DST_BASE")" ]
	[ "$(json_get "$line" runc_version)" = "1.1.15-fake" ]
	[[ "$line" == *'"criu_version":'* ]]
}

@test "garbage bytes: an error reply, the connection is closed, the daemon keeps serving" {
	printf 'GET / HTTP/1.0\r\n\r\n' | { run "$CTLCAT" 127.0.0.1 "$DST_PORT" --raw; echo "$output"; [[ "$output" == *'"ok":false'*"over the 65536-byte limit"* ]]; }
	still_serving
}

@test "a length over the limit is refused without reading it" {
	printf '\x00\x10\x00\x00' | { run "$CTLCAT" 127.0.0.1 "$DST_PORT" --raw; echo "$output"; [[ "$output" == *"message length 1048576 is over the 65536-byte limit"* ]]; }
	still_serving
}

@test "a truncated message: the daemon gives up on it and keeps serving" {
	printf '\x00\x00\x00\x20{"v":2,' | { run "$CTLCAT" 127.0.0.1 "$DST_PORT" --raw; echo "$output"; [[ "$output" == *"connection closed"* || "$output" == *"<closed>"* ]]; }
	still_serving
}

@test "valid JSON of the wrong shape gets a structured error" {
	ctl '[1,2,3]'
	[[ "$output" == *'"ok":false'*"not a JSON object"* ]]
	actl '{"v":2,"type":"check","name":42}'
	[[ "$output" == *'"ok":false'*"field 'name' missing or not a string"* ]]
	ctl '{"v":"1","type":"hello"}'
	[[ "$output" == *"field 'v' missing or not a number"* ]]
	actl '{"v":2,"type":"frobnicate"}'
	[[ "$output" == *"unknown request type 'frobnicate'"* ]]
	still_serving
}

@test "unknown container, bad names and path tricks are refused" {
	actl '{"v":2,"type":"check","name":"nosuch"}'
	[[ "$output" == *'"ok":false'*"no bundle directory"*"/nosuch"* ]]
	actl '{"v":2,"type":"check","name":"../etc"}'
	[[ "$output" == *"bad container name"* ]]
	actl '{"v":2,"type":"check","name":"/etc/passwd"}'
	[[ "$output" == *"bad container name"* ]]
	actl "$CHECK" '{"v":2,"type":"restore","name":"c1","deadline_ms":20000}'
	[[ "${lines[1]}" == *'"type":"restoring"'* ]]
	[[ "${lines[2]}" == *'"ok":false'*"no checkpoint image at"* ]]
	[ ! -e "$DST_ROOT/c1" ]
	still_serving
}

@test "several requests on one connection are answered in order" {
	run "$CTLCAT" --token "$DST_TOKEN" 127.0.0.1 "$DST_PORT" '{"v":2,"type":"hello"}' '{"v":2,"type":"check","name":"c1"}' '{"v":2,"type":"check","name":"zz"}'
	echo "$output"
	[[ "${lines[0]}" == *'"base_dir"'* ]]
	[[ "${lines[1]}" == *'"ok":true'*'"terminal":false'* ]]
	[[ "${lines[2]}" == *'"ok":false'* ]]
}

@test "--once exits after one migration attempt with its result" {
	dst_stop
	echo "criu failed" >"$DST_ROOT/fail-restore"
	dst_start "$TEST_TMP/dst2.log" --once -b "$DST_BASE" --runc "$FAKE_RUNC" --runc-root "$DST_ROOT"
	actl "$CHECK" "$IMG" "$RESTORE"
	[[ "$output" == *'"ok":false'*"criu failed"* ]]
	# It exits by itself (a zombie of this shell until waited for), with 1: the attempt failed.
	for _ in $(seq 50); do
		[ "$(awk '{print $3}' "/proc/$DST_PID/stat" 2>/dev/null)" = Z ] && break
		sleep 0.1
	done
	rc=0; wait "$DST_PID" || rc=$?
	[ "$rc" -eq 1 ]
	DST_PID=
}

@test "requests without authentication, with a wrong token or replayed are refused" {
	ctl '{"v":2,"type":"check","name":"c1"}'
	[[ "$output" == *'"ok":false'*"authentication required: say hello first"* ]]
	# a hello without our nonce (an older migrate-src) is refused
	ctl '{"v":2,"type":"hello"}'
	[[ "${lines[0]}" == *'"ok":false'*"hello without a valid 'nonce'"* ]]
	cn=$(printf '%064d' 1)
	ctl '{"v":2,"type":"hello","nonce":"'"$cn"'"}' '{"v":2,"type":"check","name":"c1"}'
	[[ "${lines[0]}" == *'"auth":true'*'"nonce":"'* ]]
	[[ "${lines[1]}" == *"authentication required (fields 'seq' and 'mac')"* ]]
	# one hello per connection
	run "$CTLCAT" --token "$DST_TOKEN" 127.0.0.1 "$DST_PORT" '{"v":2,"type":"hello"}' '{"v":2,"type":"hello"}'
	echo "$output"
	[[ "${lines[1]}" == *"one hello per connection"* ]]
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TEST_TMP/wrong"
	chmod 600 "$TEST_TMP/wrong"
	run "$CTLCAT" --token "$TEST_TMP/wrong" 127.0.0.1 "$DST_PORT" '{"v":2,"type":"hello"}' '{"v":2,"type":"check","name":"c1"}'
	echo "$output"
	[[ "${lines[1]}" == *"authentication failed (wrong token)"* ]]
	# A signed request copied onto another connection (another nonce) does not pass.
	mac=$(printf '%064d' 7)
	ctl '{"v":2,"type":"hello","nonce":"'"$cn"'"}' '{"v":2,"type":"check","name":"c1","seq":1,"mac":"'"$mac"'"}'
	[[ "${lines[1]}" == *"authentication failed"* ]]
	# The connection is closed after a failed authentication: no guessing on it.
	ctl '{"v":2,"type":"hello","nonce":"'"$cn"'"}' '{"v":2,"type":"check","name":"c1","seq":1,"mac":"'"$mac"'"}' "$CHECK"
	# (ctlcat may see the close as <closed> or as a failed write: either way, no answer)
	[[ "${lines[2]:-<closed>}" != *terminal* ]]
	still_serving
}

@test "the token file is created private, and refused when others can read it" {
	[ "$(stat -c %a "$DST_TOKEN")" = 600 ]
	[[ "$(cat "$DST_TOKEN")" =~ ^[0-9a-f]{64}$ ]]
	dst_stop
	chmod 644 "$DST_TOKEN"
	run "$MIGRATE_DST" -p 0 -b "$DST_BASE" --token-file "$DST_TOKEN"
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"is readable or writable by others (mode 0644): refusing it; chmod 600"* ]]
}

@test "--insecure turns authentication off, and says so loudly" {
	dst_stop
	dst_start "$TEST_TMP/dst3.log" --insecure -b "$DST_BASE" --runc "$FAKE_RUNC" --runc-root "$DST_ROOT"
	grep -q "requests are NOT authenticated" "$TEST_TMP/dst3.log"
	ctl '{"v":2,"type":"hello"}' '{"v":2,"type":"check","name":"c1"}'
	[[ "${lines[0]}" == *'"auth":false'* ]]
	[[ "${lines[1]}" == *'"ok":true'* ]]
}

@test "a restore the source never commits is removed again" {
	# ctlcat hangs up right after the restore reply, as a source that gave up would.
	actl "$CHECK" "$IMG" "$RESTORE"
	[[ "${lines[2]}" == *'"ok":true'*'"restore_ms"'* ]]
	wait_for_line "$TEST_TMP/dst.log" 'the source did not confirm the restore'
	grep -F 'removed its unconfirmed copy of c1' "$TEST_TMP/dst.log"
	[ "$(fake_status "$DST_ROOT" c1)" = absent ]
	still_serving
}

@test "a committed restore stays" {
	actl "$CHECK" "$IMG" "$RESTORE" '{"v":2,"type":"commit","name":"c1"}'
	[[ "${lines[2]}" == *'"ok":true'*'"restore_ms"'* ]]
	[[ "${lines[3]}" == *'"ok":true'* ]]
	[ "$(fake_status "$DST_ROOT" c1)" = running ]
	refute_grep 'did not confirm' "$TEST_TMP/dst.log"
	still_serving
}

@test "requests out of order or for another container are refused and end the connection" {
	actl '{"v":2,"type":"commit","name":"c1"}'
	[[ "$output" == *'"ok":false'*"'commit' does not fit this connection's state (hello)"* ]]
	actl "$RESTORE"
	[[ "$output" == *'"ok":false'*"'restore' does not fit this connection's state (hello)"* ]]
	actl "$IMG"
	[[ "$output" == *'"ok":false'*"'file' does not fit this connection's state (hello)"* ]]
	# check c1, then restore c2: refused, and c2's image dir was never touched
	fake_bundle "$DST_BASE" c2
	mkdir -p "$DST_BASE/c2/image" && echo keep >"$DST_BASE/c2/image/inventory.img"
	actl "$CHECK" "$IMG" '{"v":2,"type":"restore","name":"c2","deadline_ms":20000}' "$CHECK"
	[[ "${lines[0]}" == *'"ok":true'* ]]
	[[ "${lines[1]}" == *'"ok":false'*"this connection migrates c1: 'restore' for another container is refused"* ]]
	[[ "${lines[2]:-<closed>}" == "<closed>" ]]
	[ "$(cat "$DST_BASE/c2/image/inventory.img")" = keep ]
	[ "$(fake_status "$DST_ROOT" c2)" = absent ]
	refute_grep " restore " "$DST_ROOT/argv.log"
	# files, then a restore without the stream's summary: refused, the files removed
	actl "$CHECK" "$IMG" '{"v":2,"type":"restore","name":"c1","deadline_ms":20000}'
	[[ "${lines[2]}" == *'"ok":false'*"restore without the 'stream' summary"* ]]
	[ ! -e "$DST_BASE/c1/image/inventory.img" ]
	[ "$(fake_status "$DST_ROOT" c1)" = absent ]
	still_serving
}

@test "hostile input of every kind, a slow sender among it, while a migration runs: refused, and the migration succeeds" {
	sshd_start "$TEST_TMP/sshd"
	fake_bundle "$SRC_BASE" c1
	"$FAKE_RUNC" --root "$SRC_ROOT" run -d --bundle "$SRC_BASE/c1" c1
	echo 1 >"$SRC_ROOT/delay-checkpoint"
	# a slow sender: a frame header, then one byte a second (the frame must come in 10 s)
	{ printf '\x00\x00\x00\x40{'; for _ in $(seq 15); do sleep 1; printf ' '; done; } |
		"$CTLCAT" 127.0.0.1 "$DST_PORT" --raw >"$TEST_TMP/slow.out" 2>&1 &
	slow=$!
	"$MIGRATE_SRC" --direct --token-file "$DST_TOKEN" -b "$SRC_BASE" --runc "$FAKE_RUNC" \
		--runc-root "$SRC_ROOT" --ssh-port "$SSHD_PORT" -i "$SSH_KEY" \
		--known-hosts "$SSH_KNOWN_HOSTS" -p "$DST_PORT" c1 127.0.0.1 >"$TEST_TMP/src.out" 2>&1 &
	mig=$!
	# meanwhile: garbage, an oversize length, deep nesting, wrong types, path tricks, a
	# wrong token
	printf 'GET / HTTP/1.0\r\n\r\n' | "$CTLCAT" 127.0.0.1 "$DST_PORT" --raw | grep -q '"ok":false'
	printf '\xff\xff\xff\xff' | "$CTLCAT" 127.0.0.1 "$DST_PORT" --raw | grep -q 'over the 65536-byte limit'
	deep=$(printf '[%.0s' $(seq 5000))
	ctl "{\"v\":2,\"type\":\"hello\",\"x\":$deep}"
	[[ "$output" == *'"ok":false'* ]]
	actl '{"v":2,"type":"check","name":["c1"]}'
	[[ "$output" == *"field 'name' missing or not a string"* ]]
	actl '{"v":2,"type":"check","name":"../../etc"}'
	[[ "$output" == *"bad container name"* ]]
	actl '{"v":2,"type":"restore","name":"../../etc"}'
	[[ "$output" == *"does not fit this connection's state"* ]]
	actl '{"v":2,"type":"check","name":"/etc/passwd"}'
	[[ "$output" == *"bad container name"* ]]
	(umask 077 && printf '%064d\n' 0 >"$TEST_TMP/wrong-token")
	run "$CTLCAT" --token "$TEST_TMP/wrong-token" 127.0.0.1 "$DST_PORT" '{"v":2,"type":"hello"}' '{"v":2,"type":"check","name":"c1"}'
	echo "$output"
	[[ "$output" == *"authentication failed (wrong token)"* ]]
	rc=0; wait "$mig" || rc=$?
	cat "$TEST_TMP/src.out"
	[ "$rc" -eq 0 ]
	[ "$(fake_status "$DST_ROOT" c1)" = running ]
	wait "$slow" || true
	cat "$TEST_TMP/slow.out"
	grep -q 'timed out' "$TEST_TMP/slow.out"
	still_serving
	sshd_stop
}
