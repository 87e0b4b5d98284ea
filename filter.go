package aiproxy

import (
	"context"
	"fmt"

	"github.com/aiproxy-go/aiproxy/provider"
)

// Reply is an answer a request filter gives instead of the upstream. Set Text (and
// optionally ToolCalls and Usage) to have the provider render it in its own wire format,
// streamed when the client asked for a stream; or set Body (and Status) to send a complete
// body as it is.
type Reply = provider.Reply

// Response is a complete, non-streamed response. Response filters may change its Status,
// Header and Body.
type Response = provider.Response

// Error is an error with an HTTP status, rendered in the provider's own error shape. Return
// one from a filter to fail the request with that status.
type Error = provider.Error

// Errorf returns an *Error with the status and a formatted message, for filters that refuse
// a request (for example 403 for a banned user).
func Errorf(status int, format string, args ...any) error {
	return &provider.Error{Status: status, Message: fmt.Sprintf(format, args...)}
}

// RequestFilter sees each request before it goes upstream. It may change the request through
// the Exchange (SetBody, SetJSON, Request.Header), answer it with a non-nil *Reply (the
// upstream is not called), or fail it with an error: an *Error keeps its status, any other
// error becomes a 500. Returning (nil, nil) lets the request go on.
type RequestFilter interface {
	FilterRequest(ctx context.Context, x *Exchange) (*Reply, error)
}

// ResponseFilter sees each successful upstream response before the client does and may
// change it in place or fail it with an error.
//
// When the client streams, the filter holds the stream: the proxy reads the whole stream,
// hands the filter the response rebuilt as one complete body in the provider's non-streamed
// format, and sends the client the original stream when the filter left the body as it was,
// or the changed response rendered as a stream. A stream never bypasses a response filter.
type ResponseFilter interface {
	FilterResponse(ctx context.Context, x *Exchange, resp *Response) error
}

// RequestFilterFunc adapts a function to a RequestFilter.
type RequestFilterFunc func(ctx context.Context, x *Exchange) (*Reply, error)

// FilterRequest calls f.
func (f RequestFilterFunc) FilterRequest(ctx context.Context, x *Exchange) (*Reply, error) {
	return f(ctx, x)
}

// ResponseFilterFunc adapts a function to a ResponseFilter.
type ResponseFilterFunc func(ctx context.Context, x *Exchange, resp *Response) error

// FilterResponse calls f.
func (f ResponseFilterFunc) FilterResponse(ctx context.Context, x *Exchange, resp *Response) error {
	return f(ctx, x, resp)
}
