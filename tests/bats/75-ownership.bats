#!/usr/bin/env bats
# What each side may touch: one lock per container (not per connection), only the runc
# container its own bundle made, only a bundle it cleared, and a rootfs only where rsync
# puts it back.  Found by review; each test failed before its fix.
load ../lib/common

setup() {
	mk_hosts
	sshd_start "$TEST_TMP/sshd"
	fake_bundle "$SRC_BASE" c1
	fake_bundle "$DST_BASE" c1
	fake_bundle "$DST_BASE" c2
	dst_start "$TEST_TMP/dst.log" -b "$DST_BASE" --runc "$FAKE_RUNC" --runc-root "$DST_ROOT"
}

teardown() {
	[ -z "${BG:-}" ] || { kill "$BG" 2>/dev/null; wait "$BG" 2>/dev/null; } || true
	dst_stop
	sshd_stop
	if mountpoint -q "$DST_BASE/c1/image/m" 2>/dev/null; then umount "$DST_BASE/c1/image/m"; fi
	rm_hosts
}

actl() {
	run "$CTLCAT" --token "$DST_TOKEN" 127.0.0.1 "$DST_PORT" '{"v":2,"type":"hello"}' "$@"
	echo "$output"
}

src() {
	run "$MIGRATE_SRC" -b "$SRC_BASE" --runc "$FAKE_RUNC" --runc-root "$SRC_ROOT" \
		--ssh-port "$SSHD_PORT" ${DST_TOKEN:+--dst-token-file "$DST_TOKEN"} -i "$SSH_KEY" --known-hosts "$SSH_KNOWN_HOSTS" \
		--socket "$DST_SOCKET" "$@"
	echo "$output"
}

@test "a check whose bundle cannot be cleared keeps nothing: no bundle in the reply, files refused" {
	mkdir -p "$DST_BASE/c1/image/m"
	mount -t tmpfs -o size=1m x "$DST_BASE/c1/image/m"
	actl '{"v":2,"type":"check","name":"c1"}' '{"v":2,"type":"file","name":"x","size":0}'
	[[ "${lines[1]}" == *'"ok":false'* ]]
	[[ "${lines[1]}" != *'"bundle"'* ]]
	[[ "${lines[2]}" == *'"ok":false'*"'file' does not fit this connection's state (hello)"* ]]
	# and the mount was not removed through: the tools unmount only runc's and CRIU's own
	mountpoint -q "$DST_BASE/c1/image/m"
}

@test "one connection cannot check a second container: the lock is per container" {
	"$CTLCAT" --token "$DST_TOKEN" 127.0.0.1 "$DST_PORT" '{"v":2,"type":"hello"}' \
		'{"v":2,"type":"check","name":"c1"}' '{"v":2,"type":"check","name":"c2"}' \
		'{"v":2,"type":"file","name":"x","size":100}' >"$TEST_TMP/c1.out" 2>&1 &
	BG=$!
	for _ in $(seq 50); do [ "$(wc -l <"$TEST_TMP/c1.out")" -ge 3 ] && break; sleep 0.1; done
	cat "$TEST_TMP/c1.out"
	[[ "$(sed -n 2p "$TEST_TMP/c1.out")" == *'"ok":true'* ]]
	[[ "$(sed -n 3p "$TEST_TMP/c1.out")" == *'"ok":false'*"this connection migrates c1: 'check' for another container is refused"* ]]
	# ... and the connection ends, so c2 was never locked nor cleared by it
	for _ in $(seq 50); do grep -qE '<closed>|connection closed' "$TEST_TMP/c1.out" && break; sleep 0.1; done
	grep -qE '<closed>|connection closed' "$TEST_TMP/c1.out"
	actl '{"v":2,"type":"check","name":"c2"}'
	[[ "${lines[1]}" == *'"ok":true'* ]]
	# two connections for one container: the second is refused while the first holds it
	"$CTLCAT" --token "$DST_TOKEN" 127.0.0.1 "$DST_PORT" '{"v":2,"type":"hello"}' \
		'{"v":2,"type":"check","name":"c1"}' '{"v":2,"type":"file","name":"x","size":100}' \
		>"$TEST_TMP/c1b.out" 2>&1 &
	BG=$!
	for _ in $(seq 50); do [ "$(wc -l <"$TEST_TMP/c1b.out")" -ge 2 ] && break; sleep 0.1; done
	actl '{"v":2,"type":"check","name":"c1"}'
	[[ "${lines[1]}" == *'"ok":false'*"another migration of this container is in progress"* ]]
}

@test "--replace removes a stopped container of the same bundle" {
	"$FAKE_RUNC" --root "$SRC_ROOT" run -d --bundle "$SRC_BASE/c1" c1
	"$FAKE_RUNC" --root "$DST_ROOT" run -d --bundle "$DST_BASE/c1" c1
	"$FAKE_RUNC" --root "$DST_ROOT" kill c1 KILL
	[ "$(fake_status "$DST_ROOT" c1)" = stopped ]
	src --replace c1 127.0.0.1
	[ "$status" -eq 0 ]
	[ "$(fake_status "$DST_ROOT" c1)" = running ]
	[ "$(fake_status "$SRC_ROOT" c1)" = absent ]
}

@test "--replace leaves a same-named container of another bundle alone" {
	fake_bundle "$TEST_TMP" other
	"$FAKE_RUNC" --root "$SRC_ROOT" run -d --bundle "$SRC_BASE/c1" c1
	"$FAKE_RUNC" --root "$DST_ROOT" run -d --bundle "$TEST_TMP/other" c1
	src --replace c1 127.0.0.1
	[ "$status" -eq 2 ]
	[[ "$output" == *"runs from $TEST_TMP/other"*"left alone"* ]]
	[ "$(fake_status "$DST_ROOT" c1)" = running ]
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
}

@test "a failed restore's cleanup never deletes a same-named container of another bundle" {
	fake_bundle "$TEST_TMP" other
	cat >"$DST_ROOT/hook-restore" <<HOOK
#!/bin/sh
"$FAKE_RUNC" --root "$DST_ROOT" run -d --bundle "$TEST_TMP/other" c1
HOOK
	chmod +x "$DST_ROOT/hook-restore"
	"$FAKE_RUNC" --root "$SRC_ROOT" run -d --bundle "$SRC_BASE/c1" c1
	src c1 127.0.0.1
	[ "$status" -eq 3 ]
	[[ "$output" == *"left alone"* ]]
	# the operator's c1 survives, nothing ran "delete" on it, and the source runs its own
	[ "$(fake_status "$DST_ROOT" c1)" = running ]
	refute_grep ' delete .*c1' "$DST_ROOT/argv.log"
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
}

@test "a rootfs deeper than one directory of the bundle is refused before anything moves" {
	for b in "$SRC_BASE/c1" "$DST_BASE/c1"; do
		mkdir -p "$b/data"
		mv "$b/rootfs" "$b/data/image"
		jq '.root.path = "data/image"' "$b/config.json" >"$b/c.new"
		mv "$b/c.new" "$b/config.json"
	done
	echo marker >"$SRC_BASE/c1/data/image/marker"
	"$FAKE_RUNC" --root "$SRC_ROOT" run -d --bundle "$SRC_BASE/c1" c1
	src c1 127.0.0.1
	[ "$status" -eq 2 ]
	[[ "$output" == *"'data/image', not one directory of the bundle"*"--no-rootfs-sync"* ]]
	[ ! -e "$DST_BASE/c1/image/marker" ]
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
}
