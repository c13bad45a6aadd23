#!/bin/bash
# Experiment: plain runc + CRIU in the guest, A -> B -> A, the way migrate-src does it:
# [pre-dump], runc pause, checkpoint, restore on the other root; then the same back.
# Usage: plain-runc2.sh PAUSE(0|1) PREDUMP(0|1)
PAUSE=${1:-1} PREDUMP=${2:-0}
# TOOLS=DIR: a dir with the runc and criu to use (first in PATH).
# RESTORE_OPTS="...": more runc restore options (e.g. --manage-cgroups-mode ignore).
# CGROOT=1: restore with CRIU_CONFIG_FILE naming a file with "cgroup-root PATH", PATH the
#          destination bundle's linux.cgroupsPath (what runc >= 1.2 tells CRIU itself).
# FIXUP=1: after each restore, move the container's processes into the cgroup runc manages
#          for it when they are elsewhere (runc < 1.2 on cgroup v2 restores them into the
#          cgroup path recorded in the image).
[ -z "${TOOLS:-}" ] || export PATH=$TOOLS:$PATH
T=/tmp/x; mkdir -p $T/A $T/B
top=/work/wt-vm
$top/tests/lib/make-bundle $T/A/c1 >/dev/null
$top/tests/lib/make-bundle $T/B/c1 >/dev/null
declare -A ROOT=([A]=/run/runc-vmh-A [B]=/run/runc-vmh-B)
echo "runc $(runc --version | head -1), criu $(criu --version | head -1), PAUSE=$PAUSE PREDUMP=$PREDUMP"
runc --root ${ROOT[A]} run -d --bundle $T/A/c1 c1 </dev/null >/dev/null 2>&1 || exit 1
sleep 2
show() { # ROOT
	local pid cg
	runc --root $1 state c1 | jq -c '{status,pid}'
	pid=$(runc --root $1 state c1 | jq .pid)
	cg=$(sed -n 's/^0:://p' /proc/$pid/cgroup)
	echo "cgroup of $pid: $cg; cgroup.freeze=$(cat /sys/fs/cgroup$cg/cgroup.freeze) events: $(tr '\n' ' ' </sys/fs/cgroup$cg/cgroup.events) procs: $(tr '\n' ' ' </sys/fs/cgroup$cg/cgroup.procs)"
	for p in $(cat /sys/fs/cgroup$cg/cgroup.procs); do
		echo "  $p $(cat /proc/$p/comm 2>/dev/null) $(awk '{print $3}' /proc/$p/stat 2>/dev/null) cg=$(cat /proc/$p/cgroup 2>/dev/null)"
	done
	# every sh/sleep process (the container's), wherever its cgroup
	ps -e -o pid=,ppid=,stat=,comm=,cgroup= | awk '$4 == "sh" || $4 == "sleep" { print "  ps:", $0 }'

}
fixup() { # ROOT: the cgroup workaround
	local root=$1 pid want have p i
	pid=$(runc --root $root state c1 | jq .pid)
	want=$(jq -r '.cgroup_paths[""] // .cgroup_paths.unified // empty' $root/c1/state.json)
	[ -n "$want" ] || want=/sys/fs/cgroup$(jq -r .config.cgroups.path $root/c1/state.json)
	have=/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/$pid/cgroup)
	echo "fixup: runc's cgroup $want, the init's $have"
	[ "$have" = "$want" ] && return 0
	echo 1 >$have/cgroup.freeze
	for i in $(seq 50); do grep -q 'frozen 1' $have/cgroup.events && break; sleep 0.1; done
	for i in $(seq 20); do
		[ -n "$(cat $have/cgroup.procs)" ] || break
		for p in $(cat $have/cgroup.procs); do
			echo $p >$want/cgroup.procs; echo "fixup: moved $p ($?): now $(cat /proc/$p/cgroup 2>&1)"
		done
	done
	echo 0 >$have/cgroup.freeze
	ls $have; cat $have/cgroup.procs $have/cgroup.threads
	rmdir $have && echo "fixup: moved into $want, removed $have"
}
move() { # FROM TO N
	local f=$1 t=$2 n=$3 img=$T/img$3 parent=""
	rm -rf $img; mkdir -p $img
	if [ "$PREDUMP" = 1 ]; then
		timeout 120 runc --root ${ROOT[$f]} checkpoint --pre-dump --image-path $img/p1 --work-path $img/p1 c1; echo "pre-dump $n rc=$?"
		parent="--parent-path ../p1"
	fi
	if [ "$PAUSE" = 1 ]; then runc --root ${ROOT[$f]} pause c1; echo "pause rc=$?"; show ${ROOT[$f]}; fi
	timeout 120 runc --root ${ROOT[$f]} checkpoint --image-path $img/final --work-path $img/final $parent c1; rc=$?
	echo "checkpoint $n ($f) rc=$rc"
	if [ $rc -ne 0 ]; then grep -E 'Error|rror|Unseizable' $img/final/dump.log | head; cp $img/final/dump.log /results/dump$n.log; return 1; fi
	cp -a $T/$f/c1/rootfs/counter.log $T/$t/c1/rootfs/counter.log
	local envs=()
	if [ "${CGROOT:-0}" = 1 ]; then
		echo "cgroup-root $(jq -r .linux.cgroupsPath $T/$t/c1/config.json)" >$T/criu-$t.conf
		envs=(CRIU_CONFIG_FILE=$T/criu-$t.conf)
		echo "restore with CRIU_CONFIG_FILE: $(cat $T/criu-$t.conf)"
	fi
	env "${envs[@]}" timeout 120 runc --root ${ROOT[$t]} restore -d ${RESTORE_OPTS:-} --image-path $img/final --work-path $img/final --bundle $T/$t/c1 c1 </dev/null >/dev/null 2>&1
	echo "restore $n ($t) rc=$?"
	[ "${FIXUP:-0}" = 1 ] && fixup ${ROOT[$t]}
	show ${ROOT[$t]}
	cp $img/final/dump.log /results/dump$n.log; cp $img/final/restore.log /results/restore$n.log
	sleep 2
}
move A B 1 && move B A 2 && move A B 3
rc=$?
echo "result: $rc"; tail -3 $T/B/c1/rootfs/counter.log $T/A/c1/rootfs/counter.log
exit $rc
