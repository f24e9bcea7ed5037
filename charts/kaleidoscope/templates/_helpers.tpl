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
kaleidoscope.labels: the standard labels of every object the chart installs. The workflow's runs
and pods carry app.kubernetes.io/name, instance, part-of and component (workflow, or the step),
exactly as the builder renders them; Argo adds workflows.argoproj.io/workflow-template or
cron-workflow to each run.
*/}}
{{- define "kaleidoscope.labels" -}}
helm.sh/chart: {{ include "kaleidoscope.chart" . }}
{{ include "kaleidoscope.selectorLabels" . }}
app.kubernetes.io/part-of: {{ include "kaleidoscope.partOf" . | toJson }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
kaleidoscope.partOf: the app.kubernetes.io/part-of label of every object, run and pod:
workflow.partOf, else the release name (the builder's BuildOptions.part_of).
*/}}
{{- define "kaleidoscope.partOf" -}}
{{- default .Release.Name .Values.workflow.partOf }}
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
kaleidoscope.bytes: a memory quantity (512Mi, 1.5Gi, 4G, 1000) in whole bytes, a fraction rounded
up, as workflows/rules/quantities.py parse_bytes reads it. Takes the quantity.
*/}}
{{- define "kaleidoscope.bytes" -}}
{{- $text := toString . }}
{{- $number := regexFind "^[0-9.]+" $text }}
{{- $factors := dict "" 1 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 "Pi" 1125899906842624 "Ei" 1152921504606846976 "k" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000 "P" 1000000000000000 "E" 1000000000000000000 }}
{{- $factor := get $factors (trimPrefix $number $text) | int64 }}
{{- if contains "." $number }}
{{- ceil (mulf (float64 $number) $factor) | int64 }}
{{- else }}
{{- mul (int64 $number) $factor }}
{{- end }}
{{- end }}

{{/*
kaleidoscope.quantity: bytes as the largest binary unit holding them whole (8Gi, 3072Mi), else
bytes, as workflows/rules/quantities.py format_bytes writes them. Takes the bytes.
*/}}
{{- define "kaleidoscope.quantity" -}}
{{- $bytes := int64 . }}
{{- $out := toString $bytes }}
{{- $factors := dict "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 "Pi" 1125899906842624 "Ei" 1152921504606846976 }}
{{- range $unit := list "Ki" "Mi" "Gi" "Ti" "Pi" "Ei" }}
{{- $factor := get $factors $unit | int64 }}
{{- if and (ge $bytes $factor) (eq (mod $bytes $factor) 0) }}
{{- $out = printf "%d%s" (div $bytes $factor) $unit }}
{{- end }}
{{- end }}
{{- $out }}
{{- end }}

{{/*
kaleidoscope.memoryByRetry: the memory of each attempt of an augment pod, as the builder's
memory_sizes and _by_retry give it (workflows/argo_templates.py): base for the first attempt,
doubled on each retry up to cap, as an Argo expression tag over {{retries}}; base alone when it
never grows. Takes a dict: base and cap (quantities).
*/}}
{{- define "kaleidoscope.memoryByRetry" -}}
{{- $most := include "kaleidoscope.bytes" .cap | int64 }}
{{- $size := include "kaleidoscope.bytes" .base | int64 }}
{{- $sizes := list (toString .base) }}
{{- range until 64 }}
{{- if lt $size $most }}
{{- $size = min (mul $size 2) $most }}
{{- $sizes = append $sizes (include "kaleidoscope.quantity" $size) }}
{{- end }}
{{- end }}
{{- if eq (len $sizes) 1 }}
{{- first $sizes }}
{{- else }}
{{- $listed := list }}
{{- range initial $sizes }}
{{- $listed = append $listed (printf "'%s'" .) }}
{{- end }}
{{- printf "%s=asInt(retries) < %d ? [%s][asInt(retries)] : '%s'%s" "{{" (sub (len $sizes) 1) (join "," $listed) (last $sizes) "}}" }}
{{- end }}
{{- end }}

{{/*
kaleidoscope.augmentMemoryPatch: the augment template's podSpecPatch, as the builder's memory_patch
gives it: each retry doubles the memory request and limit of the main container up to
workflow.augmentMemoryCap; empty without retries, a cap or an augment memory limit, or when
nothing would grow. A cap below the limit is refused, naming both values.
*/}}
{{- define "kaleidoscope.augmentMemoryPatch" -}}
{{- $augment := .Values.resources.augment | default dict }}
{{- $limits := $augment.limits | default dict }}
{{- $requests := $augment.requests | default dict }}
{{- $cap := .Values.workflow.augmentMemoryCap }}
{{- if and (gt (int .Values.workflow.retries) 0) $cap $limits.memory }}
{{- if lt (include "kaleidoscope.bytes" $cap | int64) (include "kaleidoscope.bytes" $limits.memory | int64) }}
{{- fail (printf "workflow.augmentMemoryCap: %s is below resources.augment.limits.memory %s: a retried augment pod never gets less memory (empty turns the growth off)" $cap (toString $limits.memory)) }}
{{- end }}
{{- $limit := include "kaleidoscope.memoryByRetry" (dict "base" $limits.memory "cap" $cap) }}
{{- if hasPrefix "{{=" $limit }}
{{- $resources := printf "\"limits\":{\"memory\":\"%s\"}" $limit }}
{{- if $requests.memory }}
{{- $resources = printf "%s,\"requests\":{\"memory\":\"%s\"}" $resources (include "kaleidoscope.memoryByRetry" (dict "base" $requests.memory "cap" $cap)) }}
{{- end }}
{{- printf "{\"containers\":[{\"name\":\"main\",\"resources\":{%s}}]}" $resources }}
{{- end }}
{{- end }}
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
