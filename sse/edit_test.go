package sse

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

// replaceOld is an edit that replaces "old" with "new" in the data and
// records what it was given.
func replaceOld(got *[]byte) func([]byte) ([]byte, error) {
	return func(data []byte) ([]byte, error) {
		*got = bytes.Clone(data)
		return bytes.ReplaceAll(data, []byte("old"), []byte("new")), nil
	}
}

func TestEditData(t *testing.T) {
	tests := []struct {
		name string
		ev   string
		data string // what the edit is given
		want string // the event after "old" became "new"; "" when EditData fails
	}{
		{"lf", `data: {"t":"old"}` + "\n\n", `{"t":"old"}`, `data: {"t":"new"}` + "\n\n"},
		{"crlf and other fields",
			"id: 7\r\n: comment old\r\nevent: old\r\n" + `data: {"t":"old"}` + "\r\nretry: 5\r\n\r\n", `{"t":"old"}`,
			"id: 7\r\n: comment old\r\nevent: old\r\n" + `data: {"t":"new"}` + "\r\nretry: 5\r\n\r\n"},
		{"cr", "event: e\r" + `data: {"t":"old"}` + "\r\r", `{"t":"old"}`, "event: e\r" + `data: {"t":"new"}` + "\r\r"},
		{"no space after colon", `data:{"t":"old"}` + "\n\n", `{"t":"old"}`, `data:{"t":"new"}` + "\n\n"},
		{"two spaces after colon", `data:  "old"` + "\n\n", ` "old"`, `data:  "new"` + "\n\n"},
		{"data without colon", "data\n\n", "", "data\n\n"},
		{"empty value", "data: \n\n", "", "data: \n\n"},
		{"bom", "\xEF\xBB\xBF" + `data: "old"` + "\n\n", `"old"`, "\xEF\xBB\xBF" + `data: "new"` + "\n\n"},
		{"no terminator", `data: "old"`, `"old"`, `data: "new"`},
		{"after the blank line", "data: \"old\"\n\ndata: \"old\"\n\n", `"old"`, "data: \"new\"\n\ndata: \"old\"\n\n"},
		{"field named like data", "database: old\ndata: \"old\"\n\n", `"old"`, "database: old\ndata: \"new\"\n\n"},
		{"data lines joined and compacted",
			"event: x\ndata: {\"a\": [1,\ndata:  2],\n: between\ndata: \"t\": \"old\"}\nid: 3\n\n",
			"{\"a\": [1,\n 2],\n\"t\": \"old\"}",
			"event: x\ndata: {\"a\":[1,2],\"t\":\"new\"}\n: between\nid: 3\n\n"},
		{"data lines with crlf", "data: {\r\ndata: \"t\":\"old\"}\r\n\r\n", "{\n\"t\":\"old\"}", "data: {\"t\":\"new\"}\r\n\r\n"},
		{"last data line unterminated", "data: [\ndata: \"old\"]", "[\n\"old\"]", `data: ["new"]`},
		// Each dropped line takes the line end before it, so that the one
		// after it still ends the event.
		{"data lines with mixed line ends", "data: [\rdata: \"old\"]\n\nid: 1\n", "[\n\"old\"]", "data: [\"new\"]\n\nid: 1\n"},
		{"data lines with cr then crlf", "data: [\rdata: \"old\"]\r\n\r\n", "[\n\"old\"]", "data: [\"new\"]\r\n\r\n"},
		{"data without colon, then data lines", "data\ndata: \"old\"\n\n", "\n\"old\"", "data: \"new\"\n\n"},
		{"data lines not json", "data: old\ndata: old\n\n", "old\nold", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []byte
			out, err := EditData([]byte(tt.ev), replaceOld(&got))
			if string(got) != tt.data {
				t.Errorf("edit given %q, want %q", got, tt.data)
			}
			if tt.want == "" {
				if err == nil {
					t.Fatalf("EditData = %q, want an error", out)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.want {
				t.Fatalf("EditData =\n%q\nwant\n%q", out, tt.want)
			}
		})
	}
}

func TestEditDataErrors(t *testing.T) {
	identity := func(data []byte) ([]byte, error) { return data, nil }
	for _, ev := range []string{"", "\n", ": keep-alive\n\n", "event: ping\n\n", "\ndata: x\n\n", "database: x\n\n"} {
		if out, err := EditData([]byte(ev), identity); !errors.Is(err, ErrNoData) {
			t.Errorf("EditData(%q) = %q, %v; want ErrNoData", ev, out, err)
		}
	}

	errEdit := errors.New("no text here")
	failing := func([]byte) ([]byte, error) { return nil, errEdit }
	for _, ev := range []string{"data: x\n\n", "data: [1,\ndata: 2]\n\n"} {
		if _, err := EditData([]byte(ev), failing); err != errEdit {
			t.Errorf("EditData(%q) with a failing edit: %v, want the edit's error", ev, err)
		}
	}

	// A value given to a "data" line without a colon gets one.
	for _, tt := range []struct{ ev, data, want string }{
		{"data\n\n", "x", "data: x\n\n"},
		{"data\n\n", " x", "data:  x\n\n"},
		{"data\r\ndata: 1\r\n\r\n", `"x"`, `data: "x"` + "\r\n\r\n"},
	} {
		out, err := EditData([]byte(tt.ev), func([]byte) ([]byte, error) { return []byte(tt.data), nil })
		if err != nil || string(out) != tt.want {
			t.Errorf("EditData(%q) to %q = %q, %v; want %q", tt.ev, tt.data, out, err, tt.want)
		}
	}

	for _, data := range []string{"a\nb", "a\rb", "a\r\nb"} {
		_, err := EditData([]byte("data: x\n\n"), func([]byte) ([]byte, error) { return []byte(data), nil })
		if err == nil {
			t.Errorf("edited data %q on one data line was accepted", data)
		}
	}

	// With several data lines the result is compacted, so a line break
	// between JSON tokens is fine and invalid JSON is not.
	out, err := EditData([]byte("data: [1,\ndata: 2]\n\n"), func([]byte) ([]byte, error) { return []byte("[3,\n4]"), nil })
	if err != nil || string(out) != "data: [3,4]\n\n" {
		t.Errorf("EditData = %q, %v", out, err)
	}
	if _, err := EditData([]byte("data: [1,\ndata: 2]\n\n"), func([]byte) ([]byte, error) { return []byte("[3,"), nil }); err == nil {
		t.Error("invalid edited JSON over several data lines was accepted")
	}
}

// An event with one data line, as every LLM API sends, is copied once with
// nothing else allocated.
func TestEditDataAllocs(t *testing.T) {
	ev := []byte("event: content_block_delta\r\ndata: {\"delta\":\"hi\"}\r\n\r\n")
	identity := func(data []byte) ([]byte, error) { return data, nil }
	allocs := testing.AllocsPerRun(100, func() {
		if out, err := EditData(ev, identity); err != nil || !bytes.Equal(out, ev) {
			t.Fatalf("EditData = %q, %v", out, err)
		}
	})
	if allocs > 1 {
		t.Errorf("EditData allocates %v times, want 1", allocs)
	}
}

func FuzzEditData(f *testing.F) {
	f.Add([]byte(stream))
	f.Add([]byte("\xEF\xBB\xBFdata\ndata:\r\ndata: x\r\r"))
	f.Add([]byte("event: x\ndata: {\"a\":\ndata: 1}\nid: 3\n\n"))
	f.Add([]byte("id: 1\r: c\rdata:[\"a\", \rdata:  \"b\"]\r\r\rdata: 1\n\n"))
	f.Add([]byte("data: {\"t\":\"x\"}"))
	f.Add([]byte("data\ndata:0  "))
	f.Add([]byte("data: [\rdata: 1]\n\nid: 1\n"))
	f.Fuzz(func(t *testing.T, ev []byte) {
		var given []byte
		out, err := EditData(ev, func(data []byte) ([]byte, error) {
			given = bytes.Clone(data)
			return data, nil
		})
		data := Data(ev)
		if data == nil {
			if !errors.Is(err, ErrNoData) {
				t.Fatalf("EditData of %q without data = %q, %v", ev, out, err)
			}
			return
		}
		if !bytes.Equal(given, data) {
			t.Fatalf("edit given %q, Data = %q", given, data)
		}
		if len(dataValues(nil, ev)) == 1 {
			// The identity edit of one data line changes nothing.
			if err != nil || !bytes.Equal(out, ev) {
				t.Fatalf("identity EditData of %q = %q, %v", ev, out, err)
			}
			return
		}
		// Several data lines: compacted when they hold JSON, refused when not.
		var c bytes.Buffer
		if json.Compact(&c, data) != nil {
			if err == nil {
				t.Fatalf("EditData of %q with data that is not JSON = %q", ev, out)
			}
			return
		}
		if err != nil {
			t.Fatalf("EditData of %q: %v", ev, err)
		}
		if got := Data(out); !bytes.Equal(got, c.Bytes()) {
			t.Fatalf("EditData of %q: data %q, want %q", ev, got, c.Bytes())
		}
		if n := len(dataValues(nil, out)); n != 1 {
			t.Fatalf("EditData of %q = %q with %d data lines", ev, out, n)
		}
		// The event still ends where it did, and what follows is kept.
		n, _, _ := Split(ev, true)
		if m, _, _ := Split(out, true); !bytes.Equal(out[m:], ev[n:]) {
			t.Fatalf("EditData of %q = %q: the end of the event moved", ev, out)
		}
		in, edited := Parse(ev), Parse(out)
		in.Data, edited.Data = "", ""
		if in != edited {
			t.Fatalf("fields of %q changed: %+v -> %+v", ev, in, edited)
		}
		// Identity edit of what came out changes nothing more.
		again, err := EditData(out, func(d []byte) ([]byte, error) { return d, nil })
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("second EditData of %q = %q, %v", out, again, err)
		}
	})
}

func BenchmarkEditData(b *testing.B) {
	ev := []byte(`data: {"id":"chatcmpl-abc","object":"chat.completion.chunk","created":1761564674,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":" hello"},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n")
	edit := func(data []byte) ([]byte, error) {
		return bytes.Replace(data, []byte(" hello"), []byte(" HELLO"), 1), nil
	}
	b.SetBytes(int64(len(ev)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EditData(ev, edit); err != nil {
			b.Fatal(err)
		}
	}
}

// A stream filter rewrites the JSON of an event's data; the event's other
// lines and its line ends stay as they were.
func ExampleEditData() {
	ev := []byte("event: content_block_delta\r\n" +
		`data: {"type":"content_block_delta","delta":{"type":"text_delta","text":"Hello"}}` + "\r\n\r\n")
	out, err := EditData(ev, func(data []byte) ([]byte, error) {
		return bytes.Replace(data, []byte(`"Hello"`), AppendJSONString(nil, `Hi "there"`), 1), nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%q\n", out)
	// Output:
	// "event: content_block_delta\r\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi \\\"there\\\"\"}}\r\n\r\n"
}

func ExampleAppendJSONString() {
	fmt.Println(string(AppendJSONString([]byte(`{"text":`), "<b>Zoë</b>\n")) + "}")
	// Output:
	// {"text":"<b>Zoë</b>\n"}
}
