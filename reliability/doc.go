// Package reliability holds the field-proof tests of aidant: they build the real binary, start
// `aidant serve` processes on PostgreSQL and break things around them (a database outage, a
// kill -9, a SIGTERM, slow clients, a soak) while writers and live dashboards keep working, then
// check that every acknowledged write is stored exactly once and delivered to every dashboard
// exactly once. The package has no code besides its tests; docs/RELIABILITY.md describes the
// scenarios and the figures of the last run.
//
// The database-outage test stops and restarts the shared Postgres cluster, so it runs only when
// AIDANT_RELIABILITY=1 and on its own: `AIDANT_RELIABILITY=1 go test -count=1 -v ./reliability/`.
package reliability
