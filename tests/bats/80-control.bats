#!/usr/bin/env bats
# The control channel against squatters, floods, stalls and partitions (docs/protocol.md):
# the source trusts nothing the destination says before it proves the token, the socket is
# root's only, unauthenticated peers cannot hold the slots, every wait has a deadline, and
# after a partition or a stopped handler the container never runs on both hosts.

load ../lib/common

setup() {
	mk_hosts
	sshd_start "$TEST_TMP/sshd"
	fake_bundle "$SRC_BASE" c1
	fake_bundle "$DST_BASE" c1
	echo 4096 >"$SRC_ROOT/image-size"
	"$FAKE_RUNC" --root "$SRC_ROOT" run -d --bundle "$SRC_BASE/c1" c1
	dst_start "$TEST_TMP/dst.log" -b "$DST_BASE" --runc "$FAKE_RUNC" --runc-root "$DST_ROOT"
	BG_PIDS=()
}

teardown() {
	local p
	[ ! -e "$TEST_TMP/flood.stop" ] || true
	touch "$TEST_TMP/stop" 2>/dev/null || true
	for p in "${BG_PIDS[@]}"; do
		kill -CONT "$p" 2>/dev/null || true
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	[ -z "${NS:-}" ] || ip netns del "$NS" 2>/dev/null || true
	[ -z "${VETH:-}" ] || ip link del "$VETH" 2>/dev/null || true
	dst_stop
	sshd_stop
	rm_hosts
}

# src [ARGS...]: migrate-src to this host's sshd and migrate-dst's socket.
src() {
	run "$MIGRATE_SRC" -b "$SRC_BASE" --runc "$FAKE_RUNC" --runc-root "$SRC_ROOT" \
		--ssh-port "$SSHD_PORT" -i "$SSH_KEY" --known-hosts "$SSH_KNOWN_HOSTS" \
		--dst-token-file "$DST_TOKEN" --socket "$DST_SOCKET" "$@"
	echo "$output"
}

# frame JSON: the bytes of one framed message, for /dev/tcp peers (JSON under 256 bytes).
frame() { printf "\\x00\\x00\\x00\\x$(printf %02x "${#1}")%s" "$1"; }

HELLO='{"v":2,"type":"hello","nonce":"0000000000000000000000000000000000000000000000000000000000000001"}'

@test "a squatter on the port with hostile hellos: exit 2, no image sent, no file it names is read" {
	mkfifo "$TEST_TMP/bait"
	# Whoever opens the bait for reading lets this writer through, and it says so.
	(exec 3>"$TEST_TMP/bait" && touch "$TEST_TMP/bait-opened") &
	BG_PIDS+=($!)
	local reply
	for reply in \
		'{"v":2,"type":"reply","ok":true,"auth":false,"token_file":"BAIT","base_dir":"/"}' \
		'{"v":2,"type":"reply","ok":true,"auth":true,"nonce":"'"$(printf '%064d' 3)"'","token_file":"BAIT","base_dir":"/","seq":0,"mac":"'"$(printf '%064d' 4)"'"}' \
		'{"v":2,"type":"reply","ok":true,"auth":true,"nonce":"'"$(printf '%064d' 3)"'","base_dir":"/"}'; do
		FAKE_LOG=$TEST_TMP/fake.log
		: >"$FAKE_LOG"
		rm -f "$TEST_TMP/fake.port"
		"$FAKEDST" "$TEST_TMP/fake.port" "$FAKE_LOG" "${reply//BAIT/$TEST_TMP/bait}" 3>&- &
		local fake=$!
		for _ in $(seq 50); do [ -s "$TEST_TMP/fake.port" ] && break; sleep 0.1; done
		src -p "$(cat "$TEST_TMP/fake.port")" c1 127.0.0.1
		stop_pid "$fake"
		[ "$status" -eq 2 ]
		[[ "$output" == *"authenticates nothing"*"refusing it"* || "$output" == *"did not prove it knows the token"* ]]
		# only our hello reached it: no check, no image
		[ "$(wc -l <"$FAKE_LOG")" -eq 1 ]
		grep -q '"type":"hello"' "$FAKE_LOG"
		[ "$(fake_status "$SRC_ROOT" c1)" = running ]
	done
	[ ! -e "$TEST_TMP/bait-opened" ]
	[ ! -e "$SRC_BASE/c1/image/inventory.img" ]
}

@test "the control socket is root's only, and neither a second server nor a writable directory is accepted" {
	[ "$(stat -c %a "$DST_SOCKET")" = 600 ]
	[ "$(stat -c %F "$DST_SOCKET")" = socket ]
	# an unprivileged user gets nowhere
	run as_nobody "$CTLCAT" --socket "$DST_SOCKET" "$HELLO"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"ermission denied"* ]]
	# a live socket is not taken over
	run "$MIGRATE_DST" -b "$DST_BASE" --token-file "$DST_TOKEN" --socket "$DST_SOCKET"
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"another migrate-dst is listening on $DST_SOCKET"* ]]
	# a directory others can write to: they could swap the socket
	mkdir -m 1777 "$TEST_TMP/open"
	run "$MIGRATE_DST" -b "$DST_BASE" --token-file "$DST_TOKEN" --socket "$TEST_TMP/open/s"
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"$TEST_TMP/open is writable by others"* ]]
	[ ! -e "$TEST_TMP/open/s" ]
	# something that is not a socket is not removed
	echo keep >"$TEST_TMP/not-a-socket"
	run "$MIGRATE_DST" -b "$DST_BASE" --token-file "$DST_TOKEN" --socket "$TEST_TMP/not-a-socket"
	[ "$status" -eq 2 ]
	[[ "$output" == *"exists and is not a socket"* ]]
	[ "$(cat "$TEST_TMP/not-a-socket")" = keep ]
	# the socket of one that was killed is replaced, and removed when it stops
	kill -KILL "$DST_PID"
	wait "$DST_PID" 2>/dev/null || true
	DST_PID=
	[ -S "$DST_SOCKET" ]
	dst_start "$TEST_TMP/dst2.log" -b "$DST_BASE" --runc "$FAKE_RUNC" --runc-root "$DST_ROOT" \
		--socket "$DST_SOCKET"
	src --socket "$DST_SOCKET" c1 127.0.0.1
	[ "$status" -eq 0 ]
	dst_stop
	[ ! -e "$DST_SOCKET" ]
}

@test "20 unauthenticated peers repeating hello while a migration runs: it succeeds" {
	echo 2 >"$SRC_ROOT/delay-checkpoint"
	local i
	for i in $(seq 20); do
		(
			while [ ! -e "$TEST_TMP/stop" ]; do
				exec {fd}<>"/dev/tcp/127.0.0.1/$DST_PORT" || exit 0
				frame "$HELLO" >&"$fd"
				sleep 2
				exec {fd}<&-
			done
		) 2>/dev/null &
		BG_PIDS+=($!)
	done
	sleep 1
	# through SSH to the TCP port: the same peer address as every flooder
	src -p "$DST_PORT" c1 127.0.0.1
	[ "$status" -eq 0 ]
	[ "$(fake_status "$DST_ROOT" c1)" = running ]
	[ "$(fake_status "$SRC_ROOT" c1)" = absent ]
	grep -q 'evicting an unauthenticated connection' "$TEST_TMP/dst.log"
	kill -0 "$DST_PID"
}

@test "a peer that never proves the token is cut off 10 s after the accept, reading or not" {
	exec {fd}<>"/dev/tcp/127.0.0.1/$DST_PORT"
	frame "$HELLO" >&"$fd"
	local t0=$SECONDS
	timeout 20 cat <&"$fd" >/dev/null || true
	exec {fd}<&-
	local took=$((SECONDS - t0))
	echo "cut off after $took s"
	[ "$took" -ge 8 ]
	[ "$took" -le 13 ]
	# and one that sends half a frame, as slowly as it likes, the same
	exec {fd}<>"/dev/tcp/127.0.0.1/$DST_PORT"
	t0=$SECONDS
	printf '\x00\x00\x01\x00{' >&"$fd"
	timeout 20 cat <&"$fd" >/dev/null || true
	exec {fd}<&-
	took=$((SECONDS - t0))
	[ "$took" -le 13 ]
	kill -0 "$DST_PID"
}

@test "the destination's handler stopped (SIGSTOP) after the dump began: exit 3 in the bound, one copy after SIGCONT" {
	cat >"$SRC_ROOT/hook-checkpoint" <<HOOK
#!/bin/sh
for p in \$(ps -o pid= --ppid $DST_PID); do kill -STOP "\$p"; echo "\$p" >>"$TEST_TMP/stopped"; done
HOOK
	chmod +x "$SRC_ROOT/hook-checkpoint"
	local t0=$SECONDS
	# --timeout 2: the restore's deadline D is 12 s; the bound is 10 + 12 + 5 + 5 s
	src --timeout 2 c1 127.0.0.1
	local took=$((SECONDS - t0))
	echo "exit after $took s"
	[ "$status" -eq 3 ]
	[ "$took" -le 45 ]
	[[ "$output" == *"the container was restored and runs on this host again"* ]]
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
	# the handler wakes up to the request and the hang-up behind it: no second copy
	local p
	for p in $(cat "$TEST_TMP/stopped"); do BG_PIDS+=("$p"); kill -CONT "$p"; done
	for _ in $(seq 60); do
		[ "$(fake_status "$DST_ROOT" c1)" = running ] && break
		[ -n "$(ps -o pid= --ppid "$DST_PID")" ] || break
		sleep 0.05
	done
	[ "$(fake_status "$DST_ROOT" c1)" = absent ]
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
	refute_grep ' restore ' "$DST_ROOT/argv.log"
}

@test "a pages connection must prove its session: others are refused, the socket is root's and goes away" {
	run "$CTLCAT" --token "$DST_TOKEN" --socket "$DST_SOCKET" '{"v":2,"type":"hello"}' \
		'{"v":2,"type":"check","name":"c1","technique":"post-copy"}' '{"v":2,"type":"pages","name":"c1"}'
	echo "$output"
	[[ "${lines[2]}" == *'"ok":true'* ]]
	path=$(jq -r .pages_socket <<<"${lines[2]}")
	nonce=$(jq -r .nonce <<<"${lines[2]}")
	# beside the control socket, named at random, 0600, root's
	[ "$(dirname "$path")" = "$(dirname "$DST_SOCKET")" ]
	[[ "$(basename "$path")" =~ ^pages-[0-9a-f]{16}\.sock$ ]]
	[ "$(stat -c '%a %U %F' "$path")" = "600 root socket" ]
	[ ${#nonce} -eq 64 ]
	# nobody else may connect; root without this session's key is refused
	run as_nobody "$CTLCAT" --socket "$path" '{"v":2,"type":"pages_hello","name":"c1"}'
	[[ "$output" != *'"ok":true'* ]]
	run "$CTLCAT" --socket "$path" '{"v":2,"type":"pages_hello","name":"c1","proof":"'"$nonce"'"}'
	echo "$output"
	[[ "$output" == *"without this session's proof"* ]]
	run "$CTLCAT" --socket "$path" '{"v":2,"type":"pages_hello","name":"c2","proof":"'"$nonce"'"}'
	[[ "$output" == *"for another container"* ]]
	run "$CTLCAT" --socket "$path" '{"v":2,"type":"hello"}'
	[[ "$output" == *"begins with pages_hello"* ]]
	# eight failures and the listener is gone (else PAGES_HELLO_MS, 10 s, ends it)
	for _ in 1 2 3 4 5; do "$CTLCAT" --socket "$path" '{"v":2,"type":"x"}' >/dev/null 2>&1 || true; done
	for _ in $(seq 50); do [ -e "$path" ] || break; sleep 0.1; done
	[ ! -e "$path" ]
	grep -q "pages connection refused" "$TEST_TMP/dst.log"
	# a pages request is for post-copy and hybrid only
	run "$CTLCAT" --token "$DST_TOKEN" --socket "$DST_SOCKET" '{"v":2,"type":"hello"}' \
		'{"v":2,"type":"check","name":"c1","technique":"cold"}' '{"v":2,"type":"pages","name":"c1"}'
	[[ "${lines[2]}" == *"for post-copy and hybrid only"* ]]
}

@test "SIGTERM to migrate-dst with a handler waiting: every handler is gone within the grace period" {
	"$CTLCAT" --token "$DST_TOKEN" 127.0.0.1 "$DST_PORT" '{"v":2,"type":"hello"}' \
		'{"v":2,"type":"check","name":"c1"}' '{"v":2,"type":"file","name":"x","size":100,"mode":384}' \
		>"$TEST_TMP/held.out" 2>&1 &
	BG_PIDS+=($!)
	for _ in $(seq 50); do [ "$(wc -l <"$TEST_TMP/held.out")" -ge 2 ] && break; sleep 0.1; done
	[[ "$(sed -n 2p "$TEST_TMP/held.out")" == *'"ok":true'* ]]
	handlers=$(ps -o pid= --ppid "$DST_PID")
	[ -n "$handlers" ]
	local t0=$SECONDS
	kill -TERM "$DST_PID"
	local rc=0
	wait "$DST_PID" || rc=$?
	local took=$((SECONDS - t0))
	DST_PID=
	echo "migrate-dst exited $rc after $took s"
	[ "$took" -le 6 ]
	for p in $handlers; do [ ! -d "/proc/$p" ]; done
	# what the stream began is removed, the lock released, the socket gone
	[ ! -e "$DST_BASE/c1/image/x" ]
	[ ! -e "$DST_SOCKET" ]
	flock -n "$DST_BASE/c1/.migrate.lock" true
}

# A destination host of its own: a network namespace with its own sshd and migrate-dst,
# reached at 10.179.0.2 over a veth pair that the test can cut with iptables inside it.
# partitioned_host [TIMEOUT [MIGRATE-DST ARGS...]]: migrate-dst's --timeout (default 2).
partitioned_host() {
	local tmo=${1:-2}
	[ $# -eq 0 ] || shift
	NS=migp$$
	VETH=migp$$a
	ip netns add "$NS"
	ip link add "$VETH" type veth peer name "migp$$b" netns "$NS"
	ip addr add 10.179.0.1/24 dev "$VETH"
	ip link set "$VETH" up
	ip -n "$NS" addr add 10.179.0.2/24 dev "migp$$b"
	ip -n "$NS" link set "migp$$b" up
	ip -n "$NS" link set lo up
	local dir=$TEST_TMP/sshd port=$(free_port)
	sed -e "s/^ListenAddress .*/ListenAddress 10.179.0.2/" -e "s/^Port .*/Port $port/" \
		-e "s|^PidFile .*|PidFile $dir/sshd-ns.pid|" "$dir/sshd_config" >"$dir/sshd-ns_config"
	ip netns exec "$NS" /usr/sbin/sshd -D -e -f "$dir/sshd-ns_config" </dev/null \
		>"$dir/sshd-ns.log" 2>&1 3>&- &
	BG_PIDS+=($!)
	echo "[10.179.0.2]:$port $(cut -d' ' -f1,2 "$dir/ssh_host_ed25519_key.pub")" >>"$SSH_KNOWN_HOSTS"
	NS_SSH_PORT=$port
	dst_stop
	ip netns exec "$NS" "$MIGRATE_DST" -b "$DST_BASE" --runc "$FAKE_RUNC" --runc-root "$DST_ROOT" \
		--token-file "$DST_TOKEN" --socket "$TEST_TMP/ns.sock" --timeout "$tmo" "$@" </dev/null \
		>"$TEST_TMP/dst-ns.log" 2>&1 3>&- &
	BG_PIDS+=($!)
	wait_for_line "$TEST_TMP/dst-ns.log" 'listening on' 5
	for _ in $(seq 50); do ip netns exec "$NS" ss -Htln | grep -q "10.179.0.2:$port" && break; sleep 0.1; done
}

@test "a partition right after the restore request: sampled every 50 ms, the container never runs on both" {
	partitioned_host
	# the destination's runc restore cuts the link first, then restores: its reply is lost
	cat >"$DST_ROOT/hook-restore" <<HOOK
#!/bin/sh
iptables -A INPUT -i migp$$b -j DROP && iptables -A OUTPUT -o migp$$b -j DROP
HOOK
	chmod +x "$DST_ROOT/hook-restore"
	(
		while [ ! -e "$TEST_TMP/stop" ]; do
			s=$(fake_status "$SRC_ROOT" c1) d=$(fake_status "$DST_ROOT" c1)
			echo "$s $d" >>"$TEST_TMP/samples"
			if [ "$s" = running ] && [ "$d" = running ]; then echo "both at $(date +%T.%N)" >>"$TEST_TMP/both"; fi
			sleep 0.05
		done
	) &
	BG_PIDS+=($!)
	run "$MIGRATE_SRC" -b "$SRC_BASE" --runc "$FAKE_RUNC" --runc-root "$SRC_ROOT" \
		--ssh-port "$NS_SSH_PORT" -i "$SSH_KEY" --known-hosts "$SSH_KNOWN_HOSTS" \
		--dst-token-file "$DST_TOKEN" --socket "$TEST_TMP/ns.sock" --timeout 2 c1 10.179.0.2
	echo "$output"
	sleep 1
	touch "$TEST_TMP/stop"
	cat "$TEST_TMP/dst-ns.log"
	sort "$TEST_TMP/samples" | uniq -c
	[ "$status" -eq 3 ]
	[[ "$output" == *"waiting"*"before restoring c1 here"* ]]
	grep -q 'the source did not confirm the restore' "$TEST_TMP/dst-ns.log"
	# the destination did run it for a while: the partition came after its restore
	grep -q 'absent running' "$TEST_TMP/samples"
	[ ! -e "$TEST_TMP/both" ]
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
	[ "$(fake_status "$DST_ROOT" c1)" = absent ]
}

@test "post-copy, a partition in the lazy phase: the destination removes its copy before CRIU resumes the source's" {
	export FAKE_CRIU_DIR="$TEST_TMP/criu"
	mkdir -p "$FAKE_CRIU_DIR"
	FAKE_CRIU="$_COMMON_TESTS_DIR/fake-criu"
	partitioned_host 20 --criu "$FAKE_CRIU"
	echo 30 >"$FAKE_CRIU_DIR/pause-lazy-pages"
	echo 120000 >"$SRC_ROOT/lazy-serve-ms"
	# --timeout 20: the lazy phase's silence limit is 5 s on both sides (timeouts.h, 8.)
	"$MIGRATE_SRC" -b "$SRC_BASE" --runc "$FAKE_RUNC" --runc-root "$SRC_ROOT" --criu "$FAKE_CRIU" \
		--ssh-port "$NS_SSH_PORT" -i "$SSH_KEY" --known-hosts "$SSH_KNOWN_HOSTS" \
		--dst-token-file "$DST_TOKEN" --socket "$TEST_TMP/ns.sock" --timeout 20 \
		--page-server-port $(free_port) -t post-copy c1 10.179.0.2 \
		>"$TEST_TMP/src.out" 2>&1 3>&- &
	src_pid=$!
	BG_PIDS+=("$src_pid")
	# the lazy phase: committed, the daemon in the middle of its pages
	wait_for_line "$TEST_TMP/src.out" 'its memory follows through the page tunnel' 60
	for _ in $(seq 300); do [ -e "$FAKE_CRIU_DIR/lazy-paused" ] && break; sleep 0.1; done
	[ -e "$FAKE_CRIU_DIR/lazy-paused" ]
	[ "$(fake_status "$DST_ROOT" c1)" = running ]
	# the link goes silent both ways, nothing is closed
	ip netns exec "$NS" iptables -A INPUT -i "migp$$b" -j DROP
	ip netns exec "$NS" iptables -A OUTPUT -o "migp$$b" -j DROP
	cut=$(date +%s%N)
	dst_gone="" src_resumed=""
	while kill -0 "$src_pid" 2>/dev/null; do
		now=$(date +%s%N)
		[ -n "$dst_gone" ] || [ "$(fake_status "$DST_ROOT" c1)" != absent ] || dst_gone=$now
		[ -n "$src_resumed" ] || ! grep -q 'transfer FAILED' "$SRC_BASE/c1/image/dump.log" 2>/dev/null ||
			src_resumed=$now
		[ $(((now - cut) / 1000000000)) -lt 60 ] || break
		sleep 0.05
	done
	wait "$src_pid" && rc=0 || rc=$?
	# the stand-in page server's failure is the last thing its runc writes (CRIU resumed)
	grep -q 'transfer FAILED' "$SRC_BASE/c1/image/dump.log" &&
		src_resumed=$(date -r "$SRC_BASE/c1/image/dump.log" +%s%N)
	cat "$TEST_TMP/src.out" "$TEST_TMP/dst-ns.log"
	echo "destination copy removed $(((dst_gone - cut) / 1000000)) ms after the cut, CRIU resumed the source's $(((src_resumed - cut) / 1000000)) ms after it"
	[ "$rc" -eq 3 ]
	[ -n "$dst_gone" ] && [ -n "$src_resumed" ]
	[ "$dst_gone" -lt "$src_resumed" ]
	grep -q "the source said nothing for 5 s in the lazy phase" "$TEST_TMP/dst-ns.log"
	grep -q "the destination said nothing for 5 s in the lazy phase" "$TEST_TMP/src.out"
	[ "$(fake_status "$SRC_ROOT" c1)" = running ]
	[ "$(fake_status "$DST_ROOT" c1)" = absent ]
}

