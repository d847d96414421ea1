#!/usr/bin/env python3
"""A fake Cloud Hypervisor v54 for herodo's tests (stdlib only).

Same command line as the real binary: `fake_ch.py --api-socket path=SOCK [other flags]`, so
herodo starts it exactly as it starts cloud-hypervisor (HERODO_CH_BIN points here). It serves
the REST API on the unix socket and answers as ../shared/recordings/cloud-hypervisor/ shows a
real v54 answering: the status codes, the error arrays, the headers (`HTTP/1.1 204 ` with no
reason phrase, `Server: Cloud Hypervisor API`), the vm.info body with its defaults, the state
machine (Created / Running / Paused), `vmm.shutdown` (200, empty body, exit 0, socket removed).
Exchanges the recordings do not hold (hot-plug, resize, snapshot, restore, counters of a VM
that runs) follow Cloud Hypervisor's source: 204 for a VM not booted, 200 `{id, bdf}` for a
hot-plugged device of a running one.

Behaviour switches (environment):
  FAKE_CH_CRASH_AFTER=SECS  after vm.boot, the guest "crashes" SECS later as on this host's
                            kvm_pvm: the recorded vCPU error goes to stderr and the process
                            exits with status 0, removing its socket.
  FAKE_CH_FAULT=MODE:ENDPOINT[,MODE:ENDPOINT]  on a request for ENDPOINT (e.g. vm.info):
                            die   - the process kills itself (SIGKILL) mid-call
                            hang  - accept the request and never answer
                            bad500 - answer 500 with a body that is not JSON
  FAKE_CH_LOG=PATH          append one line per request (METHOD PATH) to PATH
"""

import json
import os
import signal
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CRASH_LOG = os.path.join(HERE, "..", "fixtures", "vm", "ch_boot_crash.log")

VERSION = {"build_version": "v54.0.0", "version": "54.0.0", "pid": os.getpid(),
           "features": ["io_uring", "kvm"]}

GET_ENDPOINTS = {"vmm.ping", "vm.info", "vm.counters"}
PUT_ENDPOINTS = {"vm.create", "vm.boot", "vm.shutdown", "vm.pause", "vm.resume", "vm.reboot",
                 "vm.power-button", "vm.delete", "vmm.shutdown", "vm.snapshot", "vm.restore",
                 "vm.resize", "vm.add-disk", "vm.add-net", "vm.add-fs", "vm.add-device",
                 "vm.remove-device", "vmm.ping"}


def log(msg):
    sys.stderr.write("cloud-hypervisor: %10.6fs: <vmm> INFO:vmm/src/api/mod.rs:1 -- %s\n"
                     % (time.time() - START, msg))
    sys.stderr.flush()


START = time.time()


def parse_args(argv):
    sock = None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--api-socket" and i + 1 < len(argv):
            v = argv[i + 1]
            for part in v.split(","):
                if part.startswith("path="):
                    sock = part[5:]
            if sock is None and "=" not in v:
                sock = v
            i += 2
            continue
        i += 1
    return sock


def faults():
    out = {}
    for item in os.environ.get("FAKE_CH_FAULT", "").split(","):
        if ":" in item:
            mode, ep = item.split(":", 1)
            out[ep.strip()] = mode.strip()
    return out


def defaults(cfg):
    """vm.info's config: what was sent with v54's defaults filled in (as recorded)."""
    c = json.loads(json.dumps(cfg))
    cpus = c.setdefault("cpus", {})
    cpus.setdefault("boot_vcpus", 1)
    cpus.setdefault("max_vcpus", cpus["boot_vcpus"])
    cpus.update({"kvm_hyperv": False, "max_phys_bits": 46, "features": {"amx": False},
                 "nested": True, "core_scheduling": "Vm", "profile": "Host"})
    mem = c.setdefault("memory", {})
    mem.setdefault("size", 536870912)
    for k, v in (("mergeable", False), ("hotplug_method", "Acpi"), ("shared", False),
                 ("hugepages", False), ("prefault", False), ("reserve", False), ("thp", True)):
        mem.setdefault(k, v)
    c.setdefault("rng", {"src": "/dev/urandom"})
    c["rng"].setdefault("pci_segment", 0)
    c.setdefault("serial", {"mode": "Null"})
    c.setdefault("console", {"mode": "Tty"})
    c["console"].setdefault("pci_segment", 0)
    c.update({"debug_console": {"mode": "Off", "iobase": 233}, "pvpanic": False,
              "iommu": False, "watchdog": False, "landlock_enable": False})
    for key in ("disks", "net", "fs", "devices"):
        for n, d in enumerate(c.get(key, [])):
            d.setdefault("id", "_%s%d" % ({"disks": "disk", "net": "net", "fs": "fs",
                                            "devices": "device"}[key], n))
    return c


class Vmm:
    def __init__(self, sock):
        self.sock = sock
        self.config = None      # the VM config once vm.create succeeded
        self.state = None       # None, "Created", "Running", "Paused"
        self.lock = threading.Lock()
        self.faults = faults()
        self.crash_after = os.environ.get("FAKE_CH_CRASH_AFTER")
        self.devices = 0

    # -- answers ------------------------------------------------------------------------------
    def err(self, status, *msgs):
        return status, list(msgs)

    def handle(self, method, path, body):
        if not path.startswith("/api/v1/") or path == "/api/v1/":
            return 404, ["Not Found"]
        ep = path[len("/api/v1/"):]
        if ep not in GET_ENDPOINTS and ep not in PUT_ENDPOINTS:
            return 404, ["Not Found"]
        if method == "GET" and ep not in GET_ENDPOINTS:
            return 400, ["Bad Request"]
        if method == "PUT" and (ep not in PUT_ENDPOINTS or ep == "vmm.ping"):
            return 400, ["Bad Request"]
        with self.lock:
            return getattr(self, "ep_" + ep.replace(".", "_").replace("-", "_"))(body)

    def json_body(self, body):
        if body is None or body == b"":
            return None, (400, "")
        try:
            return json.loads(body.decode()), None
        except ValueError as e:
            return None, (400, ["Failed to deserialize JSON", json_error(body, e)])

    def ep_vmm_ping(self, body):
        return 200, VERSION

    def ep_vm_info(self, body):
        if self.state is None:
            return self.err(404, "Error from API", "The VM info is not available",
                            "VM is not created")
        info = {"config": defaults(self.config), "state": self.state,
                "memory_actual_size": defaults(self.config)["memory"]["size"]}
        if self.state in ("Running", "Paused"):
            info["device_tree"] = {}
        return 200, info

    def ep_vm_counters(self, body):
        if self.state not in ("Running", "Paused"):
            return self.err(500, "Error from API", "The VM info is not available",
                            "VM is not running")
        return 200, {}

    def ep_vm_create(self, body):
        cfg, e = self.json_body(body)
        if e:
            return e
        if not isinstance(cfg, dict) or not valid_config(cfg):
            return 400, ["Failed to deserialize JSON",
                         "invalid type: expected struct VmConfig at line 1 column 1"]
        if self.state is not None:
            return self.err(500, "Error from API", "The VM could not be created",
                            "VM is already created")
        self.config = cfg
        self.state = "Created"
        log("API request event: VmCreate")
        return 204, None

    def ep_vm_boot(self, body):
        if self.state is None:
            return self.err(404, "Error from API", "The VM could not boot",
                            "VM config is missing")
        if self.state != "Created":
            return self.err(500, "Error from API", "The VM could not boot",
                            "VM is already created")
        payload = self.config.get("payload") or {}
        if not payload.get("kernel") and not payload.get("firmware"):
            return self.err(400, "Error from API", "The VM could not boot",
                            "Failed to validate config", "Payload configuration is not bootable",
                            "No bootitem provided: neither firmware nor kernel")
        for key, what in (("kernel", "kernel"), ("firmware", "firmware"),
                          ("initramfs", "initramfs")):
            p = payload.get(key)
            if p and not os.path.exists(p):
                return self.err(500, "Error from API", "The VM could not boot",
                                "Cannot open %s file" % what,
                                "No such file or directory (os error 2)")
        self.state = "Running"
        serial = self.config.get("serial") or {}
        if serial.get("mode") == "File" and serial.get("file"):
            with open(serial["file"], "a") as f:
                f.write("[    0.000000] Linux version 6.1.0-56-cloud-amd64 (fake)\n")
        log("Event: source = vm event = booted")
        if self.crash_after:
            threading.Thread(target=self.crash, args=(float(self.crash_after),),
                             daemon=True).start()
        return 204, None

    def crash(self, after):
        time.sleep(after)
        with self.lock:
            if self.state not in ("Running", "Paused"):
                return
            try:
                sys.stderr.write(open(CRASH_LOG).read())
                sys.stderr.flush()
            except OSError:
                sys.stderr.write("ERROR:vmm/src/cpu.rs:1487 -- VCPU generated error\n")
            remove_socket(self.sock)
            os._exit(0)

    def need_running(self, what, states=("Running", "Paused")):
        if self.state not in states:
            return self.err(500, "Error from API", what, "VM is not running")
        return None

    def ep_vm_pause(self, body):
        e = self.need_running("The VM could not be paused")
        if e:
            return e
        if self.state == "Paused":
            return self.err(500, "Error from API", "The VM could not be paused",
                            "Cannot pause VM", "Failed to pause migratable component",
                            "Invalid transition: InvalidStateTransition(Paused, Paused)")
        self.state = "Paused"
        return 204, None

    def ep_vm_resume(self, body):
        e = self.need_running("The VM could not resume")
        if e:
            return e
        if self.state == "Running":
            return self.err(500, "Error from API", "The VM could not resume",
                            "Cannot resume VM", "Failed to resume migratable component",
                            "Invalid transition: InvalidStateTransition(Running, Running)")
        self.state = "Running"
        return 204, None

    def ep_vm_reboot(self, body):
        e = self.need_running("The VM could not reboot", ("Running",))
        return e or (204, None)

    def ep_vm_power_button(self, body):
        e = self.need_running("The VM could not be powered off", ("Running",))
        if e:
            return e
        # The guest powers off: the VM exits, and so does the VMM (exit 0, no error logged).
        threading.Thread(target=self.guest_poweroff, daemon=True).start()
        return 204, None

    def guest_poweroff(self):
        time.sleep(0.05)
        with self.lock:
            log("VM exit event")
            log("Event: source = vm event = shutdown")
            sys.stderr.write("cloud-hypervisor: <main> INFO:cloud-hypervisor/src/main.rs:1011"
                             " -- Cloud Hypervisor exited successfully\n")
            sys.stderr.flush()
            remove_socket(self.sock)
            os._exit(0)

    def ep_vm_shutdown(self, body):
        e = self.need_running("The VM could not shutdown")
        if e:
            return e
        self.state = "Created"
        return 204, None

    def ep_vm_delete(self, body):
        self.state = None
        self.config = None
        return 204, None

    def ep_vmm_shutdown(self, body):
        threading.Thread(target=self.exit_soon, daemon=True).start()
        return 200, b""

    def exit_soon(self):
        time.sleep(0.02)
        remove_socket(self.sock)
        os._exit(0)

    def ep_vm_snapshot(self, body):
        req, e = self.json_body(body)
        if e:
            return e
        if self.state is None or self.state == "Created":
            return self.err(500, "Error from API", "The VM could not be snapshotted",
                            "VM is not running")
        if self.state == "Running":
            return self.err(500, "Error from API", "The VM could not be snapshotted",
                            "Error snapshotting VM",
                            "Trying to snapshot while VM is running")
        url = req.get("destination_url", "")
        if not url.startswith("file://"):
            return self.err(500, "Error from API", "The VM could not be snapshotted",
                            "Invalid snapshot destination URL")
        d = url[len("file://"):]
        if not os.path.isdir(d):
            return self.err(500, "Error from API", "The VM could not be snapshotted",
                            "Error snapshotting VM",
                            "No such file or directory (os error 2)")
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(defaults(self.config), f)
        with open(os.path.join(d, "state.json"), "w") as f:
            json.dump({"fake": True, "state": "Paused"}, f)
        with open(os.path.join(d, "memory-ranges"), "wb") as f:
            f.write(b"\0" * 4096)
        return 204, None

    def ep_vm_restore(self, body):
        req, e = self.json_body(body)
        if e:
            return e
        if self.state is not None:
            return self.err(500, "Error from API", "The VM could not be restored",
                            "VM is already created")
        d = req.get("source_url", "")[len("file://"):]
        try:
            cfg = json.load(open(os.path.join(d, "config.json")))
        except (OSError, ValueError):
            return self.err(500, "Error from API", "The VM could not be restored",
                            "Cannot restore VM", "No such file or directory (os error 2)")
        self.config = cfg
        self.state = "Paused"
        return 204, None

    def ep_vm_resize(self, body):
        req, e = self.json_body(body)
        if e:
            return e
        if self.state is None:
            return self.err(404, "Error from API", "The VM could not be resized",
                            "VM is not created")
        cpus = self.config.setdefault("cpus", {"boot_vcpus": 1, "max_vcpus": 1})
        if "desired_vcpus" in req:
            if req["desired_vcpus"] > cpus.get("max_vcpus", cpus.get("boot_vcpus", 1)):
                return self.err(500, "Error from API", "The VM could not be resized",
                                "Error resizing VM", "Failed resizing a CPU",
                                "Cannot resize vCPUs beyond max_vcpus")
            cpus["boot_vcpus"] = req["desired_vcpus"]
        if "desired_ram" in req:
            self.config.setdefault("memory", {})["size"] = req["desired_ram"]
        return 204, None

    def add(self, body, key, what, prefix):
        req, e = self.json_body(body)
        if e:
            return e
        if self.state is None:
            return self.err(404, "Error from API", "The %s could not be added to the VM" % what,
                            "VM is not created")
        self.devices += 1
        dev_id = req.get("id") or "_%s%d" % (prefix, self.devices)
        ids = [d.get("id") for k in ("disks", "net", "fs", "devices")
               for d in self.config.get(k, [])]
        if dev_id in ids:
            return self.err(500, "Error from API", "The %s could not be added to the VM" % what,
                            "Identifier %s is not unique" % dev_id)
        req["id"] = dev_id
        self.config.setdefault(key, []).append(req)
        if self.state in ("Running", "Paused"):
            return 200, {"id": dev_id, "bdf": "0000:00:%02x.0" % (5 + self.devices)}
        return 204, None

    def ep_vm_add_disk(self, body):
        return self.add(body, "disks", "disk", "disk")

    def ep_vm_add_net(self, body):
        return self.add(body, "net", "network device", "net")

    def ep_vm_add_fs(self, body):
        return self.add(body, "fs", "fs", "fs")

    def ep_vm_add_device(self, body):
        return self.add(body, "devices", "device", "device")

    def ep_vm_remove_device(self, body):
        req, e = self.json_body(body)
        if e:
            return e
        if self.state is None:
            return self.err(404, "Error from API", "The device could not be removed from the VM",
                            "VM is not created")
        for k in ("disks", "net", "fs", "devices"):
            devs = self.config.get(k, [])
            for d in devs:
                if d.get("id") == req.get("id"):
                    devs.remove(d)
                    return 204, None
        return self.err(500, "Error from API", "The device could not be removed from the VM",
                        "Error removing device", "No device with id: %s" % req.get("id"))


def valid_config(cfg):
    cpus = cfg.get("cpus", {})
    if not isinstance(cpus, dict):
        return False
    for k in ("boot_vcpus", "max_vcpus"):
        if k in cpus and not isinstance(cpus[k], int):
            return False
    return True


def json_error(body, e):
    return "%s at line %d column %d" % (
        "EOF while parsing a value" if "Expecting value" in str(e) or "Unterminated" in str(e)
        else str(e).split(":")[0], getattr(e, "lineno", 1), len(body))


def remove_socket(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def read_request(conn):
    """One HTTP/1.1 request: (method, path, body) or None at EOF."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    length = 0
    for line in lines[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "content-length":
            length = int(v.strip())
    body = rest
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return method, path, (body[:length] if length else None)


def respond(conn, status, body):
    if body is None or body == b"":
        payload = b""
    elif isinstance(body, bytes):
        payload = body
    else:
        payload = json.dumps(body).encode()
    head = "HTTP/1.1 %d \r\nServer: Cloud Hypervisor API\r\nConnection: keep-alive\r\n" % status
    if status != 204:
        head += "Content-Type: application/json\r\n"
    head += "Content-Length: %d\r\n\r\n" % len(payload)
    conn.sendall(head.encode() + payload)


def serve_conn(vmm, conn, flog):
    try:
        while True:
            req = read_request(conn)
            if req is None:
                return
            method, path, body = req
            if flog:
                with open(flog, "a") as f:
                    f.write("%s %s\n" % (method, path))
            if method not in ("GET", "PUT"):
                respond(conn, 400, b'{ "error": "Invalid HTTP Method: Unsupported HTTP method.'
                        b'\\nAll previous unanswered requests will be dropped." }')
                return
            ep = path.rsplit("/", 1)[-1]
            mode = vmm.faults.get(ep)
            if mode == "die":
                remove_socket(vmm.sock)
                os.kill(os.getpid(), signal.SIGKILL)
            if mode == "hang":
                time.sleep(3600)
                return
            if mode == "bad500":
                conn.sendall(b"HTTP/1.1 500 \r\nContent-Type: text/html\r\n"
                             b"Content-Length: 31\r\n\r\n<html>internal error</html>\r\n\r\n")
                continue
            status, answer = vmm.handle(method, path, body)
            respond(conn, status, answer)
    except (OSError, ValueError):
        return
    finally:
        conn.close()


def main():
    sock = parse_args(sys.argv[1:])
    if not sock:
        sys.stderr.write("Error: --api-socket path=PATH is required by this fake\n")
        sys.exit(1)
    remove_socket(sock)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o077)
    srv.bind(sock)
    os.umask(old)
    srv.listen(64)
    open(sock + ".lock", "a").close()
    signal.signal(signal.SIGTERM, lambda *a: (remove_socket(sock), os._exit(0)))
    sys.stderr.write("cloud-hypervisor:   0.000026s: <main> INFO:cloud-hypervisor/src/main.rs:680"
                     " -- v54.0.0 starting (fake)\n")
    sys.stderr.flush()
    vmm = Vmm(sock)
    flog = os.environ.get("FAKE_CH_LOG")
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve_conn, args=(vmm, conn, flog), daemon=True).start()


if __name__ == "__main__":
    main()
