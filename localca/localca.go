// Package localca gives a fresh rekey server HTTPS without any setup: on
// first start it creates a local certificate authority and a server
// certificate signed by it, under the data directory. Clients trust the
// CA file (ca.pem) instead of turning verification off.
package localca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Files are the paths of the CA and server certificate files.
type Files struct {
	CA         string // ca.pem: what clients trust
	CAKey      string // ca-key.pem, mode 0600
	ServerCert string // server.pem
	ServerKey  string // server-key.pem, mode 0600
}

// FilesIn returns the file paths under dir.
func FilesIn(dir string) Files {
	return Files{
		CA: filepath.Join(dir, "ca.pem"), CAKey: filepath.Join(dir, "ca-key.pem"),
		ServerCert: filepath.Join(dir, "server.pem"), ServerKey: filepath.Join(dir, "server-key.pem"),
	}
}

// Ensure creates what is missing under dir: the CA (valid 10 years) and a
// server certificate (valid 1 year) for localhost, 127.0.0.1, ::1 and
// hosts. A server certificate that lacks one of those names, or expires
// within 30 days, is replaced. It reports whether it created the CA.
func Ensure(dir string, hosts ...string) (f Files, createdCA bool, err error) {
	f = FilesIn(dir)
	caCert, caKey, err := load(f.CA, f.CAKey)
	if errors.Is(err, os.ErrNotExist) {
		caCert, caKey, err = create(f.CA, f.CAKey, nil, nil, "rekey local CA", nil, 10*365*24*time.Hour)
		createdCA = true
	}
	if err != nil {
		return f, false, fmt.Errorf("local CA in %s: %w", dir, err)
	}
	names := append([]string{"localhost", "127.0.0.1", "::1"}, hosts...)
	cert, _, err := load(f.ServerCert, f.ServerKey)
	if err == nil && covers(cert, names) && time.Until(cert.NotAfter) > 30*24*time.Hour && cert.CheckSignatureFrom(caCert) == nil {
		return f, createdCA, nil
	}
	if _, _, err := create(f.ServerCert, f.ServerKey, caCert, caKey, "rekey server", names, 365*24*time.Hour); err != nil {
		return f, createdCA, fmt.Errorf("server certificate in %s: %w", dir, err)
	}
	return f, createdCA, nil
}

func covers(c *x509.Certificate, names []string) bool {
	for _, n := range names {
		if n == "" || n == "0.0.0.0" || n == "::" {
			continue
		}
		if ip := net.ParseIP(n); ip != nil {
			if !slices.ContainsFunc(c.IPAddresses, ip.Equal) {
				return false
			}
		} else if !slices.Contains(c.DNSNames, n) {
			return false
		}
	}
	return true
}

func load(certFile, keyFile string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		if _, statErr := os.Stat(certFile); errors.Is(statErr, os.ErrNotExist) {
			return nil, nil, os.ErrNotExist
		}
		return nil, nil, err
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("%s: not an ECDSA key", keyFile)
	}
	return pair.Leaf, key, nil
}

// create issues a certificate: self-signed when parent is nil (a CA),
// otherwise a server certificate for names signed by parent.
func create(certFile, keyFile string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, cn string, names []string, life time.Duration) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"rekey"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(life),
	}
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.MaxPathLenZero = true, true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
		parent, parentKey = tmpl, key
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		for _, n := range names {
			if ip := net.ParseIP(n); ip != nil {
				if !ip.IsUnspecified() {
					tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
				}
			} else if n != "" {
				tmpl.DNSNames = append(tmpl.DNSNames, n)
			}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	if err := writeFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, nil, err
	}
	if err := writeFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

// writeFile writes atomically (temp file and rename), so a crash never
// leaves half a key behind.
func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
