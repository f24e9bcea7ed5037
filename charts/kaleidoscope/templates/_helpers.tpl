{{/*
kaleidoscope.name: the chart name, or nameOverride; the app.kubernetes.io/name label.
*/}}
{{- define "kaleidoscope.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
kaleidoscope.fullname: the name of the WorkflowTemplate, the CronWorkflow and the ServiceAccount,
and the prefix of the other objects' names. Cut to 52 characters, not the usual 63: Argo refuses a
longer CronWorkflow name, since each run is named after it plus a timestamp.
*/}}
{{- define "kaleidoscope.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
kaleidoscope.chart: chart name and version, as the helm.sh/chart label takes them.
*/}}
{{- define "kaleidoscope.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
kaleidoscope.labels: the standard labels of every object the chart installs. The workflow's pods
and runs carry only app.kubernetes.io/name (and component), exactly as the builder renders them;
Argo adds workflows.argoproj.io/workflow-template or cron-workflow to each run.
*/}}
{{- define "kaleidoscope.labels" -}}
helm.sh/chart: {{ include "kaleidoscope.chart" . }}
{{ include "kaleidoscope.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
kaleidoscope.selectorLabels: the labels that tell this release's objects apart.
*/}}
{{- define "kaleidoscope.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kaleidoscope.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
kaleidoscope.image: the step image, repository:tag (the tag defaults to the chart's appVersion).
*/}}
{{- define "kaleidoscope.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
kaleidoscope.serviceAccountName: the account the pods run as and the executor Role is bound to:
serviceAccount.name, else the full name when the chart creates it, else the namespace's default.
*/}}
{{- define "kaleidoscope.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "kaleidoscope.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
kaleidoscope.workflowServiceAccount: the workflow's serviceAccountName, or empty to leave it out
(the namespace's default account, as the builder does without a service account).
*/}}
{{- define "kaleidoscope.workflowServiceAccount" -}}
{{- if or .Values.serviceAccount.create .Values.serviceAccount.name }}
{{- include "kaleidoscope.serviceAccountName" . }}
{{- end }}
{{- end }}

{{/*
kaleidoscope.s3SecretName: the Secret the S3 credential variables come from, or empty with
s3.credentials none (IRSA, workload identity: the SDK finds credentials on its own).
*/}}
{{- define "kaleidoscope.s3SecretName" -}}
{{- if eq .Values.s3.credentials "existingSecret" }}
{{- .Values.s3.existingSecret }}
{{- else if eq .Values.s3.credentials "secret" }}
{{- printf "%s-s3" (include "kaleidoscope.fullname" .) }}
{{- end }}
{{- end }}

{{/*
kaleidoscope.specConfigMap: the name of the ConfigMap holding the default spec.
*/}}
{{- define "kaleidoscope.specConfigMap" -}}
{{- printf "%s-spec" (include "kaleidoscope.fullname" .) }}
{{- end }}

{{/*
kaleidoscope.specText: the spec as text, byte for byte what the ConfigMap holds and the spec
parameter defaults to: values' text as is (comments kept), or a mapping as YAML.
*/}}
{{- define "kaleidoscope.specText" -}}
{{- if kindIs "string" .Values.spec }}
{{- .Values.spec }}
{{- else }}
{{- toYaml .Values.spec }}
{{- end }}
{{- end }}

{{/*
kaleidoscope.augmentThreads: worker threads of an augment pod, as the builder derives them:
workflow.threads, else the whole cores of the augment CPU limit (else request), at least 1.
*/}}
{{- define "kaleidoscope.augmentThreads" -}}
{{- if .Values.workflow.threads }}
{{- .Values.workflow.threads | int }}
{{- else }}
{{- $resources := .Values.resources.augment | default dict }}
{{- $cpu := "" }}
{{- if and $resources.limits (hasKey ($resources.limits | default dict) "cpu") }}
{{- $cpu = toString $resources.limits.cpu }}
{{- else if and $resources.requests (hasKey ($resources.requests | default dict) "cpu") }}
{{- $cpu = toString $resources.requests.cpu }}
{{- end }}
{{- if not $cpu }}
{{- 1 }}
{{- else if hasSuffix "m" $cpu }}
{{- max 1 (div (trimSuffix "m" $cpu | int64) 1000) }}
{{- else }}
{{- max 1 (floor (float64 $cpu) | int64) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
kaleidoscope.cronLocation: the CronWorkflow's source or destination, as the builder gives it: the
value workflow.<name>, else the spec's own (a CronWorkflow runs unattended, and Argo refuses one
whose parameter has no value). Takes a dict: context ($) and name ("source" or "destination").
*/}}
{{- define "kaleidoscope.cronLocation" -}}
{{- $spec := fromYaml (include "kaleidoscope.specText" .context) | default dict }}
{{- default (get $spec .name | toString) (get .context.Values.workflow .name) }}
{{- end }}

{{/*
kaleidoscope.builderText: "true" when the builder's title and description (generated into
_builder.tpl for the default spec) are true of this release: the spec is the default they were
computed from (they name no location: each run gives its own).
*/}}
{{- define "kaleidoscope.builderText" -}}
{{- if eq (include "kaleidoscope.specText" . | sha256sum) (include "kaleidoscope.builder.specSha256" .) }}
{{- "true" }}
{{- end }}
{{- end }}

{{/*
kaleidoscope.title: the workflows.argoproj.io/title annotation: workflow.title, else the
builder's (default spec), else a generic title.
*/}}
{{- define "kaleidoscope.title" -}}
{{- if .Values.workflow.title }}
{{- .Values.workflow.title }}
{{- else if include "kaleidoscope.builderText" . }}
{{- include "kaleidoscope.builder.title" . }}
{{- else }}
{{- "Kaleidoscope: image-dataset augmentation" }}
{{- end }}
{{- end }}

{{/*
kaleidoscope.description: the workflows.argoproj.io/description annotation, worded as the builder
words it: workflow.description (else the builder's, else a generic one), then the schedule of a
CronWorkflow and the incremental default. Takes a dict: context ($), schedules (a list, or none
for a WorkflowTemplate), timezone and incremental.
*/}}
{{- define "kaleidoscope.description" -}}
{{- $ := .context }}
{{- $text := $.Values.workflow.description }}
{{- if not $text }}
{{- if include "kaleidoscope.builderText" $ }}
{{- $text = include "kaleidoscope.builder.description" $ }}
{{- else }}
{{- $text = printf "Augments every image under `source` into `destination` as the `spec` parameter says (by default the spec in the ConfigMap %s). Publishes the manifest (manifest/*/*/*.jsonl) and summary.json; the manifest step's outputs give the counts and their URLs." (include "kaleidoscope.specConfigMap" $) }}
{{- end }}
{{- end }}
{{- if .schedules }}
{{- $quoted := list }}
{{- range .schedules }}
{{- $quoted = append $quoted (printf "`%s`" .) }}
{{- end }}
{{- $text = printf "%s Runs on %s (%s)." $text (join " and " $quoted) .timezone }}
{{- end }}
{{- if .incremental }}
{{- $text = printf "%s %s" $text "Incremental by default: a run augments only images not yet recorded, and adds them to the manifest." }}
{{- end }}
{{- $text }}
{{- end }}
