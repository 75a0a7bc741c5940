#!/usr/bin/env escript
%% The chart's metrics exporter for ejabberd, which has no metrics endpoint of its own up to 24.12.
%% Runs beside the server, from its image: `escript ejabberd-exporter.escript PORT API`. Answers any
%% GET on PORT with Prometheus text, each scrape read from ejabberd's admin API (API, e.g.
%% http://127.0.0.1:5280/api) over the pod's loopback, which the DSL's `api … allow` must include.
%% One scrape at a time; a request is read within 5 s and 64 header lines, or dropped.
-mode(interpret).

main([Port, Api]) ->
    ok = inets:start(),
    {ok, Listen} = gen_tcp:listen(list_to_integer(Port),
                                  [binary, {packet, http_bin}, {active, false}, {reuseaddr, true}]),
    io:format("ejabberd exporter: metrics on port ~s, read from ~s~n", [Port, Api]),
    accept(Listen, Api);
main(_) ->
    io:format(standard_error, "usage: ejabberd-exporter.escript PORT API-URL~n", []),
    halt(2).

accept(Listen, Api) ->
    {ok, Socket} = gen_tcp:accept(Listen),
    case request(Socket, 64) of
        ok ->
            Body = metrics(Api),
            gen_tcp:send(Socket, [<<"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n">>,
                                  <<"Connection: close\r\nContent-Length: ">>,
                                  integer_to_binary(iolist_size(Body)), <<"\r\n\r\n">>, Body]);
        error ->
            ok
    end,
    gen_tcp:close(Socket),
    accept(Listen, Api).

%% The request line, then headers up to the blank line.
request(Socket, Left) when Left > 0 ->
    case gen_tcp:recv(Socket, 0, 5000) of
        {ok, {http_request, 'GET', _, _}} -> request(Socket, Left - 1);
        {ok, {http_header, _, _, _, _}} -> request(Socket, Left - 1);
        {ok, http_eoh} -> ok;
        _ -> error
    end;
request(_, _) ->
    error.

metrics(Api) ->
    Stats = [{"ejabberd_registered_users", "Registered accounts on every domain", stat(Api, "registeredusers")},
             {"ejabberd_online_users", "Sessions on every node of the cluster", stat(Api, "onlineusers")},
             {"ejabberd_node_sessions", "Sessions on this node", stat(Api, "onlineusersnode")},
             {"ejabberd_uptime_seconds", "Seconds since this node started", stat(Api, "uptimeseconds")},
             {"ejabberd_cluster_nodes", "Running nodes in this node's cluster", cluster_nodes(Api)}],
    Up = lists:all(fun({_, _, V}) -> is_integer(V) end, Stats),
    [[gauge(Name, Help, V) || {Name, Help, V} <- Stats, is_integer(V)],
     gauge("ejabberd_exporter_up", "1 when every value was read from the admin API", bool(Up))].

gauge(Name, Help, Value) ->
    io_lib:format("# HELP ~s ~s~n# TYPE ~s gauge~n~s ~B~n", [Name, Help, Name, Name, Value]).

bool(true) -> 1;
bool(false) -> 0.

%% `stats NAME`: {"stat": N} (or N alone on newer API versions).
stat(Api, Name) ->
    case call(Api, "stats", ["{\"name\":\"", Name, "\"}"]) of
        {ok, Body} ->
            case re:run(Body, "-?[0-9]+", [{capture, first, list}]) of
                {match, [N]} -> list_to_integer(N);
                nomatch -> error
            end;
        error ->
            error
    end.

%% `list_cluster`: the running nodes, a JSON list of names.
cluster_nodes(Api) ->
    case call(Api, "list_cluster", "{}") of
        {ok, Body} ->
            case re:run(Body, "\"[^\"]+\"", [global]) of
                {match, Names} -> length(Names);
                nomatch -> 0
            end;
        error ->
            error
    end.

call(Api, Command, Json) ->
    Url = Api ++ "/" ++ Command,
    case httpc:request(post, {Url, [], "application/json", iolist_to_binary(Json)},
                       [{timeout, 5000}, {connect_timeout, 2000}], [{body_format, binary}]) of
        {ok, {{_, 200, _}, _, Body}} ->
            {ok, Body};
        Other ->
            io:format(standard_error, "ejabberd exporter: ~s: ~w~n", [Url, Other]),
            error
    end.
