package fakegemini

import (
	"encoding/json"
	"math/rand/v2"
)

// indent encodes v as the API writes bodies and the elements of a streamed array: indented
// by two spaces, with "<", ">" and "&" escaped as \u003c, \u003e and \u0026.
func indent(v any) []byte {
	b, _ := json.MarshalIndent(v, "", "  ")
	return b
}

// line encodes v as the API writes the data of an SSE event: on one line, with a space
// after each colon and none after commas ({"candidates": [{"content": {...},"index": 0}]}).
func line(v any) []byte {
	b, _ := json.Marshal(v)
	out := make([]byte, 0, len(b)+len(b)/8)
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		out = append(out, c)
		switch {
		case inString && c == '\\':
			i++
			out = append(out, b[i])
		case c == '"':
			inString = !inString
		case !inString && c == ':':
			out = append(out, ' ')
		}
	}
	return out
}

const idAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_"

// newID returns a response id in the shape of the API's: n URL-safe characters.
func newID(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = idAlphabet[rand.IntN(len(idAlphabet))]
	}
	return string(b)
}

// words counts the words of s, the fake's unit of tokens.
func words(s string) int {
	n := 0
	in := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
			in = false
		default:
			if !in {
				n++
				in = true
			}
		}
	}
	return n
}
