package accesslog

import (
	"context"
	"testing"
)

// BenchmarkPostgresInsert stores batches of 500 rows with ~2 KB bodies, one COPY each, into the
// database AIPROXY_TEST_POSTGRES names, and reports rows/s.
func BenchmarkPostgresInsert(b *testing.B) {
	const batchSize = 500
	s, err := OpenPostgres(context.Background(), postgresTestDSN(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	batch := make([]*Record, batchSize)
	for i := range batch {
		batch[i] = benchRecord(i)
	}
	ctx := context.Background()
	b.SetBytes(int64(len(batch[0].RawBody)) * batchSize)
	for b.Loop() {
		if err := s.Insert(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batchSize)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkPostgresInsertRandomIDs stores batches of ~2 KB rows with random request ids, each
// under a batch id (a transaction of the id's INSERT and the COPY).
func BenchmarkPostgresInsertRandomIDs(b *testing.B) {
	s, err := OpenPostgres(context.Background(), postgresTestDSN(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchBatches(b, s, benchRecord)
}

// BenchmarkPostgresInsertSmall stores batches of short request rows with random request ids.
func BenchmarkPostgresInsertSmall(b *testing.B) {
	s, err := OpenPostgres(context.Background(), postgresTestDSN(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchBatches(b, s, smallRecord)
}

// BenchmarkPostgresWriter writes records from parallel goroutines through a Writer with the
// default options, and reports rows/s from the first Write to the last row committed.
func BenchmarkPostgresWriter(b *testing.B) {
	s, err := OpenPostgres(context.Background(), postgresTestDSN(b))
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

// BenchmarkPostgresRowValues measures what Insert does per row before pgx encodes it.
func BenchmarkPostgresRowValues(b *testing.B) {
	s := &PostgresStore{intKinds: []pgKind{kindInt32, kindInt32, kindInt32, kindInt32, kindInt32}}
	r := benchRecord(1)
	row := make([]any, len(postgresColumns))
	var sc rowScratch
	b.ReportAllocs()
	for b.Loop() {
		s.rowValues(row, r, &sc)
	}
}
