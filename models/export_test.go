package models

// HoldSettling makes writes leave their events without ids (and shifts untouched) until
// SettleEvents runs with hold false: what a process that dies just after its commits leaves.
func HoldSettling(s *Store, hold bool) { s.settler.held.Store(hold) }
