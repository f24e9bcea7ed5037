"""Which variables each field may use; every other tag is refused before anything runs.

Argo validates the same way (``workflow/validate``): a template sees the workflow's variables,
its own inputs and ``node.name``; a pod also ``pod.name``, ``retries`` and its outputs' paths; a
DAG task sees the outputs of the tasks it depends on (directly or not); a step those of the
steps in earlier groups; a task or step with a loop its ``item``; the workflow-level
``synchronization`` the workflow's variables but its outputs (Argo substitutes it before the run
and leaves an unknown tag as written, which would name another lock). What a task or step offers,
and how tags are read, are :mod:`kaleidoscope.workflows.rules.variables`. Expression tags
(``{{=...}}``) need Argo's expression language and are refused; so is a ``{{`` never closed.
"""

from __future__ import annotations

from kaleidoscope.workflows.executor.model import POD_KINDS, Dag, Workflow, kind_of, template_names
from kaleidoscope.workflows.rules.loops import has_loop
from kaleidoscope.workflows.rules.variables import is_expression, is_item, node_variables, strings, tags


def check(workflow: Workflow, given: set[str], problems: list[str]) -> None:
    """Append a problem for every tag no value can fill where it stands."""
    parameters = {param["name"] for param in workflow.arguments} | given
    globals_ = workflow.global_names(parameters)
    for index, param in enumerate(workflow.arguments):
        _scan(param.get("value"), f"spec.arguments.parameters[{index}].value", globals_, problems)
    # Locks are taken before any node ran: no workflow output exists yet.
    before_run = {name for name in globals_ if not name.startswith("workflow.outputs.")}
    _scan(workflow.spec.get("synchronization"), "spec.synchronization", before_run, problems)
    for name, template in workflow.templates.items():
        path = workflow.paths[name]
        names = template_names(workflow, template, globals_)
        kind = kind_of(template)
        for field in ("inputs", "annotations"):
            _scan(template.get(field), f"{path}.{field}", names, problems)
        outputs = template.get("outputs")
        if kind in POD_KINDS:
            _scan(template[kind], f"{path}.{kind}", names, problems)
            _scan(outputs, f"{path}.outputs", names, problems)
            _scan(template.get("activeDeadlineSeconds"), f"{path}.activeDeadlineSeconds", names, problems)
        elif kind == "dag":
            dag = Dag.of(template)
            everything = set(names)
            for index, task in enumerate(template["dag"]["tasks"]):
                scope = set(names) | {"tasks.name"}
                for ancestor in dag.ancestors(task["name"]):
                    scope |= _offered("tasks", dag.tasks[ancestor], workflow)
                everything |= _offered("tasks", task, workflow)
                hint = f"only the outputs of tasks that '{task['name']}' depends on are available to it"
                _scan(task, f"{path}.dag.tasks[{index}]", scope, problems, has_loop(task), hint)
            _scan(outputs, f"{path}.outputs", everything, problems)
        else:
            scope = set(names) | {"steps.name"}
            for group_index, group in enumerate(template["steps"]):
                for index, step in enumerate(group):
                    hint = "only the outputs of steps in earlier groups are available"
                    _scan(step, f"{path}.steps[{group_index}][{index}]", scope, problems, has_loop(step), hint)
                for step in group:
                    scope |= _offered("steps", step, workflow)
            _scan(outputs, f"{path}.outputs", scope, problems)


def _offered(root: str, call: dict, workflow: Workflow) -> set[str]:
    """What a finished task or step offers to those after it."""
    return node_variables(root, call["name"], workflow.templates.get(call["template"]), has_loop(call))


def _scan(value, path: str, names: set[str], problems: list[str], items: bool = False, hint: str = "") -> None:
    for where, text in strings(value, path):
        for tag in tags(text):
            if tag is None:
                problems.append(f"{where}: '{{{{' is never closed by '}}}}'")
                continue
            name = tag.strip()
            if is_expression(name):
                problems.append(
                    f"{where}: expression tag {{{{{name}}}}} is not supported by the local executor "
                    f"(Argo's expression language); use a simple tag"
                )
            elif name in names or (items and is_item(name)):
                continue
            elif is_item(name):
                problems.append(
                    f"{where}: unresolved variable {{{{{name}}}}}: only a task or step with "
                    f"withItems, withParam or withSequence has an item"
                )
            else:
                extra = f" ({hint})" if hint and name.split(".")[0] in ("tasks", "steps") else ""
                problems.append(f"{where}: unresolved variable {{{{{name}}}}}{extra}")
