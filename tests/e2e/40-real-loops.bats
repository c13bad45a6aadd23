#!/usr/bin/env bats
# Real runc + CRIU experiment loop: --repeat 4 moves a live container A -> B -> A -> B -> A,
# the way back made by B's own migrate-src over SSH; its in-memory counter survives all four
# and the CSV has a row per run with CRIU's statistics.  Both "hosts" are this machine: two
# base dirs, two runc roots, two migrate-dst, one sshd on loopback.

load ../lib/common
load ../lib/real

setup_file() {
	export CRIU_FAULT=130 # no hardware breakpoints in this VM: docs/notes-platform.md
}

setup() {
	e2e_possible || skip "$E2E_SKIP_REASON"
	mk_hosts
	sshd_start "$TEST_TMP/sshd"
	dst_start "$TEST_TMP/dst-a.log" --json -b "$SRC_BASE" --runc-root "$SRC_ROOT" --timeout 60 \
		--token-file "$TEST_TMP/a-token"
	A_PID=$DST_PID A_PORT=$DST_PORT A_START=$_DST_START
	dst_start "$TEST_TMP/dst.log" --json -b "$DST_BASE" --runc-root "$DST_ROOT" --timeout 60
}

teardown() {
	dst_stop
	stop_pid "${A_PID:-}" 5 "${A_START:-}"
	sshd_stop
	real_cleanup c1
	rm_hosts
}

assert_consecutive() {
	awk 'NR != $1 { printf "line %d holds %s\n", NR, $1; bad = 1; exit } END { exit bad }' "$1"
}

@test "--repeat 4 with real CRIU: there and back twice, the counter never restarts, a CSV row each" {
	make_real_bundle "$SRC_BASE/c1"
	make_real_bundle "$DST_BASE/c1"
	run_real "$SRC_ROOT" "$SRC_BASE/c1" c1
	wait_lines "$SRC_BASE/c1/rootfs/counter.log" 5
	# B's migrate-src gets CRIU_FAULT=130 too (sshd gives commands a clean environment)
	printf '#!/bin/sh\nCRIU_FAULT=130 exec %q "$@"\n' "$MIGRATE_SRC" >"$TEST_TMP/back-src"
	chmod +x "$TEST_TMP/back-src"
	run "$MIGRATE_SRC" -b "$SRC_BASE" --runc-root "$SRC_ROOT" --ssh-port "$SSHD_PORT" ${DST_TOKEN:+--dst-token-file "$DST_TOKEN"} \
		-i "$SSH_KEY" --known-hosts "$SSH_KNOWN_HOSTS" --socket "$DST_SOCKET" \
		--repeat 4 --csv "$TEST_TMP/runs.csv" --json \
		--back-cmd "$TEST_TMP/back-src" --back-host 127.0.0.1 \
		--back-opt=-b --back-opt="$DST_BASE" --back-opt=--runc-root --back-opt="$DST_ROOT" \
		--back-opt=-p --back-opt="$A_PORT" --back-opt=--ssh-port --back-opt="$SSHD_PORT" \
		--back-opt=--dst-token-file --back-opt="$TEST_TMP/a-token" \
		--back-opt=-i --back-opt="$SSH_KEY" --back-opt=--known-hosts \
		--back-opt="$SSH_KNOWN_HOSTS" c1 127.0.0.1
	echo "$output"
	cat "$TEST_TMP/runs.csv" || true
	[ "$status" -eq 0 ]
	# back home on A after four moves, running, with an unbroken counter
	[ "$(runc --root "$SRC_ROOT" state c1 | jq -r .status)" = running ]
	[ -z "$(runc --root "$DST_ROOT" list -q)" ]
	n=$(wc -l <"$SRC_BASE/c1/rootfs/counter.log")
	wait_lines "$SRC_BASE/c1/rootfs/counter.log" $((n + 3))
	assert_consecutive "$SRC_BASE/c1/rootfs/counter.log"
	# four reports and a summary
	printf '%s\n' "$output" | grep '^{' >"$TEST_TMP/lines.json"
	[ "$(jq -s 'map(select(.summary != true and .ok == true)) | length' "$TEST_TMP/lines.json")" -eq 4 ]
	[ "$(jq -r 'select(.summary == true) | .migrated' "$TEST_TMP/lines.json")" -eq 4 ]
	# the CSV: header + 4 rows, each with CRIU's frozen time and pages
	[ "$(wc -l <"$TEST_TMP/runs.csv")" -eq 5 ]
	header=$(head -1 "$TEST_TMP/runs.csv")
	fcol=$(tr ',' '\n' <<<"$header" | grep -nx frozen_ms | cut -d: -f1)
	pcol=$(tr ',' '\n' <<<"$header" | grep -nx pages_written | cut -d: -f1)
	tail -n +2 "$TEST_TMP/runs.csv" | while IFS= read -r row; do
		f=$(cut -d, -f"$fcol" <<<"$row") p=$(cut -d, -f"$pcol" <<<"$row")
		echo "frozen_ms=$f pages_written=$p"
		awk -v f="$f" -v p="$p" 'BEGIN { exit !(f > 0 && p > 0) }'
	done
}
