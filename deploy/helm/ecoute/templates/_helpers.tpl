{{/* Labels every object carries (the kustomize base's common labels). */}}
{{- define "ecoute.labels" -}}
app.kubernetes.io/name: ecoute
app.kubernetes.io/part-of: ecoute
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "ecoute.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* The hardened container context every container runs with. */}}
{{- define "ecoute.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities: {drop: ["ALL"]}
{{- end }}

{{- define "ecoute.databaseUrl" -}}
- name: DATABASE_URL
  valueFrom: {secretKeyRef: {name: {{ .Values.secrets.database }}, key: url}}
{{- end }}

{{- define "ecoute.pullPolicy" -}}
{{- if .Values.image.pullPolicy }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
{{- end }}
{{- end }}
