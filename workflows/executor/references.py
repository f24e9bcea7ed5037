"""Which variables each field may use; every other tag is refused before anything runs.

Argo validates the same way (``workflow/validate``): a template sees the workflow's variables,
its own inputs and ``node.name``; a pod also ``pod.name``, ``retries`` and its outputs' paths; a
DAG task sees the outputs of the tasks it depends on (directly or not); a step those of the
steps in earlier groups; a task or step with a loop its ``item``; a template's
``synchronization`` what the template sees; the workflow-level ``synchronization`` the
workflow's variables but its outputs (Argo substitutes it before the run
and leaves an unknown tag as written, which would name another lock). What a task or step offers,
and how tags are read, are :mod:`kaleidoscope.workflows.rules.variables`. Expression tags
(``{{=...}}``) need Argo's expression language and are refused; so is a ``{{`` never closed.
A template reached by ``templateRef`` is checked the same way, with the variables of the workflow
that runs it (its ``workflow.parameters`` are that workflow's, as Argo's validation has them).
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
    for template, path in workflow.checked():
        names = template_names(workflow, template, globals_)
        # A referenced template runs in this workflow: its workflow.* variables are this one's.
        elsewhere = workflow.holder_of(template) is not None
        kind = kind_of(template)
        # A template's mutexes are substituted with its inputs and the workflow's variables.
        for field in ("inputs", "annotations", "synchronization"):
            _scan(template.get(field), f"{path}.{field}", names, problems, elsewhere=elsewhere)
        outputs = template.get("outputs")
        if kind in POD_KINDS:
            _scan(template[kind], f"{path}.{kind}", names, problems, elsewhere=elsewhere)
            _scan(outputs, f"{path}.outputs", names, problems, elsewhere=elsewhere)
            _scan(
                template.get("activeDeadlineSeconds"),
                f"{path}.activeDeadlineSeconds",
                names,
                problems,
                elsewhere=elsewhere,
            )
        elif kind == "dag":
            dag = Dag.of(template)
            everything = set(names)
            for index, task in enumerate(template["dag"]["tasks"]):
                scope = set(names) | {"tasks.name"}
                for ancestor in dag.ancestors(task["name"]):
                    scope |= _offered("tasks", dag.tasks[ancestor], workflow, template)
                everything |= _offered("tasks", task, workflow, template)
                hint = f"only the outputs of tasks that '{task['name']}' depends on are available to it"
                _scan(task, f"{path}.dag.tasks[{index}]", scope, problems, has_loop(task), hint, elsewhere)
            _scan(outputs, f"{path}.outputs", everything, problems, elsewhere=elsewhere)
        else:
            scope = set(names) | {"steps.name"}
            for group_index, group in enumerate(template["steps"]):
                for index, step in enumerate(group):
                    hint = "only the outputs of steps in earlier groups are available"
                    _scan(
                        step, f"{path}.steps[{group_index}][{index}]", scope, problems, has_loop(step), hint, elsewhere
                    )
                for step in group:
                    scope |= _offered("steps", step, workflow, template)
            _scan(outputs, f"{path}.outputs", scope, problems, elsewhere=elsewhere)


def _offered(root: str, call: dict, workflow: Workflow, caller: dict) -> set[str]:
    """What a finished task or step of ``caller`` offers to those after it."""
    return node_variables(root, call["name"], workflow.resolve(call, caller), has_loop(call))


def _scan(
    value,
    path: str,
    names: set[str],
    problems: list[str],
    items: bool = False,
    hint: str = "",
    elsewhere: bool = False,
) -> None:
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
                root, _, rest = name.partition(".")
                node, _, field = rest.partition(".")
                if root in ("tasks", "steps") and f"{root}.{node}.id" in names:
                    extra = f" ('{node}' is available here, but the template it runs offers no {field})"
                if elsewhere and name.startswith("workflow.parameters."):
                    extra = (
                        f" (a template run by templateRef sees the parameters of the workflow that runs it: "
                        f"declare '{name.removeprefix('workflow.parameters.')}' in that workflow's spec.arguments)"
                    )
                problems.append(f"{where}: unresolved variable {{{{{name}}}}}{extra}")
