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
{{ include "xmpp.partLabels" (list . "server") }}
{{- end -}}

{{/*
xmpp.partLabels: the labels that select one part of the release: server, postgresql, coturn.
Usage: {{ include "xmpp.partLabels" (list . "postgresql") | nindent 6 }}
*/}}
{{- define "xmpp.partLabels" -}}
app.kubernetes.io/name: {{ (index . 0).Chart.Name }}
app.kubernetes.io/instance: {{ (index . 0).Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/*
xmpp.labels: the labels on every resource of the server.
Usage: {{ include "xmpp.labels" . | nindent 4 }}
*/}}
{{- define "xmpp.labels" -}}
{{ include "xmpp.partLabels" (list . "server") }}
{{ include "xmpp.commonLabels" . }}
{{- end -}}

{{/*
xmpp.commonLabels: the labels every resource of the release carries besides its part's.
Usage: {{ include "xmpp.commonLabels" . | nindent 4 }}
*/}}
{{- define "xmpp.commonLabels" -}}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- $server := include "xmpp.server" . }}
app.kubernetes.io/version: {{ (get .Values.image $server).tag | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
helm-xmpp.io/server: {{ $server }}
{{- end -}}

{{/*
xmpp.server: the server that runs: `server` when set, else the one the DSL targets (ejabberd when it
targets both). Fails when the DSL does not target it, or when there is no compile result at all.
Usage: {{ $server := include "xmpp.server" . }}
*/}}
{{- define "xmpp.server" -}}
{{- $targets := .Values.compiled.targets | default dict -}}
{{- if not $targets -}}
{{- fail "compiled.files is empty: render with `helm xmpp render CHART -f site.xmpp` (or install/upgrade), which compiles the DSL into the chart's values" -}}
{{- end -}}
{{- $server := .Values.server | default (ternary "ejabberd" "prosody" (hasKey $targets "ejabberd")) -}}
{{- if not (hasKey $targets $server) -}}
{{- fail (printf "server=%s, but the DSL targets only %s: add `%s` to its `targets` line, or set server to one of those" $server (join ", " (keys $targets | sortAlpha)) $server) -}}
{{- end -}}
{{- $server -}}
{{- end -}}

{{/*
xmpp.compiledFile: the compiled config of the server that runs, as JSON `{server, name, text}`.
Usage: {{ $config := include "xmpp.compiledFile" . | fromJson }}
*/}}
{{- define "xmpp.compiledFile" -}}
{{- $server := include "xmpp.server" . -}}
{{- range .Values.compiled.files }}{{ if eq .server $server }}{{ toJson . }}{{ end }}{{ end -}}
{{- end -}}

{{/*
xmpp.configFile: the file name of that config, as the compiler named it.
Usage: {{ include "xmpp.configFile" . }}
*/}}
{{- define "xmpp.configFile" -}}
{{- (include "xmpp.compiledFile" . | fromJson).name -}}
{{- end -}}

{{/*
xmpp.config: the text of that config.
Usage: {{ include "xmpp.config" . }}
*/}}
{{- define "xmpp.config" -}}
{{- (include "xmpp.compiledFile" . | fromJson).text -}}
{{- end -}}

{{/*
xmpp.serviceAccountName: the pods' ServiceAccount.
Usage: {{ include "xmpp.serviceAccountName" . }}
*/}}
{{- define "xmpp.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}{{ default (include "xmpp.fullname" .) .Values.serviceAccount.name }}
{{- else -}}{{ default "default" .Values.serviceAccount.name }}{{- end -}}
{{- end -}}

{{/*
xmpp.tlsSecret: the Secret with the server's certificate: an existing one, cert-manager's, or empty.
Usage: {{ include "xmpp.tlsSecret" . }}
*/}}
{{- define "xmpp.tlsSecret" -}}
{{- if .Values.tls.existingSecret -}}{{ .Values.tls.existingSecret }}
{{- else if .Values.tls.certManager.enabled -}}{{ include "xmpp.fullname" . }}-tls{{- end -}}
{{- end -}}

{{/*
xmpp.cookieSecret: the Secret with the Erlang cookie.
Usage: {{ include "xmpp.cookieSecret" . }}
*/}}
{{- define "xmpp.cookieSecret" -}}
{{- default (printf "%s-erlang-cookie" (include "xmpp.fullname" .)) .Values.cluster.cookieSecret -}}
{{- end -}}

{{/*
xmpp.http: the DSL's HTTP listener as JSON (`{}` when there is none).
Usage: {{ $http := include "xmpp.http" . | fromJson }}
*/}}
{{- define "xmpp.http" -}}
{{- $http := dict -}}
{{- range .Values.compiled.ports }}{{ if and (eq .kind "http") (not $http) }}{{ $http = . }}{{ end }}{{ end -}}
{{- toJson $http -}}
{{- end -}}

{{/*
xmpp.route: the path the HTTP listener serves for a kind of route, or empty.
Usage: {{ include "xmpp.route" (list . "metrics") }}
*/}}
{{- define "xmpp.route" -}}
{{- $http := include "xmpp.http" (index . 0) | fromJson -}}
{{- range ($http.routes | default list) }}{{ if eq .kind (index $ 1) }}{{ .path }}{{ end }}{{ end -}}
{{- end -}}

{{/*
xmpp.probePort: the port the probes knock on: the first STARTTLS client port, else the first port.
Usage: {{ include "xmpp.probePort" . }}
*/}}
{{- define "xmpp.probePort" -}}
{{- $name := "" -}}
{{- range .Values.compiled.ports }}{{ if and (eq .kind "client") (ne .tls "direct") (not $name) }}{{ $name = .name }}{{ end }}{{ end -}}
{{- if not $name }}{{ $name = (first .Values.compiled.ports).name }}{{ end -}}
{{- $name -}}
{{- end -}}

{{/*
xmpp.domain: the DSL's first domain.
Usage: {{ include "xmpp.domain" . }}
*/}}
{{- define "xmpp.domain" -}}
{{- first (.Values.compiled.domains | default (list "localhost")) -}}
{{- end -}}

{{/*
xmpp.restricted: a container security context that passes the `restricted` Pod Security level.
Usage: {{ include "xmpp.restricted" . | nindent 12 }}
*/}}
{{- define "xmpp.restricted" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
xmpp.secretEnv: the environment variables the DSL reads secrets from, each from secrets.existingSecret;
with "macros", also as EJABBERD_MACRO_<NAME> (ejabberd >= 24.12 reads macros from the environment).
Usage: {{ include "xmpp.secretEnv" (dict "root" . "macros" true) | nindent 12 }}
*/}}
{{- define "xmpp.secretEnv" -}}
{{- $secret := .root.Values.secrets.existingSecret -}}
{{- range .root.Values.compiled.secretEnv }}
- name: {{ . }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ . }}
{{- if $.macros }}
- name: EJABBERD_MACRO_{{ . }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
xmpp.tlsWatch: a shell loop that runs `reload` (with `$server` the shell's own PID, which `exec` hands to
the server; `$$$$` since Kubernetes makes `$$` of it in a command) each time the kubelet swaps the mounted TLS Secret (its `..data` link), every
`tls.reload.intervalSeconds`. Usage: {{ include "xmpp.tlsWatch" (dict "root" . "reload" "CMD") }}
*/}}
{{- define "xmpp.tlsWatch" -}}
{{- $link := printf "%s/..data" .root.Values.tls.mountPath -}}
server=$$$$; (seen=$(readlink {{ $link }}); while sleep {{ int .root.Values.tls.reload.intervalSeconds }}; do now=$(readlink {{ $link }}) || continue; [ "$now" = "$seen" ] && continue; if {{ .reload }}; then echo "tls: reloaded the certificate ($now)" >&2; seen=$now; fi; done) 
{{- end -}}

{{/*
xmpp.erlangEnv: what an ejabberd node (the server, or ejabberdctl beside it) needs to be itself: its
name, the shared cookie, the distribution port, a writable HOME.
Usage: {{ include "xmpp.erlangEnv" (dict "root" . "home" $home "nodeDomain" $nodeDomain) }}
*/}}
{{- define "xmpp.erlangEnv" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
# The root filesystem is read-only: HOME is a scratch volume (the Erlang cookie is written there
# afresh at each start, owner-only), and `@HOME@/upload` is the data volume's upload folder.
- name: HOME
  value: {{ .home }}/run
- name: ERLANG_NODE_ARG
  value: "ejabberd@$(POD_NAME).{{ .nodeDomain }}"
- name: ERLANG_COOKIE
  valueFrom:
    secretKeyRef:
      name: {{ include "xmpp.cookieSecret" .root }}
      key: {{ .root.Values.cluster.cookieKey }}
- name: ERL_DIST_PORT
  value: {{ .root.Values.cluster.distPort | quote }}
{{- end -}}
