#!/usr/bin/env bash
# A real one-node Slurm on this machine, for the job runner's tests and CI:
#   scripts/slurm.sh start    install nothing, configure and start munge, slurmctld and slurmd (idempotent)
#   scripts/slurm.sh stop     stop them
#   scripts/slurm.sh status   print the partition's state
# Needs root (munged runs as user munge, the Slurm daemons as root) and Debian's slurm-wlm and munge
# (the Makefile's setup installs them). The configuration is written to /etc/slurm/slurm.conf, and only
# over a file this script wrote (it carries the marker below).
set -euo pipefail

MARKER="# written by jupyterlab_raydata scripts/slurm.sh"
CONF=/etc/slurm/slurm.conf
STATE=/var/spool/raydata-slurm
LOGS=/var/log/raydata-slurm

need_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "scripts/slurm.sh must run as root (it starts munged and the Slurm daemons)" >&2
    exit 1
  fi
  for cmd in munged slurmctld slurmd sinfo; do
    if ! command -v "$cmd" >/dev/null; then
      echo "scripts/slurm.sh: '$cmd' is missing; install Debian's slurm-wlm and munge (make setup does)" >&2
      exit 1
    fi
  done
}

running() { pgrep -x "$1" >/dev/null; }

write_conf() {
  if [ -f "$CONF" ] && ! grep -qF "$MARKER" "$CONF"; then
    echo "scripts/slurm.sh: $CONF exists and was not written by this script; leaving it alone" >&2
    return
  fi
  local host node
  host=$(hostname -s)
  # slurmd -C describes this machine (CPUs, sockets, memory) in slurm.conf syntax.
  node=$(slurmd -C | head -n 1)
  mkdir -p /etc/slurm "$STATE/ctld" "$STATE/d" "$LOGS"
  cat >"$CONF" <<CONF
$MARKER
ClusterName=raydata
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
$node State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
}

start_munge() {
  if running munged; then return; fi
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
  fi
  chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge
  chmod 0700 /etc/munge
  chmod 0400 /etc/munge/munge.key
  runuser -u munge -- /usr/sbin/munged
}

wait_idle() {
  for _ in $(seq 1 60); do
    state=$(sinfo -h -o %T 2>/dev/null | head -n 1 || true)
    case "$state" in
      idle* | mixed* | allocated*) return 0 ;;
    esac
    sleep 0.5
  done
  echo "scripts/slurm.sh: the node did not become idle (sinfo says '${state:-nothing}'); see $LOGS" >&2
  exit 1
}

start() {
  need_root
  write_conf
  start_munge
  running slurmctld || slurmctld
  running slurmd || slurmd
  wait_idle
  # A node that was down when the controller last ran comes back here.
  scontrol update nodename="$(hostname -s)" state=resume >/dev/null 2>&1 || true
  wait_idle
  echo "Slurm is up: $(sinfo -h -o '%P %D node(s) %T')"
}

stop() {
  scancel --full --signal=KILL --user=root >/dev/null 2>&1 || true
  pkill -x slurmd || true
  pkill -x slurmctld || true
  pkill -x munged || true
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) sinfo ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
