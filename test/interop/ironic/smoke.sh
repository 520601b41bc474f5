#!/usr/bin/env bash
# smoke.sh [PORT] [AGENT_PORT] — end-to-end check of a stock conductor driving a fake
# agent, with plain curl against the REST API. Starts ironic in a fresh /tmp DIR (kept
# afterwards for inspection), enrolls a fake-hardware node + port, then:
#   round "none":   provide -> automated cleaning; agent reports no clean steps
#   round "ipa":    manage, provide again; agent reports erase_devices_metadata(99) and
#                   erase_devices(10), each run async (RUNNING -> SUCCEEDED after 1 s)
#   round "deploy": direct deploy of a whole-disk image served by the listener
# The "agent" is smoke.sh itself (lookup, heartbeats every 0.5 s) plus agent_listener.py
# on 127.0.0.1:AGENT_PORT; per round it prints the timeline of both directions.
# Stops everything it started. Exit 0 = all expectations met.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
PORT=${1:-6385} AGENT_PORT=${2:-9999}
MAC=52:54:00:12:34:56
DIR=$(mktemp -d /tmp/ironic-smoke.XXXXXX)
API=http://127.0.0.1:$PORT
LPID=
cleanup() {
  if [[ -n $LPID ]]; then kill "$LPID" 2>/dev/null || true; fi
  "$HERE/stop.sh" "$DIR"
}
trap cleanup EXIT
. "${IRONIC_CACHE:-/var/cache/ramdisk-agent-interop}/env.sh"

"$HERE/start.sh" "$DIR" "$PORT" >/dev/null
VER=$(curl -sf "$API/" | jq -r '.default_version.version')   # max microversion: 1.82 on 21.4
H=(-H "X-OpenStack-Ironic-API-Version: $VER" -H 'Content-Type: application/json')
say() { printf '\n== %s\n' "$*"; }
fail() { echo "SMOKE FAILED: $*" >&2; grep -E ' (ERROR|WARNING) ' "$DIR/ironic.log" | tail -n 20 | cut -c1-600 >&2; exit 1; }
mark() {  # add an agent->conductor event to the round's timeline
  [[ -n ${LOG:-} ]] && printf '{"t": %s, "method": "->", "path": "%s", "code": %s}\n' "$(date +%s.%N)" "$1" "$2" >>"$LOG"
  return 0
}
api() {  # api METHOD PATH [JSON]: sets CODE and BODY, prints a one-line summary
  local out
  out=$(curl -s -w '\n%{http_code}' -X "$1" "${H[@]}" "$API$2" ${3:+-d "$3"})
  CODE=${out##*$'\n'} BODY=${out%$'\n'*}
  printf '%s %s -> %s %s\n' "$1" "$2" "$CODE" "$(jq -c . <<<"$BODY" 2>/dev/null || echo "$BODY")" | cut -c1-300
}
expect() { [[ $CODE == "$1" ]] || fail "expected HTTP $1, got $CODE"; }
state() { curl -s "${H[@]}" "$API/v1/nodes/$NODE" | jq -r .provision_state; }
heartbeat() {
  api POST "/v1/heartbeat/$NODE" "{\"callback_url\": \"http://127.0.0.1:$AGENT_PORT\", \"agent_token\": \"$TOKEN\", \"agent_version\": \"9.4.0\"}"
  mark "POST /v1/heartbeat" "$CODE"
}
wait_state() {  # wait_state STATE [SECONDS]; heartbeats every 0.5 s when HB=1
  local end=$((SECONDS + ${2:-60})) s
  while s=$(state); [[ $s != "$1" ]]; do
    ((SECONDS < end)) || fail "node in '$s', expected '$1'"
    [[ -n ${HB:-} ]] && heartbeat >/dev/null
    sleep 0.5
  done
}
lookup() {  # first lookup of a boot: must reveal a fresh 43-char token
  api GET "/v1/lookup?addresses=$MAC"; expect 200; mark "GET /v1/lookup" "$CODE"
  TOKEN=$(jq -r .config.agent_token <<<"$BODY")
  [[ ${#TOKEN} -eq 43 ]] || fail "no fresh token in lookup"
}
listener() {  # listener ROUND STEPS: (re)start the fake agent API: an agent (re)boot
  LOG=$DIR/agent-$1.jsonl
  "$IRONIC_PY" "$HERE/agent_listener.py" "$AGENT_PORT" "$LOG" --steps "$2" --lifetime 120 &
  LPID=$!
  until curl -s "http://127.0.0.1:$AGENT_PORT/v1/commands/" >/dev/null; do sleep 0.1; done
  : >"$LOG"
}
timeline() {  # print the round's events relative to the first one; token elided
  say "timeline of round '$1' (s, direction, request, command, step)"
  jq -rs '(.[0].t) as $b | .[] | [((.t - $b) * 100 | round / 100 | tostring),
      (if .method == "->" then "agent->ironic" else "ironic->agent" end),
      (if .method == "->" then .path + " " + (.code|tostring)
       else .method + " " + (.path | sub("agent_token=[^&]+"; "agent_token=<token>")) end),
      (.body.name // ""), (.body.params.step.step // "")] | join("  ")' "$DIR/agent-$1.jsonl"
  kill "$LPID"; wait "$LPID" 2>/dev/null || true; LPID=
}

say "API $API, microversion $VER, state in $DIR"
api POST /v1/nodes '{"name": "smoke-0", "driver": "fake-hardware", "boot_interface": "fake",
  "deploy_interface": "direct", "power_interface": "fake", "management_interface": "noop",
  "network_interface": "noop", "storage_interface": "noop", "raid_interface": "agent",
  "bios_interface": "no-bios", "inspect_interface": "no-inspect", "vendor_interface": "no-vendor"}'
expect 201; NODE=$(jq -r .uuid <<<"$BODY")
api POST /v1/ports "{\"node_uuid\": \"$NODE\", \"address\": \"$MAC\"}"; expect 201
api GET "/v1/lookup?addresses=$MAC"; expect 404        # enroll: lookup not allowed
api PUT "/v1/nodes/$NODE/states/provision" '{"target": "manage"}'; expect 202
wait_state manageable
api GET "/v1/lookup?addresses=$MAC"; expect 404        # manageable: still not allowed

for round in none ipa; do
  say "round '$round': provide -> automated cleaning"
  listener "$round" "$round"
  api PUT "/v1/nodes/$NODE/states/provision" '{"target": "provide"}'; expect 202
  wait_state "clean wait"
  lookup
  [[ $round == none ]] && jq '{config, node_keys: (.node | keys)}' <<<"$BODY"
  api GET "/v1/lookup?addresses=$MAC"; expect 200       # second lookup: token masked
  [[ $(jq -r .config.agent_token <<<"$BODY") == '******' ]] || fail "token not masked"
  heartbeat; expect 202
  HB=1 wait_state available 60
  api GET "/v1/nodes/$NODE" >/dev/null
  jq -c '{provision_state, power_state, last_error}' <<<"$BODY"
  timeline "$round"
  [[ $round == none ]] && { api PUT "/v1/nodes/$NODE/states/provision" '{"target": "manage"}'; expect 202; wait_state manageable; }
done

say "round 'deploy': direct deploy of http://127.0.0.1:$AGENT_PORT/image.raw"
listener deploy none
api PATCH "/v1/nodes/$NODE" "[{\"op\": \"add\", \"path\": \"/instance_info\", \"value\": {
  \"image_source\": \"http://127.0.0.1:$AGENT_PORT/image.raw\", \"image_os_hash_algo\": \"sha256\",
  \"image_os_hash_value\": \"30e14955ebf1352266dc2ff8067e68104607e750abb9d3b36582b8af909fcb58\"}}]"
expect 200
api GET "/v1/nodes/$NODE/validate" >/dev/null
jq -c 'with_entries(.value |= (.result | tostring))' <<<"$BODY"
api PUT "/v1/nodes/$NODE/states/provision" '{"target": "active"}'; expect 202
wait_state "wait call-back"
lookup
heartbeat; expect 202
HB=1 wait_state active 90
api GET "/v1/nodes/$NODE" >/dev/null
jq -c '{provision_state, power_state, last_error}' <<<"$BODY"
timeline deploy

say "heartbeat with the deploy's token after the deploy (token wiped)"
heartbeat; expect 400
say "SMOKE OK (state and logs kept in $DIR)"
