"""``workflows/rbac.yaml``: the service account the committed manifests name, with exactly the
permissions Argo's executor needs, valid for Kubernetes, and the same rules as the Helm chart's."""

from __future__ import annotations

import pytest
import yaml

from kaleidoscope.workflows.argo import rbac
from kaleidoscope.workflows.argo.options import DEFAULT_SERVICE_ACCOUNT, BuildOptions
from tests.golden import assert_generated
from tests.prerequisites import require_module
from tools import argo_golden

#: The oldest Kubernetes the objects are checked against (as the chart's).
OLDEST_KUBERNETES = "1.30.0"


def documents() -> list[dict]:
    return [document for document in yaml.safe_load_all(rbac.FILE.read_text(encoding="utf-8")) if document]


def test_committed_rbac_equals_what_rbac_py_renders_today():
    assert_generated(
        rbac.FILE, rbac.render(), "workflows/argo/rbac.py", "KALEIDOSCOPE_REGENERATE=1 pytest tests/test_rbac.py"
    )


def test_it_creates_the_account_every_committed_manifest_names_and_binds_the_executor_role_to_it():
    account, role, binding = documents()
    assert (account["kind"], role["kind"], binding["kind"]) == ("ServiceAccount", "Role", "RoleBinding")
    assert account["metadata"]["name"] == DEFAULT_SERVICE_ACCOUNT == BuildOptions().service_account
    for path in argo_golden.FILES.values():
        manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
        spec = manifest["spec"]["workflowSpec"] if manifest["kind"] == "CronWorkflow" else manifest["spec"]
        assert spec["serviceAccountName"] == DEFAULT_SERVICE_ACCOUNT, path.name
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    # No namespace: a RoleBinding's ServiceAccount subject without one is in the binding's namespace,
    # the one `kubectl apply -n` gives all three.
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": DEFAULT_SERVICE_ACCOUNT}]
    assert all("namespace" not in document["metadata"] for document in documents())


def test_the_role_grants_exactly_the_executors_permissions():
    # Argo v4.1.2: docs/workflow-rbac.md ("the minimum for the executor", >= v3.4) and the
    # quick-start's executor Role: create and patch workflowtaskresults, nothing else.
    _, role, _ = documents()
    assert role["rules"] == [
        {"apiGroups": ["argoproj.io"], "resources": ["workflowtaskresults"], "verbs": ["create", "patch"]}
    ]
    assert role["rules"] == list(rbac.EXECUTOR_RULES)


def test_every_object_passes_the_kubernetes_schema_in_strict_mode():
    kubernetes_validate = require_module(
        "kubernetes_validate", "kubernetes-validate is not installed: pip install -e '.[test]'"
    )
    for document in documents():
        for version in (OLDEST_KUBERNETES, kubernetes_validate.latest_version()):
            try:
                kubernetes_validate.validate(document, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                where = ".".join(str(part) for part in error.path)
                pytest.fail(f"{document['kind']} (Kubernetes {version}): {where}: {error.message}")


def test_another_account_gets_its_own_role_and_none_has_no_rbac():
    account, role, binding = rbac.objects(BuildOptions(service_account="runner", instance="ml"))
    assert account["metadata"]["name"] == "runner" and role["metadata"]["name"] == "runner-executor"
    assert (
        binding["subjects"][0]["name"] == "runner"
        and account["metadata"]["labels"]["app.kubernetes.io/instance"] == "ml"
    )
    with pytest.raises(ValueError, match="service_account"):
        rbac.objects(BuildOptions(service_account=None))
