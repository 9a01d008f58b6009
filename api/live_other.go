//go:build !unix

package api

import "syscall"

// socketWriter cannot write without waiting where the platform has no such write: there is
// none, and every write goes to a writer goroutine.
type socketWriter struct{}

func newSocketWriter(syscall.RawConn) *socketWriter { return nil }

func (*socketWriter) writeSome([]byte) (int, error) { return 0, nil }
