package sse

import (
	"bufio"
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// scanAll runs Split over r with a bufio.Scanner and returns the tokens.
func scanAll(t testing.TB, r io.Reader) []string {
	t.Helper()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 16), 1<<20)
	sc.Split(Split)
	var toks []string
	for sc.Scan() {
		toks = append(toks, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("scan: %v", err)
	}
	return toks
}

func TestSplit(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty", "", nil},
		{"lf", "data: a\n\ndata: b\n\n", []string{"data: a\n\n", "data: b\n\n"}},
		{"crlf", "data: a\r\n\r\ndata: b\r\n\r\n", []string{"data: a\r\n\r\n", "data: b\r\n\r\n"}},
		{"cr", "data: a\r\rdata: b\r\r", []string{"data: a\r\r", "data: b\r\r"}},
		{"mixed", "event: x\rdata: a\r\n\ndata: b\n\r\n", []string{"event: x\rdata: a\r\n\n", "data: b\n\r\n"}},
		{"cr then crlf", "data: a\r\r\ndata: b\n\n", []string{"data: a\r\r\n", "data: b\n\n"}},
		{"multi-line event", "event: e\nid: 1\ndata: a\ndata: b\n\n", []string{"event: e\nid: 1\ndata: a\ndata: b\n\n"}},
		{"comment", ": ping\n\ndata: a\n\n", []string{": ping\n\n", "data: a\n\n"}},
		{"leading blank line", "\ndata: a\n\n", []string{"\n", "data: a\n\n"}},
		{"extra blank lines", "data: a\n\n\n\r\n", []string{"data: a\n\n", "\n", "\r\n"}},
		{"incomplete at eof", "data: a\n\ndata: b\n", []string{"data: a\n\n", "data: b\n"}},
		{"no line end at eof", "data: a\n\ndata: b", []string{"data: a\n\n", "data: b"}},
		{"cr at eof", "data: a\r", []string{"data: a\r"}},
		{"blank cr at eof", "data: a\r\r", []string{"data: a\r\r"}},
		{"openai done", "data: {\"x\":1}\n\ndata: [DONE]\n\n", []string{"data: {\"x\":1}\n\n", "data: [DONE]\n\n"}},
		{"bom", "\xEF\xBB\xBFdata: a\n\n", []string{"\xEF\xBB\xBFdata: a\n\n"}},
		// Lines longer than the windows in which indexEOL looks.
		{"long lf lines", long(3000) + "\n\n" + long(513) + "\n\n", []string{long(3000) + "\n\n", long(513) + "\n\n"}},
		{"long cr lines", long(2000) + "\r" + long(600) + "\r\r\n", []string{long(2000) + "\r" + long(600) + "\r\r\n"}},
		{"cr after lf window", long(511) + "\r\n" + long(5000) + "\n\r" + long(7) + "\n",
			[]string{long(511) + "\r\n" + long(5000) + "\n\r", long(7) + "\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := scanAll(t, strings.NewReader(tt.in))
			if !slices.Equal(got, tt.want) {
				t.Errorf("Split(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if strings.Join(got, "") != tt.in {
				t.Errorf("tokens do not concatenate to the input")
			}
		})
	}
}

// long returns a line of n bytes, no line end.
func long(n int) string { return "data: " + strings.Repeat("x", n-6) }

func TestSplitNeedsMoreData(t *testing.T) {
	tests := []string{
		"",
		"data: a",
		"data: a\n",
		"data: a\r",     // may be "\r\n"
		"data: a\n\r",   // blank line that may be "\r\n"
		"data: a\r\n\r", // same, after a "\r\n"
	}
	for _, in := range tests {
		adv, tok, err := Split([]byte(in), false)
		if adv != 0 || tok != nil || err != nil {
			t.Errorf("Split(%q, false) = %d, %q, %v; want 0, nil, nil", in, adv, tok, err)
		}
	}
	adv, tok, _ := Split([]byte("data: a\n\r"), true)
	if adv != 9 || string(tok) != "data: a\n\r" {
		t.Errorf("Split at EOF = %d, %q", adv, tok)
	}
}

// stream is a stream that mixes every line end, comments, multi-line data, a
// BOM and an event left without its blank line at EOF.
const stream = "\xEF\xBB\xBF: welcome\n\n" +
	"event: response.created\r\ndata: {\"type\":\"response.created\"}\r\n\r\n" +
	"data: line one\rdata: line two\r\r" +
	"id: 7\nretry: 1500\ndata:no space\n\n" +
	"data: {\"choices\":[{\"delta\":{\"content\":\"h\u00e9llo \u4e16\u754c\"}}]}\n\n" +
	"\n" +
	"data: a\r\n\ndata: b\n\r\n" +
	"data: [DONE]\n\n" +
	"data: trailing"

func TestSplitEveryReadSize(t *testing.T) {
	want := scanAll(t, strings.NewReader(stream))
	if strings.Join(want, "") != stream {
		t.Fatal("tokens do not concatenate to the input")
	}
	if len(want) != 10 {
		t.Fatalf("got %d tokens, want 10: %q", len(want), want)
	}
	readers := map[string]func(io.Reader) io.Reader{
		"OneByteReader": iotest.OneByteReader,
		"HalfReader":    iotest.HalfReader,
		"DataErrReader": iotest.DataErrReader,
	}
	for name, wrap := range readers {
		if got := scanAll(t, wrap(strings.NewReader(stream))); !slices.Equal(got, want) {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
	}
	for size := 1; size <= 64; size++ {
		got := scanAll(t, &chunkReader{data: []byte(stream), size: size})
		if !slices.Equal(got, want) {
			t.Errorf("read size %d: got %q, want %q", size, got, want)
		}
		var events []Event
		for _, tok := range got {
			events = append(events, Parse([]byte(tok)))
		}
		if events[1].Event != "response.created" || events[2].Data != "line one\nline two" {
			t.Errorf("read size %d: events %+v", size, events)
		}
	}
}

// chunkReader returns at most size bytes per Read.
type chunkReader struct {
	data []byte
	size int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.size, len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

func TestSplitAllocs(t *testing.T) {
	data := []byte("event: x\ndata: {\"a\":1}\r\n\r\n")
	allocs := testing.AllocsPerRun(100, func() {
		if _, tok, _ := Split(data, false); tok == nil {
			t.Fatal("no token")
		}
	})
	if allocs != 0 {
		t.Errorf("Split allocates %v times", allocs)
	}
}

func FuzzSplit(f *testing.F) {
	f.Add([]byte(stream), 3)
	f.Add([]byte("data: a\r\n\r\ndata: b\r\r"), 1)
	f.Add([]byte("\r\n\r\n\n\r\r"), 2)
	f.Add([]byte("data: x"), 7)
	f.Add([]byte(long(1500)+"\r"+long(700)+"\n\n"), 5)
	f.Fuzz(func(t *testing.T, in []byte, size int) {
		whole := scanAll(t, bytes.NewReader(in))
		if got := strings.Join(whole, ""); got != string(in) {
			t.Fatalf("tokens %q concatenate to %q, want %q", whole, got, in)
		}
		for i, tok := range whole {
			if tok == "" {
				t.Fatalf("empty token %d", i)
			}
		}
		if size < 0 {
			size = -size
		}
		// A scanner hands Split the whole unfinished event after every
		// read, so tiny reads of a long event cost O(n²); at most 64 reads
		// keep every run fast.
		size = max(size%64+1, len(in)/64)
		chunked := scanAll(t, &chunkReader{data: in, size: size})
		if !slices.Equal(chunked, whole) {
			t.Fatalf("read size %d: got %q, want %q", size, chunked, whole)
		}
	})
}

func BenchmarkSplit(b *testing.B) {
	const chunk = `data: {"id":"chatcmpl-abc","object":"chat.completion.chunk","created":1761564674,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":" hello"},"logprobs":null,"finish_reason":null}],"usage":null}`
	for _, eol := range []string{"\n", "\r\n"} {
		name := map[string]string{"\n": "lf", "\r\n": "crlf"}[eol]
		b.Run(name, func(b *testing.B) {
			data := []byte(strings.Repeat(chunk+eol+eol, 100))
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				rest := data
				for len(rest) > 0 {
					adv, _, _ := Split(rest, true)
					rest = rest[adv:]
				}
			}
		})
	}
}
