{{/* The chart name, or nameOverride. */}}
{{- define "kube-vrrp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The prefix of every object name: fullnameOverride, the release name when it contains the
chart name, or "<release>-<chart>". */}}
{{- define "kube-vrrp.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "kube-vrrp.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "kube-vrrp.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kube-vrrp
{{- end }}

{{/* Labels that select the agent pods (immutable in a DaemonSet: never add to these). */}}
{{- define "kube-vrrp.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kube-vrrp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: agent
{{- end }}

{{/* Labels of the controller's objects, and those that select its pods. */}}
{{- define "kube-vrrp.controllerLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "kube-vrrp.controllerSelectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kube-vrrp
{{- end }}

{{- define "kube-vrrp.controllerSelectorLabels" -}}
app.kubernetes.io/name: {{ include "kube-vrrp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{/* The ServiceAccount the agents run as. */}}
{{- define "kube-vrrp.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "kube-vrrp.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The agent image. */}}
{{- define "kube-vrrp.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* --http-addr: an IPv6 bind address goes in brackets. */}}
{{- define "kube-vrrp.httpAddr" -}}
{{- if contains ":" .Values.http.bindAddress }}
{{- printf "[%s]:%d" (.Values.http.bindAddress | trimPrefix "[" | trimSuffix "]") (int .Values.http.port) }}
{{- else }}
{{- printf "%s:%d" .Values.http.bindAddress (int .Values.http.port) }}
{{- end }}
{{- end }}
