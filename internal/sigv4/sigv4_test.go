package sigv4_test

import (
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aiproxy-go/aiproxy/internal/sigv4"
	"github.com/aiproxy-go/aiproxy/internal/sigv4/sigv4test"
)

const (
	keyID  = "AKIDEXAMPLE"
	secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	region = "us-east-1"
)

// signWithSDK signs a request with the SDK's signer as keyID, secret and region.
func signWithSDK(t *testing.T, method, url string, header http.Header, body []byte) sigv4test.Signed {
	t.Helper()
	return sigv4test.Sign(t, sigv4test.Request{Method: method, URL: url, Header: header, Body: body,
		AccessKeyID: keyID, SecretAccessKey: secret, Region: region})
}

func TestVerifySDKSigned(t *testing.T) {
	body := []byte(`{"messages":[{"role":"user","content":[{"text":"hello"}]}]}`)
	for _, tc := range []struct {
		name, method, url string
		header            http.Header
		body              []byte
	}{
		{
			name:   "model id with an escaped colon",
			method: http.MethodPost,
			url:    "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse",
			header: http.Header{"Content-Type": {"application/json"}},
			body:   body,
		},
		{
			name:   "arn with raw colons and an escaped slash",
			method: http.MethodPost,
			url:    "https://bedrock-runtime.us-east-1.amazonaws.com/model/arn:aws:bedrock:us-east-1:123456789012:inference-profile%2Fus.anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream",
			header: http.Header{"Content-Type": {"application/json"}, "X-Amz-Content-Sha256": {sigv4.PayloadHash(body)}},
			body:   body,
		},
		{
			name:   "query string",
			method: http.MethodGet,
			url:    "https://bedrock.us-east-1.amazonaws.com/foundation-models?byProvider=anthropic&a-b=1&a=x%20y&a=w&byOutputModality=TEXT&empty=&tilde=~*",
		},
		{
			name:   "header values with spaces and repeats",
			method: http.MethodPost,
			url:    "http://127.0.0.1:8080/model/m/invoke",
			header: http.Header{"X-Amz-Meta-Note": {"  two   spaces  ", "second"}, "Content-Type": {"application/json"}},
			body:   body,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := signWithSDK(t, tc.method, tc.url, tc.header, tc.body)
			r := s.Received
			a, ok, err := sigv4.ParseAuthorization(r.Header.Get("Authorization"))
			if !ok || err != nil {
				t.Fatalf("parse %q: %v %v", r.Header.Get("Authorization"), ok, err)
			}
			if a.AccessKeyID != keyID || a.Region != region || a.Service != "bedrock" {
				t.Errorf("auth %+v", a)
			}
			path := sigv4.RequestPath(r)
			canonical, toSign, err := sigv4.Verify(r, path, a, sigv4.PayloadHash(tc.body), secret)
			if err != nil {
				t.Errorf("verify: %v", err)
			}
			if canonical != s.CanonicalRequest {
				t.Errorf("canonical request\n%s\nthe sdk's\n%s", canonical, s.CanonicalRequest)
			}
			if toSign != s.StringToSign {
				t.Errorf("string to sign\n%s\nthe sdk's\n%s", toSign, s.StringToSign)
			}

			if _, _, err := sigv4.Verify(r, path, a, sigv4.PayloadHash(tc.body), "another secret"); !errors.Is(err, sigv4.ErrSignatureMismatch) {
				t.Errorf("another secret: %v", err)
			}
			if _, _, err := sigv4.Verify(r, path, a, sigv4.PayloadHash([]byte("other body")), secret); !errors.Is(err, sigv4.ErrSignatureMismatch) {
				t.Errorf("another body: %v", err)
			}
			if _, _, err := sigv4.Verify(r, r.URL.Path, a, sigv4.PayloadHash(tc.body), secret); r.URL.Path != path && !errors.Is(err, sigv4.ErrSignatureMismatch) {
				t.Errorf("decoded path %q: %v", r.URL.Path, err)
			}
		})
	}
}

func TestVerifyEscapesPathOnceMore(t *testing.T) {
	body := []byte("{}")
	s := signWithSDK(t, http.MethodPost,
		"http://127.0.0.1/model/arn:aws:bedrock:us-east-1:123456789012:inference-profile%2Fus.m-v1%3A0/converse", nil, body)
	first := strings.SplitN(s.CanonicalRequest, "\n", 3)[1]
	const want = "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%252Fus.m-v1%253A0/converse"
	if first != want {
		t.Fatalf("the sdk signed path %q, want %q", first, want)
	}
	a, _, _ := sigv4.ParseAuthorization(s.Received.Header.Get("Authorization"))
	canonical, _, err := sigv4.Verify(s.Received, sigv4.RequestPath(s.Received), a, sigv4.PayloadHash(body), secret)
	if err != nil || strings.SplitN(canonical, "\n", 3)[1] != want {
		t.Errorf("canonical request\n%s\n%v", canonical, err)
	}
}

func TestVerifyContentLengthFromRequest(t *testing.T) {
	body := []byte("hello")
	s := signWithSDK(t, http.MethodPost, "http://127.0.0.1/model/m/invoke", nil, body)
	r := s.Received
	a, _, _ := sigv4.ParseAuthorization(r.Header.Get("Authorization"))
	if !strings.Contains(strings.Join(a.SignedHeaders, ";"), "content-length") {
		t.Fatalf("the sdk did not sign content-length: %v", a.SignedHeaders)
	}
	r.Header.Del("Content-Length") // kept only in r.ContentLength
	if _, _, err := sigv4.Verify(r, sigv4.RequestPath(r), a, sigv4.PayloadHash(body), secret); err != nil {
		t.Errorf("verify: %v", err)
	}
	if r.Header.Get("Content-Length") != "" {
		t.Error("verify changed the request's header")
	}
}

func TestParseAuthorization(t *testing.T) {
	a, ok, err := sigv4.ParseAuthorization("AWS4-HMAC-SHA256 Credential=AKID/20261120/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc")
	if !ok || err != nil {
		t.Fatalf("%v %v", ok, err)
	}
	if a.AccessKeyID != "AKID" || a.Date != "20261120" || a.Region != "us-east-1" || a.Service != "bedrock" ||
		strings.Join(a.SignedHeaders, ";") != "host;x-amz-date" || a.Signature != "abc" {
		t.Errorf("%+v", a)
	}
	if got := a.Scope(); got != "20261120/us-east-1/bedrock/aws4_request" {
		t.Errorf("scope %q", got)
	}
	for _, h := range []string{"", "Bearer x", "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512 Credential=a"} {
		if _, ok, err := sigv4.ParseAuthorization(h); ok || err != nil {
			t.Errorf("%q taken for sigv4: %v", h, err)
		}
	}
	for h, missing := range map[string]string{
		"AWS4-HMAC-SHA256 SignedHeaders=host, Signature=abc":                                           "Credential",
		"AWS4-HMAC-SHA256 Credential=AKID/20261120/us-east-1/bedrock/aws4_request, Signature=abc":      "SignedHeaders",
		"AWS4-HMAC-SHA256 Credential=AKID/20261120/us-east-1/bedrock/aws4_request, SignedHeaders=host": "Signature",
		"AWS4-HMAC-SHA256 Credential=x, SignedHeaders=, Signature=abc":                                 "SignedHeaders",
	} {
		var e *sigv4.MissingParameterError
		if _, ok, err := sigv4.ParseAuthorization(h); !ok || !errors.As(err, &e) || e.Name != missing {
			t.Errorf("%q: %v %v, want %s missing", h, ok, err, missing)
		}
	}
	for _, h := range []string{
		"AWS4-HMAC-SHA256 Credential=AKID/20261120/us-east-1/bedrock, SignedHeaders=host, Signature=abc",
		"AWS4-HMAC-SHA256 Credential=AKID/20261120/us-east-1/bedrock/aws5_request, SignedHeaders=host, Signature=abc",
		"AWS4-HMAC-SHA256 Credential=AKID/a/20261120/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=abc",
	} {
		if _, ok, err := sigv4.ParseAuthorization(h); !ok || !errors.Is(err, sigv4.ErrCredentialScope) {
			t.Errorf("%q: %v %v", h, ok, err)
		}
	}
}

func TestRequestPath(t *testing.T) {
	for _, tc := range []struct{ requestURI, url, want string }{
		{"/model/a%3A0/converse?x=1", "/model/a:0/converse?x=1", "/model/a%3A0/converse"},
		{"http://host/model/a%2Fb/invoke?x=1", "http://host/model/a%2Fb/invoke?x=1", "/model/a%2Fb/invoke"},
		// A handler below a stripped prefix sees a shorter URL; the client signed the whole path.
		{"/bedrock/model/m/invoke", "/model/m/invoke", "/bedrock/model/m/invoke"},
		// Built by a client: no RequestURI.
		{"", "http://host/model/a%3A0/converse", "/model/a%3A0/converse"},
		{"", "http://host", "/"},
	} {
		r, err := http.NewRequest(http.MethodPost, tc.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.RequestURI = tc.requestURI
		if got := sigv4.RequestPath(r); got != tc.want {
			t.Errorf("RequestPath(%q, %q) = %q, want %q", tc.requestURI, tc.url, got, tc.want)
		}
	}
}

// The signing key example of the AWS documentation ("Examples of how to derive a signing
// key for Signature Version 4").
func TestSigningKey(t *testing.T) {
	got := hex.EncodeToString(sigv4.SigningKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam"))
	if want := "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"; got != want {
		t.Errorf("signing key %s, want %s", got, want)
	}
}
