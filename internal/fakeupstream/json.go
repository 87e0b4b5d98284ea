package fakeupstream

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"unicode/utf8"
)

const (
	hexDigits = "0123456789abcdef"
	alnum     = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// newID returns prefix followed by n random characters from alphabet, in
// the shape of the real API's ids (req_…, chatcmpl-…, call_…).
func newID(prefix string, n int, alphabet string) string {
	b := make([]byte, len(prefix)+n)
	copy(b, prefix)
	var r uint64
	for i := len(prefix); i < len(b); i++ {
		if r < uint64(len(alphabet)) {
			r = rand.Uint64()
		}
		b[i] = alphabet[r%uint64(len(alphabet))]
		r /= uint64(len(alphabet))
	}
	return string(b)
}

// appendString appends s as a JSON string. Like the real API it leaves
// non-ASCII characters and <, >, & as they are; invalid UTF-8 becomes
// U+FFFD as encoding/json does.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			// Valid JSON, but not valid JavaScript; encoding/json escapes
			// them too.
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendStringOrNull appends s as a JSON string, or null when it is empty.
func appendStringOrNull(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendString(b, s)
}

// marshalIndent encodes v as the real API sends objects that are not
// streamed: indented by two spaces, HTML characters left alone, with a
// final newline.
func marshalIndent(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		// Every value given is made of plain structs, slices and strings.
		panic("fakeupstream: " + err.Error())
	}
	return buf.Bytes()
}

// marshal encodes v compactly, for stream events, without a newline.
func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("fakeupstream: " + err.Error())
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
