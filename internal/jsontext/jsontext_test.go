package jsontext

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppendQuoted(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `""`},
		{"Hello world", `"Hello world"`},
		{"<b>&amp;</b>", `"<b>&amp;</b>"`},
		{`say "hi" \ bye`, `"say \"hi\" \\ bye"`},
		{"a\nb\tc\rd\x00e\x1f\x7f", `"a\nb\tc\rd\u0000e\u001f` + "\x7f" + `"`},
		{"\b\f", `"\b\f"`},
		{"Zoë 世界 🙂", `"Zoë 世界 🙂"`},
		{"\u2028\u2029", `"\u2028\u2029"`},
		{"a\xffb\xe4\xb8c", `"a\ufffdb\ufffd\ufffdc"`},
	}
	for _, tt := range tests {
		if got := string(AppendQuoted(nil, tt.in)); got != tt.want {
			t.Errorf("AppendQuoted(%q) = %s, want %s", tt.in, got, tt.want)
		}
		if got := string(AppendQuoted([]byte("x:"), tt.in)); got != "x:"+tt.want {
			t.Errorf("AppendQuoted(\"x:\", %q) = %s", tt.in, got)
		}
	}
}

func TestAppendQuotedAllocs(t *testing.T) {
	dst := make([]byte, 0, 64)
	allocs := testing.AllocsPerRun(100, func() {
		if got := AppendQuoted(dst, " world"); string(got) != `" world"` {
			t.Fatalf("AppendQuoted = %s", got)
		}
	})
	if allocs != 0 {
		t.Errorf("AppendQuoted of ASCII into room allocates %v times", allocs)
	}
}

// unquoteTests are insides of JSON strings with what AppendUnquoted and
// AppendUnquotedKeepInvalid make of them. The valid ones come first; from
// the first with valid set to false on, encoding/json rejects them.
var unquoteTests = []struct {
	in, want, keepInvalid string
	valid                 bool
}{
	{"", "", "", true},
	{"plain text", "plain text", "plain text", true},
	{`a\"b\\c\/d`, `a"b\c/d`, `a"b\c/d`, true},
	{`\b\f\n\r\t`, "\b\f\n\r\t", "\b\f\n\r\t", true},
	{`\u0041\u00e9\u4E16`, "Aé世", "Aé世", true},
	{`\u0000`, "\x00", "\x00", true},
	{"Zoë 🙂", "Zoë 🙂", "Zoë 🙂", true},
	{`\ud83d\ude42`, "🙂", "🙂", true},                             // a surrogate pair
	{`\ud83d`, "\uFFFD", "\uFFFD", true},                         // a lone high surrogate
	{`\ude42x`, "\uFFFDx", "\uFFFDx", true},                      // a lone low surrogate
	{`\ud83d\u0041`, "\uFFFDA", "\uFFFDA", true},                 // a high surrogate, then no low one
	{`\ud83d\ud83d\ude42`, "\uFFFD🙂", "\uFFFD🙂", true},           // two highs, then a low
	{"a\xffb", "a\uFFFDb", "a\xffb", true},                       // invalid UTF-8
	{"\xe4\xb8", "\uFFFD\uFFFD", "\xe4\xb8", true},               // a rune cut short
	{"\xed\xa0\x80", "\uFFFD\uFFFD\uFFFD", "\xed\xa0\x80", true}, // an encoded surrogate
	{"\uFFFD", "\uFFFD", "\uFFFD", true},                         // the replacement character itself
	{`a\`, `a\`, `a\`, false},                                    // a trailing backslash
	{`\x41`, "x41", `\x41`, false},                               // not an escape
	{`\uZZZZ!`, "\uFFFD!", `\uZZZZ!`, false},                     // \u without hex digits
	{`\u12\n`, "\uFFFD", "\\u12\n", false},                       // \u cut short by an escape
	{`\u12`, "\uFFFD", `\u12`, false},                            // \u cut short by the end
	{"\\\xff", "\xff", "\\\xff", false},                          // a backslash before invalid UTF-8
}

func TestAppendUnquoted(t *testing.T) {
	for _, tt := range unquoteTests {
		if got := string(AppendUnquoted([]byte("x:"), []byte(tt.in))); got != "x:"+tt.want {
			t.Errorf("AppendUnquoted(%q) = %q, want %q", tt.in, got[min(2, len(got)):], tt.want)
		}
		if got := string(AppendUnquotedKeepInvalid([]byte("x:"), []byte(tt.in))); got != "x:"+tt.keepInvalid {
			t.Errorf("AppendUnquotedKeepInvalid(%q) = %q, want %q", tt.in, got[min(2, len(got)):], tt.keepInvalid)
		}
		var s string
		err := json.Unmarshal([]byte(`"`+tt.in+`"`), &s)
		if (err == nil) != tt.valid {
			t.Errorf("encoding/json on %q: error %v, test table says valid = %v", tt.in, err, tt.valid)
		}
		if err == nil && s != tt.want {
			t.Errorf("encoding/json decodes %q as %q, test table says %q", tt.in, s, tt.want)
		}
	}
}

func TestAppendUnquotedAllocs(t *testing.T) {
	in := []byte(`Hello, \"world\"\n\u00e9 \ud83d\ude42`)
	dst := make([]byte, 0, 64)
	allocs := testing.AllocsPerRun(100, func() {
		if got := AppendUnquoted(dst, in); string(got) != "Hello, \"world\"\né 🙂" {
			t.Fatalf("AppendUnquoted = %q", got)
		}
	})
	if allocs != 0 {
		t.Errorf("AppendUnquoted into room allocates %v times", allocs)
	}
}

func TestEscapedRune(t *testing.T) {
	tests := []struct {
		in   string
		want rune
	}{
		{`\u0041`, 'A'},
		{`\uFFFF rest`, 0xFFFF},
		{`\ud83d`, 0xD83D},
		{`\u004`, -1},
		{`\u004g`, -1},
		{`\x0041`, -1},
		{`u0041`, -1},
		{``, -1},
	}
	for _, tt := range tests {
		if got := EscapedRune([]byte(tt.in)); got != tt.want {
			t.Errorf("EscapedRune(%q) = %#x, want %#x", tt.in, got, tt.want)
		}
	}
}

// FuzzAppendUnquoted checks AppendUnquoted against encoding/json on every
// input that encoding/json accepts as the inside of a string, and
// AppendUnquotedKeepInvalid too where that input is valid UTF-8.
func FuzzAppendUnquoted(f *testing.F) {
	for _, tt := range unquoteTests {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got := AppendUnquoted([]byte("x:"), in)
		keep := AppendUnquotedKeepInvalid([]byte("x:"), in)
		if !bytes.HasPrefix(got, []byte("x:")) || !bytes.HasPrefix(keep, []byte("x:")) {
			t.Fatalf("dst lost: %q, %q", got, keep)
		}
		got, keep = got[2:], keep[2:]
		if !bytes.Contains(in, []byte(`\`)) && !bytes.Equal(keep, in) {
			t.Fatalf("AppendUnquotedKeepInvalid(%q) = %q, want it unchanged", in, keep)
		}
		var want string
		if json.Unmarshal([]byte(`"`+string(in)+`"`), &want) != nil {
			return
		}
		if string(got) != want {
			t.Fatalf("AppendUnquoted(%q) = %q, encoding/json gives %q", in, got, want)
		}
		if utf8.Valid(in) && string(keep) != want {
			t.Fatalf("AppendUnquotedKeepInvalid(%q) = %q, encoding/json gives %q", in, keep, want)
		}
	})
}

// FuzzAppendQuoted checks AppendQuoted against encoding/json, and that
// AppendUnquoted reads back what it wrote.
func FuzzAppendQuoted(f *testing.F) {
	for _, s := range []string{"", "plain", `q"b\`, "<&>", "\x00\x1f\x7f\b\f", "\u2028", "Zoë 🙂", "\xff\xe4\xb8", "\xed\xa0\x80"} {
		f.Add([]byte("pre"), s)
	}
	f.Fuzz(func(t *testing.T, dst []byte, s string) {
		pre := bytes.Clone(dst)
		out := AppendQuoted(dst, s)
		if !bytes.HasPrefix(out, pre) {
			t.Fatalf("AppendQuoted(%q, %q) = %q lost dst", pre, s, out)
		}
		enc := out[len(pre):]
		var b strings.Builder
		je := json.NewEncoder(&b)
		je.SetEscapeHTML(false)
		if err := je.Encode(s); err != nil {
			t.Fatal(err)
		}
		if want := strings.TrimSuffix(b.String(), "\n"); string(enc) != want {
			t.Fatalf("AppendQuoted(%q) = %s, encoding/json gives %s", s, enc, want)
		}
		if len(enc) < 2 || enc[0] != '"' || enc[len(enc)-1] != '"' {
			t.Fatalf("AppendQuoted(%q) = %s is not quoted", s, enc)
		}
		// Valid UTF-8 comes back as it was; each invalid byte as U+FFFD,
		// as converting to runes reads it.
		back := AppendUnquoted(nil, enc[1:len(enc)-1])
		if want := string([]rune(s)); string(back) != want {
			t.Fatalf("AppendQuoted(%q) reads back as %q, want %q", s, back, want)
		}
	})
}

func BenchmarkAppendUnquoted(b *testing.B) {
	in := []byte(`Sure! Here is a \"quick\" answer:\n\n1. The fox — déjà vu.\n2. Done \ud83d\ude42`)
	dst := make([]byte, 0, 128)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendUnquoted(dst[:0], in)
	}
}

func ExampleAppendQuoted() {
	fmt.Println(string(AppendQuoted([]byte(`{"text":`), "<b>Zoë</b>\n")) + "}")
	// Output:
	// {"text":"<b>Zoë</b>\n"}
}

func ExampleAppendUnquoted() {
	fmt.Printf("%q\n", AppendUnquoted(nil, []byte(`say \"hi\" \ud83d\ude42\n\ud800`)))
	// Output:
	// "say \"hi\" 🙂\n�"
}

func ExampleAppendUnquotedKeepInvalid() {
	fmt.Printf("%q\n", AppendUnquotedKeepInvalid(nil, []byte("caf\xe9 \\u00e9 \\x")))
	// Output:
	// "caf\xe9 é \\x"
}
