"""A pod's and its container's ``securityContext`` as ``podman run`` flags, as the kubelet applies them.

The pod-level context is the template's ``securityContext`` if it has one, else the workflow's
``spec.securityContext`` (Argo replaces the whole object: ``workflowpod.go``); a field of the
container's own context wins over the pod's same field (Kubernetes' rule). Applied:

- ``runAsUser`` / ``runAsGroup`` -> ``--user UID[:GID]``; ``fsGroup`` and ``supplementalGroups``
  -> ``--group-add`` (and ``fsGroup`` owns the emptyDir folders, as the kubelet chowns them);
- ``runAsNonRoot`` checked as the kubelet checks it, before the container starts;
- ``readOnlyRootFilesystem`` -> ``--read-only`` (without podman's writable ``/tmp``, ``/run``);
- ``allowPrivilegeEscalation: false`` -> ``--security-opt no-new-privileges``;
- ``capabilities.drop`` / ``add`` -> ``--cap-drop`` / ``--cap-add``; ``privileged`` -> ``--privileged``;
- ``seccompProfile.type: Unconfined`` -> ``--security-opt seccomp=unconfined`` (``RuntimeDefault``
  and no profile both get podman's default profile).

Not applied (no podman equivalent here, or meaningless on one machine): ``seLinuxOptions``,
``appArmorProfile``, ``procMount``, ``sysctls``, ``windowsOptions``, ``fsGroupChangePolicy``,
``seccompProfile.type: Localhost``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kaleidoscope.workflows.executor.process import NodeError

_INHERITED = ("runAsUser", "runAsGroup", "runAsNonRoot", "seccompProfile")


@dataclass
class Applied:
    flags: list[str] = field(default_factory=list)
    #: The group that owns the pod's emptyDir folders (``fsGroup``), if any.
    fs_group: int | None = None


def pod_context(workflow_context: dict | None, template: dict) -> dict:
    own = template.get("securityContext")
    return dict(own if own is not None else workflow_context or {})


def apply(pod: dict, container: dict, image_user: str, container_name: str) -> Applied:
    """The flags for a container with these contexts in an image whose ``USER`` is ``image_user``.

    Raises:
        NodeError: ``runAsNonRoot`` and the container would run as root, or as a user name that
            cannot be verified (the kubelet's CreateContainerConfigError, in its words).
    """
    effective = {key: pod[key] for key in _INHERITED if pod.get(key) is not None}
    effective.update({key: value for key, value in container.items() if value is not None})
    applied = Applied()
    user, group = effective.get("runAsUser"), effective.get("runAsGroup")
    if effective.get("runAsNonRoot"):
        _check_non_root(user, image_user, container_name)
    if user is not None or group is not None:
        own_user = image_user.partition(":")[0] or "0"
        applied.flags.append(
            f"--user={user if user is not None else own_user}" + (f":{group}" if group is not None else "")
        )
    if pod.get("fsGroup") is not None:
        applied.fs_group = int(pod["fsGroup"])
        applied.flags.append(f"--group-add={applied.fs_group}")
    applied.flags += [f"--group-add={extra}" for extra in pod.get("supplementalGroups") or []]
    if effective.get("readOnlyRootFilesystem"):
        # Podman's --read-only mounts a writable tmpfs on /tmp, /var/tmp and /run unless told not
        # to; Kubernetes gives a read-only root nothing writable but the pod's volumes.
        applied.flags += ["--read-only", "--read-only-tmpfs=false"]
    if effective.get("allowPrivilegeEscalation") is False:
        applied.flags += ["--security-opt", "no-new-privileges"]
    if effective.get("privileged"):
        applied.flags.append("--privileged")
    capabilities = effective.get("capabilities") or {}
    applied.flags += [f"--cap-drop={name}" for name in capabilities.get("drop") or []]
    applied.flags += [f"--cap-add={name}" for name in capabilities.get("add") or []]
    if (effective.get("seccompProfile") or {}).get("type") == "Unconfined":
        applied.flags += ["--security-opt", "seccomp=unconfined"]
    return applied


def _check_non_root(user, image_user: str, container_name: str) -> None:
    if user is not None:
        if int(user) == 0:
            raise NodeError(f"container's runAsUser breaks non-root policy (container: {container_name})")
        return
    name = image_user.partition(":")[0]
    if not name.isdigit() and name:
        raise NodeError(
            f"container has runAsNonRoot and image has non-numeric user ({name}), cannot verify user is non-root "
            f"(container: {container_name})"
        )
    if not name or int(name) == 0:
        raise NodeError(f"container has runAsNonRoot and image will run as root (container: {container_name})")
