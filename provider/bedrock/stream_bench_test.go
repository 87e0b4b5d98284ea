package bedrock

import (
	"bytes"
	"fmt"
	"testing"
)

// BenchmarkSplit frames a ConverseStream of 200 deltas, as the relay does on the request
// path: prelude and message checksums of every frame, no allocation per frame.
func BenchmarkSplit(b *testing.B) {
	var frames [][]byte
	for i := range 200 {
		frames = append(frames, event(b, "contentBlockDelta", fmt.Sprintf(`{"contentBlockIndex":0,"delta":{"text":"token %d "},"p":"abcdefghij"}`, i)))
	}
	data := bytes.Join(frames, nil)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		s := &stream{}
		rest := data
		for len(rest) > 0 {
			adv, tok, err := s.Split(rest, true)
			if err != nil || tok == nil {
				b.Fatal(err)
			}
			rest = rest[adv:]
		}
	}
}
