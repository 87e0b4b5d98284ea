package gemini

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// feed runs split over input delivered n bytes at a time, the way the proxy's frame reader
// does: the split sees what arrived so far and is called again with more until it returns a
// token, and with atEOF once the input ended. It returns the tokens and fails when they do
// not concatenate to the input.
func feed(t testing.TB, split bufio.SplitFunc, input []byte, n int) [][]byte {
	t.Helper()
	var tokens [][]byte
	start, end := 0, 0
	for {
		atEOF := end == len(input)
		for start < end || atEOF {
			adv, tok, err := split(input[start:end], atEOF)
			if err != nil {
				t.Fatalf("split error: %v", err)
			}
			if adv < 0 || start+adv > end || len(tok) > adv {
				t.Fatalf("bad advance %d (token %d bytes) with %d buffered", adv, len(tok), end-start)
			}
			if tok == nil {
				if adv != 0 {
					t.Fatalf("advanced %d without a token", adv)
				}
				break
			}
			if len(tok) == 0 || !bytes.Equal(tok, input[start:start+adv]) {
				t.Fatalf("token %q is not the %d bytes consumed", tok, adv)
			}
			tokens = append(tokens, bytes.Clone(tok))
			start += adv
		}
		if atEOF {
			break
		}
		end = min(end+n, len(input))
	}
	if start != len(input) {
		t.Fatalf("%d bytes left at EOF", len(input)-start)
	}
	if got := bytes.Join(tokens, nil); !bytes.Equal(got, input) {
		t.Fatalf("tokens do not concatenate to the input")
	}
	return tokens
}

func TestSplitArray(t *testing.T) {
	tests := []struct {
		name, input string
		want        []string
	}{
		{"real framing", "[{\n  \"a\": 1\n}\n,\r\n{\n  \"b\": [1, {\"c\": \"]}\"}]\n}\n]",
			[]string{"[{\n  \"a\": 1\n}", "\n,\r\n{\n  \"b\": [1, {\"c\": \"]}\"}]\n}", "\n]"}},
		{"compact", `[{"a":1},{"b":2}]`, []string{`[{"a":1}`, `,{"b":2}`, `]`}},
		{"escapes", `[{"s":"a\"}\\"},{"t":"\\\\"}]`, []string{`[{"s":"a\"}\\"}`, `,{"t":"\\\\"}`, `]`}},
		{"trailing space", "[{}]\r\n", []string{"[{}", "]", "\r\n"}},
		{"empty array", "[ ]", []string{"[ ", "]"}},
		{"error array", "[{\n  \"error\": {\n    \"code\": 400\n  }\n}\n]", []string{"[{\n  \"error\": {\n    \"code\": 400\n  }\n}", "\n]"}},
		{"scalars", `[1, "x", true]`, []string{`[1`, `, "x"`, `, true`, `]`}},
		{"not an array", `{"error":{}}`, []string{`{"error":{}}`}},
		{"cut short", "[{\"a\": \"unfinish", []string{"[{\"a\": \"unfinish"}},
		{"garbage", "}}x,,]", []string{"}", "}", "x", ",", ",", "]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for n := 1; n <= len(tc.input); n++ {
				toks := feed(t, splitArray, []byte(tc.input), n)
				var got []string
				for _, tok := range toks {
					got = append(got, string(tok))
				}
				if strings.Join(got, "|") != strings.Join(tc.want, "|") {
					t.Fatalf("read size %d: tokens %q, want %q", n, got, tc.want)
				}
			}
		})
	}
}

// An element is returned as soon as its last byte arrived, before the separator that
// follows it: the proxy flushes it to the client at once.
func TestSplitArrayReturnsElementWithoutWaiting(t *testing.T) {
	adv, tok, _ := splitArray([]byte("\n,\r\n{\"a\": 1}"), false)
	if adv != len(tok) || string(tok) != "\n,\r\n{\"a\": 1}" {
		t.Fatalf("got %d %q", adv, tok)
	}
	if adv, tok, _ := splitArray([]byte("[{\"a\": 1"), false); adv != 0 || tok != nil {
		t.Fatalf("unfinished element returned: %d %q", adv, tok)
	}
}

func TestSplitRealStreams(t *testing.T) {
	tests := []struct {
		file   string
		split  bufio.SplitFunc
		events int
	}{
		{"testdata/stream.sse", sseStream{}.Split, 3},
		{"testdata/stream_tools.sse", sseStream{}.Split, 2},
		{"testdata/stream.json", arrayStream{}.Split, 4}, // 3 elements and the closing bracket
		{"testdata/error_array.json", arrayStream{}.Split, 2},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			input, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			for n := 1; n <= len(input); n++ {
				toks := feed(t, tc.split, input, n)
				if len(toks) != tc.events {
					t.Fatalf("read size %d: %d events, want %d", n, len(toks), tc.events)
				}
			}
			if tc.split != nil && strings.HasSuffix(tc.file, ".json") {
				toks := feed(t, tc.split, input, len(input))
				for _, tok := range toks[:len(toks)-1] {
					elem := bytes.TrimLeft(tok, "[,\r\n ")
					if !json.Valid(elem) {
						t.Errorf("element is not JSON: %q", elem)
					}
				}
			}
		})
	}
}

func FuzzSplitArray(f *testing.F) {
	for _, file := range []string{"testdata/stream.json", "testdata/error_array.json", "testdata/stream.sse"} {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(7))
	}
	f.Add([]byte(`[{"a":"\\\"]"},[[[]]],"x\`), uint8(1))
	f.Add([]byte("]]]{{{\"\\"), uint8(2))
	f.Fuzz(func(t *testing.T, input []byte, n uint8) {
		if len(input) > 1<<14 {
			input = input[:1<<14] // feed's one-byte reads are quadratic
		}
		size := int(n%64) + 1
		whole := feed(t, splitArray, input, len(input)+1)
		parts := feed(t, splitArray, input, size)
		// The framing does not depend on how the bytes arrive.
		if len(whole) != len(parts) {
			t.Fatalf("%d tokens whole, %d at read size %d", len(whole), len(parts), size)
		}
		for i := range whole {
			if !bytes.Equal(whole[i], parts[i]) {
				t.Fatalf("token %d differs: %q vs %q", i, whole[i], parts[i])
			}
		}
		// The SSE framing of the same bytes must not fail either.
		feed(t, sseStream{}.Split, input, size)
	})
}
