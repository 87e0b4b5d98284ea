package bedrock

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/aiproxy-go/aiproxy/provider"
)

// Every rendering reads back, through the summaries, as the reply it rendered: what replay
// and response filters rely on.
func TestRenderRoundTrip(t *testing.T) {
	p := &Provider{name: "bedrock"}
	calls := []provider.ToolCall{
		call("tooluse_a", "get_weather", `{"location":"Paris"}`),
		call("tooluse_b", "get_time", `{}`),
	}
	usage := &provider.Usage{InputTokens: 30, OutputTokens: 12, CachedTokens: 10}
	bodies := map[string]string{
		"messages":   `{"anthropic_version":"bedrock-2023-05-31","max_tokens":9,"messages":[{"role":"user","content":"hi"}]}`,
		"completion": `{"prompt":"\n\nHuman: hi\n\nAssistant:","max_tokens_to_sample":9}`,
		"nova":       `{"schemaVersion":"messages-v1","messages":[{"role":"user","content":[{"text":"hi"}]}]}`,
		"titan":      `{"inputText":"hi"}`,
		"llama":      `{"prompt":"hi","max_gen_len":9}`,
		"mistral":    `{"prompt":"<s>[INST] hi [/INST]"}`,
		"converse":   `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`,
	}
	type tcase struct {
		format, op string
		tools      bool // the format carries tool calls
		usage      bool // the format carries the usage in full (cached tokens too)
	}
	var cases []tcase
	for _, op := range []string{OpInvoke, OpInvokeWithStream} {
		cases = append(cases, tcase{"messages", op, true, true}, tcase{"completion", op, false, false}, tcase{"nova", op, true, true},
			tcase{"titan", op, false, false}, tcase{"llama", op, false, false}, tcase{"mistral", op, false, false})
	}
	cases = append(cases, tcase{"converse", OpConverse, true, true}, tcase{"converse", OpConverseStream, true, true})
	for _, tc := range cases {
		for _, withTools := range []bool{false, true} {
			if withTools && !tc.tools {
				continue
			}
			t.Run(fmt.Sprintf("%s %s tools=%v", tc.format, tc.op, withTools), func(t *testing.T) {
				endpoint := "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/" + tc.op
				req := &provider.Request{Endpoint: endpoint, Body: []byte(bodies[tc.format]), Header: http.Header{}}
				if err := p.Parse(req); err != nil {
					t.Fatal(err)
				}
				reply := &provider.Reply{Text: "Hello <you> & \"all\"", Usage: usage, Model: "claude-3-5-sonnet-20240620"}
				if withTools {
					reply.Text, reply.ToolCalls = "", calls
				}
				resp := p.Render(req, reply)
				if resp.Status != 200 {
					t.Fatalf("status %d", resp.Status)
				}
				ct := resp.Header.Get("Content-Type")
				if (ct == contentTypeEventStream) != req.Stream {
					t.Fatalf("content type %q for stream %v", ct, req.Stream)
				}
				got := p.SummarizeResponse(endpoint, resp.Body, req.Stream)
				if got.Content != reply.Text {
					t.Errorf("content %q", got.Content)
				}
				if withTools && !reflect.DeepEqual(got.ToolCalls, calls) {
					t.Errorf("tool calls %+v", got.ToolCalls)
				}
				switch {
				case tc.usage || req.Stream:
					if got.Usage == nil || *got.Usage != *usage {
						t.Errorf("usage %+v", got.Usage)
					}
				case tc.format == "titan" || tc.format == "llama":
					if got.Usage == nil || got.Usage.InputTokens != 30 || got.Usage.OutputTokens != 12 {
						t.Errorf("usage %+v", got.Usage)
					}
				}
				if req.Stream {
					// A stream is frames the SDK's decoder reads, each an event.
					n, err := eachMessage(resp.Body, func(m eventstream.Message) {
						if eventHeader(m, ":message-type") != "event" {
							t.Errorf("frame %v", m.Headers)
						}
					})
					if err != nil || n != len(resp.Body) {
						t.Errorf("decoded %d of %d bytes: %v", n, len(resp.Body), err)
					}
				}
			})
		}
	}
}

func TestRenderBody(t *testing.T) {
	p := &Provider{}
	req := &provider.Request{Endpoint: "/model/m/converse-stream", Stream: true}
	resp := p.Render(req, &provider.Reply{Body: []byte(`{"x":1}`), Status: 201, Header: http.Header{"X-A": {"b"}}})
	if resp.Status != 201 || string(resp.Body) != `{"x":1}` || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("X-A") != "b" {
		t.Errorf("%+v", resp)
	}
}

func TestToolInput(t *testing.T) {
	for in, want := range map[string]string{
		``:                            `{}`,
		`{"a": 1}`:                    `{"a":1}`,
		`[1]`:                         `{"arguments":"[1]"}`,
		`not json`:                    `{"arguments":"not json"}`,
		`{"broken": `:                 `{"arguments":"{\"broken\": "}`,
		` {"b":"<x>"} `:               `{"b":"<x>"}`,
		`{"nested":{"x":[` + `1,2]}}`: `{"nested":{"x":[1,2]}}`,
	} {
		if got := string(toolInput(in)); got != want {
			t.Errorf("toolInput(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestError(t *testing.T) {
	p := &Provider{}
	tests := []struct {
		e    provider.Error
		want string
	}{
		{provider.Error{Status: 400, Type: "invalid_request_error", Message: "bad"}, "ValidationException"},
		{provider.Error{Status: 400, Type: "ValidationException", Message: "bad"}, "ValidationException"},
		{provider.Error{Status: 401, Message: "who"}, "UnrecognizedClientException"},
		{provider.Error{Status: 403, Message: "no"}, "AccessDeniedException"},
		{provider.Error{Status: 404, Message: "none"}, "ResourceNotFoundException"},
		{provider.Error{Status: 413, Message: "big"}, "ValidationException"},
		{provider.Error{Status: 429, Message: "slow"}, "ThrottlingException"},
		{provider.Error{Status: 500, Type: "server_error", Message: "oops"}, "InternalServerException"},
		{provider.Error{Status: 502, Message: "down"}, "ServiceUnavailableException"},
		{provider.Error{Status: 503, Message: "down"}, "ServiceUnavailableException"},
		{provider.Error{Status: 504, Message: "slow"}, "ServiceUnavailableException"},
	}
	for _, tc := range tests {
		resp := p.Error(&provider.Request{}, &tc.e)
		var body map[string]string
		if err := json.Unmarshal(resp.Body, &body); err != nil {
			t.Fatal(err)
		}
		typ := resp.Header.Get("X-Amzn-Errortype")
		if resp.Status != tc.e.Status || body["message"] != tc.e.Message || len(body) != 1 ||
			typ != tc.want+":http://internal.amazon.com/coral/com.amazon.bedrock/" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%d %s: status %d type %q body %s", tc.e.Status, tc.e.Type, resp.Status, typ, resp.Body)
		}
	}
}
