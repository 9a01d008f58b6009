//go:build unix

package api

import (
	"bytes"
	"io"
	"net"
	"testing"
)

// TestSocketWriterWritesWithoutAllocating: the fan-out's write to a client that keeps up is
// one system call and no heap allocation, and what it writes arrives whole.
func TestSocketWriterWritesWithoutAllocating(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	raw, err := server.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	w := newSocketWriter()

	frame := []byte("a frame as it goes on the wire")
	// One write first, then AllocsPerRun's warm-up and its writes counted.
	const writes = 100
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(client, int64(len(frame)*(writes+2))))
		got <- b
	}()
	if n, err := w.writeSome(raw, frame); n != len(frame) || err != nil {
		t.Fatalf("writeSome: %d, %v", n, err)
	}
	if allocs := testing.AllocsPerRun(writes, func() { _, _ = w.writeSome(raw, frame) }); allocs != 0 {
		t.Errorf("%.1f allocations per write, want 0", allocs)
	}
	if b := <-got; !bytes.Equal(b, bytes.Repeat(frame, writes+2)) {
		t.Errorf("the other end read %d bytes, want %d frames of %d", len(b), writes+2, len(frame))
	}
}
