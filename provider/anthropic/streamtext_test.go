package anthropic_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/aiproxy-go/aiproxy/internal/fakeanthropic"
	"github.com/aiproxy-go/aiproxy/provider"
	"github.com/aiproxy-go/aiproxy/provider/anthropic"
	"github.com/aiproxy-go/aiproxy/sse"
)

// stTrickyText needs escaping in JSON and is not ASCII.
const stTrickyText = "say \"hi\"\n\tto <b>Zoë</b> & 世界 \\ 🙂"

// stStream returns an Anthropic stream and its StreamText.
func stStream(t testing.TB) (provider.Stream, provider.StreamText) {
	t.Helper()
	s, ok := anthropic.New(anthropic.Options{}).NewStream(&provider.Request{Endpoint: "/v1/messages"},
		&http.Response{Header: http.Header{"Content-Type": {"text/event-stream; charset=utf-8"}}})
	if !ok {
		t.Fatal("no stream for text/event-stream")
	}
	st, ok := s.(provider.StreamText)
	if !ok {
		t.Fatalf("%T does not implement provider.StreamText", s)
	}
	return s, st
}

// stQuote is text as a JSON string, as the API writes it (no HTML escaping).
func stQuote(text string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(text)
	return strings.TrimSuffix(b.String(), "\n")
}

// stEvents splits a stream with the provider's own framing.
func stEvents(t testing.TB, s provider.Stream, body []byte) [][]byte {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	sc.Split(s.Split)
	var out [][]byte
	for sc.Scan() {
		out = append(out, bytes.Clone(sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEventText(t *testing.T) {
	_, st := stStream(t)
	tests := []struct {
		name string
		ev   string
		text string // "" when the event carries none
		old  string // the raw JSON string SetEventText replaces; "" when it fails
	}{
		{"text delta", "event: content_block_delta\n" + `data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}` + "\n\n",
			"Hello", `"Hello"`},
		{"escaped", "event: content_block_delta\n" + `data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"1071 = 2 × 462\n\"ok\""}}` + "\n\n",
			"1071 = 2 × 462\n\"ok\"", `"1071 = 2 × 462\n\"ok\""`},
		{"empty text delta", "event: content_block_delta\n" + `data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":""}}` + "\n\n",
			"", `""`},
		{"text before type", "event: content_block_delta\n" + `data: {"delta":{"text":"x","type":"text_delta"},"index":0,"type":"content_block_delta"}` + "\r\n\r\n",
			"x", `"x"`},
		{"no event line", `data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Partial answ"}}` + "\n\n",
			"Partial answ", `"Partial answ"`},
		{"thinking", "event: content_block_delta\n" + `data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"I need"}}` + "\n\n", "", ""},
		{"signature", "event: content_block_delta\n" + `data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQB"}}` + "\n\n", "", ""},
		{"tool input", "event: content_block_delta\n" + `data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"location\": "}}` + "\n\n", "", ""},
		{"block start", "event: content_block_start\n" + `data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}` + "\n\n", "", ""},
		{"ping", "event: ping\n" + `data: {"type": "ping"}` + "\n\n", "", ""},
		{"message delta", "event: message_delta\n" + `data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":12}}` + "\n\n", "", ""},
		{"error", "event: error\n" + `data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}` + "\n\n", "", ""},
		{"not json", "event: content_block_delta\ndata: text_delta\n\n", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, ok := st.EventText([]byte(tt.ev))
			if text != tt.text || ok != (tt.text != "") {
				t.Fatalf("EventText = %q, %v; want %q", text, ok, tt.text)
			}
			out, err := st.SetEventText([]byte(tt.ev), stTrickyText)
			if tt.old == "" {
				if err == nil {
					t.Fatalf("SetEventText succeeded: %q", out)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Replace(tt.ev, tt.old, stQuote(stTrickyText), 1)
			if string(out) != want {
				t.Fatalf("SetEventText =\n%q\nwant\n%q", out, want)
			}
			if got, ok := st.EventText(out); !ok || got != stTrickyText {
				t.Fatalf("EventText after SetEventText = %q, %v", got, ok)
			}
		})
	}
}

// The text of a recorded stream's events is the assistant text its summary holds.
func TestEventTextOfRecordedStreams(t *testing.T) {
	p := anthropic.New(anthropic.Options{})
	s, st := stStream(t)
	for _, file := range []string{"stream.sse", "stream_thinking.sse", "stream_tools.sse", "stream_error.sse"} {
		t.Run(file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			var got strings.Builder
			for _, ev := range stEvents(t, s, body) {
				if text, ok := st.EventText(ev); ok {
					got.WriteString(text)
				}
			}
			want := p.SummarizeResponse("/v1/messages", body, true).Content
			if got.String() != want || want == "" {
				t.Fatalf("text of the events = %q, summary = %q", got.String(), want)
			}
		})
	}
}

// The text events of a stream from the fake carry the whole reply.
func TestEventTextOfFakeStream(t *testing.T) {
	srv := httptest.NewServer(fakeanthropic.New(fakeanthropic.Options{}))
	defer srv.Close()
	const reply = `Ünïcode "quoted" <b>&amp;</b> \ done`
	body := `{"model":"claude-sonnet-4-5","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}`
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/messages", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Anthropic-Version", "2023-06-01")
	req.Header.Set(fakeanthropic.HeaderReply, reply)
	req.Header.Set(fakeanthropic.HeaderChunks, "7")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("fake answered %d %q, %v", resp.StatusCode, raw, err)
	}
	s, st := stStream(t)
	var got strings.Builder
	n := 0
	for _, ev := range stEvents(t, s, raw) {
		if text, ok := st.EventText(ev); ok {
			got.WriteString(text)
			n++
		}
	}
	if got.String() != reply || n < 2 {
		t.Fatalf("text of %d events = %q, want %q", n, got.String(), reply)
	}
}

func stServe(t *testing.T, body []byte) *sdk.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	c := sdk.NewClient(option.WithBaseURL(srv.URL), option.WithAPIKey("sk-ant-test"), option.WithMaxRetries(0))
	return &c
}

// anthropic-sdk-go reads a rewritten stream and sees the new text.
func TestSetEventTextWithSDK(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "stream.sse"))
	if err != nil {
		t.Fatal(err)
	}
	s, st := stStream(t)
	var out []byte
	var want strings.Builder
	for _, ev := range stEvents(t, s, body) {
		if text, ok := st.EventText(ev); ok {
			n := strings.ToUpper(text) + "|" + stTrickyText
			want.WriteString(n)
			if ev, err = st.SetEventText(ev, n); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, ev...)
	}
	m, err := accumulate(t, stServe(t, out).Messages.NewStreaming(context.Background(), params("hi")))
	if err != nil {
		t.Fatal(err)
	}
	if got := textOf(m); got != want.String() {
		t.Fatalf("SDK text = %q, want %q", got, want.String())
	}
}

// A stream that ends with StreamError's event makes anthropic-sdk-go return an *Error with
// the type and message, after the text before it.
func TestStreamErrorWithSDK(t *testing.T) {
	p := anthropic.New(anthropic.Options{})
	body, err := os.ReadFile(filepath.Join("testdata", "stream.sse"))
	if err != nil {
		t.Fatal(err)
	}
	// The events up to the first text delta.
	s, st := stStream(t)
	var head []byte
	for _, ev := range stEvents(t, s, body) {
		head = append(head, ev...)
		if _, ok := st.EventText(ev); ok {
			break
		}
	}
	for _, tt := range []struct {
		e        *provider.Error
		wantType string
	}{
		{&provider.Error{Status: 529, Message: "overloaded \"now\""}, "overloaded_error"},
		{&provider.Error{Status: 400, Type: "invalid_request_error", Message: "the answer broke a rule"}, "invalid_request_error"},
		{&provider.Error{Status: 500, Type: "server_error", Message: "filter failed"}, "api_error"},
	} {
		t.Run(tt.wantType, func(t *testing.T) {
			ev := p.StreamError(&provider.Request{ID: "req_test_1"}, tt.e)
			if e := sse.Parse(ev); e.Event != "error" || !bytes.HasSuffix(ev, []byte("\n\n")) {
				t.Fatalf("StreamError = %q", ev)
			}
			m, err := accumulate(t, stServe(t, append(bytes.Clone(head), ev...)).Messages.NewStreaming(context.Background(), params("hi")))
			var apiErr *sdk.Error
			if !errors.As(err, &apiErr) || string(apiErr.Type()) != tt.wantType ||
				!strings.Contains(err.Error(), strings.Trim(stQuote(tt.e.Message), `"`)) {
				t.Fatalf("stream error = %v (%T)", err, err)
			}
			if textOf(m) == "" {
				t.Error("the text before the error was lost")
			}
		})
	}
}

func FuzzSetEventText(f *testing.F) {
	s, _ := stStream(f)
	for _, file := range []string{"stream.sse", "stream_thinking.sse", "stream_tools.sse"} {
		body, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			f.Fatal(err)
		}
		for _, ev := range stEvents(f, s, body) {
			f.Add(ev, stTrickyText)
		}
	}
	f.Add([]byte("event: content_block_delta\r\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"a\"}}\r\n\r\n"), "\x00\xff")
	f.Fuzz(func(t *testing.T, ev []byte, text string) {
		_, st := stStream(t)
		out, err := st.SetEventText(ev, text)
		if err != nil {
			return
		}
		if !json.Valid(sse.Data(ev)) {
			return
		}
		if !json.Valid(sse.Data(out)) {
			t.Fatalf("valid data became invalid: %q -> %q", sse.Data(ev), sse.Data(out))
		}
		// Invalid UTF-8 is written as U+FFFD, one per bad byte, as encoding/json does.
		var want string
		if err := json.Unmarshal([]byte(stQuote(text)), &want); err != nil {
			t.Fatal(err)
		}
		if got, ok := st.EventText(out); got != want || ok != (want != "") {
			t.Fatalf("EventText after SetEventText(%q) = %q, %v", text, got, ok)
		}
	})
}

// A filter that stops a stream midway ends it with an error event.
func ExampleProvider_StreamError() {
	p := anthropic.New(anthropic.Options{})
	ev := p.StreamError(&provider.Request{ID: "req_0123"}, &provider.Error{Status: 529, Message: "overloaded"})
	fmt.Print(string(ev))
	// Output:
	// event: error
	// data: {"type":"error","error":{"type":"overloaded_error","message":"overloaded"},"request_id":"req_0123"}
}
