#!/bin/bash
# Experiment: plain runc + CRIU in the guest, A -> B -> A (cold), to reproduce the second dump's failure.
T=/tmp/x; mkdir -p $T/src $T/dst
top=/work/wt-vm
$top/tests/lib/make-bundle $T/src/c1 >/dev/null
$top/tests/lib/make-bundle $T/dst/c1 >/dev/null
R1=/run/runc-vmh-src R2=/run/runc-vmh-dst
[ -n "${CRIU_FAULT:-}" ] && export CRIU_FAULT || unset CRIU_FAULT
echo "CRIU_FAULT=${CRIU_FAULT-unset}"
runc --root $R1 run -d --bundle $T/src/c1 c1 </dev/null >/dev/null 2>&1
sleep 2
runc --root $R1 state c1 | head -5
pid=$(runc --root $R1 state c1 | jq .pid)
cat /proc/$pid/cgroup
d1=$(date +%s.%N)
timeout 120 runc --root $R1 checkpoint --image-path $T/img1 --work-path $T/work1 c1; echo "checkpoint1 rc=$? $(echo "$(date +%s.%N) - $d1" | bc) s"
tail -3 $T/work1/dump.log
cp -a $T/src/c1/rootfs/counter.log $T/dst/c1/rootfs/counter.log
timeout 120 runc --root $R2 restore -d --image-path $T/img1 --work-path $T/work2 --bundle $T/dst/c1 c1 </dev/null >/dev/null 2>&1; echo "restore1 rc=$?"
tail -3 $T/work2/restore.log
runc --root $R2 state c1 | jq -c '{status,pid}'
pid=$(runc --root $R2 state c1 | jq .pid)
cat /proc/$pid/cgroup
cg=$(sed -n 's/^0:://p' /proc/$pid/cgroup)
ls /sys/fs/cgroup$cg; cat /sys/fs/cgroup$cg/cgroup.freeze /sys/fs/cgroup$cg/cgroup.events /sys/fs/cgroup$cg/cgroup.procs
[ -n "$cg" ] && for p in $(cat /sys/fs/cgroup$cg/cgroup.procs); do echo "$p $(cat /proc/$p/comm) $(awk '{print $3}' /proc/$p/stat)"; grep -E 'State|SigBlk|TracerPid' /proc/$p/status; done
sleep 2
timeout 120 runc --root $R2 checkpoint --image-path $T/img2 --work-path $T/work3 c1; echo "checkpoint2 rc=$?"
grep -E 'Error|Unseizable|freez|seize' $T/work3/dump.log | head -20
runc --root $R2 state c1 | jq -c '{status,pid}'
cp $T/work3/dump.log /results/dump2.log 2>/dev/null
cp $T/work1/dump.log /results/dump1.log 2>/dev/null
cp $T/work2/restore.log /results/restore1.log 2>/dev/null
