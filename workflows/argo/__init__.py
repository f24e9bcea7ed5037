"""The parts the workflow builder is made of: options, parameters, templates, metrics, the
CronWorkflow, the manifests' YAML, the UI's title and description, and RBAC."""
