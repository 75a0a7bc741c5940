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
xmpp.http: the DSL's first HTTP listener that speaks plain HTTP (an Ingress's backend; one with
`tls direct` serves HTTPS itself), as JSON (`{}` when there is none).
Usage: {{ $http := include "xmpp.http" . | fromJson }}
*/}}
{{- define "xmpp.http" -}}
{{- $http := dict -}}
{{- range .Values.compiled.ports }}{{ if and (eq .kind "http") (ne .tls "direct") (not $http) }}{{ $http = . }}{{ end }}{{ end -}}
{{- toJson $http -}}
{{- end -}}

{{/*
xmpp.affinityCookie: the cookie that keeps a BOSH client on one pod, whichever controller sets it.
*/}}
{{- define "xmpp.affinityCookie" -}}xmpp-route{{- end -}}

{{/*
xmpp.edgePaths: the routes of the plain-HTTP listener whose kinds are listed (an Ingress's or an
HTTPRoute's), as JSON `[{kind, path, port, portName}]` on the `-http` Service: the listener's port, or for
signed uploads the upload service's. Fails when there is no such listener or it serves none of them.
Usage: {{ $paths := include "xmpp.edgePaths" (list . "ingress" .Values.ingress.routes) | fromJsonArray }}
*/}}
{{- define "xmpp.edgePaths" -}}
{{- $root := index . 0 }}{{ $what := index . 1 }}{{ $kinds := index . 2 -}}
{{- $http := include "xmpp.http" $root | fromJson -}}
{{- if not $http }}{{ fail (printf "%s.enabled needs an HTTP listener in the DSL (`listen http PORT { … }`)" $what) }}{{ end -}}
{{- $uploads := include "xmpp.uploadService" $root | fromJson -}}
{{- $paths := list -}}
{{- range $http.routes }}
{{- if and (eq .kind "upload") $uploads (has .kind $kinds) }}
{{- $paths = append $paths (dict "kind" .kind "path" .path "port" $uploads.port "portName" $uploads.portName) }}
{{- else if has .kind $kinds }}
{{- $paths = append $paths (dict "kind" .kind "path" .path "port" $http.port "portName" "http") }}
{{- end }}
{{- end -}}
{{- if not $paths }}{{ fail (printf "the DSL's HTTP listener serves none of %s.routes (%s)" $what (join ", " $kinds)) }}{{ end -}}
{{- toJson $paths -}}
{{- end -}}

{{/*
xmpp.uploadService: the upload service beside each ejabberd pod (files/ejabberd-upload.escript), as
JSON `{port, portName, path, keys}`, when the DSL signs uploads (`compiled.uploadKeys`): it takes the
signed PUTs (any pod's, whichever node issued the slot) and serves the files, so the edge sends the
upload route (`path`) there. `{}` otherwise; Prosody keeps its own slots, being one instance.
Usage: {{ $uploads := include "xmpp.uploadService" . | fromJson }}
*/}}
{{- define "xmpp.uploadService" -}}
{{- $path := include "xmpp.route" (list . "upload") -}}
{{- if and $path .Values.compiled.uploadKeys (eq (include "xmpp.server" .) "ejabberd") -}}
{{- dict "port" .Values.uploads.service.port "portName" "uploads" "path" $path "keys" .Values.compiled.uploadKeys | toJson -}}
{{- else }}{{ dict | toJson }}{{ end -}}
{{- end -}}

{{/*
xmpp.route: the path an HTTP listener without direct TLS serves for a kind of route, or empty.
Usage: {{ include "xmpp.route" (list . "metrics") }}
*/}}
{{- define "xmpp.route" -}}
{{- $kind := index . 1 -}}
{{- $http := include "xmpp.http" (index . 0) | fromJson -}}
{{- range ($http.routes | default list) }}{{ if eq .kind $kind }}{{ .path }}{{ end }}{{ end -}}
{{- end -}}

{{/*
xmpp.metrics: where the server's Prometheus metrics are scraped, as JSON `{port, portName, path}` (`{}`
when the DSL has no `metrics` route on a plain-HTTP listener). Prosody serves them on its HTTP port;
ejabberd (no endpoint of its own up to 24.12) through the exporter beside it (files/ejabberd-exporter.escript),
which reads the DSL's admin API on the pod's loopback (`api`: the exporter's `api` URL).
Usage: {{ $metrics := include "xmpp.metrics" . | fromJson }}
*/}}
{{- define "xmpp.metrics" -}}
{{- $path := include "xmpp.route" (list . "metrics") -}}
{{- $http := include "xmpp.http" . | fromJson -}}
{{- if not $path }}{{ dict | toJson }}
{{- else if eq (include "xmpp.server" .) "prosody" }}{{ dict "port" $http.port "portName" $http.name "path" $path | toJson }}
{{- else -}}
{{- $api := include "xmpp.route" (list . "api") -}}
{{- if not $api }}{{ fail "the DSL's `metrics` on ejabberd is served by the chart's exporter, which reads the admin API: add `api \"/api\" allow 127.0.0.1/8` to the HTTP listener" }}{{ end -}}
{{- dict "port" .Values.metrics.exporter.port "portName" "metrics" "path" "/metrics" "api" (printf "http://127.0.0.1:%v%s" $http.port $api) | toJson -}}
{{- end -}}
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
xmpp.paths: where the server's files are in its image (the official images' layout), as JSON: "home"
(ejabberd's), "data" (the claim), "config" (the config file), and "nodeDomain", the DNS suffix of the
ejabberd nodes' names. One place for each, for the server's pod and the jobs beside it.
Usage: {{ $paths := include "xmpp.paths" . | fromJson }}
*/}}
{{- define "xmpp.paths" -}}
{{- $home := "/opt/ejabberd" -}}
{{- $ejabberd := eq (include "xmpp.server" .) "ejabberd" -}}
{{- toJson (dict
  "home" $home
  "data" (ternary (printf "%s/database" $home) "/var/lib/prosody" $ejabberd)
  "config" (printf "%s/%s" (ternary (printf "%s/conf" $home) "/etc/prosody" $ejabberd) (include "xmpp.configFile" .))
  "nodeDomain" (printf "%s-headless.$(POD_NAMESPACE).svc.%s" (include "xmpp.fullname" .) .Values.cluster.domain)) -}}
{{- end -}}

{{/*
xmpp.postgresql: the bundled PostgreSQL's facts, in one place: its Service (and StatefulSet) name,
image, port, the claim's mount path and PGDATA inside it (a folder of its own: the claim's root may
hold lost+found). Usage: {{ $pg := include "xmpp.postgresql" . | fromJson }}
*/}}
{{- define "xmpp.postgresql" -}}
{{- $claim := "/var/lib/postgresql/data" -}}
{{- $image := .Values.postgresql.image -}}
{{- toJson (dict
  "name" (printf "%s-postgresql" (include "xmpp.fullname" .))
  "image" (printf "%s:%s" $image.repository $image.tag)
  "port" 5432
  "claim" $claim
  "pgdata" (printf "%s/pgdata" $claim)) -}}
{{- end -}}

{{/*
xmpp.erlangEnv: what an ejabberd node (the server, or ejabberdctl beside it) needs to be itself: its
name, the shared cookie, the distribution port, a writable HOME. With "pod", the node of that pod (for
ejabberdctl in another pod, as the backup's).
Usage: {{ include "xmpp.erlangEnv" (dict "root" . ["pod" NAME]) }}
*/}}
{{- define "xmpp.erlangEnv" -}}
{{- $paths := include "xmpp.paths" .root | fromJson -}}
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
  value: {{ $paths.home }}/run
- name: ERLANG_NODE_ARG
  value: "ejabberd@{{ .pod | default "$(POD_NAME)" }}.{{ $paths.nodeDomain }}"
- name: ERLANG_COOKIE
  valueFrom:
    secretKeyRef:
      name: {{ include "xmpp.cookieSecret" .root }}
      key: {{ .root.Values.cluster.cookieKey }}
- name: ERL_DIST_PORT
  value: {{ .root.Values.cluster.distPort | quote }}
{{- end -}}

{{/*
xmpp.clustered: "true" when the ejabberd pods form a cluster of more than one node (several replicas,
or an HPA), else empty.
Usage: {{ if include "xmpp.clustered" . }}
*/}}
{{- define "xmpp.clustered" -}}
{{- if and (eq (include "xmpp.server" .) "ejabberd") (or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1)) -}}true{{- end -}}
{{- end -}}

{{/*
xmpp.ejabberdStop: the preStop script of an ejabberd pod, in the server's container, while the node
still runs. First it waits `drain.delaySeconds`, so that the Services and their proxies stop sending
new connections (the pod left the endpoints when it began terminating). Then, through an Erlang node
of its own (the image's `erl`, the node's cookie and distribution port), it stops the listeners and
closes every session on this node with a `reset` stream error (clients reconnect at once, to another
pod): each session routes the messages its client had not acknowledged again, to the user's new
session or offline storage (the DSL's stream management sets `resend_on_timeout: true`), and so does it
with stanzas still routed to it. It waits until the sessions' processes
have ended (a closed session still routes again, for ~100 ms, what reaches it late), up to
`drain.timeoutSeconds`. When the StatefulSet has been scaled below this pod
(read from the API server: `get` on its own `statefulsets/scale`, the only right the pods have), the
node then leaves the cluster: the others drop it from the schema, its Mnesia is deleted, and a later
scale-out joins afresh. Pod 0, the node the others join, never leaves.
Usage: {{ include "xmpp.ejabberdStop" . }}
*/}}
{{- define "xmpp.ejabberdStop" -}}
sleep {{ int .Values.drain.delaySeconds }}
exec erl -noshell -hidden -name "prestop@${ERLANG_NODE_ARG#*@}" \
  -erl_epmd_port "$ERL_DIST_PORT" -start_epmd false -dist_listen false -eval '
N = list_to_atom(os:getenv("ERLANG_NODE_ARG")),
Say = fun(F, A) -> io:format("prestop: " ++ F ++ "~n", A) end,
Now = fun() -> erlang:monotonic_time(millisecond) end,
Deadline = Now() + {{ mul (int .Values.drain.timeoutSeconds) 1000 }},
pong == net_adm:ping(N) orelse begin Say("~s is not running", [N]), halt(0) end,
rpc:call(N, ejabberd_listener, stop_listeners, []),
Reset = rpc:call(N, xmpp, serr_reset, []),
Local = fun() ->
  case rpc:call(N, ejabberd_sm, dirty_get_my_sessions_list, []) of
    L when is_list(L) -> [element(2, element(2, S)) || S <- L];
    _ -> []
  end
end,
Kick = fun(P) -> rpc:call(N, ejabberd_c2s, send, [P, Reset]), rpc:call(N, ejabberd_c2s, stop_async, [P]) end,
Alive = fun(P) -> rpc:call(N, erlang, is_process_alive, [P]) =:= true end,
%% sessions that were opening when the listeners stopped are closed as they appear; a closed session
%% lingers ~100 ms to route again what still reaches it, so its process is waited for too
Drain = fun D(Kicked) ->
  New = Local() -- Kicked,
  lists:foreach(Kick, New),
  All = New ++ Kicked,
  case {lists:filter(Alive, All), Now() < Deadline} of
    {[], _} -> {closed, length(All)};
    {_, true} -> timer:sleep(100), D(All);
    {Left, false} -> {timeout, length(All), length(Left)}
  end
end,
Say("sessions: ~p", [Drain([])]),
Api = "/var/run/secrets/kubernetes.io/serviceaccount/",
Replicas = fun() ->
  {ok, Token} = file:read_file(Api ++ "token"),
  {ok, Ns} = file:read_file(Api ++ "namespace"),
  {ok, _} = application:ensure_all_started(inets),
  {ok, _} = application:ensure_all_started(ssl),
  Url = "https://kubernetes.default.svc:" ++ os:getenv("KUBERNETES_SERVICE_PORT", "443") ++
    "/apis/apps/v1/namespaces/" ++ binary_to_list(Ns) ++ "/statefulsets/{{ include "xmpp.fullname" . }}/scale",
  {ok, {{ "{{" }}_, 200, _}, _, Body}} = httpc:request(get,
    {Url, [{"authorization", "Bearer " ++ string:trim(binary_to_list(Token))}]},
    [{timeout, 5000}, {ssl, [{verify, verify_peer}, {cacertfile, Api ++ "ca.crt"}]}], []),
  case re:run(Body, "\"spec\":{(\"replicas\":([0-9]+))?}", [{capture, [2], list}]) of
    {match, [""]} -> 0;
    {match, [Count]} -> list_to_integer(Count)
  end
end,
Ordinal = list_to_integer(lists:last(string:split(os:getenv("POD_NAME"), "-", trailing))),
case Ordinal > 0 andalso (catch Replicas()) of
  false -> ok;
  Wanted when is_integer(Wanted), Wanted > Ordinal -> ok;
  Wanted when is_integer(Wanted) ->
    Say("the StatefulSet has ~b replicas: ~s leaves the cluster: ~p",
      [Wanted, N, rpc:call(N, ejabberd_cluster, leave, [N], 10000)]),
    %% the node ends its leaving (schema dropped, Mnesia deleted) in a process of its own, then halts
    Gone = fun G(T) -> case net_adm:ping(N) of pang -> gone; pong when T > 0 -> timer:sleep(200), G(T - 1); pong -> still_up end end,
    Say("~s: ~p", [N, Gone(50)]);
  Error -> Say("the replica count is unknown, ~s stays in the cluster: ~p", [N, Error])
end,
halt(0).'
{{- end -}}

{{/*
xmpp.backupDir: where one release's backups go inside the backup volume (several releases may share it).
Usage: {{ include "xmpp.backupDir" . }}
*/}}
{{- define "xmpp.backupDir" -}}
/backup/{{ .Release.Namespace }}/{{ include "xmpp.fullname" . }}
{{- end -}}

{{/*
xmpp.restore: the restore init container's script (dict "root" "data" "from"). ejabberd: the Mnesia
backup names the old release's nodes (`ejabberd@<pod>.<headless>.<namespace>…`), so every node in its
schema becomes this one (what `ejabberdctl mnesia_change_nodename` does for one name), and the result
is installed as Mnesia's fallback, which the server loads whole when it starts: every table, archives
included (`ejabberdctl restore` skips the tables of modules it does not list, MAM's among them).
Prosody: the data folder's files.
Usage: {{ include "xmpp.restore" (dict "root" . "data" $data "from" .Values.restore.from) }}
*/}}
{{- define "xmpp.restore" -}}
{{- $ejabberd := eq (include "xmpp.server" .root) "ejabberd" -}}
from=/restore/{{ .from }}; data={{ .data }}; mark=$data/.restored-{{ .from | replace "/" "_" }}
{{- if $ejabberd }}
case "$POD_NAME" in *-0) ;; *) echo "restore: only pod 0 restores; this one joins it"; exit 0;; esac
{{- end }}
if [ -e "$mark" ]; then echo "restore: $from was restored before"; exit 0; fi
{{- if $ejabberd }}
if [ -e "$data/schema.DAT" ]; then
  echo "restore: refused: $data holds a database already; restore into a new release, or delete its claim" >&2; exit 1
fi
[ -f "$from/mnesia.backup" ] || { echo "restore: no $from/mnesia.backup in restore.volume" >&2; exit 1; }
# The uploads first (again at a retry): the folder's contents, since the folder may be a shared
# volume's root, which is not ours to change.
if [ -f "$from/upload.tar" ]; then mkdir -p "$data/upload"; tar -C "$data/upload" --strip-components=1 -xf "$from/upload.tar"; fi
# Mnesia installs a fallback only on the node its schema names: this node, not listening.
erl -noshell -name "$ERLANG_NODE_ARG" -setcookie restore -erl_epmd_port "$ERL_DIST_PORT" -start_epmd false \
  -dist_listen false -eval '
[In, Out, Dir, Name] = init:get_plain_arguments(),
Node = list_to_atom(Name),
Copies = [ram_copies, disc_copies, disc_only_copies],
Move = fun(Key, Nodes) -> case lists:member(Key, Copies) andalso Nodes =/= [] of true -> [Node]; false -> Nodes end end,
Rename = fun
  ({schema, db_nodes, _}, Acc) -> {[{schema, db_nodes, [Node]}], Acc};
  ({schema, Tab, Defs}, Acc) when is_list(Defs) -> {[{schema, Tab, [{K, Move(K, V)} || {K, V} <- Defs]}], Acc};
  (Other, Acc) -> {[Other], Acc}
end,
{ok, renamed} = mnesia:traverse_backup(In, mnesia_backup, Out, mnesia_backup, Rename, renamed),
ok = mnesia:install_fallback(Out, [{scope, local}, {mnesia_dir, Dir}]),
halt(0).' -extra "$from/mnesia.backup" "$data/.restore.backup" "$data" "$ERLANG_NODE_ARG"
rm -f "$data/.restore.backup"
{{- else }}
# (a restore that failed half-way left its own files: it starts again over them)
if [ ! -e "$mark.started" ] && [ -n "$(ls -A "$data" | grep -v '^lost+found$')" ]; then
  echo "restore: refused: $data holds data already; restore into a new release, or delete its claim" >&2; exit 1
fi
[ -f "$from/prosody.tar" ] || { echo "restore: no $from/prosody.tar in restore.volume" >&2; exit 1; }
touch "$mark.started"
tar -C "$data" -xf "$from/prosody.tar"
rm -f "$mark.started"
{{- end }}
touch "$mark"
echo "restore: $from restored"
{{- end -}}

{{/*
xmpp.restorePostgresql: the bundled PostgreSQL's restore (dict "from" "step" "claim"). Step "arm", in an init
container: refuse a database that exists; mark the claim `.restoring` and leave
/docker-entrypoint-initdb.d/restore.sh, which the image's entrypoint sources once, on the server it
starts over the new PGDATA (pg_restore of the backup's dump; then the mark goes). Step "start", the
server container's command: a PGDATA left by a restore that did not end (failed, or killed) is
removed first, since init containers do not run when a container restarts, and the entrypoint would
serve it as it is.
*/}}
{{- define "xmpp.restorePostgresql" -}}
{{- $claim := .claim -}}
{{- $from := printf "/restore/%s" .from -}}
{{- $mark := printf "%s/.restored-%s" $claim (.from | replace "/" "_") -}}
{{- if eq .step "arm" -}}
if [ -e "{{ $mark }}" ]; then echo "restore: {{ $from }} was restored before"; exit 0; fi
if [ -s "$PGDATA/PG_VERSION" ] && [ ! -e "{{ $claim }}/.restoring" ]; then
  echo "restore: refused: the database exists already; restore into a new release, or delete its claim" >&2; exit 1
fi
[ -f "{{ $from }}/postgresql.dump" ] || { echo "restore: no {{ $from }}/postgresql.dump in restore.volume" >&2; exit 1; }
touch "{{ $claim }}/.restoring"
cat > /docker-entrypoint-initdb.d/restore.sh <<'EOF'
pg_restore --exit-on-error --no-owner --no-acl -U "$POSTGRES_USER" -d "$POSTGRES_DB" "{{ $from }}/postgresql.dump"
touch "{{ $mark }}"; rm -f "{{ $claim }}/.restoring"
echo "restore: {{ $from }}/postgresql.dump restored"
EOF
echo "restore: {{ $from }}/postgresql.dump armed for the first start"
{{- else -}}
if [ -e "{{ $claim }}/.restoring" ] && [ -e "$PGDATA" ]; then
  echo "restore: an unfinished restore is started again" >&2; rm -rf "$PGDATA"
fi
exec docker-entrypoint.sh postgres
{{- end -}}
{{- end -}}

{{/*
xmpp.macrosInit: the init container that writes the DSL's secrets as ejabberd macros (for ejabberd
< 24.12, which cannot read them from the environment), in the server's pod and in the upgrade check's.
Usage: {{ include "xmpp.macrosInit" . | nindent 8 }}
*/}}
{{- define "xmpp.macrosInit" -}}
{{- $image := get .Values.image (include "xmpp.server" .) -}}
# ejabberd < 24.12 cannot read secrets from the environment: write them as macros into a
# memory-backed volume that only this pod sees. Single quotes are YAML's, doubled inside.
- name: macros
  image: "{{ $image.repository }}:{{ $image.tag }}"
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  command:
    - /bin/sh
    - -ec
    - |
      umask 077
      {
        echo "define_macro:"
        for name in {{ join " " .Values.compiled.secretEnv }}; do
          printf "  %s: '%s'\n" "$name" "$(printenv "$name" | sed "s/'/''/g")"
        done
      } > {{ .Values.compiled.macrosFile | quote }}
  env:
    {{- include "xmpp.secretEnv" (dict "root" . "macros" false) | trim | nindent 4 }}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  volumeMounts:
    - name: macros
      mountPath: {{ dir .Values.compiled.macrosFile }}
{{- end -}}
