package cli

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/rekey-dev/rekey"
)

// The files rekey keeps in its data directory besides the database and
// the local CA.
const (
	masterKeyFile  = "master.key"  // base64 of 32 bytes, mode 0600
	adminTokenFile = "admin-token" // the admin's bearer token, mode 0600
	databaseFile   = "rekey.db"
)

// masterKey returns the master key from REKEY_MASTER_KEY, or from the data
// directory, generating it there on first start.
func masterKey(dir string, getenv func(string) string, logger *slog.Logger) ([]byte, error) {
	if v := getenv("REKEY_MASTER_KEY"); v != "" {
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
		if err != nil || len(key) != rekey.MasterKeySize {
			return nil, fmt.Errorf("REKEY_MASTER_KEY: want base64 of %d random bytes (e.g. from: openssl rand -base64 32)", rekey.MasterKeySize)
		}
		return key, nil
	}
	path := filepath.Join(dir, masterKeyFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key := make([]byte, rekey.MasterKeySize)
		rand.Read(key)
		if err := writeSecret(path, base64.StdEncoding.EncodeToString(key)+"\n"); err != nil {
			return nil, err
		}
		logger.Warn("generated a new master key; keys at rest are encrypted with it, so back it up with the database or set REKEY_MASTER_KEY", "path", path)
		return key, nil
	}
	if err != nil {
		return nil, err
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(key) != rekey.MasterKeySize {
		return nil, fmt.Errorf("%s: not base64 of %d bytes", path, rekey.MasterKeySize)
	}
	return key, nil
}

// adminToken returns the admin token from REKEY_ADMIN_TOKEN, or from the
// data directory, generating it there on first start. fromEnv reports the
// former, in which case nothing is written.
func adminToken(dir string, getenv func(string) string) (token string, fromEnv bool, err error) {
	if v := strings.TrimSpace(getenv("REKEY_ADMIN_TOKEN")); v != "" {
		if len(v) < 16 {
			return "", false, fmt.Errorf("REKEY_ADMIN_TOKEN: must be at least 16 characters")
		}
		return v, true, nil
	}
	path := filepath.Join(dir, adminTokenFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		token = rekey.NewKey()
		return token, false, writeSecret(path, token+"\n")
	}
	return strings.TrimSpace(string(data)), false, err
}

// writeSecret creates a file readable by its owner only. It refuses to
// overwrite, so a second process cannot replace a secret in use.
func writeSecret(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
