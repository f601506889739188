package localca_test

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"testing"

	"github.com/rekey-dev/rekey/localca"
)

func TestEnsure(t *testing.T) {
	dir := t.TempDir()
	f, created, err := localca.Ensure(dir, "rekey.example")
	if err != nil || !created {
		t.Fatalf("Ensure(new dir) = %v, created %v; want a new CA", err, created)
	}
	for _, p := range []string{f.CAKey, f.ServerKey} {
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v (%v), want 0600", p, st.Mode().Perm(), err)
		}
	}
	pair, err := tls.LoadX509KeyPair(f.ServerCert, f.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _ := os.ReadFile(f.CA)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	for _, name := range []string{"localhost", "127.0.0.1", "::1", "rekey.example"} {
		if _, err := pair.Leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots}); err != nil {
			t.Errorf("server certificate does not verify for %s under the CA: %v", name, err)
		}
	}
	if pair.Leaf.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("server key algorithm = %v, want ECDSA", pair.Leaf.PublicKeyAlgorithm)
	}

	// A second start keeps everything; a new host reissues only the server certificate.
	before, _ := os.ReadFile(f.ServerCert)
	if _, created, err := localca.Ensure(dir, "rekey.example"); err != nil || created {
		t.Fatalf("Ensure(again) = %v, created %v; want the same CA", err, created)
	}
	if after, _ := os.ReadFile(f.ServerCert); string(after) != string(before) {
		t.Errorf("server certificate reissued without need")
	}
	if _, _, err := localca.Ensure(dir, "10.1.2.3"); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(f.ServerCert); string(after) == string(before) {
		t.Errorf("server certificate not reissued for a new host")
	}
	if after, _ := os.ReadFile(f.CA); string(after) != string(caPEM) {
		t.Errorf("CA replaced; clients that trust it would break")
	}
}
