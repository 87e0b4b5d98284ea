// Package fakefault holds what the fake upstreams of the end-to-end tests
// (internal/fakeupstream, fakeanthropic, fakegemini, fakebedrock, fakeazure)
// share: the x-fake-* request headers that inject faults and shape a reply,
// read with a clear error for a malformed value; the waits, stream writer and
// connection cut that carry them out; and the recording of the requests a
// fake receives. What differs between providers (error bodies, statuses,
// event formats) stays in each fake.
package fakefault

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The x-fake-* headers that every fake reads (see [Faults.Read]), and the
// ones that several fakes read on their own. Each fake documents what they
// do in its provider's terms. The names are canonical, as [http.Header]
// keys are.
const (
	HeaderStatus       = "X-Fake-Status"
	HeaderDelay        = "X-Fake-Delay"
	HeaderChunkDelay   = "X-Fake-Chunk-Delay"
	HeaderCutAfter     = "X-Fake-Cut-After"
	HeaderChunks       = "X-Fake-Chunks"
	HeaderToolCalls    = "X-Fake-Tool-Calls"
	HeaderReply        = "X-Fake-Reply"
	HeaderRetryAfter   = "X-Fake-Retry-After"
	HeaderCachedTokens = "X-Fake-Cached-Tokens"
)

// Faults is what the headers common to every fake ask of one request. A
// fake embeds it in its own faults, next to the headers only it reads.
type Faults struct {
	// Status is the error status to answer, from x-fake-status; 0 for none.
	Status int
	// Delay is the wait before the reply, from x-fake-delay.
	Delay time.Duration
	// ChunkDelay is the wait between two events of a stream, from
	// x-fake-chunk-delay.
	ChunkDelay time.Duration
	// CutAfter is the number of events of a stream (bytes of a body that
	// is not one) after which the connection is cut, from x-fake-cut-after;
	// -1 for none.
	CutAfter int
	// Chunks is the number of pieces a streamed text is cut into, from
	// x-fake-chunks; at least 1.
	Chunks int
	// ToolCalls is the number of tool calls to answer with, from
	// x-fake-tool-calls; -1 lets the request decide (see ToolCallCount).
	ToolCalls int
	// Reply is the text of the assistant's reply, from x-fake-reply, when
	// HasReply is set.
	Reply    string
	HasReply bool
}

// New returns the faults of a request without x-fake-* headers: no error,
// no wait, no cut, a streamed text in chunks pieces and as many tool calls
// as the request asks for.
func New(chunks int) Faults {
	return Faults{CutAfter: -1, Chunks: chunks, ToolCalls: -1}
}

// Read reads the common headers through p, which keeps the first malformed
// value as its error; a header that is absent leaves its field as it was.
// It does not check the range of the status: see CheckStatus.
func (f *Faults) Read(p *Parser) {
	p.Int(HeaderStatus, &f.Status, 0)
	p.Int(HeaderCutAfter, &f.CutAfter, 0)
	p.Int(HeaderChunks, &f.Chunks, 1)
	p.Int(HeaderToolCalls, &f.ToolCalls, 0)
	p.Duration(HeaderDelay, &f.Delay)
	p.Duration(HeaderChunkDelay, &f.ChunkDelay)
	if v, ok := p.String(HeaderReply); ok {
		f.Reply, f.HasReply = v, true
	}
}

// CheckStatus accepts a status of 400 to 599, and 200 as no fault (Status
// becomes 0); any other status is an error.
func (f *Faults) CheckStatus() error {
	if f.Status == http.StatusOK {
		f.Status = 0
	}
	if f.Status != 0 && (f.Status < 400 || f.Status > 599) {
		return fmt.Errorf("bad x-fake-status header %d: want 400 to 599", f.Status)
	}
	return nil
}

// WaitDelay waits for x-fake-delay; it reports false when the request's
// context ended first, the client having gone away.
func (f *Faults) WaitDelay(ctx context.Context) bool {
	return f.Delay <= 0 || Sleep(ctx, f.Delay)
}

// ToolCallCount returns how many tool calls to answer with: x-fake-tool-calls
// when set, else one per tool when the last user text contains "use tools",
// else none.
func (f *Faults) ToolCallCount(tools int, last string) int {
	if f.ToolCalls >= 0 {
		return f.ToolCalls
	}
	if tools > 0 && strings.Contains(last, "use tools") {
		return tools
	}
	return 0
}

// ReplyText returns the assistant's text: x-fake-reply when set, else
// text, padded with "." so that it can be cut into Chunks non-empty pieces.
func (f *Faults) ReplyText(text string) string {
	if f.HasReply {
		text = f.Reply
	}
	return Pad(text, f.Chunks)
}
