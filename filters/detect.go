package filters

import (
	"bytes"
	"regexp"
)

// Kinds of sensitive text that Redact finds without configuration.
const (
	KindEmail      = "email"       // e-mail addresses
	KindPhone      = "phone"       // phone numbers written with a leading + or separators
	KindCreditCard = "credit_card" // payment card numbers that pass the Luhn check
	KindAPIKey     = "api_key"     // API keys and tokens with a known prefix, private key blocks
)

// kindCustom names the matches of Redact.Patterns in the replacement.
const kindCustom = "custom"

// detector finds one kind of sensitive text.
type detector struct {
	kind string
	re   *regexp.Regexp
	// maybe is a cheap test that s can hold a match; nil always runs re.
	maybe func(s []byte) bool
	// valid checks a match of re; nil accepts every match.
	valid func(m []byte) bool
}

var (
	emailRE = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}`)

	// Card numbers: 13 to 19 digits together, or in the groups cards are printed in.
	cardRE = regexp.MustCompile(`\b(?:\d{4}[ -]\d{4}[ -]\d{4}[ -]\d{4}(?:[ -]\d{3})?|\d{4}[ -]\d{4}[ -]\d{4}[ -]\d{1,3}|\d{4}[ -]\d{6}[ -]\d{4,5}|\d{13,19})\b`)

	// Phone candidates: a run of digits and separators, checked by validPhone.
	phoneRE = regexp.MustCompile(`(?:\+|\(|\b)\d[\d ().-]{6,22}\d\b`)

	apiKeyRE = regexp.MustCompile(`\b(?:` +
		`sk-(?:proj-|svcacct-|admin-|ant-[a-z]+\d\d-)?[A-Za-z0-9_-]{20,}` + // OpenAI, Anthropic
		`|(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}` + // AWS access key ids
		`|AIza[0-9A-Za-z_-]{35}` + // Google API keys
		`|gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}` + // GitHub
		`|glpat-[A-Za-z0-9_-]{20,}` + // GitLab
		`|xox[abposr]-[A-Za-z0-9-]{10,}` + // Slack
		`|(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}` + // Stripe secret and restricted keys
		`|hf_[A-Za-z0-9]{30,}` + // Hugging Face
		`|npm_[A-Za-z0-9]{36}` + // npm
		`|eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}` + // JWTs
		`)\b` +
		`|-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----`)
)

// detectorFor returns the detector of a built-in kind, or false.
func detectorFor(kind string) (detector, bool) {
	switch kind {
	case KindEmail:
		return detector{kind: kind, re: emailRE, maybe: func(s []byte) bool { return bytes.IndexByte(s, '@') > 0 }}, true
	case KindPhone:
		return detector{kind: kind, re: phoneRE, maybe: hasDigits(9), valid: validPhone}, true
	case KindCreditCard:
		return detector{kind: kind, re: cardRE, maybe: hasDigits(13), valid: validCard}, true
	case KindAPIKey:
		return detector{kind: kind, re: apiKeyRE, maybe: maybeKey, valid: validAPIKey}, true
	}
	return detector{}, false
}

// builtinKinds are the kinds in the order Redact applies them: keys first (they may hold
// digit runs and '@'), cards before phones (a card number looks like a long phone number).
var builtinKinds = []string{KindAPIKey, KindEmail, KindCreditCard, KindPhone}

// maybeKey reports whether s can hold an apiKeyRE match: a run of 13 or more characters
// of the kinds keys are made of (every pattern's shortest match is longer), or a private
// key block.
func maybeKey(s []byte) bool {
	run := 0
	for _, c := range s {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			if run++; run >= 13 {
				return true
			}
		} else {
			run = 0
		}
	}
	return bytes.Contains(s, []byte("PRIVATE KEY"))
}

// hasDigits returns a test that s holds at least n ASCII digits.
func hasDigits(n int) func(s []byte) bool {
	return func(s []byte) bool {
		c := 0
		for _, b := range s {
			if b >= '0' && b <= '9' {
				if c++; c >= n {
					return true
				}
			}
		}
		return false
	}
}

// validCard reports whether the digits of m are 13 to 19, not all the same, and pass the
// Luhn check.
func validCard(m []byte) bool {
	var digits [19]byte
	n := 0
	for _, c := range m {
		if c >= '0' && c <= '9' {
			if n == len(digits) {
				return false
			}
			digits[n] = c - '0'
			n++
		}
	}
	if n < 13 {
		return false
	}
	same := true
	for _, d := range digits[1:n] {
		if d != digits[0] {
			same = false
			break
		}
	}
	return !same && luhn(digits[:n])
}

// luhn reports whether the digits pass the Luhn checksum.
func luhn(digits []byte) bool {
	sum := 0
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i])
		if (len(digits)-1-i)%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// validPhone keeps the phone candidates that look like phone numbers rather than other
// numbers: 9 to 15 digits; a leading + or (, or at least two separated groups; no group of
// more than 5 digits after the first (an id or an amount); not a dotted IPv4 address or a
// version; not a date (a group of 4 digits then one of 1 or 2); not thousands grouping.
func validPhone(m []byte) bool {
	var groups []int // digit count of each run
	plus, paren, dots, other := m[0] == '+', false, 0, 0
	run := 0
	for _, c := range m {
		switch {
		case c >= '0' && c <= '9':
			run++
			continue
		case c == '(' || c == ')':
			paren = true
		case c == '.':
			dots++
		case c != '+':
			other++
		}
		if run > 0 {
			groups = append(groups, run)
			run = 0
		}
	}
	if run > 0 {
		groups = append(groups, run)
	}
	digits := 0
	for _, g := range groups {
		digits += g
	}
	if digits < 9 || digits > 15 {
		return false
	}
	if !plus && !paren && len(groups) < 2 {
		return false
	}
	for _, g := range groups[1:] {
		if g > 5 {
			return false
		}
	}
	if dots > 0 && other == 0 && !plus && !paren && len(groups) == 4 && maxOf(groups) <= 3 {
		return false // 192.168.100.200
	}
	if !plus && len(groups) >= 3 && groups[0] == 4 && groups[1] <= 2 && groups[2] <= 2 {
		return false // 2024-01-15 10
	}
	if !plus && !paren && len(groups) >= 3 && groups[0] <= 3 {
		thousands := true
		for _, g := range groups[1:] {
			if g != 3 {
				thousands = false
				break
			}
		}
		if thousands {
			return false // 100 000 000
		}
	}
	return true
}

func maxOf(xs []int) int {
	m := 0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

// validAPIKey drops matches without a digit, which are words joined by dashes more often
// than keys (sk-learn-is-a-library); private key blocks always count.
func validAPIKey(m []byte) bool {
	if m[0] == '-' {
		return true
	}
	for _, c := range m {
		if c >= '0' && c <= '9' {
			return true
		}
	}
	return false
}
