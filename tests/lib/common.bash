# common.bash: helpers for the bats tests (`load ../lib/common`).
#
# Binaries (each may be set in the environment first):
#   MIGRATE_SRC MIGRATE_DST   build/migrate-src, build/migrate-dst
#   FAKE_RUNC                 tests/fake-runc
#   CTLCAT SENDPTY HOLDPTY    build/tests/helpers/{ctlcat,sendpty,holdpty}
#   FAKEDST                   build/tests/helpers/fakedst (a hostile stand-in destination)
#   FAKEPS                    build/tests/helpers/fakeps (page-server stand-in, listeners)
#
# Functions:
#   mk_hosts / rm_hosts                 temp tree: TEST_TMP, SRC_BASE DST_BASE SRC_ROOT DST_ROOT
#   sshd_start DIR / sshd_stop          throwaway sshd on 127.0.0.1: SSHD_PID SSHD_PORT SSH_KEY
#                                       SSH_KNOWN_HOSTS SSH_CMD ("ssh -p ... -i ... -o ...")
#   dst_start LOGFILE ARGS... / dst_stop    migrate-dst ARGS... -p 0: DST_PID DST_PORT, and
#                                       DST_TOKEN (--token-file of the test's own, unless
#                                       ARGS has --token-file or --insecure)
#   fake_bundle BASE NAME [terminal]    BASE/NAME/{config.json,rootfs/}
#   wait_for_line FILE REGEX [SECONDS]  until a line of FILE matches (grep -E), default 5 s
#   assert_file_contains FILE REGEX     grep -E, prints FILE when it fails
#   json_get JSON_LINE KEY              top-level field: strings raw, null/true/false/numbers as
#                                       written, arrays/objects as compact JSON
#   fake_status ROOT NAME               fake-runc container status, or "absent"
#   stop_pid PID [SECONDS]              TERM, then KILL after SECONDS (default 5); reaps a child
#
# Processes are only ever ended by the PIDs these helpers started.  Background processes get
# fd 3 closed, or bats would wait for them.

_COMMON_TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_COMMON_TOP=$(cd "$_COMMON_TESTS_DIR/.." && pwd)
: "${MIGRATE_SRC:=$_COMMON_TOP/build/migrate-src}"
: "${MIGRATE_DST:=$_COMMON_TOP/build/migrate-dst}"
: "${FAKE_RUNC:=$_COMMON_TESTS_DIR/fake-runc}"
: "${CTLCAT:=$_COMMON_TOP/build/tests/helpers/ctlcat}"
: "${SENDPTY:=$_COMMON_TOP/build/tests/helpers/sendpty}"
: "${HOLDPTY:=$_COMMON_TOP/build/tests/helpers/holdpty}"
: "${FAKEDST:=$_COMMON_TOP/build/tests/helpers/fakedst}"
: "${FAKEPS:=$_COMMON_TOP/build/tests/helpers/fakeps}"
export MIGRATE_SRC MIGRATE_DST FAKE_RUNC CTLCAT SENDPTY HOLDPTY FAKEDST

# --- processes -------------------------------------------------------------------------------

# _pid_state PID: the state letter from /proc/PID/stat (R, S, Z, ...), empty when gone.
_pid_state() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	s=${s##*) }
	echo "${s%% *}"
}

# _pid_running PID: exists and is not a zombie.
_pid_running() {
	local st
	st=$(_pid_state "$1")
	[ -n "$st" ] && [ "$st" != Z ]
}

# _pid_start PID: start time (field 22 of /proc/PID/stat), to tell a reused PID apart.
_pid_start() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	s=${s##*) }
	# After "pid (comm) " field 3 is the first; field 22 is the 20th.
	echo "$s" | awk '{print $20}'
}

# stop_pid PID [SECONDS] [STARTTIME]: SIGTERM, wait up to SECONDS (default 5), then SIGKILL;
# reaps it when it is a child of this shell.  With STARTTIME, a PID that now belongs to
# another process (reused) is left alone.
stop_pid() {
	local pid=$1 secs=${2:-5} start=${3:-} i
	[ -n "$pid" ] || return 0
	if _pid_running "$pid" && { [ -z "$start" ] || [ "$(_pid_start "$pid")" = "$start" ]; }; then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < secs * 10; i++)); do
			_pid_running "$pid" || break
			sleep 0.1
		done
		if _pid_running "$pid"; then
			kill -KILL "$pid" 2>/dev/null || true
			for ((i = 0; i < 50; i++)); do
				_pid_running "$pid" || break
				sleep 0.1
			done
		fi
	fi
	# Reap it if it is our child; never block on one that would not die.
	_pid_running "$pid" || wait "$pid" 2>/dev/null || true
	return 0
}

# _log_tail FILE: the end of a log, for failure messages.
_log_tail() {
	echo "--- last lines of $1:" >&2
	tail -n 30 "$1" >&2 2>/dev/null || true
	echo "---" >&2
}

# --- temp tree -------------------------------------------------------------------------------

mk_hosts() {
	local parent=${BATS_TEST_TMPDIR:-${TMPDIR:-/tmp}}
	_MK_HOSTS_DIR=$(mktemp -d "$parent/hosts.XXXXXX") || return 1
	_MK_HOSTS_DIR=$(cd "$_MK_HOSTS_DIR" && pwd -P)
	TEST_TMP=$_MK_HOSTS_DIR
	SRC_BASE=$TEST_TMP/src DST_BASE=$TEST_TMP/dst
	SRC_ROOT=$TEST_TMP/src-runc DST_ROOT=$TEST_TMP/dst-runc
	mkdir -p "$SRC_BASE" "$DST_BASE" "$SRC_ROOT" "$DST_ROOT"
	export TEST_TMP SRC_BASE DST_BASE SRC_ROOT DST_ROOT
}

# rm_hosts: removes the tree mk_hosts made (only that one; never crosses a mount point).
rm_hosts() {
	if [ -n "${_MK_HOSTS_DIR:-}" ] && [ -d "$_MK_HOSTS_DIR" ]; then
		rm -rf --one-file-system -- "$_MK_HOSTS_DIR"
	fi
	_MK_HOSTS_DIR=""
}

# fake_bundle BASE NAME [terminal]
fake_bundle() {
	local dir=$1/$2 terminal=false
	case ${3:-} in terminal | --terminal | true) terminal=true ;; esac
	mkdir -p "$dir/rootfs/etc" "$dir/rootfs/bin"
	cat >"$dir/config.json" <<EOF
{
	"ociVersion": "1.2.0",
	"process": {
		"terminal": $terminal,
		"user": {"uid": 0, "gid": 0},
		"args": ["sh"],
		"cwd": "/"
	},
	"root": {"path": "rootfs"},
	"hostname": "$2"
}
EOF
	echo "$2" >"$dir/rootfs/etc/hostname"
	echo "hello from $2" >"$dir/rootfs/hello.txt"
}

# fake_status ROOT NAME: the status in fake-runc's state file, or "absent".
fake_status() {
	if [ -f "$1/$2/state.json" ]; then
		sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p' "$1/$2/state.json"
	else
		echo absent
	fi
}

# --- sshd ------------------------------------------------------------------------------------

# _port_in_use PORT: a TCP socket of any state uses it as its local port (any address).
_port_in_use() {
	if command -v ss >/dev/null; then
		ss -Htan "sport = :$1" 2>/dev/null | grep -q .
	else
		local hex
		hex=$(printf ':%04X ' "$1")
		grep -q "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null
	fi
}

# as_nobody CMD...: runs CMD as nobody (65534).  A sanitized build's log_path (tests/run-all)
# lies in the clone, which nobody may not reach (a clone in a 0700 mktemp -d dir): ASan would
# abort at start ("Can't create directory"), so its reports go to stderr here, without the
# leak check of a process that only fails.
as_nobody() {
	ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
}

# free_port: a TCP port nothing uses, below the kernel's ephemeral range (32768-60999 by
# default): a port from inside it may be taken by any outgoing connection between the
# check and the bind (a page server's bind failed so, "Address already in use").
free_port() {
	local p i lo
	lo=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
	[ "$lo" -gt 21000 ] || lo=32768
	for ((i = 0; i < 100; i++)); do
		p=$((20000 + RANDOM % (lo - 20000)))
		_port_in_use "$p" || { echo "$p"; return 0; }
	done
	echo "no free port found" >&2
	return 1
}

# sshd_start DIR
sshd_start() {
	local dir=$1 cfg port try i ok
	mkdir -p "$dir" /run/sshd && chmod 0755 /run/sshd
	dir=$(cd "$dir" && pwd -P)
	cfg=$dir/sshd_config
	rm -f "$dir/ssh_host_ed25519_key" "$dir/ssh_host_ed25519_key.pub" "$dir/id_ed25519" "$dir/id_ed25519.pub"
	ssh-keygen -q -t ed25519 -N '' -C migrate-test-host -f "$dir/ssh_host_ed25519_key" || return 1
	ssh-keygen -q -t ed25519 -N '' -C migrate-test-client -f "$dir/id_ed25519" || return 1
	cp "$dir/id_ed25519.pub" "$dir/authorized_keys"
	SSHD_PID=""
	for ((try = 1; try <= 5; try++)); do
		port=$(free_port) || return 1
		cat >"$cfg" <<EOF
ListenAddress 127.0.0.1
Port $port
HostKey $dir/ssh_host_ed25519_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowTcpForwarding yes
LogLevel VERBOSE
UseDNS no
PrintMotd no
PrintLastLog no
MaxStartups 100
MaxSessions 50
Subsystem sftp internal-sftp
EOF
		/usr/sbin/sshd -t -f "$cfg" || { echo "sshd_start: bad config $cfg" >&2; return 1; }
		/usr/sbin/sshd -D -e -f "$cfg" </dev/null >"$dir/sshd.log" 2>&1 3>&- &
		SSHD_PID=$!
		_SSHD_START=$(_pid_start "$SSHD_PID")
		ok=0
		for ((i = 0; i < 100; i++)); do
			_pid_running "$SSHD_PID" || break
			# ss shows the listener without opening a connection (sshd would log it).
			if ss -Htln "sport = :$port" 2>/dev/null | grep -q "127.0.0.1:$port"; then ok=1; break; fi
			sleep 0.1
		done
		[ "$ok" -eq 1 ] && break
		if _pid_running "$SSHD_PID"; then
			echo "sshd_start: sshd (PID $SSHD_PID) not listening on port $port after 10 s" >&2
			_log_tail "$dir/sshd.log"
			sshd_stop
			return 1
		fi
		wait "$SSHD_PID" 2>/dev/null || true
		SSHD_PID=""
		# Lost the port to someone else: try another one.
		grep -qiE 'bind|address already in use' "$dir/sshd.log" && continue
		echo "sshd_start: sshd exited" >&2
		_log_tail "$dir/sshd.log"
		return 1
	done
	if [ -z "$SSHD_PID" ]; then
		echo "sshd_start: no port after $((try - 1)) tries" >&2
		_log_tail "$dir/sshd.log"
		return 1
	fi
	SSHD_PORT=$port
	SSH_KEY=$dir/id_ed25519
	SSH_KNOWN_HOSTS=$dir/known_hosts
	echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$dir/ssh_host_ed25519_key.pub")" >"$SSH_KNOWN_HOSTS"
	SSH_CMD="ssh -F /dev/null -p $port -i $SSH_KEY -o IdentitiesOnly=yes -o UserKnownHostsFile=$SSH_KNOWN_HOSTS -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=10"
	export SSHD_PID SSHD_PORT SSH_KEY SSH_KNOWN_HOSTS SSH_CMD
	if ! $SSH_CMD root@127.0.0.1 true </dev/null; then
		echo "sshd_start: ssh root@127.0.0.1 -p $port true failed" >&2
		_log_tail "$dir/sshd.log"
		sshd_stop
		return 1
	fi
}

sshd_stop() {
	stop_pid "${SSHD_PID:-}" 5 "${_SSHD_START:-}"
	SSHD_PID=""
}

# --- migrate-dst -----------------------------------------------------------------------------

# dst_start LOGFILE ARGS...: runs "$MIGRATE_DST ARGS... -p 0" and waits for its port.
dst_start() {
	local log=$1 i line
	shift
	[ -x "$MIGRATE_DST" ] || { echo "dst_start: $MIGRATE_DST not built" >&2; return 1; }
	: >"$log"
	# A token of the test's own unless the test chose (never the real /etc/migrate-dst/token).
	local tok=()
	case " $* " in
	*" --token-file "* | *" --insecure "*) ;;
	*) tok=(--token-file "${TEST_TMP:-$BATS_TEST_TMPDIR}/dst-token") ;;
	esac
	DST_TOKEN=${tok[1]:-}
	export DST_TOKEN
	# A control socket of the test's own too (never the real /run/migrate-dst/control.sock).
	local sock=() a prev=
	_DST_N=$((${_DST_N:-0} + 1))
	DST_SOCKET=${TEST_TMP:-$BATS_TEST_TMPDIR}/ctl-$_DST_N.sock
	for a in "$@"; do
		[ "$prev" != --socket ] || DST_SOCKET=$a
		prev=$a
	done
	case " $* " in
	*" --socket "*) ;;
	*) sock=(--socket "$DST_SOCKET") ;;
	esac
	export DST_SOCKET
	"$MIGRATE_DST" "$@" "${tok[@]}" "${sock[@]}" -p 0 </dev/null >"$log" 2>&1 3>&- &
	DST_PID=$!
	_DST_START=$(_pid_start "$DST_PID")
	DST_PORT=""
	for ((i = 0; i < 50; i++)); do
		line=$(grep -Eo 'listening on [^ ]*:[0-9]+' "$log" | head -n 1) || true
		if [ -n "$line" ]; then
			DST_PORT=${line##*:}
			break
		fi
		_pid_running "$DST_PID" || break
		sleep 0.1
	done
	if [ -z "$DST_PORT" ]; then
		if _pid_running "$DST_PID"; then
			echo "dst_start: no 'listening on' line after 5 s" >&2
		else
			echo "dst_start: migrate-dst exited" >&2
		fi
		_log_tail "$log"
		dst_stop
		return 1
	fi
	export DST_PID DST_PORT
}

dst_stop() {
	stop_pid "${DST_PID:-}" 5 "${_DST_START:-}"
	DST_PID=""
}

# --- assertions ------------------------------------------------------------------------------

# wait_for_line FILE REGEX [SECONDS]
wait_for_line() {
	local file=$1 re=$2 secs=${3:-5} i
	for ((i = 0; i <= secs * 10; i++)); do
		grep -Eq -- "$re" "$file" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "wait_for_line: no line matching '$re' in $file after $secs s" >&2
	_log_tail "$file"
	return 1
}

# refute_grep REGEX FILE: no line of FILE (which may be missing) matches.  (A bare `! grep`
# cannot fail a bats test: `set -e` ignores negated commands.)
refute_grep() {
	if grep -Eq -- "$1" "$2" 2>/dev/null; then
		echo "refute_grep: '$1' found in $2:" >&2
		grep -E -- "$1" "$2" >&2
		return 1
	fi
}

# assert_file_contains FILE REGEX
assert_file_contains() {
	if ! grep -Eq -- "$2" "$1" 2>/dev/null; then
		echo "assert_file_contains: no line matching '$2' in $1:" >&2
		cat "$1" >&2 2>/dev/null || echo "($1 does not exist)" >&2
		return 1
	fi
}

# json_get JSON_LINE KEY: a missing key gives "null"; not a JSON object fails.
json_get() {
	if command -v jq >/dev/null; then
		printf '%s' "$1" | jq -rc --arg k "$2" \
			'if type == "object" then .[$k] else error("not a JSON object") end'
		return
	fi
	# Without jq: simple values only (strings without escaped quotes, numbers, literals).
	local v
	v=$(printf '%s' "$1" | sed -n "s/.*\"$2\":[[:space:]]*\(\"[^\"]*\"\|-\{0,1\}[0-9][0-9.eE+-]*\|true\|false\|null\).*/\1/p")
	v=${v#\"}
	v=${v%\"}
	echo "${v:-null}"
}
