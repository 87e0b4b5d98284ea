package gemini

import "github.com/aiproxy-go/aiproxy/sse"

// The two framings of streamGenerateContent.
//
// With ?alt=sse the API sends Server-Sent Events, one GenerateContentResponse per event,
// each a single "data: " line ended by "\r\n\r\n":
//
//	data: {"candidates": [{"content": {"parts": [{"text": "Hel"}],"role": "model"},"index": 0}],...}\r\n\r\n
//
// Without it the API streams one JSON array, its elements pretty-printed and written as
// they are generated, separated by "\n,\r\n" and closed by "\n]":
//
//	[{\n  "candidates": [...]\n}\n,\r\n{\n  "candidates": [...]\n}\n]
//
// Both are relayed as they came: the events of a stream concatenate to exactly the bytes
// received, and each is flushed to the client as soon as it is complete.

// sseStream frames an alt=sse stream.
type sseStream struct{}

func (sseStream) Split(data []byte, atEOF bool) (int, []byte, error) { return sse.Split(data, atEOF) }
func (sseStream) Relay(ev []byte) []byte                             { return ev }

// arrayStream frames a streamed JSON array.
type arrayStream struct{}

func (arrayStream) Split(data []byte, atEOF bool) (int, []byte, error) {
	return splitArray(data, atEOF)
}
func (arrayStream) Relay(ev []byte) []byte { return ev }

// splitArray is a bufio.SplitFunc that frames a streamed JSON array, as
// streamGenerateContent sends it without alt=sse, into one token per element: the
// punctuation and white space before the element ("[" for the first, "\n,\r\n" for the
// next ones) and the element itself. The closing "]" and the white space before it are a
// token of their own, and white space after it a last one, so that the concatenation of
// the tokens is exactly the input and an element is returned as soon as its last byte
// arrived, without waiting for the separator that follows it.
//
// splitArray never fails and never allocates. It does not validate JSON: it only tracks
// strings and the nesting of brackets, so that malformed input is still cut into tokens
// (a stray byte becomes a token of one byte) and relayed as it came. At EOF an unfinished
// element is returned whole as the last token.
func splitArray(data []byte, atEOF bool) (advance int, token []byte, err error) {
	if len(data) == 0 {
		return 0, nil, nil
	}
	more := func() (int, []byte, error) {
		if atEOF {
			return len(data), data, nil
		}
		return 0, nil, nil
	}
	i := skipSpace(data, 0)
	if i == len(data) {
		return more()
	}
	switch data[i] {
	case ']':
		return i + 1, data[:i+1], nil
	case '[', ',':
		j := skipSpace(data, i+1)
		if j == len(data) {
			return more()
		}
		if !startsValue(data[j]) {
			// "[]", "[,", ",,": the punctuation goes alone.
			return j, data[:j], nil
		}
		i = j
	}
	end, ok := scanValue(data, i)
	if !ok {
		return more()
	}
	return end, data[:end], nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func skipSpace(data []byte, i int) int {
	for i < len(data) && isSpace(data[i]) {
		i++
	}
	return i
}

// startsValue reports whether c can start a JSON value, or a run of bytes that is not one
// and is cut as a literal.
func startsValue(c byte) bool {
	return c != ']' && c != ',' && !isSpace(c)
}

// scanValue returns the end of the value starting at data[i], and false when data ends
// before it does. Objects and arrays end at the bracket that closes the first one, whatever
// the kinds of the brackets in between; strings at their closing quote; anything else (a
// number, a literal, garbage) before the next delimiter, and a lone delimiter such as "}"
// is a value of one byte.
func scanValue(data []byte, i int) (int, bool) {
	switch data[i] {
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, true
				}
			case '"':
				end, ok := scanString(data, j)
				if !ok {
					return 0, false
				}
				j = end - 1
			}
		}
		return 0, false
	case '"':
		return scanString(data, i)
	}
	j := i
	for j < len(data) && !isDelimiter(data[j]) {
		j++
	}
	if j == len(data) {
		return 0, false
	}
	if j == i {
		return i + 1, true
	}
	return j, true
}

// scanString returns the end of the string whose opening quote is data[i].
func scanString(data []byte, i int) (int, bool) {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return 0, false
}

func isDelimiter(c byte) bool {
	switch c {
	case ',', ':', '[', ']', '{', '}', '"':
		return true
	}
	return isSpace(c)
}
