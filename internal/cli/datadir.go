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
	"github.com/rekey-dev/rekey/localca"
)

// The files rekey keeps in its data directory besides the database and
// the local CA.
const (
	masterKeyFile  = "master.key"  // base64 of 32 bytes, mode 0600
	adminTokenFile = "admin-token" // the admin's bearer token, mode 0600
	databaseFile   = "rekey.db"
	replicaIDFile  = "replica-id" // names this replica in operation leases
)

// replicaID returns the id naming this replica in the leases its
// operation runner takes, generated in the data directory on first start.
// It outlives the process on purpose: a replica restarted after a crash
// finds its own leases and finishes its acknowledged operations at once
// (ops.Runner.reclaim) instead of a whole --operation-lease later. No two
// live processes share a data directory, so no two share the id.
func replicaID(dir string) (string, error) {
	path := filepath.Join(dir, replicaIDFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		id := rekey.NewGUID()
		if err := writeSecret(path, id+"\n"); err != nil {
			return "", fmt.Errorf("replica id: %w", err)
		}
		return id, nil
	}
	if err != nil {
		return "", fmt.Errorf("replica id: %w", err)
	}
	id := strings.TrimSpace(string(data))
	if id == "" {
		return "", fmt.Errorf("%s is empty: remove it and rekey writes a new one", path)
	}
	return id, nil
}

// masterKey returns the master key from REKEY_MASTER_KEY, or from the data
// directory, generating it there on first start. generated is the file it
// wrote then, or "": the caller removes it when the store refuses the new
// key (a data directory pointed at an existing database), so that the
// refused start leaves no master key behind that opens nothing.
func masterKey(dir string, getenv func(string) string, logger *slog.Logger) (key []byte, generated string, err error) {
	if v := getenv("REKEY_MASTER_KEY"); v != "" {
		key, err := masterKeyFromEnv(v)
		return key, "", err
	}
	path := filepath.Join(dir, masterKeyFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key := make([]byte, rekey.MasterKeySize)
		rand.Read(key)
		if err := writeSecret(path, base64.StdEncoding.EncodeToString(key)+"\n"); err != nil {
			return nil, "", err
		}
		logger.Warn("generated a new master key; keys at rest are encrypted with it, so back it up with the database or set REKEY_MASTER_KEY", "path", path)
		return key, path, nil
	}
	if err != nil {
		return nil, "", err
	}
	key, err = base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(key) != rekey.MasterKeySize {
		return nil, "", fmt.Errorf("%s: not base64 of %d bytes", path, rekey.MasterKeySize)
	}
	return key, "", nil
}

// adminToken returns the admin token from REKEY_ADMIN_TOKEN, or from the
// data directory, generating it there on first start. fromEnv reports the
// former, in which case nothing is written.
func adminToken(dir string, getenv func(string) string) (token string, fromEnv bool, err error) {
	if v := strings.TrimSpace(getenv("REKEY_ADMIN_TOKEN")); v != "" {
		if err := checkAdminToken(v); err != nil {
			return "", false, err
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

// checkSecretsEnv validates the secrets given in the environment, so
// that serve refuses them before it creates anything in the data
// directory.
func checkSecretsEnv(getenv func(string) string) error {
	if v := getenv("REKEY_MASTER_KEY"); v != "" {
		if _, err := masterKeyFromEnv(v); err != nil {
			return err
		}
	}
	if v := strings.TrimSpace(getenv("REKEY_ADMIN_TOKEN")); v != "" {
		return checkAdminToken(v)
	}
	return nil
}

func masterKeyFromEnv(v string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
	if err != nil || len(key) != rekey.MasterKeySize {
		return nil, fmt.Errorf("REKEY_MASTER_KEY: want base64 of %d random bytes (e.g. from: openssl rand -base64 32)", rekey.MasterKeySize)
	}
	return key, nil
}

func checkAdminToken(v string) error {
	if len(v) < 16 {
		return fmt.Errorf("REKEY_ADMIN_TOKEN: must be at least 16 characters")
	}
	return nil
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

// secureDataDir creates the data directory 0700 and tightens what an
// earlier version, another tool or a permissive umask left looser: the
// directory to 0700, files holding state or secrets to 0600, certificates
// to no group or other write. Each change is logged as a warning; a change
// that fails (a directory rekey does not own, as a Kubernetes volume root
// can be) is logged and does not stop the start.
func secureDataDir(dir string, logger *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	ca := localca.FilesIn(dir)
	tighten(dir, 0o077, logger)
	for _, f := range []string{databaseFile, databaseFile + "-wal", databaseFile + "-shm", databaseFile + "-journal", masterKeyFile, adminTokenFile,
		replicaIDFile, serverFile, identityHeaderFile, spSecretFile} {
		tighten(filepath.Join(dir, f), 0o077, logger)
	}
	for _, f := range []string{ca.CAKey, ca.ServerKey} {
		tighten(f, 0o077, logger)
	}
	for _, f := range []string{ca.CA, ca.ServerCert} {
		tighten(f, 0o022, logger) // public, but nobody else may replace them
	}
	return nil
}

// tighten clears the mode bits in clear from path, if it exists and has
// any of them.
func tighten(path string, clear os.FileMode, logger *slog.Logger) {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&os.ModeSymlink != 0 || fi.Mode().Perm()&clear == 0 {
		return
	}
	was, want := fi.Mode().Perm(), fi.Mode().Perm()&^clear
	if err := os.Chmod(path, want); err != nil {
		logger.Warn("cannot restrict the permissions of a data file; fix them by hand", "path", path, "mode", fmt.Sprintf("%#o", was), "want", fmt.Sprintf("%#o", want), "err", err)
		return
	}
	logger.Warn("restricted the permissions of a data file", "path", path, "was", fmt.Sprintf("%#o", was), "now", fmt.Sprintf("%#o", want))
}
