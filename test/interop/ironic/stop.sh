#!/usr/bin/env bash
# stop.sh DIR — stop the ironic that start.sh DIR PORT started (SIGTERM, then SIGKILL
# after 15 s). Leaves DIR (config, DB, log) in place. Exit 0 if nothing was running.
set -euo pipefail

[[ $# -eq 1 ]] || { echo "usage: $0 DIR" >&2; exit 2; }
DIR=$(cd "$1" && pwd)
PIDFILE=$DIR/ironic.pid
[[ -f $PIDFILE ]] || exit 0
PID=$(cat "$PIDFILE")
# only our process: the pid may have been reused since
if tr '\0' ' ' <"/proc/$PID/cmdline" 2>/dev/null | grep -qF -- "$DIR/ironic.conf"; then
  kill -TERM "$PID"
  for _ in $(seq 150); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$PID" 2>/dev/null; then echo "ironic $PID ignored SIGTERM; killing" >&2; kill -KILL "$PID"; fi
fi
rm -f "$PIDFILE"
