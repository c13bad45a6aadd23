#!/usr/bin/env bats
# Cold migration end to end with a real sshd, real rsync and a real migrate-dst, and the
# stand-in runc (tests/fake-runc) on both "hosts".  Asserts the argv runc got on each side,
# that the image and rootfs arrived, the reports, the exit codes and the failure paths.

load ../lib/common

setup() {
	mk_hosts
	sshd_start "$TEST_TMP/sshd"
	fake_bundle "$SRC_BASE" c1
	fake_bundle "$DST_BASE" c1
	echo 2097152 >"$SRC_ROOT/image-size"
	"$FAKE_RUNC" --root "$SRC_ROOT" run -d --bundle "$SRC_BASE/c1" c1
	dst_start "$TEST_TMP/dst.log" --json -b "$DST_BASE" --runc "$FAKE_RUNC" --runc-root "$DST_ROOT"
}

teardown() {
	dst_stop
	sshd_stop
	rm_hosts
}

# migrate-src with the options every test needs; extra args first.
src() {
	run "$MIGRATE_SRC" -b "$SRC_BASE" --runc "$FAKE_RUNC" --runc-root "$SRC_ROOT" \
		--ssh-port "$SSHD_PORT" ${DST_TOKEN:+--dst-token-file "$DST_TOKEN"} -i "$SSH_KEY" --known-hosts "$SSH_KNOWN_HOSTS" \
		--socket "$DST_SOCKET" "$@"
}

@test "cold migration through SSH moves image and rootfs, runc argv right on both sides" {
	echo "written while running" >"$SRC_BASE/c1/rootfs/new-file"
	src --json c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 0 ]
	# Source: checkpoint into BUNDLE/image; container gone.
	grep -qx -- "--root $SRC_ROOT checkpoint --image-path $SRC_BASE/c1/image c1" "$SRC_ROOT/argv.log"
	[ "$(fake_status "$SRC_ROOT" c1)" = absent ]
	# Destination: restore -d from its own base dir; container running.
	grep -Eqx -- "--root $DST_ROOT --log /proc/self/fd/[0-9]+ restore -d --image-path $DST_BASE/c1/image --work-path $DST_BASE/c1/work --bundle $DST_BASE/c1 c1" "$DST_ROOT/argv.log"
	[ "$(fake_status "$DST_ROOT" c1)" = running ]
	# The image arrived whole, and so did the file written into the rootfs.
	cmp "$SRC_BASE/c1/image/pages-1.img" "$DST_BASE/c1/image/pages-1.img"
	[ "$(stat -c %s "$DST_BASE/c1/image/pages-1.img")" -eq 2097152 ]
	[ "$(cat "$DST_BASE/c1/rootfs/new-file")" = "written while running" ]
	# The JSON report: one line, the fields scripts rely on.
	line=$(printf '%s\n' "$output" | grep '^{')
	[ "$(json_get "$line" ok)" = true ]
	[ "$(json_get "$line" container)" = c1 ]
	[ "$(json_get "$line" technique)" = cold ]
	[ "$(json_get "$line" error)" = null ]
	[ "$(json_get "$line" dump_bytes)" -ge 2097152 ]
	[ "$(json_get "$line" xfer_bytes)" -ge 2097152 ]
	for k in dump_ms xfer_ms restore_ms downtime_ms total_ms sync_ms; do
		v=$(json_get "$line" "$k"); [ "$v" -ge 0 ]
	done
	[ "$(json_get "$line" downtime_ms)" -le "$(json_get "$line" total_ms)" ]
	# CRIU's statistics (the stand-in writes real CRIU 4.1.1 stats files): the dump's from
	# the source's image dir, the restore's sent back by the destination.
	[ "$(json_get "$line" frozen_ms)" = 80.856 ]
	[ "$(json_get "$line" pages_written)" = 35 ]
	[ "$(json_get "$line" pages_scanned)" = 49 ]
	[ "$(json_get "$line" criu_restore_ms)" = 132.573 ]
	[ "$(json_get "$line" pages_restored)" = 33 ]
	# The destination printed its own report line.
	wait_for_line "$TEST_TMP/dst.log" '"role":"destination"'
	dl=$(grep '"role":"destination"' "$TEST_TMP/dst.log")
	[ "$(json_get "$dl" ok)" = true ]
	[ "$(json_get "$dl" container)" = c1 ]
	[ "$(json_get "$dl" pages_restored)" = 33 ]
	[[ "$output" != *"warning"* ]]
}

@test "the seed's positional booleans: False False is cold; the table report is printed" {
	src c1 127.0.0.1 False False
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"source report: container c1, cold migration to 127.0.0.1: ok"* ]]
	[[ "$output" == *"downtime"* ]]
	[ "$(fake_status "$DST_ROOT" c1)" = running ]
}

@test "--direct reaches migrate-dst over plain TCP, proving the token it is given" {
	src --direct -p "$DST_PORT" c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"with --direct give --token-file (a copy of 127.0.0.1:$DST_TOKEN, mode 0600)"* ]]
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
	src --direct -p "$DST_PORT" --token-file "$DST_TOKEN" --json c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(fake_status "$DST_ROOT" c1)" = running ]
}

@test "a wrong token is refused before the container is touched" {
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TEST_TMP/wrong-token"
	chmod 600 "$TEST_TMP/wrong-token"
	src --direct -p "$DST_PORT" --token-file "$TEST_TMP/wrong-token" c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"authentication failed (wrong token)"* ]]
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
	chmod 644 "$TEST_TMP/wrong-token"
	src --direct -p "$DST_PORT" --token-file "$TEST_TMP/wrong-token" c1 127.0.0.1
	[ "$status" -eq 2 ]
	[[ "$output" == *"readable or writable by others (mode 0644)"*"chmod 600"* ]]
}

@test "a console that does not come over: the restored container is kept and the loss logged" {
	fake_bundle "$SRC_BASE" t1 terminal
	fake_bundle "$DST_BASE" t1 terminal
	"$FAKE_RUNC" --root "$SRC_ROOT" run -d --bundle "$SRC_BASE/t1" t1
	# the stand-in runc restores but never hands the pty over (no sendpty to do it with)
	dst_stop
	SENDPTY=/nonexistent dst_start "$TEST_TMP/dst.log" -b "$DST_BASE" --runc "$FAKE_RUNC" \
		--runc-root "$DST_ROOT"
	src t1 127.0.0.1
	echo "$output"; cat "$TEST_TMP/dst.log"
	[ "$status" -eq 0 ]
	grep -q "t1 runs, but its console was lost: console: runc did not connect" "$TEST_TMP/dst.log"
	[ "$(fake_status "$DST_ROOT" t1)" = running ]
	refute_grep ' delete .*t1' "$DST_ROOT/argv.log"
}

@test "terminal container: migrate-dst serves the console socket itself" {
	fake_bundle "$SRC_BASE" t1 terminal
	fake_bundle "$DST_BASE" t1 terminal
	"$FAKE_RUNC" --root "$SRC_ROOT" run -d --bundle "$SRC_BASE/t1" t1
	src t1 127.0.0.1
	echo "$output"; cat "$TEST_TMP/dst.log"
	[ "$status" -eq 0 ]
	grep -q -- "restore -d .* --console-socket /tmp/migrate-console\..*/console.sock t1$" "$DST_ROOT/argv.log"
	[ "$(fake_status "$DST_ROOT" t1)" = running ]
	grep -q "console of t1: kept by PID" "$TEST_TMP/dst.log"
}

@test "unknown container on the source: exit 2, nothing sent" {
	src nosuch 127.0.0.1
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"no bundle directory $SRC_BASE/nosuch"* ]]
	fake_bundle "$SRC_BASE" stopped1
	src stopped1 127.0.0.1
	[ "$status" -eq 2 ]
	[[ "$output" == *"container stopped1 is absent on this host"* ]]
}

@test "bundle missing on the destination: exit 2, container untouched" {
	fake_bundle "$SRC_BASE" c2
	"$FAKE_RUNC" --root "$SRC_ROOT" run -d --bundle "$SRC_BASE/c2" c2
	src c2 127.0.0.1
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"destination: no bundle directory $DST_BASE/c2"* ]]
	[ "$(fake_status "$SRC_ROOT" c2)" = running ]
}

@test "a same-named container already on the destination: exit 2 with the command to remove it" {
	"$FAKE_RUNC" --root "$DST_ROOT" run -d --bundle "$DST_BASE/c1" c1
	src c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"already exists on the destination (running)"* ]]
	[[ "$output" == *"delete -f c1"*"or use --replace"* ]]
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
}

@test "--replace: the destination removes its same-named container, and stale image dirs, first" {
	"$FAKE_RUNC" --root "$DST_ROOT" run -d --bundle "$DST_BASE/c1" c1
	mkdir -p "$DST_BASE/c1/image" "$DST_BASE/c1/parent/1"
	echo stale >"$DST_BASE/c1/image/stale.img"
	echo stale >"$DST_BASE/c1/parent/1/pages-1.img"
	src --replace c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 0 ]
	grep -F -- '--replace: removing the running container c1' "$TEST_TMP/dst.log"
	[ "$(fake_status "$DST_ROOT" c1)" = running ]
	# killed and deleted before the restore made a new one
	grep -nE ' (kill|delete|restore) ' "$DST_ROOT/argv.log"
	[ "$(grep -nE ' (kill|delete|restore) ' "$DST_ROOT/argv.log" | sed 's/.* \(kill\|delete\|restore\) .*/\1/' | tr '\n' ' ')" = "kill delete restore " ]
	[ "$(fake_status "$SRC_ROOT" c1)" = absent ]
	[ ! -e "$DST_BASE/c1/image/stale.img" ]
	[ ! -e "$DST_BASE/c1/parent" ]
}

@test "restore fails on the destination: rolled back, runs on the source, exit 3" {
	echo "criu failed: type RESTORE errno 0" >"$DST_ROOT/fail-restore"
	src --json c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"criu failed: type RESTORE"* ]]
	[[ "$output" == *"runs on this host again"* ]]
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
	[ "$(fake_status "$DST_ROOT" c1)" = absent ]
	grep -q -- "restore -d --image-path $SRC_BASE/c1/image --work-path $SRC_BASE/c1/work --bundle $SRC_BASE/c1 c1" "$SRC_ROOT/argv.log"
	line=$(printf '%s\n' "$output" | grep '^{')
	[ "$(json_get "$line" ok)" = false ]
	[ "$(json_get "$line" exit_code)" -eq 3 ]
}

@test "restore fails on both hosts: exit 4 and the message says where the image is" {
	echo "criu failed" >"$DST_ROOT/fail-restore"
	echo "criu failed here too" >"$SRC_ROOT/fail-restore"
	src c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 4 ]
	[[ "$output" == *"checkpoint image is in $SRC_BASE/c1/image"* ]]
}

@test "checkpoint hangs: stopped after --timeout, container still runs, hint at CRIU_FAULT=130" {
	touch "$SRC_ROOT/hang-checkpoint"
	SECONDS=0
	src --timeout 2 c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 3 ]
	[ "$SECONDS" -lt 30 ]
	[[ "$output" == *"did not finish in 2 s"* ]]
	[[ "$output" == *"CRIU_FAULT=130"* ]]
	[[ "$output" == *"running on this host again"* ]]
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
	[ "$(fake_status "$DST_ROOT" c1)" = absent ]
}

@test "checkpoint fails: the error quotes runc, container still runs" {
	echo "criu failed: type DUMP errno 0" >"$SRC_ROOT/fail-checkpoint"
	src c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"criu failed: type DUMP"* ]]
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
}

@test "unknown SSH host key: refused before touching the container" {
	: >"$TEST_TMP/empty_known_hosts"
	run "$MIGRATE_SRC" -b "$SRC_BASE" --runc "$FAKE_RUNC" --runc-root "$SRC_ROOT" \
		--ssh-port "$SSHD_PORT" ${DST_TOKEN:+--dst-token-file "$DST_TOKEN"} -i "$SSH_KEY" --known-hosts "$TEST_TMP/empty_known_hosts" \
		--socket "$DST_SOCKET" c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"host key not known"* ]]
	[[ "$output" == *"ssh-keyscan -p $SSHD_PORT 127.0.0.1"* ]]
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
}

@test "migrate-dst not running: exit 2 naming the cause" {
	dst_stop
	src c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"is migrate-dst running there"* ]]
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
}

@test "the transfer fails inside the downtime: rolled back, exit 3, runs on the source" {
	# The checkpoint hook stops sshd's listener and removes the socket of migrate-src's ssh
	# master: the live control session survives, but the final rsync cannot connect.
	mkdir "$TEST_TMP/tmp"
	# It also writes into the rootfs, so the final rootfs pass is needed.
	printf '#!/bin/sh\nkill %s\nrm -f %s/tmp/migrate-src.*/ssh.sock\necho late >%s/c1/rootfs/late\n' "$SSHD_PID" "$TEST_TMP" "$SRC_BASE" >"$SRC_ROOT/hook-checkpoint"
	chmod +x "$SRC_ROOT/hook-checkpoint"
	TMPDIR=$TEST_TMP/tmp src c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"transfer: rsync exited with code"* ]]
	[[ "$output" == *"runs on this host again"* ]]
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
	[ "$(fake_status "$DST_ROOT" c1)" = absent ]
	# the master's private dir is gone with it
	[ -z "$(ls "$TEST_TMP/tmp")" ]
}

@test "every rsync reuses the one ssh master connection opened before the freeze" {
	mkdir "$TEST_TMP/tmp"
	# The checkpoint hook stops sshd's listener and writes into the rootfs: only the open
	# master can carry the final rootfs pass.
	printf '#!/bin/sh\nkill %s\necho late >%s/c1/rootfs/late\n' "$SSHD_PID" "$SRC_BASE" >"$SRC_ROOT/hook-checkpoint"
	chmod +x "$SRC_ROOT/hook-checkpoint"
	TMPDIR=$TEST_TMP/tmp src -v c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(fake_status "$DST_ROOT" c1)" = running ]
	[ "$(cat "$DST_BASE/c1/rootfs/late")" = late ]
	[[ "$output" != *"did not change since the first pass"* ]]
	[ -z "$(ls "$TEST_TMP/tmp")" ]
}

@test "rootfs sync mirrors the container's files, deletions included; --no-rootfs-sync skips it" {
	echo old >"$DST_BASE/c1/rootfs/stale-on-dst"
	echo new >"$SRC_BASE/c1/rootfs/made-on-src"
	src --no-rootfs-sync c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 0 ]
	[ ! -e "$DST_BASE/c1/rootfs/made-on-src" ]
	[ -e "$DST_BASE/c1/rootfs/stale-on-dst" ]
	[ -e "$DST_BASE/c1/image/pages-1.img" ]
	# Back on the source, and again with the rootfs synced: an exact mirror.
	"$FAKE_RUNC" --root "$DST_ROOT" delete -f c1
	"$FAKE_RUNC" --root "$SRC_ROOT" run -d --bundle "$SRC_BASE/c1" c1
	src c1 127.0.0.1
	[ "$status" -eq 0 ]
	[ "$(cat "$DST_BASE/c1/rootfs/made-on-src")" = new ]
	[ ! -e "$DST_BASE/c1/rootfs/stale-on-dst" ]
	diff -r "$SRC_BASE/c1/rootfs" "$DST_BASE/c1/rootfs"
}

@test "a rootfs outside the bundle is refused unless --no-rootfs-sync" {
	fake_bundle "$SRC_BASE" abs1
	jq '.root.path = "/srv/elsewhere"' "$SRC_BASE/abs1/config.json" >"$TEST_TMP/cfg" && mv "$TEST_TMP/cfg" "$SRC_BASE/abs1/config.json"
	"$FAKE_RUNC" --root "$SRC_ROOT" run -d --bundle "$SRC_BASE/abs1" abs1
	src abs1 127.0.0.1
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"outside the bundle"*"--no-rootfs-sync"* ]]
	[ "$(fake_status "$SRC_ROOT" abs1)" = running ]
}

@test "--sync-bundle: a destination without the bundle gets config.json and rootfs first" {
	rm -rf --one-file-system "${DST_BASE:?}/c1"
	src c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"no bundle directory $DST_BASE/c1"*"or use --sync-bundle"* ]]
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
	src --sync-bundle c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"sending the bundle of c1 (config.json and rootfs)"* ]]
	cmp "$SRC_BASE/c1/config.json" "$DST_BASE/c1/config.json"
	diff -r "$SRC_BASE/c1/rootfs" "$DST_BASE/c1/rootfs"
	[ "$(stat -c %a "$DST_BASE/c1")" = 700 ]
	[ "$(fake_status "$DST_ROOT" c1)" = running ]
	grep -F -- '--sync-bundle: c1 has no bundle here' "$TEST_TMP/dst.log"
}

@test "--sync-bundle leaves an existing bundle as it is" {
	echo '{"edited": "on the destination"}' >"$TEST_TMP/cfg"
	jq -s '.[0] * .[1]' "$DST_BASE/c1/config.json" "$TEST_TMP/cfg" >"$TEST_TMP/cfg2"
	cp "$TEST_TMP/cfg2" "$DST_BASE/c1/config.json"
	src --sync-bundle c1 127.0.0.1
	[ "$status" -eq 0 ]
	[ "$(jq -r .edited "$DST_BASE/c1/config.json")" = "on the destination" ]
	[[ "$output" != *"sending the bundle"* ]]
}

@test "the image is streamed through the control channel; an unchanged rootfs needs no final rsync" {
	src -v --json c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"the rootfs did not change since the first pass"* ]]
	# one rsync only (the first pass); the image arrived whole anyway
	[ "$(grep -c 'running rsync' <<<"$output")" -eq 1 ]
	cmp "$SRC_BASE/c1/image/pages-1.img" "$DST_BASE/c1/image/pages-1.img"
	cmp "$SRC_BASE/c1/image/inventory.img" "$DST_BASE/c1/image/inventory.img"
	[ "$(stat -c %a "$DST_BASE/c1/image/pages-1.img")" = 600 ]
	line=$(printf '%s\n' "$output" | grep '^{')
	[ "$(json_get "$line" xfer_bytes)" -ge 2097152 ]
}

@test "--transfer rsync: the image goes by rsync, as before" {
	src -v --transfer rsync c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c 'running rsync' <<<"$output")" -eq 2 ]
	cmp "$SRC_BASE/c1/image/pages-1.img" "$DST_BASE/c1/image/pages-1.img"
	[ "$(fake_status "$DST_ROOT" c1)" = running ]
	src --transfer carrier-pigeon c1 127.0.0.1
	[ "$status" -eq 1 ]
	[[ "$output" == *"bad --transfer 'carrier-pigeon' (stream or rsync)"* ]]
}

@test "the ssh master connection cannot start: refused before the container is touched, ssh's words quoted" {
	mkdir -p "$TEST_TMP/bin"
	printf '#!/bin/sh\necho "ssh: connect to host 127.0.0.1: Connection refused (test stand-in)" >&2\nexit 255\n' >"$TEST_TMP/bin/ssh"
	chmod +x "$TEST_TMP/bin/ssh"
	PATH="$TEST_TMP/bin:$PATH" src c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"ssh master connection exited with code 255"*"Connection refused (test stand-in)"* ]]
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
	refute_grep ' checkpoint ' "$SRC_ROOT/argv.log"
}
