package accesslog

import (
	"context"
	"fmt"
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

func BenchmarkProbePage(b *testing.B) {
	for _, ps := range []int{4096, 8192, 16384} {
		for _, v := range []struct {
			name     string
			rowByRow bool
			maxRows  int
		}{{"row", true, 1}, {"m64", false, 64}} {
			b.Run(fmt.Sprint(ps, v.name), func(b *testing.B) {
				saved := maxRowsPerInsert
				maxRowsPerInsert = v.maxRows
				sqliteParams["_pragma"][1] = fmt.Sprintf("page_size(%d)", ps)
				s, err := OpenSQLite(filepath.Join(b.TempDir(), "bench.db"))
				maxRowsPerInsert = saved
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				var got int
				s.DB().QueryRow("PRAGMA page_size").Scan(&got)
				if got != ps {
					b.Fatalf("page size %d", got)
				}
				s.rowByRow = v.rowByRow
				batch := make([]*Record, 500)
				for i := range batch {
					batch[i] = benchRecord(i)
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
}
