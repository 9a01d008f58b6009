package api

// SetReplayShareMax makes replays of more than n events stream to their client alone, so a
// test need not write thousands; the returned func restores the limit.
func SetReplayShareMax(n int64) func() {
	old := replayShareMax
	replayShareMax = n
	return func() { replayShareMax = old }
}

// AfterAudiences makes the hub's pump call f in each dispatch, once it has chosen which
// audiences' frames to build and before it queues them. Set it before the server runs.
func AfterAudiences(s *Server, f func()) { s.hub.afterAudiences = f }
