{{/*
xmpp.fullname: the release's resource name.
Usage: {{ include "xmpp.fullname" . }}
*/}}
{{- define "xmpp.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/*
xmpp.selectorLabels: the labels that select the server's pods.
Usage: {{ include "xmpp.selectorLabels" . | nindent 6 }}
*/}}
{{- define "xmpp.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/*
xmpp.labels: the labels on every resource.
Usage: {{ include "xmpp.labels" . | nindent 4 }}
*/}}
{{- define "xmpp.labels" -}}
{{ include "xmpp.selectorLabels" . }}
app.kubernetes.io/component: {{ .Values.server }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/*
xmpp.configFile: the file name of the selected server's config.
Usage: {{ include "xmpp.configFile" . }}
*/}}
{{- define "xmpp.configFile" -}}
{{- if eq .Values.server "ejabberd" -}}ejabberd.yml{{- else if eq .Values.server "prosody" -}}prosody.cfg.lua{{- else -}}
{{- fail (printf "server must be ejabberd or prosody, not %q" .Values.server) -}}
{{- end -}}
{{- end -}}

{{/*
xmpp.config: the compiled config of the selected server; fails when it is missing.
Usage: {{ include "xmpp.config" . }}
*/}}
{{- define "xmpp.config" -}}
{{- $text := get .Values.compiled .Values.server -}}
{{- if not $text -}}
{{- fail (printf "compiled.%s is empty: render with `helm xmpp render CHART -f site.xmpp`, whose DSL must target %s" .Values.server .Values.server) -}}
{{- end -}}
{{- $text -}}
{{- end -}}

{{/*
xmpp.configPath: where the selected server's image reads its config.
Usage: {{ include "xmpp.configPath" . }}
*/}}
{{- define "xmpp.configPath" -}}
{{- if eq .Values.server "ejabberd" -}}/opt/ejabberd/conf/ejabberd.yml{{- else -}}/etc/prosody/prosody.cfg.lua{{- end -}}
{{- end -}}
