package clientkey

import (
	"crypto/sha256"
	"net/http"
	"net/url"
	"strings"
)

// Where clients put their key, by SDK. Each is checked; the first that holds a known key
// wins.
var keyHeaders = []string{
	"Api-Key",        // Azure OpenAI
	"X-Api-Key",      // Anthropic (older SDKs), many OpenAI-compatible clients
	"X-Goog-Api-Key", // Gemini
}

// credential is where a request's key was found, so that it can be removed before the
// request goes upstream.
type credential struct {
	header string // header name, or "" for the key query parameter
	value  string
}

// bearer returns the token of an "Authorization: Bearer" header value.
func bearer(v string) (string, bool) {
	scheme, token, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// presented returns the keys r carries, in the order they are checked: the Authorization
// Bearer token, the key headers, then Gemini's key query parameter.
func presented(r *http.Request) []credential {
	var out []credential
	if tok, ok := bearer(r.Header.Get("Authorization")); ok && tok != "" {
		out = append(out, credential{header: "Authorization", value: tok})
	}
	for _, h := range keyHeaders {
		if v := r.Header.Get(h); v != "" {
			out = append(out, credential{header: h, value: v})
		}
	}
	if strings.Contains(r.URL.RawQuery, "key=") {
		if v := r.URL.Query().Get("key"); v != "" {
			out = append(out, credential{value: v})
		}
	}
	return out
}

// lookup finds the key whose digest is the SHA-256 of value. Comparing digests, not keys,
// is what keeps the lookup from leaking the stored keys through timing: how long the map
// takes depends only on the digest of what the client sent, which tells an attacker
// nothing about any stored key.
func (ks *keyset) lookup(value string) *entry {
	return ks.byDigest[sha256.Sum256([]byte(value))]
}

// removeQueryKey returns raw without its key parameters, the others kept in order.
func removeQueryKey(raw string) string {
	var kept []string
	for part := range strings.SplitSeq(raw, "&") {
		name, _, _ := strings.Cut(part, "=")
		if n, err := url.QueryUnescape(name); err == nil && n == "key" || name == "key" {
			continue
		}
		kept = append(kept, part)
	}
	return strings.Join(kept, "&")
}
