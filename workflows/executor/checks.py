"""Checks that need the whole manifest: names, references, cycles, variables, arguments.

Each problem is one line, ``<place>: <what is wrong>``, with the place as a JSON path into the
manifest (``spec.templates[1].dag.tasks[2].depends``), so a user fixes them all in one round.
Argo's own validation (``workflow/validate``) refuses the same things before a workflow starts.
"""

from __future__ import annotations

from kaleidoscope.workflows.executor import references
from kaleidoscope.workflows.executor.model import KINDS, POD_KINDS, Workflow, kind_of
from kaleidoscope.workflows.executor.retry import Strategy
from kaleidoscope.workflows.rules import loops, structure
from kaleidoscope.workflows.rules.names import field_name_problem


def check(workflow: Workflow, problems: list[str], parameters: dict[str, str] | None = None) -> None:
    """Append every problem found in a field-checked manifest to ``problems``.

    Args:
        workflow: the manifest's view.
        problems: where problems go.
        parameters: workflow parameters given on the command line (``-p``): they need no value
            in the manifest, and their values must be in the parameter's ``enum``.
    """
    spec = workflow.spec
    templates = spec.get("templates")
    if not templates:
        problems.append("spec.templates: a workflow needs at least one template")
        return
    seen: set[str] = set()
    for index, template in enumerate(templates):
        path = f"spec.templates[{index}]"
        if not isinstance(template, dict):
            continue
        name = template.get("name")
        if not isinstance(name, str) or not name:
            problems.append(f"{path}.name: a template needs a name")
        elif name in seen:
            problems.append(f"{path}.name: template name '{name}' is used twice")
        seen.add(name if isinstance(name, str) else "")
        kinds = [kind for kind in KINDS if kind in template]
        if len(kinds) != 1:
            problems.append(
                f"{path}: a template needs exactly one of container, script, dag, steps "
                f"(has {', '.join(kinds) or 'none'})"
            )
    for _, template in workflow.reached:  # referenced by templateRef: checked as the workflow's own
        kinds = [kind for kind in KINDS if kind in template]
        if len(kinds) != 1:
            problems.append(
                f"{workflow.place(template)}: a template needs exactly one of container, script, dag, steps "
                f"(has {', '.join(kinds) or 'none'})"
            )
    entrypoint = spec.get("entrypoint")
    if not entrypoint:
        problems.append("spec.entrypoint: required")
    elif entrypoint not in workflow.templates:
        problems.append(f"spec.entrypoint: no template named '{entrypoint}'")
    handler = spec.get("onExit")
    if handler is not None and (not isinstance(handler, str) or handler not in workflow.templates):
        problems.append(f"spec.onExit: no template named {handler!r}")
    structural = len(problems)  # later checks rely on well-formed templates
    _positive(spec, "parallelism", "spec", problems)
    _positive(spec, "activeDeadlineSeconds", "spec", problems)
    _retry(spec, "spec", problems)
    _volumes(spec.get("volumes"), "spec.volumes", problems)
    _synchronization(spec.get("synchronization"), "spec.synchronization", problems)
    _arguments(workflow, parameters or {}, problems)
    if structural:
        return
    _entrypoint_inputs(workflow, set(parameters or ()), problems)
    before = len(problems)
    for template, path in workflow.checked():
        _template(workflow, template["name"], template, path, problems)
    if len(problems) == before:
        references.check(workflow, set(parameters or ()), problems)


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


def _arguments(workflow: Workflow, given: dict[str, str], problems: list[str]) -> None:
    names: set[str] = set()
    for index, param in enumerate(workflow.arguments):
        path = f"spec.arguments.parameters[{index}]"
        name = param.get("name")
        if not name:
            problems.append(f"{path}.name: required")
            continue
        if name in names:
            problems.append(f"{path}.name: parameter '{name}' is declared twice")
        names.add(name)
        if param.get("value") is None and name not in given:
            problems.append(
                f"{path}.value: workflow parameter '{name}' needs a value (in the manifest or with -p {name}=...)"
            )
        _enum(param, given.get(name, param.get("value")), path, problems)


def _entrypoint_inputs(workflow: Workflow, given: set[str], problems: list[str]) -> None:
    """The entrypoint's inputs come from the workflow's parameters, by name (Argo's validation
    processes the entrypoint with the workflow's arguments)."""
    entry = workflow.templates[workflow.spec["entrypoint"]]
    supplied = {param.get("name") for param in workflow.arguments} | given
    for param in (entry.get("inputs") or {}).get("parameters") or []:
        if param.get("name") not in supplied and param.get("value") is None and param.get("default") is None:
            problems.append(
                f"spec.entrypoint: template '{entry['name']}' needs input parameter '{param.get('name')}', "
                f"which no workflow parameter supplies and has no default"
            )


def _enum(param: dict, value, path: str, problems: list[str]) -> None:
    enum = param.get("enum")
    if enum is None or value is None:
        return
    if not isinstance(enum, list) or not enum:
        problems.append(f"{path}.enum: must be a non-empty list")
    elif str(value) not in [str(item) for item in enum]:
        problems.append(f"{path}: value {value!r} is not one of {', '.join(str(item) for item in enum)}")


def _strings(value, path: str, problems: list[str], what: str) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        problems.append(f"{path}: {what} must be a list of strings")


def _template(workflow: Workflow, name: str, template: dict, path: str, problems: list[str]) -> None:
    kind = kind_of(template)
    _positive(template, "parallelism", path, problems)
    _positive(template, "activeDeadlineSeconds", path, problems)
    _retry(template, path, problems)
    _volumes(template.get("volumes"), f"{path}.volumes", problems)
    _synchronization(template.get("synchronization"), f"{path}.synchronization", problems)
    inputs = (template.get("inputs") or {}).get("parameters") or []
    seen: set[str] = set()
    for index, param in enumerate(inputs):
        if not param.get("name"):
            problems.append(f"{path}.inputs.parameters[{index}].name: required")
        elif param["name"] in seen:
            problems.append(f"{path}.inputs.parameters[{index}].name: input '{param['name']}' is declared twice")
        seen.add(param.get("name"))
        _enum(param, param.get("value", param.get("default")), f"{path}.inputs.parameters[{index}]", problems)
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
        _pod(workflow, template, kind, f"{path}.{kind}", problems)
    elif kind == "dag":
        _dag(workflow, template, f"{path}.dag", problems)
    else:
        _steps(workflow, template, f"{path}.steps", problems)


def _pod(workflow: Workflow, template: dict, kind: str, path: str, problems: list[str]) -> None:
    body = template[kind]
    if not body.get("command"):
        problems.append(
            f"{path}.command: required locally: the command runs on this machine, "
            f"and the image's own entrypoint is unknown without the image"
        )
    else:
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


def _call(workflow: Workflow, step: dict, path: str, problems: list[str], caller: dict) -> None:
    """A task or step of ``caller``: its template exists, its loop is well-formed, required inputs are given."""
    name = step.get("name")
    why = field_name_problem(name) if name else None  # a missing name: rules/structure.py says so
    if why:
        problems.append(f"{path}.name: bad value {name!r}: {why}")
    template = step.get("template")
    called = workflow.resolve(step, caller)
    if step.get("templateRef") is not None:  # not found: said when the references were followed
        if template:
            problems.append(f"{path}.template: template name cannot be specified with templateRef")
        _template_ref(step["templateRef"], f"{path}.templateRef", problems)
    elif not template:
        problems.append(f"{path}.template: required")
    elif called is None:
        problems.append(f"{path}.template: no template named '{step['template']}'")
    present = loops.loop_fields(step)
    if len(present) > 1:
        problems.append(f"{path}: only one of {', '.join(present)} may be given")
    if step.get("withItems") is not None and not isinstance(step["withItems"], list):
        problems.append(f"{path}.withItems: must be a list")
    if step.get("withParam") is not None and not isinstance(step["withParam"], str):
        problems.append(f"{path}.withParam: must be a string (a JSON list, usually from a variable)")
    sequence = step.get("withSequence")
    if sequence is not None and sequence.get("count") is None and sequence.get("end") is None:
        problems.append(f"{path}.withSequence: needs count or end")
    if sequence is not None and sequence.get("count") is not None and sequence.get("end") is not None:
        problems.append(f"{path}.withSequence: count and end cannot both be given")
    given = {param.get("name") for param in (step.get("arguments") or {}).get("parameters") or []}
    for index, param in enumerate((step.get("arguments") or {}).get("parameters") or []):
        if not param.get("name"):
            problems.append(f"{path}.arguments.parameters[{index}].name: required")
        elif param.get("value") is None:
            problems.append(f"{path}.arguments.parameters[{index}].value: required")
    if called is not None:
        for param in (called.get("inputs") or {}).get("parameters") or []:
            if param.get("name") not in given and param.get("value") is None and param.get("default") is None:
                problems.append(
                    f"{path}.arguments: template '{called['name']}' needs input parameter "
                    f"'{param.get('name')}', which is not supplied and has no default"
                )


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


def _dag(workflow: Workflow, template: dict, path: str, problems: list[str]) -> None:
    # The DAG's structure: Argo's rules, in the lint's words (rules/structure.py); each task's
    # call is checked here, as the executor will make it.
    problems += structure.dag(template["dag"], path).problems
    for index, task in enumerate(template["dag"].get("tasks") or []):
        if isinstance(task, dict):
            _call(workflow, task, f"{path}.tasks[{index}]", problems, template)


def _steps(workflow: Workflow, template: dict, path: str, problems: list[str]) -> None:
    # The groups' structure: Argo's rules, in the lint's words (rules/structure.py); each step's
    # call is checked here, as the executor will make it.
    problems += structure.steps(template["steps"], path)
    for group_index, group in enumerate(template["steps"] if isinstance(template["steps"], list) else []):
        for index, step in enumerate(group if isinstance(group, list) else []):
            if isinstance(step, dict):
                _call(workflow, step, f"{path}[{group_index}][{index}]", problems, template)
