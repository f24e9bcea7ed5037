{{- /*
The chart's named templates, each prefixed with the chart name. The WorkflowTemplate is written
by hand from them, and tests/test_chart.py proves it equal to the Python builder's render
(workflows/builder.py) for the same settings: a change to one shows as a difference in the other.
*/}}

{{/* ---- names and labels ------------------------------------------------------------------ */}}

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
kaleidoscope.partOf: the app.kubernetes.io/part-of label of every object, run and pod:
workflow.partOf, else the release name (the builder's BuildOptions.part_of).
*/}}
{{- define "kaleidoscope.partOf" -}}
{{- default .Release.Name .Values.workflow.partOf | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
kaleidoscope.labels: the labels of every object the chart installs: the standard ones, then
commonLabels (whose schema refuses the standard keys, so none is overridden). Runs and pods carry
their own (kaleidoscope.runLabels).
*/}}
{{- define "kaleidoscope.labels" -}}
{{- $labels := dict
  "helm.sh/chart" (include "kaleidoscope.chart" .)
  "app.kubernetes.io/name" (include "kaleidoscope.name" .)
  "app.kubernetes.io/instance" .Release.Name
  "app.kubernetes.io/part-of" (include "kaleidoscope.partOf" .)
  "app.kubernetes.io/version" .Chart.AppVersion
  "app.kubernetes.io/managed-by" .Release.Service }}
{{- toYaml (merge $labels .Values.commonLabels) }}
{{- end }}

{{/*
kaleidoscope.runLabels: the labels of a run (component "workflow") or of a step's pods (component:
the step), as the builder's argo/templates.py labels gives them. Takes a dict: context ($), component.
*/}}
{{- define "kaleidoscope.runLabels" -}}
app.kubernetes.io/name: {{ include "kaleidoscope.name" .context | toJson }}
app.kubernetes.io/instance: {{ .context.Release.Name | toJson }}
app.kubernetes.io/part-of: {{ include "kaleidoscope.partOf" .context | toJson }}
app.kubernetes.io/component: {{ .component | toJson }}
{{- end }}

{{/* ---- accounts and credentials ------------------------------------------------------------ */}}

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
kaleidoscope.pullSecretNames: the image pull secrets' names, for NOTES.txt ("a", "a and b").
*/}}
{{- define "kaleidoscope.pullSecretNames" -}}
{{- $names := list }}
{{- range .Values.imagePullSecrets }}
{{- $names = append $names .name }}
{{- end }}
{{- join " and " $names }}
{{- end }}

{{/* ---- the spec and the words describing it ---------------------------------------------- */}}

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
kaleidoscope.defaultSpec.*: the builder's words for the spec in values.yaml (the builder's
argo_golden.EXAMPLE_SPEC), written here by hand: its sha256, so they are shown only while the spec
is that one; its title; its description (before the schedule and incremental sentences); and what a
run's title and description add (Argo substitutes the run's parameters into workflowMetadata).
tests/test_chart.py renders the defaults and compares them with the builder's render: change these
when the builder's wording changes.
*/}}
{{- define "kaleidoscope.defaultSpec.sha256" -}}
158e5b0d55e0638d92a84c654bdfb0fe6405977085f5a7b2234f5f659a605ff9
{{- end }}

{{- define "kaleidoscope.defaultSpec.title" -}}
Kaleidoscope: 4 transforms, 16 images per input
{{- end }}

{{- define "kaleidoscope.defaultSpec.description" -}}
Augments every image under the `source` parameter into the `destination` parameter. Transforms flip_lr, rotate_zoom, brightness, contrast, applied in every subset (in order), so each input gives 16 jpg images; 8 parallel shards. Publishes the manifest (manifest/*/*/*.jsonl) and summary.json; the manifest step's outputs give the counts and their URLs.
{{- end }}

{{- define "kaleidoscope.runTitle" -}}
→ {{`{{workflow.parameters.destination}}`}}
{{- end }}

{{- define "kaleidoscope.runDescription" -}}
This run: {{`{{workflow.parameters.source}}`}} → {{`{{workflow.parameters.destination}}`}}.
{{- end }}

{{/*
kaleidoscope.isDefaultSpec: "true" when the spec is the one kaleidoscope.defaultSpec.* describes.
*/}}
{{- define "kaleidoscope.isDefaultSpec" -}}
{{- if eq (include "kaleidoscope.specText" . | sha256sum) (include "kaleidoscope.defaultSpec.sha256" .) }}
{{- "true" }}
{{- end }}
{{- end }}

{{/*
kaleidoscope.title: the workflows.argoproj.io/title annotation: workflow.title, else the
builder's for the default spec, else a generic title (the chart cannot word another spec:
`kaleidoscope chart --values SPEC` prints the builder's words for it as values).
*/}}
{{- define "kaleidoscope.title" -}}
{{- if .Values.workflow.title }}
{{- .Values.workflow.title }}
{{- else if include "kaleidoscope.isDefaultSpec" . }}
{{- include "kaleidoscope.defaultSpec.title" . }}
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
{{- if include "kaleidoscope.isDefaultSpec" $ }}
{{- $text = include "kaleidoscope.defaultSpec.description" $ }}
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

{{/*
kaleidoscope.annotations: the title and description of an object (run false) or of its runs (run
true: the run's locations added). Takes a dict as kaleidoscope.description, and run.
*/}}
{{- define "kaleidoscope.annotations" -}}
{{- $title := include "kaleidoscope.title" .context }}
{{- $description := include "kaleidoscope.description" . }}
{{- if .run }}
{{- $title = printf "%s %s" $title (include "kaleidoscope.runTitle" .context) }}
{{- $description = printf "%s %s" $description (include "kaleidoscope.runDescription" .context) }}
{{- end -}}
workflows.argoproj.io/description: {{ $description | toJson }}
workflows.argoproj.io/title: {{ $title | toJson }}
{{- end }}

{{/* ---- parameters, inputs and arguments ------------------------------------------------- */}}

{{/*
kaleidoscope.parameterDescription: what the Argo UI shows for a workflow parameter, the same words
for main's input of that name (workflows/argo/params.py PARAMETERS). Takes the parameter's name.
*/}}
{{- define "kaleidoscope.parameterDescription" -}}
{{- get (dict
  "spec" "The augmentation spec, YAML or JSON (as `kaleidoscope validate` takes it). The first step validates it and fails fast naming each bad field by its JSON path."
  "source" "Required: where the images are (s3://bucket/prefix). It replaces the spec's `source`."
  "destination" "Required: where the images, the manifest parts and summary.json go (s3://bucket/prefix, not inside the source). It replaces the spec's `destination`, and names the mutex that lets one run at a time write it."
  "s3-endpoint" "Endpoint URL of an S3-compatible store (MinIO, SeaweedFS, Ceph, ...); empty means AWS S3."
  "incremental" "true: skip images already recorded in the destination and add the new ones to it; false: process every image and write a new manifest."
  ) . }}
{{- end }}

{{/*
kaleidoscope.outputDescription: an output of the manifest step, which main gives as its own
(workflows/argo/templates.py MANIFEST_OUTPUTS). Takes the output's name.
*/}}
{{- define "kaleidoscope.outputDescription" -}}
{{- get (dict
  "inputs" "Images found in the source (new ones only, in incremental mode)."
  "outputs" "Images written to the destination."
  "failed" "Images that could not be augmented; failures/ lists each with its error."
  "manifest" "URL of the manifest's current parts (manifest/<generation>/), one record per output image."
  "summary" "URL of summary.json, the run's counts, failures and settings."
  ) . }}
{{- end }}

{{/*
kaleidoscope.stepValues: what a step takes from main, in order, as "input|flag|description": the
common ones, then incremental (shard, manifest) or the shard it augments (augment: its index and
count, which main's fan-out gives). Takes the step's name; a list, as JSON (fromJsonArray reads it).
*/}}
{{- define "kaleidoscope.stepValues" -}}
{{- $values := list
  "spec|--spec-text|The spec, YAML or JSON."
  "source|--source|Where the images are."
  "destination|--destination|Where the images, the manifest and summary.json go."
  "s3-endpoint|--s3-endpoint|S3-compatible endpoint URL; empty for AWS."
  "run-id|--run-id|The run's id: its work folder and manifest parts (main: workflow uid and name)." }}
{{- if eq . "augment" }}
{{- $values = concat $values (list "index|--shard|Shard index, from the shard step." "of||Number of shards in the run.") }}
{{- else }}
{{- $values = append $values "incremental|--incremental|true: only images not yet recorded." }}
{{- end }}
{{- toJson $values }}
{{- end }}

{{/*
kaleidoscope.stepInputs: a step template's inputs.parameters. Takes the step's name.
*/}}
{{- define "kaleidoscope.stepInputs" -}}
{{- range include "kaleidoscope.stepValues" . | fromJsonArray }}
{{- $value := splitList "|" . }}
- name: {{ index $value 0 }}
  description: {{ index $value 2 | quote }}
{{- end }}
{{- end }}

{{/*
kaleidoscope.stepArgs: a step container's first args: `step <name>`, then each input as
--flag=value, one argument each (a spec opening with `---` would otherwise read as an option).
Takes the step's name.
*/}}
{{- define "kaleidoscope.stepArgs" -}}
- step
- {{ . }}
{{- range include "kaleidoscope.stepValues" . | fromJsonArray }}
{{- $value := splitList "|" . }}
{{- with index $value 1 }}
- {{ . }}={{ printf "{{inputs.parameters.%s}}" (index $value 0) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
kaleidoscope.stepArguments: what main passes to a step: its own inputs by name, and the run id
it makes, {{workflow.uid}}-{{inputs.parameters.name}} (the same for every pod and retry of
this call, never another call's). The fan-out's index and count are augment's own. Takes the
step's name.
*/}}
{{- define "kaleidoscope.stepArguments" -}}
{{- range include "kaleidoscope.stepValues" . | fromJsonArray }}
{{- $name := index (splitList "|" .) 0 }}
{{- if eq $name "run-id" }}
- name: run-id
  value: '{{`{{workflow.uid}}-{{inputs.parameters.name}}`}}'
{{- else if not (has $name (list "index" "of")) }}
- name: {{ $name }}
  value: '{{ printf "{{inputs.parameters.%s}}" $name }}'
{{- end }}
{{- end }}
{{- end }}

{{/* ---- the step pods ------------------------------------------------------------------------ */}}

{{/*
kaleidoscope.podSecurityContext: the pods' security context: the image's non-root user (its
USER), as user, group and fsGroup, and seccomp RuntimeDefault. On the workflow and on each pod
template, so it holds under another workflow's spec too.
*/}}
{{- define "kaleidoscope.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.workflow.runAsUser | int }}
runAsGroup: {{ .Values.workflow.runAsUser | int }}
fsGroup: {{ .Values.workflow.runAsUser | int }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
kaleidoscope.image: the step image, repository:tag (the tag defaults to the chart's appVersion).
*/}}
{{- define "kaleidoscope.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
kaleidoscope.amount: a resource quantity as text. Argo's schema types a quantity as a string and
the builder writes each one as Python's str() does, so a number given in values (`cpu: 2`,
`nvidia.com/gpu: 1`, `cpu: 0.5`) renders "2", "1", "0.5". Takes the quantity.
*/}}
{{- define "kaleidoscope.amount" -}}
{{- if kindIs "string" . }}
{{- . }}
{{- else if eq (float64 .) (floor .) }}
{{- int64 . }}
{{- else }}
{{- toString . }}
{{- end }}
{{- end }}

{{/*
kaleidoscope.resources: a step container's `resources`, or nothing when its values give none:
limits and requests by resource name (cpu, memory, ephemeral-storage, extended resources such as
nvidia.com/gpu), every quantity as text (kaleidoscope.amount). Takes the step's values.
*/}}
{{- define "kaleidoscope.resources" -}}
{{- $resources := . | default dict }}
{{- $groups := dict }}
{{- range $group := list "limits" "requests" }}
{{- $amounts := dict }}
{{- range $name, $amount := (get $resources $group | default dict) }}
{{- if not (kindIs "invalid" $amount) }}
{{- $_ := set $amounts $name (include "kaleidoscope.amount" $amount) }}
{{- end }}
{{- end }}
{{- if $amounts }}
{{- $_ := set $groups $group $amounts }}
{{- end }}
{{- end }}
{{- if $groups -}}
resources:
  {{- toYaml $groups | nindent 2 }}
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
{{- $limits := $resources.limits | default dict }}
{{- $requests := $resources.requests | default dict }}
{{- $cpu := "" }}
{{- if not (kindIs "invalid" $limits.cpu) }}
{{- $cpu = include "kaleidoscope.amount" $limits.cpu }}
{{- else if not (kindIs "invalid" $requests.cpu) }}
{{- $cpu = include "kaleidoscope.amount" $requests.cpu }}
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
kaleidoscope.stepContainer: what the three step containers share, after their args: the image, no
shell (`command: [kaleidoscope]`), S3 credentials only through secretKeyRef (none at all with
s3.credentials none), /tmp on the pod's emptyDir (the root filesystem is read-only), the step's
resources, and no privilege: non-root, no escalation, no capabilities. Takes a dict: context ($),
step.
*/}}
{{- define "kaleidoscope.stepContainer" -}}
{{- $ := .context -}}
image: {{ include "kaleidoscope.image" $ | toJson }}
command:
  - kaleidoscope
{{- with $.Values.image.pullPolicy }}
imagePullPolicy: {{ . | toJson }}
{{- end }}
{{- with include "kaleidoscope.s3SecretName" $ }}
env:
  - name: AWS_ACCESS_KEY_ID
    valueFrom:
      secretKeyRef:
        name: {{ . | toJson }}
        key: accessKeyId
  - name: AWS_SECRET_ACCESS_KEY
    valueFrom:
      secretKeyRef:
        name: {{ . | toJson }}
        key: secretAccessKey
  # Optional: the region may as well come from the endpoint's default or the node.
  - name: AWS_REGION
    valueFrom:
      secretKeyRef:
        name: {{ . | toJson }}
        key: region
        optional: true
{{- end }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
{{- with include "kaleidoscope.resources" (get $.Values.resources .step) }}
{{ . }}
{{- end }}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  runAsNonRoot: true
  capabilities:
    drop:
      - ALL
{{- end }}

{{/*
kaleidoscope.stepPod: the pod-level fields of a step's template: its pod's labels (the run's, the
step as component, then podLabels) and podAnnotations, scheduling (affinity, priorityClassName),
the service account and security context, Argo's pendingTimeout, and the /tmp emptyDir. All of
them on each template, so they hold when another workflow calls main by templateRef, where this
WorkflowTemplate's workflow-level fields do not apply. Takes a dict: context ($), step.
*/}}
{{- define "kaleidoscope.stepPod" -}}
{{- $ := .context -}}
metadata:
  {{- with $.Values.podAnnotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  labels:
    {{- include "kaleidoscope.runLabels" (dict "context" $ "component" .step) | nindent 4 }}
    {{- with $.Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- with $.Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $.Values.priorityClassName }}
priorityClassName: {{ . | toJson }}
{{- end }}
{{- with include "kaleidoscope.workflowServiceAccount" $ }}
serviceAccountName: {{ . | toJson }}
{{- end }}
securityContext:
  {{- include "kaleidoscope.podSecurityContext" $ | nindent 2 }}
{{- with $.Values.workflow.pendingTimeout }}
# Fails the node of a pod still Pending this long (unschedulable, image not pulled, a Secret
# missing); docs/argo.md says where Argo 4.1.2 checks it.
pendingTimeout: {{ . | toJson }}
{{- end }}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: {{ $.Values.workflow.tmpSize | toJson }}
{{- end }}

{{/*
kaleidoscope.retryStrategy: every step's retries, or nothing with workflow.retries 0. Every step is
idempotent, so any failure retries (retryPolicy Always: pods lost to eviction or a drained node
too) but exit codes 2 and 3, which no retry can help (invalid input, a permanent failure:
steps/errors.py NOT_RETRIED); a retry avoids the nodes the step failed on (Argo's required
anti-affinity on kubernetes.io/hostname) unless workflow.retryOnOtherNode is false.
*/}}
{{- define "kaleidoscope.retryStrategy" -}}
{{- if gt (int .Values.workflow.retries) 0 -}}
retryStrategy:
  expression: asInt(lastRetry.exitCode) != 2 && asInt(lastRetry.exitCode) != 3
  limit: {{ .Values.workflow.retries | int }}
  retryPolicy: Always
  {{- if .Values.workflow.retryOnOtherNode }}
  affinity:
    nodeAntiAffinity: {}
  {{- end }}
  backoff:
    duration: {{ .Values.workflow.retryBackoff | toJson }}
    factor: 2
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
memory_sizes and _by_retry give it (workflows/argo/templates.py): base for the first attempt,
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
gives it: each retry doubles the memory request and limit of the main container (Argo names it
`main` in every pod) up to workflow.augmentMemoryCap; empty without retries, a cap or an augment
memory limit, or when nothing would grow. A cap below the limit is refused, naming both values.
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

{{/* ---- metrics ------------------------------------------------------------------------------ */}}

{{/*
kaleidoscope.metricLabels: the labels of every custom metric: the run's namespace and the release,
which tell two installations apart (workflows/argo/metrics.py). Takes a dict: context ($), and step
(a step's metrics) or nothing (the run's, which add its final status).
*/}}
{{- define "kaleidoscope.metricLabels" -}}
labels:
  - key: namespace
    value: '{{`{{workflow.namespace}}`}}'
  - key: release
    value: {{ .context.Release.Name | toJson }}
  {{- if .step }}
  - key: step
    value: {{ .step }}
  {{- else }}
  - key: status
    value: '{{`{{workflow.status}}`}}'
  {{- end }}
{{- end }}

{{/*
kaleidoscope.runMetrics: the workflow's metrics, emitted when a run ends; nothing with
workflow.metrics false. Prometheus shows each name after Argo's prefix argo_workflows_.
*/}}
{{- define "kaleidoscope.runMetrics" -}}
{{- if .Values.workflow.metrics -}}
metrics:
  prometheus:
    - name: kaleidoscope_run_duration_seconds
      {{- include "kaleidoscope.metricLabels" (dict "context" .) | nindent 6 }}
      help: Duration of the last finished Kaleidoscope run, in seconds, by final status.
      gauge:
        realtime: false
        value: '{{`{{workflow.duration}}`}}'
    - name: kaleidoscope_runs_total
      {{- include "kaleidoscope.metricLabels" (dict "context" .) | nindent 6 }}
      help: Finished Kaleidoscope runs, by final status.
      counter:
        value: '1'
{{- end }}
{{- end }}

{{/*
kaleidoscope.stepMetrics: a step template's metrics, emitted when its node ends (a retried step's
once, when its Retry node ends), only when it succeeded; the manifest step adds the image counts
from its outputs. Nothing with workflow.metrics false. Takes a dict: context ($), step.
*/}}
{{- define "kaleidoscope.stepMetrics" -}}
{{- if .context.Values.workflow.metrics -}}
metrics:
  prometheus:
    - name: kaleidoscope_step_duration_seconds
      {{- include "kaleidoscope.metricLabels" . | nindent 6 }}
      help: Duration of succeeded Kaleidoscope steps (shard, each augment shard, manifest), retries included, in seconds.
      when: '{{`{{status}}`}} == Succeeded'
      histogram:
        value: '{{`{{duration}}`}}'
        buckets: [60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0]
    {{- if eq .step "manifest" }}
    - name: kaleidoscope_images_in_total
      {{- include "kaleidoscope.metricLabels" . | nindent 6 }}
      help: Images a Kaleidoscope run found to augment (new ones only when incremental).
      when: '{{`{{status}}`}} == Succeeded'
      counter:
        value: '{{`{{outputs.parameters.inputs}}`}}'
    - name: kaleidoscope_images_written_total
      {{- include "kaleidoscope.metricLabels" . | nindent 6 }}
      help: Images a Kaleidoscope run wrote to its destination.
      when: '{{`{{status}}`}} == Succeeded'
      counter:
        value: '{{`{{outputs.parameters.outputs}}`}}'
    - name: kaleidoscope_images_failed_total
      {{- include "kaleidoscope.metricLabels" . | nindent 6 }}
      help: Images a Kaleidoscope run could not augment (each listed under failures/ with its error).
      when: '{{`{{status}}`}} == Succeeded'
      counter:
        value: '{{`{{outputs.parameters.failed}}`}}'
    {{- end }}
{{- end }}
{{- end }}
