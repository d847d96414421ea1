"""The node half of the fake API server: a scheduler and a kubelet in miniature.

What ../shared/recordings/kubernetes-node/ shows a real node doing, played on this machine:

* Pods move Pending -> scheduled (nodeName node-1, PodScheduled) -> kubelet's first status
  (ContainerCreating) -> Running, each step its own MODIFIED event. A nodeSelector the node
  does not match leaves the pod Pending with PodScheduled=False reason Unschedulable.
* Containers run as local processes in a sandbox directory per pod (the container's
  command + args, its env; the working directory is the sandbox). A container without a
  command idles until the pod is deleted. An image whose name contains `absent` is missing:
  ErrImageNeverPull (pull policy Never) or ErrImagePull/ImagePullBackOff.
* Exits follow restartPolicy: Always (the default) restarts with restartCount, lastState and
  CrashLoopBackOff in between; Never/OnFailure end the pod Succeeded or Failed. A command that
  does not exist is StartError, exit code 128.
* Readiness/liveness probes: `exec` probes run in the sandbox (httpGet/tcpSocket count as
  passing); a failing readiness probe keeps Ready=False and writes Warning Unhealthy events, a
  failing liveness probe kills the container (137) after failureThreshold.
* Logs: stdout and stderr merged per container instance, with timestamps, for
  tailLines/sinceSeconds/limitBytes/timestamps/previous/follow.
* Exec over websocket (v5.channel.k8s.io or v4): the command runs in the pod's sandbox;
  channel 1/2 output, one Status on channel 3, close 1000 (exec.json).
* Port-forward over websocket (v4.channel.k8s.io): to the address in the pod annotation
  `herodo.test/forward-PORT` (host:port), else, for a port the pod declares, to a small HTTP
  responder that answers `hello from POD`; other ports get the error text on channel 1.
* Jobs get a pod from their template; its end makes the Job SuccessCriteriaMet + Complete or
  FailureTarget + Failed. Deployments get `replicas` pods; readyReplicas/availableReplicas and
  the Available condition follow them. A Deployment annotated `herodo.test/no-controller` is
  left alone (no pods, no status): a test writes its status as an agent would.

Speeds: probe periods are capped at 0.5 s, initial delays at 2 s and back-offs at 1 s, so
tests stay quick; messages keep the real wording.
"""

import base64
import copy
import datetime
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

NODE = "node-1"
NODE_LABELS = {"kubernetes.io/hostname": NODE, "kubernetes.io/os": "linux",
               "kubernetes.io/arch": "amd64"}
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# The server's error class, set by fake_apiserver.main (it runs as __main__, so importing it
# here would make a second, different class).
ApiError = Exception


def _die_with_parent():
    """preexec_fn: the process gets SIGKILL when the thread that started it ends (the fake is
    killed), so no container outlives the test."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def stamp(t=None):
    t = time.time() if t is None else t
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def nano_stamp(t):
    d = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%09dZ" % int((t % 1) * 1e9)


class Instance:
    """One run of a container: its process and its log."""

    def __init__(self):
        self.proc = None
        self.log = []  # (time, bytes of one line, newline included)
        self.done = threading.Event()
        self.exit_code = None
        self.started = time.time()
        self.finished = None
        self.reason = None
        self.message = None


class Container:
    def __init__(self, spec):
        self.spec = spec
        self.name = spec["name"]
        self.current = None
        self.previous = None
        self.restarts = 0
        self.ready = False
        self.waiting = None
        self.cond = threading.Condition()

    def argv(self):
        return list(self.spec.get("command") or []) + list(self.spec.get("args") or [])


class PodRuntime:
    def __init__(self, node, ns, name, pod):
        self.node = node
        self.ns = ns
        self.name = name
        self.uid = pod["metadata"]["uid"]
        self.spec = copy.deepcopy(pod.get("spec") or {})
        self.annotations = dict(pod["metadata"].get("annotations") or {})
        self.containers = [Container(c) for c in self.spec.get("containers") or []]
        self.stopped = threading.Event()
        self.sandbox = os.path.join(node.root, f"{ns}_{name}_{self.uid[:8]}")
        os.makedirs(self.sandbox, exist_ok=True)
        self.ip = node.next_ip()
        self.running = False
        self.port_map = {}  # container port -> local port of a process started for an image

    def container(self, name):
        return next((c for c in self.containers if c.name == name), None)

    def env(self, c):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.sandbox,
               "HOSTNAME": self.name, "POD_SANDBOX": self.sandbox}
        for e in c.spec.get("env") or []:
            if "value" in e:
                env[e["name"]] = str(e["value"])
        if "buildah" in c.spec.get("image", ""):
            # A buildah image: this machine's buildah, with storage of the pod's own (never
            # the host's images and containers).
            conf = os.path.join(self.sandbox, "storage.conf")
            if not os.path.exists(conf):
                with open(conf, "w") as f:
                    f.write(f'[storage]\ndriver = "vfs"\ngraphroot = "{self.sandbox}/storage"\n'
                            f'runroot = "{self.sandbox}/run"\n')
            env["CONTAINERS_STORAGE_CONF"] = conf
            env.pop("STORAGE_DRIVER", None)
        return env


class Node:
    def __init__(self, store, root):
        self.store = store
        self.root = root
        self.pods = {}  # (ns, name) -> PodRuntime
        self.lock = threading.Lock()
        self.ip = 1
        os.makedirs(root, exist_ok=True)

    def next_ip(self):
        with self.lock:
            self.ip += 1
            return f"10.244.0.{self.ip % 250 + 2}"

    # -- hooks from the store (called with store.lock held) ---------------------------------

    def created(self, res, ns, obj):
        kind = res.kind
        if kind == "Pod":
            rt = PodRuntime(self, ns, obj["metadata"]["name"], obj)
            with self.lock:
                self.pods[(ns, rt.name)] = rt
            threading.Thread(target=self.run_pod, args=(rt,), daemon=True).start()
        elif kind == "Job":
            threading.Thread(target=self.run_job, args=(ns, obj["metadata"]["name"]),
                             daemon=True).start()
        elif kind == "Deployment" and "herodo.test/no-controller" not in \
                (obj["metadata"].get("annotations") or {}):
            threading.Thread(target=self.run_deployment, args=(ns, obj["metadata"]["name"]),
                             daemon=True).start()

    def deleted(self, res, ns, obj):
        if res.kind != "Pod":
            return
        with self.lock:
            rt = self.pods.pop((ns, obj["metadata"]["name"]), None)
        if rt is not None:
            rt.stopped.set()
            for c in rt.containers:
                self.kill(c.current)
            shutil.rmtree(rt.sandbox, ignore_errors=True)

    def stop_all(self):
        with self.lock:
            pods = list(self.pods.values())
        for rt in pods:
            rt.stopped.set()
            for c in rt.containers:
                self.kill(c.current)

    @staticmethod
    def kill(inst, sig=signal.SIGKILL):
        if inst is not None and inst.proc is not None and inst.proc.poll() is None:
            try:
                os.killpg(inst.proc.pid, sig)
            except OSError:
                pass

    # -- writing status ----------------------------------------------------------------------

    def update(self, kind_plural, ns, name, fn, group=""):
        """Apply fn(obj) to a copy of the object and store it as a new version (MODIFIED)."""
        store = self.store
        with store.lock:
            key = (group, kind_plural, ns, name)
            old = store.objects.get(key)
            if old is None:
                return None
            new = copy.deepcopy(old)
            if fn(new) is False:
                return old
            new["metadata"]["resourceVersion"] = store.next_rv()
            store.objects[key] = new
            res = next(r for r in store.resources.values()
                       if r.group == group and r.plural == kind_plural)
            store.record(res, ns, "MODIFIED", new)
            return new

    def event(self, ns, involved, reason, message, etype="Normal", component="kubelet"):
        store = self.store
        res = store.res("", "v1", "events")
        if res is None:
            return
        with store.lock:
            name = f"{involved['metadata']['name']}.{random.getrandbits(64):016x}"
            obj = {"apiVersion": "v1", "kind": "Event",
                   "metadata": {"name": name, "namespace": ns},
                   "involvedObject": {"kind": involved.get("kind", "Pod"),
                                      "namespace": ns,
                                      "name": involved["metadata"]["name"],
                                      "uid": involved["metadata"].get("uid", ""),
                                      "apiVersion": involved.get("apiVersion", "v1")},
                   "reason": reason, "message": message, "type": etype,
                   "source": {"component": component, "host": NODE},
                   "firstTimestamp": stamp(), "lastTimestamp": stamp(), "count": 1,
                   "reportingComponent": component, "reportingInstance": NODE}
            try:
                store.create(res, ns, obj, {})
            except Exception:
                pass

    def pod_obj(self, rt):
        with self.store.lock:
            return copy.deepcopy(self.store.objects.get(("", "pods", rt.ns, rt.name)))

    def write_pod_status(self, rt, phase=None, ready=None, extra=None):
        """The kubelet's view of the pod, from the containers' state."""

        def fn(pod):
            st = pod.setdefault("status", {})
            if phase:
                st["phase"] = phase
            st["hostIP"] = "192.0.2.2"
            st["hostIPs"] = [{"ip": "192.0.2.2"}]
            st.setdefault("startTime", stamp())
            if rt.running:
                st["podIP"] = rt.ip
                st["podIPs"] = [{"ip": rt.ip}]
            statuses = [self.container_status(rt, c) for c in rt.containers]
            st["containerStatuses"] = statuses
            all_ready = all(s["ready"] for s in statuses) if statuses else False
            unready = [s["name"] for s in statuses if not s["ready"]]
            now = stamp()
            ended = st.get("phase") in ("Succeeded", "Failed")
            reason = None
            if ended:
                reason = "PodCompleted" if st["phase"] == "Succeeded" else "PodFailed"
            elif not all_ready:
                reason = "ContainersNotReady"
            conds = [
                {"type": "PodReadyToStartContainers", "status": "True" if rt.running else "False"},
                {"type": "Initialized", "status": "True"},
                {"type": "Ready", "status": "True" if all_ready and not ended else "False"},
                {"type": "ContainersReady",
                 "status": "True" if all_ready and not ended else "False"},
                {"type": "PodScheduled", "status": "True"},
            ]
            old = {c["type"]: c for c in st.get("conditions") or []}
            for c in conds:
                c["lastProbeTime"] = None
                prev = old.get(c["type"])
                c["lastTransitionTime"] = prev["lastTransitionTime"] if prev and \
                    prev["status"] == c["status"] else now
                if c["type"] in ("Ready", "ContainersReady") and c["status"] == "False" and reason:
                    c["reason"] = reason
                    if reason == "ContainersNotReady":
                        c["message"] = f"containers with unready status: [{' '.join(unready)}]"
            st["conditions"] = conds
            if extra:
                extra(pod)

        return self.update("pods", rt.ns, rt.name, fn)

    def container_status(self, rt, c):
        running = c.current is not None and c.current.exit_code is None and not c.waiting
        s = {"name": c.name, "image": c.spec.get("image", ""), "imageID": "",
             "ready": c.ready and running, "restartCount": c.restarts, "started": False,
             "state": {"waiting": {"reason": "ContainerCreating"}}}
        inst = c.current
        if c.waiting:
            s["state"] = {"waiting": dict(c.waiting)}
        elif inst is not None and inst.exit_code is None:
            s["state"] = {"running": {"startedAt": stamp(inst.started)}}
            s["started"] = True
            s["containerID"] = "containerd://" + hashlib.sha256(
                f"{rt.uid}{c.name}{c.restarts}".encode()).hexdigest()
            s["imageID"] = "sha256:" + hashlib.sha256(s["image"].encode()).hexdigest()
        elif inst is not None:
            s["state"] = {"terminated": self.terminated(inst)}
        if c.previous is not None and c.previous.exit_code is not None:
            s["lastState"] = {"terminated": self.terminated(c.previous)}
        else:
            s["lastState"] = {}
        return s

    @staticmethod
    def terminated(inst):
        t = {"exitCode": inst.exit_code, "reason": inst.reason or
             ("Completed" if inst.exit_code == 0 else "Error"),
             "startedAt": stamp(inst.started), "finishedAt": stamp(inst.finished)}
        if inst.message:
            t["message"] = inst.message
        return t

    # -- the pod's life ---------------------------------------------------------------------

    def run_pod(self, rt):
        try:
            self._run_pod(rt)
        except Exception as e:  # a broken fake must say why
            import traceback
            traceback.print_exc()
            sys.stderr.write(f"fake node: pod {rt.ns}/{rt.name}: {e}\n")

    def _run_pod(self, rt):
        time.sleep(0.05)
        selector = rt.spec.get("nodeSelector") or {}
        if any(NODE_LABELS.get(k) != v for k, v in selector.items()):
            msg = ("0/1 nodes are available: 1 node(s) didn't match Pod's node "
                   "affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is "
                   "not helpful for scheduling.")

            def unsched(pod):
                pod["status"]["conditions"] = [{
                    "type": "PodScheduled", "status": "False", "lastProbeTime": None,
                    "lastTransitionTime": stamp(), "reason": "Unschedulable",
                    "message": msg}]

            pod = self.update("pods", rt.ns, rt.name, unsched)
            if pod:
                self.event(rt.ns, pod, "FailedScheduling", msg, "Warning", "default-scheduler")
            return

        def schedule(pod):
            pod["spec"]["nodeName"] = NODE
            pod["status"]["conditions"] = [{"type": "PodScheduled", "status": "True",
                                            "lastProbeTime": None,
                                            "lastTransitionTime": stamp()}]

        pod = self.update("pods", rt.ns, rt.name, schedule)
        if pod is None:
            return
        self.event(rt.ns, pod, "Scheduled", f"Successfully assigned {rt.ns}/{rt.name} to {NODE}",
                   component="default-scheduler")
        time.sleep(0.05)
        self.write_pod_status(rt, phase="Pending")
        time.sleep(0.05)
        # Images.
        missing = False
        for c in rt.containers:
            image = c.spec.get("image", "")
            if "absent" in image:
                missing = True
                policy = c.spec.get("imagePullPolicy", "IfNotPresent")
                if policy == "Never":
                    c.waiting = {"reason": "ErrImageNeverPull",
                                 "message": f'Container image "{image}" is not present with '
                                            "pull policy of Never"}
                    self.event(rt.ns, pod, "ErrImageNeverPull", c.waiting["message"], "Warning")
                else:
                    c.waiting = {"reason": "ErrImagePull",
                                 "message": f'rpc error: code = NotFound desc = failed to pull '
                                            f'and unpack image "{image}": failed to resolve '
                                            f'reference "{image}": {image}: not found'}
                    self.event(rt.ns, pod, "Failed", f'Failed to pull image "{image}"', "Warning")
        if missing:
            self.write_pod_status(rt, phase="Pending")
            if any(c.waiting and c.waiting["reason"] == "ErrImagePull" for c in rt.containers):
                time.sleep(0.3)
                for c in rt.containers:
                    if c.waiting and c.waiting["reason"] == "ErrImagePull":
                        c.waiting = {"reason": "ImagePullBackOff",
                                     "message": f'Back-off pulling image "{c.spec.get("image")}"'}
                self.write_pod_status(rt, phase="Pending")
            return
        rt.running = True
        for c in rt.containers:
            threading.Thread(target=self.run_container, args=(rt, c), daemon=True).start()

    def image_runner(self, rt, c):
        """argv for an image whose real program runs here: a registry image gets Debian's
        docker-registry on a free local port (container port 5000 maps to it), an sshd image
        gets the local sshd with the keys mounted from its Secret."""
        image = c.spec.get("image", "")
        name = image.rsplit("/", 1)[-1].split(":")[0].split("@")[0]
        if name == "registry" and shutil.which("docker-registry"):
            port = free_port()
            cfg = os.path.join(rt.sandbox, "registry.yml")
            with open(cfg, "w") as f:
                f.write("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
                        f"    rootdirectory: {rt.sandbox}/registry-data\n  delete:\n"
                        f"    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n")
            for cp in c.spec.get("ports") or [{"containerPort": 5000}]:
                rt.port_map[cp.get("containerPort", 5000)] = port
            return ["docker-registry", "serve", cfg]
        sshd = shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd")
                                        else None)
        if ("ssh" in name or "devmachine" in name) and sshd:
            return self.sshd_runner(rt, c, sshd)
        return None

    def sshd_runner(self, rt, c, sshd):
        """The local sshd on a free port (container port 22 maps to it), the pod's
        authorized_keys taken from the Secret its volume names, root's logins allowed."""
        port = free_port()
        keys = os.path.join(rt.sandbox, "authorized_keys")
        mounts = {m.get("name"): m for m in c.spec.get("volumeMounts") or []}
        text = ""
        for v in rt.spec.get("volumes") or []:
            secret = (v.get("secret") or {}).get("secretName")
            m = mounts.get(v.get("name"))
            if not secret or not m or not m.get("mountPath", "").endswith("authorized_keys"):
                continue
            with self.store.lock:
                obj = self.store.objects.get(("", "secrets", rt.ns, secret))
            if obj:
                data = (obj.get("data") or {}).get(m.get("subPath") or "authorized_keys")
                if data:
                    text = base64.b64decode(data).decode()
        with open(keys, "w") as f:
            f.write(text + "\n")
        os.chmod(keys, 0o600)
        hostkey = os.path.join(rt.sandbox, "ssh_host_ed25519_key")
        if not os.path.exists(hostkey):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostkey],
                           check=False, capture_output=True)
        cfg = os.path.join(rt.sandbox, "sshd_config")
        with open(cfg, "w") as f:
            f.write(f"Port {port}\nListenAddress 127.0.0.1\nHostKey {hostkey}\n"
                    f"AuthorizedKeysFile {keys}\nPasswordAuthentication no\n"
                    "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
                    f"StrictModes no\nUsePAM no\nPidFile {rt.sandbox}/sshd.pid\n")
        os.makedirs("/run/sshd", exist_ok=True)
        for cp in [22] + [p.get("containerPort") for p in c.spec.get("ports") or []
                          if p.get("containerPort") == 22]:
            rt.port_map[cp] = port
        return [sshd, "-D", "-e", "-f", cfg]

    def start_instance(self, rt, c):
        inst = Instance()
        argv = c.argv() or self.image_runner(rt, c)
        c.waiting = None
        if argv:
            exe = argv[0]
            found = shutil.which(exe, path=rt.env(c)["PATH"]) if "/" not in exe else \
                (exe if os.path.exists(exe) else None)
            if found is None:
                inst.exit_code = 128
                inst.reason = "StartError"
                inst.started = 0
                inst.finished = time.time()
                inst.message = ("failed to create containerd task: failed to create shim task: "
                                "OCI runtime create failed: runc create failed: unable to start "
                                f"container process: exec: \"{exe}\": executable file not found "
                                "in $PATH: unknown")
                inst.done.set()
                return inst
            inst.proc = subprocess.Popen(argv, cwd=rt.sandbox, env=rt.env(c),
                                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         preexec_fn=_die_with_parent)

            def pump():
                for line in iter(inst.proc.stdout.readline, b""):
                    with c.cond:
                        inst.log.append((time.time(), line))
                        c.cond.notify_all()
                inst.proc.wait()
                code = inst.proc.returncode
                inst.exit_code = code if code >= 0 else 128 - code
                inst.finished = time.time()
                with c.cond:
                    inst.done.set()
                    c.cond.notify_all()

            threading.Thread(target=pump, daemon=True).start()
        return inst

    def run_container(self, rt, c):
        backoff = 10
        policy = rt.spec.get("restartPolicy", "Always")
        pod = self.pod_obj(rt)
        while not rt.stopped.is_set():
            if pod:
                self.event(rt.ns, pod, "Pulled", f'Container image "{c.spec.get("image")}" '
                           "already present on machine")
            with c.cond:
                if c.current is not None:
                    c.previous = c.current
                c.current = self.start_instance(rt, c)
                c.cond.notify_all()
            inst = c.current
            c.ready = inst.exit_code is None and "readinessProbe" not in c.spec
            if inst.exit_code is None:
                self.event(rt.ns, pod, "Started", f"Started container {c.name}")
            self.write_pod_status(rt, phase="Running")
            prober = threading.Thread(target=self.probe, args=(rt, c, inst), daemon=True)
            prober.start()
            while not inst.done.wait(0.1):
                if rt.stopped.is_set():
                    return
            if rt.stopped.is_set():
                return
            c.ready = False
            restart = policy == "Always" or (policy == "OnFailure" and inst.exit_code != 0)
            if not restart:
                self.write_pod_status(rt)
                self.finish_pod(rt)
                return
            self.write_pod_status(rt)
            time.sleep(0.1)
            c.restarts += 1
            c.previous = inst
            c.waiting = {"reason": "CrashLoopBackOff",
                         "message": f"back-off {backoff}s restarting failed container={c.name} "
                                    f"pod={rt.name}_{rt.ns}({rt.uid})"}
            self.write_pod_status(rt)
            if pod:
                self.event(rt.ns, pod, "BackOff", f"Back-off restarting failed container "
                           f"{c.name} in pod {rt.name}_{rt.ns}({rt.uid})", "Warning")
            if rt.stopped.wait(min(backoff / 10, 1.0) * (1 if c.restarts < 3 else 2)):
                return
            backoff = min(backoff * 2, 300)
            c.current = None

    def finish_pod(self, rt):
        insts = [c.current for c in rt.containers]
        if any(i is None or i.exit_code is None for i in insts):
            return
        phase = "Succeeded" if all(i.exit_code == 0 for i in insts) else "Failed"
        self.write_pod_status(rt, phase=phase)

    def probe(self, rt, c, inst):
        readiness = c.spec.get("readinessProbe")
        liveness = c.spec.get("livenessProbe")
        if not readiness and not liveness:
            return
        pod = self.pod_obj(rt)
        start = time.time()
        fails = 0
        while inst.exit_code is None and not rt.stopped.is_set():
            for kind, p in (("Readiness", readiness), ("Liveness", liveness)):
                if not p:
                    continue
                delay = min(float(p.get("initialDelaySeconds", 0)), 2.0)
                if time.time() - start < delay:
                    continue
                ok, out = self.run_probe(rt, c, p)
                if kind == "Readiness":
                    if ok != c.ready:
                        c.ready = ok
                        self.write_pod_status(rt)
                    if not ok and pod:
                        self.event(rt.ns, pod, "Unhealthy", f"Readiness probe failed: {out}",
                                   "Warning")
                else:
                    if ok:
                        fails = 0
                    else:
                        fails += 1
                        if pod:
                            self.event(rt.ns, pod, "Unhealthy", f"Liveness probe failed: {out}",
                                       "Warning")
                        if fails >= int(p.get("failureThreshold", 3)):
                            if pod:
                                self.event(rt.ns, pod, "Killing", f"Container {c.name} failed "
                                           "liveness probe, will be restarted")
                            self.kill(inst)
                            return
            period = min(float((readiness or liveness).get("periodSeconds", 10)), 0.5)
            if rt.stopped.wait(period):
                return

    def run_probe(self, rt, c, p):
        for kind in ("httpGet", "tcpSocket"):
            port = (p.get(kind) or {}).get("port")
            if port in rt.port_map:
                # A real program answers for this port here: probe it for real.
                try:
                    with socket.create_connection(("127.0.0.1", rt.port_map[port]), timeout=1) \
                            as sock:
                        if kind == "httpGet":
                            path = p[kind].get("path", "/")
                            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n"
                                         .encode())
                            head = sock.recv(64).decode(errors="replace")
                            code = int(head.split()[1]) if head.startswith("HTTP/") else 0
                            ok = 200 <= code < 400
                            return ok, "" if ok else f"HTTP probe failed with statuscode: {code}"
                    return True, ""
                except OSError as e:
                    return False, f"dial tcp {rt.ip}:{port}: connect: connection refused ({e})"
        if "exec" in p:
            argv = p["exec"].get("command") or []
            try:
                r = subprocess.run(argv, cwd=rt.sandbox, env=rt.env(c), capture_output=True,
                                   timeout=float(p.get("timeoutSeconds", 1)) + 1)
                return r.returncode == 0, (r.stdout + r.stderr).decode(errors="replace").strip()
            except FileNotFoundError as e:
                return False, str(e)
            except subprocess.TimeoutExpired:
                return False, "command timed out"
        return True, ""

    # -- controllers -------------------------------------------------------------------------

    def make_pod(self, ns, owner, template, name, extra_labels=None):
        spec = copy.deepcopy((template or {}).get("spec") or {})
        labels = dict(((template or {}).get("metadata") or {}).get("labels") or {})
        labels.update(extra_labels or {})
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": ns, "labels": labels,
                            "annotations": dict(((template or {}).get("metadata") or {})
                                                .get("annotations") or {}),
                            "ownerReferences": [{"apiVersion": owner["apiVersion"],
                                                 "kind": owner["kind"],
                                                 "name": owner["metadata"]["name"],
                                                 "uid": owner["metadata"]["uid"],
                                                 "controller": True}]},
               "spec": spec}
        store = self.store
        with store.lock:
            try:
                return store.create(store.res("", "v1", "pods"), ns, pod, {})
            except ApiError:
                return None  # the namespace is going away
            except Exception as e:
                sys.stderr.write(f"fake node: cannot create pod {name}: {e}\n")
                return None

    def suffix(self):
        return "".join(random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))

    def run_job(self, ns, name):
        with self.store.lock:
            job = copy.deepcopy(self.store.objects.get(("batch", "jobs", ns, name)))
        if job is None:
            return
        template = copy.deepcopy(job["spec"].get("template") or {})
        template.setdefault("spec", {}).setdefault("restartPolicy", "Never")
        pod = self.make_pod(ns, job, template, f"{name}-{self.suffix()}",
                            {"job-name": name, "batch.kubernetes.io/job-name": name})
        if pod is None:
            return
        self.update("jobs", ns, name, lambda j: j.setdefault("status", {}).update(
            {"active": 1, "startTime": stamp()}), group="batch")
        pname = pod["metadata"]["name"]
        while True:
            time.sleep(0.1)
            with self.store.lock:
                p = self.store.objects.get(("", "pods", ns, pname))
                j = self.store.objects.get(("batch", "jobs", ns, name))
            if p is None or j is None:
                return
            phase = (p.get("status") or {}).get("phase")
            if phase not in ("Succeeded", "Failed"):
                continue
            now = stamp()
            if phase == "Succeeded":
                conds = [("SuccessCriteriaMet", "CompletionsReached",
                          "Reached expected number of succeeded pods"),
                         ("Complete", "CompletionsReached",
                          "Reached expected number of succeeded pods")]
                counts = {"succeeded": 1, "completionTime": now}
            else:
                conds = [("FailureTarget", "BackoffLimitExceeded",
                          "Job has reached the specified backoff limit"),
                         ("Failed", "BackoffLimitExceeded",
                          "Job has reached the specified backoff limit")]
                counts = {"failed": 1}
            for i in range(2):
                def fn(job, i=i):
                    st = job.setdefault("status", {})
                    st.pop("active", None)
                    st.setdefault("conditions", []).append({
                        "type": conds[i][0], "status": "True", "reason": conds[i][1],
                        "message": conds[i][2], "lastProbeTime": now,
                        "lastTransitionTime": now})
                    if i == 1:
                        st.update(counts)
                self.update("jobs", ns, name, fn, group="batch")
                time.sleep(0.05)
            return

    def run_deployment(self, ns, name):
        """A ReplicaSet controller folded into one loop: keep `replicas` pods, report them."""
        hash_ = "%08x" % random.getrandbits(32)
        last = None
        while True:
            time.sleep(0.1)
            with self.store.lock:
                d = copy.deepcopy(self.store.objects.get(("apps", "deployments", ns, name)))
                if d is None:
                    return
                uid = d["metadata"]["uid"]
                pods = [copy.deepcopy(o) for (g, p, o_ns, _), o in self.store.objects.items()
                        if g == "" and p == "pods" and o_ns == ns and
                        any(r.get("uid") == uid for r in
                            o["metadata"].get("ownerReferences") or [])]
            want = int(d["spec"].get("replicas", 1))
            for _ in range(want - len(pods)):
                self.make_pod(ns, d, d["spec"].get("template"),
                              f"{name}-{hash_}-{self.suffix()}", {"pod-template-hash": hash_})
            for extra in pods[want:]:
                with self.store.lock:
                    key = ("", "pods", ns, extra["metadata"]["name"])
                    if key in self.store.objects:
                        self.store.remove(self.store.res("", "v1", "pods"), key)
                        self.deleted(self.store.res("", "v1", "pods"), ns, extra)
            ready = sum(1 for p in pods[:want] if any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in (p.get("status") or {}).get("conditions") or []))
            gen = d["metadata"].get("generation", 1)
            state = (ready, want, gen)
            if state == last:
                continue
            last = state

            def fn(dep, ready=ready, want=want, gen=gen):
                now = stamp()
                st = dep.setdefault("status", {})
                st.update({"observedGeneration": gen, "replicas": min(want, len(pods) or want),
                           "updatedReplicas": want, "readyReplicas": ready,
                           "availableReplicas": ready})
                if ready < want:
                    st["unavailableReplicas"] = want - ready
                else:
                    st.pop("unavailableReplicas", None)
                avail = ready >= want
                st["conditions"] = [
                    {"type": "Available", "status": "True" if avail else "False",
                     "reason": "MinimumReplicasAvailable" if avail else
                     "MinimumReplicasUnavailable",
                     "message": "Deployment has minimum availability." if avail else
                     "Deployment does not have minimum availability.",
                     "lastUpdateTime": now, "lastTransitionTime": now},
                    {"type": "Progressing", "status": "True",
                     "reason": "NewReplicaSetAvailable" if avail else "ReplicaSetUpdated",
                     "message": f'ReplicaSet "{name}-{hash_}" has successfully progressed.'
                     if avail else f'ReplicaSet "{name}-{hash_}" is progressing.',
                     "lastUpdateTime": now, "lastTransitionTime": now}]

            self.update("deployments", ns, name, fn, group="apps")

    # -- logs ---------------------------------------------------------------------------------

    def runtime(self, ns, name):
        with self.lock:
            return self.pods.get((ns, name))

    def log_target(self, rt, query):
        """The container and instance a log request reads, or an ApiError."""
        cname = query.get("container")
        if cname is None:
            if len(rt.containers) != 1:
                names = " ".join(c.name for c in rt.containers)
                raise ApiError(400, "BadRequest", f"a container name must be specified for pod "
                                                  f"{rt.name}, choose one of: [{names}]")
            c = rt.containers[0]
        else:
            c = rt.container(cname)
            if c is None:
                raise ApiError(400, "BadRequest",
                               f"container {cname} is not valid for pod {rt.name}")
        for k in ("tailLines", "sinceSeconds", "limitBytes"):
            if k in query:
                try:
                    int(query[k])
                except ValueError:
                    raise ApiError(400, "BadRequest",
                                   f'strconv.ParseInt: parsing "{query[k]}": invalid syntax')
        if "sinceSeconds" in query and "sinceTime" in query:
            raise ApiError(422, "Invalid", f'PodLogOptions "{rt.name}" is invalid: []: '
                           "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be "
                           "specified", {"name": rt.name, "kind": "PodLogOptions"})
        if query.get("previous") == "true":
            if c.previous is None:
                raise ApiError(400, "BadRequest", f'previous terminated container "{c.name}" in '
                                                  f'pod "{rt.name}" not found')
            return c, c.previous
        # (A container still being created has an empty log here; the real kubelet answers
        # 400 "is waiting to start" for a moment.)
        return c, c.current or c.previous or Instance()

    @staticmethod
    def format_lines(lines, query):
        out = []
        since = query.get("sinceSeconds")
        cutoff = time.time() - int(since) if since else None
        for t, line in lines:
            if cutoff is not None and t < cutoff:
                continue
            if query.get("timestamps") == "true":
                line = nano_stamp(t).encode() + b" " + line
            out.append(line)
        return out

    def serve_log(self, handler, rt, query):
        c, inst = self.log_target(rt, query)
        with c.cond:
            lines = list(inst.log)
            pos = len(lines)
        if query.get("tailLines") is not None:
            n = int(query["tailLines"])
            lines = lines[-n:] if n > 0 else []
        body = b"".join(self.format_lines(lines, query))
        limit = query.get("limitBytes")
        if query.get("follow") != "true":
            if limit:
                body = body[:int(limit)]
            handler.send_response(200)
            handler.send_header("Content-Type", "text/plain")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "text/plain")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True

        def chunk(data):
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            handler.wfile.flush()

        try:
            if body:
                chunk(body)
            while True:
                with c.cond:
                    while len(inst.log) <= pos and not inst.done.is_set() and \
                            not rt.stopped.is_set():
                        c.cond.wait(0.5)
                    new = inst.log[pos:]
                    pos += len(new)
                    finished = (inst.done.is_set() and pos >= len(inst.log)) or \
                        rt.stopped.is_set()
                if new:
                    chunk(b"".join(self.format_lines(new, {"timestamps":
                                                           query.get("timestamps")})))
                if finished:
                    break
            handler.wfile.write(b"0\r\n\r\n")
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass

    # -- exec and port-forward over websocket -------------------------------------------------

    def upgrade(self, handler, offered_ok):
        """Answer 101 for a websocket; returns the chosen subprotocol or None (answered)."""
        h = handler.headers
        if (h.get("Upgrade") or "").lower() != "websocket":
            if (h.get("Upgrade") or "").upper().startswith("SPDY"):
                handler.send_text(403, "unable to upgrade: SPDY is not supported by this fake "
                                       "node (herodo speaks websocket)\n")
                return None
            raise ApiError(400, "BadRequest", "Upgrade request required")
        offered = [p.strip() for p in (h.get("Sec-WebSocket-Protocol") or "").split(",")
                   if p.strip()]
        chosen = next((p for p in offered if p in offered_ok), None)
        key = h.get("Sec-WebSocket-Key") or ""
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        handler.send_response(101, "Switching Protocols")
        handler.send_header("Upgrade", "websocket")
        handler.send_header("Connection", "Upgrade")
        handler.send_header("Sec-WebSocket-Accept", accept)
        if chosen:
            handler.send_header("Sec-WebSocket-Protocol", chosen)
        handler.end_headers()
        handler.wfile.flush()
        handler.close_connection = True
        return chosen or ""

    def exec(self, handler, method, ns, name, query):
        if method != "GET" and (handler.headers.get("Upgrade") or "").lower() == "websocket":
            return handler.send_text(405, "bad method")
        pod = self.store_pod(ns, name)
        rt = self.runtime(ns, name)
        cname = query.get("container")
        containers = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
        if cname is None:
            if len(containers) != 1:
                raise ApiError(400, "BadRequest", f"a container name must be specified for pod "
                                                  f"{name}, choose one of: "
                                                  f"[{' '.join(containers)}]")
            cname = containers[0]
        if cname not in containers:
            raise ApiError(400, "BadRequest", f"container {cname} is not valid for pod {name}")
        if not (pod.get("spec") or {}).get("nodeName"):
            raise ApiError(400, "BadRequest", f"pod {name} does not have a host assigned")
        proto = self.upgrade(handler, ("v5.channel.k8s.io", "v4.channel.k8s.io"))
        if proto is None:
            return None
        ws = WebSocket(handler)
        argv = query.get("command") or []
        if isinstance(argv, str):
            argv = [argv]
        streams = [k for k in ("stdin", "stdout", "stderr") if query.get(k) == "true"]
        first = 1 if "stdout" in streams else 3
        ws.send_channel(first, b"")
        c = rt.container(cname) if rt else None
        running = c is not None and c.current is not None and c.current.exit_code is None
        if not streams:
            return ws.finish(status_failure(
                "unable to upgrade connection: you must specify at least 1 of stdin, stdout, "
                "stderr"))
        if not running:
            return ws.finish(status_failure(
                f'unable to upgrade connection: container not found ("{cname}")'))
        if not argv:
            return ws.finish(status_failure(
                "error executing command in container: failed to exec in container: failed to "
                f'start exec "{os.urandom(32).hex()}": OCI runtime exec failed: exec failed: '
                "args must not be empty: unknown", twice=True))
        exe = argv[0]
        env = rt.env(c)
        if ("/" in exe and not os.path.exists(exe)) or \
                ("/" not in exe and shutil.which(exe, path=env["PATH"]) is None):
            return ws.finish(status_failure(
                "error executing command in container: failed to exec in container: failed to "
                f'start exec "{os.urandom(32).hex()}": OCI runtime exec failed: exec failed: '
                f'unable to start container process: exec: "{exe}": executable file not found '
                "in $PATH: unknown", twice=True))
        tty = query.get("tty") == "true"
        proc = subprocess.Popen(argv, cwd=rt.sandbox, env=env,
                                stdin=subprocess.PIPE if "stdin" in streams else
                                subprocess.DEVNULL,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT if tty else subprocess.PIPE,
                                start_new_session=True, preexec_fn=_die_with_parent)

        def pump(pipe, ch):
            for data in iter(lambda: os.read(pipe.fileno(), 65536), b""):
                if tty:
                    data = data.replace(b"\n", b"\r\n")
                ws.send_channel(ch, data)

        pumps = [threading.Thread(target=pump, args=(proc.stdout, 1), daemon=True)]
        if not tty:
            pumps.append(threading.Thread(target=pump, args=(proc.stderr, 2), daemon=True))
        for t in pumps:
            t.start()

        def reader():
            # Client messages: stdin on channel 0, [255, 0] closes it (v5), resize on 4.
            while True:
                msg = ws.recv()
                if msg is None:
                    break
                op, data = msg
                if op == 8:
                    break
                if not data:
                    continue
                ch, payload = data[0], data[1:]
                if ch == 0 and proc.stdin:
                    try:
                        proc.stdin.write(payload)
                        proc.stdin.flush()
                    except OSError:
                        pass
                elif ch == 255 and payload[:1] == b"\x00" and proc.stdin:
                    try:
                        proc.stdin.close()
                    except OSError:
                        pass
            if proc.stdin:
                try:
                    proc.stdin.close()
                except OSError:
                    pass

        threading.Thread(target=reader, daemon=True).start()
        timeout = float(os.environ.get("FAKE_EXEC_TIMEOUT", "600"))
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for t in pumps:
            t.join(5)
        code = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
        if code == 0:
            status = {"metadata": {}, "status": "Success"}
        else:
            status = {"metadata": {}, "status": "Failure",
                      "message": "command terminated with non-zero exit code: command "
                                 f"terminated with exit code {code}",
                      "reason": "NonZeroExitCode",
                      "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}
        return ws.finish(status)

    def store_pod(self, ns, name):
        with self.store.lock:
            pod = self.store.objects.get(("", "pods", ns, name))
            if pod is None:
                raise ApiError(404, "NotFound", f'pods "{name}" not found',
                               {"name": name, "kind": "pods"})
            return copy.deepcopy(pod)

    def portforward(self, handler, method, ns, name, query):
        pod = self.store_pod(ns, name)
        if not query.get("ports"):
            if (handler.headers.get("Upgrade") or "").lower() == "websocket":
                return handler.send_text(400, 'query parameter "port" is required')
        if not (pod.get("spec") or {}).get("nodeName"):
            raise ApiError(400, "BadRequest", f"pod {name} does not have a host assigned")
        proto = self.upgrade(handler, ("v4.channel.k8s.io",))
        if proto is None:
            return None
        ws = WebSocket(handler)
        ports = [int(p) for p in str(query.get("ports")).split(",")]
        port = ports[0]
        for i, p in enumerate(ports):
            ws.send_channel(2 * i, p.to_bytes(2, "little"))
            ws.send_channel(2 * i + 1, p.to_bytes(2, "little"))
        target = (pod["metadata"].get("annotations") or {}).get(f"herodo.test/forward-{port}")
        rt = self.runtime(ns, name)
        if target is None and rt is not None and port in rt.port_map:
            target = f"127.0.0.1:{rt.port_map[port]}"
        declared = any(cp.get("containerPort") == port
                       for c in (pod.get("spec") or {}).get("containers") or []
                       for cp in c.get("ports") or [])
        sock = None
        if target:
            host, _, p = target.rpartition(":")
            try:
                sock = socket.create_connection((host or "127.0.0.1", int(p)), timeout=5)
            except OSError:
                sock = None
        elif declared:
            sock = self.hello_responder(name)
        # Wait for the client's first bytes, as the kubelet does, before reporting a failure.
        if sock is None:
            msg = ws.recv()
            if msg is not None and msg[0] != 8:
                ws.send_channel(1, (
                    f"error forwarding port {port} to pod {hashlib.sha256(name.encode()).hexdigest()}"
                    f", uid : failed to execute portforward in network namespace "
                    f'"/var/run/netns/cni-fake": failed to connect to localhost:{port} inside '
                    f"namespace \"{hashlib.sha256(name.encode()).hexdigest()}\", IPv4: dial tcp4 "
                    f"127.0.0.1:{port}: connect: connection refused IPv6 dial tcp6 [::1]:{port}: "
                    "connect: connection refused ").encode())
            return ws.close()
        sock.settimeout(None)

        def from_pod():
            try:
                while True:
                    data = sock.recv(65536)
                    if not data:
                        break
                    ws.send_channel(0, data)
            except OSError:
                pass
            ws.close()

        t = threading.Thread(target=from_pod, daemon=True)
        t.start()
        while True:
            msg = ws.recv()
            if msg is None or msg[0] == 8:
                break
            data = msg[1]
            if data and data[0] == 0:
                try:
                    sock.sendall(data[1:])
                except OSError:
                    break
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()
        t.join(2)
        ws.close()
        return None

    @staticmethod
    def hello_responder(name):
        """One connection to an in-process HTTP server answering `hello from NAME`."""
        a, b = socket.socketpair()

        def serve():
            try:
                req = b""
                while b"\r\n\r\n" not in req:
                    d = b.recv(4096)
                    if not d:
                        break
                    req += d
                body = f"hello from {name}\n".encode()
                b.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/plain\r\n"
                          b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            except OSError:
                pass
            finally:
                b.close()

        threading.Thread(target=serve, daemon=True).start()
        return a


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def status_failure(message, twice=False):
    full = ("Internal error occurred: " + message) if twice else message
    return {"metadata": {}, "status": "Failure",
            "message": "Internal error occurred: " + full,
            "reason": "InternalError",
            "details": {"causes": [{"message": full}]}, "code": 500}


class WebSocket:
    """The server side of RFC 6455 over the handler's streams."""

    def __init__(self, handler):
        self.r = handler.rfile
        self.w = handler.wfile
        self.conn = handler.connection
        self.lock = threading.Lock()
        self.closed = False

    def send(self, opcode, payload):
        n = len(payload)
        if n < 126:
            head = bytes([0x80 | opcode, n])
        elif n < 65536:
            head = bytes([0x80 | opcode, 126]) + n.to_bytes(2, "big")
        else:
            head = bytes([0x80 | opcode, 127]) + n.to_bytes(8, "big")
        with self.lock:
            if self.closed:
                return
            try:
                self.w.write(head + payload)
                self.w.flush()
            except OSError:
                self.closed = True

    def send_channel(self, ch, data):
        self.send(0x2, bytes([ch]) + data)

    def close(self, code=1000):
        with self.lock:
            if self.closed:
                return
        self.send(0x8, code.to_bytes(2, "big"))
        with self.lock:
            self.closed = True

    def recv(self):
        """(opcode, payload) of the next whole message, or None at the end."""
        try:
            data = b""
            op = None
            while True:
                h = self.r.read(2)
                if len(h) < 2:
                    return None
                fin, opcode = h[0] & 0x80, h[0] & 0x0F
                n = h[1] & 0x7F
                if n == 126:
                    n = int.from_bytes(self.r.read(2), "big")
                elif n == 127:
                    n = int.from_bytes(self.r.read(8), "big")
                mask = self.r.read(4) if h[1] & 0x80 else b"\0\0\0\0"
                payload = bytearray(self.r.read(n))
                for i in range(len(payload)):
                    payload[i] ^= mask[i % 4]
                if opcode == 0x9:
                    self.send(0xA, bytes(payload))
                    continue
                if opcode == 0x8:
                    return 8, bytes(payload)
                if opcode != 0:
                    op = opcode
                data += payload
                if fin:
                    return op, data
        except (OSError, ValueError):
            return None

    def finish(self, status):
        self.send_channel(3, json.dumps(status, separators=(",", ":")).encode())
        self.close()
        # Wait briefly for the client's close, as the real server does.
        try:
            self.conn.settimeout(2)
        except OSError:
            pass
        deadline = time.time() + 2
        while time.time() < deadline:
            msg = self.recv()
            if msg is None or msg[0] == 8:
                break
        return None
