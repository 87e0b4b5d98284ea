package accesslog

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestPrune(t *testing.T) {
	for _, st := range storesUnderTest {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t)
			p, ok := s.(Pruner)
			if !ok {
				t.Fatalf("%T cannot prune", s)
			}
			ctx := context.Background()
			now := time.Now().UTC()
			var recs []*Record
			for i := range 12000 { // more than two prune batches
				age := time.Duration(i%3) * 40 * 24 * time.Hour // 0, 40 and 80 days old
				recs = append(recs, &Record{RequestID: fmt.Sprintf("r%d", i), CreatedAt: now.Add(-age), Direction: DirectionResponse,
					StatusCode: 200, Content: "text", RawBody: []byte("body"), ToolCalls: `[]`, PromptTokens: 7})
			}
			if err := s.Insert(ctx, recs); err != nil {
				t.Fatal(err)
			}
			n, err := p.PruneContent(ctx, now.Add(-30*24*time.Hour))
			if err != nil || n != 8000 {
				t.Fatalf("blanked %d rows (%v), want 8000", n, err)
			}
			got, _ := s.Records(ctx, "r1", "")
			if len(got) != 1 || got[0].Content != "" || got[0].RawBody != nil || got[0].ToolCalls != "" || got[0].PromptTokens != 7 {
				t.Fatalf("blanked row %+v", got)
			}
			if got, _ := s.Records(ctx, "r0", ""); got[0].Content != "text" {
				t.Fatalf("a new row lost its content: %+v", got[0])
			}
			n, err = p.Prune(ctx, now.Add(-60*24*time.Hour))
			if err != nil || n != 4000 {
				t.Fatalf("pruned %d rows (%v), want 4000", n, err)
			}
			if got, _ := s.Records(ctx, "r2", ""); len(got) != 0 {
				t.Fatal("an 80-day-old row survived")
			}
			if got, _ := s.Records(ctx, "r1", ""); len(got) != 1 {
				t.Fatal("a 40-day-old row was pruned")
			}
		})
	}
}
