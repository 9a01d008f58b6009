package api

// SetReplayShareMax makes replays of more than n events stream to their client alone, so a
// test need not write thousands; the returned func restores the limit.
func SetReplayShareMax(n int64) func() {
	old := replayShareMax
	replayShareMax = n
	return func() { replayShareMax = old }
}
