package fakefault

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Parser reads the values of x-fake-* headers. A value that cannot be read
// is an error, so that a mistake in a test does not go unnoticed: the
// parser keeps the first one, and the calls after it leave their
// destinations alone, so a fake reads all its headers and checks Err once.
type Parser struct {
	h   http.Header
	err error
}

// NewParser returns a parser of the headers h.
func NewParser(h http.Header) *Parser {
	return &Parser{h: h}
}

// Err returns the error of the first malformed value read, or nil.
func (p *Parser) Err() error {
	return p.err
}

// value returns the first value of the header name, which must be
// canonical, and whether it should be read: present, and no error before.
func (p *Parser) value(name string) (string, bool) {
	v := p.h[name]
	if len(v) == 0 || p.err != nil {
		return "", false
	}
	return v[0], true
}

// String returns the first value of the header name, which must be
// canonical, and whether it is present. It reads even after an error.
func (p *Parser) String(name string) (string, bool) {
	v := p.h[name]
	if len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// Int sets *dst to the integer of the header name, which must be at least
// lo.
func (p *Parser) Int(name string, dst *int, lo int) {
	v, ok := p.value(name)
	if !ok {
		return
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < lo {
		p.err = fmt.Errorf("bad %s header %q: want an integer of at least %d", strings.ToLower(name), v, lo)
		return
	}
	*dst = n
}

// Duration sets *dst to the wait of the header name: a Go duration
// ("200ms") or a number of milliseconds, not negative.
func (p *Parser) Duration(name string, dst *time.Duration) {
	v, ok := p.value(name)
	if !ok {
		return
	}
	d, err := parseDelay(v)
	if err != nil {
		p.err = fmt.Errorf("bad %s header %q: want a duration such as 200ms", strings.ToLower(name), v)
		return
	}
	*dst = d
}

// Seconds sets *dst to the number of seconds of the header name, possibly
// fractional, finite and not negative.
func (p *Parser) Seconds(name string, dst *float64) {
	v, ok := p.value(name)
	if !ok {
		return
	}
	s, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || s < 0 || math.IsInf(s, 0) || math.IsNaN(s) {
		p.err = fmt.Errorf("bad %s header %q: want seconds", strings.ToLower(name), v)
		return
	}
	*dst = s
}

// parseDelay reads a Go duration or a plain number of milliseconds.
func parseDelay(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
		if n > math.MaxInt64/int64(time.Millisecond) {
			// The wait would not fit in a time.Duration.
			return 0, errors.New("bad duration")
		}
		return time.Duration(n) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, errors.New("bad duration")
	}
	return d, nil
}
