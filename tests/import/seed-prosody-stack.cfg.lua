-- Written from a seed document's description of a production Prosody stack in Docker Compose
-- (../shared/seeds: "Professional Prosody XMPP Server"): one comprehensive config; clients on 5222
-- (STARTTLS) and 5223 (direct TLS), servers on 5269, HTTP on 5280 and HTTPS on 5281; PostgreSQL
-- (the `db` service) for all data; coturn found through XEP-0215; metrics at /metrics for an
-- external Prometheus on the compose network; SCRAM-SHA-256, modern TLS, rate limits, a firewall
-- and 50-odd modules, community ones from their own folder.

---------- Core server settings: process, identity, network, administrators ----------
pidfile = "/var/run/prosody/prosody.pid"
admins = { ENV_PROSODY_ADMIN_JID }
plugin_paths = { "/usr/local/lib/prosody/community-modules" }
interfaces = { "*" }
c2s_ports = { 5222 }
c2s_direct_tls_ports = { 5223 }
s2s_ports = { 5269 }
http_ports = { 5280 }
https_ports = { 5281 }
http_interfaces = { "*" }
https_interfaces = { "*" }
trusted_proxies = { "127.0.0.1", "172.20.0.0/16" }

---------- Modules: core, community, security ----------
modules_enabled = {
	-- core
	"roster"; "saslauth"; "tls"; "dialback"; "disco"; "carbons"; "pep"; "private";
	"blocklist"; "vcard4"; "vcard_legacy"; "version"; "uptime"; "time"; "ping";
	"register"; "admin_adhoc"; "admin_shell"; "bosh"; "websocket"; "smacks"; "mam";
	"csi_simple"; "cloud_notify"; "bookmarks"; "limits"; "server_contact_info";
	"announce"; "motd"; "welcome"; "watchregistrations"; "mimicking"; "tombstones";
	"invites"; "invites_adhoc"; "invites_register"; "account_activity";
	"http_openmetrics"; "turn_external"; "external_services"; "s2s_bidi";
	"lastactivity"; "offline";
	-- community
	"firewall"; "muc_notifications"; "vcard_muc"; "sasl2"; "sasl2_bind2"; "sasl2_fast";
	"sasl_ssdp"; "http_altconnect"; "pubsub_serverinfo"; "cloud_notify_extensions";
	-- security
	"spam_reporting"; "watch_spam_reports"; "dnsbl";
}

---------- Security: SCRAM-SHA-256, TLS 1.2+, limits, firewall ----------
authentication = "internal_hashed"
password_hash = "SHA-256"
c2s_require_encryption = true
s2s_require_encryption = true
s2s_secure_auth = true
allow_unencrypted_plain_auth = false
tls_profile = "modern"
ssl = {
	protocol = "tlsv1_2+";
	ciphers = "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384";
	curve = "secp384r1";
	options = { "cipher_server_preference", "single_dh_use", "single_ecdh_use" };
}
limits = {
	c2s = { rate = "10kb/s"; burst = "25kb" };
	s2sin = { rate = "30kb/s"; burst = "100kb" };
	http_upload = { rate = "2mb/s"; burst = "10mb" };
}
firewall_scripts = { "/etc/prosody/firewall/spam-blocking.pfw" }
dnsbl_lists = { "zen.spamhaus.org", "multi.surbl.org" }
http_default_host = "atl.chat"
http_strict_transport_security = "max-age=31536000; includeSubDomains"

---------- Storage: PostgreSQL ----------
storage = "sql"
sql = {
	driver = "PostgreSQL";
	database = "prosody";
	username = "prosody";
	password = ENV_PROSODY_DB_PASSWORD;
	host = "db";
	port = 5432;
}
sql_manage_tables = true
archive_expires_after = "1y"
default_archive_policy = true
max_archive_query_results = 250

---------- Calls: coturn through XEP-0215 ----------
turn_external_host = "coturn"
turn_external_port = 3478
turn_external_tls_port = 5349
turn_external_secret = ENV_TURN_SECRET
turn_external_ttl = 86400

---------- Metrics for the external Prometheus ----------
statistics = "internal"
statistics_interval = "manual"
openmetrics_allow_cidr = "172.20.0.0/16"

---------- Logging ----------
log = { { levels = { min = "info" }; to = "console" } }

---------- Virtual host ----------
VirtualHost "atl.chat"
	ssl = { certificate = "/etc/prosody/certs/atl.chat.crt"; key = "/etc/prosody/certs/atl.chat.key" }
	allow_registration = false
	invites_page = "https://atl.chat/invite?{invite.token}"
	contact_info = {
		admin = { "xmpp:admin@atl.chat" };
		abuse = { "mailto:abuse@atl.chat" };
		security = { "mailto:security@atl.chat" };
	}

Component "muc.atl.chat" "muc"
	modules_enabled = { "muc_mam", "vcard_muc", "muc_notifications" }
	restrict_room_creation = "local"
	muc_room_default_persistent = true
	max_history_messages = 100

Component "upload.atl.chat" "http_file_share"
	http_file_share_size_limit = 100 * 1024 * 1024
	http_file_share_daily_quota = 1024 * 1024 * 1024
	http_file_share_expires_after = 30 * 24 * 60 * 60

Component "proxy.atl.chat" "proxy65"
	proxy65_acl = { "atl.chat" }

Component "pubsub.atl.chat" "pubsub"
