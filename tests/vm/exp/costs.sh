#!/bin/bash
# Experiment: what basic operations cost in the TCG guest.
top=/work/wt-vm
t() { local s=$(date +%s%N); "$@" >/dev/null 2>&1; local rc=$?; echo "$(( ($(date +%s%N) - s) / 1000000 )) ms rc=$rc: $*"; }
loop_true() { for i in $(seq 100); do /bin/true; done; }
loop_bb() { for i in $(seq 100); do /bin/busybox true; done; }
t loop_true
t loop_bb
t $top/tests/lib/make-bundle /tmp/b1
t $top/tests/lib/make-bundle /tmp/b2
t ssh-keygen -q -t ed25519 -N '' -f /tmp/k1
t ssh-keygen -q -t ed25519 -N '' -f /tmp/hk
cp /tmp/k1.pub /tmp/ak
mkdir -p /run/sshd
cat >/tmp/sc <<EOC
ListenAddress 127.0.0.1
Port 2222
HostKey /tmp/hk
AuthorizedKeysFile /tmp/ak
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
UseDNS no
EOC
/usr/sbin/sshd -D -e -f /tmp/sc </dev/null >/tmp/sshd.log 2>&1 &
sleep 3
t ssh -F /dev/null -p 2222 -i /tmp/k1 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes root@127.0.0.1 true
t ssh -F /dev/null -p 2222 -i /tmp/k1 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes root@127.0.0.1 true
t runc --root /run/r1 run -d --bundle /tmp/b1 c1
sleep 2
t runc --root /run/r1 state c1
t runc --root /run/r1 checkpoint --pre-dump --image-path /tmp/i0 c1
t runc --root /run/r1 pause c1
t runc --root /run/r1 checkpoint --image-path /tmp/i1 --parent-path ../i0 c1
t runc --root /run/r2 restore -d --image-path /tmp/i1 --bundle /tmp/b2 c1
t criu check
t rsync -a /tmp/b1/ /tmp/b3/
t sha256sum /usr/sbin/runc
t zstd -q -c /usr/sbin/runc
