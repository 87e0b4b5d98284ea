package sse

import (
	"bytes"
	"strconv"
)

// Event holds the fields of one event, as read by [Parse].
type Event struct {
	// Event is the value of the last "event" field, empty when there was
	// none (a browser then dispatches the event as "message").
	Event string
	// Data is the value of every "data" field, joined with "\n".
	Data string
	// ID is the value of the last "id" field whose value has no NUL.
	ID string
	// Retry is the value of the last "retry" field made only of ASCII digits,
	// in milliseconds; HasRetry says whether there was one.
	Retry int
	// HasRetry reports whether Retry was set by a "retry" field.
	HasRetry bool
}

// bom is the UTF-8 byte order mark, which a stream may start with and which
// the standard says to skip.
var bom = []byte("\xEF\xBB\xBF")

// doneData is the data of the event that ends an OpenAI stream.
var doneData = []byte("[DONE]")

// Parse reads the fields of one event, as returned by [Split], following the
// WHATWG rules: "data" values are joined with "\n", one space after the
// colon is removed, a line without a colon is a field with an empty value,
// comment lines (starting with ":") and unknown fields are ignored, and a
// byte order mark at the start is skipped. Parsing stops at the first blank
// line. Parse never fails: bytes that are not an event give an empty Event.
func Parse(event []byte) Event {
	var (
		ev    Event
		first []byte // the value of the only "data" line so far
		buf   []byte // the joined values once there are two or more
		nData int
	)
	var lr lineReader
	lr.reset(bytes.TrimPrefix(event, bom))
	for ended := true; ended; {
		var line []byte
		line, ended = lr.next()
		if len(line) == 0 {
			break
		}
		name, value := field(line)
		switch string(name) {
		case "data":
			switch nData {
			case 0:
				first = value
			case 1:
				buf = make([]byte, 0, len(first)+1+len(value))
				buf = append(buf, first...)
				buf = append(buf, '\n')
				buf = append(buf, value...)
			default:
				buf = append(buf, '\n')
				buf = append(buf, value...)
			}
			nData++
		case "event":
			ev.Event = string(value)
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				ev.ID = string(value)
			}
		case "retry":
			if n, ok := parseRetry(value); ok {
				ev.Retry, ev.HasRetry = n, true
			}
		}
	}
	if nData == 1 {
		ev.Data = string(first)
	} else if nData > 1 {
		ev.Data = string(buf)
	}
	return ev
}

// Data returns the data of an event: the values of its "data" fields joined
// with "\n", or nil when it has none. When the event has a single "data"
// line, as nearly every event of an LLM stream does, the result is a
// sub-slice of event and nothing is allocated.
func Data(event []byte) []byte {
	var (
		first []byte
		buf   []byte
		nData int
	)
	var lr lineReader
	lr.reset(bytes.TrimPrefix(event, bom))
	for ended := true; ended; {
		var line []byte
		line, ended = lr.next()
		if len(line) == 0 {
			break
		}
		if len(line) < 4 || line[0] != 'd' {
			// Not a "data" field; checked cheaply before field splits it.
			continue
		}
		name, value := field(line)
		if string(name) != "data" {
			continue
		}
		switch nData {
		case 0:
			first = value
		case 1:
			buf = make([]byte, 0, len(first)+1+len(value))
			buf = append(buf, first...)
			buf = append(buf, '\n')
			buf = append(buf, value...)
		default:
			buf = append(buf, '\n')
			buf = append(buf, value...)
		}
		nData++
	}
	if nData > 1 {
		return buf
	}
	if nData == 1 && first == nil {
		// A "data" line with no value: data is present but empty.
		return []byte{}
	}
	return first
}

// IsDone reports whether event is the "data: [DONE]" event with which OpenAI
// and OpenAI-compatible servers end a stream.
func IsDone(event []byte) bool {
	return bytes.Equal(Data(event), doneData)
}

// field splits a non-empty line into a field name and value: the value
// starts after the first colon, without one leading space; a line without a
// colon is a name with an empty value; a comment line has an empty name.
func field(line []byte) (name, value []byte) {
	i := bytes.IndexByte(line, ':')
	if i < 0 {
		return line, nil
	}
	value = line[i+1:]
	if len(value) > 0 && value[0] == ' ' {
		value = value[1:]
	}
	return line[:i], value
}

// parseRetry parses a "retry" value, which the standard accepts only when it
// is made of ASCII digits.
func parseRetry(v []byte) (int, bool) {
	if len(v) == 0 {
		return 0, false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(string(v))
	if err != nil {
		return 0, false
	}
	return n, true
}

// AppendEvent appends an event to dst and returns the extended slice: an
// "event" line when event is not empty, one "data" line per line of data,
// and the blank line that ends the event. Line breaks in data ("\n", "\r\n"
// or "\r") start a new "data" line, so [Parse] gives back data with "\n"
// line ends; empty data is written as one empty "data" line, which is still
// an event. event must not contain a line break.
func AppendEvent(dst []byte, event string, data []byte) []byte {
	if event != "" {
		dst = append(dst, "event: "...)
		dst = append(dst, event...)
		dst = append(dst, '\n')
	}
	var lr lineReader
	lr.reset(data)
	for ended := true; ended; {
		var line []byte
		line, ended = lr.next()
		dst = append(dst, "data: "...)
		dst = append(dst, line...)
		dst = append(dst, '\n')
	}
	return append(dst, '\n')
}
