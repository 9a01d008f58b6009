package models

import "context"

// Role is what a user may do; the API's policy table is keyed by it.
type Role string

// The roles.
const (
	RoleAdmin   Role = "admin"   // users and forces
	RoleLead    Role = "lead"    // full control of their own force's operations
	RoleOfficer Role = "officer" // their force's operations: read; their shifts and outcomes
	RoleNCA     Role = "nca"     // national summaries and exports; no personal data; no writes
	// RoleSystem is the command line and the seeders: national scope, never a person.
	RoleSystem Role = "system"
)

// Roles lists the roles a user account may have.
var Roles = []Role{RoleAdmin, RoleLead, RoleOfficer, RoleNCA}

// Actor is who is making a request. The Store scopes every query by it.
type Actor struct {
	UserID   int64
	Username string
	Role     Role
	// ForceID is the force the actor belongs to; 0 means national scope (admin, nca, system).
	ForceID int64
}

// sees reports whether a row of force forceID is in the actor's scope, for a row the Store
// holds without having read it through scope.
func (a Actor) sees(forceID int64) bool { return a.ForceID == 0 || a.ForceID == forceID }

// SystemActor is the actor of command-line tools and seeders.
var SystemActor = Actor{Username: "system", Role: RoleSystem}

// RequestInfo identifies a request in the audit trail.
type RequestInfo struct {
	RequestID  string
	ClientAddr string
}

type actorKey struct{}
type requestKey struct{}

// WithActor returns a context that carries the actor.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor the context carries, if any.
func ActorFrom(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}

// WithRequestInfo returns a context that carries the request's identity for the audit trail.
func WithRequestInfo(ctx context.Context, ri RequestInfo) context.Context {
	return context.WithValue(ctx, requestKey{}, ri)
}

func requestInfoFrom(ctx context.Context) RequestInfo {
	ri, _ := ctx.Value(requestKey{}).(RequestInfo)
	return ri
}

// actor returns the context's actor, or an internal error: a query without a scope is a bug.
func actor(ctx context.Context) (Actor, error) {
	a, ok := ActorFrom(ctx)
	if !ok || a.Role == "" {
		return Actor{}, Errorf(EInternal, "no actor in context: every Store call needs one")
	}
	return a, nil
}

// NewRequestID returns a random id for a request, for logs and the audit trail.
func NewRequestID() string { return randomToken(12) }
