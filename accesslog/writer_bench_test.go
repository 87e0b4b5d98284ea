package accesslog

import (
	"context"
	"path/filepath"
	"testing"
)

// BenchmarkWriter writes records from parallel goroutines through a Writer into SQLite with the
// default options, and reports rows/s from the first Write to the last row committed.
func BenchmarkWriter(b *testing.B) {
	s, err := OpenSQLite(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	w := NewWriter(s, WriterOptions{})
	recs := make([]*Record, 1024)
	for i := range recs {
		recs[i] = benchRecord(i)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			r := *recs[i%len(recs)] // Write hands the record over: each call gets its own
			w.Write(&r)
			i++
		}
	})
	if err := w.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	if err := w.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	if st := w.Stats(); st.Written != uint64(b.N) || st.Failed != 0 {
		b.Fatalf("Stats = %+v, want %d written", st, b.N)
	}
}
