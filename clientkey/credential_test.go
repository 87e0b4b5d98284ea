package clientkey

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy-go/aiproxy/internal/sigv4/sigv4test"
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

// sdkSignedRequest signs a POST of body to url with the AWS SDK's signer at now, as the
// proxy's server receives it.
func sdkSignedRequest(t *testing.T, url string, header http.Header, body []byte, now time.Time) *http.Request {
	t.Helper()
	return sigv4test.Sign(t, sigv4test.Request{Method: http.MethodPost, URL: url, Header: header, Body: body,
		AccessKeyID: "AKIDCLIENT", SecretAccessKey: "client-secret", Time: now}).Received
}

func TestVerifySigV4(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	body := []byte(`{"messages":[]}`)
	const url = "http://127.0.0.1/bedrock/model/arn:aws:bedrock:us-east-1:123456789012:inference-profile%2Fus.m-v1%3A0/converse"
	verify := func(r *http.Request, body []byte, secret string) error {
		a, ok, err := ParseSigV4(r.Header.Get("Authorization"))
		if !ok || err != nil {
			t.Fatalf("parse: %v %v", ok, err)
		}
		return VerifySigV4(r, a, body, secret, now)
	}

	r := sdkSignedRequest(t, url, nil, body, now)
	if err := verify(r, body, "client-secret"); err != nil {
		t.Errorf("valid: %v", err)
	}
	// A handler below a prefix that http.StripPrefix removed: the client signed the whole
	// path, which the request line still holds.
	stripped := r.Clone(context.Background())
	stripped.URL.Path = strings.TrimPrefix(r.URL.Path, "/bedrock")
	stripped.URL.RawPath = strings.TrimPrefix(r.URL.RawPath, "/bedrock")
	if err := verify(stripped, body, "client-secret"); err != nil {
		t.Errorf("below a stripped prefix: %v", err)
	}

	for name, tc := range map[string]struct {
		r      *http.Request
		body   []byte
		secret string
		want   string
	}{
		"wrong secret":     {r, body, "other-secret", "does not match"},
		"changed body":     {r, []byte(`{"messages":[1]}`), "client-secret", "does not match"},
		"signed too early": {sdkSignedRequest(t, url, nil, body, now.Add(-SigV4MaxSkew-time.Second)), body, "client-secret", "expired"},
		"content sha256 of another body": {
			sdkSignedRequest(t, url, http.Header{"X-Amz-Content-Sha256": {"0000"}}, body, now), body, "client-secret", "x-amz-content-sha256",
		},
		"unsigned payload": {
			sdkSignedRequest(t, url, http.Header{"X-Amz-Content-Sha256": {"UNSIGNED-PAYLOAD"}}, body, now), body, "client-secret", "x-amz-content-sha256",
		},
	} {
		if err := verify(tc.r, tc.body, tc.secret); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}

	// X-Amz-Date must be signed: a signature over host alone is refused even when it matches.
	a, _, _ := ParseSigV4(r.Header.Get("Authorization"))
	a.SignedHeaders = []string{"host"}
	if err := VerifySigV4(r, a, body, "client-secret", now); err == nil || !strings.Contains(err.Error(), "x-amz-date") {
		t.Errorf("x-amz-date unsigned: %v", err)
	}
}
