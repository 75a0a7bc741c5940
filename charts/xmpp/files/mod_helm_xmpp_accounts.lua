-- mod_helm_xmpp_accounts: the accounts registered on each host, as the Prometheus gauge
-- prosody_mod_helm_xmpp_accounts__accounts{host="…"}, which Prosody does not count itself.
-- Shipped with helm-xmpp's chart (charts/xmpp/files) and loaded where the DSL has `metrics`.
-- Counting walks the host's accounts through its storage, so it runs at a collection (a scrape)
-- at most every 15 s; an authentication provider that cannot list accounts (LDAP) gives none.
local counted_at;
local accounts = module:metric("gauge", "accounts", "", "Registered accounts on this host");

module:hook_global("stats-update", function ()
	local now = os.time();
	if counted_at and now - counted_at < 15 then return; end
	counted_at = now;
	local provider = prosody.hosts[module.host] and prosody.hosts[module.host].users;
	if not (provider and provider.users) then return; end
	local ok, n = pcall(function ()
		local n = 0;
		for _ in provider.users() do n = n + 1; end
		return n;
	end);
	if ok then
		accounts:with_labels():set(n);
	else
		module:log("warn", "Cannot count the accounts: %s", n);
	end
end);
