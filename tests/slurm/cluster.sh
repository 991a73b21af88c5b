#!/bin/bash
# A two-node SLURM cluster on this one machine for the tests, from Debian's
# slurm-wlm and munge, without systemd: cluster.sh up DIR | down DIR.
# Nodes $HOST and $HOST-2 are two slurmd daemons (slurmd -N) on their own
# ports, with their own spool and TmpFS (PMIx's per-step folders would
# collide in one /tmp); a job with --nodes=2 is launched over both, as on
# a cluster, though both share this host's CPUs and memory. Everything
# lives in DIR (config, state, logs, pid files); clients need
# SLURM_CONF=DIR/slurm.conf. Daemons are stopped by PID from their pid
# files (one per slurmd: a slurmd stops whichever daemon its pid file names).
set -euo pipefail
cmd=${1:?usage: cluster.sh up|down DIR}; D=${2:?usage: cluster.sh up|down DIR}
HOST=$(hostname -s)
NODES=("$HOST" "$HOST-2")

down() {
  local pidfile
  for pidfile in "$D"/slurmd-*.pid "$D/slurmctld.pid" "$D/munged.pid"; do
    [ -s "$pidfile" ] || continue
    local pid; pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

if [ "$cmd" = down ]; then down; exit 0; fi

mkdir -p "$D/state" "$D/spool" "$D/log"
# Munge: its socket directory, run as the munge user. A munged already
# serving the default socket (another cluster on this machine) is reused.
if ! munge -n >/dev/null 2>&1 </dev/null; then
  mkdir -p /run/munge && chown munge:munge /run/munge && chmod 0755 /run/munge
  [ -s /etc/munge/munge.key ] || { mungekey --create --force 2>/dev/null || /usr/sbin/create-munge-key -f; chown munge:munge /etc/munge/munge.key; }
  runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid --force
  for _ in $(seq 50); do [ -s /run/munge/munged.pid ] && break; sleep 0.1; done
  cp /run/munge/munged.pid "$D/munged.pid"
fi
munge -n </dev/null | unmunge >/dev/null

cat >"$D/slurm.conf" <<CONF
ClusterName=shardml-test
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# A requeued batch job waits cred_expire + 1 s (default 120) before it may
# start again, so that its old step credentials have expired; forcing an
# earlier start races them ("Job credential revoked"). The tests wait for
# the natural start, so they keep it short.
AuthInfo=cred_expire=10
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool/%n
TmpFS=$D/tmpfs/%n
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd-%n.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd-%n.log
SlurmctldPort=${SLURM_TEST_PORT:-16817}
SlurmdPort=$(( ${SLURM_TEST_PORT:-16817} + 1 ))
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
EnforcePartLimits=ALL
SlurmdParameters=config_overrides
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=defer_batch
MinJobAge=600
KillWait=20
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=${NODES[0]} NodeHostname=$HOST NodeAddr=127.0.0.1 Port=$(( ${SLURM_TEST_PORT:-16817} + 1 )) CPUs=4 Sockets=1 CoresPerSocket=4 ThreadsPerCore=1 RealMemory=4000 State=UNKNOWN
NodeName=${NODES[1]} NodeHostname=$HOST NodeAddr=127.0.0.1 Port=$(( ${SLURM_TEST_PORT:-16817} + 2 )) CPUs=4 Sockets=1 CoresPerSocket=4 ThreadsPerCore=1 RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes=${NODES[0]},${NODES[1]} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
export SLURM_CONF=$D/slurm.conf
/usr/sbin/slurmctld -f "$D/slurm.conf" -i
for _ in $(seq 100); do [ -s "$D/slurmctld.pid" ] && scontrol ping >/dev/null 2>&1 && break; sleep 0.1; done
for node in "${NODES[@]}"; do
  mkdir -p "$D/spool/$node" "$D/tmpfs/$node"
  /usr/sbin/slurmd -f "$D/slurm.conf" -N "$node"
done
idle() { test "$(sinfo -h -N -o %T 2>/dev/null | grep -c '^idle$')" -eq 2; }
for _ in $(seq 200); do idle && break; sleep 0.1; done
sinfo -N
idle || { echo "cluster.sh: the nodes are not both idle"; tail -20 "$D"/log/slurmd-*.log "$D/log/slurmctld.log"; down; exit 1; }
echo "cluster.sh: up (SLURM_CONF=$D/slurm.conf)"
