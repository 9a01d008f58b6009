package models

import "context"

// CombinerQueued returns how many writes wait in the combiner's queue.
func CombinerQueued(s *Store) int {
	s.combiner.mu.Lock()
	defer s.combiner.mu.Unlock()
	return len(s.combiner.queue)
}

// BeforeCombinedBatch makes every combiner leader call f before it takes its batch.
func BeforeCombinedBatch(s *Store, f func()) { s.combiner.beforeBatch = f }

// CombinedStatements returns how many shared statements the combiner has run.
func CombinedStatements(s *Store) int64 { return s.combiner.statements.Load() }

// InCombinedBatch makes every combiner leader call f just before it writes its batch.
func InCombinedBatch(s *Store, f func()) { s.combiner.inBatch = f }

// ExecSQL runs a statement straight on the database, as another replica's write would.
func ExecSQL(s *Store, q string, args ...any) error { return s.db.Exec(q, args...).Error }

// MigrateTo applies the migrations up to the version upto.
func MigrateTo(s *Store, upto int) error {
	_, err := s.migrateTo(context.Background(), upto)
	return err
}

// SQLiteStatements returns the statements the SQLite write batch keeps prepared.
func SQLiteStatements(s *Store) []string {
	s.sqliteStmts.mu.Lock()
	defer s.sqliteStmts.mu.Unlock()
	var out []string
	for q := range s.sqliteStmts.m {
		out = append(out, q)
	}
	return out
}
