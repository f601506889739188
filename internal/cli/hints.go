package cli

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"syscall"
)

// hintError is a connection failure with a sentence that says what to
// check; the cause stays available to errors.Is and errors.As.
type hintError struct {
	hint string
	err  error
}

func (e *hintError) Error() string { return e.hint + " (" + cause(e.err) + ")" }
func (e *hintError) Unwrap() error { return e.err }

// cause is the innermost message of a *url.Error, without the method and
// URL the hint already names.
func cause(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// explain turns the transport errors a newcomer meets into hints: nobody
// listens at the URL (perhaps a server.json left by a killed server), or
// another server answers there than the one whose CA the client trusts.
func (s serverSource) explain(base string, err error) error {
	start := "start one with `rekey serve --data " + s.dataDir + "`"
	var unknownCA x509.UnknownAuthorityError
	var badHost x509.HostnameError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED) && s.infoFile != "":
		return &hintError{fmt.Sprintf("no rekey server answers at %s, the URL in %s; the server that wrote it is gone without removing it (was it killed?): %s, or pass --server", base, s.infoFile, start), err}
	case errors.Is(err, syscall.ECONNREFUSED) && s.given:
		return &hintError{fmt.Sprintf("no rekey server answers at %s; %s, or check --server and REKEY_SERVER", base, start), err}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &hintError{fmt.Sprintf("no rekey server answers at %s; %s, or pass --server", base, start), err}
	case errors.As(err, &unknownCA) && s.caFile != "":
		return &hintError{fmt.Sprintf("the server at %s is not the one whose CA is %s; check --data or --server", base, s.caFile), err}
	case errors.As(err, &unknownCA):
		return &hintError{fmt.Sprintf("the server at %s presents a certificate from a CA this client does not trust, and %s has no ca.pem; check --data, --ca or --server", base, s.dataDir), err}
	case errors.As(err, &badHost):
		return &hintError{fmt.Sprintf("the certificate of the server at %s is not valid for its host; use the host the server listens on, or pass --ca", base), err}
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return &hintError{fmt.Sprintf("the server at %s speaks plain HTTP (rekey serve --insecure-http?); use --server http://%s", base, strings.TrimPrefix(base, "https://")), err}
	}
	return err
}
