#!/usr/bin/env bats
# Real network services move with real runc + CRIU: a Redis server (Debian's, copied with its
# libraries into the busybox rootfs by tests/lib/make-bundle --redis) holding 300 000 keys in
# memory, alone, with a subscriber holding a TCP connection inside the container, in a named
# network namespace per "host", and with a client outside the container whose connection
# survives because the container's address moves with it.  See docs/networking.md and
# docs/notes-real-services.md.
#
# Needs a CRIU that dumps TCP sockets on this kernel (Debian 13's 4.1.1 cannot on 6.18:
# scripts/install-deps --criu-tcp-test), redis-tools (redis-check-rdb, redis-cli), busybox,
# iproute2.  Network namespaces, veths and the bridge are made per test and removed after;
# all their traffic stays inside them.

load ../lib/common
load ../lib/real

setup_file() {
	export CRIU_FAULT=130 # no hardware breakpoints in some VMs: docs/notes-platform.md
	# A CRIU that cannot dump a TCP socket cannot move any of these containers.  In CI the
	# skip is a failure (tests/run-all), as it should be.
	if [ "$(id -u)" -eq 0 ] && command -v criu >/dev/null &&
		! "$_COMMON_TOP/scripts/install-deps" --criu-tcp-test >"$BATS_FILE_TMPDIR/criu-tcp" 2>&1; then
		skip "$(cat "$BATS_FILE_TMPDIR/criu-tcp")"
	fi
}

setup() {
	e2e_possible || skip "$E2E_SKIP_REASON"
	command -v redis-cli >/dev/null || skip "redis-cli not installed (scripts/install-deps: redis-tools)"
	mk_hosts
	sshd_start "$TEST_TMP/sshd"
	dst_start "$TEST_TMP/dst.log" --json -b "$DST_BASE" --runc-root "$DST_ROOT" --timeout 60
	NETNS_MADE=()
	# Namespace names of this test only (netns names are global on the machine).
	NSP=mgt$(printf '%04x' $((RANDOM)))
	PINGER_PID=""
}

teardown() {
	if [ -n "${PINGER_PID:-}" ]; then
		kill -TERM -- "-$PINGER_PID" 2>/dev/null || true # its own process group (setsid)
		stop_pid "$PINGER_PID" 2
	fi
	dst_stop
	sshd_stop
	real_cleanup r1
	net_down
	rm_hosts
}

src() {
	run "$MIGRATE_SRC" -b "$SRC_BASE" --runc-root "$SRC_ROOT" --ssh-port "$SSHD_PORT" ${DST_TOKEN:+--dst-token-file "$DST_TOKEN"} \
		-i "$SSH_KEY" --known-hosts "$SSH_KNOWN_HOSTS" --socket "$DST_SOCKET" "$@"
}

PORT=6379 # inside the container's own network namespace: no clash with anything

# --- network namespaces ------------------------------------------------------------------

# net_up: a bridge in a namespace of its own ($NSP-br); net_host NAME [ADDR/LEN] adds namespace
# $NSP-NAME with eth0 (a veth whose peer is on the bridge) and lo up.  The veths are made
# inside the namespaces: nothing appears in the host's.
net_up() {
	ip netns add "$NSP-br" && NETNS_MADE+=("$NSP-br")
	ip -n "$NSP-br" link add br0 type bridge
	ip -n "$NSP-br" link set br0 up
}

net_host() {
	local name=$1 addr=${2:-} ns=$NSP-$1
	ip netns add "$ns" && NETNS_MADE+=("$ns")
	ip -n "$ns" link set lo up
	ip link add "v-$name" netns "$ns" type veth peer name "p-$name" netns "$NSP-br"
	ip -n "$ns" link set "v-$name" name eth0
	[ -z "$addr" ] || ip -n "$ns" addr add "$addr" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$NSP-br" link set "p-$name" master br0 up
}

net_down() {
	local ns
	for ns in ${NETNS_MADE[@]+"${NETNS_MADE[@]}"}; do
		ip netns del "$ns" 2>/dev/null || true
	done
	NETNS_MADE=()
}

# netns_ino PATH: the inode that /proc/PID/ns/net shows for the namespace at PATH
netns_ino() { stat -L -c %i "$1"; }

# --- redis -------------------------------------------------------------------------------

# The server, and a subscriber to channel "news" started by the container's own shell (a
# child of the container's init: CRIU dumps only the init's descendants; a `runc exec -d`
# process is dropped, see the last test).  The subscriber writes what it receives to
# /tmp/sub.log in the rootfs.
# shellcheck disable=SC2016 # expanded by the container's shell
SUB_ARGS='redis-server --port 6379 --bind 0.0.0.0 --protected-mode no --save "" --appendonly no --dir /tmp --enable-debug-command yes &
until redis-cli -p 6379 ping >/dev/null 2>&1; do sleep 0.1; done
redis-cli -p 6379 subscribe news >/tmp/sub.log 2>&1 &
wait'

# redis_bundles NAME [--subscriber] [make-bundle options]: the same bundle on both hosts.
# --lo-up-hook: runc restores a private netns empty (lo down), see make-bundle.
redis_bundles() {
	local name=$1 args=() b
	shift
	if [ "${1:-}" = --subscriber ]; then
		args=(-- sh -c "$SUB_ARGS")
		shift
	fi
	for b in "$SRC_BASE/$name" "$DST_BASE/$name"; do
		make_real_bundle "$b" --redis="$PORT" --lo-up-hook "$@" ${args[@]+"${args[@]}"}
	done
}

# rcli WHERE ARGS...: redis-cli against the server; WHERE is "pid:PID" (the container's own
# network namespace, by its PID) or "ns:NETNS ADDR" (from another namespace, to ADDR).
rcli() {
	local where=$1
	shift
	case $where in
	pid:*) nsenter -t "${where#pid:}" -n redis-cli -p "$PORT" "$@" ;;
	ns:*)
		local ns=${where#ns:}
		local addr=${ns#* }
		ns=${ns%% *}
		ip netns exec "$ns" redis-cli -h "$addr" -p "$PORT" "$@"
		;;
	esac
}

cpid() { runc --root "$1" state "$2" | jq .pid; }

# wait_redis WHERE: until the server answers PING (5 s)
wait_redis() {
	local i
	for ((i = 0; i < 50; i++)); do
		[ "$(rcli "$1" PING 2>/dev/null)" = PONG ] && return 0
		sleep 0.1
	done
	echo "wait_redis: no PONG from $1" >&2
	return 1
}

# data_set WHERE: 300 000 keys of 256 bytes (about 115 MB in the server) and 3 random ones.
data_set() {
	local i
	[ "$(rcli "$1" DEBUG POPULATE 300000 key 256)" = OK ]
	for i in 1 2 3; do
		rcli "$1" SET "rnd$i" "$(head -c 48 /dev/urandom | base64)" >/dev/null
	done
	[ "$(rcli "$1" DBSIZE)" -eq 300003 ]
}

# digest WHERE: DEBUG DIGEST (of every key and value), DBSIZE, and the SHA-256 of every value
# read back in key order (MGET, 1000 keys a command).
digest() {
	local cmds=$BATS_TEST_TMPDIR/mget.cmds
	[ -s "$cmds" ] || seq 0 299999 | awk '{ if (NR % 1000 == 1) printf "MGET"; printf " key:%d", $1; if (NR % 1000 == 0) print "" }' >"$cmds"
	echo "digest $(rcli "$1" DEBUG DIGEST) dbsize $(rcli "$1" DBSIZE) rnd $(rcli "$1" MGET rnd1 rnd2 rnd3 | sha256sum | cut -c1-16) values $(rcli "$1" <"$cmds" | sha256sum | cut -c1-64)"
}

# --- tests -------------------------------------------------------------------------------

@test "redis with 300 000 keys moves cold: every value identical on the destination" {
	redis_bundles r1
	run_real "$SRC_ROOT" "$SRC_BASE/r1" r1
	wait_redis "pid:$(cpid "$SRC_ROOT" r1)"
	data_set "pid:$(cpid "$SRC_ROOT" r1)"
	before=$(digest "pid:$(cpid "$SRC_ROOT" r1)")
	src --json r1 127.0.0.1
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(runc --root "$DST_ROOT" state r1 | jq -r .status)" = running ]
	after=$(digest "pid:$(cpid "$DST_ROOT" r1)")
	echo "before: $before"; echo "after:  $after"
	[ "$before" = "$after" ]
	line=$(printf '%s\n' "$output" | grep '^{')
	[ "$(json_get "$line" dump_bytes)" -gt 100000000 ] # the data set was in the image
}

@test "redis with 300 000 keys moves post-copy: every value identical on the destination" {
	redis_bundles r1
	run_real "$SRC_ROOT" "$SRC_BASE/r1" r1
	wait_redis "pid:$(cpid "$SRC_ROOT" r1)"
	data_set "pid:$(cpid "$SRC_ROOT" r1)"
	before=$(digest "pid:$(cpid "$SRC_ROOT" r1)")
	pipe_max=$(cat /proc/sys/fs/pipe-max-size)
	src --json --page-server-port $(free_port) -t post-copy r1 127.0.0.1
	echo "$pipe_max" >/proc/sys/fs/pipe-max-size # migrate-src raises it for CRIU's page server
	echo "$output"; cat "$TEST_TMP/dst.log"
	[ "$status" -eq 0 ]
	after=$(digest "pid:$(cpid "$DST_ROOT" r1)")
	[ "$before" = "$after" ]
	line=$(printf '%s\n' "$output" | grep '^{')
	[ "$(json_get "$line" lazy_bytes)" -gt 100000000 ] # the memory came lazily
	# through the SSH connection (the page tunnel), every byte of it
	[ "$(json_get "$line" lazy_wire_bytes)" -ge "$(json_get "$line" lazy_bytes)" ]
}

@test "a subscriber connected inside the container: without --tcp-established exit 3 with CRIU's message" {
	redis_bundles r1 --subscriber
	run_real "$SRC_ROOT" "$SRC_BASE/r1" r1
	wait_for_line "$SRC_BASE/r1/rootfs/tmp/sub.log" '^news$' 5
	src r1 127.0.0.1
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"Connected TCP socket, consider using --tcp-established option"* ]]
	[[ "$output" == *"the container is running on this host again"* ]]
	# and it still serves its subscriber
	rcli "pid:$(cpid "$SRC_ROOT" r1)" PUBLISH news still-here
	wait_for_line "$SRC_BASE/r1/rootfs/tmp/sub.log" '^still-here$' 5
}

@test "cold with --tcp-established: the subscriber inside receives a message published after the move" {
	redis_bundles r1 --subscriber
	run_real "$SRC_ROOT" "$SRC_BASE/r1" r1
	wait_for_line "$SRC_BASE/r1/rootfs/tmp/sub.log" '^news$' 5
	data_set "pid:$(cpid "$SRC_ROOT" r1)"
	before=$(digest "pid:$(cpid "$SRC_ROOT" r1)")
	src --json --tcp-established r1 127.0.0.1
	echo "$output"; cat "$TEST_TMP/dst.log"
	[ "$status" -eq 0 ]
	pid=$(cpid "$DST_ROOT" r1)
	[ "$before" = "$(digest "pid:$pid")" ]
	# the same connection (one subscriber, no reconnect): the server counts 1 subscriber
	[ "$(rcli "pid:$pid" PUBLISH news after-the-move)" -eq 1 ]
	wait_for_line "$DST_BASE/r1/rootfs/tmp/sub.log" '^after-the-move$' 5
	grep -q "Restoring TCP connection" "$DST_BASE/r1/work/restore.log"
}

@test "post-copy with --tcp-established: the subscriber inside receives a message published after the move" {
	redis_bundles r1 --subscriber
	run_real "$SRC_ROOT" "$SRC_BASE/r1" r1
	wait_for_line "$SRC_BASE/r1/rootfs/tmp/sub.log" '^news$' 5
	data_set "pid:$(cpid "$SRC_ROOT" r1)"
	before=$(digest "pid:$(cpid "$SRC_ROOT" r1)")
	pipe_max=$(cat /proc/sys/fs/pipe-max-size)
	src --tcp-established --page-server-port $(free_port) -t post-copy r1 127.0.0.1
	echo "$pipe_max" >/proc/sys/fs/pipe-max-size
	echo "$output"; cat "$TEST_TMP/dst.log"
	[ "$status" -eq 0 ]
	pid=$(cpid "$DST_ROOT" r1)
	[ "$(rcli "pid:$pid" PUBLISH news after-the-lazy-move)" -eq 1 ]
	wait_for_line "$DST_BASE/r1/rootfs/tmp/sub.log" '^after-the-lazy-move$' 5
	[ "$before" = "$(digest "pid:$pid")" ]
}

@test "--tcp-close: the destination restores the connections closed; the server runs on" {
	redis_bundles r1 --subscriber
	run_real "$SRC_ROOT" "$SRC_BASE/r1" r1
	wait_for_line "$SRC_BASE/r1/rootfs/tmp/sub.log" '^news$' 5
	src --tcp-established --tcp-close r1 127.0.0.1
	echo "$output"
	[ "$status" -eq 0 ]
	pid=$(cpid "$DST_ROOT" r1)
	wait_for_line "$DST_BASE/r1/rootfs/tmp/sub.log" 'Server closed the connection' 5
	[ "$(rcli "pid:$pid" PUBLISH news nobody-listens)" -eq 0 ]
	[ "$(rcli "pid:$pid" PING)" = PONG ]
}

@test "a named netns on each host (--dst-netns): the service answers at the destination's address" {
	net_up
	net_host a 10.177.0.1/24 # the source host's netns for the container
	net_host b 10.177.0.2/24 # the destination host's
	net_host c 10.177.0.100/24 # a client
	redis_bundles r1 --subscriber --netns "/var/run/netns/$NSP-a"
	# The destination's bundle names the SOURCE's namespace, as a copied bundle would;
	# --dst-netns makes the destination use its own.
	[ "$(jq -r '.linux.namespaces[] | select(.type == "network") | .path' "$DST_BASE/r1/config.json")" = "/var/run/netns/$NSP-a" ]
	run_real "$SRC_ROOT" "$SRC_BASE/r1" r1
	wait_for_line "$SRC_BASE/r1/rootfs/tmp/sub.log" '^news$' 5
	data_set "ns:$NSP-c 10.177.0.1"
	before=$(digest "ns:$NSP-c 10.177.0.1")
	src --tcp-established --dst-netns "/var/run/netns/$NSP-b" r1 127.0.0.1
	echo "$output"; cat "$TEST_TMP/dst.log"
	[ "$status" -eq 0 ]
	pid=$(cpid "$DST_ROOT" r1)
	[ "$(readlink "/proc/$pid/ns/net")" = "net:[$(netns_ino "/var/run/netns/$NSP-b")]" ]
	[ "$before" = "$(digest "ns:$NSP-c 10.177.0.2")" ]
	[ "$(rcli "ns:$NSP-c 10.177.0.2" PUBLISH news at-b)" -eq 1 ]
	wait_for_line "$DST_BASE/r1/rootfs/tmp/sub.log" '^at-b$' 5
}

@test "the destination's netns does not exist: refused before the freeze, exit 2" {
	net_up
	net_host a 10.177.0.1/24
	redis_bundles r1 --netns "/var/run/netns/$NSP-a"
	run_real "$SRC_ROOT" "$SRC_BASE/r1" r1
	wait_redis "pid:$(cpid "$SRC_ROOT" r1)"
	src --dst-netns "/var/run/netns/$NSP-nosuch" r1 127.0.0.1
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"/var/run/netns/$NSP-nosuch"* ]]
	[ ! -e "$SRC_BASE/r1/image/inventory.img" ] # nothing was dumped
	# a path that is not on nsfs is refused without being opened (a FIFO would block a
	# plain open; device nodes can have effects)
	mkfifo "$TEST_TMP/not-a-netns"
	src --dst-netns "$TEST_TMP/not-a-netns" r1 127.0.0.1
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"$TEST_TMP/not-a-netns is not a network namespace (not on nsfs"* ]]
	[ ! -e "$SRC_BASE/r1/image/inventory.img" ]
	[ "$(runc --root "$SRC_ROOT" state r1 | jq -r .status)" = running ]
}

@test "a private netns here and a named one there: refused before the freeze, exit 2" {
	net_up
	net_host b 10.177.0.2/24
	make_real_bundle "$SRC_BASE/r1" --redis="$PORT" --lo-up-hook
	make_real_bundle "$DST_BASE/r1" --redis="$PORT" --netns "/var/run/netns/$NSP-b"
	run_real "$SRC_ROOT" "$SRC_BASE/r1" r1
	wait_redis "pid:$(cpid "$SRC_ROOT" r1)"
	# Without the check the restore SUCCEEDS, silently in a new empty namespace, not in
	# $NSP-b (runc hands the path to CRIU only as an inherit fd that the image never asks
	# for); the reverse (named here, private there) fails in CRIU: "Unable to find an
	# external netns: extRootNetNS".
	src r1 127.0.0.1
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"network namespace"* ]]
	[ "$(runc --root "$SRC_ROOT" state r1 | jq -r .status)" = running ]
}

# addr_hooks BUNDLE NETNS ADDR/LEN: the container's address moves with it.  createRuntime
# (runc run, and runc restore BEFORE CRIU restores the sockets: an established connection
# can only be restored where its local address exists) adds it and announces it with a
# gratuitous ARP; poststop (runc checkpoint's end, runc delete) removes it, so that the
# source no longer answers ARP for it.
addr_hooks() {
	local b=$1 ns=$2 addr=$3
	jq --arg ns "$ns" --arg a "$addr" --arg ip "${addr%/*}" '
		.hooks.createRuntime += [{path: "/bin/sh", args: ["sh", "-c",
			"nsenter --net=\($ns) ip addr replace \($a) dev eth0 && nsenter --net=\($ns) busybox arping -U -c 1 -I eth0 \($ip) >/dev/null 2>&1; true"],
			env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], timeout: 10}]
		| .hooks.poststop += [{path: "/bin/sh", args: ["sh", "-c",
			"nsenter --net=\($ns) ip addr del \($a) dev eth0 2>/dev/null; true"],
			env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], timeout: 10}]
		' "$b/config.json" >"$b/config.json.new"
	mv "$b/config.json.new" "$b/config.json"
}

@test "a client outside the container keeps its TCP connection: the address moves with it" {
	net_up
	net_host a # the source's netns: eth0 without an address (the hook adds it)
	net_host d # the destination's
	net_host c 10.177.0.100/24 # the client
	redis_bundles r1 --subscriber --netns "/var/run/netns/$NSP-a"
	jq --arg p "/var/run/netns/$NSP-d" '.linux.namespaces |= map(if .type == "network" then .path = $p else . end)' \
		"$DST_BASE/r1/config.json" >"$DST_BASE/r1/config.json.new"
	mv "$DST_BASE/r1/config.json.new" "$DST_BASE/r1/config.json"
	addr_hooks "$SRC_BASE/r1" "/var/run/netns/$NSP-a" 10.177.0.1/24
	addr_hooks "$DST_BASE/r1" "/var/run/netns/$NSP-d" 10.177.0.1/24
	run_real "$SRC_ROOT" "$SRC_BASE/r1" r1
	wait_for_line "$SRC_BASE/r1/rootfs/tmp/sub.log" '^news$' 5
	data_set "ns:$NSP-c 10.177.0.1"
	before=$(digest "ns:$NSP-c 10.177.0.1")
	# The client: ONE connection (busybox nc), a PING every 50 ms, each PONG time-stamped.
	# nc exits when the connection breaks; nothing reconnects.
	setsid ip netns exec "$NSP-c" sh -c "(while :; do printf 'PING\r\n'; sleep 0.05; done) |
		busybox nc 10.177.0.1 $PORT | while read -r l; do echo \"\$(date +%s%N) \$l\"; done" \
		>"$TEST_TMP/pinger.log" 2>&1 </dev/null 3>&- &
	PINGER_PID=$!
	wait_lines "$TEST_TMP/pinger.log" 10
	conn=$(ip netns exec "$NSP-c" ss -Htn | awk '{ print $4 }')
	t0=$(date +%s%N)
	src --json --tcp-established r1 127.0.0.1
	echo "$output"; cat "$TEST_TMP/dst.log"
	[ "$status" -eq 0 ]
	n=$(wc -l <"$TEST_TMP/pinger.log")
	wait_lines "$TEST_TMP/pinger.log" $((n + 10)) 30
	# the same connection, still there
	[ "$(ip netns exec "$NSP-c" ss -Htn | awk '{ print $4 }')" = "$conn" ]
	# the stall: the longest gap between two PONGs since the migration started
	gap=$(awk -v t0="$t0" '$1 > t0 { if (p && $1 - p > m) m = $1 - p } { p = $1 } END { printf "%d", m / 1e6 }' "$TEST_TMP/pinger.log")
	line=$(printf '%s\n' "$output" | grep '^{')
	echo "longest gap ${gap} ms, downtime $(json_get "$line" downtime_ms) ms"
	[ "$gap" -lt 10000 ]
	[ "$before" = "$(digest "ns:$NSP-c 10.177.0.1")" ]
	[ "$(rcli "ns:$NSP-c 10.177.0.1" PUBLISH news moved)" -eq 1 ]
	wait_for_line "$DST_BASE/r1/rootfs/tmp/sub.log" '^moved$' 5
	# the address left the source with the container
	[ -z "$(ip -n "$NSP-a" -4 -br addr show dev eth0 | awk '{ print $3 }')" ]
}

@test "a process started with runc exec -d is refused before the freeze (CRIU would drop it)" {
	redis_bundles r1
	run_real "$SRC_ROOT" "$SRC_BASE/r1" r1
	wait_redis "pid:$(cpid "$SRC_ROOT" r1)"
	runc --root "$SRC_ROOT" exec -d r1 sleep 1000 </dev/null >/dev/null 2>&1
	# Without the check the checkpoint succeeds, CRIU only warns "Unexpected process N in
	# the freezer cgroup", and the process is gone on both hosts.
	src r1 127.0.0.1
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"not a descendant of the container's init"* ]]
	runc --root "$SRC_ROOT" ps r1 | grep -q 'sleep 1000'
}

@test "--check: the TCP test dump names the CRIU version on both hosts" {
	redis_bundles r1
	run_real "$SRC_ROOT" "$SRC_BASE/r1" r1
	src --check --json r1 127.0.0.1
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"TCP"* ]]
	[[ "$output" == *"$(criu --version | sed -n 's/^Version: *//p')"* ]]
}
