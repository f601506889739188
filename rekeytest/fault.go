package rekeytest

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/rekey-dev/rekey/fault"
)

// Fault makes the server fail on purpose, as "rekey fault add" does, and
// returns the fault as the server stored it (with its ID and defaults).
// For example, the next listKeys answers 429 once, which the SDK's retry
// absorbs:
//
//	srv.Fault(fault.Fault{Kind: fault.Throttle, Operation: fault.ListKeys, Count: 1})
//
// and every regenerateKeys operation of endpoint "ep" ends Failed, with
// the key unchanged:
//
//	srv.Fault(fault.Fault{Kind: fault.Failed, Operation: fault.RegenerateKeys, Resource: "ep", Code: "QuotaExceeded"})
//
// A fault the server refuses fails the test at once (Fatalf), with the
// server's reasons. Reset does not remove faults; ClearFaults does.
func (s *Server) Fault(f fault.Fault) fault.Fault {
	s.tb.Helper()
	resp, err := s.admin(http.MethodPost, "faults", f)
	if err != nil {
		s.tb.Fatalf("rekeytest: fault: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		s.tb.Fatalf("rekeytest: fault = %s: %s", resp.Status, body)
	}
	var added fault.Fault
	if err := json.Unmarshal(body, &added); err != nil {
		s.tb.Fatalf("rekeytest: fault: %v", err)
	}
	return added
}

// ClearFaults removes every fault, as "rekey fault clear" does. A failure
// marks the test failed (Errorf).
func (s *Server) ClearFaults() {
	resp, err := s.admin(http.MethodDelete, "faults", nil)
	if err != nil {
		s.tb.Errorf("rekeytest: clear faults: %v", err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		s.tb.Errorf("rekeytest: clear faults = %s: %s", resp.Status, body)
	}
}
