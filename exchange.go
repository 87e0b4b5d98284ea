package aiproxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aiproxy-go/aiproxy/provider"
	"github.com/tidwall/sjson"
)

// Exchange is the state of one proxied request, shared by the filters of that request. It
// is not safe for concurrent use: filters of one request run one after the other.
type Exchange struct {
	// ID is the request id, returned to the client in x-aiproxy-request-id and stored in
	// the request_id column.
	ID string
	// Provider serves the request.
	Provider provider.Provider
	// Request is the request as it will go upstream. Filters may change Request.Header
	// directly and the body through SetBody or SetJSON.
	Request *provider.Request
	// Incoming is the client's HTTP request. Its body has been read already; use
	// ClientBody.
	Incoming *http.Request
	// ClientBody is the body exactly as the client sent it. Do not modify it.
	ClientBody []byte
	// Received is when the proxy received the request.
	Received time.Time
	// ClientKey is the name of the client key the request was authenticated with, set by
	// the filter that checks client keys; it is logged in the client_key column, and in the
	// user column when the request names no user.
	ClientKey string
	// Values carries data between the filters of one request.
	Values map[string]any

	filters *filterSet // the filters the request started with
}

// Model returns the model the request asks for, as the body says now.
func (x *Exchange) Model() string { return x.Request.Model }

// Stream reports whether the client asked for a streamed response.
func (x *Exchange) Stream() bool { return x.Request.Stream }

// User returns the request's user field.
func (x *Exchange) User() string { return x.Request.User }

// Header returns the header of the client's request (credentials included: do not log it).
func (x *Exchange) Header() http.Header { return x.Incoming.Header }

// JSON decodes the body to be sent upstream into a generic map. It parses on every call;
// filters that only read one field do better with DecodeJSON and a small struct.
func (x *Exchange) JSON() (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal(x.Request.Body, &m); err != nil {
		return nil, fmt.Errorf("decode request body: %w", err)
	}
	return m, nil
}

// DecodeJSON decodes the body to be sent upstream into v.
func (x *Exchange) DecodeJSON(v any) error {
	if err := json.Unmarshal(x.Request.Body, v); err != nil {
		return fmt.Errorf("decode request body: %w", err)
	}
	return nil
}

// SetJSON encodes v as the body to be sent upstream (see SetBody).
func (x *Exchange) SetJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode request body: %w", err)
	}
	return x.SetBody(b)
}

// SetModel changes the model the request asks for, where the provider keeps it: the body's
// "model" field for OpenAI and Anthropic, the URL path for Bedrock and Gemini. Key order and
// formatting of the rest of the body are kept.
func (x *Exchange) SetModel(model string) error {
	if model == "" {
		return errors.New("set model: empty model name")
	}
	if ms, ok := x.Provider.(provider.ModelSetter); ok {
		return ms.SetModel(x.Request, model)
	}
	body, err := sjson.SetBytes(x.Request.Body, "model", model)
	if err != nil {
		return fmt.Errorf("set model: %w", err)
	}
	return x.SetBody(body)
}

// SetBody replaces the body to be sent upstream and reads model, stream and user from it
// again, so later filters and the log see the change. A body the provider cannot parse is
// refused and the request keeps its body.
func (x *Exchange) SetBody(body []byte) error {
	next := *x.Request
	next.Body = body
	next.Model, next.Stream, next.User = "", false, ""
	if err := x.Provider.Parse(&next); err != nil {
		return err
	}
	*x.Request = next
	return nil
}

// fork returns a copy of the exchange that a filter running under a time limit can change
// without touching x; adopt takes its changes over.
func (x *Exchange) fork() *Exchange {
	c := *x
	r := *x.Request
	r.Header = x.Request.Header.Clone()
	c.Request = &r
	if x.Values != nil {
		c.Values = make(map[string]any, len(x.Values))
		for k, v := range x.Values {
			c.Values[k] = v
		}
	}
	return &c
}

// adopt takes over the changes a filter made to a fork of x. x.Request stays the same
// pointer, which the proxy holds.
func (x *Exchange) adopt(c *Exchange) {
	*x.Request = *c.Request
	x.ClientKey = c.ClientKey
	x.Values = c.Values
}
