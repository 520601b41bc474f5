#!/usr/bin/env bash
# start.sh DIR PORT — run a stock single-process Ironic 21.4 (API + conductor, no RPC bus)
# on 127.0.0.1:PORT with all state in DIR (config, sqlite DB, log, pid, locks, certs).
# Needs install.sh first. Prints the PID on stdout (everything else goes to stderr).
# Overrides: any *.conf in DIR/ironic.conf.d/ is read after DIR/ironic.conf (oslo
# --config-dir), e.g. `[conductor]\nclean_callback_timeout = 30` for a timeout test.
# Stop with stop.sh DIR. Log: DIR/ironic.log (debug on).
set -euo pipefail

[[ $# -eq 2 ]] || { echo "usage: $0 DIR PORT" >&2; exit 2; }
mkdir -p "$1" && DIR=$(cd "$1" && pwd) && PORT=$2
CACHE=${IRONIC_CACHE:-/var/cache/ramdisk-agent-interop}
[[ -f $CACHE/env.sh ]] || { echo "run $(dirname "$0")/install.sh first" >&2; exit 1; }
. "$CACHE/env.sh"
T0=$(date +%s.%N)

if [[ -f $DIR/ironic.pid ]] && kill -0 "$(cat "$DIR/ironic.pid")" 2>/dev/null; then
  echo "ironic already running in $DIR (pid $(cat "$DIR/ironic.pid"))" >&2; exit 1
fi
if "$IRONIC_PY" -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1',$PORT)))"; then
  echo "127.0.0.1:$PORT is already in use" >&2; exit 1
fi
mkdir -p "$DIR"/{locks,certs,httproot,tmp,deploy-logs,ironic.conf.d}

cat >"$DIR/ironic.conf" <<EOF
[DEFAULT]
debug = True
# own file handler: without it oslo.log writes ANSI-coloured lines to stdout
log_file = $DIR/ironic.log
auth_strategy = noauth
# API and conductor in one process (the ironic entry point): no message bus, no json-rpc
rpc_transport = none
# conductor name in the DB (default: the FQDN); fixed so logs are the same everywhere
host = interop-$PORT
state_path = $DIR
tempdir = $DIR/tmp
enabled_hardware_types = fake-hardware
enabled_boot_interfaces = fake
enabled_deploy_interfaces = direct,custom-agent,fake
enabled_power_interfaces = fake
# noop, not fake: FakeManagement supports only boot device "pxe", so direct deploy's
# prepare_instance_boot fails with "Invalid boot device disk specified."
enabled_management_interfaces = noop,fake
enabled_network_interfaces = noop
enabled_storage_interfaces = noop
enabled_raid_interfaces = agent,no-raid,fake
enabled_bios_interfaces = no-bios,fake
enabled_inspect_interfaces = no-inspect,fake
enabled_console_interfaces = no-console,fake
enabled_rescue_interfaces = agent,no-rescue,fake
enabled_vendor_interfaces = no-vendor,fake
# so that POST /v1/nodes {"driver": "fake-hardware"} alone gets the agent-facing set
default_boot_interface = fake
default_deploy_interface = direct
default_management_interface = noop
default_raid_interface = agent
default_rescue_interface = no-rescue

[api]
host_ip = 127.0.0.1
port = $PORT
# handed to the agent in lookup's config.heartbeat_timeout; IPA heartbeats every
# 0.3-0.6 x this (3-6 s) instead of 90-180 s with the default 300
ramdisk_heartbeat_timeout = 10

[conductor]
automated_clean = True
# fake power reads back node.power_state: nothing to sync; 0 disables the periodic
sync_power_state_interval = 0
# how often DEPLOYWAIT/CLEANWAIT callback timeouts are checked (default 60)
check_provision_state_interval = 5
# time allowed since the agent's last heartbeat in *WAIT states (default 1800)
deploy_callback_timeout = 120
clean_callback_timeout = 120
rescue_callback_timeout = 120

[agent]
# 2023.1 default; master defaults to True, which rejects an http:// callback_url
require_tls = False
certificates_path = $DIR/certs
deploy_logs_local_path = $DIR/deploy-logs
# polling of async agent commands (image.install_bootloader): default every 6 s
command_wait_interval = 1
# after standby.power_off the conductor waits (retries+1) x interval for the node to
# power off before forcing it (fake power never goes off by itself): default 6 x 5 s
post_deploy_get_power_state_retries = 2
post_deploy_get_power_state_retry_interval = 1

[deploy]
# required by the direct deploy only for image_download_source=local / config drives
# served by the conductor; nothing listens there unless a test serves DIR/httproot
http_root = $DIR/httproot
http_url = http://127.0.0.1:$((PORT + 1))
# uefi (the default) makes a whole-disk deploy call image.install_bootloader
default_boot_mode = uefi
# erase_devices_priority / erase_devices_metadata_priority: unset = the agent's own
# priorities (erase_devices_metadata 99, erase_devices 10 in IPA)

[dhcp]
dhcp_provider = none

[service_catalog]
# without it deploy.prepare (build_agent_options) and cleaning fail: "Couldn't get the URL
# of the Ironic API service from the configuration file or keystone catalog"
endpoint_override = http://127.0.0.1:$PORT

[nova]
send_power_notifications = False

[database]
connection = sqlite:///$DIR/ironic.sqlite

[oslo_concurrency]
lock_path = $DIR/locks
EOF

run() { "$IRONIC_PY" -c 'import sys; from ironic.cmd.'"$1"' import main; sys.exit(main())' \
        --config-file "$DIR/ironic.conf" --config-dir "$DIR/ironic.conf.d" "${@:2}"; }
[[ -f $DIR/ironic.sqlite ]] || run dbsync create_schema >>"$DIR/ironic.log" 2>&1
# setsid: own session, so the test runner's signals/terminal don't reach it
setsid "$IRONIC_PY" -c 'import sys; from ironic.cmd.singleprocess import main; sys.exit(main())' \
  --config-file "$DIR/ironic.conf" --config-dir "$DIR/ironic.conf.d" \
  >>"$DIR/ironic.log" 2>&1 </dev/null &
PID=$!
echo "$PID" >"$DIR/ironic.pid"

# Ready = the API answers and the conductor has registered fake-hardware (before that,
# POST /v1/nodes fails with "No valid host was found").
if ! "$IRONIC_PY" - "$PORT" "$PID" <<'EOF' >&2; then
import json, os, sys, time, urllib.request
port, pid = sys.argv[1], int(sys.argv[2])
deadline = time.time() + 90
while time.time() < deadline:
    try:  # gone, or a zombie (its parent, this script's shell, has not reaped it yet)
        if open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z":
            raise OSError
    except OSError:
        sys.exit("ironic exited during start-up")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/drivers", timeout=2) as r:
            if any(d["name"] == "fake-hardware" for d in json.load(r)["drivers"]):
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.2)
sys.exit("ironic did not become ready in 90 s")
EOF
  tail -n 30 "$DIR/ironic.log" >&2
  kill "$PID" 2>/dev/null || true
  exit 1
fi
awk -v a="$T0" -v b="$(date +%s.%N)" -v d="$DIR" -v p="$PORT" \
  'BEGIN{printf "ironic ready on http://127.0.0.1:%s in %.1f s (state %s)\n", p, b-a, d}' >&2
echo "$PID"
