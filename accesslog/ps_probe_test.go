package accesslog

import "testing"

func TestProbePageSize(t *testing.T) {
	s := openTestStore(t, "")
	var ps, cs int
	var ts int
	s.DB().QueryRow("PRAGMA page_size").Scan(&ps)
	s.DB().QueryRow("PRAGMA cache_size").Scan(&cs)
	s.DB().QueryRow("PRAGMA temp_store").Scan(&ts)
	t.Logf("page_size %d cache_size %d temp_store %d", ps, cs, ts)
}
