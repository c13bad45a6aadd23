# bench/lib.bash: the two simulated hosts of the benchmark (sourced by bench/run,
# bench/compress and bench/xfer-overhead).
#
#   bench_check_deps              every command the benchmark needs, or what to install
#   bench_build_helpers DIR       compiles cpuwatch, linkemu and the static memhog into DIR
#   hosts_up WORK                 namespaces bench-src / bench-dst joined by a veth pair,
#                                 sshd in bench-dst (SSH_KEY SSH_KNOWN_HOSTS SSH_CMD)
#   hosts_down                    stops what hosts_up started (by PID), removes the namespaces
#   in_src CMD... / in_dst CMD... runs CMD in that host's network namespace
#   link_apply NAME               "unconstrained" or "RATEmbit-RTTms"; sets SRC_IP, DST_IP
#   link_measure                  RTT_MS (ping) and BW_BPS (TCP goodput) of the current link
#   wire_bytes                    "TX RX" byte counters of the source's end of the link
#   ctr_remove ROOT NAME          kills and deletes a container, never removing through a mount
#   dirs_clear DIR...             removes image/parent/work dirs the same careful way
#
# All traffic stays inside these namespaces; every process is stopped by the PID it was
# started with; the namespaces (and with them the veth/TAP devices and qdiscs) are deleted.
#
# Links.  "unconstrained" is the veth pair (10.213.0.1 <-> 10.213.0.2).  A constrained link
# "RATEmbit-RTTms" gets RATE each way and RTT/2 delay each way (RTT round trip):
#  - with tc netem (CONFIG_NET_SCH_NETEM), `netem delay RTT/2 rate RATE` on both veth ends;
#  - without it (this project's VMs: their kernel has htb and tbf but no netem, so no delay
#    at all in the kernel), bench/linkemu, a userspace netem stand-in, forwards frames
#    between two TAP devices (10.214.0.1 <-> 10.214.0.2) with the same rate, delay and
#    queue limit (1000 frames).  LINK_EMU=netem|linkemu forces one.
# The seed shaped only the source's egress (htb rate 20mbit + netem delay 80ms): an 80 ms
# one-way delay, so also an ~80 ms RTT, but no rate limit on the way back.

# Variables set here for the sourcing scripts (SRC_IP DST_IP LINK_EMU_USED RTT_MS BW_BPS ...).
# shellcheck disable=SC2034
BENCH_NS_SRC=bench-src
BENCH_NS_DST=bench-dst
BENCH_VETH_SRC=bench-s0
BENCH_VETH_DST=bench-d0
BENCH_TAP_SRC=bench-ts0
BENCH_TAP_DST=bench-td0
VETH_SRC_IP=10.213.0.1
VETH_DST_IP=10.213.0.2
TAP_SRC_IP=10.214.0.1
TAP_DST_IP=10.214.0.2
SRC_IP=$VETH_SRC_IP
DST_IP=$VETH_DST_IP
LINK_DEV=$BENCH_VETH_SRC
BENCH_PY=/usr/bin/python3 # Debian's python3, whatever shims PATH has
# Set by the sourcing script: BENCH_DIR (this directory).
: "${BENCH_DIR:?}"

bench_log() { printf '%s bench: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
bench_die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

# bench_check_deps: refuses (with the packages to install) rather than skipping a part.
bench_check_deps() {
	local missing=() c pkg
	[ "$(id -u)" -eq 0 ] || bench_die "run as root (network namespaces, runc and CRIU need it)"
	for c in runc:runc criu:criu rsync:rsync ssh:openssh-client /usr/sbin/sshd:openssh-server \
		ip:iproute2 tc:iproute2 nsenter:util-linux ping:iputils-ping gnuplot:gnuplot-nox \
		jq:jq gcc:build-essential $BENCH_PY:python3 /bin/busybox:busybox-static \
		iptables:iptables du:coreutils; do
		pkg=${c##*:}
		c=${c%:*}
		command -v "$c" >/dev/null || missing+=("$pkg")
	done
	# gcc -static (memhog) needs libc.a; gcc prints a bare name when it has none.
	[[ $(gcc -print-file-name=libc.a 2>/dev/null) == /* ]] || missing+=(libc6-dev)
	if [ ${#missing[@]} -gt 0 ]; then
		bench_die "missing: install them with: apt-get install $(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')(CRIU >= 4 and runc: see scripts/install-deps)"
	fi
	criu check >/dev/null 2>&1 || bench_die "criu check fails: $(criu check 2>&1 | tail -1)"
	[ -c /dev/net/tun ] || [ -n "$(bench_has_netem)" ] ||
		bench_die "neither tc netem nor /dev/net/tun: no way to emulate a constrained link"
}

# bench_has_netem: prints "yes" when the kernel has the netem qdisc (tried on a dummy
# namespace's loopback), unless LINK_EMU says which to use.
bench_has_netem() {
	case ${LINK_EMU:-auto} in
	netem) echo yes; return 0 ;;
	linkemu) return 0 ;;
	esac
	if [ -z "${_BENCH_NETEM:-}" ]; then
		_BENCH_NETEM=no
		if ip netns add bench-probe 2>/dev/null; then
			ip netns exec bench-probe tc qdisc add dev lo root netem delay 1ms 2>/dev/null &&
				_BENCH_NETEM=yes
			ip netns del bench-probe
		fi
	fi
	[ "$_BENCH_NETEM" = yes ] && echo yes
	return 0
}

bench_build_helpers() {
	local d=$1 f=(-O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra)
	mkdir -p "$d"
	gcc "${f[@]}" -o "$d/cpuwatch" "$BENCH_DIR/cpuwatch.c"
	gcc "${f[@]}" -o "$d/linkemu" "$BENCH_DIR/linkemu.c"
	gcc -static "${f[@]}" -o "$d/memhog" "$BENCH_DIR/memhog.c"
	BENCH_BIN=$d
}

in_src() { nsenter --net=/run/netns/$BENCH_NS_SRC "$@"; }
in_dst() { nsenter --net=/run/netns/$BENCH_NS_DST "$@"; }
# For background processes: `"${DST_NS[@]}" CMD &` makes $! CMD's own PID (nsenter execs it),
# where `in_dst CMD &` would give the PID of a subshell, and stopping that leaves CMD running.
SRC_NS=(nsenter "--net=/run/netns/$BENCH_NS_SRC")
DST_NS=(nsenter "--net=/run/netns/$BENCH_NS_DST")

# _pid_alive PID: exists and is not a zombie.
_pid_alive() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	[ "${s%% *}" != Z ]
}

# bench_stop_pid PID: TERM, then KILL after 5 s; reaps it.
bench_stop_pid() {
	local pid=$1 i
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		_pid_alive "$pid" || break
		sleep 0.1
	done
	_pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true
}

# umount_below DIR: every mount at or below DIR, deepest first (runc/CRIU leave some after a
# failed restore: removing the tree before would delete through them).
umount_below() {
	local dir=$1 mp
	[ -n "$dir" ] || return 0
	awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo |
		sort -r | while read -r mp; do
			umount "$mp" 2>/dev/null || umount -l "$mp"
		done
}

# safe_rm DIR...: removes trees after unmounting below them, never crossing a filesystem.
safe_rm() {
	local d
	for d in "$@"; do
		[ -e "$d" ] || continue
		umount_below "$d"
		rm -rf --one-file-system -- "$d"
	done
}

dirs_clear() {
	local b d
	for b in "$@"; do
		for d in image parent work; do
			safe_rm "$b/$d"
		done
	done
}

ctr_status() {
	runc --root "$1" state "$2" 2>/dev/null | jq -r .status 2>/dev/null || echo absent
}

ctr_remove() {
	local root=$1 name=$2 i
	[ -d "$root/$name" ] || return 0
	runc --root "$root" kill "$name" KILL >/dev/null 2>&1 || true
	for ((i = 0; i < 50; i++)); do
		[ "$(ctr_status "$root" "$name")" = running ] || break
		sleep 0.1
	done
	umount_below "$root/$name"
	runc --root "$root" delete -f "$name" >/dev/null 2>&1 || true
	if [ -d "$root/$name" ]; then
		umount_below "$root/$name"
		rm -rf --one-file-system -- "${root:?}/$name"
	fi
}

# --- hosts -----------------------------------------------------------------------------------

_BENCH_PIDS=()

hosts_up() {
	local work=$1 ns i
	BENCH_WORK=$work
	for ns in $BENCH_NS_SRC $BENCH_NS_DST; do
		if ip netns list | grep -qw "$ns"; then
			[ -z "$(ip netns pids "$ns")" ] ||
				bench_die "namespace $ns exists with processes in it (another benchmark running?)"
			ip netns del "$ns"
		fi
		ip netns add "$ns"
		ip -n "$ns" link set lo up
	done
	_BENCH_NS_UP=1
	ip link add $BENCH_VETH_SRC netns $BENCH_NS_SRC type veth peer name $BENCH_VETH_DST netns $BENCH_NS_DST
	ip -n $BENCH_NS_SRC addr add $VETH_SRC_IP/24 dev $BENCH_VETH_SRC
	ip -n $BENCH_NS_DST addr add $VETH_DST_IP/24 dev $BENCH_VETH_DST
	ip -n $BENCH_NS_SRC link set $BENCH_VETH_SRC up
	ip -n $BENCH_NS_DST link set $BENCH_VETH_DST up

	# sshd of the destination, inside its namespace (on every address of it: the veth's and
	# the TAP's), port 22.
	local d=$work/ssh
	mkdir -p "$d" /run/sshd
	chmod 0755 /run/sshd
	ssh-keygen -q -t ed25519 -N '' -C bench-host -f "$d/host_key"
	ssh-keygen -q -t ed25519 -N '' -C bench-client -f "$d/id_ed25519"
	cp "$d/id_ed25519.pub" "$d/authorized_keys"
	cat >"$d/sshd_config" <<EOF
ListenAddress 0.0.0.0
Port 22
HostKey $d/host_key
PidFile $d/sshd.pid
AuthorizedKeysFile $d/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowTcpForwarding yes
UseDNS no
PrintMotd no
PrintLastLog no
MaxStartups 100
MaxSessions 50
Subsystem sftp internal-sftp
EOF
	/usr/sbin/sshd -t -f "$d/sshd_config" || bench_die "sshd: bad config"
	"${DST_NS[@]}" /usr/sbin/sshd -D -e -f "$d/sshd_config" </dev/null >"$d/sshd.log" 2>&1 &
	_BENCH_PIDS+=($!)
	echo "$VETH_DST_IP,$TAP_DST_IP $(cut -d' ' -f1,2 "$d/host_key.pub")" >"$d/known_hosts"
	SSH_KEY=$d/id_ed25519
	SSH_KNOWN_HOSTS=$d/known_hosts
	# What the seed's rsync runs (its default "ssh"), pointed at the benchmark's key.
	SSH_CMD="ssh -i $SSH_KEY -o UserKnownHostsFile=$SSH_KNOWN_HOSTS -o BatchMode=yes"
	unset SSH_AUTH_SOCK
	for ((i = 0; i < 50; i++)); do
		# shellcheck disable=SC2086 # SSH_CMD: a command line, as rsync -e takes it
		in_src $SSH_CMD -o ConnectTimeout=2 "root@$VETH_DST_IP" true </dev/null 2>/dev/null && return 0
		sleep 0.1
	done
	cat "$d/sshd.log" >&2
	bench_die "sshd in $BENCH_NS_DST does not answer"
}

# bench_bg_pid PID: a background process hosts_down must stop.
bench_bg_pid() { _BENCH_PIDS+=("$1"); }

hosts_down() {
	local i ns
	_link_reset 2>/dev/null || true
	for ((i = ${#_BENCH_PIDS[@]} - 1; i >= 0; i--)); do
		bench_stop_pid "${_BENCH_PIDS[$i]}"
	done
	_BENCH_PIDS=()
	if [ -n "${_BENCH_NS_UP:-}" ]; then
		for ns in $BENCH_NS_SRC $BENCH_NS_DST; do
			ip netns del "$ns" 2>/dev/null || true
		done
		_BENCH_NS_UP=""
	fi
}

# --- the link --------------------------------------------------------------------------------

# link_apply NAME: see the top of this file.
link_apply() {
	local name=$1 rate rtt i
	LINK_RATE_MBIT=""
	_link_reset
	case $name in
	unconstrained) return 0 ;;
	*mbit-*ms)
		rate=${name%%mbit-*}
		rtt=${name#*mbit-}
		rtt=${rtt%ms}
		[[ $rate =~ ^[0-9]+$ && $rtt =~ ^[0-9]+$ ]] || bench_die "bad link '$name' (RATEmbit-RTTms)"
		;;
	*) bench_die "bad link '$name' (unconstrained or RATEmbit-RTTms, e.g. 20mbit-80ms)" ;;
	esac
	LINK_RATE_MBIT=$rate
	if [ -n "$(bench_has_netem)" ]; then
		LINK_EMU_USED="tc netem"
		in_src tc qdisc add dev $BENCH_VETH_SRC root netem delay "$((rtt * 500))us" rate "${rate}mbit" limit 1000
		in_dst tc qdisc add dev $BENCH_VETH_DST root netem delay "$((rtt * 500))us" rate "${rate}mbit" limit 1000
		_link_initcwnd $BENCH_VETH_SRC $BENCH_VETH_DST 10.213.0.0/24
		return 0
	fi
	LINK_EMU_USED="bench/linkemu"
	"$BENCH_BIN/linkemu" /run/netns/$BENCH_NS_SRC $BENCH_TAP_SRC /run/netns/$BENCH_NS_DST $BENCH_TAP_DST \
		"$rate" "$((rtt * 500))" 1000 >"$BENCH_WORK/linkemu.out" 2>>"$BENCH_WORK/linkemu.log" &
	_LINKEMU_PID=$!
	for ((i = 0; i < 50; i++)); do
		grep -q ready "$BENCH_WORK/linkemu.out" 2>/dev/null && break
		_pid_alive "$_LINKEMU_PID" || bench_die "linkemu: $(cat "$BENCH_WORK/linkemu.log")"
		sleep 0.1
	done
	ip -n $BENCH_NS_SRC addr add $TAP_SRC_IP/24 dev $BENCH_TAP_SRC
	ip -n $BENCH_NS_DST addr add $TAP_DST_IP/24 dev $BENCH_TAP_DST
	ip -n $BENCH_NS_SRC link set $BENCH_TAP_SRC up
	ip -n $BENCH_NS_DST link set $BENCH_TAP_DST up
	SRC_IP=$TAP_SRC_IP DST_IP=$TAP_DST_IP LINK_DEV=$BENCH_TAP_SRC
	_link_initcwnd $BENCH_TAP_SRC $BENCH_TAP_DST 10.214.0.0/24
	# The first packets wait for ARP and for the devices to come up.
	for ((i = 0; i < 50; i++)); do
		in_src ping -q -c 1 -W 1 "$DST_IP" >/dev/null 2>&1 && return 0
	done
	bench_die "no ping through linkemu"
}

# _link_initcwnd SRC_DEV DST_DEV PREFIX: with INITCWND=N (an experiment: bench/run
# --initcwnd), TCP on this link starts with N segments in flight instead of 10, both ways.
_link_initcwnd() {
	[ -n "${INITCWND:-}" ] || return 0
	in_src ip route replace "$3" dev "$1" initcwnd "$INITCWND" initrwnd "$INITCWND"
	in_dst ip route replace "$3" dev "$2" initcwnd "$INITCWND" initrwnd "$INITCWND"
}

# _link_reset: back to the plain veth pair.
_link_reset() {
	in_src tc qdisc del dev $BENCH_VETH_SRC root 2>/dev/null || true
	in_dst tc qdisc del dev $BENCH_VETH_DST root 2>/dev/null || true
	if [ -n "${_LINKEMU_PID:-}" ]; then
		bench_stop_pid "$_LINKEMU_PID"
		_LINKEMU_PID=""
	fi
	SRC_IP=$VETH_SRC_IP DST_IP=$VETH_DST_IP LINK_DEV=$BENCH_VETH_SRC LINK_EMU_USED=none
}

# link_measure: RTT_MS (ping average, idle link) and BW_BPS (TCP goodput src -> dst).
link_measure() {
	local out port=5201 bytes pid i
	out=$(in_src ping -q -c 10 -i 0.2 "$DST_IP") || bench_die "ping $DST_IP failed"
	RTT_MS=$(sed -n 's|^rtt [^=]*= [0-9.]*/\([0-9.]*\)/.*|\1|p' <<<"$out")
	[ -n "$RTT_MS" ] || bench_die "no RTT in: $out"
	if [ -n "${LINK_RATE_MBIT:-}" ]; then
		bytes=$((LINK_RATE_MBIT * 1000000 * 4 / 8)) # about 4 s worth
	else
		bytes=$((1024 * 1024 * 1024))
	fi
	"${DST_NS[@]}" "$BENCH_PY" "$BENCH_DIR/netprobe" recv "$DST_IP" $port >"$BENCH_WORK/netprobe.log" 2>&1 &
	pid=$!
	for ((i = 0; i < 50; i++)); do
		grep -q ready "$BENCH_WORK/netprobe.log" 2>/dev/null && break
		sleep 0.1
	done
	BW_BPS=$(in_src "$BENCH_PY" "$BENCH_DIR/netprobe" send "$DST_IP" $port "$bytes" "$RTT_MS") ||
		bench_die "bandwidth probe failed"
	wait "$pid" || true
}

# wire_bytes: "TX RX" of the source's end of the link (everything both hosts exchange: ssh,
# rsync, control messages, CRIU's page server; Ethernet frames).
wire_bytes() {
	ip -n $BENCH_NS_SRC -s -j link show dev "$LINK_DEV" |
		jq -r '.[0].stats64 | "\(.tx.bytes) \(.rx.bytes)"'
}
