"""What the local executor needs beyond Argo's rules before it runs anything.

Argo's rules are :func:`kaleidoscope.workflows.rules.validate.validate`, the same ``kaleidoscope
lint`` applies, called here in its strict form (every tag resolves before a node starts) with
the templates ``templateRef`` reaches. What stays here is about running on this machine: a
value for every workflow parameter (in the manifest or from ``-p``), whole numbers where the
executor counts, a retry strategy it can follow, ``emptyDir`` volumes only, mutexes it can take,
a pod's command and its outputs' sources, a loop's value it can expand, and ``templateRef``
names it can follow without running anything.

Each problem is one line, ``<place>: <what is wrong>``, with the place as a JSON path into the
manifest (``spec.templates[1].dag.tasks[2].depends``), so a user fixes them all in one round.
"""

from __future__ import annotations

import copy

from kaleidoscope.workflows.executor import fields, hooks
from kaleidoscope.workflows.executor.model import KINDS, POD_KINDS, Workflow, kind_of
from kaleidoscope.workflows.executor.retry import Strategy
from kaleidoscope.workflows.rules import loops
from kaleidoscope.workflows.rules.validate import validate


def check(
    workflow: Workflow, problems: list[str], parameters: dict[str, str] | None = None, in_image: bool = False
) -> None:
    """Append every problem found in a field-checked manifest to ``problems``.

    Args:
        workflow: the manifest's view.
        problems: where problems go.
        parameters: workflow parameters given on the command line (``-p``): they need no value
            in the manifest, and their values must be in the parameter's ``enum``.
        in_image: the nodes run in their images, so a pod may leave its command to the image.
    """
    given = dict(parameters or {})
    problems += validate(
        _as_submitted(workflow.manifest, given),
        strict=True,
        resolve=workflow.resolve,
        library=[(workflow.place(template), template) for _, template in workflow.reached],
        unsubstituted=fields.documented()["template"]["ignored"],
    )
    spec = workflow.spec
    _positive(spec, "parallelism", "spec", problems)
    _positive(spec, "activeDeadlineSeconds", "spec", problems)
    _retry(spec, "spec", problems)
    _volumes(spec.get("volumes"), "spec.volumes", problems)
    _synchronization(spec.get("synchronization"), "spec.synchronization", problems)
    _argument_values(workflow, given, problems)
    exit_hook = (spec.get("hooks") or {}).get("exit") or {}
    if exit_hook.get("templateRef") is not None:
        problems.append(
            "spec.hooks.exit.templateRef: not supported by the local executor: the workflow's exit handler "
            "names a template of its own"
        )
    for template, path in workflow.checked():
        if len([kind for kind in KINDS if kind in template]) == 1:  # else validate said so
            _template(workflow, template, path, problems, in_image)


def _as_submitted(manifest: dict, given: dict[str, str]) -> dict:
    """The manifest as ``argo submit -p NAME=VALUE`` sends it: each given value set on its
    parameter (added when the manifest does not declare it)."""
    if not given:
        return manifest
    submitted = copy.copy(manifest)
    spec = submitted["spec"] = dict(manifest["spec"])
    arguments = spec["arguments"] = dict(spec.get("arguments") or {})
    parameters = [dict(parameter) for parameter in arguments.get("parameters") or []]
    for parameter in parameters:
        if parameter.get("name") in given:
            parameter["value"] = given[parameter["name"]]
    declared = {parameter.get("name") for parameter in parameters}
    parameters += [{"name": name, "value": value} for name, value in given.items() if name not in declared]
    arguments["parameters"] = parameters
    return submitted


def _positive(owner: dict, field: str, path: str, problems: list[str]) -> None:
    value = owner.get(field)
    if value is None:
        return
    try:
        number = int(str(value))
    except ValueError:
        number = 0
    if isinstance(value, bool) or number < 1:
        problems.append(f"{path}.{field}: bad value {value!r}: must be a whole number >= 1")


def _retry(owner: dict, path: str, problems: list[str]) -> None:
    if owner.get("retryStrategy") is None:
        return
    try:
        Strategy.checked(owner["retryStrategy"])
    except ValueError as error:
        problems.append(f"{path}.retryStrategy.{error}")


def _volumes(volumes, path: str, problems: list[str]) -> None:
    names: set[str] = set()
    for index, volume in enumerate(volumes or []):
        name = volume.get("name")
        if not name:
            problems.append(f"{path}[{index}].name: required")
        elif name in names:
            problems.append(f"{path}[{index}].name: volume name '{name}' is used twice")
        names.add(name)


def _synchronization(synchronization, path: str, problems: list[str]) -> None:
    """Each mutex has a name (its variables are checked with the others'), a text namespace and a
    boolean ``database``; the list form only (Argo 4 has no ``mutex`` field)."""
    if synchronization is None:
        return
    if not isinstance(synchronization, dict):
        problems.append(f"{path}: must be a mapping")
        return
    for index, mutex in enumerate(synchronization.get("mutexes") or []):
        where = f"{path}.mutexes[{index}]"
        if not isinstance(mutex, dict):
            continue  # reported by the field checks
        if not isinstance(mutex.get("name"), str) or not mutex["name"]:
            problems.append(f"{where}.name: required: the mutex's name")
        if mutex.get("namespace") is not None and not isinstance(mutex["namespace"], str):
            problems.append(f"{where}.namespace: must be text")
        if mutex.get("database") is not None and not isinstance(mutex["database"], bool):
            problems.append(f"{where}.database: bad value {mutex['database']!r}: must be true or false")


def _argument_values(workflow: Workflow, given: dict[str, str], problems: list[str]) -> None:
    for index, param in enumerate(workflow.arguments):
        name = param.get("name")
        if name and param.get("value") is None and name not in given:
            problems.append(
                f"spec.arguments.parameters[{index}].value: workflow parameter '{name}' needs a value "
                f"(in the manifest or with -p {name}=...)"
            )


def _strings(value, path: str, problems: list[str], what: str) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        problems.append(f"{path}: {what} must be a list of strings")


def _template(workflow: Workflow, template: dict, path: str, problems: list[str], in_image: bool) -> None:
    kind = kind_of(template)
    _positive(template, "parallelism", path, problems)
    _positive(template, "activeDeadlineSeconds", path, problems)
    _retry(template, path, problems)
    _volumes(template.get("volumes"), f"{path}.volumes", problems)
    _synchronization(template.get("synchronization"), f"{path}.synchronization", problems)
    for index, out in enumerate((template.get("outputs") or {}).get("parameters") or []):
        where = f"{path}.outputs.parameters[{index}]"
        source = out.get("valueFrom") or {}
        if not out.get("name"):
            problems.append(f"{where}.name: required")
        if kind in POD_KINDS and not source.get("path"):
            problems.append(f"{where}.valueFrom.path: a {kind} template's output parameter needs a path")
        if kind not in POD_KINDS and not source.get("parameter"):
            problems.append(
                f"{where}.valueFrom.parameter: a {kind} template's output parameter needs valueFrom.parameter"
            )
        if kind not in POD_KINDS and source.get("path"):
            problems.append(f"{where}.valueFrom.path: only container and script templates read files")
    if kind in POD_KINDS:
        _pod(workflow, template, kind, f"{path}.{kind}", problems, in_image)
    elif kind == "dag":
        _dag(template, f"{path}.dag", problems)
    else:
        _steps(template, f"{path}.steps", problems)


def _pod(workflow: Workflow, template: dict, kind: str, path: str, problems: list[str], in_image: bool) -> None:
    body = template[kind]
    if not body.get("command") and not in_image:
        problems.append(
            f"{path}.command: required locally: the command runs on this machine, "
            f"and the image's own entrypoint is unknown without the image"
        )
    elif body.get("command") is not None:
        _strings(body["command"], f"{path}.command", problems, "command")
    if body.get("args") is not None:
        _strings(body["args"], f"{path}.args", problems, "args")
    if kind == "script" and not isinstance(body.get("source"), str):
        problems.append(f"{path}.source: a script template needs its source")
    volumes = workflow.volumes(template)
    for index, mount in enumerate(body.get("volumeMounts") or []):
        where = f"{path}.volumeMounts[{index}]"
        volume = volumes.get(mount.get("name"))
        if volume is None:
            problems.append(f"{where}.name: no volume named '{mount.get('name')}' in the template or spec.volumes")
        elif "emptyDir" not in volume:
            problems.append(
                f"{where}: volume '{mount['name']}' is not an emptyDir volume; the local executor supports emptyDir only"
            )
        mount_path = str(mount.get("mountPath") or "")
        if not mount_path.startswith("/") or mount_path.rstrip("/") == "":
            problems.append(f"{where}.mountPath: bad value {mount_path!r}: must be an absolute path other than /")
    for index, env in enumerate(body.get("env") or []):
        where = f"{path}.env[{index}]"
        if not env.get("name"):
            problems.append(f"{where}.name: required")
        source = env.get("valueFrom")
        if source is not None:
            ref = source.get("secretKeyRef") or {}
            if not ref.get("name") or not ref.get("key"):
                problems.append(f"{where}.valueFrom.secretKeyRef: needs name and key")


def _call(step: dict, path: str, problems: list[str]) -> None:
    """A task or step: a ``templateRef`` the executor can follow, a loop it can expand, argument values."""
    if step.get("templateRef") is not None:  # not found: said when the references were followed
        _template_ref(step["templateRef"], f"{path}.templateRef", problems)
    if hooks.exit_hook(step) is not None and loops.has_loop(step):
        problems.append(
            f"{path}: not supported by the local executor: an exit hook on a task or step with a loop "
            f"(Argo hooks the loop's group node); hook the template the loop runs instead"
        )
    if step.get("withItems") is not None and not isinstance(step["withItems"], list):
        problems.append(f"{path}.withItems: must be a list")
    if step.get("withParam") is not None and not isinstance(step["withParam"], str):
        problems.append(f"{path}.withParam: must be a string (a JSON list, usually from a variable)")
    sequence = step.get("withSequence")
    if sequence is not None and sequence.get("count") is None and sequence.get("end") is None:
        problems.append(f"{path}.withSequence: needs count or end")
    if sequence is not None and sequence.get("count") is not None and sequence.get("end") is not None:
        problems.append(f"{path}.withSequence: count and end cannot both be given")
    for index, param in enumerate((step.get("arguments") or {}).get("parameters") or []):
        if not param.get("name"):
            problems.append(f"{path}.arguments.parameters[{index}].name: required")
        elif param.get("value") is None:
            problems.append(f"{path}.arguments.parameters[{index}].value: required")


def _template_ref(ref: dict, path: str, problems: list[str]) -> None:
    """A templateRef names its object and template with text (Argo's validateTemplateHolder)."""
    for field in ("name", "template"):
        value = ref.get(field)
        if not isinstance(value, str) or not value:
            what = "the WorkflowTemplate's name" if field == "name" else "the template's name in it"
            problems.append(f"{path}.{field}: required: {what}")
        elif "{{" in value:
            problems.append(
                f"{path}.{field}: a reference named with variables is resolved only at run time on a cluster; "
                f"the local executor resolves references before it runs anything: name it"
            )
    if not isinstance(ref.get("clusterScope", False), bool):
        problems.append(f"{path}.clusterScope: bad value {ref['clusterScope']!r}: must be true or false")


def _dag(template: dict, path: str, problems: list[str]) -> None:
    for index, task in enumerate(template["dag"].get("tasks") or []):
        if isinstance(task, dict):
            _call(task, f"{path}.tasks[{index}]", problems)


def _steps(template: dict, path: str, problems: list[str]) -> None:
    for group_index, group in enumerate(template["steps"] if isinstance(template["steps"], list) else []):
        for index, step in enumerate(group if isinstance(group, list) else []):
            if isinstance(step, dict):
                _call(step, f"{path}[{group_index}][{index}]", problems)
