// Package jsontext encodes and decodes JSON strings on byte slices, without
// going through encoding/json's reflection, for the code that reads and edits
// JSON bodies in place: the built-in filters, the providers' stream editors
// and the access-log summaries.
package jsontext

import (
	"bytes"
	"encoding/json"
	"unicode/utf16"
	"unicode/utf8"
)

// AppendQuoted appends s to dst as a JSON string and returns the extended
// slice. The encoding is that of encoding/json without HTML escaping, as LLM
// APIs write their streams: "<", ">" and "&" are kept, control characters,
// '"' and '\\' are escaped, U+2028 and U+2029 are written as \u2028 and
// \u2029, and each byte of invalid UTF-8 becomes \ufffd, the escaped
// replacement character.
func AppendQuoted(dst []byte, s string) []byte {
	plain := true
	for i := 0; i < len(s) && plain; i++ {
		plain = s[i] >= 0x20 && s[i] < 0x80 && s[i] != '"' && s[i] != '\\'
	}
	if plain {
		// The common case, a delta of plain ASCII, needs no encoder.
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	b := bytes.NewBuffer(dst)
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// AppendUnquoted appends to dst the value of s, the inside of a JSON string
// (without its quotes), decoded as encoding/json decodes it, and returns the
// extended slice: escapes are decoded, \uXXXX included, a surrogate pair
// becomes the rune it stands for, and a lone surrogate and each byte of
// invalid UTF-8 become U+FFFD.
//
// Input that is not the inside of a valid JSON string does not make it fail
// or panic: a backslash before a byte that starts no escape is dropped, a \u
// without four hex digits becomes U+FFFD together with the four bytes after
// the u, and a backslash at the end is kept.
func AppendUnquoted(dst, s []byte) []byte {
	return appendUnquoted(dst, s, false)
}

// AppendUnquotedKeepInvalid is [AppendUnquoted] for code that must see the
// bytes a client wrote: it decodes the escapes of a valid JSON string the
// same way (a lone surrogate still becomes U+FFFD), but copies what is not
// valid as it is written: each byte of invalid UTF-8, a backslash before a
// byte that starts no escape together with that byte, a \u without four hex
// digits (the bytes after it are then read as usual), and a backslash at the
// end.
func AppendUnquotedKeepInvalid(dst, s []byte) []byte {
	return appendUnquoted(dst, s, true)
}

// appendUnquoted is AppendUnquoted, or AppendUnquotedKeepInvalid when
// keepInvalid is set.
func appendUnquoted(dst, s []byte, keepInvalid bool) []byte {
	for i := 0; i < len(s); {
		// Copy a run of ASCII without escapes at once.
		j := i
		for j < len(s) && s[j] < utf8.RuneSelf && s[j] != '\\' {
			j++
		}
		dst = append(dst, s[i:j]...)
		if i = j; i == len(s) {
			break
		}
		if s[i] >= utf8.RuneSelf {
			r, n := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && n == 1 && !keepInvalid {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, s[i:i+n]...)
			}
			i += n
			continue
		}
		// s[i] is a backslash.
		if i+1 == len(s) {
			return append(dst, '\\')
		}
		switch e := s[i+1]; e {
		case '"', '\\', '/':
			dst = append(dst, e)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := EscapedRune(s[i:])
			if r < 0 {
				if keepInvalid {
					dst = append(dst, '\\', 'u')
					i += 2
				} else {
					dst = utf8.AppendRune(dst, utf8.RuneError)
					i += 6
				}
				continue
			}
			i += 6
			if utf16.IsSurrogate(r) {
				// A pair stands for one rune; a lone half, for none.
				if d := utf16.DecodeRune(r, EscapedRune(s[i:])); d != utf8.RuneError {
					r = d
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default:
			if keepInvalid {
				dst = append(dst, '\\')
			}
			dst = append(dst, e)
		}
		i += 2
	}
	return dst
}

// EscapedRune returns the UTF-16 code unit of the \uXXXX escape that s
// starts with, or -1 when s does not start with one.
func EscapedRune(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}
