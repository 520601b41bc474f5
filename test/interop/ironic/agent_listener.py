#!/usr/bin/env python3
"""Tiny stand-in for an agent's API (IPA's /v1/commands/), used by smoke.sh to see
exactly what a real conductor sends after a heartbeat. Stdlib only; 127.0.0.1 only.

Usage: agent_listener.py PORT LOGFILE [--steps none|ipa] [--lifetime SECONDS]
  Every request is appended to LOGFILE as one JSON line {t (epoch), method, path, headers, body}.
  --steps none: clean.get_clean_steps answers an empty step list (default).
  --steps ipa:  answers IPA's two automated-clean steps (erase_devices_metadata 99,
                erase_devices 10).
  Async commands (execute_*_step, image.install_bootloader, standby.power_off) answer
  RUNNING, then turn SUCCEEDED 1 s later in GET /v1/commands/, as IPA's do. Sync ones
  (get_*_steps, get_partition_uuids, anything else) answer SUCCEEDED at once.
  GET/HEAD /image.raw serves a 1 MiB zero image (sha256 30e14955...) for deploys.
  Exits by itself after --lifetime seconds (default 300).
"""
import argparse
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("port", type=int)
ap.add_argument("logfile")
ap.add_argument("--steps", choices=["none", "ipa"], default="none")
ap.add_argument("--no-deploy-steps", action="store_true",
                help="answer get_deploy_steps with no steps (reproduces the hang below)")
ap.add_argument("--lifetime", type=float, default=300)
args = ap.parse_args()

# IPA 9.4 (2023.1) GenericHardwareManager's automated-clean steps
IPA_STEPS = [
    {"step": "erase_devices_metadata", "priority": 99, "interface": "deploy",
     "reboot_requested": False, "abortable": True},
    {"step": "erase_devices", "priority": 10, "interface": "deploy",
     "reboot_requested": False, "abortable": True},
]
# IPA 9.4's deploy steps, all at priority 0 (the conductor's own write_image proxies the
# in-band one). Must not be empty: a 2023.1 conductor re-runs get_deploy_steps on every
# DEPLOYWAIT heartbeat while agent_cached_deploy_steps is empty, so that command becomes
# the agent's last one, hides the execute_deploy_step result, and the deploy hangs in
# "wait call-back" for ever (each heartbeat also resets the callback timeout).
IPA_DEPLOY_STEPS = [
    {"step": "erase_devices_metadata", "priority": 0, "interface": "deploy",
     "reboot_requested": False},
    {"step": "write_image", "priority": 0, "interface": "deploy", "reboot_requested": False},
]
HW_VERSION = {"generic_hardware_manager": "1.1"}
IMAGE = bytes(1024 * 1024)
ASYNC = {"clean.execute_clean_step": "clean", "deploy.execute_deploy_step": "deploy",
         "image.install_bootloader": None, "standby.power_off": None}
commands = []  # oldest first, as IPA's GET /v1/commands/ lists them
lock = threading.Lock()


def command(name, status="SUCCEEDED", result=None):
    return {"id": str(uuid.uuid4()), "command_name": name, "command_status": status,
            "command_result": result, "command_error": None}


def finish_later(cmd, result):
    def done():
        with lock:
            cmd["command_status"], cmd["command_result"] = "SUCCEEDED", result
    threading.Timer(1.0, done).start()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):  # quiet: LOGFILE is the record
        pass

    def reply(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def record(self, body):
        with open(args.logfile, "a") as f:
            f.write(json.dumps({"t": round(time.time(), 3), "method": self.command,
                                "path": self.path, "headers": dict(self.headers),
                                "body": body}) + "\n")

    def do_GET(self, head=False):
        self.record(None)
        if self.path.split("?")[0] == "/v1/commands/":
            with lock:
                return self.reply(200, {"commands": commands})
        if self.path == "/image.raw":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(IMAGE)))
            self.end_headers()
            return None if head else self.wfile.write(IMAGE)
        self.reply(404, {"faultstring": "not found"})

    def do_HEAD(self):
        self.do_GET(head=True)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(n) or b"null")
        self.record(body)
        if self.path.split("?")[0] != "/v1/commands/":
            return self.reply(404, {"faultstring": "not found"})
        name, params = body["name"], body.get("params") or {}
        short = name.split(".", 1)[1]
        with lock:
            if any(c["command_status"] == "RUNNING" for c in commands):
                return self.reply(409, {"faultstring": "Agent is busy", "type": "AgentIsBusy"})
            if name == "clean.get_clean_steps":
                steps = IPA_STEPS if args.steps == "ipa" else []
                cmd = command(short, result={"clean_steps": {"GenericHardwareManager": steps},
                                             "hardware_manager_version": HW_VERSION})
            elif name == "deploy.get_deploy_steps":
                steps = [] if args.no_deploy_steps else IPA_DEPLOY_STEPS
                cmd = command(short, result={"deploy_steps": {"GenericHardwareManager": steps},
                                             "hardware_manager_version": HW_VERSION})
            elif name == "standby.get_partition_uuids":  # whole-disk image, as IPA
                cmd = command(short, result={"root uuid": "0x1a2b3c4d"})
            elif name in ASYNC:
                cmd = command(short, "RUNNING")
                kind = ASYNC[name]
                finish_later(cmd, {f"{kind}_result": None, f"{kind}_step": params.get("step")}
                             if kind else None)
            else:  # anything else: succeed at once with no result
                cmd = command(short)
            commands.append(cmd)
            self.reply(200, cmd)


srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
threading.Timer(args.lifetime, srv.shutdown).start()
srv.serve_forever()
