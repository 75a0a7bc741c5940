#!/usr/bin/env escript
%% The chart's upload service for ejabberd's signed uploads, run beside the server from its image:
%% `escript ejabberd-upload.escript PORT DOCROOT PREFIX KEYS`.
%%
%% ejabberd keeps an upload slot in the memory of the node that issued it, so in a cluster a `PUT`
%% that the load balancer sends to another node is refused. With the DSL's `upload … { signed env(…) }`
%% ejabberd keeps no slot: it signs each `PUT` URL instead (`external_secret`: `?v=` the hex
%% HMAC-SHA256 of "USER/RANDOM/FILE SIZE"), and this service, beside every pod, checks the signature,
%% writes the file under DOCROOT (the uploads volume every pod mounts) and serves it back. KEYS: where
%% the keys are read, `env:NAME` or `file:/path`, comma-separated (one per domain's key; a signature
%% by any of them is accepted).
%%
%% `PUT PREFIX/USER/RANDOM/FILE?v=HMAC` with a Content-Length equal to the signed size: 201; a wrong
%% or missing signature 403; a body in chunks 411; an existing file 409. The file appears whole or not
%% at all (written aside, then renamed). `GET`/`HEAD` of such a path: the file, with ejabberd's
%% headers (its type by extension, shown inline only for images, text, audio and video; no sniffing,
%% a sandboxing CSP). `GET` elsewhere: 200, for load balancers' health checks. `OPTIONS`: CORS, for web
%% clients. A request's head is read within 30 s and 64 lines, its body within 30 s of silence per
%% read; at most 64 requests at a time.
-mode(compile).
-include_lib("kernel/include/file.hrl").

-define(TIMEOUT, 30000).
-define(MAX_LINES, 64).
-define(MAX_REQUESTS, 64).

main([Port, DocRoot, Prefix, Keys]) ->
    Secrets = [key(Source) || Source <- string:lexemes(Keys, ",")],
    Listen = case gen_tcp:listen(list_to_integer(Port), [binary, {packet, http_bin}, {active, false},
                                                          {reuseaddr, true}, {backlog, 128}, {exit_on_close, false}]) of
                 {ok, Socket} -> Socket;
                 {error, Reason} -> die("cannot listen on port ~s: ~p", [Port, Reason])
             end,
    io:format("ejabberd upload service: signed PUTs to ~s on port ~s, written under ~s~n", [Prefix, Port, DocRoot]),
    Config = #{docroot => unicode:characters_to_binary(DocRoot),
               prefix => unicode:characters_to_binary(string:trim(Prefix, trailing, "/")),
               keys => Secrets},
    accept(Listen, Config, 0);
main(_) ->
    die("usage: ejabberd-upload.escript PORT DOCROOT PREFIX env:NAME|file:/path[,…]", []).

%% A signing key, from an environment variable or a file (its trailing newline dropped).
key("env:" ++ Name) ->
    case os:getenv(Name) of
        Value when Value =:= false; Value =:= "" -> die("the upload signing key ~s is not set", [Name]);
        Value -> unicode:characters_to_binary(Value)
    end;
key("file:" ++ Path) ->
    case file:read_file(Path) of
        {ok, Value} when Value =/= <<>> -> string:trim(Value, trailing, "\r\n");
        _ -> die("the upload signing key file ~s cannot be read", [Path])
    end;
key(Source) ->
    die("~s: a signing key is env:NAME or file:/path", [Source]).

die(Format, Args) ->
    io:format(standard_error, "ejabberd upload service: " ++ Format ++ "~n", Args),
    halt(2).

%% One process per request, at most ?MAX_REQUESTS at a time.
accept(Listen, Config, Running) when Running >= ?MAX_REQUESTS ->
    receive {'DOWN', _, process, _, _} -> accept(Listen, Config, Running - 1) end;
accept(Listen, Config, Running) ->
    receive
        {'DOWN', _, process, _, _} -> accept(Listen, Config, Running - 1)
    after 0 ->
        {ok, Socket} = gen_tcp:accept(Listen),
        {Pid, _} = spawn_monitor(fun() -> receive go -> serve(Socket, Config) end end),
        ok = gen_tcp:controlling_process(Socket, Pid),
        Pid ! go,
        accept(Listen, Config, Running + 1)
    end.

serve(Socket, Config) ->
    case head(Socket) of
        {ok, Method, Target, Headers} ->
            {Status, Note} = answer(Method, Target, Headers, Socket, Config),
            reply(Socket, Status, Method),
            log(Method, Target, Status, Note);
        error ->
            reply(Socket, 400, undefined)
    end,
    linger(Socket).

%% A refused request's body may still be arriving: read and drop it for a while (16 MiB, or 2 s of
%% silence) before closing, so the client reads the answer instead of a reset connection.
linger(Socket) ->
    gen_tcp:shutdown(Socket, write),
    inet:setopts(Socket, [{packet, raw}]),
    drain(Socket, 16 bsl 20),
    gen_tcp:close(Socket).

drain(Socket, Left) when Left > 0 ->
    case gen_tcp:recv(Socket, 0, 2000) of
        {ok, Data} -> drain(Socket, Left - byte_size(Data));
        _ -> ok
    end;
drain(_, _) ->
    ok.

%% The request line and headers (lower-cased names), or error.
head(Socket) ->
    case gen_tcp:recv(Socket, 0, ?TIMEOUT) of
        {ok, {http_request, Method, {abs_path, Target}, _}} -> headers(Socket, Method, Target, #{}, ?MAX_LINES);
        _ -> error
    end.

headers(_, _, _, _, 0) ->
    error;
headers(Socket, Method, Target, Acc, Left) ->
    case gen_tcp:recv(Socket, 0, ?TIMEOUT) of
        {ok, {http_header, _, Name, _, Value}} ->
            headers(Socket, Method, Target, Acc#{string:lowercase(name(Name)) => Value}, Left - 1);
        {ok, http_eoh} ->
            {ok, Method, Target, Acc};
        _ ->
            error
    end.

name(Name) when is_atom(Name) -> atom_to_binary(Name);
name(Name) -> Name.

answer('OPTIONS', _, _, _, _) -> {200, ""};
answer('PUT', Target, Headers, Socket, Config) -> put(Target, Headers, Socket, Config);
answer(Method, Target, _, _, Config) when Method =:= 'GET'; Method =:= 'HEAD' -> get(Target, Config);
answer(_, _, _, _, _) -> {405, ""}.

get(Target, #{docroot := DocRoot, prefix := Prefix}) ->
    [Path | _] = binary:split(Target, <<"?">>),
    case slot(Path, Prefix) of
        outside -> {200, ""};
        error -> {404, ""};
        Slot ->
            File = filename:join([DocRoot | Slot]),
            case file:read_file_info(File) of
                {ok, #file_info{type = regular, size = Size}} -> {{file, File, Size}, ""};
                _ -> {404, "no such file"}
            end
    end.

put(Target, Headers, Socket, #{docroot := DocRoot, prefix := Prefix, keys := Keys}) ->
    [Path | Query] = binary:split(Target, <<"?">>),
    Size = content_length(Headers),
    case {slot(Path, Prefix), signature(Query), Size} of
        {Bad, _, _} when Bad =:= error; Bad =:= outside -> {404, "not a slot's path"};
        {_, error, _} -> {403, "no signature"};
        {_, _, chunked} -> {411, "a body in chunks"};
        {_, _, error} -> {400, "no valid Content-Length"};
        {Slot, Signature, _} ->
            Signed = iolist_to_binary([lists:join(<<"/">>, Slot), " ", integer_to_binary(Size)]),
            case lists:any(fun(Key) -> signs(Key, Signed, Signature) end, Keys) of
                true -> store(filename:join([DocRoot | Slot]), Size, Headers, Socket);
                false -> {403, "a wrong signature"}
            end
    end.

signs(Key, Signed, Signature) ->
    Expected = string:lowercase(binary:encode_hex(crypto:mac(hmac, sha256, Key, Signed))),
    crypto:hash_equals(Expected, string:lowercase(pad(Signature, byte_size(Expected)))).

%% hash_equals wants equal sizes; a signature of another size must still fail.
pad(Signature, Size) when byte_size(Signature) =:= Size -> Signature;
pad(_, Size) -> binary:copy(<<"x">>, Size).

%% PREFIX/USER/RANDOM/FILE, each part percent-decoded and none of them empty, `.`, `..` or with a
%% slash or NUL in it: the signature covers the decoded parts, the file is written at exactly them.
%% `outside` for a path not under PREFIX.
slot(Path, Prefix) ->
    case binary:split(Path, <<"/">>, [global]) of
        [<<>> | Parts] ->
            PrefixParts = tl(binary:split(Prefix, <<"/">>, [global])),
            case lists:split(min(length(PrefixParts), length(Parts)), Parts) of
                {PrefixParts, [_, _, _] = Slot} -> decode(Slot, []);
                {PrefixParts, _} -> error;
                _ -> outside
            end;
        _ ->
            error
    end.

decode([], Acc) ->
    lists:reverse(Acc);
decode([Part | Rest], Acc) ->
    case uri_string:percent_decode(Part) of
        Bad when Bad =:= <<>>; Bad =:= <<".">>; Bad =:= <<"..">> -> error;
        Decoded when is_binary(Decoded) ->
            case binary:match(Decoded, [<<"/">>, <<0>>]) of
                nomatch -> decode(Rest, [Decoded | Acc]);
                _ -> error
            end;
        _ -> error
    end.

signature([Query]) ->
    case catch uri_string:dissect_query(Query) of
        Pairs when is_list(Pairs) ->
            case lists:keyfind(<<"v">>, 1, Pairs) of
                {_, V} when is_binary(V), V =/= <<>> -> V;
                _ -> error
            end;
        _ -> error
    end;
signature([]) ->
    error.

content_length(#{<<"transfer-encoding">> := _}) -> chunked;
content_length(#{<<"content-length">> := Value}) ->
    case catch binary_to_integer(Value) of
        N when is_integer(N), N >= 0 -> N;
        _ -> error
    end;
content_length(_) -> error.

%% The body into a file beside the slot's, renamed into place when whole; an existing file is kept.
store(File, Size, Headers, Socket) ->
    Partial = iolist_to_binary([File, ".partial-", integer_to_binary(erlang:unique_integer([positive]))]),
    Opened = case filelib:ensure_dir(File) of
                 ok -> file:open(Partial, [write, raw, binary, exclusive]);
                 Error -> Error
             end,
    case {filelib:is_file(File), Opened} of
        {true, {ok, Out}} -> file:close(Out), file:delete(Partial), {409, "the file exists"};
        {true, _} -> {409, "the file exists"};
        {false, {error, Reason}} -> {500, io_lib:format("cannot write under the docroot: ~p", [Reason])};
        {false, {ok, Out}} ->
            ok = inet:setopts(Socket, [{packet, raw}]),
            [gen_tcp:send(Socket, <<"HTTP/1.1 100 Continue\r\n\r\n">>)
             || string:lowercase(maps:get(<<"expect">>, Headers, <<>>)) =:= <<"100-continue">>],
            Result = copy(Socket, Out, Size),
            ok = file:close(Out),
            case Result =:= ok andalso file:rename(Partial, File) of
                ok -> {201, ""};
                _ -> file:delete(Partial), {400, "the body ended before Content-Length"}
            end
    end.

copy(_, _, 0) -> ok;
copy(Socket, Out, Left) ->
    case gen_tcp:recv(Socket, min(Left, 65536), ?TIMEOUT) of
        {ok, Data} -> ok = file:write(Out, Data), copy(Socket, Out, Left - byte_size(Data));
        {error, _} -> error
    end.

reply(Socket, {file, File, Size}, Method) ->
    Name = filename:basename(File),
    Type = content_type(Name),
    Inline = lists:any(fun(P) -> string:prefix(Type, P) =/= nomatch end, [<<"image/">>, <<"text/">>, <<"audio/">>, <<"video/">>]),
    Disposition = [[<<"Content-Disposition: attachment; filename=\"">>, Name, <<"\"\r\n">>] || not Inline],
    gen_tcp:send(Socket, [<<"HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\nContent-Type: ">>, Type,
                          <<"\r\nX-Content-Type-Options: nosniff\r\n"
                            "Content-Security-Policy: sandbox; default-src 'none'\r\n">>, Disposition,
                          <<"Content-Length: ">>, integer_to_binary(Size), <<"\r\nConnection: close\r\n\r\n">>]),
    [file:sendfile(File, Socket) || Method =:= 'GET'],
    ok;
reply(Socket, Status, Method) ->
    Cors = case Method of
               'OPTIONS' -> <<"Access-Control-Allow-Methods: GET, HEAD, PUT, OPTIONS\r\n"
                              "Access-Control-Allow-Headers: Content-Type\r\n">>;
               _ -> <<>>
           end,
    gen_tcp:send(Socket, [<<"HTTP/1.1 ">>, integer_to_binary(Status), <<" ">>, reason(Status),
                          <<"\r\nAccess-Control-Allow-Origin: *\r\n">>, Cors,
                          <<"Content-Length: 0\r\nConnection: close\r\n\r\n">>]).

%% The types of ejabberd's own file server for the usual uploads; anything else is a download.
content_type(Name) ->
    Types = #{<<".png">> => <<"image/png">>, <<".jpg">> => <<"image/jpeg">>, <<".jpeg">> => <<"image/jpeg">>,
              <<".gif">> => <<"image/gif">>, <<".webp">> => <<"image/webp">>, <<".heic">> => <<"image/heic">>,
              <<".svg">> => <<"image/svg+xml">>, <<".txt">> => <<"text/plain">>, <<".pdf">> => <<"application/pdf">>,
              <<".mp4">> => <<"video/mp4">>, <<".webm">> => <<"video/webm">>, <<".mov">> => <<"video/quicktime">>,
              <<".ogg">> => <<"audio/ogg">>, <<".oga">> => <<"audio/ogg">>, <<".opus">> => <<"audio/ogg">>,
              <<".m4a">> => <<"audio/mp4">>, <<".mp3">> => <<"audio/mpeg">>, <<".wav">> => <<"audio/wav">>,
              <<".zip">> => <<"application/zip">>, <<".gz">> => <<"application/gzip">>},
    maps:get(string:lowercase(filename:extension(Name)), Types, <<"application/octet-stream">>).

reason(200) -> <<"OK">>;
reason(201) -> <<"Created">>;
reason(400) -> <<"Bad Request">>;
reason(403) -> <<"Forbidden">>;
reason(404) -> <<"Not Found">>;
reason(405) -> <<"Method Not Allowed">>;
reason(409) -> <<"Conflict">>;
reason(411) -> <<"Length Required">>;
reason(500) -> <<"Internal Server Error">>.

%% Refusals and stored files, never the signature.
log(_, _, {file, _, _}, _) ->
    ok;
log('PUT', Target, Status, Note) ->
    [Path | _] = binary:split(Target, <<"?">>),
    io:format("PUT ~ts ~B~s~n", [Path, Status, [[" (", Note, ")"] || Note =/= ""]]);
log(_, _, _, _) ->
    ok.
