package fakefault

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func TestParserValues(t *testing.T) {
	p := NewParser(header("X-N", " 7 ", "X-D", "250", "X-D2", "1.5s", "X-S", "0.25", "X-Str", "hi"))
	n, d, d2, s := -1, time.Duration(0), time.Duration(0), 1.0
	p.Int("X-N", &n, 0)
	p.Duration("X-D", &d)
	p.Duration("X-D2", &d2)
	p.Seconds("X-S", &s)
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 7 || d != 250*time.Millisecond || d2 != 1500*time.Millisecond || s != 0.25 {
		t.Errorf("got %d %v %v %v", n, d, d2, s)
	}
	if v, ok := p.String("X-Str"); v != "hi" || !ok {
		t.Errorf("String = %q, %v", v, ok)
	}

	// Absent headers leave their destinations alone.
	p.Int("X-Absent", &n, 0)
	p.Duration("X-Absent", &d)
	p.Seconds("X-Absent", &s)
	if _, ok := p.String("X-Absent"); ok || n != 7 || d != 250*time.Millisecond || s != 0.25 || p.Err() != nil {
		t.Errorf("an absent header changed something: %d %v %v %v", n, d, s, p.Err())
	}
}

func TestParserErrors(t *testing.T) {
	tests := []struct {
		name, value string
		read        func(p *Parser)
		want        string
	}{
		{"X-Fake-Chunks", "zero", func(p *Parser) { var n int; p.Int("X-Fake-Chunks", &n, 1) }, `bad x-fake-chunks header "zero": want an integer of at least 1`},
		{"X-Fake-Chunks", "0", func(p *Parser) { var n int; p.Int("X-Fake-Chunks", &n, 1) }, `bad x-fake-chunks header "0": want an integer of at least 1`},
		{"X-Fake-Delay", "soon", func(p *Parser) { var d time.Duration; p.Duration("X-Fake-Delay", &d) }, `bad x-fake-delay header "soon": want a duration such as 200ms`},
		{"X-Fake-Delay", "-1s", func(p *Parser) { var d time.Duration; p.Duration("X-Fake-Delay", &d) }, `bad x-fake-delay header "-1s": want a duration such as 200ms`},
		{"X-Fake-Delay", "-5", func(p *Parser) { var d time.Duration; p.Duration("X-Fake-Delay", &d) }, `bad x-fake-delay header "-5": want a duration such as 200ms`},
		{"X-Fake-Delay", "12000000000000000", func(p *Parser) { var d time.Duration; p.Duration("X-Fake-Delay", &d) }, `bad x-fake-delay header "12000000000000000": want a duration such as 200ms`},
		{"X-Fake-Retry-After", "-1", func(p *Parser) { var s float64; p.Seconds("X-Fake-Retry-After", &s) }, `bad x-fake-retry-after header "-1": want seconds`},
		{"X-Fake-Retry-After", "NaN", func(p *Parser) { var s float64; p.Seconds("X-Fake-Retry-After", &s) }, `bad x-fake-retry-after header "NaN": want seconds`},
		{"X-Fake-Retry-After", "+Inf", func(p *Parser) { var s float64; p.Seconds("X-Fake-Retry-After", &s) }, `bad x-fake-retry-after header "+Inf": want seconds`},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			p := NewParser(header(tt.name, tt.value))
			tt.read(p)
			if err := p.Err(); err == nil || err.Error() != tt.want {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// TestParserFirstError checks that the first malformed value is the error
// and that the reads after it change nothing, except String.
func TestParserFirstError(t *testing.T) {
	p := NewParser(header("X-A", "x", "X-B", "y", "X-C", "3", "X-Str", "s"))
	var a, b, c int
	p.Int("X-A", &a, 0)
	p.Int("X-B", &b, 0)
	p.Int("X-C", &c, 0)
	if err := p.Err(); err == nil || !strings.Contains(err.Error(), "x-a") {
		t.Errorf("error %v, want the one of x-a", err)
	}
	if c != 0 {
		t.Errorf("X-C was read after an error: %d", c)
	}
	if v, ok := p.String("X-Str"); v != "s" || !ok {
		t.Errorf("String after an error = %q, %v", v, ok)
	}
}

func TestFaultsRead(t *testing.T) {
	f := New(5)
	p := NewParser(http.Header{})
	f.Read(p)
	if p.Err() != nil || f != New(5) {
		t.Fatalf("without headers: %+v, %v", f, p.Err())
	}
	if f.CutAfter != -1 || f.ToolCalls != -1 || f.Chunks != 5 || f.Status != 0 || f.HasReply {
		t.Errorf("New(5) = %+v", f)
	}

	p = NewParser(header(HeaderStatus, "429", HeaderCutAfter, "2", HeaderChunks, "3", HeaderToolCalls, "0",
		HeaderDelay, "10ms", HeaderChunkDelay, "20", HeaderReply, ""))
	f.Read(p)
	want := Faults{Status: 429, Delay: 10 * time.Millisecond, ChunkDelay: 20 * time.Millisecond, CutAfter: 2,
		Chunks: 3, ToolCalls: 0, Reply: "", HasReply: true}
	if p.Err() != nil || f != want {
		t.Errorf("got %+v, %v; want %+v", f, p.Err(), want)
	}
}

func TestCheckStatus(t *testing.T) {
	tests := []struct {
		status, want int
		err          bool
	}{
		{0, 0, false},
		{200, 0, false},
		{400, 400, false},
		{529, 529, false},
		{599, 599, false},
		{201, 201, true},
		{399, 399, true},
		{600, 600, true},
	}
	for _, tt := range tests {
		f := New(5)
		f.Status = tt.status
		err := f.CheckStatus()
		if (err != nil) != tt.err || f.Status != tt.want {
			t.Errorf("status %d: got %d, %v", tt.status, f.Status, err)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "bad x-fake-status header") {
			t.Errorf("status %d: error %q", tt.status, err)
		}
	}
}

func TestToolCallCount(t *testing.T) {
	tests := []struct {
		header, tools int
		last          string
		want          int
	}{
		{-1, 0, "please use tools", 0},
		{-1, 2, "please use tools", 2},
		{-1, 2, "hello", 0},
		{0, 2, "please use tools", 0},
		{3, 0, "hello", 3},
	}
	for _, tt := range tests {
		f := Faults{ToolCalls: tt.header}
		if got := f.ToolCallCount(tt.tools, tt.last); got != tt.want {
			t.Errorf("ToolCallCount(%d tools, %q) with header %d = %d, want %d", tt.tools, tt.last, tt.header, got, tt.want)
		}
	}
}

func TestReplyText(t *testing.T) {
	f := New(5)
	if got := f.ReplyText("Hello! You said: hi"); got != "Hello! You said: hi" {
		t.Errorf("echo: %q", got)
	}
	if got := f.ReplyText("hi"); got != "hi..." {
		t.Errorf("short echo: %q", got)
	}
	f.Reply, f.HasReply = "", true
	if got := f.ReplyText("ignored"); got != "....." {
		t.Errorf("empty x-fake-reply: %q", got)
	}
}

func FuzzParseDelay(f *testing.F) {
	for _, s := range []string{"200ms", "150", " 3 ", "-1", "1h2m", "soon", "", "12000000000000000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDelay(s)
		if err == nil && d < 0 {
			t.Errorf("parseDelay(%q) = %v", s, d)
		}
	})
}
