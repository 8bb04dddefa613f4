#!/usr/bin/env bash
# Start a one-node Slurm cluster on this machine (Debian's slurm-wlm + munge), for the tests
# and for trying aw-tui's Slurm features. Idempotent: a cluster that already answers is left
# as it is. Needs root (it installs packages, writes /etc/slurm/slurm.conf and starts daemons).
#
#   bash scripts/start-slurm.sh          # install, configure, start; waits until srun answers
#   bash scripts/start-slurm.sh --stop   # stop slurmd, slurmctld and munged
#
# Nothing in aw_tui assumes this cluster: a real site's Slurm is used as it is.
set -euo pipefail

CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
STATE=/var/lib/slurm-aw
LOGS=/var/log/slurm-aw

stop() {
    pkill -x slurmd 2>/dev/null || true
    pkill -x slurmctld 2>/dev/null || true
    pkill -x munged 2>/dev/null || true
    echo "Slurm stopped (slurmd, slurmctld, munged)."
}

if [ "${1:-}" = "--stop" ]; then
    stop
    exit 0
fi

answers() { timeout 20 srun -N1 -n1 --quiet hostname >/dev/null 2>&1; }

if command -v srun >/dev/null 2>&1 && pgrep -x slurmctld >/dev/null && pgrep -x slurmd >/dev/null \
        && answers; then
    echo "Slurm is already running: $(sinfo -h -o '%P %a %D %T' | head -1)"
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "start-slurm.sh needs root (it installs slurm-wlm and munge and starts their daemons)." >&2
    exit 1
fi

if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
    echo "Installing slurm-wlm and munge with apt-get..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq slurm-wlm munge >/dev/null
fi

# munge: a key readable only by the munge user, then the daemon as that user.
install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
install -d -o munge -g munge -m 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
if ! pgrep -x munged >/dev/null; then
    runuser -u munge -- /usr/sbin/munged --force
fi

host=$(hostname -s)
cpus=$(nproc)
mem_mb=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)
install -d -m 0755 "$CONF_DIR" "$STATE" "$STATE/d" "$LOGS"
cat > "$CONF.new" <<CONF
# One-node Slurm for aw-tui's tests (written by scripts/start-slurm.sh).
ClusterName=aw-tui
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmdSpoolDir=$STATE/d
StateSaveLocation=$STATE
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=10
Waittime=0
# Jobs may be requeued (aw-tui's walltime-aware runs) and overcommit the node's CPUs, so that
# a runner and its Dask worker jobs fit on one small machine.
JobRequeue=1
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF
if ! cmp -s "$CONF.new" "$CONF" 2>/dev/null; then
    mv "$CONF.new" "$CONF"
    pkill -x slurmd 2>/dev/null || true
    pkill -x slurmctld 2>/dev/null || true
    sleep 1
else
    rm -f "$CONF.new"
fi

pgrep -x slurmctld >/dev/null || /usr/sbin/slurmctld || {
    echo "slurmctld did not start; see $LOGS/slurmctld.log" >&2; exit 1; }
pgrep -x slurmd >/dev/null || /usr/sbin/slurmd || {
    echo "slurmd did not start; see $LOGS/slurmd.log" >&2; exit 1; }

for _ in $(seq 1 60); do
    scontrol update NodeName="$host" State=RESUME >/dev/null 2>&1 || true
    if answers; then
        echo "Slurm is up: $(sinfo -h -o '%P %a %D %T' | head -1) on $host ($cpus CPUs, ${mem_mb} MB)."
        echo "Stop it with: bash scripts/start-slurm.sh --stop"
        exit 0
    fi
    sleep 1
done
echo "Slurm did not answer within 60 s; see $LOGS/slurmctld.log and $LOGS/slurmd.log" >&2
tail -5 "$LOGS/slurmctld.log" "$LOGS/slurmd.log" >&2 || true
exit 1
