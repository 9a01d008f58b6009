//go:build unix

package api

import (
	"errors"
	"syscall"
)

// socketWriter writes to one client's socket without waiting for room. The callback that the
// socket runs is bound once, when the client connects: a closure made for each write was a
// heap allocation per frame, about a third of what the fan-out allocated at 1,000 clients.
// Only the writer of the moment uses it.
type socketWriter struct {
	raw syscall.RawConn
	fn  func(fd uintptr) bool // w.write, bound once
	b   []byte
	n   int
	err error
}

func newSocketWriter(raw syscall.RawConn) *socketWriter {
	w := &socketWriter{raw: raw}
	w.fn = w.write
	return w
}

func (w *socketWriter) write(fd uintptr) bool {
	w.n, w.err = syscall.Write(int(fd), w.b)
	return true // never wait: the caller hands what is left to a goroutine that may
}

// writeSome writes b to the socket without waiting for room: it reports how much the kernel
// took, 0 when it had no room.
func (w *socketWriter) writeSome(b []byte) (int, error) {
	w.b = b
	err := w.raw.Write(w.fn)
	n, werr := w.n, w.err
	w.b, w.n, w.err = nil, 0, nil
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
