package gemini_test

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

	"google.golang.org/genai"

	"github.com/aiproxy-go/aiproxy/internal/fakegemini"
	"github.com/aiproxy-go/aiproxy/provider"
	"github.com/aiproxy-go/aiproxy/provider/gemini"
	"github.com/aiproxy-go/aiproxy/sse"
)

// stTrickyText needs escaping in JSON and is not ASCII.
const stTrickyText = "say \"hi\"\n\tto <b>Zoë</b> & 世界 \\ 🙂"

const (
	stStreamEndpoint = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
	stModel          = "gemini-2.5-flash"
)

// stStream returns the stream NewStream frames a response of content type ct with.
func stStream(t testing.TB, ct string) (provider.Stream, provider.StreamText) {
	t.Helper()
	s, ok := gemini.New(gemini.Options{}).NewStream(&provider.Request{Endpoint: stStreamEndpoint},
		&http.Response{Header: http.Header{"Content-Type": {ct}}})
	if !ok {
		t.Fatalf("no stream for %s", ct)
	}
	st, ok := s.(provider.StreamText)
	if !ok {
		t.Fatalf("%T does not implement provider.StreamText", s)
	}
	return s, st
}

const (
	stSSE   = "text/event-stream"
	stArray = "application/json; charset=UTF-8"
)

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
	q := stQuote(stTrickyText)
	tests := []struct {
		name string
		ct   string
		ev   string
		text string // "" when the event carries none
		want string // the event after SetEventText(ev, stTrickyText); "" when it fails
	}{
		{"sse text", stSSE,
			`data: {"candidates": [{"content": {"parts": [{"text": "Bonjour, "}],"role": "model"},"index": 0}],"modelVersion": "gemini-2.5-flash"}` + "\r\n\r\n",
			"Bonjour, ",
			`data: {"candidates": [{"content": {"parts": [{"text": ` + q + `}],"role": "model"},"index": 0}],"modelVersion": "gemini-2.5-flash"}` + "\r\n\r\n"},
		{"sse thought", stSSE,
			`data: {"candidates": [{"content": {"parts": [{"text": "**Weighing**","thought": true}],"role": "model"},"index": 0}]}` + "\r\n\r\n",
			"", ""},
		{"sse thought then text", stSSE,
			`data: {"candidates": [{"content": {"parts": [{"text": "hmm","thought": true},{"text": "a"},{"functionCall": {"name": "f","args": {}}},{"text": "b"}],"role": "model"},"index": 0}]}` + "\r\n\r\n",
			"ab",
			`data: {"candidates": [{"content": {"parts": [{"text": "hmm","thought": true},{"text": ` + q + `},{"functionCall": {"name": "f","args": {}}},{"text": ""}],"role": "model"},"index": 0}]}` + "\r\n\r\n"},
		{"sse function call", stSSE,
			`data: {"candidates": [{"content": {"parts": [{"functionCall": {"name": "get_weather","args": {"location": "Paris"}}}],"role": "model"},"index": 0}]}` + "\r\n\r\n",
			"", ""},
		{"sse usage only", stSSE,
			`data: {"candidates": [{"content": {"role": "model"},"finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 12}}` + "\r\n\r\n",
			"", ""},
		{"sse empty text", stSSE,
			`data: {"candidates": [{"content": {"parts": [{"text": ""}],"role": "model"},"finishReason": "STOP","index": 0}]}` + "\r\n\r\n",
			"",
			`data: {"candidates": [{"content": {"parts": [{"text": ` + q + `}],"role": "model"},"finishReason": "STOP","index": 0}]}` + "\r\n\r\n"},
		{"sse second candidate", stSSE,
			`data: {"candidates": [{"content": {"parts": [{"text": ""}]},"index": 0},{"content": {"parts": [{"text": "two"}]},"index": 1}]}` + "\n\n",
			"two",
			`data: {"candidates": [{"content": {"parts": [{"text": ""}]},"index": 0},{"content": {"parts": [{"text": ` + q + `}]},"index": 1}]}` + "\n\n"},
		{"sse error", stSSE, `data: {"error": {"code": 503,"message": "overloaded","status": "UNAVAILABLE"}}` + "\r\n\r\n", "", ""},
		{"array first", stArray,
			"[{\n  \"candidates\": [\n    {\n      \"content\": {\n        \"parts\": [\n          {\n            \"text\": \"Bonjour\"\n          }\n        ],\n        \"role\": \"model\"\n      },\n      \"index\": 0\n    }\n  ]\n}",
			"Bonjour",
			"[{\n  \"candidates\": [\n    {\n      \"content\": {\n        \"parts\": [\n          {\n            \"text\": " + q + "\n          }\n        ],\n        \"role\": \"model\"\n      },\n      \"index\": 0\n    }\n  ]\n}"},
		{"array next", stArray,
			"\n,\r\n{\n  \"candidates\": [\n    {\n      \"content\": {\n        \"parts\": [\n          {\n            \"text\": \" monde\"\n          }\n        ]\n      }\n    }\n  ]\n}",
			" monde",
			"\n,\r\n{\n  \"candidates\": [\n    {\n      \"content\": {\n        \"parts\": [\n          {\n            \"text\": " + q + "\n          }\n        ]\n      }\n    }\n  ]\n}"},
		{"array close", stArray, "\n]", "", ""},
		{"array unfinished", stArray, "\n,\r\n{\n  \"candidates\": [{\"content\": {\"parts\": [{\"text\": \"cut", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, st := stStream(t, tt.ct)
			text, ok := st.EventText([]byte(tt.ev))
			if text != tt.text || ok != (tt.text != "") {
				t.Fatalf("EventText = %q, %v; want %q", text, ok, tt.text)
			}
			out, err := st.SetEventText([]byte(tt.ev), stTrickyText)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("SetEventText succeeded: %q", out)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.want {
				t.Fatalf("SetEventText =\n%q\nwant\n%q", out, tt.want)
			}
			if got, ok := st.EventText(out); !ok || got != stTrickyText {
				t.Fatalf("EventText after SetEventText = %q, %v", got, ok)
			}
		})
	}
}

// The text of a recorded stream's events is the answer's text its summary holds.
func TestEventTextOfRecordedStreams(t *testing.T) {
	p := gemini.New(gemini.Options{})
	for _, tt := range []struct{ file, ct string }{
		{"stream.sse", stSSE},
		{"stream_tools.sse", stSSE},
		{"stream.json", stArray},
	} {
		t.Run(tt.file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			s, st := stStream(t, tt.ct)
			var got strings.Builder
			for _, ev := range stEvents(t, s, body) {
				if text, ok := st.EventText(ev); ok {
					got.WriteString(text)
				}
			}
			want := p.SummarizeResponse(stStreamEndpoint, body, true).Content
			if got.String() != want {
				t.Fatalf("text of the events = %q, summary = %q", got.String(), want)
			}
		})
	}
}

// stFakeStream asks the fake for a streamed reply, in SSE or as a JSON array.
func stFakeStream(t *testing.T, url string, sseFraming bool, reply string) []byte {
	t.Helper()
	u := url + "/v1beta/models/" + stModel + ":streamGenerateContent"
	if sseFraming {
		u += "?alt=sse"
	}
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(`{"contents":[{"role":"user","parts":[{"text":"hi"}]}],`+
		`"generationConfig":{"thinkingConfig":{"includeThoughts":true}}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Goog-Api-Key", "k")
	req.Header.Set(fakegemini.HeaderReply, reply)
	req.Header.Set(fakegemini.HeaderChunks, "5")
	req.Header.Set(fakegemini.HeaderThoughts, "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("fake answered %d %q, %v", resp.StatusCode, raw, err)
	}
	return raw
}

// The text events of both framings from the fake carry the whole reply, thoughts left out.
func TestEventTextOfFakeStreams(t *testing.T) {
	srv := httptest.NewServer(fakegemini.New(fakegemini.Options{}))
	defer srv.Close()
	const reply = `Ünïcode "quoted" <b>&amp;</b> \ done`
	for _, tt := range []struct {
		name string
		sse  bool
		ct   string
	}{{"sse", true, stSSE}, {"array", false, stArray}} {
		t.Run(tt.name, func(t *testing.T) {
			raw := stFakeStream(t, srv.URL, tt.sse, reply)
			s, st := stStream(t, tt.ct)
			var got strings.Builder
			n := 0
			for _, ev := range stEvents(t, s, raw) {
				text, ok := st.EventText(ev)
				if !ok {
					continue
				}
				got.WriteString(text)
				n++
				out, err := st.SetEventText(ev, strings.ToUpper(text))
				if err != nil {
					t.Fatal(err)
				}
				if again, ok := st.EventText(out); !ok || again != strings.ToUpper(text) {
					t.Fatalf("EventText after SetEventText = %q, %v", again, ok)
				}
			}
			if got.String() != reply || n < 2 {
				t.Fatalf("text of %d events = %q, want %q", n, got.String(), reply)
			}
		})
	}
}

func stServe(t *testing.T, body []byte) *genai.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	c, err := genai.NewClient(context.Background(), &genai.ClientConfig{
		APIKey: "k", Backend: genai.BackendGeminiAPI, HTTPOptions: genai.HTTPOptions{BaseURL: srv.URL + "/"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// genai reads a rewritten stream and sees the new text.
func TestSetEventTextWithSDK(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "stream.sse"))
	if err != nil {
		t.Fatal(err)
	}
	s, st := stStream(t, stSSE)
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
	var got strings.Builder
	for resp, err := range stServe(t, out).Models.GenerateContentStream(context.Background(), stModel, genai.Text("hi"), nil) {
		if err != nil {
			t.Fatal(err)
		}
		got.WriteString(resp.Text())
	}
	if got.String() != want.String() {
		t.Fatalf("SDK text = %q, want %q", got.String(), want.String())
	}
}

// A stream that ends with StreamError's event makes genai return an APIError with the
// code, status and message, after the text before it.
func TestStreamErrorWithSDK(t *testing.T) {
	p := gemini.New(gemini.Options{})
	head := `data: {"candidates": [{"content": {"parts": [{"text": "Bonjour"}],"role": "model"},"index": 0}]}` + "\r\n\r\n"
	e := &provider.Error{Status: 429, Message: "quota \"exceeded\"\nnow"}
	ev := p.StreamError(&provider.Request{Endpoint: stStreamEndpoint, RawQuery: "alt=sse"}, e)
	if got := sse.Data(ev); !bytes.HasPrefix(ev, []byte("data: {")) || !bytes.HasSuffix(ev, []byte("}\r\n\r\n")) || !json.Valid(got) {
		t.Fatalf("StreamError = %q", ev)
	}
	var text string
	var apiErr genai.APIError
	for resp, err := range stServe(t, append([]byte(head), ev...)).Models.GenerateContentStream(context.Background(), stModel, genai.Text("hi"), nil) {
		if err != nil {
			if !errors.As(err, &apiErr) {
				t.Fatalf("stream error %v (%T)", err, err)
			}
			break
		}
		text += resp.Text()
	}
	if apiErr.Code != 429 || apiErr.Status != "RESOURCE_EXHAUSTED" || apiErr.Message != e.Message {
		t.Fatalf("APIError = %+v", apiErr)
	}
	if text != "Bonjour" {
		t.Fatalf("text before the error = %q", text)
	}
}

// For the JSON array framing, the error is the array's last element and closes it.
func TestStreamErrorArray(t *testing.T) {
	p := gemini.New(gemini.Options{})
	body, err := os.ReadFile(filepath.Join("testdata", "stream.json"))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := stStream(t, stArray)
	evs := stEvents(t, s, body)
	// Stop after the second element, as a filter would.
	stopped := append(bytes.Join(evs[:2], nil), p.StreamError(&provider.Request{Endpoint: stStreamEndpoint}, &provider.Error{Status: 400, Message: "blocked"})...)
	var elems []map[string]json.RawMessage
	if err := json.Unmarshal(stopped, &elems); err != nil {
		t.Fatalf("%v in %q", err, stopped)
	}
	var last struct {
		Error struct {
			Code    int
			Message string
			Status  string
		}
	}
	if err := json.Unmarshal(stopped[bytes.LastIndex(stopped, []byte("\n,\r\n"))+4:len(stopped)-2], &last); err != nil {
		t.Fatal(err)
	}
	if len(elems) != 3 || last.Error.Code != 400 || last.Error.Message != "blocked" || last.Error.Status != "INVALID_ARGUMENT" {
		t.Fatalf("%d elements, last %+v", len(elems), last)
	}
	// The stream splits into the same elements, each relayed whole.
	if again := stEvents(t, s, stopped); len(again) != 4 || string(again[3]) != "\n]" {
		t.Fatalf("split again into %q", again)
	}
}

// A filter that stops a stream midway ends it with an error event (alt=sse) or with an
// error element that closes the JSON array.
func ExampleProvider_StreamError() {
	p := gemini.New(gemini.Options{})
	e := &provider.Error{Status: 429, Message: "quota exceeded"}
	fmt.Printf("%q\n", p.StreamError(&provider.Request{Endpoint: stStreamEndpoint, RawQuery: "alt=sse"}, e))
	fmt.Printf("%q\n", p.StreamError(&provider.Request{Endpoint: stStreamEndpoint}, e))
	// Output:
	// "data: {\"error\":{\"code\":429,\"message\":\"quota exceeded\",\"status\":\"RESOURCE_EXHAUSTED\"}}\r\n\r\n"
	// "\n,\r\n{\n  \"error\": {\n    \"code\": 429,\n    \"message\": \"quota exceeded\",\n    \"status\": \"RESOURCE_EXHAUSTED\"\n  }\n}\n]"
}
