package models

import (
	"context"
	"fmt"
	"strings"
)

// fingerprintTables are the tables whose content Fingerprint summarises: everything a request
// may change except the audit trail, which records refusals too.
var fingerprintTables = []string{"forces", "operations", "locations", "shifts", "outcomes", "users", "sessions", "api_tokens", "events", "idempotency_keys"}

// Fingerprint summarises the stored records (row counts, versions and ids per table), so a test
// can prove that a refused request changed nothing. National scope only.
func (s *Store) Fingerprint(ctx context.Context) (string, error) {
	a, err := actor(ctx)
	if err != nil {
		return "", err
	}
	if a.ForceID != 0 {
		return "", Errorf(EForbidden, "fingerprints are national")
	}
	var b strings.Builder
	for _, t := range fingerprintTables {
		var row struct{ N, Sum int64 }
		col := "0"
		switch t {
		case "forces", "operations", "locations", "shifts", "outcomes", "users":
			col = "version + id"
		case "api_tokens", "events":
			col = "id"
		}
		if err := s.db.WithContext(ctx).Raw(fmt.Sprintf("SELECT COUNT(*) AS n, COALESCE(SUM(%s), 0) AS sum FROM %s", col, t)).Scan(&row).Error; err != nil {
			return "", translate(err)
		}
		fmt.Fprintf(&b, "%s=%d/%d ", t, row.N, row.Sum)
	}
	return strings.TrimSpace(b.String()), nil
}
