package filters

import (
	"testing"
)

func TestDetectors(t *testing.T) {
	tests := []struct {
		kind string
		in   string
		want string // in with the matches masked; "" means in unchanged
	}{
		{KindEmail, "mail alice.smith+tag@example.co.jp now", "mail [X] now"},
		{KindEmail, "two: a@b.io, c_d@e-f.org.", "two: [X], [X]."},
		{KindEmail, "user@localhost and @handle and a@b", ""},
		{KindEmail, "x@y.c", ""},

		{KindPhone, "call +1 (555) 123-4567 today", "call [X] today"},
		{KindPhone, "call 555-123-4567", "call [X]"},
		{KindPhone, "tel 090-1234-5678.", "tel [X]."},
		{KindPhone, "paris +33 1 23 45 67 89", "paris [X]"},
		{KindPhone, "uk +442079460958", "uk [X]"},
		{KindPhone, "(555) 123 4567", "[X]"},
		{KindPhone, "order 1234567890123", ""},     // one long number: an id
		{KindPhone, "ip 192.168.100.200", ""},      // an IPv4 address
		{KindPhone, "at 2024-01-15 10:30", ""},     // a date and time
		{KindPhone, "total 1 000 000 000 yen", ""}, // thousands
		{KindPhone, "version 1.2.3", ""},           // too few digits
		{KindPhone, "call 555-1234", ""},           // too few digits
		{KindPhone, "id 12-3456789012-34", ""},     // a group of more than 5 digits
		{KindPhone, "ref abc5551234567 and x", ""}, // glued to a word
		{KindPhone, "see 555.123.4567 now", "see [X] now"},

		{KindCreditCard, "card 4111 1111 1111 1111 exp", "card [X] exp"},
		{KindCreditCard, "card 4111-1111-1111-1111", "card [X]"},
		{KindCreditCard, "card 4111111111111111", "card [X]"},
		{KindCreditCard, "amex 3782 822463 10005", "amex [X]"},
		{KindCreditCard, "card 4111 1111 1111 1112", ""}, // fails Luhn
		{KindCreditCard, "zeros 0000 0000 0000 0000", ""},
		{KindCreditCard, "card 4111 1111 1111 1111 2024", "card [X] 2024"},
		{KindCreditCard, "order 12345", ""},

		{KindAPIKey, "key sk-proj-abcDEF1234567890ghijKLMN ok", "key [X] ok"},
		{KindAPIKey, "key sk-ant-api03-abcdefghij0123456789ABCDEFG", "key [X]"},
		{KindAPIKey, "aws AKIAIOSFODNN7EXAMPLE,", "aws [X],"},
		{KindAPIKey, "g AIzaSyA1234567890abcdefghijklmnopqrstuv", "g [X]"},
		{KindAPIKey, "gh ghp_0123456789abcdefghijklmnopqrstuvwxyz", "gh [X]"},
		{KindAPIKey, "slack xoxb-1234567890-abcdefghij", "slack [X]"},
		{KindAPIKey, "stripe sk_live_0123456789abcdefXYZ", "stripe [X]"},
		{KindAPIKey, "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "jwt [X]"},
		{KindAPIKey, "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nabc\n-----END RSA PRIVATE KEY----- done", "[X] done"},
		{KindAPIKey, "use sk-learn-is-a-python-library-for-ml", ""}, // no digit: words
		{KindAPIKey, "ask-0123456789abcdefghijklmnop", ""},          // glued to a word
		{KindAPIKey, "AKIA is a prefix", ""},
		{KindAPIKey, "the task-force meets", ""},
	}
	for _, tc := range tests {
		t.Run(tc.kind+"/"+tc.in, func(t *testing.T) {
			r, err := newRedactor(&Redact{Kinds: []string{tc.kind}, Replacement: "[X]"})
			if err != nil {
				t.Fatal(err)
			}
			got, changed := r.mask([]byte(tc.in))
			want := tc.want
			if want == "" {
				want = tc.in
			}
			if string(got) != want || changed != (tc.want != "") {
				t.Errorf("mask(%q) = %q, %v; want %q", tc.in, got, changed, want)
			}
		})
	}
}

func TestLuhn(t *testing.T) {
	for s, want := range map[string]bool{
		"4111111111111111": true, "5500005555555559": true, "378282246310005": true,
		"4111111111111112": false, "1234567812345678": false, "79927398713": true,
	} {
		digits := make([]byte, len(s))
		for i := range s {
			digits[i] = s[i] - '0'
		}
		if luhn(digits) != want {
			t.Errorf("luhn(%s) = %v", s, !want)
		}
	}
}

func TestRedactorAllKindsAndReplacement(t *testing.T) {
	r, err := newRedactor(&Redact{Patterns: []string{`(?i)project\s+falcon`}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := r.mask([]byte("about Project  Falcon and bob@example.com"))
	// Patterns alone replace the default kinds.
	if string(got) != "about [REDACTED_CUSTOM] and bob@example.com" {
		t.Errorf("custom only: %q", got)
	}
	r, err = newRedactor(&Redact{})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = r.mask([]byte("bob@example.com, 4111 1111 1111 1111, +1 555 123 4567, sk-abcdefghij0123456789xyz"))
	want := "[REDACTED_EMAIL], [REDACTED_CREDIT_CARD], [REDACTED_PHONE], [REDACTED_API_KEY]"
	if string(got) != want {
		t.Errorf("all kinds: %q, want %q", got, want)
	}
}
