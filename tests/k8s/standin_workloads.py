"""Workloads of the API-server stand-in: a StatefulSet controller and a kubelet.

StatefulSet controller (always on unless --no-workloads): for each StatefulSet, pods
<sts>-0..<sts>-(replicas-1) from its template (labels + statefulset.kubernetes.io/pod-name and
apps.kubernetes.io/pod-index, ownerReference to the StatefulSet, hostname/subdomain for DNS),
one PVC per volumeClaimTemplate and ordinal (<template>-<sts>-<i>, Bound, owned per
persistentVolumeClaimRetentionPolicy), pods above replicas deleted (all at once, as with
podManagementPolicy Parallel), and status (replicas, readyReplicas, currentReplicas,
updatedReplicas, availableReplicas, observedGeneration).

Kubelet: without --kubelet-cmd, a pod is Running and Ready at once with the next IP of
10.244.0.0/16. With --kubelet-cmd, it runs that command per pod: the command line is split
like a shell would (no shell runs) and each word formatted with {name}, {namespace}, {uid},
{ip}, {ordinal}, {statefulset}; its environment adds POD_NAME, POD_NAMESPACE, POD_UID,
POD_IP, POD_MANIFEST (a file holding the pod's JSON) and the first container's literal env
values. The pod is Running and Ready while the process runs; when it exits the container
restarts (restartCount, with a 1 s back-off). --pod-ip-cmd (same formatting and environment,
less POD_IP) prints the pod's IP, e.g. after making a network namespace for it; --pod-stop-cmd
runs after the pod's process stopped (to tear that down). Deleting a pod sends SIGTERM,
SIGKILL after the grace period (DeleteOptions gracePeriodSeconds, else the pod's
terminationGracePeriodSeconds, else 30 s), and removes the Pod object once the process is gone;
the StatefulSet then makes a new pod of that name, with a new IP: a "rescheduled" pod.
POST /standin/pods/NS/NAME/kill (admin) kills a pod's process with SIGKILL (a crash).
Readiness probes are not run: Ready means "the process runs".
"""
import copy
import ipaddress
import json
import os
import shlex
import signal
import subprocess
import tempfile
import threading
import time

from standin_store import now_rfc3339


class Workloads:
    def __init__(self, store, args):
        self.store = store
        self.kubelet_cmd = args.kubelet_cmd
        self.pod_ip_cmd = args.pod_ip_cmd
        self.pod_stop_cmd = args.pod_stop_cmd
        self.next_ip = int(ipaddress.ip_address("10.244.0.2"))
        self.procs = {}  # pod uid -> {"proc", "pod", "stopping", "ip"}
        self.starting = set()  # pod uids whose start runs outside the lock
        self.dir = tempfile.mkdtemp(prefix="sk-standin-kubelet.")
        if self.kubelet_cmd:
            store.pod_holder = self.hold_pod

    # ---- StatefulSet controller ----

    def res(self, group, plural):
        return next(r for r in self.store.resources.values()
                    if (r.group, r.plural) == (group, plural))

    def sync(self):
        """One pass, under the store's lock. Returns actions to run outside it."""
        actions = []
        sts_res, pod_res, pvc_res = (self.res("apps", "statefulsets"), self.res("", "pods"),
                                     self.res("", "persistentvolumeclaims"))
        pods = self.store.bucket(pod_res)
        for sts in list(self.store.bucket(sts_res).values()):
            meta = sts["metadata"]
            if meta.get("deletionTimestamp"):
                continue
            ns, name = meta.get("namespace", ""), meta["name"]
            spec = sts.get("spec", {})
            replicas = spec.get("replicas", 1)
            for i in range(replicas):
                for tmpl in spec.get("volumeClaimTemplates", []):
                    self.ensure_pvc(pvc_res, sts, tmpl, i)
                if (ns, f"{name}-{i}") not in pods:
                    self.create_pod(pod_res, sts, i)
            for (pns, pname), pod in list(pods.items()):
                owner = [r for r in pod["metadata"].get("ownerReferences", [])
                         if r.get("uid") == meta["uid"]]
                ordinal = pod["metadata"].get("labels", {}).get("apps.kubernetes.io/pod-index")
                if owner and ordinal is not None and int(ordinal) >= replicas and \
                        not pod["metadata"].get("deletionTimestamp"):
                    self.store.begin_delete(pod_res, pod, "Background")
            self.update_sts_status(sts_res, sts, pods)
        for pod in list(pods.values()):
            uid = pod["metadata"]["uid"]
            phase = pod.get("status", {}).get("phase")
            if pod["metadata"].get("deletionTimestamp") or uid in self.starting:
                continue
            if phase == "Pending" and pod.get("spec", {}).get("nodeName"):
                self.starting.add(uid)
                actions.append(lambda p=copy.deepcopy(pod): self.start_pod(p))
            elif uid in self.procs and self.procs[uid]["proc"].poll() is not None and \
                    not self.procs[uid]["stopping"]:
                self.starting.add(uid)
                actions.append(lambda p=copy.deepcopy(pod): self.restart_pod(p))
        return actions

    def ensure_pvc(self, pvc_res, sts, tmpl, i):
        meta = sts["metadata"]
        ns = meta.get("namespace", "")
        name = f"{tmpl['metadata']['name']}-{meta['name']}-{i}"
        bucket = self.store.bucket(pvc_res)
        if (ns, name) in bucket:
            return
        policy = sts.get("spec", {}).get("persistentVolumeClaimRetentionPolicy", {})
        pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
               "metadata": {"name": name, "namespace": ns, "uid": new_uid(),
                            "creationTimestamp": now_rfc3339(),
                            "labels": dict(sts["spec"].get("selector", {}).get("matchLabels", {}))},
               "spec": copy.deepcopy(tmpl.get("spec", {})),
               "status": {"phase": "Bound", "accessModes": tmpl.get("spec", {}).get("accessModes", []),
                          "capacity": tmpl.get("spec", {}).get("resources", {}).get("requests", {})}}
        if policy.get("whenDeleted") == "Delete":
            pvc["metadata"]["ownerReferences"] = [owner_ref(sts, controller=True)]
        bucket[(ns, name)] = pvc
        self.store.record(pvc_res, "ADDED", pvc)

    def create_pod(self, pod_res, sts, i):
        meta = sts["metadata"]
        ns, name = meta.get("namespace", ""), f"{meta['name']}-{i}"
        tmpl = copy.deepcopy(sts.get("spec", {}).get("template", {}))
        labels = dict(tmpl.get("metadata", {}).get("labels", {}))
        labels.update({"statefulset.kubernetes.io/pod-name": name,
                       "apps.kubernetes.io/pod-index": str(i)})
        spec = tmpl.get("spec", {})
        spec.setdefault("hostname", name)
        if sts["spec"].get("serviceName"):
            spec.setdefault("subdomain", sts["spec"]["serviceName"])
        spec.setdefault("nodeName", "standin-node")
        for tmplv in sts["spec"].get("volumeClaimTemplates", []):
            claim = f"{tmplv['metadata']['name']}-{meta['name']}-{i}"
            spec.setdefault("volumes", []).append(
                {"name": tmplv["metadata"]["name"], "persistentVolumeClaim": {"claimName": claim}})
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": ns, "uid": new_uid(),
                            "creationTimestamp": now_rfc3339(), "labels": labels,
                            "annotations": tmpl.get("metadata", {}).get("annotations", {}),
                            "ownerReferences": [owner_ref(sts, controller=True)]},
               "spec": spec, "status": {"phase": "Pending", "conditions": [
                   {"type": "PodScheduled", "status": "True", "lastTransitionTime": now_rfc3339()}]}}
        self.store.bucket(pod_res)[(ns, name)] = pod
        self.store.record(pod_res, "ADDED", pod)

    def update_sts_status(self, sts_res, sts, pods):
        meta = sts["metadata"]
        mine = [p for p in pods.values() if any(r.get("uid") == meta["uid"]
                                                for r in p["metadata"].get("ownerReferences", []))]
        ready = sum(1 for p in mine if is_ready(p) and not p["metadata"].get("deletionTimestamp"))
        status = {"replicas": len(mine), "readyReplicas": ready, "currentReplicas": len(mine),
                  "updatedReplicas": len(mine), "availableReplicas": ready,
                  "observedGeneration": meta.get("generation", 1)}
        if sts.get("status") != status:
            old = copy.deepcopy(sts)
            sts["status"] = status
            self.store.record(sts_res, "MODIFIED", sts, old)

    # ---- kubelet ----

    def allocate_ip(self, pod):
        if self.pod_ip_cmd:
            out = subprocess.run(self.command(self.pod_ip_cmd, pod, ""), env=self.env(pod, ""),
                                 capture_output=True, text=True, timeout=60, check=False)
            ip = out.stdout.strip()
            ipaddress.ip_address(ip)  # raises on garbage
            return ip
        with self.store.cv:
            ip = str(ipaddress.ip_address(self.next_ip))
            self.next_ip += 1
        return ip

    def command(self, template, pod, ip):
        values = {"name": pod["metadata"]["name"], "namespace": pod["metadata"].get("namespace", ""),
                  "uid": pod["metadata"]["uid"], "ip": ip,
                  "ordinal": pod["metadata"].get("labels", {}).get("apps.kubernetes.io/pod-index", ""),
                  "statefulset": next((r["name"] for r in pod["metadata"].get("ownerReferences", [])
                                       if r.get("kind") == "StatefulSet"), "")}
        return [word.format(**values) for word in shlex.split(template)]

    def env(self, pod, ip):
        env = dict(os.environ)
        containers = pod.get("spec", {}).get("containers", [])
        for e in (containers[0].get("env", []) if containers else []):
            if "value" in e:
                env[e["name"]] = str(e["value"])
        manifest = os.path.join(self.dir, f"{pod['metadata']['uid']}.json")
        with open(manifest, "w") as f:
            json.dump(pod, f)
        env.update({"POD_NAME": pod["metadata"]["name"],
                    "POD_NAMESPACE": pod["metadata"].get("namespace", ""),
                    "POD_UID": pod["metadata"]["uid"], "POD_MANIFEST": manifest})
        if ip:
            env["POD_IP"] = ip
        return env

    def start_pod(self, pod, restarts=0, ip=None):
        uid = pod["metadata"]["uid"]
        try:
            ip = ip or self.allocate_ip(pod)
            proc = None
            if self.kubelet_cmd:
                proc = subprocess.Popen(self.command(self.kubelet_cmd, pod, ip), env=self.env(pod, ip),
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        except (OSError, ValueError, subprocess.SubprocessError) as e:
            self.set_pod_status(pod, {"phase": "Failed", "reason": "StartError", "message": str(e)})
            with self.store.cv:
                self.starting.discard(uid)
            return
        with self.store.cv:
            self.starting.discard(uid)
            if proc:
                self.procs[uid] = {"proc": proc, "pod": pod, "stopping": False, "ip": ip}
        t = now_rfc3339()
        self.set_pod_status(pod, {
            "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": "10.0.0.1",
            "startTime": t, "conditions": [
                {"type": c, "status": "True", "lastTransitionTime": t}
                for c in ("PodScheduled", "Initialized", "ContainersReady", "Ready")],
            "containerStatuses": [{"name": c.get("name", "main"), "ready": True,
                                   "restartCount": restarts, "image": c.get("image", ""),
                                   "started": True, "state": {"running": {"startedAt": t}}}
                                  for c in pod.get("spec", {}).get("containers", [{}])]})

    def restart_pod(self, pod):
        uid = pod["metadata"]["uid"]
        entry = self.procs.get(uid)
        statuses = pod.get("status", {}).get("containerStatuses", [{}])
        restarts = statuses[0].get("restartCount", 0) + 1
        self.set_pod_status(pod, {**pod.get("status", {}), "conditions": [
            {"type": "Ready", "status": "False", "reason": "ContainersNotReady",
             "lastTransitionTime": now_rfc3339()}]})
        time.sleep(1.0)  # CrashLoopBackOff's first step
        with self.store.cv:
            current = self.store.bucket(self.res("", "pods")).get(
                (pod["metadata"].get("namespace", ""), pod["metadata"]["name"]))
            if not current or current["metadata"]["uid"] != uid or \
                    current["metadata"].get("deletionTimestamp"):
                self.starting.discard(uid)
                return
        self.start_pod(current, restarts, entry["ip"] if entry else None)

    def set_pod_status(self, pod, status):
        res = self.res("", "pods")
        with self.store.cv:
            key = (pod["metadata"].get("namespace", ""), pod["metadata"]["name"])
            current = self.store.bucket(res).get(key)
            if not current or current["metadata"]["uid"] != pod["metadata"]["uid"]:
                return
            old = copy.deepcopy(current)
            current["status"] = status
            self.store.record(res, "MODIFIED", current, old)

    def hold_pod(self, pod, grace):
        """Called under the lock when a pod is deleted: stop its process first."""
        entry = self.procs.get(pod["metadata"]["uid"])
        if not entry:
            return False
        if not entry["stopping"]:
            entry["stopping"] = True
            if grace is None:
                grace = pod.get("spec", {}).get("terminationGracePeriodSeconds", 30)
            threading.Thread(target=self.stop_pod, args=(pod["metadata"]["uid"], grace),
                             daemon=True).start()
        return True

    def stop_pod(self, uid, grace):
        entry = self.procs[uid]
        proc = entry["proc"]
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            except ProcessLookupError:
                pass
        if self.pod_stop_cmd:
            subprocess.run(self.command(self.pod_stop_cmd, entry["pod"], entry["ip"]),
                           env=self.env(entry["pod"], entry["ip"]), timeout=60, check=False)
        res = self.res("", "pods")
        with self.store.cv:
            del self.procs[uid]
            for key, pod in list(self.store.bucket(res).items()):
                if pod["metadata"]["uid"] == uid:
                    self.store.remove(res, pod)

    def control(self, method, parts, body):
        """POST /standin/pods/NS/NAME/kill: SIGKILL the pod's process (a crash)."""
        if method == "POST" and len(parts) == 3 and parts[2] == "kill":
            with self.store.cv:
                pod = self.store.bucket(self.res("", "pods")).get((parts[0], parts[1]))
                entry = self.procs.get(pod["metadata"]["uid"]) if pod else None
            if not entry:
                return 404, {"error": "no process for that pod"}
            try:
                os.killpg(entry["proc"].pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return 200, {"killed": entry["proc"].pid}
        return 404, {"error": "unknown pod control"}

    def shutdown(self):
        for entry in list(self.procs.values()):
            if entry["proc"].poll() is None:
                try:
                    os.killpg(entry["proc"].pid, signal.SIGTERM)
                    entry["proc"].wait(timeout=5)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    try:
                        os.killpg(entry["proc"].pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass


def is_ready(pod):
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in pod.get("status", {}).get("conditions", []))


def owner_ref(obj, controller=False):
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "controller": controller, "blockOwnerDeletion": True}


def new_uid():
    import uuid
    return str(uuid.uuid4())
