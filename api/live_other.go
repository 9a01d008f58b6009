//go:build !unix

package api

import "syscall"

// writeSome takes nothing where a socket cannot be written without waiting: every write goes
// to a writer goroutine.
func writeSome(syscall.RawConn, []byte) (int, error) { return 0, nil }
