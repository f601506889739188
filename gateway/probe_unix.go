//go:build linux || darwin || freebsd || netbsd || openbsd

package gateway

import (
	"net"
	"syscall"
)

// closedByPeer reports whether the peer has closed c (or reset it), by
// peeking without blocking and without consuming anything.
func closedByPeer(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	closed := false
	var b [1]byte
	rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		closed = n == 0 && err == nil || err == syscall.ECONNRESET
		return true // never wait
	})
	return closed
}
