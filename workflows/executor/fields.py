"""Which manifest fields the local executor supports, ignores or refuses.

Every object in a manifest is checked against a table here before anything runs. A field is
*supported* (the executor gives it Argo's meaning), *ignored* (it only matters to Kubernetes or
to Argo's server: scheduling, images, resources, garbage collection, metrics), or refused with a
reason: the executor would get its meaning wrong, so it says so instead of running something
else. A field in no table (a misspelling, or a field newer than this list) is refused too.
"""

from __future__ import annotations

_ARTIFACTS = "artifacts need an artifact repository; the local executor passes parameters only"
_POD_ONLY = "has no local equivalent"
_VOLUME_KINDS = (
    "awsElasticBlockStore",
    "azureDisk",
    "azureFile",
    "cephfs",
    "cinder",
    "configMap",
    "csi",
    "downwardAPI",
    "ephemeral",
    "fc",
    "flexVolume",
    "flocker",
    "gcePersistentDisk",
    "gitRepo",
    "glusterfs",
    "hostPath",
    "image",
    "iscsi",
    "nfs",
    "persistentVolumeClaim",
    "photonPersistentDisk",
    "portworxVolume",
    "projected",
    "quobyte",
    "rbd",
    "scaleIO",
    "secret",
    "storageos",
    "vsphereVolume",
)

#: Per object kind: field -> (status, kind of its value or None, reason when refused).
#: A kind ending in "[]" is a list of that kind; "{}" a mapping of free-form values.
TABLES: dict[str, dict[str, tuple]] = {
    "spec": {
        "entrypoint": ("supported", None),
        "arguments": ("supported", "arguments"),
        "templates": ("supported", "template[]"),
        "parallelism": ("supported", None),
        "activeDeadlineSeconds": ("supported", None),
        "volumes": ("supported", "volume[]"),
        "retryStrategy": ("supported", "retryStrategy"),
        **dict.fromkeys(
            (
                "affinity",
                "archiveLogs",
                "automountServiceAccountToken",
                "dnsConfig",
                "dnsPolicy",
                "executor",
                "hostAliases",
                "hostNetwork",
                "imagePullSecrets",
                "metrics",
                "nodeSelector",
                "podDisruptionBudget",
                "podGC",
                "podMetadata",
                "podPriorityClassName",
                "podResources",
                "priority",
                "schedulerName",
                "securityContext",
                "serviceAccountName",
                "tolerations",
                "ttlStrategy",
                "workflowMetadata",
            ),
            ("ignored", None),
        ),
        "onExit": ("supported", None),
        "hooks": ("supported", "hooks"),  # its exit hook is the workflow's exit handler
        "artifactRepositoryRef": ("refused", None, _ARTIFACTS),
        "artifactGC": ("refused", None, _ARTIFACTS),
        "volumeClaimTemplates": (
            "refused",
            None,
            "persistent volume claims are not supported locally (emptyDir volumes only)",
        ),
        "volumeClaimGC": (
            "refused",
            None,
            "persistent volume claims are not supported locally (emptyDir volumes only)",
        ),
        "workflowTemplateRef": ("supported", "workflowTemplateRef"),  # joined at load (load.py)
        "synchronization": ("supported", "synchronization"),
        "suspend": ("refused", None, "suspending needs someone to resume the workflow through Argo"),
        "shutdown": ("refused", None, "a shutdown strategy is set on a running workflow through Argo"),
        "templateDefaults": (
            "refused",
            None,
            "template defaults are not supported locally; set the fields on each template",
        ),
        "podSpecPatch": (
            "refused",
            None,
            "a pod spec patch can add volumes and containers that would run differently locally",
        ),
        "executorPlugins": ("refused", None, "executor plugins run in the cluster"),
        "resourceClaims": ("refused", None, "dynamic resource claims " + _POD_ONLY),
    },
    "template": {
        "name": ("supported", None),
        "inputs": ("supported", "inputs"),
        "outputs": ("supported", "outputs"),
        "container": ("supported", "container"),
        "script": ("supported", "script"),
        "dag": ("supported", "dag"),
        "steps": ("supported", "stepGroup[]"),
        "retryStrategy": ("supported", "retryStrategy"),
        "parallelism": ("supported", None),
        "activeDeadlineSeconds": ("supported", None),
        "volumes": ("supported", "volume[]"),
        "annotations": ("supported", None),
        **dict.fromkeys(
            (
                "metadata",
                "nodeSelector",
                "affinity",
                "tolerations",
                "securityContext",
                "serviceAccountName",
                "automountServiceAccountToken",
                "schedulerName",
                "priorityClassName",
                "hostAliases",
                "podResources",
                "metrics",
                "executor",
                # A node is a process, not a pod: it never waits Pending (a node waiting for the
                # workflow's parallelism is not started yet), and there is no pod spec to patch.
                "pendingTimeout",
                "podSpecPatch",
            ),
            ("ignored", None),
        ),
        "containerSet": ("refused", None, "container sets are not supported locally"),
        "resource": ("refused", None, "resource templates create Kubernetes objects"),
        "suspend": ("refused", None, "suspend templates need someone to resume them through Argo"),
        "http": ("refused", None, "HTTP templates run in Argo's agent pod and are not supported locally"),
        "plugin": ("refused", None, "plugin templates run in the cluster"),
        "data": ("refused", None, "data templates read artifacts; " + _ARTIFACTS),
        "sidecars": ("refused", None, "sidecars are not supported locally"),
        "initContainers": ("refused", None, "init containers are not supported locally"),
        "daemon": ("refused", None, "daemon containers are not supported locally"),
        "memoize": ("refused", None, "memoization caches outputs in a ConfigMap"),
        "synchronization": ("supported", "synchronization"),  # its mutexes; taken by the node (runner.py)
        "archiveLocation": ("refused", None, _ARTIFACTS),
        "timeout": ("refused", None, "not supported locally; use activeDeadlineSeconds"),
        "failFast": ("refused", None, "template-level failFast is not supported locally (dag.failFast is)"),
        "resourceClaims": ("refused", None, "dynamic resource claims " + _POD_ONLY),
    },
    "container": {
        "name": ("supported", None),
        "image": ("supported", None),
        "command": ("supported", None),
        "args": ("supported", None),
        "env": ("supported", "env[]"),
        "volumeMounts": ("supported", "volumeMount[]"),
        "workingDir": ("supported", None),
        **dict.fromkeys(
            (
                "imagePullPolicy",
                "resources",
                "securityContext",
                "lifecycle",
                "livenessProbe",
                "readinessProbe",
                "startupProbe",
                "ports",
                "terminationMessagePath",
                "terminationMessagePolicy",
                "resizePolicy",
                "restartPolicy",
                "restartPolicyRules",
            ),
            ("ignored", None),
        ),
        "envFrom": ("refused", None, "envFrom reads ConfigMaps and Secrets wholesale; list the variables in env"),
        "volumeDevices": ("refused", None, "block devices " + _POD_ONLY),
        "stdin": ("refused", None, "nothing writes to a node's standard input"),
        "stdinOnce": ("refused", None, "nothing writes to a node's standard input"),
        "tty": ("refused", None, "nodes run without a terminal"),
    },
    "env": {
        "name": ("supported", None),
        "value": ("supported", None),
        "valueFrom": ("supported", "envSource"),
    },
    "envSource": {
        "secretKeyRef": ("supported", "secretKeyRef"),
        "configMapKeyRef": ("refused", None, "ConfigMaps live in the cluster; use a literal value"),
        "fieldRef": ("refused", None, "pod fields " + _POD_ONLY),
        "resourceFieldRef": ("refused", None, "container resources " + _POD_ONLY),
        "fileKeyRef": ("refused", None, "not supported locally"),
    },
    "secretKeyRef": {
        "name": ("supported", None),
        "key": ("supported", None),
        "optional": ("supported", None),
    },
    "volumeMount": {
        "name": ("supported", None),
        "mountPath": ("supported", None),
        **dict.fromkeys(("readOnly", "recursiveReadOnly", "mountPropagation"), ("ignored", None)),
        "subPath": ("refused", None, "sub-path mounts are not supported locally"),
        "subPathExpr": ("refused", None, "sub-path mounts are not supported locally"),
    },
    "volume": {
        "name": ("supported", None),
        "emptyDir": ("supported", "emptyDir"),
        **{
            kind: ("refused", None, f"{kind} volumes are not supported locally (emptyDir volumes only)")
            for kind in _VOLUME_KINDS
        },
    },
    "emptyDir": dict.fromkeys(("medium", "sizeLimit"), ("ignored", None)),
    "dag": {
        "tasks": ("supported", "task[]"),
        "target": ("supported", None),
        "failFast": ("supported", None),
    },
    "task": {
        "name": ("supported", None),
        "template": ("supported", None),
        "arguments": ("supported", "arguments"),
        "depends": ("supported", None),
        "dependencies": ("supported", None),
        "when": ("supported", None),
        "withItems": ("supported", None),
        "withParam": ("supported", None),
        "withSequence": ("supported", "sequence"),
        "continueOn": ("supported", "continueOn"),
        "templateRef": ("supported", "templateRef"),  # resolved at load (model.py)
        "inline": ("refused", None, "inline templates are not supported locally; name the template"),
        # An exit hook runs once the task or step ended (hooks.py); other hooks need expressions.
        "hooks": ("supported", "hooks"),
        "onExit": ("supported", None),
    },
    "step": {},  # a task without depends/dependencies, filled in below
    # Only the exit hook: any other runs while its expression holds, which needs Argo's expression
    # language and a controller watching the node (workflow/controller/hooks.go).
    "hooks": {"exit": ("supported", "lifecycleHook")},
    "lifecycleHook": {
        "template": ("supported", None),
        "templateRef": ("supported", "templateRef"),
        "arguments": ("supported", "arguments"),
        "expression": ("refused", None, "a hook's expression needs Argo's expression language"),
    },
    "arguments": {
        "parameters": ("supported", "argument[]"),
        "artifacts": ("refused", None, _ARTIFACTS),
    },
    "argument": {
        "name": ("supported", None),
        "value": ("supported", None),
        "default": ("supported", None),
        "description": ("ignored", None),
        "enum": ("supported", None),
        "valueFrom": ("refused", None, "parameter values from ConfigMaps or expressions are not supported locally"),
        "globalName": ("refused", None, "globalName applies to output parameters"),
    },
    "inputs": {
        "parameters": ("supported", "argument[]"),
        "artifacts": ("refused", None, _ARTIFACTS),
    },
    "outputs": {
        "parameters": ("supported", "output[]"),
        "artifacts": ("refused", None, _ARTIFACTS),
        "result": ("refused", None, "outputs.result is set by the run, not in a manifest"),
        "exitCode": ("refused", None, "outputs.exitCode is set by the run, not in a manifest"),
    },
    "output": {
        "name": ("supported", None),
        "valueFrom": ("supported", "valueFrom"),
        "globalName": ("supported", None),
        "description": ("ignored", None),
        "value": ("refused", None, "an output parameter takes its value from valueFrom"),
        "default": ("refused", None, "use valueFrom.default"),
        "enum": ("ignored", None),
    },
    "valueFrom": {
        "path": ("supported", None),
        "parameter": ("supported", None),
        "default": ("supported", None),
        "expression": ("refused", None, "expressions need Argo's expression language"),
        "supplied": ("refused", None, "supplied values come from resuming a suspend template"),
        "configMapKeyRef": ("refused", None, "ConfigMaps live in the cluster"),
        "event": ("refused", None, "events come from Argo's event source"),
        "jqFilter": ("refused", None, "applies to resource templates"),
        "jsonPath": ("refused", None, "applies to resource templates"),
    },
    "retryStrategy": {
        "limit": ("supported", None),
        "retryPolicy": ("supported", None),
        "backoff": ("supported", "backoff"),
        "affinity": ("ignored", None),
        "expression": ("supported", None),
    },
    # A mutex, workflow-level or template-level, is a lock file on this machine (synchronization.py);
    # a semaphore's size lives in a ConfigMap or Argo's database, which a local run has not.
    "synchronization": {
        "mutexes": ("supported", "mutex[]"),
        "semaphores": ("refused", None, "a semaphore's limit lives in a ConfigMap or Argo's database"),
    },
    "mutex": dict.fromkeys(("name", "namespace", "database"), ("supported", None)),
    # References to WorkflowTemplates and ClusterWorkflowTemplates given to the run (registry.py).
    "templateRef": dict.fromkeys(("name", "template", "clusterScope"), ("supported", None)),
    "workflowTemplateRef": dict.fromkeys(("name", "clusterScope"), ("supported", None)),
    "backoff": dict.fromkeys(("duration", "factor", "cap", "maxDuration"), ("supported", None)),
    "sequence": dict.fromkeys(("count", "start", "end", "format"), ("supported", None)),
    "continueOn": dict.fromkeys(("failed", "error"), ("supported", None)),
}
TABLES["script"] = {**TABLES["container"], "source": ("supported", None)}
TABLES["step"] = {name: entry for name, entry in TABLES["task"].items() if name not in ("depends", "dependencies")}

_LIST_KINDS = {"stepGroup": "step[]"}  # a steps template is a list of lists of steps


def check(value, kind: str, path: str, problems: list[str]) -> None:
    """Append a problem for every refused or unknown field under ``value`` (an object of ``kind``)."""
    if kind.endswith("[]"):
        item_kind = kind[:-2]
        if not isinstance(value, list):
            problems.append(f"{path}: must be a list")
            return
        for index, item in enumerate(value):
            check(item, _LIST_KINDS.get(item_kind, item_kind), f"{path}[{index}]", problems)
        return
    if not isinstance(value, dict):
        problems.append(f"{path}: must be a mapping")
        return
    table = TABLES[kind]
    for field, item in value.items():
        entry = table.get(field)
        where = f"{path}.{field}"
        if entry is None and kind == "hooks":
            problems.append(
                f"{where}: not supported by the local executor: only the exit hook; a hook named otherwise runs "
                f"when its expression holds while the node runs, which needs Argo's controller"
            )
        elif entry is None:
            problems.append(f"{where}: unknown field, refused (the local executor runs only the fields it knows)")
        elif entry[0] == "refused":
            problems.append(f"{where}: not supported by the local executor: {entry[2]}")
        elif entry[0] == "supported" and entry[1] is not None and item is not None:
            check(item, entry[1], where, problems)
    if kind == "volume" and not any(field in value for field in ("emptyDir", *_VOLUME_KINDS)):
        problems.append(f"{path}: a volume needs a kind; the local executor supports emptyDir only")


def documented() -> dict[str, dict[str, list]]:
    """The tables as {kind: {status: [fields]}} (for documentation and tests)."""
    return {
        kind: {
            status: sorted(field for field, entry in table.items() if entry[0] == status)
            for status in ("supported", "ignored", "refused")
        }
        for kind, table in TABLES.items()
    }
