package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/rekey-dev/rekey"
	"github.com/rekey-dev/rekey/identity"
)

// Files of the token service in the data directory, mode 0600.
const (
	identityHeaderFile = "identity-header"  // the managed identity endpoint's X-IDENTITY-HEADER secret
	spSecretFile       = "sp-client-secret" // the generated secret of REKEY_SP_CLIENT_ID
)

// startIdentity sets up the token service: the tenant, the signing keys,
// the service principal seeded from REKEY_SP_CLIENT_ID and the managed
// identity's header secret. banner prints where clients find them.
func startIdentity(ctx context.Context, cfg *serveConfig, store rekey.Store, keyring *rekey.Keyring, logger *slog.Logger) (*identity.Service, func(w io.Writer, base string), error) {
	tenant, err := identity.EnsureTenant(ctx, store, cfg.TenantID)
	if err != nil {
		return nil, nil, fmt.Errorf("--tenant-id: %w", err)
	}
	var header string
	if cfg.ManagedIdentity != "" {
		if header, err = readOrCreateSecret(filepath.Join(cfg.DataDir, identityHeaderFile)); err != nil {
			return nil, nil, fmt.Errorf("identity header: %w", err)
		}
	}
	ids, err := identity.New(ctx, identity.Config{
		Store: store, Keyring: keyring, Logger: logger, Tenant: tenant, PublicURL: cfg.PublicURL,
		Lifetime: cfg.TokenLifetime, ManagedIdentity: strings.ToLower(cfg.ManagedIdentity), IdentityHeader: header,
	})
	if err != nil {
		return nil, nil, err
	}
	seeded, err := seedServicePrincipal(ctx, cfg, store, keyring, ids)
	if err != nil {
		return nil, nil, err
	}
	if cfg.ManagedIdentity != "" {
		err := store.View(ctx, func(tx rekey.Tx) error { _, err := tx.ServicePrincipal(cfg.ManagedIdentity); return err })
		if rekey.ErrorCode(err) == rekey.NotFound {
			return nil, nil, fmt.Errorf("--managed-identity %s: no service principal has this appId (create it with rekey sp create, or REKEY_SP_CLIENT_ID)", cfg.ManagedIdentity)
		} else if err != nil {
			return nil, nil, err
		}
	}
	banner := func(w io.Writer, base string) {
		if cfg.PublicURL != "" {
			base = strings.TrimSuffix(cfg.PublicURL, "/")
		}
		fmt.Fprintf(w, "  authority host: %s (tenant %s)\n", base, tenant)
		if seeded != "" {
			fmt.Fprintf(w, "  %s\n", seeded)
		}
		if cfg.ManagedIdentity != "" {
			fmt.Fprintf(w, "  IDENTITY_ENDPOINT=%s/msi/token\n", base)
			fmt.Fprintf(w, "  IDENTITY_HEADER in: %s\n", filepath.Join(cfg.DataDir, identityHeaderFile))
		}
	}
	return ids, banner, nil
}

// seedServicePrincipal creates the principal REKEY_SP_CLIENT_ID names, so
// a pipeline knows its credentials before the server runs. With
// REKEY_SP_CLIENT_SECRET its secret is set to that value on every start;
// without, a secret is generated once into the data directory. It returns
// a line for the banner, which never holds the secret.
func seedServicePrincipal(ctx context.Context, cfg *serveConfig, store rekey.Store, keyring *rekey.Keyring, ids *identity.Service) (string, error) {
	if cfg.SPClientID == "" {
		return "", nil
	}
	appID := strings.ToLower(cfg.SPClientID)
	var existing *rekey.ServicePrincipal
	err := store.View(ctx, func(tx rekey.Tx) (err error) { existing, err = tx.ServicePrincipal(appID); return err })
	if rekey.ErrorCode(err) == rekey.NotFound {
		existing = nil
	} else if err != nil {
		return "", err
	}
	secret, where := cfg.SPClientSecret, "from REKEY_SP_CLIENT_SECRET"
	if secret == "" {
		path := filepath.Join(cfg.DataDir, spSecretFile)
		if existing != nil {
			return fmt.Sprintf("service principal %s (REKEY_SP_CLIENT_ID) exists; its generated secret was written to %s", appID, path), nil
		}
		secret = rekey.NewClientSecret()
		os.Remove(path) // a file left from a principal since deleted
		if err := writeSecret(path, secret+"\n"); err != nil {
			return "", fmt.Errorf("REKEY_SP_CLIENT_ID: %w", err)
		}
		where = "in " + path
	}
	if existing == nil {
		if _, err := ids.CreateServicePrincipal(ctx, "REKEY_SP_CLIENT_ID", appID, secret); err != nil {
			return "", fmt.Errorf("REKEY_SP_CLIENT_ID: %s", rekey.ErrorMessage(err))
		}
	} else if d := keyring.SecretDigest(secret); !d.Equal(existing.SecretDigest) {
		if err := store.Update(ctx, func(tx rekey.Tx) error {
			existing.SecretDigest, existing.SecretHint = d, secret[:3]
			_, err := tx.PutServicePrincipal(existing)
			return err
		}); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("service principal %s (REKEY_SP_CLIENT_ID): secret %s", appID, where), nil
}

// readOrCreateSecret returns the secret in path, generating it on first use.
func readOrCreateSecret(path string) (string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		v := rekey.NewKey()
		return v, writeSecret(path, v+"\n")
	}
	if err != nil {
		return "", err
	}
	v := strings.TrimSpace(string(data))
	if len(v) < 16 {
		return "", fmt.Errorf("%s: shorter than 16 characters; delete it to have a new one generated", path)
	}
	return v, nil
}
