package provider

import (
	"bytes"
	"encoding/json"
	"strings"
)

// IsJSON reports whether a request with this Content-Type carries a JSON body: JSON or a
// +json type, or no Content-Type at all (many clients send JSON without one).
func IsJSON(contentType string) bool {
	if contentType == "" {
		return true
	}
	ct := strings.ToLower(contentType)
	return strings.HasPrefix(ct, "application/json") || strings.Contains(ct, "+json")
}

// JSONString returns the value of a raw JSON string, "" for anything else (absent, null, a
// number, invalid).
func JSONString(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}
