package provider

import (
	"encoding/json"
	"testing"
)

func TestIsJSON(t *testing.T) {
	for ct, want := range map[string]bool{"": true, "application/json": true, "Application/JSON; charset=utf-8": true,
		"application/vnd.api+json": true, "multipart/form-data; boundary=x": false, "text/plain": false} {
		if got := IsJSON(ct); got != want {
			t.Errorf("IsJSON(%q) = %v", ct, got)
		}
	}
}

func TestJSONString(t *testing.T) {
	for raw, want := range map[string]string{`"gpt-4o"`: "gpt-4o", ` "a\u00e9" `: "aé", `null`: "", `12`: "", ``: "", `"unterminated`: ""} {
		if got := JSONString(json.RawMessage(raw)); got != want {
			t.Errorf("JSONString(%s) = %q, want %q", raw, got, want)
		}
	}
}
