#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for the Slurm tests: munged, slurmctld and slurmd as root, with
# linuxproc process tracking, task/none and no cgroups, configured under one folder.
#   scripts/slurm_local.sh start [DIR]   start (or reuse) the cluster; prints `export SLURM_CONF=DIR/slurm.conf`
#   scripts/slurm_local.sh stop [DIR]    stop the daemons started from DIR
# DIR defaults to /tmp/saediff-slurm. Needs the packages slurmctld slurmd slurm-client munge (setup.sh
# installs them). Clients find the cluster through SLURM_CONF.
set -euo pipefail
action=${1:-start}
dir=${2:-/tmp/saediff-slurm}
conf=$dir/slurm.conf
node=$(hostname -s)

stop() {
  for d in slurmd slurmctld; do
    [[ -f $dir/$d.pid ]] && kill "$(cat "$dir/$d.pid")" 2>/dev/null || true
  done
  [[ -f $dir/munged.pid ]] && kill "$(cat "$dir/munged.pid")" 2>/dev/null || true
  sleep 1
}

if [[ $action == stop ]]; then
  stop
  exit 0
fi
[[ $action == start ]] || { echo "usage: $0 start|stop [DIR]" >&2; exit 2; }

export SLURM_CONF=$conf
if [[ -f $conf ]] && scontrol ping 2>/dev/null | grep -q UP && sinfo -h -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
  echo "export SLURM_CONF=$conf"
  exit 0
fi
stop
mkdir -p "$dir/state" "$dir/spool" "$dir/munge"

# munge: its own socket and key under DIR, so that a system munged (or none) does not matter.
if [[ ! -f $dir/munge/munge.key ]]; then
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
fi
chown -R munge:munge "$dir/munge"
chmod 700 "$dir/munge"
chmod 400 "$dir/munge/munge.key"
munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
  --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" --seed-file="$dir/munge/munge.seed"

cpus=$(getconf _NPROCESSORS_ONLN)  # not nproc: it honours OMP_NUM_THREADS
mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
cat >"$conf" <<EOF
ClusterName=saediff-local
SlurmctldHost=$node
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=10
CryptoType=crypto/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
JobRequeue=1
KillWait=30
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldPort=6917
SlurmdPort=6918
NodeName=$node CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=local Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -i -f "$conf"
slurmd -f "$conf"
for _ in $(seq 1 60); do
  if sinfo -h -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
    echo "export SLURM_CONF=$conf"
    exit 0
  fi
  sleep 1
done
echo "slurm_local: the node did not come up; logs in $dir" >&2
tail -n 20 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
exit 1
