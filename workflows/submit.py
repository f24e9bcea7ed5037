"""Create a built workflow on an Argo server through Hera's ``WorkflowsService``.

The server comes from explicit values or Argo CLI's environment variables: ``ARGO_SERVER``
(``host:port`` or a URL), ``ARGO_SECURE`` (``false`` for plain HTTP when no scheme is given),
``ARGO_BASE_HREF``, ``ARGO_TOKEN``, ``ARGO_NAMESPACE`` and ``ARGO_INSECURE_SKIP_VERIFY``.
Every failure becomes one line naming the server and the cause.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import requests
from hera.exceptions import HeraException
from hera.workflows import Workflow, WorkflowsService
from hera.workflows.models import Workflow as WorkflowModel
from hera.workflows.models import WorkflowCreateRequest
from pydantic import PrivateAttr

from kaleidoscope.steps.errors import InvalidInput, KaleidoscopeError
from kaleidoscope.workflows.builder import manifest

#: Where Argo's quick start installs it and runs workflows.
DEFAULT_NAMESPACE = "argo"
DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class ArgoServer:
    """An Argo server to submit to.

    Attributes:
        host: Base URL, e.g. ``https://argo.example.com:2746/`` (always ending in ``/``).
        namespace: Namespace the workflow is created in.
        token: Bearer token (``ARGO_TOKEN``, with or without the ``Bearer`` prefix), or None.
        verify_tls: False skips TLS certificate verification.
        timeout: Seconds to wait for the server to connect and to answer.
    """

    host: str
    namespace: str = DEFAULT_NAMESPACE
    token: str | None = None
    verify_tls: bool = True
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def from_env(
        cls,
        host: str | None = None,
        namespace: str | None = None,
        token: str | None = None,
        insecure_skip_verify: bool | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        environ: Mapping[str, str] = os.environ,
    ) -> ArgoServer:
        """The server from the given values, else from Argo CLI's environment variables.

        Raises:
            InvalidInput: No host given or set, or one that is not a URL.
        """
        host = host or environ.get("ARGO_SERVER")
        if not host:
            raise InvalidInput("--host: no Argo server given: pass --host or set ARGO_SERVER (host:port or URL)")
        if "://" not in host:
            secure = environ.get("ARGO_SECURE", "true").lower() != "false"
            host = f"{'https' if secure else 'http'}://{host}"
        parsed = urlparse(host)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise InvalidInput(f"--host: bad value {host!r}: an http(s) URL or host:port")
        base_href = environ.get("ARGO_BASE_HREF", "").strip("/")
        if base_href and not parsed.path.strip("/"):
            host = host.rstrip("/") + "/" + base_href
        if insecure_skip_verify is None:
            insecure_skip_verify = environ.get("ARGO_INSECURE_SKIP_VERIFY", "false").lower() == "true"
        return cls(
            # A trailing '/' keeps a base path when Hera joins "api/v1/..." onto it.
            host=host.rstrip("/") + "/",
            namespace=namespace or environ.get("ARGO_NAMESPACE") or DEFAULT_NAMESPACE,
            token=token or environ.get("ARGO_TOKEN") or None,
            verify_tls=not insecure_skip_verify,
            timeout=timeout,
        )

    @property
    def shown(self) -> str:
        """The host as a user would type it, for messages."""
        return self.host.rstrip("/")


@dataclass(frozen=True)
class Submitted:
    """A workflow the server accepted."""

    name: str
    namespace: str
    link: str


class _Session(requests.Session):
    # Hera sends no timeout: without one a server that accepts but never answers hangs forever.
    def __init__(self, timeout: float):
        super().__init__()
        self._timeout = timeout

    def request(self, method, url, **kwargs):  # type: ignore[override]  # forwards every argument as given
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, **kwargs)


class _CreateRequest(WorkflowCreateRequest):
    """The request body is the builder's manifest as is.

    Hera 7.1's ``WorkflowsService.create_workflow`` sends ``req.json(...)``: serialised through its
    own models, which drop the fields newer than them (``pendingTimeout``); this request sends
    :func:`workflows.builder.manifest` instead, what ``kaleidoscope render`` prints.
    """

    _document: dict = PrivateAttr(default_factory=dict)

    def json(self, **_: Any) -> str:  # Hera's call passes pydantic's options, which do not apply
        return json.dumps({"workflow": self._document})


def _cause(error: BaseException) -> str:
    """The operating system's reason under requests' and urllib3's wrappers, else the message."""
    seen: set[int] = set()
    pending, reason = [error], None
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            reason = current.strerror
        linked = [getattr(current, "reason", None), current.__cause__, current.__context__, *current.args]
        pending += [item for item in linked if isinstance(item, BaseException)]
    return reason or str(error).splitlines()[0]


def submit(workflow: Workflow, server: ArgoServer) -> Submitted:
    """Create ``workflow`` on ``server`` (POST /api/v1/workflows/{namespace}).

    Raises:
        KaleidoscopeError: The server cannot be reached, does not answer in time, refuses the
            workflow or answers with something else than a workflow; one line naming the host.
    """
    service = WorkflowsService(
        host=server.host,
        token=server.token,
        namespace=server.namespace,
        verify_ssl=server.verify_tls,
        session=_Session(server.timeout),
    )
    try:
        built = workflow.build()
        if not isinstance(built, WorkflowModel):
            raise InvalidInput(
                f"submit: a {type(built).__name__} is not a Workflow (install templates with kubectl or Helm)"
            )
        request = _CreateRequest(workflow=built)
        request._document = manifest(workflow)
        created = service.create_workflow(request, namespace=server.namespace)
    except requests.exceptions.ConnectTimeout as error:
        raise KaleidoscopeError(
            f"cannot reach the Argo server at {server.shown}: no connection within {server.timeout:g} s"
        ) from error
    except requests.exceptions.ConnectionError as error:
        raise KaleidoscopeError(f"cannot reach the Argo server at {server.shown}: {_cause(error)}") from error
    except requests.exceptions.Timeout as error:
        raise KaleidoscopeError(
            f"the Argo server at {server.shown} did not answer within {server.timeout:g} s"
        ) from error
    except requests.exceptions.RequestException as error:
        raise KaleidoscopeError(f"cannot submit to the Argo server at {server.shown}: {_cause(error)}") from error
    except HeraException as error:
        raise KaleidoscopeError(f"the Argo server at {server.shown} refused the workflow: {error}") from error
    except (KeyError, ValueError) as error:  # an error body without "message", or not a workflow
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise KaleidoscopeError(f"the Argo server at {server.shown} gave an unexpected answer: {first_line}") from None
    name = created.metadata.name if created.metadata and created.metadata.name else None
    if not name:
        raise KaleidoscopeError(f"the Argo server at {server.shown} accepted the workflow but gave no name")
    namespace = created.metadata.namespace or server.namespace
    return Submitted(name=name, namespace=namespace, link=f"{server.host}workflows/{namespace}/{name}")
