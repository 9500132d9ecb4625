#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for the cluster test and for users who want to
# try the slurm profile: `bash .ci/slurm.sh start`, `... status`, `... stop`.
# No systemd here: munged runs as user munge, slurmctld and slurmd as root, each stopped by
# the PID it wrote. No accounting database, so jobs are followed with squeue.
set -euo pipefail
STATE=${SLURM_CI_STATE:-/tmp/slurm-ci}
cmd=${1:-status}

install() {
  if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurmctld slurmd slurm-client munge >/dev/null
  fi
}

write_conf() {
  local host; host=$(hostname -s)
  mkdir -p /etc/slurm "$STATE"/{ctld,d,log}
  cat > /etc/slurm/slurm.conf <<CONF
ClusterName=energyrouting
SlurmctldHost=${host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
StateSaveLocation=${STATE}/ctld
SlurmdSpoolDir=${STATE}/d
SlurmctldPidFile=${STATE}/slurmctld.pid
SlurmdPidFile=${STATE}/slurmd.pid
SlurmctldLogFile=${STATE}/log/slurmctld.log
SlurmdLogFile=${STATE}/log/slurmd.log
ReturnToService=2
MpiDefault=none
NodeName=${host} CPUs=2 RealMemory=16000 State=UNKNOWN
PartitionName=debug Nodes=${host} Default=YES MaxTime=INFINITE State=UP
CONF
}

start() {
  install
  write_conf
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  [ -s /etc/munge/munge.key ] || { dd if=/dev/urandom of=/etc/munge/munge.key bs=128 count=1 2>/dev/null; chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }
  # munged runs as munge, so its PID file lives in munge's own /run/munge.
  runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/ci-munged.pid --force
  for _ in $(seq 50); do [ -s /run/munge/ci-munged.pid ] && break; sleep 0.2; done
  cp /run/munge/ci-munged.pid "$STATE/munged.pid"
  /usr/sbin/slurmctld
  /usr/sbin/slurmd
  for _ in $(seq 120); do
    if sinfo -h -o %t 2>/dev/null | grep -qx idle; then
      echo "slurm: node $(hostname -s) idle"; return 0
    fi
    sleep 1
  done
  echo "slurm: node did not become idle" >&2
  tail -n 20 "$STATE"/log/*.log >&2 || true
  return 1
}

stop() {
  scancel --user=root >/dev/null 2>&1 || true
  for name in slurmd slurmctld munged; do
    local file="$STATE/$name.pid"
    if [ -s "$file" ]; then
      local pid; pid=$(cat "$file")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$file"
    fi
  done
  echo "slurm: stopped"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  status) sinfo || true ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
