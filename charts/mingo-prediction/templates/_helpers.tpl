{{/*
The model kinds this chart serves, in a fixed order; the names derived from them are binding.
*/}}
{{- define "mingo-prediction.kinds" -}}
{{- list "binary" "multiclass" "clustering" | toJson -}}
{{- end -}}

{{/* Enabled kinds, as a JSON list. */}}
{{- define "mingo-prediction.enabledKinds" -}}
{{- $enabled := list -}}
{{- range $kind := include "mingo-prediction.kinds" . | fromJsonArray -}}
{{- $service := index $.Values.predictionServices $kind | default dict -}}
{{- if $service.enabled -}}
{{- $enabled = append $enabled $kind -}}
{{- end -}}
{{- end -}}
{{- $enabled | toJson -}}
{{- end -}}

{{/* Settings of one service: serviceDefaults overridden by predictionServices.<kind>. */}}
{{- define "mingo-prediction.settings" -}}
{{- $root := .root -}}
{{- $service := index $root.Values.predictionServices .kind | default dict -}}
{{- mustMergeOverwrite (deepCopy $root.Values.serviceDefaults) (deepCopy $service) | toJson -}}
{{- end -}}

{{- define "mingo-prediction.serviceName" -}}
{{- printf "%s-prediction" . -}}
{{- end -}}

{{- define "mingo-prediction.commonLabels" -}}
app.kubernetes.io/part-of: mingo
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Labels that select one service's pods; dict with root and kind. */}}
{{- define "mingo-prediction.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mingo-prediction.serviceName" .kind }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "mingo-prediction.labels" -}}
{{ include "mingo-prediction.selectorLabels" . }}
{{ include "mingo-prediction.commonLabels" .root }}
app.kubernetes.io/component: prediction
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
mingo.io/model-kind: {{ .kind }}
{{- end -}}

{{- define "mingo-prediction.platformConfigMapName" -}}
mingo-config
{{- end -}}

{{- define "mingo-prediction.servingConfigMapName" -}}
mingo-prediction-config
{{- end -}}

{{/* The release namespace, then extraNamespaces (no duplicates), as a JSON list: where
mingo-config and the chart-managed Secrets are rendered. */}}
{{- define "mingo-prediction.configNamespaces" -}}
{{- $namespaces := list .Release.Namespace -}}
{{- range $namespace := .Values.extraNamespaces | default list -}}
{{- if not (has $namespace $namespaces) -}}
{{- $namespaces = append $namespaces $namespace -}}
{{- end -}}
{{- end -}}
{{- $namespaces | toJson -}}
{{- end -}}

{{/* The trainer service account's name; serviceAccounts.pipeline is its deprecated alias. */}}
{{- define "mingo-prediction.trainerServiceAccount" -}}
{{- .Values.serviceAccounts.pipeline | default .Values.serviceAccounts.trainer | required "serviceAccounts.trainer is required" -}}
{{- end -}}
