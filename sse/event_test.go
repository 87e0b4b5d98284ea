package sse

import (
	"bufio"
	"fmt"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Event
	}{
		{"empty", "", Event{}},
		{"blank line", "\n", Event{}},
		{"lf", "data: hello\n\n", Event{Data: "hello"}},
		{"crlf", "event: e\r\ndata: hello\r\n\r\n", Event{Event: "e", Data: "hello"}},
		{"cr", "event: e\rdata: hello\r\r", Event{Event: "e", Data: "hello"}},
		{"mixed", "event: e\rdata: a\r\ndata: b\ndata: c\r\r", Event{Event: "e", Data: "a\nb\nc"}},
		{"no space", "data:hello\n\n", Event{Data: "hello"}},
		{"only one space removed", "data:  hello\n\n", Event{Data: " hello"}},
		{"colon in value", "data: {\"a\":\"b:c\"}\n\n", Event{Data: `{"a":"b:c"}`}},
		{"multi-line data", "data: a\ndata:\ndata: b\n\n", Event{Data: "a\n\nb"}},
		{"trailing empty data", "data: a\ndata\n\n", Event{Data: "a\n"}},
		{"field without colon", "data\n\n", Event{}},
		{"comments", ": ping\ndata: a\n: another\n\n", Event{Data: "a"}},
		{"unknown fields", "foo: bar\nDATA: x\ndata: a\n\n", Event{Data: "a"}},
		{"last event wins", "event: a\nevent: b\ndata: x\n\n", Event{Event: "b", Data: "x"}},
		{"id", "id: 42\ndata: x\n\n", Event{ID: "42", Data: "x"}},
		{"id with nul ignored", "id: 1\nid: a\x00b\n\n", Event{ID: "1"}},
		{"retry", "retry: 3000\n\n", Event{Retry: 3000, HasRetry: true}},
		{"retry not digits", "retry: 3s\nretry: -1\nretry:\n\n", Event{}},
		{"bom", "\xEF\xBB\xBFevent: e\ndata: a\n\n", Event{Event: "e", Data: "a"}},
		{"stops at blank line", "data: a\n\ndata: b\n\n", Event{Data: "a"}},
		{"incomplete", "data: a", Event{Data: "a"}},
		{"long line", "data: " + strings.Repeat("x", 3000) + "\r\n\r\n", Event{Data: strings.Repeat("x", 3000)}},
		{"utf-8", "data: h\u00e9llo \u4e16\u754c\n\n", Event{Data: "h\u00e9llo \u4e16\u754c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Parse([]byte(tt.in)); got != tt.want {
				t.Errorf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			got := Data([]byte(tt.in))
			if string(got) != tt.want.Data {
				t.Errorf("Data(%q) = %q, want %q", tt.in, got, tt.want.Data)
			}
		})
	}
}

func TestDataNilWithoutData(t *testing.T) {
	if d := Data([]byte("event: x\n\n")); d != nil {
		t.Errorf("Data without a data field = %q, want nil", d)
	}
	if d := Data([]byte("data:\n\n")); d == nil || len(d) != 0 {
		t.Errorf("Data of an empty data field = %#v, want empty and not nil", d)
	}
}

func TestDataAllocs(t *testing.T) {
	ev := []byte("event: response.output_text.delta\r\ndata: {\"delta\":\"hi\"}\r\n\r\n")
	allocs := testing.AllocsPerRun(100, func() {
		if string(Data(ev)) != `{"delta":"hi"}` {
			t.Fatal("wrong data")
		}
	})
	if allocs != 0 {
		t.Errorf("Data allocates %v times", allocs)
	}
}

func TestIsDone(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"data: [DONE]\n\n", true},
		{"data:[DONE]\r\n\r\n", true},
		{"data: [DONE]", true},
		{"data: [DONE] \n\n", false},
		{"data: {\"done\":true}\n\n", false},
		{": [DONE]\n\n", false},
		{"event: done\n\n", false},
	}
	for _, tt := range tests {
		if got := IsDone([]byte(tt.in)); got != tt.want {
			t.Errorf("IsDone(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestAppendEvent(t *testing.T) {
	tests := []struct {
		event, data, want string
	}{
		{"", `{"a":1}`, "data: {\"a\":1}\n\n"},
		{"response.created", `{}`, "event: response.created\ndata: {}\n\n"},
		{"", "a\nb", "data: a\ndata: b\n\n"},
		{"", "a\r\nb\rc", "data: a\ndata: b\ndata: c\n\n"},
		{"", "", "data: \n\n"},
		{"", "a\n", "data: a\ndata: \n\n"},
		{"", " lead", "data:  lead\n\n"},
	}
	for _, tt := range tests {
		got := string(AppendEvent([]byte("x"), tt.event, []byte(tt.data)))
		if got != "x"+tt.want {
			t.Errorf("AppendEvent(%q, %q) = %q, want %q", tt.event, tt.data, got, "x"+tt.want)
		}
		// Round trip through Split and Parse.
		adv, tok, _ := Split([]byte(tt.want), false)
		if adv != len(tt.want) {
			t.Errorf("Split of %q advanced %d", tt.want, adv)
		}
		ev := Parse(tok)
		wantData := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(tt.data)
		if ev.Event != tt.event || ev.Data != wantData {
			t.Errorf("round trip of %q, %q = %+v", tt.event, tt.data, ev)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(stream))
	f.Add([]byte("retry: 99999999999999999999999\n\n"))
	f.Add([]byte("\xEF\xBB\xBFdata\ndata:\r\ndata: x\r\r"))
	f.Fuzz(func(t *testing.T, in []byte) {
		ev := Parse(in)
		if d := Data(in); string(d) != ev.Data {
			t.Fatalf("Data = %q, Parse().Data = %q", d, ev.Data)
		}
		_ = IsDone(in)
		// What AppendEvent writes, Parse reads back.
		out := AppendEvent(nil, "", []byte(ev.Data))
		if got := Parse(out); got.Data != ev.Data {
			t.Fatalf("round trip of %q gives %q", ev.Data, got.Data)
		}
	})
}

func BenchmarkData(b *testing.B) {
	ev := []byte(`data: {"id":"chatcmpl-abc","object":"chat.completion.chunk","created":1761564674,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":" hello"},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n")
	b.SetBytes(int64(len(ev)))
	b.ReportAllocs()
	for b.Loop() {
		if Data(ev) == nil {
			b.Fatal("no data")
		}
	}
}

func BenchmarkParse(b *testing.B) {
	ev := []byte("event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"hi\"}\n\n")
	b.ReportAllocs()
	for b.Loop() {
		_ = Parse(ev)
	}
}

func ExampleSplit() {
	body := strings.NewReader("data: {\"content\":\"Hel\"}\n\n" +
		": keep-alive\n\n" +
		"event: note\r\ndata: two\r\ndata: lines\r\n\r\n" +
		"data: [DONE]\n\n")
	sc := bufio.NewScanner(body)
	sc.Split(Split)
	for sc.Scan() {
		event := sc.Bytes() // the raw bytes, blank line included, ready to relay
		if IsDone(event) {
			fmt.Println("done")
			break
		}
		ev := Parse(event)
		fmt.Printf("%d bytes, event %q, data %q\n", len(event), ev.Event, ev.Data)
	}
	// Output:
	// 25 bytes, event "", data "{\"content\":\"Hel\"}"
	// 14 bytes, event "", data ""
	// 39 bytes, event "note", data "two\nlines"
	// done
}
