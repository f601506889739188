//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package gateway

import "net"

// closedByPeer cannot tell without blocking here; a stale connection is
// then found when the request fails.
func closedByPeer(net.Conn) bool { return false }
