#!/usr/bin/env bats
# make install / uninstall (binaries, man pages, bash completions, systemd unit and its config),
# the man pages rendering without warnings and documenting every option, the completions, and
# --version's git revision (also from a copy of the tree without .git, as from a tarball).

load ../lib/common

TOP=$_COMMON_TOP

setup() {
	ROOT=$BATS_TEST_TMPDIR/root
	export HOME=$BATS_TEST_TMPDIR/home # the completions read ~/.ssh/known_hosts
	mkdir -p "$HOME/.ssh"
}

# inst TARGET ARGS...: make TARGET into DESTDIR=$ROOT.
inst() {
	local target=$1
	shift
	make -C "$TOP" --no-print-directory "$target" DESTDIR="$ROOT" "$@"
}

# mode FILE: its permission bits, octal.
mode() { stat -c %a "$1"; }

# comp FILE FUNCTION WORDS...: runs completion FUNCTION from FILE (a bash without
# bash-completion) on WORDS, the last being completed; prints COMPREPLY one per line, sorted.
comp() {
	local file=$1 fn=$2
	shift 2
	# shellcheck disable=SC2016 # expanded by that bash
	bash --norc --noprofile -c 'source "$1" || exit 9; fn=$2; shift 2
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		"$fn" || exit 8
		[ ${#COMPREPLY[@]} -eq 0 ] || printf "%s\n" "${COMPREPLY[@]}"' _ "$file" "$fn" "$@" | sort
}

# comp_bc: the same with bash-completion loaded first.
BASH_COMPLETION=/usr/share/bash-completion/bash_completion
comp_bc() {
	local file=$1 fn=$2
	shift 2
	# shellcheck disable=SC2016
	bash --norc --noprofile -c 'source "$1" && source "$2" || exit 9; fn=$3; shift 3
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}
		"$fn" || exit 8
		[ ${#COMPREPLY[@]} -eq 0 ] || printf "%s\n" "${COMPREPLY[@]}"' \
		_ "$BASH_COMPLETION" "$file" "$fn" "$@" | sort
}

# help_opts PROGRAM: the long options its --help lists, one per line.
help_opts() {
	"$1" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u
}

# The text of a man page, as man renders it (wide, so that no option is broken).
man_text() { MANWIDTH=300 man -l "$1" 2>/dev/null; }

@test "make install DESTDIR= puts binaries, man pages, completions, unit and config in place" {
	run inst install
	echo "$output"
	[ "$status" -eq 0 ]
	local p=$ROOT/usr/local rev
	for b in migrate-src migrate-dst; do
		[ -x "$p/bin/$b" ]
		[ "$(mode "$p/bin/$b")" = 755 ]
		run "$p/bin/$b" --version
		[ "$status" -eq 0 ]
		[[ $output =~ ^$b\ [0-9]+\.[0-9]+\.[0-9]+\ \(git\ [0-9a-f]{4,}\)$ ]]
		if rev=$(git -C "$TOP" rev-parse --short HEAD 2>/dev/null); then
			[ "$output" = "$b 0.1.0 (git $rev)" ] || [[ $output == *"(git $rev)" ]]
		fi
		[ "$(mode "$p/share/man/man1/$b.1")" = 644 ]
		cmp "$TOP/docs/$b.1" "$p/share/man/man1/$b.1"
		[ "$(mode "$p/share/bash-completion/completions/$b")" = 644 ]
		cmp "$TOP/completions/$b" "$p/share/bash-completion/completions/$b"
	done
	# The unit, its ExecStart at BINDIR; the config dir private (the token lives there).
	local unit=$p/lib/systemd/system/migrate-dst.service
	[ "$(mode "$unit")" = 644 ]
	# shellcheck disable=SC2016 # literally ${SOCKET}: systemd expands it
	grep -qx 'ExecStart=/usr/local/bin/migrate-dst --socket ${SOCKET} -b ${BASE_DIR} --token-file ${TOKEN_FILE} $OPTIONS' "$unit"
	# systemd makes the socket's directory root's, 0700
	grep -qx 'RuntimeDirectoryMode=0700' "$unit"
	grep -qx 'EnvironmentFile=-/etc/migrate-dst/migrate-dst.conf' "$unit"
	if grep -q '@[A-Z]*@' "$unit"; then false; fi
	[ "$(mode "$ROOT/etc/migrate-dst")" = 700 ]
	[ "$(mode "$ROOT/etc/migrate-dst/migrate-dst.conf")" = 644 ]
	[ ! -e "$ROOT/etc/migrate-dst/token" ]
}

@test "the config sets every variable the unit uses, to values migrate-dst accepts" {
	local unit=$TOP/dist/migrate-dst.service.in conf=$TOP/dist/migrate-dst.conf v
	# shellcheck disable=SC2016
	for v in $(grep '^ExecStart=' "$unit" | grep -oE '\$\{?[A-Z_]+' | tr -d '${' | sort -u); do
		grep -qE "^$v=" "$conf"
		grep -E '^Environment=' "$unit" | grep -qE "(=| )$v="
	done
	# The values, with the unit's command line (OPTIONS split at blanks, as systemd does).
	# shellcheck disable=SC1090
	(
		set -a
		. "$conf"
		# shellcheck disable=SC2086
		"$MIGRATE_DST" --socket "$SOCKET" -b "$BASE_DIR" --token-file "$TOKEN_FILE" $OPTIONS --help >/dev/null
	)
}

@test "PREFIX=/usr: the unit goes to /lib/systemd/system; an existing config is kept" {
	mkdir -p "$ROOT/etc/migrate-dst"
	echo "PORT=1234" >"$ROOT/etc/migrate-dst/migrate-dst.conf"
	run inst install PREFIX=/usr
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"keeping $ROOT/etc/migrate-dst/migrate-dst.conf"* ]]
	[ "$(cat "$ROOT/etc/migrate-dst/migrate-dst.conf")" = "PORT=1234" ]
	[ -x "$ROOT/usr/bin/migrate-dst" ]
	[ -f "$ROOT/usr/share/man/man1/migrate-dst.1" ]
	[ -f "$ROOT/usr/share/bash-completion/completions/migrate-src" ]
	grep -q '^ExecStart=/usr/bin/migrate-dst ' "$ROOT/lib/systemd/system/migrate-dst.service"
}

@test "make uninstall removes what install put there, and leaves /etc/migrate-dst" {
	inst install >/dev/null
	echo token >"$ROOT/etc/migrate-dst/token"
	run inst uninstall
	echo "$output"
	[ "$status" -eq 0 ]
	run find "$ROOT" -type f
	echo "$output"
	[ "$(echo "$output" | sort | tr '\n' ' ')" = "$ROOT/etc/migrate-dst/migrate-dst.conf $ROOT/etc/migrate-dst/token " ]
}

@test "man -l and groff render both man pages without a warning" {
	command -v man >/dev/null || skip "man not installed (man-db)"
	local page err=$BATS_TEST_TMPDIR/err
	for page in "$TOP"/docs/migrate-src.1 "$TOP"/docs/migrate-dst.1; do
		man --warnings -l "$page" >/dev/null 2>"$err"
		[ ! -s "$err" ] || { cat "$err"; false; }
		groff -man -ww -z "$page" 2>"$err"
		[ ! -s "$err" ] || { cat "$err"; false; }
		run man_text "$page"
		for s in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" ENVIRONMENT FILES EXAMPLES "SEE ALSO"; do
			echo "$output" | grep -qx "$s"
		done
	done
	# Installed, man finds them by name.
	inst install >/dev/null
	[ "$(MANPATH=$ROOT/usr/local/share/man man -w migrate-dst)" = "$ROOT/usr/local/share/man/man1/migrate-dst.1" ]
	MANPATH=$ROOT/usr/local/share/man man --warnings migrate-src 2>"$err" | grep -q 'live-migrate'
	[ ! -s "$err" ]
}

@test "the man pages document every option --help lists, and the exit codes" {
	command -v man >/dev/null || skip "man not installed (man-db)"
	local b o text bin
	for b in migrate-src migrate-dst; do
		text=$(man_text "$TOP/docs/$b.1")
		bin=$MIGRATE_SRC
		[ "$b" = migrate-src ] || bin=$MIGRATE_DST
		for o in $(help_opts "$bin"); do
			grep -qE -- "(^|[ ,|])$o([ =,]|$)" <<<"$text" || { echo "$b.1 lacks $o"; false; }
		done
	done
	text=$(man_text "$TOP/docs/migrate-src.1")
	for o in 0 1 2 3 4; do
		grep -qE "^ +$o +[A-Z]" <<<"$text"
	done
	grep -q 'migrate-src mycontainer 192.168.1.2 False True' <<<"$text"
	grep -q 'runc(8), criu(8), rsync(1)' <<<"$text"
}

@test "completion: options, and every option --help lists" {
	local c=$TOP/completions
	run comp "$c/migrate-src" _migrate_src migrate-src --
	[ "$status" -eq 0 ]
	for o in $(help_opts "$MIGRATE_SRC"); do
		grep -qx -- "$o" <<<"$output" || { echo "no $o"; false; }
	done
	for o in --csv --repeat --replace --check --sync-bundle --compress; do
		grep -qx -- "$o" <<<"$output"
	done
	run comp "$c/migrate-dst" _migrate_dst migrate-dst --
	for o in $(help_opts "$MIGRATE_DST"); do
		grep -qx -- "$o" <<<"$output" || { echo "no $o"; false; }
	done
	[ "$(comp "$c/migrate-src" _migrate_src migrate-src --tec)" = "--technique" ]
	[ "$(comp "$c/migrate-dst" _migrate_dst migrate-dst --on)" = "--once" ]
}

@test "completion: techniques, compress, files, directories" {
	local c=$TOP/completions/migrate-src d=$BATS_TEST_TMPDIR/files
	mkdir -p "$d/keys.d" && touch "$d/key1" "$d/key2"
	[ "$(comp "$c" _migrate_src migrate-src -t "" | tr '\n' ' ')" = "cold hybrid post-copy pre-copy " ]
	[ "$(comp "$c" _migrate_src migrate-src --technique po)" = "post-copy" ]
	[ "$(comp "$c" _migrate_src migrate-src --technique = h)" = "hybrid" ]
	[ "$(comp "$c" _migrate_src migrate-src --compress z | tr '\n' ' ')" = "zlib zstd " ]
	for o in -i --identity --known-hosts --token-file --csv; do
		[ "$(comp "$c" _migrate_src migrate-src "$o" "$d/k" | tr '\n' ' ')" = "$d/key1 $d/key2 $d/keys.d " ]
	done
	[ "$(comp "$c" _migrate_src migrate-src -b "$d/k")" = "$d/keys.d" ]
	[ "$(comp "$c" _migrate_src migrate-src --base-dir "$d/k")" = "$d/keys.d" ]
	[ "$(comp "$TOP/completions/migrate-dst" _migrate_dst migrate-dst -b "$d/k")" = "$d/keys.d" ]
	[ "$(comp "$TOP/completions/migrate-dst" _migrate_dst migrate-dst --token-file "$d/key" | wc -l)" -eq 3 ]
	# Numbers: nothing to offer.
	[ -z "$(comp "$c" _migrate_src migrate-src --pre-dumps "")" ]
}

@test "completion: containers from the base dir, hosts from known_hosts, then True/False" {
	local c=$TOP/completions/migrate-src base=$BATS_TEST_TMPDIR/base kh=$BATS_TEST_TMPDIR/kh
	mkdir -p "$base/web1" "$base/web2" "$base/db" "$base/not-a-bundle"
	touch "$base/web1/config.json" "$base/web2/config.json" "$base/db/config.json"
	printf '%s\n' 'fog1.example,10.0.0.7 ssh-ed25519 AAAA' '[fog2.example]:2222 ssh-rsa AAAA' \
		'|1|aGFzaGVk|aGFzaA== ssh-rsa AAAA' '# comment' >"$kh"
	echo 'home.example ssh-ed25519 AAAA' >"$HOME/.ssh/known_hosts"
	[ "$(comp "$c" _migrate_src migrate-src -b "$base" "" | tr '\n' ' ')" = "db web1 web2 " ]
	[ "$(comp "$c" _migrate_src migrate-src --base-dir="$base" w | tr '\n' ' ')" = "web1 web2 " ]
	[ "$(comp "$c" _migrate_src migrate-src --json -t cold -b "$base" d)" = "db" ]
	# The default base dir when -b is not given: nothing from $base.
	[[ "$(comp "$c" _migrate_src migrate-src w)" != *web1* ]]
	# DEST: --known-hosts FILE and ~/.ssh/known_hosts, with or without USER@.
	[ "$(comp "$c" _migrate_src migrate-src --known-hosts "$kh" -b "$base" web1 "" | tr '\n' ' ')" = "10.0.0.7 fog1.example fog2.example home.example " ]
	[ "$(comp "$c" _migrate_src migrate-src --known-hosts "$kh" web1 root@fog | tr '\n' ' ')" = "root@fog1.example root@fog2.example " ]
	[ "$(comp "$c" _migrate_src migrate-src web1 ho)" = "home.example" ]
	# PRE and LAZY; no options after CONTAINER (migrate-src would take them as arguments).
	[ "$(comp "$c" _migrate_src migrate-src web1 fog1 "" | tr '\n' ' ')" = "False True " ]
	[ "$(comp "$c" _migrate_src migrate-src web1 fog1 True F)" = "False" ]
	[ -z "$(comp "$c" _migrate_src migrate-src web1 fog1 True False "")" ]
	[ -z "$(comp "$c" _migrate_src migrate-src -b "$base" web1 --js)" ]
}

@test "completion with bash-completion loaded: hosts and files through its helpers" {
	[ -r "$BASH_COMPLETION" ] || skip "bash-completion not installed"
	local c=$TOP/completions/migrate-src base=$BATS_TEST_TMPDIR/base d=$BATS_TEST_TMPDIR/files
	mkdir -p "$base/web1" "$d" && touch "$base/web1/config.json" "$d/key1"
	echo 'home.example ssh-ed25519 AAAA' >"$HOME/.ssh/known_hosts"
	run comp_bc "$c" _migrate_src migrate-src -b "$base" web1 ho
	echo "$output"
	[ "$status" -eq 0 ]
	grep -qx 'home.example' <<<"$output"
	run comp_bc "$c" _migrate_src migrate-src web1 root@home
	grep -qx 'root@home.example' <<<"$output"
	[ "$(comp_bc "$c" _migrate_src migrate-src -b "$base" w)" = "web1" ]
	[ "$(comp_bc "$c" _migrate_src migrate-src -i "$d/k")" = "$d/key1" ]
	[ "$(comp_bc "$c" _migrate_src migrate-src -t pr)" = "pre-copy" ]
}

@test "systemd-analyze verify accepts the installed unit" {
	command -v systemd-analyze >/dev/null || skip "systemd-analyze not installed (systemd)"
	# A real prefix (no DESTDIR), so that ExecStart's binary and the man page exist.
	local p=$BATS_TEST_TMPDIR/prefix
	make -C "$TOP" --no-print-directory install PREFIX="$p" CONFDIR="$p/etc/migrate-dst" >/dev/null
	grep -q "^ExecStart=$p/bin/migrate-dst " "$p/lib/systemd/system/migrate-dst.service"
	run env MANPATH="$p/share/man" systemd-analyze verify "$p/lib/systemd/system/migrate-dst.service"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "--version: the git revision, and 'unknown' when built from a tree without .git" {
	local copy=$BATS_TEST_TMPDIR/tarball
	mkdir -p "$copy"
	tar -C "$TOP" --exclude=./.git --exclude=./build --exclude=./build-asan -cf - . | tar -C "$copy" -xf -
	[ ! -e "$copy/.git" ]
	run make -C "$copy" -j4 --no-print-directory all
	[ "$status" -eq 0 ] || { echo "$output" | tail -20; false; }
	run "$copy/build/migrate-src" --version
	[ "$output" = "migrate-src 0.1.0 (git unknown)" ]
	run "$copy/build/migrate-dst" -V
	[ "$output" = "migrate-dst 0.1.0 (git unknown)" ]
	# A packager's revision, and cli.o rebuilt for it (not a stale one).
	run make -C "$copy" --no-print-directory all GIT_REV=1234abc
	[ "$status" -eq 0 ]
	[ "$("$copy/build/migrate-src" --version)" = "migrate-src 0.1.0 (git 1234abc)" ]
}
