-- A Prosody config written by hand the way production ones are: environment references, literal
-- secrets, arithmetic, long strings, comments with braces { in them, tables keyed every way, sections
-- re-entered, a component with a table of options, an Include, an option set twice and one unset.
admins = { "ops@chat.test" }
plugin_paths = { "/usr/local/lib/prosody/modules" }
modules_enabled = {
	"roster"; "saslauth"; "tls"; "dialback"; "disco"; -- the basics }
	"carbons", "pep", "smacks", "mam", "csi_simple",
	"bosh", "websocket", "http_openmetrics", "turn_external",
}
modules_disabled = { "s2s" }
c2s_ports = { 5222 }
c2s_direct_tls_ports = { 5223 }
http_ports = { 5280 }
https_ports = { }
http_paths = { bosh = "/http-bind", websocket = "/xmpp-websocket", ["file_share"] = "/upload" }
c2s_require_encryption = true
s2s_secure_auth = true
consider_bosh_secure = true
archive_expires_after = "1w"
max_archive_query_results = 10 * 10
limits = { c2s = { rate = "10kb/s"; burst = "2s" }; s2sin = { rate = "30kb/s" } }
log = {
	info = "*console";
	{ levels = { min = "error" }; to = "file"; filename = [[/var/log/prosody/prosody.err]] };
}
storage = "sql"
sql = {
	driver = "PostgreSQL", database = "prosody", username = "prosody",
	host = "postgres.db.svc", port = 5432,
	password = "s3cr3t-db-literal",
}
motd_text = [[
Welcome to chat.test! Rules: {be kind}.]]
welcome_message = "Hello " .. "from " .. 'chat.test'
turn_external_host = "turn.chat.test"
turn_external_secret = "s3cr3t-turn-literal"
http_external_url = ENV_EXTERNAL_URL
contact_info = { admin = { "xmpp:ops@chat.test", "mailto:ops@chat.test" } }
statistics = "internal"
statistics_interval = "manual"
trusted_proxies = { "127.0.0.1", "10.0.0.0/8" }
certificates = "certs"
certificates = "/etc/prosody/certs" -- set twice: the second wins
unused = "gone"; unused = nil

VirtualHost "chat.test"
	ssl = { certificate = "/etc/prosody/certs/chat.test.crt"; key = "/etc/prosody/certs/chat.test.key" }
	admins = { "alice@chat.test" }
	default_archive_policy = "roster"
	http_host = "chat.test"

VirtualHost "guest.chat.test" {
	authentication = "anonymous";
	allow_anonymous_s2s = false;
}

Component "conference.chat.test" "muc"
	modules_enabled = { "muc_mam", "vcard_muc" }
	restrict_room_creation = "local"
	max_history_messages = 50

Component "upload.chat.test" "http_file_share"
	http_file_share_size_limit = 50 * 1024 * 1024
	http_file_share_expire_after = 60 * 60 * 24 * 7

Component "bridge.chat.test"
	component_secret = os.getenv("BRIDGE_SECRET")

Component "gateway.chat.test"
	component_secret = "s3cr3t-gateway-literal"

Host "*"
	s2s_timeout = 60

VirtualHost "chat.test"
	welcome_message = Lua.os.getenv("WELCOME")

Include "conf.d/*.cfg.lua"
