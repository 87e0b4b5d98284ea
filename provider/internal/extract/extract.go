// Package extract holds what the providers' log summaries share: lenient JSON decoding and
// the joining of prompt texts for token estimation.
package extract

import (
	"encoding/json"
	"errors"
	"strings"
)

// DecodeLenient decodes a JSON body into v and reports whether it was JSON at all. A type
// mismatch spoils that one field, not the rest.
func DecodeLenient(data []byte, v any) bool {
	err := json.Unmarshal(data, v)
	var typeErr *json.UnmarshalTypeError
	return err == nil || errors.As(err, &typeErr)
}

// Joiner joins non-empty texts with newlines, which tokenize like the separators a model
// sees between messages.
type Joiner struct{ b strings.Builder }

// Add appends t, unless it is empty.
func (j *Joiner) Add(t string) {
	if t == "" {
		return
	}
	if j.b.Len() > 0 {
		j.b.WriteByte('\n')
	}
	j.b.WriteString(t)
}

// String returns the joined text.
func (j *Joiner) String() string { return j.b.String() }
