#!/usr/bin/env bats
# migrate-src --check: the doctor.  Both "hosts" use the stand-in runc and criu, each host its
# own fake-criu state (FAKE_CRIU_DIR) so that a fault can be put on one of them; a real sshd
# and a real migrate-dst answer the "doctor" request.  Every check's OK/WARN/FAIL line, the
# exit code (0 only when the chosen technique can run, 2 otherwise), --json, and that
# nothing is changed on either host.

load ../lib/common

setup() {
	unset CRIU_FAULT
	mk_hosts
	export FAKE_CRIU_DIR="$TEST_TMP/criu"
	DST_CRIU_DIR="$TEST_TMP/criu-dst"
	FAKE_CRIU="$_COMMON_TESTS_DIR/fake-criu"
	SRC_TMP="$TEST_TMP/tmp-src" DST_TMP="$TEST_TMP/tmp-dst"
	mkdir -p "$FAKE_CRIU_DIR" "$DST_CRIU_DIR" "$SRC_TMP" "$DST_TMP"
	sshd_start "$TEST_TMP/sshd"
	fake_bundle "$SRC_BASE" c1
	fake_bundle "$DST_BASE" c1
	"$FAKE_RUNC" --root "$SRC_ROOT" run -d --bundle "$SRC_BASE/c1" c1
	start_dst
}

teardown() {
	dst_stop
	sshd_stop
	rm_hosts
}

# start_dst [ENV=VALUE...]: migrate-dst with its own fake-criu state and temp dir.
start_dst() {
	dst_stop
	env FAKE_CRIU_DIR="$DST_CRIU_DIR" TMPDIR="$DST_TMP" "$@" \
		"$MIGRATE_DST" -b "$DST_BASE" --runc "$FAKE_RUNC" --runc-root "$DST_ROOT" \
		--criu "$FAKE_CRIU" --token-file "$TEST_TMP/dst-token" -p 0 \
		--socket "$TEST_TMP/ctl.sock" </dev/null >"$TEST_TMP/dst.log" 2>&1 3>&- &
	DST_PID=$!
	DST_TOKEN=$TEST_TMP/dst-token
	DST_SOCKET=$TEST_TMP/ctl.sock
	wait_for_line "$TEST_TMP/dst.log" 'listening on' 5
	DST_PORT=$(grep -Eo 'listening on [^ ]*:[0-9]+' "$TEST_TMP/dst.log" | head -n 1)
	DST_PORT=${DST_PORT##*:}
}

check() {
	run env TMPDIR="$SRC_TMP" "$MIGRATE_SRC" --check -b "$SRC_BASE" --runc "$FAKE_RUNC" \
		--runc-root "$SRC_ROOT" --criu "$FAKE_CRIU" --ssh-port "$SSHD_PORT" ${DST_TOKEN:+--dst-token-file "$DST_TOKEN"} -i "$SSH_KEY" \
		--known-hosts "$SSH_KNOWN_HOSTS" --socket "$DST_SOCKET" "$@"
	echo "$output"
}

# line HOST CHECK STATUS [DETAIL-REGEX]: the table has that line.
line() {
	printf '%s\n' "$output" | grep -Eq "^$1 +$2 +$3 +${4:-}" ||
		{ echo "no line: $1 / $2 / $3 / ${4:-}"; return 1; }
}

@test "cold, everything in place: every check OK, exit 0" {
	check c1 127.0.0.1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "HOST         CHECK                    STATUS DETAIL" ]
	[ -z "$(printf '%s\n' "$output" | grep -E ' (WARN|FAIL) ')" ]
	for host in source destination; do
		base=$SRC_BASE
		[ "$host" = source ] || base=$DST_BASE
		line "$host" runc OK "1.1.15-fake$"
		line "$host" criu OK "4.1.1-fake$"
		line "$host" "criu check" OK "Looks good"
		line "$host" bundle OK "$base/c1 \(config.json, rootfs\)$"
		line "$host" "free space" OK "[0-9.]+ [KMGT]iB free in $base "
		line "$host" "dump hang test" OK "criu dump of a test process works without CRIU_FAULT=130"
		line "$host" rsync OK "[0-9]+\.[0-9]+"
	done
	line source container OK "c1 is running"
	line source "feature mem_dirty_track" OK supported
	line source "lazy pipe size" OK
	line destination "container name" OK "no container named c1 there"
	line destination "feature uffd-noncoop" OK supported
	line link ssh OK "root@127.0.0.1:$SSHD_PORT: host key known"
	line link control OK "migrate-dst [0-9.]+ on the socket $DST_SOCKET through SSH"
	line link "rsync over ssh" OK "works \(dry run of the rootfs sync"
	line both "criu versions" OK "4.1.1-fake on both"
	line both "runc versions" OK "1.1.15-fake on both"
	line technique cold OK "can run \(chosen\)"
	for t in pre-copy post-copy hybrid; do line technique "$t" OK "can run$"; done
	[ "${lines[-1]}" = "techniques: cold yes, pre-copy yes, post-copy yes, hybrid yes; cold can run here" ]
}

@test "post-copy without userfaultfd on the destination: exit 2, the feature and the host named" {
	touch "$DST_CRIU_DIR/missing-uffd-noncoop"
	check -t post-copy c1 127.0.0.1
	[ "$status" -eq 2 ]
	line destination "feature uffd-noncoop" FAIL "missing: criu check --feature uffd-noncoop fails; kernel option CONFIG_USERFAULTFD.*needed by post-copy, hybrid"
	line technique post-copy FAIL "cannot run: destination feature uffd-noncoop \(chosen\)"
	line technique hybrid FAIL "cannot run: destination feature uffd-noncoop$"
	line technique cold OK
	[[ "${lines[-1]}" == *"cold yes, pre-copy yes, post-copy no, hybrid no; post-copy CANNOT run here" ]]
	# The source has it: only the destination's is reported missing.
	line source "feature mem_dirty_track" OK
	# The seed's booleans select the same technique.
	check c1 127.0.0.1 False True
	[ "$status" -eq 2 ]
	# Cold does not need it: a warning, exit 0.
	check c1 127.0.0.1
	[ "$status" -eq 0 ]
	line destination "feature uffd-noncoop" WARN "missing.*needed by post-copy, hybrid"
}

@test "pre-copy without dirty tracking on the source: exit 2 for pre-copy and hybrid, 0 for post-copy" {
	touch "$FAKE_CRIU_DIR/missing-mem_dirty_track"
	check c1 127.0.0.1 True False
	[ "$status" -eq 2 ]
	line source "feature mem_dirty_track" FAIL "missing: .*CONFIG_MEM_SOFT_DIRTY.*needed by pre-copy, hybrid"
	line technique pre-copy FAIL "cannot run: source feature mem_dirty_track \(chosen\)"
	check -t hybrid c1 127.0.0.1
	[ "$status" -eq 2 ]
	check -t post-copy c1 127.0.0.1
	[ "$status" -eq 0 ]
	line source "feature mem_dirty_track" WARN
	line destination "feature uffd-noncoop" OK
}

@test "no bundle on the destination: FAIL line, exit 2" {
	rm -rf --one-file-system -- "$DST_BASE/c1"
	check c1 127.0.0.1
	[ "$status" -eq 2 ]
	line destination bundle FAIL "no bundle directory $DST_BASE/c1$"
	line technique cold FAIL "cannot run: destination bundle \(chosen\)"
	line source bundle OK
}

@test "a bundle without its rootfs, a container of that name on the destination, a stopped source" {
	rm -rf --one-file-system -- "$DST_BASE/c1/rootfs"
	"$FAKE_RUNC" --root "$DST_ROOT" run -d --bundle "$DST_BASE/c1" c1
	"$FAKE_RUNC" --root "$SRC_ROOT" kill c1 KILL
	check c1 127.0.0.1
	[ "$status" -eq 2 ]
	line destination bundle FAIL "rootfs $DST_BASE/c1/rootfs: No such file or directory"
	line destination "container name" FAIL "a container named c1 already exists there \(running\)"
	line source container FAIL "c1 is stopped \(runc root $SRC_ROOT\), not running"
}

@test "--json: one object with the verdict, every check and both hosts' facts" {
	touch "$DST_CRIU_DIR/missing-uffd-noncoop"
	check --json -t hybrid c1 127.0.0.1
	[ "$status" -eq 2 ]
	[ "${#lines[@]}" -eq 1 ]
	j=${lines[0]}
	[ "$(jq -r .ok <<<"$j")" = false ]
	[ "$(jq -r .exit_code <<<"$j")" = 2 ]
	[ "$(jq -r .technique <<<"$j")" = hybrid ]
	[ "$(jq -r .container <<<"$j")" = c1 ]
	[ "$(jq -c .techniques <<<"$j")" = '{"cold":true,"pre-copy":true,"post-copy":false,"hybrid":false}' ]
	[ "$(jq -r '[.checks[] | select(.status == "FAIL")] | length' <<<"$j")" -eq 1 ]
	[ "$(jq -r '.checks[] | select(.status == "FAIL") | "\(.host) \(.check) \(.needed_by | join(","))"' <<<"$j")" = "destination feature uffd-noncoop post-copy,hybrid" ]
	[ "$(jq -r '.facts.destination.features["uffd-noncoop"]' <<<"$j")" = false ]
	[ "$(jq -r '.facts.source.features["uffd-noncoop"]' <<<"$j")" = true ]
	[ "$(jq -r .facts.source.container_status <<<"$j")" = running ]
	[ "$(jq -r .facts.destination.container_status <<<"$j")" = absent ]
	[ "$(jq -r .facts.destination.base_dir <<<"$j")" = "$DST_BASE" ]
	[ "$(jq -r .facts.source.hang_test <<<"$j")" = ok ]
	[ "$(jq -r .facts.destination.free_bytes <<<"$j")" -gt 0 ]
	check --json c1 127.0.0.1
	[ "$status" -eq 0 ]
	[ "$(jq -r .ok <<<"${lines[0]}")" = true ]
}

@test "the doctor changes nothing: bundles, runc state and temp dirs as they were" {
	echo "old image" >"$SRC_BASE/c1/rootfs/changed.txt"
	# What an earlier migration left: a migration's "check" would clear it; the doctor not.
	for b in "$SRC_BASE" "$DST_BASE"; do
		mkdir -p "$b/c1/image" "$b/c1/work"
		echo stale >"$b/c1/image/pages-1.img"
	done
	listing() {
		find "$SRC_BASE" "$DST_BASE" "$SRC_ROOT" "$DST_ROOT" -not -name argv.log \
			-printf '%p %y %s %m %T@\n' | sort
	}
	: >"$SRC_ROOT/argv.log"
	: >"$DST_ROOT/argv.log"
	before=$(listing)
	check c1 127.0.0.1
	[ "$status" -eq 0 ]
	[ "$(listing)" = "$before" ]
	# The rsync dry run saw the change and sent nothing.
	line link "rsync over ssh" OK "works \(dry run of the rootfs sync: it would send 10 B of files\)"
	[ ! -e "$DST_BASE/c1/rootfs/changed.txt" ]
	# runc was only asked about the container: never checkpoint, restore, kill, delete.
	[ "$(grep -cv ' state c1$' "$SRC_ROOT/argv.log")" -eq 0 ]
	[ "$(grep -c ' state c1$' "$SRC_ROOT/argv.log")" -eq 1 ]
	[ "$(grep -cv ' state c1$' "$DST_ROOT/argv.log")" -eq 0 ]
	# CRIU only checked, and dumped its own throwaway process into a temp dir, now gone.
	for d in "$FAKE_CRIU_DIR" "$DST_CRIU_DIR"; do
		[ "$(grep -cvE '^(check( --feature [a-z_-]+)?|dump -t [0-9]+ -D /.* --shell-job --leave-running -o dump.log -v4( --tcp-established)?)$' "$d/argv.log")" -eq 0 ]
		grep -q '^dump ' "$d/argv.log"
	done
	grep -q "^dump -t [0-9]* -D $SRC_TMP/migrate-doctor\." "$FAKE_CRIU_DIR/argv.log"
	grep -q "^dump -t [0-9]* -D $DST_TMP/migrate-doctor\." "$DST_CRIU_DIR/argv.log"
	[ -z "$(ls -A "$SRC_TMP")" ]
	[ -z "$(ls -A "$DST_TMP")" ]
	# The throwaway processes were killed (by the PIDs their hosts started).
	for pid in $(cut -d' ' -f2 "$FAKE_CRIU_DIR/dump-env.log" "$DST_CRIU_DIR/dump-env.log"); do
		run _pid_running "$pid"
		[ "$status" -ne 0 ]
	done
}

@test "hang test: a dump that hangs without CRIU_FAULT=130 fails every technique; set, it passes" {
	touch "$FAKE_CRIU_DIR/hang-dump"
	check --timeout 1 c1 127.0.0.1
	[ "$status" -eq 2 ]
	line source "dump hang test" FAIL "criu dump hangs without CRIU_FAULT=130 \(no working hardware breakpoints\): set CRIU_FAULT=130 in the environment of migrate-src and migrate-dst"
	line destination "dump hang test" OK
	line technique cold FAIL "cannot run: source dump hang test \(chosen\)"
	# The first dump ran without CRIU_FAULT, the second (to see whether it helps) with it.
	[ "$(cut -d' ' -f1 "$FAKE_CRIU_DIR/dump-env.log" | tr '\n' ' ')" = "CRIU_FAULT=unset CRIU_FAULT=130 " ]
	[ -z "$(ls -A "$SRC_TMP")" ]
	for pid in $(cut -d' ' -f2 "$FAKE_CRIU_DIR/dump-env.log"); do
		run _pid_running "$pid"
		[ "$status" -ne 0 ]
	done
	# With CRIU_FAULT=130 in the tools' environment: the test dump still runs without it
	# (that is what it tests), and the verdict is OK.
	: >"$FAKE_CRIU_DIR/dump-env.log"
	CRIU_FAULT=130 check --timeout 1 c1 127.0.0.1
	[ "$status" -eq 0 ]
	line source "dump hang test" OK "criu dump hangs without CRIU_FAULT=130 and works with it; it is set here: keep it"
	[ "$(head -n 1 "$FAKE_CRIU_DIR/dump-env.log" | cut -d' ' -f1)" = CRIU_FAULT=unset ]
}

@test "hang test on the destination, with CRIU_FAULT=130 too, and a test dump that fails" {
	echo always >"$DST_CRIU_DIR/hang-dump"
	start_dst CRIU_FAULT=130
	check --timeout 1 c1 127.0.0.1
	[ "$status" -eq 2 ]
	line destination "dump hang test" FAIL "criu dump hangs, with CRIU_FAULT=130 too: criu dump did not finish in 1000 ms \(its log ends: .*new_sp="
	line source "dump hang test" OK
	[ -z "$(ls -A "$DST_TMP")" ]
	rm "$DST_CRIU_DIR/hang-dump"
	echo "Can't dump this" >"$FAKE_CRIU_DIR/fail-dump"
	check c1 127.0.0.1
	[ "$status" -eq 2 ]
	line source "dump hang test" FAIL "test dump failed: .*exited with code 1.*Can't dump this"
	line destination "dump hang test" OK
}

@test "a CRIU that cannot dump TCP sockets: FAIL naming its version and CRIU's error; OK elsewhere" {
	echo "sockets: Can't get 1:16 opt: Operation not supported" >"$DST_CRIU_DIR/fail-tcp-dump"
	check c1 127.0.0.1
	[ "$status" -eq 2 ]
	line destination "tcp dump" FAIL "criu 4.1.1-fake cannot dump TCP sockets here: .*Can't get 1:16 opt: Operation not supported"
	line source "tcp dump" OK "criu 4.1.1-fake dumps a process with a listening and a connected TCP socket"
	line source "dump hang test" OK
	line source "criu options" OK "none"
	# the throwaway processes are gone, their temp dirs too
	for pid in $(cut -d' ' -f2 "$FAKE_CRIU_DIR/tcp-dump-env.log" "$DST_CRIU_DIR/tcp-dump-env.log"); do
		if kill -0 "$pid" 2>/dev/null; then echo "throwaway process $pid still runs"; false; fi
	done
	[ -z "$(ls -A "$DST_TMP")" ]
	[ -z "$(ls -A "$SRC_TMP")" ]
	check --tcp-established --manage-cgroups-mode soft c1 127.0.0.1
	line source "criu options" OK "tcp-established,manage-cgroups-mode=soft"
}

@test "--no-hang-test: no test dump on either host, a warning, exit 0" {
	check --no-hang-test c1 127.0.0.1
	[ "$status" -eq 0 ]
	line source "dump hang test" WARN "not run \(--no-hang-test\)"
	line destination "dump hang test" WARN "not run \(--no-hang-test\)"
	[ "$(grep -c '^dump' "$FAKE_CRIU_DIR/argv.log")" -eq 0 ]
	[ "$(grep -c '^dump' "$DST_CRIU_DIR/argv.log")" -eq 0 ]
}

@test "criu check failing, criu versions: a major difference fails, a minor one warns" {
	echo "Error (criu/vdso.c:1): vdso: Unexpected rt vDSO area bounds" >"$DST_CRIU_DIR/fail-check"
	echo 5.0.1 >"$DST_CRIU_DIR/version"
	check --no-hang-test c1 127.0.0.1
	[ "$status" -eq 2 ]
	line destination "criu check" FAIL "fails: Error \(criu/vdso.c:1\): vdso: Unexpected rt vDSO area bounds"
	line destination criu OK "5.0.1"
	line both "criu versions" FAIL "source 4.1.1-fake, destination 5.0.1: different major versions"
	line technique post-copy FAIL "cannot run: criu versions, destination criu check$"
	rm "$DST_CRIU_DIR/fail-check"
	echo 4.2.0 >"$DST_CRIU_DIR/version"
	check --no-hang-test c1 127.0.0.1
	[ "$status" -eq 0 ]
	line both "criu versions" WARN "source 4.1.1-fake, destination 4.2.0: different minor versions"
	echo 4.1.2 >"$DST_CRIU_DIR/version"
	check --no-hang-test c1 127.0.0.1
	[ "$status" -eq 0 ]
	line both "criu versions" OK "source 4.1.1-fake, destination 4.1.2 \(only patch levels differ\)"
}

@test "unreachable destination: SSH refused, or no migrate-dst on the port; the source is still checked" {
	: >"$TEST_TMP/empty_known_hosts"
	run env TMPDIR="$SRC_TMP" "$MIGRATE_SRC" --check --no-hang-test -b "$SRC_BASE" \
		--runc "$FAKE_RUNC" --runc-root "$SRC_ROOT" --criu "$FAKE_CRIU" \
		--ssh-port "$SSHD_PORT" ${DST_TOKEN:+--dst-token-file "$DST_TOKEN"} -i "$SSH_KEY" --known-hosts "$TEST_TMP/empty_known_hosts" \
		--socket "$DST_SOCKET" c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 2 ]
	line link ssh FAIL "ssh root@127.0.0.1:$SSHD_PORT: host key not known"
	line link control FAIL "not tried: no SSH session"
	line destination facts FAIL "not known: the destination was not reached"
	line source runc OK
	line source container OK
	dst_stop
	check --no-hang-test c1 127.0.0.1
	[ "$status" -eq 2 ]
	line link ssh OK
	line link control FAIL "control channel: ssh root@127.0.0.1:$SSHD_PORT: cannot reach the socket $DST_SOCKET through SSH"
	line technique cold FAIL "cannot run: control, destination facts \(chosen\)"
}

@test "no rsync on the destination (for the SSH user): FAIL line, exit 2" {
	# A forced command on the test key: the SSH user's rsync --version fails as when rsync is
	# not installed; everything else (token, forwarding, rsync --server) still works.
	cat >"$TEST_TMP/forced.sh" <<'EOF2'
#!/bin/sh
case $SSH_ORIGINAL_COMMAND in
"rsync --version") echo "sh: 1: rsync: not found" >&2; exit 127 ;;
esac
exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"
EOF2
	chmod +x "$TEST_TMP/forced.sh"
	keys="$TEST_TMP/sshd/authorized_keys"
	echo "command=\"$TEST_TMP/forced.sh\" $(cat "$keys")" >"$keys"
	check --no-hang-test c1 127.0.0.1
	[ "$status" -eq 2 ]
	line destination rsync FAIL "rsync --version over ssh: exit status 127 \(sh: 1: rsync: not found\)$"
	line link control OK
	line link "rsync over ssh" OK
	line technique cold FAIL "cannot run: destination rsync \(chosen\)"
}

@test "--direct: the control channel over TCP with --token-file; without it, refused" {
	check --no-hang-test --direct -p "$DST_PORT" --token-file "$DST_TOKEN" c1 127.0.0.1
	[ "$status" -eq 0 ]
	line link control OK "migrate-dst [0-9.]+ on port $DST_PORT \(plain TCP\), base dir $DST_BASE$"
	[ -z "$(printf '%s\n' "$output" | grep -E '^link +ssh ')" ]
	[ -z "$(printf '%s\n' "$output" | grep -E '^destination +rsync ')" ]
	check --no-hang-test --direct -p "$DST_PORT" c1 127.0.0.1
	[ "$status" -eq 2 ]
	line link control FAIL "with --direct give --token-file"
}

@test "the doctor request on migrate-dst: authenticated, its name checked, its facts" {
	run "$CTLCAT" 127.0.0.1 "$DST_PORT" '{"v":2,"type":"doctor","name":"c1"}'
	echo "$output"
	[[ "$output" == *'"ok":false'*"authentication required"* ]]
	run "$CTLCAT" --token "$DST_TOKEN" 127.0.0.1 "$DST_PORT" '{"v":2,"type":"hello"}' \
		'{"v":2,"type":"doctor","name":"../etc"}'
	echo "$output"
	[[ "${lines[1]}" == *'"ok":false'*"bad container name"* ]]
	run "$CTLCAT" --token "$DST_TOKEN" 127.0.0.1 "$DST_PORT" '{"v":2,"type":"hello"}' \
		'{"v":2,"type":"doctor","name":"c1","hang_test_ms":"soon"}'
	[[ "${lines[1]}" == *'"ok":false'*"hang_test_ms"* ]]
	run "$CTLCAT" --token "$DST_TOKEN" 127.0.0.1 "$DST_PORT" '{"v":2,"type":"hello"}' \
		'{"v":2,"type":"doctor","name":"c1","hang_test_ms":0}'
	echo "$output"
	rep=${lines[1]}
	[ "$(jq -r .ok <<<"$rep")" = true ]
	[ "$(jq -r .facts.runc_version <<<"$rep")" = 1.1.15-fake ]
	[ "$(jq -r .facts.criu_check <<<"$rep")" = true ]
	[ "$(jq -r .facts.bundle_ok <<<"$rep")" = true ]
	[ "$(jq -r .facts.container_status <<<"$rep")" = absent ]
	[ "$(jq -r .facts.hang_test <<<"$rep")" = skipped ]
	[ "$(jq -r '.facts.features | keys | join(",")' <<<"$rep")" = "mem_dirty_track,uffd-noncoop" ]
	[ "$(jq -r '.facts.pipe_max_size' <<<"$rep")" -gt 0 ]
	# Not a migration: migrate-dst keeps serving.
	kill -0 "$DST_PID"
}

@test "--check needs CONTAINER and DEST; --help documents it" {
	run "$MIGRATE_SRC" --check c1
	[ "$status" -eq 1 ]
	[[ "$output" == *"expected CONTAINER DEST"* ]]
	run "$MIGRATE_SRC" --check -t sideways c1 127.0.0.1
	[ "$status" -eq 1 ]
	run "$MIGRATE_SRC" --help
	[[ "$output" == *"--check"* && "$output" == *"--no-hang-test"* ]]
}
