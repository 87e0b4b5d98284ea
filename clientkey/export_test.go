package clientkey

// Pending reports how many admitted requests are not settled yet (not reported, or
// queued), for tests that wait until the counters are up to date.
func Pending(g *Guard) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.pending) + int(g.applying.Load())
}
