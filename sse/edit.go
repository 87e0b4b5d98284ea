package sse

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aiproxy-go/aiproxy/internal/jsontext"
)

// ErrNoData is returned by [EditData] for an event without a "data" line.
var ErrNoData = errors.New("event has no data line")

// EditData returns a copy of the event ev with its data replaced by the
// result of edit, which is given the event's data as [Data] returns it.
//
// With one "data" line, as every LLM API sends, only the value of that line
// changes: the other fields ("event", "id", comments), the "data:" or
// "data: " prefix and every line end are kept byte for byte, so an identity
// edit gives back ev. The edited data must then not contain a line break.
// (A "data" line without a colon, whose value is empty, gets ": " before a
// value that is not.)
//
// Data spread over several "data" lines is joined, edited, compacted as
// JSON to one line (it is an error when the edited data is not JSON) and
// written where the first "data" line's value was; the other "data" lines
// are dropped, each with the line end before it, and every other line is
// kept.
//
// Only the lines up to the blank line that ends the event are read; what
// follows it is kept. An event without a "data" line gives [ErrNoData], and
// an error from edit is returned as it is.
func EditData(ev []byte, edit func(data []byte) ([]byte, error)) ([]byte, error) {
	var room [2][2]int // enough for nearly every event, and kept off the heap
	values := dataValues(room[:0], ev)
	switch len(values) {
	case 0:
		return nil, ErrNoData
	case 1:
		v := values[0]
		data, err := edit(ev[v[0]:v[1]])
		if err != nil {
			return nil, err
		}
		if bytes.ContainsAny(data, "\r\n") {
			return nil, errors.New("edited event data spans lines")
		}
		out := make([]byte, 0, len(ev)-(v[1]-v[0])+len(data)+2)
		out = appendValue(out, ev, v[0], data)
		return append(out, ev[v[1]:]...), nil
	}
	data, err := edit(Data(ev))
	if err != nil {
		return nil, err
	}
	var c bytes.Buffer
	if err := json.Compact(&c, data); err != nil {
		return nil, fmt.Errorf("edited event data: %w", err)
	}
	out := make([]byte, 0, len(ev)+c.Len()+2)
	out = appendValue(out, ev, values[0][0], c.Bytes())
	prev := values[0][1]
	for _, v := range values[1:] {
		// Drop the data line with the line end before it rather than the
		// one after it: the line end after it then still separates what it
		// did (with mixed line ends, a "\r" kept before the "\n" of the
		// blank line would make one "\r\n" and lose the end of the event).
		start := lineStart(ev, v[0])
		start -= eolLenBefore(ev, start)
		out = append(out, ev[prev:start]...)
		prev = v[1]
	}
	return append(out, ev[prev:]...), nil
}

// appendValue appends to out the event ev up to i, where the value of its
// first data line starts, and then data as that line's new value.
func appendValue(out, ev []byte, i int, data []byte) []byte {
	out = append(out, ev[:i]...)
	if len(data) > 0 && ev[i-1] == 'a' {
		// The line is "data" alone: the value needs the colon and space.
		out = append(out, ": "...)
	}
	return append(out, data...)
}

// dataValues appends to dst the bounds of the value of each "data" line of
// an event, up to the blank line that ends it, and returns the extended
// slice.
func dataValues(dst [][2]int, ev []byte) [][2]int {
	out := dst
	i := 0
	if bytes.HasPrefix(ev, bom) {
		i = len(bom)
	}
	for i < len(ev) {
		j := i
		for j < len(ev) && ev[j] != '\n' && ev[j] != '\r' {
			j++
		}
		if j == i {
			break // the blank line that ends the event
		}
		line := ev[i:j]
		if bytes.HasPrefix(line, []byte("data")) && (len(line) == 4 || line[4] == ':') {
			start := min(i+5, j)
			if start < j && ev[start] == ' ' {
				start++
			}
			out = append(out, [2]int{start, j})
		}
		i = j + eolLen(ev[j:])
	}
	return out
}

// lineStart returns where the line holding position i starts.
func lineStart(ev []byte, i int) int {
	for i > 0 && ev[i-1] != '\n' && ev[i-1] != '\r' {
		i--
	}
	return i
}

// eolLenBefore returns the length of the line end that ends just before
// position i, which must follow a line end.
func eolLenBefore(ev []byte, i int) int {
	if i >= 2 && ev[i-2] == '\r' && ev[i-1] == '\n' {
		return 2
	}
	return 1
}

// eolLen returns the length of the line end at the start of b: 2 for
// "\r\n", 1 for "\r" or "\n", 0 at the end.
func eolLen(b []byte) int {
	switch {
	case len(b) == 0:
		return 0
	case b[0] == '\r' && len(b) > 1 && b[1] == '\n':
		return 2
	}
	return 1
}

// AppendJSONString appends s to dst as a JSON string and returns the
// extended slice. The encoding is that of encoding/json without HTML
// escaping, as LLM APIs write their streams: "<", ">" and "&" are kept,
// control characters, '"' and '\\' are escaped, U+2028 and U+2029 are
// written as \u2028 and \u2029, and each byte of invalid UTF-8 becomes
// \ufffd, the escaped replacement character. It is meant for the values
// that an edit passed to [EditData] writes into an event's data.
func AppendJSONString(dst []byte, s string) []byte {
	return jsontext.AppendQuoted(dst, s)
}
