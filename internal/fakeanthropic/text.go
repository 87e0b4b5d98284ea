package fakeanthropic

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
)

// idAlphabet is the base58 alphabet of the real API's ids.
const idAlphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// newID returns prefix followed by n random characters, in the shape of the
// real API's ids (msg_01…, toolu_01…, req_011C…).
func newID(prefix string, n int) string {
	b := make([]byte, len(prefix)+n)
	copy(b, prefix)
	for i := len(prefix); i < len(b); i++ {
		b[i] = idAlphabet[rand.IntN(len(idAlphabet))]
	}
	return string(b)
}

// newSignature returns an opaque signature of a thinking block, base64 as
// the real one.
func newSignature() string {
	const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	b := []byte("EqQBCkYIBxgCKkA")
	for range 80 {
		b = append(b, b64[rand.IntN(len(b64))])
	}
	return string(append(b, '='))
}

func itoa(n int) string { return strconv.Itoa(n) }

// appendString appends s as a JSON string, leaving non-ASCII characters and
// <, >, & as they are, like the real API.
func appendString(b []byte, s string) []byte {
	return append(b, marshal(s)...)
}

// marshal encodes v compactly without escaping HTML characters.
func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Every value given is made of plain structs, slices, strings and
		// valid raw JSON.
		panic("fakeanthropic: " + err.Error())
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// words counts the words of s, the fake's unit of tokens.
func words(s string) int {
	return len(strings.Fields(s))
}

// content is message content as requests carry it: a string, or an array
// of blocks. It holds the text of the text blocks joined with "\n" and the
// number of other blocks (images, documents, tool_use, tool_result, ...).
type content struct {
	text   string
	others int
}

// UnmarshalJSON reads content in either of its shapes.
func (c *content) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil
	}
	switch b[0] {
	case '"':
		return json.Unmarshal(b, &c.text)
	case '[':
		var blocks []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal(b, &blocks); err != nil {
			return err
		}
		var sb strings.Builder
		for _, bl := range blocks {
			if bl.Type != "text" {
				c.others++
				continue
			}
			if sb.Len() > 0 {
				sb.WriteByte('\n')
			}
			sb.WriteString(bl.Text)
		}
		c.text = sb.String()
	}
	return nil
}
