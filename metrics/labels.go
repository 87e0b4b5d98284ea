package metrics

import (
	"net/url"
	"strings"
)

const (
	maxLabelLen  = 64
	otherLabel   = "other"
	unknownLabel = "unknown"
	secretRunLen = 24 // an unbroken run of letters and digits this long is not a model name
	randomRunLen = 16 // nor is a shorter one mixing upper case, lower case and digits
)

// credentialPrefixes start API keys and tokens of the providers and of common services;
// compared in lower case.
var credentialPrefixes = []string{
	"sk-", "sk_", "rk_", "pk_", "bearer", "basic ", "eyj", "ghp_", "gho_", "ghs_", "github_pat_",
	"glpat-", "xox", "hf_", "api-key", "api_key", "apikey", "key-", "aiza", "ya29.",
}

// labelValue returns the label value of a provider or model name: at most 64 characters of
// [A-Za-z0-9._:/-], "other" for anything else or anything that looks like a credential, and
// "unknown" for an empty name. A Bedrock ARN is reduced to its model or profile id, which
// also keeps the account number out of the label.
func labelValue(s string) string {
	if s == "" {
		return unknownLabel
	}
	if len(s) > 6 && strings.EqualFold(s[:6], "arn%3a") {
		if u, err := url.PathUnescape(s); err == nil {
			s = u
		}
	}
	if strings.HasPrefix(s, "arn:") {
		if i := strings.LastIndexByte(s, '/'); i >= 0 {
			s = s[i+1:]
		} else {
			return otherLabel
		}
	}
	if s == "" || looksSecret(s) {
		return otherLabel
	}
	if len(s) > maxLabelLen {
		s = s[:maxLabelLen]
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && strings.IndexByte("._:/-", c) < 0 {
			return otherLabel
		}
	}
	return s
}

// looksSecret reports whether s looks like a credential rather than a model name: a known key
// prefix, an AWS access key id, or a long random-looking run of letters and digits. Model
// names are short words and numbers joined by separators ("claude-3-5-sonnet-20241022").
func looksSecret(s string) bool {
	lower := strings.ToLower(s)
	for _, p := range credentialPrefixes {
		if strings.HasPrefix(lower, p) {
			return true
		}
	}
	if (strings.HasPrefix(s, "AKIA") || strings.HasPrefix(s, "ASIA")) && len(s) >= 16 {
		return true
	}
	run, upper, lowerC, digit := 0, false, false, false
	for i := 0; i <= len(s); i++ {
		if i < len(s) && isAlnum(s[i]) {
			c := s[i]
			run++
			upper = upper || (c >= 'A' && c <= 'Z')
			lowerC = lowerC || (c >= 'a' && c <= 'z')
			digit = digit || (c >= '0' && c <= '9')
			continue
		}
		if run >= secretRunLen || (run >= randomRunLen && upper && lowerC && digit) {
			return true
		}
		run, upper, lowerC, digit = 0, false, false, false
	}
	return false
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
