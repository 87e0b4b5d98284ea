package filters

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestEachString(t *testing.T) {
	body := `{"model":"m","messages":[{"role":"user","content":"a\"b\\c \u00e9 \ud83d\ude00 \/"}],"n":1,"k\"ey":null,"arr":["x",{"y":"z"}]}`
	var got []string
	eachString([]byte(body), func(s []byte) bool {
		got = append(got, string(s))
		return true
	})
	want := []string{"m", "user", "a\"b\\c é 😀 /", "x", "z"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("strings %q, want %q", got, want)
	}
	n := 0
	eachString([]byte(body), func([]byte) bool { n++; return n < 2 })
	if n != 2 {
		t.Errorf("did not stop: %d calls", n)
	}
}

func TestRewriteStrings(t *testing.T) {
	upper := func(s []byte) ([]byte, bool) {
		if !bytes.Contains(s, []byte("@")) {
			return nil, false
		}
		return bytes.ToUpper(s), true
	}
	tests := []struct{ in, want string }{
		{`{"a@b":"x@y"}`, `{"a@b":"X@Y"}`},
		{`{"c":"x\u0040y\n<tag>"}`, `{"c":"X@Y\n<TAG>"}`},
		{`["a", "no", "q@\"w\""]`, `["a", "no", "Q@\"W\""]`},
		{`{"k":1}`, `{"k":1}`},
	}
	for _, tc := range tests {
		got, changed := rewriteStrings([]byte(tc.in), upper)
		if string(got) != tc.want || changed != (tc.in != tc.want) {
			t.Errorf("rewrite(%s) = %s %v, want %s", tc.in, got, changed, tc.want)
		}
	}
}

func TestAppendStringRoundTrip(t *testing.T) {
	for _, s := range []string{"", "plain", "q\"b\\s", "ctl\x00\x01\x1f\t\r\n", "é😀\u2028<>&", "bad\xff\xfe utf8"} {
		enc := appendString(nil, []byte(s))
		var back string
		if err := json.Unmarshal(enc, &back); err != nil {
			t.Fatalf("%q encodes to invalid %s: %v", s, enc, err)
		}
		var want string
		std, _ := json.Marshal(s)
		_ = json.Unmarshal(std, &want)
		if back != want {
			t.Errorf("%q round-trips to %q", s, back)
		}
	}
}

func TestMembers(t *testing.T) {
	body := []byte(` { "a" : 1, "b":{"c":[1,"}"]}, "d\u0065" : "x" } `)
	ms := members(body, skipSpace(body, 0))
	if len(ms) != 3 {
		t.Fatalf("%d members", len(ms))
	}
	if got := string(body[ms[1].start:ms[1].end]); got != `{"c":[1,"}"]}` {
		t.Errorf("b = %s", got)
	}
	if !ms[2].keyIs("de") || ms[0].keyIs("b") {
		t.Error("keyIs")
	}
	for _, bad := range []string{`{"a":}`, `{"a" 1}`, `{"a":1`, `[1]`, `{"a":1,}`} {
		if ms := members([]byte(bad), 0); ms != nil {
			t.Errorf("members(%s) = %v", bad, ms)
		}
	}
}

// FuzzRewriteStrings checks that masking every string of a valid JSON document leaves a
// valid document with the same structure, whatever the strings hold.
func FuzzRewriteStrings(f *testing.F) {
	for _, s := range []string{
		`{"model":"gpt","messages":[{"role":"user","content":"mail a\u0040b.com or 4111 1111 1111 1111"}]}`,
		`["sk-abcdefghij0123456789xyz", {"k":"+1 555 123 4567"}, 1.5e3, true, null]`,
		`"\ud800 lone \udc00"`, `{"a":"\\\"\/\b\f\n\r\t"}`, `{}`, `[]`, `"x@y.io"`,
		`{"args":"{\"email\":\"a\\u0040b.com\"}"}`,
	} {
		f.Add([]byte(s))
	}
	r, err := newRedactor(&Redact{Patterns: []string{`[aeiou]`, `\\`}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if !json.Valid(in) {
			return
		}
		out, _ := rewriteStrings(in, r.maskString)
		if !json.Valid(out) {
			t.Fatalf("invalid output %q from %q", out, in)
		}
		var a, b any
		_ = json.Unmarshal(in, &a)
		_ = json.Unmarshal(out, &b)
		if shape(a) != shape(b) {
			t.Fatalf("shape changed: %q -> %q", in, out)
		}
		// Masking what is masked changes nothing more.
		if again, changed := rewriteStrings(out, r.maskString); changed {
			t.Fatalf("not idempotent: %q -> %q -> %q", in, out, again)
		}
	})
}

// shape describes a decoded JSON value without its strings.
func shape(v any) string {
	switch v := v.(type) {
	case map[string]any:
		var sb strings.Builder
		sb.WriteString("{")
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		for _, k := range slices.Sorted(slices.Values(keys)) {
			sb.WriteString(k + ":" + shape(v[k]) + ",")
		}
		return sb.String() + "}"
	case []any:
		var sb strings.Builder
		sb.WriteString("[")
		for _, e := range v {
			sb.WriteString(shape(e) + ",")
		}
		return sb.String() + "]"
	case string:
		return "s"
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// FuzzMaskBody checks that masking a logged stream keeps its lines, and every line that
// was a JSON document (after any "data:" prefix) stays one.
func FuzzMaskBody(f *testing.F) {
	f.Add([]byte("data: {\"delta\":{\"text\":\"mail bob@exa\"}}\n\ndata: {\"delta\":{\"text\":\"mple.com\"}}\n\nevent: x\ndata: {\"id\":\"+1 555 123 4567\"}\n\ndata: [DONE]\n\n"))
	f.Add([]byte("{\"content\":\"4111 1111\"}\n{\"content\":\" 1111 1111 ok\"}\n"))
	f.Add([]byte("plain bob@example.com\r\nline two"))
	r, err := newRedactor(&Redact{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if t := bytes.TrimSpace(in); len(t) > 0 && (t[0] == '{' || t[0] == '[') && json.Valid(t) {
			return // a single document: FuzzRewriteStrings
		}
		out, _ := r.maskBody(in)
		a, b := splitLines(in), splitLines(out)
		if len(a) != len(b) {
			t.Fatalf("%d lines became %d: %q -> %q", len(a), len(b), in, out)
		}
		for k := range a {
			if a[k].json && !b[k].json {
				t.Fatalf("line %d is no longer JSON: %q -> %q", k, in, out)
			}
		}
	})
}
