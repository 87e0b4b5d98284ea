package filters

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/accesslog"
)

// Where Redact masks.
const (
	// RedactRequest masks the body before it goes upstream.
	RedactRequest = "request"
	// RedactLog masks what is written to the access log.
	RedactLog = "log"
)

// DefaultReplacement is what a match becomes when Redact.Replacement is empty.
const DefaultReplacement = "[REDACTED_{KIND}]"

// Redact masks sensitive text (e-mail addresses, phone numbers, payment card numbers, API
// keys, and text matching custom patterns) before the request goes upstream, in what the
// access log stores, or both.
//
// In the request it masks inside every string value of the JSON body (the keys and the
// structure stay), after decoding escapes, so an address written with \u0040 is found too,
// and re-escapes the result: the body stays valid JSON. A body that is not JSON goes upstream
// as it is. A string longer than 512 bytes made of base64 characters only, or a base64 data
// URL, is taken for an image or a file and left alone.
//
// In the log it masks the content, tool_calls, function_call, raw_body and upstream_body
// columns and the header values of every row (request, response, error): JSON bodies as in
// the request, streams (SSE data lines, JSON lines) line by line, anything else as text. The
// request row's raw_body is the body the client sent, so only RedactLog keeps the client's
// secrets out of the log; RedactRequest alone keeps them from the upstream but the log still
// has the client's body. The user and model columns are kept as they are.
//
// Redact is safe for concurrent use once its fields are set; it compiles its patterns on
// first use (call Validate to see errors early).
type Redact struct {
	// Kinds are the built-in kinds to find: KindEmail, KindPhone, KindCreditCard and
	// KindAPIKey. When Kinds and Patterns are both empty, all four are found.
	Kinds []string `yaml:"kinds" json:"kinds,omitempty"`
	// Patterns are more regular expressions (Go syntax) whose matches are masked, as the
	// kind "custom".
	Patterns []string `yaml:"patterns" json:"patterns,omitempty"`
	// In says where to mask: RedactRequest, RedactLog, or both. Empty means both.
	In []string `yaml:"in" json:"in,omitempty"`
	// Replacement replaces each match; "{KIND}" in it becomes the kind in upper case
	// (EMAIL, PHONE, CREDIT_CARD, API_KEY, CUSTOM). Default DefaultReplacement.
	Replacement string `yaml:"replacement" json:"replacement,omitempty"`

	once     sync.Once
	compiled *redactor
	err      error
}

var (
	_ aiproxy.RequestFilter = (*Redact)(nil)
	_ aiproxy.LogFilter     = (*Redact)(nil)
)

// Validate compiles the options and reports the first problem: an unknown kind or place,
// or a pattern that does not compile.
func (f *Redact) Validate() error {
	_, err := f.redactor()
	return err
}

func (f *Redact) redactor() (*redactor, error) {
	f.once.Do(func() { f.compiled, f.err = newRedactor(f) })
	return f.compiled, f.err
}

// FilterRequest masks the body sent upstream when In holds RedactRequest.
func (f *Redact) FilterRequest(_ context.Context, x *aiproxy.Exchange) (*aiproxy.Reply, error) {
	r, err := f.redactor()
	if err != nil {
		return nil, misconfigured("redact", err)
	}
	if !r.request || len(x.Request.Body) == 0 {
		return nil, nil
	}
	if !isJSONBody(x) {
		return nil, nil
	}
	body, changed := rewriteStrings(x.Request.Body, r.maskString)
	if !changed {
		return nil, nil
	}
	if err := x.SetBody(body); err != nil {
		return nil, fmt.Errorf("redact: set the masked body: %w", err)
	}
	return nil, nil
}

// FilterLog masks the text columns of a log row when In holds RedactLog.
func (f *Redact) FilterLog(rec *accesslog.Record) {
	r, err := f.redactor()
	if err != nil || !r.log {
		return
	}
	if s, ok := r.mask([]byte(rec.Content)); ok {
		rec.Content = string(s)
	}
	if s, ok := r.maskBody([]byte(rec.ToolCalls)); ok {
		rec.ToolCalls = string(s)
	}
	if s, ok := r.maskBody([]byte(rec.FunctionCall)); ok {
		rec.FunctionCall = string(s)
	}
	if b, ok := r.maskBody(rec.RawBody); ok {
		rec.RawBody = b
	}
	if b, ok := r.maskBody(rec.UpstreamBody); ok {
		rec.UpstreamBody = b
	}
	// The header map may be shared with other rows of the exchange: change a copy.
	var masked http.Header
	for k, vs := range rec.RawHeaders {
		for i, v := range vs {
			s, ok := r.mask([]byte(v))
			if !ok {
				continue
			}
			if masked == nil {
				masked = rec.RawHeaders.Clone()
			}
			masked[k][i] = string(s)
		}
	}
	if masked != nil {
		rec.RawHeaders = masked
	}
}

// misconfigured is the error of a filter whose options are wrong, found at request time
// because the program did not call Validate.
func misconfigured(name string, err error) error {
	return &aiproxy.Error{Status: http.StatusInternalServerError, Type: "server_error",
		Message: "the proxy's " + name + " filter is misconfigured", Err: err}
}

// redactor is a compiled Redact.
type redactor struct {
	detectors []detector
	replace   string
	request   bool
	log       bool
}

func newRedactor(f *Redact) (*redactor, error) {
	r := &redactor{replace: f.Replacement}
	if r.replace == "" {
		r.replace = DefaultReplacement
	}
	in := f.In
	if len(in) == 0 {
		in = []string{RedactRequest, RedactLog}
	}
	for _, w := range in {
		switch w {
		case RedactRequest:
			r.request = true
		case RedactLog:
			r.log = true
		default:
			return nil, fmt.Errorf("redact: unknown place %q in \"in\" (known: %s, %s)", w, RedactRequest, RedactLog)
		}
	}
	kinds := f.Kinds
	if len(kinds) == 0 && len(f.Patterns) == 0 {
		kinds = builtinKinds
	}
	for _, k := range kinds {
		if _, ok := detectorFor(k); !ok {
			return nil, fmt.Errorf("redact: unknown kind %q (known: %s)", k, strings.Join(builtinKinds, ", "))
		}
	}
	// Built-in kinds in a fixed order, whatever the order of the option.
	for _, k := range builtinKinds {
		if slices.Contains(kinds, k) {
			d, _ := detectorFor(k)
			r.detectors = append(r.detectors, d)
		}
	}
	for _, p := range f.Patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("redact: pattern %q: %w", p, err)
		}
		r.detectors = append(r.detectors, detector{kind: kindCustom, re: re})
	}
	return r, nil
}

// replacement is the text that replaces a match of kind.
func (r *redactor) replacement(kind string) []byte {
	return []byte(strings.ReplaceAll(r.replace, "{KIND}", strings.ToUpper(kind)))
}

// span is one match of a detector in a text.
type span struct {
	start, end int
	kind       string
}

// find returns the matches in s of every detector, sorted and without overlaps: where two
// overlap, the detector applied first (see builtinKinds) wins.
func (r *redactor) find(s []byte) []span {
	var spans []span
	for _, d := range r.detectors {
		if d.maybe != nil && !d.maybe(s) {
			continue
		}
	next:
		for _, loc := range d.re.FindAllIndex(s, -1) {
			if loc[0] == loc[1] || (d.valid != nil && !d.valid(s[loc[0]:loc[1]])) {
				continue
			}
			for _, o := range spans {
				if loc[0] < o.end && o.start < loc[1] {
					continue next
				}
			}
			spans = append(spans, span{loc[0], loc[1], d.kind})
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
	return spans
}

// mask returns s with every match masked, and whether there was one. When there was none
// it returns s itself.
func (r *redactor) mask(s []byte) ([]byte, bool) {
	if len(s) == 0 {
		return s, false
	}
	spans := r.find(s)
	if len(spans) == 0 {
		return s, false
	}
	out := make([]byte, 0, len(s))
	last := 0
	for _, sp := range spans {
		out = append(out, s[last:sp.start]...)
		out = append(out, r.replacement(sp.kind)...)
		last = sp.end
	}
	return append(out, s[last:]...), true
}

// maskString masks one decoded JSON string value. A value that is itself a JSON document
// (the arguments of a tool call) is masked as JSON, so that escapes inside it are read.
func (r *redactor) maskString(s []byte) ([]byte, bool) {
	if opaque(s) {
		return nil, false
	}
	if t := bytes.TrimSpace(s); len(t) > 1 && (t[0] == '{' || t[0] == '[') && json.Valid(t) {
		return rewriteStrings(s, r.maskString)
	}
	return r.mask(s)
}

// maskBody masks a logged body: a JSON document as JSON; otherwise as a stream (see
// maskStream), then line by line, where an SSE data line or a line holding a JSON document
// is masked as JSON and any other line as text.
func (r *redactor) maskBody(b []byte) ([]byte, bool) {
	if len(b) == 0 {
		return b, false
	}
	if t := bytes.TrimSpace(b); len(t) > 0 && (t[0] == '{' || t[0] == '[') && json.Valid(t) {
		return rewriteStrings(b, r.maskString)
	}
	lines := splitLines(b)
	b, changed := r.maskStream(b, lines)
	var out []byte
	last := 0 // b[:last] is in out
	for _, l := range lines {
		payload := b[l.payload:l.end]
		var masked []byte
		var ok bool
		if l.json {
			masked, ok = rewriteStrings(payload, r.maskString)
		} else {
			masked, ok = r.mask(payload)
		}
		if !ok {
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(b))
		}
		out = append(out, b[last:l.payload]...)
		out = append(out, masked...)
		last = l.end
	}
	if out == nil {
		return b, changed
	}
	return append(out, b[last:]...), true
}

// logLine is one line of a logged stream: b[payload:end] is its content after any "data:"
// prefix, without the line ending.
type logLine struct {
	payload, end int
	json         bool // the payload is a JSON document
}

// splitLines splits a logged stream into lines.
func splitLines(b []byte) []logLine {
	var lines []logLine
	for off := 0; off < len(b); {
		next := len(b)
		if i := bytes.IndexByte(b[off:], '\n'); i >= 0 {
			next = off + i + 1
		}
		end := next
		for end > off && (b[end-1] == '\n' || b[end-1] == '\r') {
			end--
		}
		l := logLine{payload: off, end: end}
		if p, ok := bytes.CutPrefix(b[off:end], []byte("data:")); ok {
			l.payload = end - len(p)
			if len(p) > 0 && p[0] == ' ' {
				l.payload++
			}
		}
		t := bytes.TrimSpace(b[l.payload:end])
		l.json = len(t) > 0 && (t[0] == '{' || t[0] == '[') && json.Valid(t)
		lines = append(lines, l)
		off = next
	}
	return lines
}

// streamTextKeys are the keys whose string values carry the generated text of a streamed
// response, a piece per event: OpenAI chat "content", "refusal" and tool call "arguments",
// Responses API "delta", Anthropic, Bedrock and Gemini "text", Anthropic tool input
// "partial_json".
var streamTextKeys = []string{"content", "text", "arguments", "partial_json", "delta", "refusal", "reasoning_content", "thinking"}

// maskStream masks what a stream split across its events: the text pieces of every event
// (the string values of streamTextKeys), joined in order, are searched as one text, and
// each match is masked in every piece it spans, its replacement in the first. An address
// streamed as "bob@" then "example.com" so disappears from the logged stream. The result
// has the same lines as b, each as long or shorter than before only where it was masked;
// the line offsets are updated.
func (r *redactor) maskStream(b []byte, lines []logLine) ([]byte, bool) {
	type piece struct{ start, end, at int } // raw string in b; offset in joined
	var (
		pieces  []piece
		joined  []byte
		scratch []byte
	)
	for _, l := range lines {
		if !l.json {
			continue
		}
		payload := b[l.payload:l.end]
		var key []byte
		for i := 0; i < len(payload); i++ {
			if payload[i] != '"' {
				continue
			}
			send, escaped := stringEnd(payload, i)
			if send < 0 {
				break
			}
			if isKey(payload, send) {
				key = payload[i+1 : send-1]
			} else if key != nil && slices.Contains(streamTextKeys, string(key)) {
				s := payload[i+1 : send-1]
				if escaped {
					scratch = unescape(scratch[:0], s)
					s = scratch
				}
				pieces = append(pieces, piece{l.payload + i, l.payload + send, len(joined)})
				joined = append(joined, s...)
			}
			i = send - 1
		}
	}
	if len(pieces) < 2 {
		return b, false
	}
	spans := r.find(joined)
	if len(spans) == 0 {
		return b, false
	}
	var edits []edit
	for k, p := range pieces {
		lo, hi := p.at, len(joined)
		if k+1 < len(pieces) {
			hi = pieces[k+1].at
		}
		var out []byte
		pos, changed := lo, false
		for _, sp := range spans {
			if sp.end <= lo || sp.start >= hi {
				continue
			}
			changed = true
			out = append(out, joined[pos:max(sp.start, lo)]...)
			if sp.start >= lo {
				out = append(out, r.replacement(sp.kind)...)
			}
			pos = min(sp.end, hi)
		}
		if changed {
			out = append(out, joined[pos:hi]...)
			edits = append(edits, edit{p.start, p.end, string(appendString(nil, out))})
		}
	}
	out := applyEdits(b, edits)
	// Move the line offsets by what the edits before them added or removed.
	shift, e := 0, 0
	for k := range lines {
		for e < len(edits) && edits[e].start < lines[k].payload {
			shift += len(edits[e].text) - (edits[e].end - edits[e].start)
			e++
		}
		lines[k].payload += shift
		for e < len(edits) && edits[e].start < lines[k].end {
			shift += len(edits[e].text) - (edits[e].end - edits[e].start)
			e++
		}
		lines[k].end += shift
	}
	return out, true
}

// opaque reports whether a string value is binary data in base64 (an image, a file)
// rather than text: a data URL, or more than 512 bytes of base64 characters only.
func opaque(s []byte) bool {
	if bytes.HasPrefix(s, []byte("data:")) {
		if i := bytes.Index(s, []byte(";base64,")); i > 0 && i < 100 {
			return true
		}
	}
	if len(s) <= 512 {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9',
			c == '+', c == '/', c == '-', c == '_', c == '=':
		default:
			return false
		}
	}
	return true
}
