#!/usr/bin/env bash
# A one-node SLURM cluster for CI (Debian's slurm 22.05, munge, slurmdbd on a local MariaDB), run as root
# without systemd or cgroups. Idempotent: `start` installs what is missing, writes the config, starts what
# is not running and checks with a real srun; `stop` cancels the jobs and stops the daemons by their PID
# files; `status` says what runs. Every failure is one sentence, then the tail of the daemon's log.
#   .ci/slurm.sh start|stop|status
set -euo pipefail

CONF=/etc/slurm/slurm.conf
DBD_CONF=/etc/slurm/slurmdbd.conf
MARK="# Written by aelab's .ci/slurm.sh"
LOGS=/var/log/slurm
CLUSTER=aelab
PACKAGES=(slurmctld slurmd slurm-client munge slurmdbd mariadb-server)
# The daemons, as `status` lists them; each has a PID file and a log.
DAEMONS=(slurmd slurmctld slurmdbd mariadbd munged)
declare -A PIDFILE=(
  [munged]=/run/munge/munged.pid [mariadbd]=/run/mysqld/mysqld.pid [slurmdbd]=/run/slurmdbd.pid
  [slurmctld]=/run/slurmctld.pid [slurmd]=/run/slurmd.pid
)
declare -A LOG=(
  [munged]=/var/log/munge/munged.log [mariadbd]=/var/log/mysql/error.log [slurmdbd]=$LOGS/slurmdbd.log
  [slurmctld]=$LOGS/slurmctld.log [slurmd]=$LOGS/slurmd.log
)

fail() {  # fail "sentence" [log file]
  echo "slurm.sh: $1" >&2
  if [[ -n "${2:-}" && -f "$2" ]]; then
    echo "--- last lines of $2:" >&2
    tail -n 15 "$2" >&2
  fi
  exit 1
}

running() {  # running DAEMON: its PID file names a live process of that name (not a stale file's reused PID)
  local pid
  pid=$(cat "${PIDFILE[$1]}" 2>/dev/null) || return 1
  [[ -n "$pid" && "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$1" ]] && ! grep -q '^State:.*zombie' "/proc/$pid/status"
}

gone() {  # gone PID: the process has ended (a zombie that nobody reaps counts as ended)
  ! kill -0 "$1" 2>/dev/null || grep -q '^State:.*zombie' "/proc/$1/status" 2>/dev/null
}

wait_for() {  # wait_for SECONDS COMMAND...: retry COMMAND every half second
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

install_missing() {
  local missing=()
  for tool in slurmctld slurmd sbatch sacct munged slurmdbd mariadbd; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  ((${#missing[@]} == 0)) && return
  echo "slurm.sh: installing ${PACKAGES[*]} (missing: ${missing[*]})"
  apt-get update -qq >/tmp/slurm-apt.log 2>&1 || fail "apt-get update failed: check the package sources." /tmp/slurm-apt.log
  # Package scripts start no daemon here (policy-rc.d refuses, there is no systemd): this script starts them.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" \
    >>/tmp/slurm-apt.log 2>&1 || fail "apt-get install of ${PACKAGES[*]} failed." /tmp/slurm-apt.log
}

write_config() {
  if [[ -f $CONF ]] && ! grep -qF "$MARK" $CONF; then
    fail "$CONF was not written by this script: this machine has a SLURM of its own, which this script leaves alone."
  fi
  local host node
  host=$(hostname -s)
  getent hosts "$host" >/dev/null || echo "127.0.0.1 $host" >>/etc/hosts  # slurmd must resolve its own name
  node=$(slurmd -C | head -n 1)  # NodeName=<host> CPUs=... RealMemory=...: the node as slurmd sees it
  mkdir -p /etc/slurm $LOGS /var/spool/slurmctld /var/spool/slurmd
  cat >$CONF.new <<EOF
$MARK: a one-node cluster for aelab's tests.
ClusterName=$CLUSTER
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# A requeued job waits for its credential to expire (120 s by default) and the next scheduler pass (60 s):
# with these, requeue to running again takes about 7 s.
AuthInfo=cred_expire=5
SchedulerParameters=sched_interval=2
# No cgroups here: processes tracked by their parent, no CPU binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
ReturnToService=2
MailProg=/bin/true
JobAcctGatherType=jobacct_gather/none
# Accounting: sacct, with which submitit tells that a job died without writing its result.
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobCompType=jobcomp/none
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=${PIDFILE[slurmctld]}
SlurmdPidFile=${PIDFILE[slurmd]}
SlurmctldLogFile=${LOG[slurmctld]}
SlurmdLogFile=${LOG[slurmd]}
$node State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  cat >$DBD_CONF.new <<EOF
$MARK.
DbdHost=localhost
SlurmUser=root
AuthType=auth/munge
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
PidFile=${PIDFILE[slurmdbd]}
LogFile=${LOG[slurmdbd]}
EOF
  chmod 600 $DBD_CONF.new
  mv $CONF.new $CONF
  mv $DBD_CONF.new $DBD_CONF
}

start_munged() {
  running munged && return
  mkdir -p /run/munge /var/log/munge
  chown munge:munge /run/munge /var/log/munge
  [[ -f /etc/munge/munge.key ]] || runuser -u munge -- mungekey --create >/dev/null
  runuser -u munge -- /usr/sbin/munged || fail "munged did not start." "${LOG[munged]}"
  wait_for 10 bash -c 'munge -n | unmunge' || fail "munge cannot encode and decode a credential." "${LOG[munged]}"
}

start_mariadbd() {
  if ! running mariadbd; then
    mkdir -p /run/mysqld /var/log/mysql
    chown mysql:mysql /run/mysqld /var/log/mysql
    [[ -d /var/lib/mysql/mysql ]] || mariadb-install-db --user=mysql >/dev/null
    # Only slurmdbd talks to it, on this machine.
    setsid mariadbd --user=mysql --bind-address=127.0.0.1 --pid-file="${PIDFILE[mariadbd]}" \
      --log-error="${LOG[mariadbd]}" --innodb-buffer-pool-size=32M </dev/null >/dev/null 2>&1 &
    wait_for 30 mariadb-admin ping || fail "MariaDB did not answer within 30 s." "${LOG[mariadbd]}"
  fi
  mariadb -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';" ||
    fail "MariaDB refused to create the accounting database." "${LOG[mariadbd]}"
}

start_slurmdbd() {
  if ! running slurmdbd; then
    slurmdbd || fail "slurmdbd did not start." "${LOG[slurmdbd]}"
  fi
  wait_for 30 sacctmgr -n list cluster || fail "slurmdbd did not answer within 30 s." "${LOG[slurmdbd]}"
  if [[ -z $(sacctmgr -n -P list cluster "$CLUSTER" format=cluster) ]]; then
    sacctmgr -i add cluster "$CLUSTER" >/dev/null || fail "slurmdbd did not register the cluster." "${LOG[slurmdbd]}"
  fi
}

node_idle() { sinfo -h -o %T | grep -qx idle; }

start_slurm() {
  if ! running slurmctld; then
    slurmctld || fail "slurmctld did not start." "${LOG[slurmctld]}"
  fi
  if ! running slurmd; then
    slurmd || fail "slurmd did not start." "${LOG[slurmd]}"
  fi
  wait_for 30 node_idle || fail "the node did not come up idle within 30 s (sinfo: $(sinfo -h -o '%T %E' 2>&1))." \
    "${LOG[slurmctld]}"
}

check_srun() {
  local out
  out=$(timeout 60 srun -N1 -n1 -t 1 hostname 2>&1) ||
    fail "a one-task srun did not run within 60 s: ${out//$'\n'/ }" "${LOG[slurmd]}"
  sacct -n -X >/dev/null 2>&1 || fail "sacct does not answer: accounting is not working." "${LOG[slurmdbd]}"
}

start() {
  [[ $EUID -eq 0 ]] || fail "run this as root: it installs packages and starts system daemons."
  install_missing
  write_config
  start_munged
  start_mariadbd
  start_slurmdbd
  start_slurm
  check_srun
  echo "slurm.sh: cluster $CLUSTER is up in ${SECONDS} s ($(sinfo -h -o '%D node, %c CPUs, %m MB' | head -n 1))."
}

stop_daemons() {  # stop_daemons DAEMON...: TERM to all at once, KILL to those still alive after 15 s
  local pids=() pid
  for daemon in "$@"; do
    running "$daemon" && pids+=("$(cat "${PIDFILE[$daemon]}")")
  done
  ((${#pids[@]} == 0)) && return
  kill "${pids[@]}" 2>/dev/null || true
  for pid in "${pids[@]}"; do
    wait_for 15 gone "$pid" || kill -9 "$pid" 2>/dev/null || true
  done
  for daemon in "$@"; do
    rm -f "${PIDFILE[$daemon]}"
  done
}

stop() {
  if running slurmctld; then  # jobs first, so no job's processes outlive the cluster
    scancel --full --quiet --user=root 2>/dev/null || true
    wait_for 30 bash -c '[[ -z $(squeue -h -o %i) ]]' || echo "slurm.sh: jobs still listed after 30 s." >&2
  fi
  stop_daemons slurmd slurmctld slurmdbd  # the daemons of SLURM, then what they use
  stop_daemons mariadbd munged
  echo "slurm.sh: stopped."
}

status() {
  local down=0
  for daemon in "${DAEMONS[@]}"; do
    if running "$daemon"; then
      echo "$daemon: running (pid $(cat "${PIDFILE[$daemon]}"))"
    else
      echo "$daemon: not running"
      down=1
    fi
  done
  ((down == 0)) && sinfo -h -o "node %N: %T, %c CPUs, %m MB" && squeue -h
  return $down
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) fail "usage: .ci/slurm.sh start|stop|status" ;;
esac
