# real.bash: helpers for the real runc + CRIU tests (`load ../lib/real` after common).
#
#   e2e_possible                 0 when real runc + CRIU can run here; else E2E_SKIP_REASON
#   make_real_bundle DIR [--terminal]   tests/lib/make-bundle (busybox rootfs, counter loop)
#   run_real ROOT BUNDLE NAME [--terminal]   runc run -d, stdio /dev/null; a terminal
#                                container gets its console taken by holdpty
#   criu_script BUNDLE ACTION CMD   makes real CRIU run CMD (sh) at ACTION while it dumps this
#                                bundle's container: through a CRIU config file named by the
#                                bundle's org.criu.config annotation (runc passes it to CRIU)
#   wait_lines FILE N [SECONDS]  until FILE has at least N lines (default 15 s)
#   real_cleanup NAME...         removes those containers from SRC_ROOT and DST_ROOT safely:
#                                kill, unmount what runc/CRIU left, delete; never rm through
#                                a mount

e2e_possible() {
	E2E_SKIP_REASON=
	if [ "$(id -u)" -ne 0 ]; then
		E2E_SKIP_REASON="real runc + CRIU tests need root"
	elif ! command -v runc >/dev/null || ! command -v criu >/dev/null; then
		E2E_SKIP_REASON="runc or criu not installed (scripts/install-deps installs them)"
	elif ! criu check >/dev/null 2>&1; then
		E2E_SKIP_REASON="criu check fails here: $(criu check 2>&1 | tail -1)"
	fi
	[ -z "$E2E_SKIP_REASON" ]
}

make_real_bundle() {
	"$_COMMON_TESTS_DIR/lib/make-bundle" "$@" >/dev/null
}

run_real() {
	local root=$1 bundle=$2 name=$3
	if [ "${4:-}" = --terminal ]; then
		local sock="$TEST_TMP/$name.console.sock"
		"$HOLDPTY" "$sock" "$TEST_TMP/$name.src-console.log" >"$TEST_TMP/$name.holdpty" 2>&1 3>&- &
		wait_for_line "$TEST_TMP/$name.holdpty" '^ready$' 5
		runc --root "$root" run -d --console-socket "$sock" --bundle "$bundle" "$name" \
			</dev/null >/dev/null 2>"$TEST_TMP/$name.run.err" ||
			{ cat "$TEST_TMP/$name.run.err"; return 1; }
	else
		# All three to /dev/null: the container inherits runc's stdio, and CRIU cannot dump
		# a container whose stdio is a file outside its mounts (docs/notes-platform.md, "The container's stdio").
		runc --root "$root" run -d --bundle "$bundle" "$name" </dev/null >/dev/null 2>&1 ||
			{ echo "runc run -d $name failed" >&2; return 1; }
	fi
}

criu_script() {
	local bundle=$1 action=$2 cmd=$3
	printf '#!/bin/sh\n[ "$CRTOOLS_SCRIPT_ACTION" = %s ] || exit 0\n%s\n' "$action" "$cmd" \
		>"$bundle/criu-action.sh"
	chmod +x "$bundle/criu-action.sh"
	echo "action-script $bundle/criu-action.sh" >"$bundle/criu.conf"
	jq --arg c "$bundle/criu.conf" '.annotations["org.criu.config"] = $c' \
		"$bundle/config.json" >"$bundle/config.json.new"
	mv "$bundle/config.json.new" "$bundle/config.json"
}

wait_lines() {
	local file=$1 n=$2 secs=${3:-15} i
	for ((i = 0; i < secs * 10; i++)); do
		if [ -f "$file" ] && [ "$(wc -l <"$file")" -ge "$n" ]; then
			return 0
		fi
		sleep 0.1
	done
	echo "wait_lines: $file has $(wc -l <"$file" 2>/dev/null || echo no) lines, wanted $n" >&2
	return 1
}

# _umount_below DIR: unmounts every mount point at or below DIR, deepest first.
_umount_below() {
	local dir=$1 mp
	[ -n "$dir" ] || return 0
	awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo |
		sort -r | while read -r mp; do
			umount "$mp" 2>/dev/null || umount -l "$mp"
		done
}

real_cleanup() {
	local root name i
	[ -n "${SRC_ROOT:-}" ] || return 0
	for root in "$SRC_ROOT" "$DST_ROOT"; do
		for name in "$@"; do
			[ -d "$root/$name" ] || continue
			runc --root "$root" kill "$name" KILL >/dev/null 2>&1
			for ((i = 0; i < 50; i++)); do
				[ "$(runc --root "$root" state "$name" 2>/dev/null | jq -r .status)" = running ] || break
				sleep 0.1
			done
			_umount_below "$root/$name"
			runc --root "$root" delete -f "$name" >/dev/null 2>&1
		done
	done
	# CRIU's leftovers in work dirs (.criu.cgyard.*), anything else below the test tree.
	_umount_below "$TEST_TMP"
}
