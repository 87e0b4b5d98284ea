package bedrock_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/aiproxy-go/aiproxy/internal/fakebedrock"
	"github.com/aiproxy-go/aiproxy/provider"
	"github.com/aiproxy-go/aiproxy/provider/bedrock"
)

// stTrickyText needs escaping in JSON and is not ASCII.
const stTrickyText = "say \"hi\"\n\tto <b>Zoë</b> & 世界 \\ 🙂"

func stQuote(text string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(text)
	return strings.TrimSuffix(b.String(), "\n")
}

// stProvider returns a provider that talks to nothing: the tests only frame streams.
func stProvider(t testing.TB) *bedrock.Provider {
	t.Helper()
	p, err := bedrock.New(bedrock.Options{Region: "us-east-1", AccessKeyID: "AKIDSTREAMTEXT", SecretAccessKey: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// stStream returns a Bedrock stream and its StreamText.
func stStream(t testing.TB) (provider.Stream, provider.StreamText) {
	t.Helper()
	s, ok := stProvider(t).NewStream(&provider.Request{Endpoint: "/model/" + sonnet + "/converse-stream"},
		&http.Response{Header: http.Header{"Content-Type": {"application/vnd.amazon.eventstream"}}})
	if !ok {
		t.Fatal("no stream for application/vnd.amazon.eventstream")
	}
	st, ok := s.(provider.StreamText)
	if !ok {
		t.Fatalf("%T does not implement provider.StreamText", s)
	}
	return s, st
}

// stFrame encodes one frame with the headers Bedrock sends.
func stFrame(t testing.TB, messageType, typeHeader, typ, payload string) []byte {
	t.Helper()
	var m eventstream.Message
	m.Headers.Set(typeHeader, eventstream.StringValue(typ))
	m.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	m.Headers.Set(":message-type", eventstream.StringValue(messageType))
	m.Payload = []byte(payload)
	var b bytes.Buffer
	if err := eventstream.NewEncoder().Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func stEvent(t testing.TB, typ, payload string) []byte {
	return stFrame(t, "event", ":event-type", typ, payload)
}

// stChunk is an InvokeModelWithResponseStream chunk carrying the model's event inner.
func stChunk(t testing.TB, inner string) []byte {
	return stEvent(t, "chunk", `{"bytes":"`+base64.StdEncoding.EncodeToString([]byte(inner))+`","p":"abcdefghijkl"}`)
}

// stDecode decodes one frame, checking both checksums.
func stDecode(t testing.TB, frame []byte) eventstream.Message {
	t.Helper()
	m, err := eventstream.NewDecoder().Decode(bytes.NewReader(frame), nil)
	if err != nil {
		t.Fatalf("decode %q: %v", frame, err)
	}
	return m
}

func TestEventText(t *testing.T) {
	_, st := stStream(t)
	tests := []struct {
		name     string
		frame    []byte
		text     string // "" when the frame carries none
		payload  string // the payload, or a chunk's inner event, SetEventText changes
		old, new string // the JSON in payload that SetEventText replaces, and with what; "" when it fails
	}{
		{"converse text", stEvent(t, "contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"Hello"},"p":"abcdefghijklmnopqrstuvwxyzABCDEFG"}`),
			"Hello", `{"contentBlockIndex":0,"delta":{"text":"Hello"},"p":"abcdefghijklmnopqrstuvwxyzABCDEFG"}`, `"Hello"`, stQuote(stTrickyText)},
		{"converse escaped", stEvent(t, "contentBlockDelta", `{"delta":{"text":"a\"b\u00e9\n"},"contentBlockIndex":1}`),
			"a\"bé\n", `{"delta":{"text":"a\"b\u00e9\n"},"contentBlockIndex":1}`, `"a\"b\u00e9\n"`, stQuote(stTrickyText)},
		{"converse tool input", stEvent(t, "contentBlockDelta", `{"contentBlockIndex":1,"delta":{"toolUse":{"input":"{\"location\""}}}`), "", "", "", ""},
		{"converse reasoning", stEvent(t, "contentBlockDelta", `{"contentBlockIndex":0,"delta":{"reasoningContent":{"text":"hmm"}}}`), "", "", "", ""},
		{"converse start", stEvent(t, "messageStart", `{"role":"assistant","p":"abc"}`), "", "", "", ""},
		{"converse metadata", stEvent(t, "metadata", `{"usage":{"inputTokens":9,"outputTokens":5,"totalTokens":14},"metrics":{"latencyMs":120}}`), "", "", "", ""},
		{"exception", stFrame(t, "exception", ":exception-type", "throttlingException", `{"message":"Too many tokens"}`), "", "", "", ""},
		{"anthropic text", stChunk(t, `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}`),
			"Hi", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}`, `"Hi"`, stQuote(stTrickyText)},
		{"anthropic thinking", stChunk(t, `{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}}`), "", "", "", ""},
		{"anthropic tool input", stChunk(t, `{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{"}}`), "", "", "", ""},
		{"anthropic stop", stChunk(t, `{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":9,"outputTokenCount":5}}`), "", "", "", ""},
		{"claude v2", stChunk(t, `{"completion":" Hello","stop_reason":null,"stop":null}`),
			" Hello", `{"completion":" Hello","stop_reason":null,"stop":null}`, `" Hello"`, stQuote(stTrickyText)},
		{"titan", stChunk(t, `{"outputText":"Hi there","index":0,"totalOutputTextTokenCount":null,"completionReason":null}`),
			"Hi there", `{"outputText":"Hi there","index":0,"totalOutputTextTokenCount":null,"completionReason":null}`, `"Hi there"`, stQuote(stTrickyText)},
		{"llama", stChunk(t, `{"generation":" world","prompt_token_count":null,"generation_token_count":2,"stop_reason":null}`),
			" world", `{"generation":" world","prompt_token_count":null,"generation_token_count":2,"stop_reason":null}`, `" world"`, stQuote(stTrickyText)},
		{"mistral two outputs", stChunk(t, `{"outputs":[{"text":"a","stop_reason":null},{"text":"b","stop_reason":null}]}`),
			"ab", `{"outputs":[{"text":"a","stop_reason":null},{"text":"b","stop_reason":null}]}`,
			`"a","stop_reason":null},{"text":"b"`, stQuote(stTrickyText) + `,"stop_reason":null},{"text":""`},
		{"openai compatible", stChunk(t, `{"choices":[{"index":0,"delta":{"content":"yo"}}]}`),
			"yo", `{"choices":[{"index":0,"delta":{"content":"yo"}}]}`, `"yo"`, stQuote(stTrickyText)},
		{"cohere", stChunk(t, `{"text":"ok","is_finished":false}`),
			"ok", `{"text":"ok","is_finished":false}`, `"ok"`, stQuote(stTrickyText)},
		{"nova", stChunk(t, `{"contentBlockDelta":{"delta":{"text":"nova"},"contentBlockIndex":0}}`),
			"nova", `{"contentBlockDelta":{"delta":{"text":"nova"},"contentBlockIndex":0}}`, `"nova"`, stQuote(stTrickyText)},
		{"nova metadata", stChunk(t, `{"metadata":{"usage":{"inputTokens":3}}}`), "", "", "", ""},
		{"chunk not base64", stEvent(t, "chunk", `{"bytes":"%%%"}`), "", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, ok := st.EventText(tt.frame)
			if text != tt.text || ok != (tt.text != "") {
				t.Fatalf("EventText = %q, %v; want %q", text, ok, tt.text)
			}
			out, err := st.SetEventText(tt.frame, stTrickyText)
			if tt.old == "" {
				if err == nil {
					t.Fatalf("SetEventText succeeded: %q", out)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// The headers are the same bytes, the checksums are right.
			hl := binary.BigEndian.Uint32(tt.frame[4:8])
			if !bytes.Equal(out[4:8], tt.frame[4:8]) || !bytes.Equal(out[12:12+hl], tt.frame[12:12+hl]) {
				t.Fatalf("headers changed: %q -> %q", tt.frame[12:12+hl], out[12:12+hl])
			}
			m, old := stDecode(t, out), stDecode(t, tt.frame)
			payload := m.Payload
			if typ := m.Headers.Get(":event-type").String(); typ == "chunk" {
				var outer, was map[string]string
				if json.Unmarshal(payload, &outer) != nil || json.Unmarshal(old.Payload, &was) != nil || outer["p"] != was["p"] {
					t.Fatalf("chunk payload %q, was %q", payload, old.Payload)
				}
				if payload, err = base64.StdEncoding.DecodeString(outer["bytes"]); err != nil {
					t.Fatal(err)
				}
			}
			if want := strings.Replace(tt.payload, tt.old, tt.new, 1); string(payload) != want {
				t.Fatalf("payload =\n%s\nwant\n%s", payload, want)
			}
			if got, ok := st.EventText(out); !ok || got != stTrickyText {
				t.Fatalf("EventText after SetEventText = %q, %v", got, ok)
			}
		})
	}
	t.Run("corrupt frame", func(t *testing.T) {
		f := stEvent(t, "contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"Hello"}}`)
		f[len(f)-5] ^= 1 // a payload byte: the message checksum no longer matches
		if text, ok := st.EventText(f); ok {
			t.Fatalf("EventText of a corrupt frame = %q", text)
		}
		if _, err := st.SetEventText(f, "x"); err == nil {
			t.Fatal("SetEventText of a corrupt frame succeeded")
		}
	})
}

// stTee records the body of the last response.
type stTee struct {
	mu   sync.Mutex
	body []byte
}

func (r *stTee) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.body = b
	r.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

func stClient(url string, rt http.RoundTripper, keyID, secret string) *bedrockruntime.Client {
	return bedrockruntime.New(bedrockruntime.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider(keyID, secret, ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   &http.Client{Transport: fakebedrock.SDKTransport(rt)},
	})
}

// stServe serves body as an event stream.
func stServe(t *testing.T, body []byte) *bedrockruntime.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return stClient(srv.URL, nil, "AKIDSERVE", "secret")
}

// stConverse reads a ConverseStream's text with the SDK.
func stConverse(t *testing.T, c *bedrockruntime.Client, user string) (string, error) {
	t.Helper()
	out, err := c.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{ModelId: aws.String(sonnet),
		Messages: []types.Message{userMessage(user)}}, header(fakebedrock.HeaderChunks, "6"))
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for ev := range out.GetStream().Events() {
		if d, ok := ev.(*types.ConverseStreamOutputMemberContentBlockDelta); ok {
			if v, ok := d.Value.Delta.(*types.ContentBlockDeltaMemberText); ok {
				text.WriteString(v.Value)
			}
		}
	}
	return text.String(), out.GetStream().Err()
}

// stInvoke reads an InvokeModelWithResponseStream of the Anthropic messages format with the
// SDK: the text of its text_delta chunks.
func stInvoke(t *testing.T, c *bedrockruntime.Client, body string) (string, error) {
	t.Helper()
	out, err := c.InvokeModelWithResponseStream(context.Background(), &bedrockruntime.InvokeModelWithResponseStreamInput{
		ModelId: aws.String(sonnet), ContentType: aws.String("application/json"), Body: []byte(body)},
		header(fakebedrock.HeaderChunks, "6"))
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for ev := range out.GetStream().Events() {
		c, ok := ev.(*types.ResponseStreamMemberChunk)
		if !ok {
			continue
		}
		var inner struct {
			Type       string
			Completion string
			Delta      struct{ Type, Text string }
		}
		if err := json.Unmarshal(c.Value.Bytes, &inner); err != nil {
			t.Fatalf("chunk %q: %v", c.Value.Bytes, err)
		}
		if inner.Delta.Type == "text_delta" {
			text.WriteString(inner.Delta.Text)
		}
		text.WriteString(inner.Completion)
	}
	return text.String(), out.GetStream().Err()
}

// stFrames splits a stream with the provider's own framing.
func stFrames(t testing.TB, s provider.Stream, body []byte) [][]byte {
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

// Streams captured from the fake: the text of their frames is the reply, and the SDK reads
// the frames rewritten by SetEventText and sees the new text.
func TestEventTextOfFakeStreams(t *testing.T) {
	fake := httptest.NewServer(fakebedrock.New(fakebedrock.Options{}))
	defer fake.Close()
	tee := &stTee{}
	direct := stClient(fake.URL, tee, fakebedrock.DefaultAccessKeyID, fakebedrock.DefaultSecretAccessKey)
	const user = `Ünïcode "quoted" <b>&amp;</b> \ done`
	const reply = "Hello! You said: " + user
	for _, tt := range []struct {
		name string
		read func(c *bedrockruntime.Client) (string, error)
	}{
		{"converse-stream", func(c *bedrockruntime.Client) (string, error) { return stConverse(t, c, user) }},
		{"invoke messages", func(c *bedrockruntime.Client) (string, error) {
			return stInvoke(t, c, `{"anthropic_version":"bedrock-2023-05-31","max_tokens":100,"messages":[{"role":"user","content":`+stQuote(user)+`}]}`)
		}},
		{"invoke claude v2", func(c *bedrockruntime.Client) (string, error) {
			return stInvoke(t, c, `{"prompt":"\n\nHuman: `+strings.Trim(stQuote(user), `"`)+`\n\nAssistant:","max_tokens_to_sample":100}`)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := tt.read(direct); err != nil || strings.TrimSpace(got) != reply {
				t.Fatalf("SDK read %q, %v from the fake", got, err)
			}
			tee.mu.Lock()
			raw := tee.body
			tee.mu.Unlock()
			s, st := stStream(t)
			var text, want strings.Builder
			var rewritten []byte
			n := 0
			for _, f := range stFrames(t, s, raw) {
				if old, ok := st.EventText(f); ok {
					n++
					text.WriteString(old)
					nt := strings.ToUpper(old) + "|" + stTrickyText
					want.WriteString(nt)
					var err error
					if f, err = st.SetEventText(f, nt); err != nil {
						t.Fatal(err)
					}
				}
				rewritten = append(rewritten, f...)
			}
			if strings.TrimSpace(text.String()) != reply || n < 2 {
				t.Fatalf("text of %d frames = %q, want %q", n, text.String(), reply)
			}
			if got, err := tt.read(stServe(t, rewritten)); err != nil || got != want.String() {
				t.Fatalf("SDK read %q, %v from the rewritten stream; want %q", got, err, want.String())
			}
		})
	}
}

// A stream that ends with StreamError's frame makes the SDK return the typed exception
// with the message, after the text before it; the provider reads the frame back as the
// same failure.
func TestStreamErrorWithSDK(t *testing.T) {
	p := stProvider(t)
	head := append(stEvent(t, "messageStart", `{"role":"assistant"}`),
		stEvent(t, "contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"Hel"}}`)...)
	invokeHead := stChunk(t, `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}`)
	tests := []struct {
		e          *provider.Error
		wantStatus int
		check      func(error) bool
	}{
		{&provider.Error{Status: 429, Message: "slow \"down\""}, 429,
			func(err error) bool { var x *types.ThrottlingException; return errors.As(err, &x) }},
		{&provider.Error{Status: 400, Type: "invalid_request_error", Message: "the answer broke a rule"}, 400,
			func(err error) bool { var x *types.ValidationException; return errors.As(err, &x) }},
		{&provider.Error{Status: 503, Message: "upstream overloaded"}, 503,
			func(err error) bool { var x *types.ServiceUnavailableException; return errors.As(err, &x) }},
		{&provider.Error{Status: 500, Type: "server_error", Message: "filter failed"}, 500,
			func(err error) bool { var x *types.InternalServerException; return errors.As(err, &x) }},
		{&provider.Error{Status: 502, Type: "ModelStreamErrorException", Message: "model broke"}, 424,
			func(err error) bool { var x *types.ModelStreamErrorException; return errors.As(err, &x) }},
	}
	for _, tt := range tests {
		t.Run(tt.e.Message, func(t *testing.T) {
			frame := p.StreamError(&provider.Request{}, tt.e)
			m := stDecode(t, frame)
			if m.Headers.Get(":message-type").String() != "exception" {
				t.Fatalf("headers %v", m.Headers)
			}
			text, err := stConverse(t, stServe(t, append(bytes.Clone(head), frame...)), "hi")
			if !tt.check(err) || !strings.Contains(err.Error(), tt.e.Message) || text != "Hel" {
				t.Fatalf("converse: text %q, error %v (%T)", text, err, err)
			}
			text, err = stInvoke(t, stServe(t, append(bytes.Clone(invokeHead), frame...)), `{}`)
			if !tt.check(err) || !strings.Contains(err.Error(), tt.e.Message) || text != "Hel" {
				t.Fatalf("invoke: text %q, error %v (%T)", text, err, err)
			}
			s, _ := stStream(t)
			stFrames(t, s, append(bytes.Clone(head), frame...))
			f := s.(provider.StreamFailure).Failure()
			if f == nil || f.Status != tt.wantStatus || !strings.Contains(f.Message, tt.e.Message) {
				t.Fatalf("Failure() = %+v", f)
			}
		})
	}
}

// A filter that stops a stream midway ends it with an exception frame, which the AWS SDK
// returns as its typed error.
func ExampleProvider_StreamError() {
	p, _ := bedrock.New(bedrock.Options{Region: "us-east-1", AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"})
	frame := p.StreamError(&provider.Request{}, &provider.Error{Status: 429, Message: "slow down"})
	m, _ := eventstream.NewDecoder().Decode(bytes.NewReader(frame), nil)
	for _, h := range m.Headers {
		fmt.Printf("%s: %s\n", h.Name, h.Value)
	}
	fmt.Println(string(m.Payload))
	// Output:
	// :exception-type: throttlingException
	// :content-type: application/json
	// :message-type: exception
	// {"message":"slow down"}
}

func BenchmarkEventText(b *testing.B) {
	_, st := stStream(b)
	frame := stChunk(b, `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" world"}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := st.EventText(frame); !ok {
			b.Fatal("no text")
		}
	}
}

func BenchmarkSetEventText(b *testing.B) {
	_, st := stStream(b)
	frame := stChunk(b, `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" world"}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.SetEventText(frame, " WORLD"); err != nil {
			b.Fatal(err)
		}
	}
}
