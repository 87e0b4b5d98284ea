package filters

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/internal/jsontext"
	"github.com/aiproxy-go/aiproxy/provider"
)

// This file reads and edits JSON bytes in place: the filters look at string values and a
// few fields of a request body without decoding it into maps, and change it by splicing, so
// that what they leave alone goes upstream byte for byte.

// isJSONBody reports whether the body the exchange sends upstream is a JSON object or
// array. A body the client declared as JSON was validated by the provider's Parse (and by
// SetBody after every change), so only its first byte is looked at; any other body (an
// InvokeModel body sent as application/octet-stream, a multipart upload) is checked whole.
func isJSONBody(x *aiproxy.Exchange) bool {
	b := x.Request.Body
	i := skipSpace(b, 0)
	if i >= len(b) || (b[i] != '{' && b[i] != '[') {
		return false
	}
	return provider.IsJSON(x.Request.Header.Get("Content-Type")) || json.Valid(b)
}

// skipSpace returns the index of the first byte at or after i that is not JSON whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// stringEnd returns the index just past the closing quote of the JSON string that starts
// with the quote at b[i], and whether the string holds escapes; -1 when it is unterminated.
func stringEnd(b []byte, i int) (end int, escaped bool) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '"':
			return j + 1, escaped
		case '\\':
			escaped = true
			j++
		}
	}
	return -1, escaped
}

// valueEnd returns the index just past the JSON value that starts at b[i] (i at its first
// byte), or -1 when it does not end.
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		end, _ := stringEnd(b, i)
		return end
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, _ := stringEnd(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	if c := b[i]; c != '-' && c != 't' && c != 'f' && c != 'n' && (c < '0' || c > '9') {
		return -1
	}
	j := i
	for j < len(b) {
		switch b[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return j
		}
		j++
	}
	return j
}

// member is one member of a JSON object: its raw key (quotes included) and the bounds of
// its value.
type member struct {
	key        []byte
	start, end int
}

// keyIs reports whether the member's key is one of names. Keys with escapes are decoded.
func (m member) keyIs(names ...string) bool {
	raw := m.key[1 : len(m.key)-1]
	var scratch [64]byte
	for _, c := range raw {
		if c == '\\' {
			raw = unescape(scratch[:0], raw)
			break
		}
	}
	for _, n := range names {
		if string(raw) == n {
			return true
		}
	}
	return false
}

// members returns the members of the JSON object that starts at b[obj], in order, or nil
// when b[obj] does not start a well-formed object.
func members(b []byte, obj int) []member {
	if obj >= len(b) || b[obj] != '{' {
		return nil
	}
	var out []member
	i := skipSpace(b, obj+1)
	if i < len(b) && b[i] == '}' {
		return nil
	}
	for i < len(b) {
		if b[i] != '"' {
			return nil
		}
		kend, _ := stringEnd(b, i)
		if kend < 0 {
			return nil
		}
		key := b[i:kend]
		i = skipSpace(b, kend)
		if i >= len(b) || b[i] != ':' {
			return nil
		}
		i = skipSpace(b, i+1)
		vend := valueEnd(b, i)
		if vend < 0 {
			return nil
		}
		out = append(out, member{key: key, start: i, end: vend})
		i = skipSpace(b, vend)
		if i >= len(b) {
			return nil
		}
		if b[i] == '}' {
			return out
		}
		if b[i] != ',' {
			return nil
		}
		i = skipSpace(b, i+1)
	}
	return nil
}

// eachString calls fn with every string value (not the object keys) of the JSON document b,
// decoded, in order, until fn returns false. The slice fn gets is only valid during the call.
// Bytes outside strings are not checked: b is expected to be valid JSON.
func eachString(b []byte, fn func(s []byte) bool) {
	var scratch []byte
	for i := 0; i < len(b); i++ {
		if b[i] != '"' {
			continue
		}
		end, escaped := stringEnd(b, i)
		if end < 0 {
			return
		}
		if !isKey(b, end) {
			s := b[i+1 : end-1]
			if escaped {
				scratch = unescape(scratch[:0], s)
				s = scratch
			}
			if !fn(s) {
				return
			}
		}
		i = end - 1
	}
}

// rewriteStrings returns b with every string value (keys are left alone) replaced by what fn
// returns for it, re-escaped, and whether anything changed. fn gets the decoded string and
// returns the replacement and true, or false to keep it. When nothing changes b itself is
// returned. A valid JSON document stays valid.
func rewriteStrings(b []byte, fn func(s []byte) ([]byte, bool)) ([]byte, bool) {
	var (
		out     []byte
		last    int // b[last:i] is not yet copied to out
		scratch []byte
	)
	for i := 0; i < len(b); i++ {
		if b[i] != '"' {
			continue
		}
		end, escaped := stringEnd(b, i)
		if end < 0 {
			break
		}
		if !isKey(b, end) {
			s := b[i+1 : end-1]
			if escaped {
				scratch = unescape(scratch[:0], s)
				s = scratch
			}
			if repl, ok := fn(s); ok {
				if out == nil {
					out = make([]byte, 0, len(b)+64)
				}
				out = append(out, b[last:i]...)
				out = appendString(out, repl)
				last = end
			}
		}
		i = end - 1
	}
	if out == nil {
		return b, false
	}
	return append(out, b[last:]...), true
}

// isKey reports whether the string that ends before b[end] is an object key: the next
// byte that is not whitespace is a colon.
func isKey(b []byte, end int) bool {
	j := skipSpace(b, end)
	return j < len(b) && b[j] == ':'
}

// unescape appends the decoded content of a JSON string (without its quotes) to dst. It
// is lenient: a malformed escape and invalid UTF-8 are kept as they are, so that a filter
// sees the bytes the client wrote; a lone surrogate becomes U+FFFD.
func unescape(dst, s []byte) []byte {
	return jsontext.AppendUnquotedKeepInvalid(dst, s)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string: quotes, backslashes and control characters
// escaped, invalid UTF-8 replaced by U+FFFD, everything else as it is (no HTML escaping).
func appendString(dst, s []byte) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
