// Package sse reads and writes the Server-Sent Events wire format
// (text/event-stream) as the WHATWG HTML standard defines it.
//
// The proxy relays a stream event by event: [Split] cuts the bytes of a
// stream into whole events without changing a byte, so that what the client
// receives is exactly what the upstream sent; [Parse], [Data] and [IsDone]
// read the fields of one event; [AppendEvent] renders an event for a reply
// that the proxy writes itself; [EditData] and [AppendJSONString] let a
// filter rewrite the JSON of an event's data and keep the rest of the event
// as it was.
package sse

import "bytes"

// Split is a [bufio.SplitFunc] that returns one complete event per token,
// including the blank line that terminates it, so that the concatenation of
// all tokens is exactly the input.
//
// Lines may end in "\n", "\r\n" or "\r", mixed freely within one stream. A
// "\r" at the end of data when atEOF is false may be the first half of a
// "\r\n", so Split asks for more data before deciding. A blank line that does
// not end an event (a blank line at the start of the stream, or two blank
// lines in a row) is returned as a token of its own, which [Parse] reads as
// an event with no fields. At EOF the remaining bytes, an event without its
// terminating blank line, are returned as a final token.
//
// Split never allocates; the token is a sub-slice of data. Its cost is
// proportional to the bytes of the event it returns, not to what follows in
// data; but a bufio.Scanner hands it an unfinished event again after every
// read, so an event that arrives in k reads is scanned k times.
func Split(data []byte, atEOF bool) (advance int, token []byte, err error) {
	i := 0 // start of the current line
	for {
		j := i
		if j == len(data) {
			break
		}
		if c := data[j]; c != '\n' && c != '\r' {
			// Not a blank line: find where it ends.
			j = indexEOL(data[i:])
			if j < 0 {
				break
			}
			j += i
		}
		n := 1
		if data[j] == '\r' {
			if j+1 == len(data) {
				if !atEOF {
					// The next read may start with the "\n" of a "\r\n".
					return 0, nil, nil
				}
			} else if data[j+1] == '\n' {
				n = 2
			}
		}
		if j == i {
			return j + n, data[:j+n], nil
		}
		i = j + n
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// firstWindow is how far indexEOL first looks, a little more than most lines
// of an LLM stream.
const firstWindow = 512

// indexEOL returns the index of the first "\r" or "\n" in b, or -1.
//
// It looks in windows that double in size, so that the search for one kind
// of line end does not run to the end of a long buffer when the line ends
// sooner with the other kind: the cost stays proportional to the line, not
// to what the scanner has buffered after it.
func indexEOL(b []byte) int {
	off, size := 0, firstWindow
	for off < len(b) {
		w := b[off:min(off+size, len(b))]
		lf := bytes.IndexByte(w, '\n')
		if lf >= 0 {
			w = w[:lf]
		}
		if cr := bytes.IndexByte(w, '\r'); cr >= 0 {
			return off + cr
		}
		if lf >= 0 {
			return off + lf
		}
		off += size
		size = min(2*size, 1<<16)
	}
	return -1
}

// lineReader returns the lines of a byte slice one by one.
type lineReader struct {
	b   []byte
	pos int
}

// reset makes r read the lines of b.
func (r *lineReader) reset(b []byte) {
	r.b, r.pos = b, 0
}

// next returns the next line without its line end, and whether a line end
// followed it; past the last line end it returns an empty line and false.
func (r *lineReader) next() (line []byte, ended bool) {
	rest := r.b[r.pos:]
	j := indexEOL(rest)
	if j < 0 {
		r.pos = len(r.b)
		return rest, false
	}
	r.pos += j + 1
	if rest[j] == '\r' && j+1 < len(rest) && rest[j+1] == '\n' {
		r.pos++
	}
	return rest[:j], true
}
