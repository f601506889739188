package cli

import (
	"flag"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/api/arm"
	"github.com/rekey-dev/rekey/store/postgres"
)

// serveConfig is everything "rekey serve" is configured with. Each field
// has a flag and an environment variable; the flag wins.
type serveConfig struct {
	DataDir           string
	Database          string // --database, REKEY_DATABASE_URL: a PostgreSQL URL; "" means SQLite in DataDir
	databaseFlag      bool   // Database came from the command line, which ps shows every local user
	Listen            string
	TLSCert, TLSKey   string
	InsecureHTTP      bool
	OperationDelay    time.Duration
	OperationLease    time.Duration
	AMLTokenLifetime  time.Duration
	LooseAPIVersion   bool
	StrictAPIVersion  bool
	GatewayURL        string
	PublicURL         string
	ReadHeaderTimeout time.Duration
	BodyTimeout       time.Duration
	IdleTimeout       time.Duration
	MaxBody           int64
	MaxConnections    int
	MetricsAuth       bool
	Pprof             bool
	LogFormat         string
	QnAInstalled      string
	QnALastStable     string
	QnALanguage       string

	Role                    string
	GatewayListen           string
	GatewayTLS              bool
	GatewayTLSCert          string
	GatewayTLSKey           string
	PropagationDelay        time.Duration
	AuthFailLimit           int
	AuthFailWindow          time.Duration
	GatewayMaxRequestBody   int64
	GatewayMaxResponseBody  int64
	GatewayMaxConnections   int
	UpstreamConnectTimeout  time.Duration
	UpstreamResponseTimeout time.Duration
	GatewayAccessLog        bool
	GatewayEngine           string
	SyncInterval            time.Duration
	UsageFlush              time.Duration

	OperationRetention time.Duration
	UsageRetention     time.Duration
	TenantID           string
	TokenLifetime      time.Duration
	ManagedIdentity    string
	SPClientID         string // REKEY_SP_CLIENT_ID: a service principal created at start
	SPClientSecret     string // REKEY_SP_CLIENT_SECRET: its secret; generated when empty

	// AuditRetention is how long audit records are kept; 0 forever.
	AuditRetention time.Duration
	// AuditLog is a file the audit log is also written to, one JSON object
	// a line; "-" is standard output; "" writes none.
	AuditLog string

	Seed string // --seed, REKEY_SEED: a seed file applied at start (see seed.go)
	// InMemory keeps the state in memory (see inmemory.go); DataDir then
	// holds only the CA, the secrets and server.json.
	InMemory  bool
	dataGiven bool // --data or REKEY_DATA was set
	// Subscriptions are extra subscription ids GET /subscriptions lists
	// (comma-separated in the flag).
	Subscriptions []string
}

// Default ceilings on concurrent connections per listener. A connection
// costs a file descriptor, a goroutine and buffers: measured idle, about
// 25 KiB on plain HTTP and 60 KiB with TLS. 8192 gateway connections then
// take at most about 0.5 GiB, inside the 1 GiB soft memory limit, and
// with as many upstream connections and the management listener's, fit a
// 65536 descriptor limit; no realistic client pool needs more from one
// process. The management API serves operators, CI and SDKs, which keep
// a few connections each: 1024 is generous.
const (
	defaultMaxConnections        = 1024
	defaultGatewayMaxConnections = 8192
	// The gateway's HTTP layers (--gateway-engine).
	engineFast    = "fast"
	engineNetHTTP = "nethttp"
)

// Roles a process can take.
const (
	roleAll        = "all"
	roleManagement = "management"
	roleGateway    = "gateway"
)

func (c *serveConfig) management() bool { return c.Role != roleGateway }
func (c *serveConfig) gateway() bool    { return c.Role != roleManagement }

// env looks up a variable through the injected getenv.
type env func(string) string

func (e env) str(name, def string) string {
	if v := e(name); v != "" {
		return v
	}
	return def
}

// bindServe registers serve's flags on fs, with defaults from the
// environment, and returns the config they fill. Malformed environment
// values are reported by validate, which names the variable.
func bindServe(fs *flag.FlagSet, getenv func(string) string) (*serveConfig, func() error) {
	e := env(getenv)
	c := &serveConfig{}
	var envErrs []error
	dur := func(p *time.Duration, name, varName string, def time.Duration, help string) {
		if v := e(varName); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				envErrs = append(envErrs, fmt.Errorf("%s=%q: not a duration (examples: 500ms, 10s, 2m)", varName, v))
			} else {
				def = d
			}
		}
		fs.DurationVar(p, name, def, help+" ("+varName+")")
	}
	count := func(p *int, name, varName string, def int, help string) {
		if v := e(varName); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				envErrs = append(envErrs, fmt.Errorf("%s=%q: not a whole number", varName, v))
			} else {
				def = n
			}
		}
		fs.IntVar(p, name, def, help+" ("+varName+")")
	}
	boolean := func(p *bool, name, varName string, def bool, help string) {
		if v := e(varName); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				envErrs = append(envErrs, fmt.Errorf("%s=%q: not a boolean (true or false)", varName, v))
			}
			def = b
		}
		fs.BoolVar(p, name, def, help+" ("+varName+")")
	}
	fs.StringVar(&c.DataDir, "data", e.str("REKEY_DATA", "./rekey-data"), "data `directory`: database, keys, certificates (REKEY_DATA)")
	fs.StringVar(&c.Listen, "listen", e.str("REKEY_LISTEN", "127.0.0.1:7443"), "management API `address` (REKEY_LISTEN)")
	fs.StringVar(&c.TLSCert, "tls-cert", e.str("REKEY_TLS_CERT", ""), "server certificate `file` (PEM); default: generated by the local CA (REKEY_TLS_CERT)")
	fs.StringVar(&c.TLSKey, "tls-key", e.str("REKEY_TLS_KEY", ""), "server key `file` (PEM) (REKEY_TLS_KEY)")
	boolean(&c.InsecureHTTP, "insecure-http", "REKEY_INSECURE_HTTP", false, "serve plain HTTP, for use behind a TLS-terminating proxy")
	dur(&c.OperationDelay, "operation-delay", "REKEY_OPERATION_DELAY", 0, "artificial duration of every long-running operation, to test polling code")
	dur(&c.OperationLease, "operation-lease", "REKEY_OPERATION_LEASE", 30*time.Second, "how long a replica holds an operation it claimed; a replica that dies leaves its operations to another after this")
	dur(&c.AMLTokenLifetime, "aml-token-lifetime", "REKEY_AML_TOKEN_LIFETIME", rekey.DefaultTokenLifetime, "how long an AMLToken from the token operation is valid; clients refresh after half (default: Azure ML's)")
	boolean(&c.LooseAPIVersion, "loose-api-version", "REKEY_LOOSE_API_VERSION", false, "accept any well-formed api-version, older unknown ones too")
	boolean(&c.StrictAPIVersion, "strict-api-version", "REKEY_STRICT_API_VERSION", false, "refuse api-versions rekey does not know, as ARM does (by default a well-formed version newer than the newest known is served with the newest known shape)")
	fs.StringVar(&c.GatewayURL, "gateway-url", e.str("REKEY_GATEWAY_URL", ""), "public data-plane `URL` that scoringUri and swaggerUri are built on; default: the gateway listener's own (REKEY_GATEWAY_URL)")
	fs.StringVar(&c.PublicURL, "public-url", e.str("REKEY_PUBLIC_URL", ""), "base `URL` of polling links and nextLink when behind a proxy; default: the request's own (REKEY_PUBLIC_URL)")
	dur(&c.ReadHeaderTimeout, "read-header-timeout", "REKEY_READ_HEADER_TIMEOUT", 10*time.Second, "drop a request whose headers take longer")
	dur(&c.BodyTimeout, "body-timeout", "REKEY_BODY_TIMEOUT", 20*time.Second, "drop a connection whose request body, or response, makes no progress this long")
	dur(&c.IdleTimeout, "idle-timeout", "REKEY_IDLE_TIMEOUT", 2*time.Minute, "close keep-alive connections idle this long")
	maxBody := int64(1 << 20)
	if v := e("REKEY_MAX_BODY"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			envErrs = append(envErrs, fmt.Errorf("REKEY_MAX_BODY=%q: not a whole number of bytes", v))
		}
		maxBody = n
	}
	fs.Int64Var(&c.MaxBody, "max-body", maxBody, "largest request body in `bytes` (REKEY_MAX_BODY)")
	count(&c.MaxConnections, "max-connections", "REKEY_MAX_CONNECTIONS", defaultMaxConnections, "most concurrent connections the management listener accepts; more wait to be accepted; 0: no limit")
	boolean(&c.MetricsAuth, "metrics-auth", "REKEY_METRICS_AUTH", false, "require the admin token (Authorization: Bearer) for /metrics")
	boolean(&c.Pprof, "pprof", "REKEY_PPROF", false, "serve Go's runtime profiles at /debug/pprof/ on the management listener, to the admin token only")
	fs.StringVar(&c.QnAInstalled, "qna-installed-version", e.str("REKEY_QNA_INSTALLED_VERSION", "4.0.5"), "QnA runtime `version` reported as installedVersion (REKEY_QNA_INSTALLED_VERSION)")
	fs.StringVar(&c.QnALastStable, "qna-last-stable-version", e.str("REKEY_QNA_LAST_STABLE_VERSION", "4.0.6"), "QnA runtime `version` reported as lastStableVersion (REKEY_QNA_LAST_STABLE_VERSION)")
	fs.StringVar(&c.QnALanguage, "qna-language", e.str("REKEY_QNA_LANGUAGE", "English"), "`language` reported for QnAMaker accounts without a qnaLanguage tag (REKEY_QNA_LANGUAGE)")
	fs.StringVar(&c.Role, "role", e.str("REKEY_ROLE", roleAll), "what this process runs: all, management (API and operations) or gateway (data plane) (REKEY_ROLE)")
	fs.StringVar(&c.GatewayListen, "gateway-listen", e.str("REKEY_GATEWAY_LISTEN", "127.0.0.1:7080"), "data-plane gateway `address` (REKEY_GATEWAY_LISTEN)")
	boolean(&c.GatewayTLS, "gateway-tls", "REKEY_GATEWAY_TLS", false, "serve the gateway over HTTPS with the local CA's certificate")
	fs.StringVar(&c.GatewayTLSCert, "gateway-tls-cert", e.str("REKEY_GATEWAY_TLS_CERT", ""), "gateway certificate `file` (PEM); implies HTTPS (REKEY_GATEWAY_TLS_CERT)")
	fs.StringVar(&c.GatewayTLSKey, "gateway-tls-key", e.str("REKEY_GATEWAY_TLS_KEY", ""), "gateway key `file` (PEM) (REKEY_GATEWAY_TLS_KEY)")
	dur(&c.PropagationDelay, "propagation-delay", "REKEY_PROPAGATION_DELAY", 0, "simulate a stale cache in a cloud's propagation window: after a key change the gateway sees live, the new key is refused, and the key it replaced still accepted, until this long after the change (never after a restart)")
	c.AuthFailLimit = 20
	if v := e("REKEY_AUTH_FAIL_LIMIT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			envErrs = append(envErrs, fmt.Errorf("REKEY_AUTH_FAIL_LIMIT=%q: not a whole number", v))
		}
		c.AuthFailLimit = n
	}
	fs.IntVar(&c.AuthFailLimit, "auth-fail-limit", c.AuthFailLimit, "failed authentications within --auth-fail-window from one address that throttle it: for one window, all its requests get 429 without their credentials being checked; counted separately on the gateway and on the management listener; 0 disables (REKEY_AUTH_FAIL_LIMIT)")
	dur(&c.AuthFailWindow, "auth-fail-window", "REKEY_AUTH_FAIL_WINDOW", 10*time.Second, "window of --auth-fail-limit, and the length of the penalty")
	fs.Int64Var(&c.GatewayMaxRequestBody, "gateway-max-request-body", 64<<20, "largest request body the gateway forwards, in `bytes`")
	fs.Int64Var(&c.GatewayMaxResponseBody, "gateway-max-response-body", 0, "cut off upstream responses larger than this many `bytes`; 0: no limit")
	count(&c.GatewayMaxConnections, "gateway-max-connections", "REKEY_GATEWAY_MAX_CONNECTIONS", defaultGatewayMaxConnections, "most concurrent connections the gateway listener accepts; more wait to be accepted; 0: no limit")
	dur(&c.UpstreamConnectTimeout, "upstream-connect-timeout", "REKEY_UPSTREAM_CONNECT_TIMEOUT", 5*time.Second, "time to connect to an upstream")
	dur(&c.UpstreamResponseTimeout, "upstream-response-timeout", "REKEY_UPSTREAM_RESPONSE_TIMEOUT", 5*time.Minute, "time for an upstream's response headers (a streaming body is never cut off)")
	boolean(&c.GatewayAccessLog, "gateway-access-log", "REKEY_GATEWAY_ACCESS_LOG", true, "log one line per gateway request")
	fs.StringVar(&c.GatewayEngine, "gateway-engine", e.str("REKEY_GATEWAY_ENGINE", engineFast), "the gateway's HTTP layer: fast (fasthttp) or nethttp (Go's net/http); both serve the same API (REKEY_GATEWAY_ENGINE)")
	dur(&c.SyncInterval, "sync-interval", "REKEY_SYNC_INTERVAL", time.Second, "how often the gateway reads changes made by other processes")
	dur(&c.UsageFlush, "usage-flush", "REKEY_USAGE_FLUSH", 2*time.Second, "how often the gateway writes key-usage counts to the store")
	dur(&c.OperationRetention, "operation-retention", "REKEY_OPERATION_RETENTION", 7*24*time.Hour, "how long a finished operation stays readable at its status URL before it is deleted; 0 keeps them forever")
	dur(&c.UsageRetention, "usage-retention", "REKEY_USAGE_RETENTION", 90*24*time.Hour, "how long a key slot's usage counts are kept after its last use; 0 keeps them forever")
	dur(&c.AuditRetention, "audit-retention", "REKEY_AUDIT_RETENTION", rekey.DefaultAuditRetention, "how long audit records (who read or changed which key or resource) are kept; 0 keeps them forever")
	fs.StringVar(&c.AuditLog, "audit-log", e.str("REKEY_AUDIT_LOG", ""), "also append every audit record to this `file` as one JSON object a line, for shipping to a log system; - is standard output (REKEY_AUDIT_LOG)")
	fs.Func("subscription-id", "a subscription `id` (GUID) that GET /subscriptions lists besides the default one and those that hold resources; repeat or separate with commas (REKEY_SUBSCRIPTION_ID)", func(v string) error {
		c.Subscriptions = append(c.Subscriptions, strings.Split(v, ",")...)
		return nil
	})
	if v := e("REKEY_SUBSCRIPTION_ID"); v != "" {
		c.Subscriptions = strings.Split(v, ",")
	}
	fs.StringVar(&c.TenantID, "tenant-id", e.str("REKEY_TENANT_ID", ""), "the token service's tenant `GUID`; default: generated on first start and kept (REKEY_TENANT_ID)")
	dur(&c.TokenLifetime, "token-lifetime", "REKEY_TOKEN_LIFETIME", time.Hour, "lifetime of access tokens from the token service (at least 10s)")
	fs.StringVar(&c.ManagedIdentity, "managed-identity", e.str("REKEY_MANAGED_IDENTITY", ""), "`appId` of the service principal that /msi/token issues tokens for (App Service managed identity) (REKEY_MANAGED_IDENTITY)")
	c.SPClientID, c.SPClientSecret = strings.TrimSpace(e("REKEY_SP_CLIENT_ID")), e("REKEY_SP_CLIENT_SECRET")
	fs.StringVar(&c.Seed, "seed", e.str("REKEY_SEED", ""), "seed `file` (YAML or JSON) applied at start, before serving; see examples/seed.yaml (REKEY_SEED)")
	fs.StringVar(&c.Database, "database", e.str("REKEY_DATABASE_URL", ""), "PostgreSQL `URL` (postgres://user:password@host:5432/db) of the store that several replicas share; default: SQLite in the data directory (REKEY_DATABASE_URL)")
	boolean(&c.InMemory, "in-memory", "REKEY_IN_MEMORY", false, "keep all state in memory, for tests and CI: nothing persists across restarts; the CA, admin token and master key go into a new temporary directory, removed on stop, unless --data names one")
	fs.StringVar(&c.LogFormat, "log-format", e.str("REKEY_LOG_FORMAT", "text"), "log `format` on stderr: text or json (REKEY_LOG_FORMAT)")
	return c, func() error {
		fs.Visit(func(f *flag.Flag) {
			c.dataGiven = c.dataGiven || f.Name == "data"
			c.databaseFlag = c.databaseFlag || f.Name == "database"
		})
		c.dataGiven = c.dataGiven || e("REKEY_DATA") != ""
		if len(envErrs) > 0 {
			return envErrs[0]
		}
		return c.validate()
	}
}

// apiVersions is the api-version policy the flags choose.
func (c *serveConfig) apiVersions() arm.VersionMode {
	switch {
	case c.StrictAPIVersion:
		return arm.VersionsStrict
	case c.LooseAPIVersion:
		return arm.VersionsLoose
	}
	return arm.VersionsNewer
}

// validate checks the config and names the flag at fault.
func (c *serveConfig) validate() error {
	if c.DataDir == "" {
		return fmt.Errorf("--data: must not be empty")
	}
	if c.Database != "" && !postgres.IsURL(c.Database) {
		return fmt.Errorf("--database: want a PostgreSQL URL starting with postgres:// or postgresql://, e.g. postgres://rekey:secret@db.example:5432/rekey")
	}
	if c.Database != "" && c.InMemory {
		return fmt.Errorf("--database and --in-memory contradict each other: choose one")
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("--listen %q: want host:port, e.g. 127.0.0.1:7443", c.Listen)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("--tls-cert and --tls-key go together: give both or neither")
	}
	if c.InsecureHTTP && c.TLSCert != "" {
		return fmt.Errorf("--insecure-http and --tls-cert contradict each other: choose one")
	}
	if c.OperationLease < time.Second || c.OperationLease > time.Hour {
		return fmt.Errorf("--operation-lease %v: must be between 1s and 1h", c.OperationLease)
	}
	if c.OperationDelay < 0 || c.OperationDelay > time.Hour {
		return fmt.Errorf("--operation-delay %v: must be between 0 and 1h", c.OperationDelay)
	}
	if c.AMLTokenLifetime < time.Minute || c.AMLTokenLifetime > 7*24*time.Hour {
		return fmt.Errorf("--aml-token-lifetime %v: must be between 1m and 168h", c.AMLTokenLifetime)
	}
	if c.LooseAPIVersion && c.StrictAPIVersion {
		return fmt.Errorf("--loose-api-version and --strict-api-version contradict each other: choose one")
	}
	switch c.Role {
	case roleAll, roleManagement, roleGateway:
	default:
		return fmt.Errorf("--role %q: want all, management or gateway", c.Role)
	}
	if c.gateway() {
		if _, _, err := net.SplitHostPort(c.GatewayListen); err != nil {
			return fmt.Errorf("--gateway-listen %q: want host:port, e.g. 127.0.0.1:7080", c.GatewayListen)
		}
	}
	if (c.GatewayTLSCert == "") != (c.GatewayTLSKey == "") {
		return fmt.Errorf("--gateway-tls-cert and --gateway-tls-key go together: give both or neither")
	}
	if c.PropagationDelay < 0 || c.PropagationDelay > time.Hour {
		return fmt.Errorf("--propagation-delay %v: must be between 0 and 1h", c.PropagationDelay)
	}
	if c.AuthFailLimit < 0 || c.AuthFailWindow <= 0 {
		return fmt.Errorf("--auth-fail-limit must be 0 or more and --auth-fail-window positive")
	}
	if c.GatewayMaxRequestBody < 1 || c.GatewayMaxResponseBody < 0 || c.UpstreamConnectTimeout <= 0 || c.UpstreamResponseTimeout <= 0 || c.SyncInterval <= 0 || c.UsageFlush <= 0 {
		return fmt.Errorf("gateway limits and timeouts must be positive")
	}
	for name, u := range map[string]string{"--gateway-url": c.GatewayURL, "--public-url": c.PublicURL} {
		if u == "" {
			continue
		}
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("%s %q: want an absolute http(s) URL", name, u)
		}
	}
	if c.ReadHeaderTimeout <= 0 || c.BodyTimeout <= 0 || c.IdleTimeout <= 0 {
		return fmt.Errorf("timeouts must be positive")
	}
	if c.MaxConnections < 0 || c.GatewayMaxConnections < 0 {
		return fmt.Errorf("--max-connections and --gateway-max-connections must be 0 (no limit) or more")
	}
	if c.MaxBody < 1024 {
		return fmt.Errorf("--max-body %d: must be at least 1024 bytes", c.MaxBody)
	}
	if c.OperationRetention != 0 && c.OperationRetention < time.Minute {
		return fmt.Errorf("--operation-retention %v: must be 0 (keep forever) or at least 1m, so pollers can read the final status", c.OperationRetention)
	}
	if c.UsageRetention < 0 {
		return fmt.Errorf("--usage-retention %v: must be 0 (keep forever) or positive", c.UsageRetention)
	}
	if c.AuditRetention < 0 {
		return fmt.Errorf("--audit-retention %v: must be 0 (keep forever) or positive", c.AuditRetention)
	}
	for _, s := range c.Subscriptions {
		if rekey.ValidateSubscription(s) != nil {
			return fmt.Errorf("--subscription-id %q: want a GUID such as 00000000-0000-0000-0000-000000000001", s)
		}
	}
	if c.TenantID != "" && !rekey.IsGUID(c.TenantID) {
		return fmt.Errorf("--tenant-id %q: want a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47", c.TenantID)
	}
	if c.TokenLifetime < 10*time.Second || c.TokenLifetime > 24*time.Hour {
		return fmt.Errorf("--token-lifetime %v: must be between 10s and 24h", c.TokenLifetime)
	}
	if c.ManagedIdentity != "" && !rekey.IsGUID(c.ManagedIdentity) {
		return fmt.Errorf("--managed-identity %q: want the appId (a GUID) of a service principal", c.ManagedIdentity)
	}
	if c.SPClientID != "" && !rekey.IsGUID(c.SPClientID) {
		return fmt.Errorf("REKEY_SP_CLIENT_ID: want a GUID")
	}
	if c.SPClientSecret != "" && c.SPClientID == "" {
		return fmt.Errorf("REKEY_SP_CLIENT_SECRET is set without REKEY_SP_CLIENT_ID")
	}
	if c.SPClientSecret != "" {
		if err := rekey.ValidateKeyValue("REKEY_SP_CLIENT_SECRET", c.SPClientSecret); err != nil {
			return fmt.Errorf("%s", rekey.ErrorMessage(err))
		}
	}
	if c.Seed != "" && !c.management() {
		return fmt.Errorf("--seed: a --role gateway process applies no seed file; give it to the management process")
	}
	if c.InMemory && c.Role != roleAll {
		return fmt.Errorf("--in-memory needs --role all: processes cannot share a memory store")
	}
	if c.GatewayEngine != engineFast && c.GatewayEngine != engineNetHTTP {
		return fmt.Errorf("--gateway-engine %q: want %s or %s", c.GatewayEngine, engineFast, engineNetHTTP)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("--log-format %q: want text or json", c.LogFormat)
	}
	return nil
}

// databasePasswordInArgs reports whether the command line holds the
// database's password: any local user reads it in the process list (ps,
// /proc/PID/cmdline), so serve warns and names the ways that keep it out.
func (c *serveConfig) databasePasswordInArgs() bool {
	return c.databaseFlag && c.Database != "" && postgres.HasPassword(c.Database)
}
