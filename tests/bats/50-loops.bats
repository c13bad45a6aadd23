#!/usr/bin/env bats
# Experiment loops: --csv rows, JSON Lines, --repeat back and forth.  Real sshd, rsync and
# two migrate-dst (one per "host": B serves DST_BASE, A serves SRC_BASE), the stand-in runc.
# The way back is B's migrate-src, started by A's over SSH: here both hosts are this machine,
# so --back-opt gives it B's side of the options (its base dir, runc root, A's port).

load ../lib/common

setup() {
	mk_hosts
	sshd_start "$TEST_TMP/sshd"
	fake_bundle "$SRC_BASE" c1
	fake_bundle "$DST_BASE" c1
	"$FAKE_RUNC" --root "$SRC_ROOT" run -d --bundle "$SRC_BASE/c1" c1
	# host A's migrate-dst (receives the way back), then B's (the usual DST_*)
	dst_start "$TEST_TMP/dst-a.log" --json -b "$SRC_BASE" --runc "$FAKE_RUNC" \
		--runc-root "$SRC_ROOT" --token-file "$TEST_TMP/a-token"
	A_PID=$DST_PID A_PORT=$DST_PORT A_START=$_DST_START
	dst_start "$TEST_TMP/dst.log" --json -b "$DST_BASE" --runc "$FAKE_RUNC" --runc-root "$DST_ROOT"
}

teardown() {
	dst_stop
	stop_pid "${A_PID:-}" 5 "${A_START:-}"
	sshd_stop
	rm_hosts
}

src() {
	run "$MIGRATE_SRC" -b "$SRC_BASE" --runc "$FAKE_RUNC" --runc-root "$SRC_ROOT" \
		--ssh-port "$SSHD_PORT" ${DST_TOKEN:+--dst-token-file "$DST_TOKEN"} -i "$SSH_KEY" --known-hosts "$SSH_KNOWN_HOSTS" \
		--socket "$DST_SOCKET" "$@"
}

# B's side of the options, for the way back.
back_opts() {
	local o
	for o in --back-cmd "$MIGRATE_SRC" --back-host 127.0.0.1 \
		--back-opt=-b --back-opt="$DST_BASE" --back-opt=--runc --back-opt="$FAKE_RUNC" \
		--back-opt=--runc-root --back-opt="$DST_ROOT" --back-opt=-p --back-opt="$A_PORT" \
		--back-opt=--ssh-port --back-opt="$SSHD_PORT" --back-opt=-i --back-opt="$SSH_KEY" \
		--back-opt=--dst-token-file --back-opt="$TEST_TMP/a-token" \
		--back-opt=--known-hosts --back-opt="$SSH_KNOWN_HOSTS"; do
		printf '%s\n' "$o"
	done
}

@test "--csv: the header once, one row per migration, the same fields as the JSON" {
	src --json --csv "$TEST_TMP/runs.csv" c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 0 ]
	line=$(printf '%s\n' "$output" | grep '^{')
	# back by hand, then once more: two rows
	"$FAKE_RUNC" --root "$DST_ROOT" delete -f c1
	"$FAKE_RUNC" --root "$SRC_ROOT" run -d --bundle "$SRC_BASE/c1" c1
	src --csv "$TEST_TMP/runs.csv" c1 127.0.0.1
	[ "$status" -eq 0 ]
	cat "$TEST_TMP/runs.csv"
	[ "$(wc -l <"$TEST_TMP/runs.csv")" -eq 3 ]
	[ "$(grep -c '^run,started,role,container' "$TEST_TMP/runs.csv")" -eq 1 ]
	header=$(head -1 "$TEST_TMP/runs.csv")
	# every CSV column is a key of the JSON line, in the same order
	[ "$(jq -r 'keys_unsorted | join(",")' <<<"$line")" = "$header" ]
	# the row's downtime is the report's
	col=$(tr ',' '\n' <<<"$header" | grep -nx downtime_ms | cut -d: -f1)
	[ "$(sed -n 2p "$TEST_TMP/runs.csv" | cut -d, -f"$col")" = "$(json_get "$line" downtime_ms)" ]
}

@test "--repeat 3: there, back, there again; JSON Lines, a CSV row each, a summary" {
	mapfile -t bo < <(back_opts)
	src --json --repeat 3 --csv "$TEST_TMP/runs.csv" "${bo[@]}" c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 0 ]
	# three report lines and a summary, each valid JSON
	printf '%s\n' "$output" | grep '^{' >"$TEST_TMP/lines.json"
	jq -e . "$TEST_TMP/lines.json" >/dev/null
	[ "$(jq -s 'map(select(.summary != true)) | length' "$TEST_TMP/lines.json")" -eq 3 ]
	[ "$(jq -s -r 'map(select(.summary != true) | "\(.run):\(.ok)") | join(" ")' "$TEST_TMP/lines.json")" = "1:true 2:true 3:true" ]
	summary=$(jq -c 'select(.summary == true)' "$TEST_TMP/lines.json")
	[ "$(jq -r .runs <<<"$summary")" -eq 3 ]
	[ "$(jq -r .migrated <<<"$summary")" -eq 3 ]
	[ "$(jq -r .downtime_ms.min <<<"$summary")" -le "$(jq -r .downtime_ms.median <<<"$summary")" ]
	[ "$(jq -r .downtime_ms.median <<<"$summary")" -le "$(jq -r .downtime_ms.max <<<"$summary")" ]
	# the container ends on B, having gone A -> B -> A -> B (each side checkpointed and
	# restored by its own runc)
	[ "$(fake_status "$DST_ROOT" c1)" = running ]
	[ "$(fake_status "$SRC_ROOT" c1)" = absent ]
	[ "$(grep -c ' checkpoint ' "$SRC_ROOT/argv.log")" -eq 2 ]
	[ "$(grep -c ' checkpoint ' "$DST_ROOT/argv.log")" -eq 1 ]
	[ "$(grep -c ' restore ' "$SRC_ROOT/argv.log")" -eq 1 ]
	[ "$(grep -c ' restore ' "$DST_ROOT/argv.log")" -eq 2 ]
	# CSV: header + 3 rows, runs 1..3
	[ "$(wc -l <"$TEST_TMP/runs.csv")" -eq 4 ]
	[ "$(tail -n +2 "$TEST_TMP/runs.csv" | cut -d, -f1 | tr '\n' ' ')" = "1 2 3 " ]
}

@test "--repeat stops at the first failed run and says so in the summary" {
	mapfile -t bo < <(back_opts)
	echo "criu failed: type RESTORE errno 0" >"$SRC_ROOT/fail-restore" # the way back fails
	src --repeat 3 "${bo[@]}" c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"run 2 of 3: back"* ]]
	[[ "$output" != *"run 3 of 3"* ]]
	[[ "$output" == *"summary: 1 of 3 runs migrated c1"* ]]
	# rolled back on B: it runs there
	[ "$(fake_status "$DST_ROOT" c1)" = running ]
}

@test "--repeat without a way to run migrate-src on DEST: a clear error" {
	src --repeat 2 --back-host 127.0.0.1 --back-cmd /nonexistent/migrate-src c1 127.0.0.1
	echo "$output"
	[ "$status" -eq 4 ]
	[[ "$output" == *"the way-back migration on 127.0.0.1 left no report"* ]]
	[[ "$output" == *"/nonexistent/migrate-src"* ]]
}
