package models

import (
	"slices"
	"testing"
)

func TestChunks(t *testing.T) {
	for n, want := range map[int][]int{0: nil, 1: {1}, 2: {2}, 3: {2, 1}, 37: {32, 4, 1}, 63: {32, 16, 8, 4, 2, 1}, 64: {64}} {
		if got := chunks(n); !slices.Equal(got, want) {
			t.Errorf("chunks(%d) = %v, want %v", n, got, want)
		}
	}
}
