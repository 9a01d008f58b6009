//go:build unix

package api

import (
	"errors"
	"syscall"
)

// writeSome writes b to the socket without waiting for room: it reports how much the kernel
// took, 0 when it had no room.
func writeSome(raw syscall.RawConn, b []byte) (int, error) {
	var n int
	var werr error
	err := raw.Write(func(fd uintptr) bool {
		n, werr = syscall.Write(int(fd), b)
		return true // never wait: the caller hands what is left to a goroutine that may
	})
	if err != nil {
		return 0, err
	}
	if errors.Is(werr, syscall.EAGAIN) || errors.Is(werr, syscall.EINTR) {
		return 0, nil
	}
	if werr != nil {
		return 0, werr
	}
	return n, nil
}
