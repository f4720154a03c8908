# A real single-node Slurm (Debian's slurmctld, slurmd, munge) under a scratch dir, for the
# e2e tests of Ladle on Slurm (sourced after tests/e2e/lib.sh, which gives $work and cleanup).
#   start_slurm   writes slurm.conf under $work/slurm, starts munged, slurmctld and slurmd
#                 as this user (root: slurmd must be), exports SLURM_CONF, waits for the node
#   stop_slurm    stops them (also on exit)
#   slurm_usable  exit 77 (ctest: skipped) where a test cannot run Slurm: not root, no daemons
slurm_usable() {
  local b
  for b in munged slurmctld slurmd sbatch squeue scancel sinfo scontrol; do
    command -v "$b" > /dev/null || { echo "skip: $b not installed (scripts/install-deps.sh)"; exit 77; }
  done
  [ "$(id -u)" -eq 0 ] || { echo "skip: slurmd runs as root and this is uid $(id -u)"; exit 77; }
}

start_slurm() {
  local s="$work/slurm" host mem
  mkdir -p "$s/state" "$s/spool" "$s/log"
  head -c 1024 /dev/urandom > "$s/munge.key"
  chmod 400 "$s/munge.key"
  munged -f --socket="$s/munge.sock" --key-file="$s/munge.key" --log-file="$s/log/munged.log" \
    --pid-file="$s/munged.pid" --seed-file="$s/munged.seed" || return 1
  host=$(hostname -s)
  mem=$(awk '/MemTotal/ {print int($2 / 1024) - 2048}' /proc/meminfo)
  cat > "$s/slurm.conf" <<CONF
ClusterName=ladletest
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
AuthType=auth/munge
AuthInfo=socket=$s/munge.sock
CredType=cred/munge
StateSaveLocation=$s/state
SlurmdSpoolDir=$s/spool
SlurmctldPidFile=$s/slurmctld.pid
SlurmdPidFile=$s/slurmd.pid
SlurmctldLogFile=$s/log/slurmctld.log
SlurmdLogFile=$s/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=30
KillWait=5
NodeName=$host CPUs=$(nproc) RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF="$s/slurm.conf"
  slurmctld -f "$SLURM_CONF" || return 1
  slurmd -f "$SLURM_CONF" || return 1
  trap 'stop_slurm; cleanup' EXIT
  node_idle() { sinfo --noheader -o %t 2> /dev/null | grep -q idle; }
  wait_for 30 node_idle
}

stop_slurm() {
  [ -n "${SLURM_CONF:-}" ] || return 0
  scontrol shutdown > /dev/null 2>&1
  local s="$work/slurm" f
  sleep 1
  for f in slurmd slurmctld munged; do
    [ -f "$s/$f.pid" ] && kill -9 "$(cat "$s/$f.pid")" 2> /dev/null
  done
  return 0
}

# start_ladle_on_slurm BIN MAX_PILOTS IDLE_GRACE_S PILOT_CPUS: a coordinator with tokens and no
# workers (LADLE_ADDR exported; tokens: admin-token-..., alice-token-... (user alice),
# worker-token-...) and ladle-slurm with one CPU pilot type (rounds every 0.5 s; metrics on
# $slurm_metrics). Logs: $work/server.log, $work/ladle-slurm.log.
start_ladle_on_slurm() {
  local bin=$1 max=$2 grace=$3 cpus=$4
  cat > "$work/tokens" <<'T'
admin-token-0123456789abcdef admin   autoscaler
alice-token-0123456789abcdef user    alice
worker-token-0123456789abcde worker
T
  echo worker-token-0123456789abcde > "$work/worker_token"
  echo admin-token-0123456789abcdef > "$work/admin_token"
  export LADLE_ADDR="127.0.0.1:$(free_port)"
  "$bin/ladle-server" --listen="$LADLE_ADDR" --data_dir="$work/data" --token_file="$work/tokens" \
    --metrics_listen="127.0.0.1:$(free_port)" --lease_ms=5000 --heartbeat_ms=1000 \
    > "$work/server.log" 2>&1 &
  pids+=($!); disown $!
  server_up() { LADLE_TOKEN=admin-token-0123456789abcdef "$bin/ladle" list > /dev/null 2>&1; }
  wait_for 20 server_up || { cat "$work/server.log"; return 1; }
  cat > "$work/slurm.yaml" <<YAML
coordinator: $LADLE_ADDR
token_file: $work/admin_token
worker_token_file: $work/worker_token
worker: $bin/ladle-worker
work_dir: $work/pilots
max_pilots: $max
idle_grace_seconds: $grace
pilots:
  - {name: cpu, cpus: $cpus}
YAML
  slurm_metrics=$(free_port)
  "$bin/ladle-slurm" --config="$work/slurm.yaml" --interval_ms=500 \
    --metrics_listen="127.0.0.1:$slurm_metrics" > "$work/ladle-slurm.log" 2>&1 &
  pids+=($!); disown $!
  sleep 0.5
  kill -0 "${pids[-1]}" 2> /dev/null || { cat "$work/ladle-slurm.log"; return 1; }
}
