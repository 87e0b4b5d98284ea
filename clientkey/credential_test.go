package clientkey

import (
	"net/http"
	"testing"
)

func TestPresented(t *testing.T) {
	r, _ := http.NewRequest("POST", "http://proxy/v1beta/models/gemini-2.0-flash:generateContent?alt=sse&key=qk&x=1", nil)
	r.Header.Set("Authorization", "Bearer  tok ")
	r.Header.Set("Api-Key", "ak")
	r.Header.Set("X-Goog-Api-Key", "gk")
	got := presented(r)
	want := []credential{{"Authorization", "tok"}, {"Api-Key", "ak"}, {"X-Goog-Api-Key", "gk"}, {"", "qk"}}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("credential %d = %v, want %v", i, got[i], want[i])
		}
	}
	r.Header.Set("Authorization", "Basic dXNlcjpwYXNz")
	if c := presented(r); c[0].header == "Authorization" {
		t.Errorf("basic auth taken for a key: %v", c[0])
	}
}

func TestRemoveQueryKey(t *testing.T) {
	for raw, want := range map[string]string{
		"key=abc":               "",
		"alt=sse&key=abc":       "alt=sse",
		"k%65y=abc&alt=sse":     "alt=sse",
		"keys=1&key=a&monkey=2": "keys=1&monkey=2",
	} {
		if got := removeQueryKey(raw); got != want {
			t.Errorf("removeQueryKey(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestParseSigV4(t *testing.T) {
	a, ok, err := ParseSigV4("AWS4-HMAC-SHA256 Credential=AKID/20261120/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc")
	if !ok || err != nil || a.AccessKeyID != "AKID" || a.Region != "us-east-1" || a.Service != "bedrock" ||
		len(a.SignedHeaders) != 2 || a.Signature != "abc" {
		t.Fatalf("%+v %v %v", a, ok, err)
	}
	if _, ok, _ := ParseSigV4("Bearer x"); ok {
		t.Error("a bearer token taken for sigv4")
	}
	for _, bad := range []string{
		"AWS4-HMAC-SHA256 Credential=AKID/20261120/us-east-1/bedrock, SignedHeaders=host, Signature=abc",
		"AWS4-HMAC-SHA256 Credential=AKID/20261120/us-east-1/bedrock/aws4_request, Signature=abc",
	} {
		if _, ok, err := ParseSigV4(bad); !ok || err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestKeyValidation(t *testing.T) {
	for name, keys := range map[string][]Key{
		"no name":          {{Key: "k"}},
		"no credential":    {{Name: "a"}},
		"duplicate name":   {{Name: "a", Key: "k1"}, {Name: "a", Key: "k2"}},
		"duplicate key":    {{Name: "a", Key: "k1"}, {Name: "b", Key: "k1"}},
		"bad digest":       {{Name: "a", KeySHA256: "xyz"}},
		"half an aws pair": {{Name: "a", AWSAccessKeyID: "AKID"}},
		"bad pattern":      {{Name: "a", Key: "k", Models: []string{"gpt-["}}},
		"negative limit":   {{Name: "a", Key: "k", RequestsPerMinute: -1}},
		"budget no ledger": {{Name: "a", Key: "k", BudgetUSDPerDay: 1}},
	} {
		if _, err := newKeyset(keys, false); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
