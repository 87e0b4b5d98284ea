package metrics

import (
	"math"
	"time"

	"github.com/aiproxy-go/aiproxy/accesslog"
)

// ExchangeFromRecord returns the Exchange of an access-log response or error row, after the
// writer's Enrich hook filled its tokens and cost; false for a request row, which is not the
// end of an exchange.
func ExchangeFromRecord(r *accesslog.Record) (Exchange, bool) {
	if r == nil || r.Direction == accesslog.DirectionRequest {
		return Exchange{}, false
	}
	return Exchange{
		Provider:         r.Provider,
		Model:            r.Model,
		Status:           r.StatusCode,
		Stream:           r.Stream,
		InputTokens:      r.PromptTokens,
		OutputTokens:     r.CompletionTokens,
		CachedTokens:     r.CachedTokens,
		ReasoningTokens:  r.ReasoningTokens,
		CostUSD:          r.CostUSD,
		Total:            seconds(r.RequestTime),
		Upstream:         seconds(r.RequestTimeAPI),
		TimeToFirstToken: seconds(r.TimeToFirstToken),
		ChunkGaps:        GapsFromOffsets(r.ChunkTimes),
	}, true
}

// GapsFromOffsets returns the pauses between consecutive chunks of a stream from their
// arrival offsets in milliseconds (the access log's chunk_times); nil for fewer than two.
func GapsFromOffsets(ms []float64) []time.Duration {
	if len(ms) < 2 {
		return nil
	}
	gaps := make([]time.Duration, 0, len(ms)-1)
	for i := 1; i < len(ms); i++ {
		if d := ms[i] - ms[i-1]; d >= 0 && !math.IsInf(d, 0) {
			gaps = append(gaps, time.Duration(d*float64(time.Millisecond)))
		}
	}
	return gaps
}

func seconds(s float64) time.Duration {
	if !(s > 0) || math.IsInf(s, 0) {
		return 0
	}
	return time.Duration(s * float64(time.Second))
}
