package identity

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/rekey-dev/rekey"
)

// Token lifetimes: the default is Entra's usual hour; the minimum lets
// users test their refresh logic without waiting long.
const (
	DefaultLifetime = time.Hour
	MinLifetime     = 10 * time.Second
)

// Config configures a Service.
type Config struct {
	Store   rekey.Store
	Keyring *rekey.Keyring
	Logger  *slog.Logger
	// Tenant is the tenant id (a GUID); see EnsureTenant.
	Tenant string
	// PublicURL, when set, is the base of the issuer and the endpoints in
	// discovery documents; otherwise the address the client used is.
	PublicURL string
	// Lifetime of access tokens; DefaultLifetime when zero.
	Lifetime time.Duration
	// MaxBody bounds token request bodies; 64 KiB when zero.
	MaxBody int64
	// ManagedIdentity is the appId that /msi/token issues tokens for, and
	// IdentityHeader the secret its callers send in X-IDENTITY-HEADER.
	// Both empty: no managed identity endpoint.
	ManagedIdentity, IdentityHeader string
	Now                             func() time.Time
}

// Service is the token service. Create it with New after EnsureTenant.
type Service struct {
	cfg  Config
	keys *Keys
	now  func() time.Time
}

// New returns the token service and makes sure a signing key exists.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if !rekey.IsGUID(cfg.Tenant) {
		return nil, fmt.Errorf("tenant id %q is not a GUID", cfg.Tenant)
	}
	if cfg.Lifetime == 0 {
		cfg.Lifetime = DefaultLifetime
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = 64 << 10
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Tenant = strings.ToLower(cfg.Tenant)
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	s := &Service{cfg: cfg, now: cfg.Now, keys: NewKeys(cfg.Store, cfg.Keyring, cfg.Lifetime, cfg.Now)}
	if err := s.keys.Ensure(ctx); err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	return s, nil
}

// Tenant returns the tenant id.
func (s *Service) Tenant() string { return s.cfg.Tenant }

// Keys returns the signing keys.
func (s *Service) Keys() *Keys { return s.keys }

// Verifier returns a Verifier of this service's tokens for the given
// audiences.
func (s *Service) Verifier(audiences []string) *Verifier {
	return &Verifier{Keys: s.keys, Tenant: s.cfg.Tenant, PublicURL: s.cfg.PublicURL, Audiences: audiences, Now: s.now}
}

// EnsureTenant returns the tenant id kept in the store. want, when not
// empty (--tenant-id), must be a GUID; it is stored on first start and must
// match afterwards, since tokens and clients name the tenant. Without it a
// tenant id is generated on first start.
func EnsureTenant(ctx context.Context, store rekey.Store, want string) (string, error) {
	if want != "" && !rekey.IsGUID(want) {
		return "", fmt.Errorf("tenant id %q: want a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47", want)
	}
	want = strings.ToLower(want)
	var tid string
	err := store.Update(ctx, func(tx rekey.Tx) error {
		got, err := tx.Setting(rekey.SettingTenantID)
		if rekey.ErrorCode(err) == rekey.NotFound {
			tid = want
			if tid == "" {
				tid = rekey.NewGUID()
			}
			return tx.PutSetting(rekey.SettingTenantID, tid)
		}
		if err != nil {
			return err
		}
		if want != "" && got != want {
			return fmt.Errorf("tenant id %s was given, but this data directory belongs to tenant %s: tenants cannot change once tokens were issued", want, got)
		}
		tid = got
		return nil
	})
	return tid, err
}

// Credentials are a service principal's sign-in details, as
// `az ad sp create-for-rbac` prints them. Password is shown once.
type Credentials struct {
	AppID       string `json:"appId"`
	DisplayName string `json:"displayName"`
	Password    string `json:"password"`
	Tenant      string `json:"tenant"`
}

// CreateServicePrincipal creates a service principal with a new secret.
// appID and secret may be given (seeding from REKEY_SP_CLIENT_ID and
// REKEY_SP_CLIENT_SECRET); empty ones are generated.
func (s *Service) CreateServicePrincipal(ctx context.Context, name, appID, secret string) (Credentials, error) {
	if err := rekey.ValidateDisplayName(name); err != nil {
		return Credentials{}, err
	}
	if appID == "" {
		appID = rekey.NewGUID()
	} else if !rekey.IsGUID(appID) {
		return Credentials{}, rekey.Errorf(rekey.Invalid, "The appId must be a GUID such as 0a1b2c3d-1234-4abc-8def-0123456789ab.")
	}
	if secret == "" {
		secret = rekey.NewClientSecret()
	} else if err := rekey.ValidateKeyValue("client secret", secret); err != nil {
		return Credentials{}, err
	}
	now := s.now().UTC().Truncate(time.Second)
	sp := &rekey.ServicePrincipal{AppID: strings.ToLower(appID), ObjectID: rekey.NewGUID(), DisplayName: name, Created: now,
		SecretDigest: s.cfg.Keyring.SecretDigest(secret), SecretHint: secret[:3], SecretCreated: now}
	err := s.cfg.Store.Update(ctx, func(tx rekey.Tx) error {
		if _, err := tx.ServicePrincipal(sp.AppID); err == nil {
			return rekey.Errorf(rekey.Conflict, "A service principal with the appId '%s' already exists.", sp.AppID)
		} else if rekey.ErrorCode(err) != rekey.NotFound {
			return err
		}
		_, err := tx.PutServicePrincipal(sp)
		return err
	})
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{AppID: sp.AppID, DisplayName: name, Password: secret, Tenant: s.cfg.Tenant}, nil
}

// ResetSecret replaces a service principal's secret with a new one, which
// it returns; the old one stops working at once.
func (s *Service) ResetSecret(ctx context.Context, appID string) (Credentials, error) {
	secret := rekey.NewClientSecret()
	var sp *rekey.ServicePrincipal
	err := s.cfg.Store.Update(ctx, func(tx rekey.Tx) (err error) {
		sp, err = tx.ServicePrincipal(appID)
		if err != nil {
			return err
		}
		sp.SecretDigest, sp.SecretHint, sp.SecretCreated = s.cfg.Keyring.SecretDigest(secret), secret[:3], s.now().UTC().Truncate(time.Second)
		_, err = tx.PutServicePrincipal(sp)
		return err
	})
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{AppID: sp.AppID, DisplayName: sp.DisplayName, Password: secret, Tenant: s.cfg.Tenant}, nil
}

// authenticateClient checks a client secret in constant time. It
// returns NotFound for an unknown client and Unauthorized for a wrong
// secret.
func (s *Service) authenticateClient(ctx context.Context, appID, secret string) (*rekey.ServicePrincipal, error) {
	var sp *rekey.ServicePrincipal
	err := s.cfg.Store.View(ctx, func(tx rekey.Tx) (err error) {
		sp, err = tx.ServicePrincipal(appID)
		return err
	})
	if err != nil {
		return nil, err
	}
	d := s.cfg.Keyring.SecretDigest(secret)
	if subtle.ConstantTimeCompare(d[:], sp.SecretDigest[:]) != 1 {
		return nil, rekey.Errorf(rekey.Unauthorized, "wrong client secret")
	}
	return sp, nil
}

// issued is a signed access token and what the token answer reports.
type issued struct {
	token    string
	claims   Claims
	lifetime time.Duration
}

// issue signs an access token for sp and resource. version is V1 or V2;
// adfs selects the adfs issuer; base is the issuer's base URL.
func (s *Service) issue(ctx context.Context, sp *rekey.ServicePrincipal, resource, version string, adfs bool, base string) (issued, error) {
	key, err := s.keys.signer(ctx)
	if err != nil {
		return issued{}, err
	}
	now := s.now().Truncate(time.Second)
	tid := s.cfg.Tenant
	c := Claims{
		Audience: resource, IssuedAt: now.Unix(), NotBefore: now.Unix(), Expires: now.Add(s.cfg.Lifetime).Unix(),
		IDType: "app", ObjectID: sp.ObjectID, Subject: sp.ObjectID, TenantID: tid, TokenID: tokenID(), Version: version,
	}
	switch {
	case adfs:
		c.Issuer, c.AppID, c.AppIDACR = issuerADFS(base), sp.AppID, "1"
	case version == V2:
		c.Issuer, c.AZP, c.AZPACR = issuerV2(base, tid), sp.AppID, "1"
	default:
		c.Issuer, c.AppID, c.AppIDACR = issuerV1(base, tid), sp.AppID, "1"
	}
	if version == V1 {
		c.IDP = c.Issuer
	}
	tok, err := jwt.Signed(key.signer).Claims(c).Serialize()
	if err != nil {
		return issued{}, err
	}
	return issued{token: tok, claims: c, lifetime: s.cfg.Lifetime}, nil
}

// tokenID is a uti claim: 16 random bytes, base64url, as Entra's are.
func tokenID() string { return rekey.NewKey()[:22] }

// base returns the scheme and host the client used, or PublicURL.
func (s *Service) base(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	return scheme + "://" + r.Host
}

// RotateSigningKey makes a new signing key current; see Keys.Rotate.
func (s *Service) RotateSigningKey(ctx context.Context) (string, error) { return s.keys.Rotate(ctx) }
