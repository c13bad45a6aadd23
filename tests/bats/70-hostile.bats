#!/usr/bin/env bats
# Root never acts outside its bundles: hostile layouts on both sides (image, parent, work,
# rootfs and config.json as links to a victim directory and a victim mount, and to "/"
# inside a mount namespace where every mount is read-only), a FIFO for config.json,
# root.path values that name what the tools clear, and a fake destination whose hello
# carries hostile base dirs.  After each, the victim is untouched.  Stand-in runc.

load ../lib/common

setup() {
	mk_hosts
	VICTIM=$TEST_TMP/victim
	mkdir -p "$VICTIM"
	# A victim mount too, as the hazard is a mount (a rootfs bound somewhere) being emptied.
	mount -t tmpfs -o size=1m victim "$VICTIM"
	mkdir "$VICTIM/sub"
	echo keep >"$VICTIM/precious"
	echo keep >"$VICTIM/sub/deep"
	fake_bundle "$SRC_BASE" c1
	fake_bundle "$DST_BASE" c1
}

teardown() {
	dst_stop
	sshd_stop
	[ -n "${FAKE_PID:-}" ] && stop_pid "$FAKE_PID"
	umount "$VICTIM" 2>/dev/null || true
	rm_hosts
}

victim_intact() {
	[ "$(cat "$VICTIM/precious")" = keep ]
	[ "$(cat "$VICTIM/sub/deep")" = keep ]
	grep -q " $VICTIM " /proc/self/mountinfo
}

# Authenticated requests to migrate-dst; hello's reply is dropped from output and lines.
actl() {
	run "$CTLCAT" --token "$DST_TOKEN" 127.0.0.1 "$DST_PORT" '{"v":2,"type":"hello"}' "$@"
	echo "$output"
	lines=("${lines[@]:1}")
	output=$(printf '%s\n' "${lines[@]}")
}

dst_up() {
	dst_start "$TEST_TMP/dst.log" -b "$DST_BASE" --runc "$FAKE_RUNC" --runc-root "$DST_ROOT"
}

src() {
	run "$MIGRATE_SRC" -b "$SRC_BASE" --runc "$FAKE_RUNC" --runc-root "$SRC_ROOT" \
		--ssh-port "$SSHD_PORT" ${DST_TOKEN:+--dst-token-file "$DST_TOKEN"} -i "$SSH_KEY" --known-hosts "$SSH_KNOWN_HOSTS" \
		--socket "$DST_SOCKET" "$@"
	echo "$output"
}

set_root_path() {
	jq --arg p "$2" '.root.path = $p' "$1/config.json" >"$1/config.new"
	mv "$1/config.new" "$1/config.json"
}

@test "destination: image, parent and work as links to the victim: check unlinks them, follows nothing" {
	ln -s "$VICTIM" "$DST_BASE/c1/image"
	ln -s "$VICTIM" "$DST_BASE/c1/parent"
	ln -s "$VICTIM/sub" "$DST_BASE/c1/work"
	dst_up
	actl '{"v":2,"type":"check","name":"c1"}'
	[[ "${lines[0]}" == *'"ok":true'* ]]
	[ ! -L "$DST_BASE/c1/image" ]
	[ ! -L "$DST_BASE/c1/parent" ]
	[ ! -L "$DST_BASE/c1/work" ]
	victim_intact
}

@test "destination: rootfs and config.json as links, root.path naming image: refused at check" {
	dst_up
	mv "$DST_BASE/c1/rootfs" "$TEST_TMP/rootfs-real"
	ln -s "$VICTIM" "$DST_BASE/c1/rootfs"
	actl '{"v":2,"type":"check","name":"c1"}'
	[[ "${lines[0]}" == *'"ok":false'*"symbolic link"* ]]
	rm "$DST_BASE/c1/rootfs"
	mv "$TEST_TMP/rootfs-real" "$DST_BASE/c1/rootfs"
	mv "$DST_BASE/c1/config.json" "$TEST_TMP/config.json"
	ln -s "$TEST_TMP/config.json" "$DST_BASE/c1/config.json"
	actl '{"v":2,"type":"check","name":"c1"}'
	[[ "${lines[0]}" == *'"ok":false'*"symbolic link"* ]]
	rm "$DST_BASE/c1/config.json"
	mv "$TEST_TMP/config.json" "$DST_BASE/c1/config.json"
	for p in image parent work . .. image/rootfs ../c2/rootfs "$DST_BASE/c1/image"; do
		set_root_path "$DST_BASE/c1" "$p"
		mkdir -p "$DST_BASE/c1/image"
		echo x >"$DST_BASE/c1/image/keep"
		actl '{"v":2,"type":"check","name":"c1"}'
		[[ "${lines[0]}" == *'"ok":false'*"root.path '$p' is refused"* ]]
		[ -f "$DST_BASE/c1/image/keep" ] # nothing was cleared
	done
	victim_intact
}

@test "destination: a FIFO as config.json is refused at once; the handler does not block" {
	rm "$DST_BASE/c1/config.json"
	mkfifo "$DST_BASE/c1/config.json"
	dst_up
	SECONDS=0
	actl '{"v":2,"type":"check","name":"c1"}'
	[[ "${lines[0]}" == *'"ok":false'*"not a regular file"* ]]
	[ "$SECONDS" -lt 5 ]
	actl '{"v":2,"type":"check","name":"c1"}'
	[[ "${lines[0]}" == *'"ok":false'* ]]
}

@test "destination: image as a link to / in a mount namespace where every mount is read-only" {
	# Built in a namespace of its own: / and every other mount read-only there, only the
	# test's tmpfs writable.  A removal that followed the link would fail (read-only) and
	# say so; the right one unlinks the link and nothing else.
	local ns=$TEST_TMP/ns
	mkdir -p "$ns"
	run unshare -m --propagation private bash -euc '
		ns=$1 dst=$2 fake=$3 ctlcat=$4
		mount -t tmpfs -o size=16m,mode=0700 ns "$ns"
		awk "{print \$5}" /proc/self/mountinfo | sort -r | while read -r mp; do
			[ "$mp" = "$ns" ] || mount -o remount,bind,ro "$mp" 2>/dev/null || true
		done
		touch /etc/.migrate-ro-probe 2>/dev/null && { echo "/ is writable"; exit 1; }
		mkdir -p "$ns/base/c1/rootfs" "$ns/runc"
		echo "{\"root\":{\"path\":\"rootfs\"},\"process\":{\"terminal\":false}}" >"$ns/base/c1/config.json"
		ln -s / "$ns/base/c1/image"
		ln -s / "$ns/base/c1/parent"
		ln -s / "$ns/base/c1/work"
		"$dst" -p 0 -b "$ns/base" --runc "$fake" --runc-root "$ns/runc" --token-file "$ns/token" \
			--socket "$ns/ctl.sock" >"$ns/dst.log" 2>&1 &
		pid=$!
		for _ in $(seq 50); do grep -q "listening on" "$ns/dst.log" && break; sleep 0.1; done
		port=$(grep -Eo "listening on [^ ]*:[0-9]+" "$ns/dst.log" | sed "s/.*://")
		"$ctlcat" --token "$ns/token" 127.0.0.1 "$port" "{\"v\":2,\"type\":\"hello\"}" \
			"{\"v\":2,\"type\":\"check\",\"name\":\"c1\"}" || true
		kill "$pid"; wait "$pid" || true
		cat "$ns/dst.log"
		for d in image parent work; do [ -L "$ns/base/c1/$d" ] && echo "LINK LEFT: $d"; done
		[ -e /etc/passwd ] && echo "ROOT INTACT"
	' _ "$ns" "$MIGRATE_DST" "$FAKE_RUNC" "$CTLCAT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *'"ok":true'*'"bundle"'* ]]
	[[ "$output" == *"ROOT INTACT"* ]]
	[[ "$output" != *"LINK LEFT"* ]]
	[[ "$output" != *"Read-only file system"* ]]
}

@test "source: its own image as a link to the victim: unlinked, never followed; the migration goes on" {
	sshd_start "$TEST_TMP/sshd"
	dst_up
	"$FAKE_RUNC" --root "$SRC_ROOT" run -d --bundle "$SRC_BASE/c1" c1
	ln -s "$VICTIM" "$SRC_BASE/c1/image"
	ln -s "$VICTIM" "$SRC_BASE/c1/parent"
	src c1 127.0.0.1
	[ "$status" -eq 0 ]
	[ -d "$SRC_BASE/c1/image" ]
	[ ! -L "$SRC_BASE/c1/image" ]
	victim_intact
}

@test "source: root.path naming image, or leaving the bundle: refused before anything is touched" {
	sshd_start "$TEST_TMP/sshd"
	dst_up
	"$FAKE_RUNC" --root "$SRC_ROOT" run -d --bundle "$SRC_BASE/c1" c1
	for p in image work/x .. ./rootfs; do
		set_root_path "$SRC_BASE/c1" "$p"
		src c1 127.0.0.1
		[ "$status" -eq 2 ]
		[[ "$output" == *"root.path '$p' is refused"* ]]
	done
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
}

# fake_dst HELLO_JSON: a stand-in destination answering hello with HELLO_JSON; FAKE_PORT,
# FAKE_LOG (every message it got).
fake_dst() {
	FAKE_LOG=$TEST_TMP/fake.log
	: >"$FAKE_LOG"
	rm -f "$TEST_TMP/fake.port"
	"$FAKEDST" "$TEST_TMP/fake.port" "$FAKE_LOG" "$1" 3>&- &
	FAKE_PID=$!
	for _ in $(seq 50); do [ -s "$TEST_TMP/fake.port" ] && break; sleep 0.1; done
	FAKE_PORT=$(cat "$TEST_TMP/fake.port")
}

@test "a destination whose hello names a hostile base dir is refused; nothing is sent, nothing runs" {
	"$FAKE_RUNC" --root "$SRC_ROOT" run -d --bundle "$SRC_BASE/c1" c1
	local bad
	for bad in '/tmp/x;touch /tmp/pwned-$$ #' 'relative/dir' '/a/../etc' '/a//b' '/x y' \
		'/$(touch /tmp/pwned)' '-e' ''; do
		fake_dst "$(jq -cn --arg b "$bad" '{v:2,type:"reply",ok:true,auth:false,base_dir:$b}')"
		run "$MIGRATE_SRC" -b "$SRC_BASE" --runc "$FAKE_RUNC" --runc-root "$SRC_ROOT" \
			--direct --insecure -p "$FAKE_PORT" c1 127.0.0.1
		echo "$output"
		[ "$status" -eq 2 ]
		[[ "$output" == *"base dir"*"refusing it"* || "$output" == *"field 'base_dir'"* ]]
		# Only hello reached it: no check, no image.
		[ "$(wc -l <"$FAKE_LOG")" -eq 1 ]
		grep -q '"type":"hello"' "$FAKE_LOG"
		stop_pid "$FAKE_PID"
		FAKE_PID=
	done
	fake_dst '{"v":2,"type":"reply","ok":true,"auth":false,"base_dir":42}'
	run "$MIGRATE_SRC" -b "$SRC_BASE" --runc "$FAKE_RUNC" --runc-root "$SRC_ROOT" --direct --insecure -p "$FAKE_PORT" c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 2 ]
	[ ! -e /tmp/pwned ]
	[ ! -e "/tmp/pwned-$$" ]
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
}

@test "peer text with terminal escapes is printed escaped" {
	"$FAKE_RUNC" --root "$SRC_ROOT" run -d --bundle "$SRC_BASE/c1" c1
	# hello refused with ESC sequences (clear the screen, retitle the window) in the text.
	fake_dst '{"v":2,"type":"reply","ok":false,"error":"boom \u001b[2J\u001b]0;owned\u0007"}'
	run "$MIGRATE_SRC" -b "$SRC_BASE" --runc "$FAKE_RUNC" --runc-root "$SRC_ROOT" \
		--direct --insecure -p "$FAKE_PORT" c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *'boom \x1b[2J\x1b]0;owned\x07'* ]]
	[[ "$output" != *$'\x1b'* ]]
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
}
