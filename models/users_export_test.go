package models

import (
	"fmt"
	"sync/atomic"
	"testing"

	"gorm.io/gorm"
)

// CountStatements counts the statements s sends to its database from now until the test ends,
// so a test can show that an answer came from memory.
func CountStatements(tb testing.TB, s *Store) *atomic.Int64 {
	tb.Helper()
	n := new(atomic.Int64)
	name := fmt.Sprintf("test:count_statements:%p", n)
	count := func(*gorm.DB) { n.Add(1) }
	cb := s.db.Callback()
	for _, p := range []interface {
		Register(string, func(*gorm.DB)) error
		Remove(string) error
	}{cb.Create(), cb.Query(), cb.Update(), cb.Delete(), cb.Row(), cb.Raw()} {
		if err := p.Register(name, count); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = p.Remove(name) })
	}
	return n
}

// ExecBehindStore runs SQL on s's database without going through the Store's methods: what
// another replica's change looks like to this process.
func ExecBehindStore(s *Store, sql string, args ...any) error {
	return s.db.Exec(sql, args...).Error
}
