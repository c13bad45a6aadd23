#!/usr/bin/env bats
# The command lines: help, version, usage errors and their exit codes.

load ../lib/common

@test "migrate-src --help documents options and exit codes" {
	run "$MIGRATE_SRC" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Usage: migrate-src [OPTIONS] CONTAINER [USER@]DEST [PRE [LAZY]]"* ]]
	for o in --technique --base-dir --port --ssh-port --ssh-user --identity --runc --runc-root --json --direct --no-rootfs-sync; do
		[[ "$output" == *"$o"* ]]
	done
	[[ "$output" == *"Exit codes:"* ]]
	[[ "$output" == *"3  failed after the checkpoint"* ]]
}

@test "migrate-dst --help and both --version" {
	run "$MIGRATE_DST" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--once"* && "$output" == *"--runc-root"* ]]
	run "$MIGRATE_SRC" -V
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^migrate-src\ [0-9]+\.[0-9]+\.[0-9]+ ]]
	run "$MIGRATE_DST" --version
	[[ "$output" =~ ^migrate-dst\ [0-9] ]]
}

@test "usage errors exit 1 with a message" {
	run "$MIGRATE_SRC"
	[ "$status" -eq 1 ]
	[[ "$output" == *"expected CONTAINER DEST"* ]]
	run "$MIGRATE_SRC" c1 host Maybe
	[ "$status" -eq 1 ]
	[[ "$output" == *"PRE must be True or False"* ]]
	run "$MIGRATE_SRC" -t cold c1 host True True
	[ "$status" -eq 1 ]
	run "$MIGRATE_SRC" --port 99999 c1 host
	[ "$status" -eq 1 ]
	run "$MIGRATE_DST" --nope
	[ "$status" -eq 1 ]
	[[ "$output" == *"unknown option '--nope'"* ]]
}

@test "migrate-dst refuses a base dir that does not exist (exit 2)" {
	run "$MIGRATE_DST" -b /nonexistent/base -p 0
	[ "$status" -eq 2 ]
	[[ "$output" == *"base dir /nonexistent/base"* ]]
}
