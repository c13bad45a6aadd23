#!/usr/bin/env bats
# scripts/netem: the seed's tc htb + netem example, applied and removed.  Real changes only
# happen on a veth pair inside a private network namespace (unshare -n), never on this
# machine's own interfaces.

load ../lib/common

NETEM=$_COMMON_TOP/scripts/netem

# in_netns SCRIPT: runs bash SCRIPT in a new network namespace with a veth pair v0/v1 up.
in_netns() {
	unshare -n bash -c 'set -e
		ip link add v0 type veth peer name v1
		ip link set v0 up; ip link set v1 up
		'"$1"
}

need_netns() {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	command -v tc >/dev/null || skip "tc not installed (iproute2)"
	unshare -n ip link add v0 type veth peer name v1 2>/dev/null || skip "no network namespaces or veth here"
}

@test "netem --dry-run: the seed's four tc commands" {
	run "$NETEM" --dry-run apply eth0 --dst 192.168.1.2
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "tc qdisc add dev eth0 root handle 1: htb
tc class add dev eth0 parent 1: classid 1:1 htb rate 20mbit
tc filter add dev eth0 protocol ip parent 1:0 prio 1 u32 match ip dst 192.168.1.2 flowid 1:1
tc qdisc add dev eth0 parent 1:1 handle 10: netem delay 80ms" ]
	run "$NETEM" -n apply eth0 --rate=5mbit --delay 10ms --jitter 2ms --loss 1% --dst fd00::2
	[ "$status" -eq 0 ]
	[[ $output == *"tc qdisc add dev eth0 root handle 1: htb"* ]]
	[[ $output == *"htb rate 5mbit"* ]]
	[[ $output == *"protocol ipv6 parent 1:0 prio 2 u32 match ip6 dst fd00::2 flowid 1:1"* ]]
	[[ $output == *"netem delay 10ms 2ms loss 1%" ]]
	# Without --dst everything is shaped: the htb default class.
	run "$NETEM" -n apply eth0
	[[ ${lines[0]} == "tc qdisc add dev eth0 root handle 1: htb default 1" ]]
	run "$NETEM" -n remove eth0
	[ "$output" = "tc qdisc del dev eth0 root" ]
}

@test "netem: usage errors, bad values, and no root" {
	run "$NETEM"
	[ "$status" -eq 2 ]
	[[ $output == *usage:* ]]
	run "$NETEM" -n apply eth0 --rate 'fast please'
	[ "$status" -eq 1 ]
	[[ $output == *"bad --rate"* ]]
	run "$NETEM" -n apply eth0 --dst 'x; reboot'
	[ "$status" -eq 1 ]
	run "$NETEM" -n apply eth0 --bogus
	[ "$status" -eq 1 ]
	command -v setpriv >/dev/null || skip "setpriv not installed"
	# As nobody (the script from stdin: nobody may not be able to read this tree).
	run setpriv --reuid=65534 --regid=65534 --clear-groups bash -s -- apply lo <"$NETEM"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"must run as root"* ]]
}

@test "netem apply / show / remove on a veth in a private network namespace (rate only)" {
	need_netns
	run in_netns "
		$NETEM apply v0 --rate 3mbit --delay 0 --dst 10.9.8.7
		tc qdisc show dev v0; tc class show dev v0; tc filter show dev v0
		echo ---; $NETEM apply v0 --rate 4mbit --delay 0
		tc qdisc show dev v0; tc class show dev v0
		echo ---; $NETEM show v0 | head -1
		echo ---; $NETEM remove v0; tc qdisc show dev v0
		$NETEM remove v0"
	echo "$output"
	[ "$status" -eq 0 ]
	local part1 part2
	part1=$(sed -n '1,/^---$/p' <<<"$output")
	part2=$(sed -n '/^---$/,$p' <<<"$output" | sed -n '2,/^---$/p')
	[[ $part1 == *"rate 3mbit, delay none, towards 10.9.8.7"* ]]
	[[ $part1 == *"qdisc htb 1: root"* ]]
	[[ $part1 == *"class htb 1:1 root"*"rate 3Mbit"* ]]
	[[ $part1 == *"match 0a090807/ffffffff at 16"* ]]
	# A second apply replaces the first.
	[[ $part2 == *"rate 4mbit, delay none, all egress traffic"* ]]
	[[ $part2 == *"rate 4Mbit"* ]]
	[[ $part2 != *"3Mbit"* ]]
	[[ $output == *"v0: removed"*"qdisc noqueue 0: root"*"v0: nothing to remove"* ]]
}

@test "netem leaves a root qdisc it did not set up alone" {
	need_netns
	run in_netns "
		tc qdisc add dev v0 root handle 5: tbf rate 1mbit burst 32k latency 400ms || exit 99
		$NETEM apply v0 --delay 0 && exit 97
		$NETEM remove v0 && exit 98
		tc qdisc show dev v0"
	echo "$output"
	[ "$status" -ne 99 ] || skip "no tbf qdisc in this kernel"
	[ "$status" -eq 0 ]
	[[ $output == *"already has a root qdisc (tbf 5:)"* ]]
	[[ $output == *"not set up by netem; not removing it"* ]]
	[[ $output == *"qdisc tbf 5: root"* ]]
}

@test "netem: the seed's example with netem delay, or a clean refusal where the kernel has no netem" {
	need_netns
	run in_netns "
		if tc qdisc add dev v1 root netem delay 1ms 2>/dev/null; then echo HAVE_NETEM; fi
		rc=0; $NETEM apply v0 --dst 192.168.1.2 || rc=\$?; echo rc=\$rc
		tc qdisc show dev v0"
	echo "$output"
	if [[ $output == *HAVE_NETEM* ]]; then
		[[ $output == *rc=0* ]]
		[[ $output == *"qdisc netem 10: parent 1:1"*"delay 80ms"* ]]
	else
		# Said why, and undid the htb part: the interface is as it was.
		[[ $output == *"this kernel has no such qdisc (netem"* ]]
		[[ $output == *"undone (root qdisc removed)"* ]]
		[[ $output == *rc=1* ]]
		[[ $output == *"qdisc noqueue 0: root"* ]]
		[[ $output != *"qdisc htb"* ]]
	fi
}
