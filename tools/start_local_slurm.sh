#!/usr/bin/env bash
# Start a one-node Slurm cluster on this machine (for tests and demos).
# Needs root and Debian's slurm-wlm + munge (installed if missing).
# Usage: sudo bash tools/start_local_slurm.sh [STATE_DIR]
# Writes /etc/slurm/slurm.conf, keeps state, spool and logs in STATE_DIR
# (default: /tmp/gml-slurm-<pid>), and waits until the node accepts jobs.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
    echo "start_local_slurm.sh: needs root (it installs packages and starts daemons)" >&2
    exit 2
fi
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi
DIR=${1:-/tmp/gml-slurm-$$}
mkdir -p "$DIR/state" "$DIR/spool" /etc/slurm /run/munge /var/log/munge /var/lib/munge
HOST=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))

# munge authenticates slurm's messages; one key per machine is enough here.
if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
fi
chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
chmod 0400 /etc/munge/munge.key
if ! pgrep -x munged >/dev/null; then
    runuser -u munge -- /usr/sbin/munged || /usr/sbin/munged --force
fi

# Memory limits (--mem) are enforced by the task/cgroup plugin (a job over
# its limit ends OUT_OF_MEMORY, as on production clusters); where cgroups are
# not usable, the node falls back to task/none (limits not enforced).
cat > /etc/slurm/cgroup.conf <<CONF
CgroupPlugin=cgroup/v1
ConstrainRAMSpace=yes
ConstrainSwapSpace=yes
AllowedSwapSpace=0
CONF

write_conf() {
TASK_PLUGIN=$1
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=gml-local
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=$TASK_PLUGIN
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=4096
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=1
AccountingStorageType=accounting_storage/none
MinJobAge=3600
KillWait=5
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF
}

start_daemons() {
    pkill -x slurmctld 2>/dev/null || true
    pkill -x slurmd 2>/dev/null || true
    sleep 1
    /usr/sbin/slurmctld -c
    /usr/sbin/slurmd -c || return 1
    for _ in $(seq 1 "$1"); do
        if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
            return 0
        fi
        sleep 1
    done
    return 1
}

PLUGIN=task/cgroup
write_conf $PLUGIN
if ! start_daemons 15; then
    echo "slurm: task/cgroup did not start here; memory limits will not be enforced" >&2
    PLUGIN=task/none
    write_conf $PLUGIN
    start_daemons 30 || {
        echo "start_local_slurm.sh: the node did not become idle; logs in $DIR" >&2
        sinfo >&2 || true
        exit 1
    }
fi
echo "slurm: one-node cluster up on $HOST (partition debug, $CPUS CPUs, $PLUGIN, state in $DIR)"
