// Package filters holds the built-in filters of AIProxy: ready-made RequestFilter and
// ResponseFilter implementations that programs add with Proxy.AddFilter and that the
// configuration file switches on.
package filters

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/provider"
)

// DefaultReplayHeader is the request header that names the request id to replay.
const DefaultReplayHeader = "X-Aiproxy-Replay"

// RecordSource looks up logged rows of one exchange. *aiproxy.Proxy and every
// accesslog.Store satisfy it; the Proxy also waits for rows still queued.
type RecordSource interface {
	Records(ctx context.Context, requestID, direction string) ([]*accesslog.Record, error)
}

// Replay answers a request that carries the replay header with the response logged for the
// request id the header names: its content, tool calls and usage, in the wire format of the
// provider the client is calling now, streamed when the client streams. The upstream is not
// called. This lets a developer re-run an application against recorded answers.
type Replay struct {
	// Header names the request id to replay. Default DefaultReplayHeader.
	Header string `yaml:"header" json:"header,omitempty"`
	// Source finds the logged response. The registry (New) sets it from Env.Source.
	Source RecordSource `yaml:"-" json:"-"`
}

var _ aiproxy.RequestFilter = (*Replay)(nil)

// Validate reports a Replay without a Source.
func (f *Replay) Validate() error {
	if f.Source == nil {
		return errors.New("replay: no record source to read logged responses from")
	}
	return nil
}

// FilterRequest replies with the logged response, or 404 when the id has none.
func (f *Replay) FilterRequest(ctx context.Context, x *aiproxy.Exchange) (*aiproxy.Reply, error) {
	header := f.Header
	if header == "" {
		header = DefaultReplayHeader
	}
	id := x.Header().Get(header)
	if id == "" {
		return nil, nil
	}
	if f.Source == nil {
		return nil, misconfigured("replay", f.Validate())
	}
	recs, err := f.Source.Records(ctx, id, accesslog.DirectionResponse)
	if err != nil {
		return nil, &aiproxy.Error{Status: http.StatusInternalServerError, Type: "server_error",
			Message: "replay: could not read the access log", Err: err}
	}
	if len(recs) == 0 {
		return nil, &aiproxy.Error{Status: http.StatusNotFound, Type: "invalid_request_error", Code: "replay_not_found",
			Message: fmt.Sprintf("replay: no logged response for request id %q", id)}
	}
	r := recs[0]
	reply := &aiproxy.Reply{
		Text:  r.Content,
		Model: r.Model,
		Usage: &provider.Usage{InputTokens: r.PromptTokens, OutputTokens: r.CompletionTokens,
			CachedTokens: r.CachedTokens, ReasoningTokens: r.ReasoningTokens},
	}
	if r.ToolCalls != "" {
		if err := json.Unmarshal([]byte(r.ToolCalls), &reply.ToolCalls); err != nil {
			return nil, &aiproxy.Error{Status: http.StatusInternalServerError, Type: "server_error",
				Message: "replay: logged tool calls are not valid json", Err: err}
		}
	}
	return reply, nil
}
