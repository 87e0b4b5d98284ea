package accesslog

import (
	"context"
	"path/filepath"
	"testing"
)

func BenchmarkProbeSmall(b *testing.B) {
	for _, v := range []struct {
		name     string
		rowByRow bool
		maxRows  int
	}{{"row", true, 1}, {"m16", false, 16}, {"m64", false, 64}, {"m256", false, 256}} {
		b.Run(v.name, func(b *testing.B) {
			saved := maxRowsPerInsert
			maxRowsPerInsert = v.maxRows
			s, err := OpenSQLite(filepath.Join(b.TempDir(), "bench.db"))
			maxRowsPerInsert = saved
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			s.rowByRow = v.rowByRow
			batch := make([]*Record, 500)
			for i := range batch {
				r := benchRecord(i)
				r.RawBody = []byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`)
				r.Content = "hi"
				batch[i] = r
			}
			for b.Loop() {
				if err := s.Insert(context.Background(), batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*500)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
