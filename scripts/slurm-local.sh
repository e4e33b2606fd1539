#!/usr/bin/env bash
# scripts/slurm-local.sh start|stop|status: a real two-node Slurm on this
# machine, for the Slurm executor's tests, benchmarks and the local Table 2
# run (see README: Running on a Slurm cluster, and
# ../shared/notes/scale-out.md).
#
# One slurmctld and two slurmd "nodes" (n1, n2, 2 CPUs each) on loopback,
# authenticated by munge; Debian's slurm-wlm and munge, installed with
# apt-get when missing (root). Everything lives in a folder of its own,
# $SLURM_LOCAL_DIR (default /tmp/postergenre-slurm): slurm.conf, state,
# spools, logs, pid files and the job-completion log (jobcomp/filetxt,
# which `sacct` reads without a slurmdbd). Ports 16817 (slurmctld), 17001
# and 17002 (slurmd), chosen because nothing else here uses them
# (SLURM_LOCAL_PORT_BASE moves all three).
#
# Idempotent: start with everything up only prints the status; stop stops
# only the daemons whose pid files this script wrote, by pid. Commands
# then need `export SLURM_CONF=$SLURM_LOCAL_DIR/slurm.conf` (start prints it).
#
# Exit codes: 0 ok · 1 could not start (logs printed) · 2 usage, or not
# root / no apt-get to install with · 3 (status) not running.
set -euo pipefail
DIR="${SLURM_LOCAL_DIR:-/tmp/postergenre-slurm}"
BASE="${SLURM_LOCAL_PORT_BASE:-16817}"
CTLD_PORT="$BASE"
N1_PORT=$((BASE + 184)) # 17001 by default
N2_PORT=$((BASE + 185))
CONF="$DIR/slurm.conf"
export SLURM_CONF="$CONF"

usage() { echo "usage: $0 start|stop|status" >&2; exit 2; }

alive() { [ -s "$1" ] && kill -0 "$(cat "$1" 2>/dev/null)" 2>/dev/null; }

install() {
	command -v slurmctld >/dev/null && command -v munged >/dev/null && command -v sbatch >/dev/null && return 0
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
		echo "slurm-local: slurm-wlm and munge are not installed, and installing them needs root and apt-get" >&2
		exit 2
	fi
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends slurm-wlm munge
}

# munge: reuse a munged that answers (the system's), else start our own.
start_munge() {
	if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
		return 0
	fi
	mkdir -p /run/munge /var/log/munge /var/lib/munge /etc/munge
	chown munge:munge /run/munge /var/log/munge /var/lib/munge
	[ -s /etc/munge/munge.key ] || runuser -u munge -- /usr/sbin/mungekey --create
	# munged writes its pid file as its own user, into a folder it owns.
	mkdir -p "$DIR/munge"
	chown munge:munge "$DIR/munge"
	runuser -u munge -- /usr/sbin/munged --pid-file="$DIR/munge/munged.pid"
	for _ in $(seq 50); do [ -s "$DIR/munge/munged.pid" ] && break; sleep 0.1; done
	cat "$DIR/munge/munged.pid" >"$DIR/munged.pid"
}

write_conf() {
	local host
	host="$(hostname -s)"
	mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
	cat >"$CONF.tmp" <<EOF
# Written by scripts/slurm-local.sh: a two-node Slurm on loopback for tests.
ClusterName=postergenre
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/%n
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd-%n.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
# scrontab (Slurm's cron) for the nightly rebuild.
ScronParameters=enable
# Requeue on node failure; a cancelled or timed-out task is the submitter's.
JobRequeue=1
# Finished jobs stay visible to squeue/scontrol for 10 minutes; a
# cancelled task's processes get 10 s between SIGTERM and SIGKILL.
MinJobAge=600
KillWait=10
SchedulerParameters=sched_interval=1
NodeName=n1 NodeHostname=$host NodeAddr=127.0.0.1 Port=$N1_PORT CPUs=2 State=UNKNOWN
NodeName=n2 NodeHostname=$host NodeAddr=127.0.0.1 Port=$N2_PORT CPUs=2 State=UNKNOWN
PartitionName=ci Nodes=n1,n2 Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
	mv "$CONF.tmp" "$CONF"
}

status() {
	local ok=0
	for p in slurmctld slurmd-n1 slurmd-n2; do
		if alive "$DIR/$p.pid"; then echo "$p: running (pid $(cat "$DIR/$p.pid"))"; else echo "$p: stopped"; ok=3; fi
	done
	if [ "$ok" = 0 ]; then
		sinfo -h -o '%P %D %t %N' || ok=3
		echo "export SLURM_CONF=$CONF"
	fi
	return "$ok"
}

start() {
	install
	mkdir -p "$DIR"
	if alive "$DIR/slurmctld.pid" && alive "$DIR/slurmd-n1.pid" && alive "$DIR/slurmd-n2.pid"; then
		status
		return 0
	fi
	start_munge
	write_conf
	alive "$DIR/slurmctld.pid" || slurmctld -f "$CONF"
	for n in n1 n2; do
		alive "$DIR/slurmd-$n.pid" || slurmd -f "$CONF" -N "$n"
	done
	for _ in $(seq 100); do
		if [ "$(sinfo -h -t idle,mixed,alloc -o %D 2>/dev/null | paste -sd+ | bc 2>/dev/null || echo 0)" = 2 ]; then
			# A node left down by an earlier, killed cluster comes back.
			scontrol update nodename=n1,n2 state=resume >/dev/null 2>&1 || true
			status
			return 0
		fi
		scontrol update nodename=n1,n2 state=resume >/dev/null 2>&1 || true
		sleep 0.2
	done
	echo "slurm-local: the two nodes did not come up in 20 s" >&2
	tail -n 20 "$DIR/log/"*.log >&2 || true
	exit 1
}

stop() {
	for p in slurmd-n1 slurmd-n2 slurmctld munged; do
		local f="$DIR/$p.pid"
		# Another cluster (another SLURM_LOCAL_DIR) that found our munged
		# running reuses it: it stays up for them.
		if [ "$p" = munged ] && alive "$f" && pgrep -x 'slurmctld|slurmd' >/dev/null; then
			echo "slurm-local: munged (pid $(cat "$f")) left running: another cluster's daemons use it"
			rm -f "$f"
			continue
		fi
		if alive "$f"; then
			kill "$(cat "$f")"
			for _ in $(seq 50); do alive "$f" || break; sleep 0.1; done
		fi
		rm -f "$f"
	done
	echo "slurm-local: stopped"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
*) usage ;;
esac
