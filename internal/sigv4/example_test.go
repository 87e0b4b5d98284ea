package sigv4_test

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/aiproxy-go/aiproxy/internal/sigv4"
)

// A server checks a request's signature: parse the Authorization header, apply its own
// policy (key, scope, time), then verify against the path as it came on the wire.
func ExampleVerify() {
	body := `{"messages":[]}`
	r := httptest.NewRequest("POST", "http://bedrock.test/model/m-v1%3A0/converse", strings.NewReader(body))
	r.Header.Set("X-Amz-Date", "20261120T120000Z")

	// Sign as a client would, with the same pieces.
	a := sigv4.Auth{AccessKeyID: "AKID", Date: "20261120", Region: "us-east-1", Service: "bedrock",
		SignedHeaders: []string{"host", "x-amz-date"}}
	canonical := sigv4.CanonicalRequest(r.Method, sigv4.RequestPath(r), r.URL.RawQuery, r.Header, r.Host,
		a.SignedHeaders, sigv4.PayloadHash([]byte(body)))
	a.Signature = sigv4.Signature("secret", a.Date, a.Region, a.Service,
		sigv4.StringToSign("20261120T120000Z", a.Scope(), canonical))
	r.Header.Set("Authorization", sigv4.Algorithm+" Credential=AKID/"+a.Scope()+
		", SignedHeaders=host;x-amz-date, Signature="+a.Signature)

	got, ok, err := sigv4.ParseAuthorization(r.Header.Get("Authorization"))
	fmt.Println(ok, err, got.AccessKeyID, got.Region)
	canonical, _, err = sigv4.Verify(r, sigv4.RequestPath(r), got, sigv4.PayloadHash([]byte(body)), "secret")
	fmt.Println(err)
	fmt.Println(canonical)
	_, _, err = sigv4.Verify(r, sigv4.RequestPath(r), got, sigv4.PayloadHash([]byte(body)), "wrong")
	fmt.Println(errors.Is(err, sigv4.ErrSignatureMismatch))
	// Output:
	// true <nil> AKID us-east-1
	// <nil>
	// POST
	// /model/m-v1%253A0/converse
	//
	// host:bedrock.test
	// x-amz-date:20261120T120000Z
	//
	// host;x-amz-date
	// 5e4ce7b36ba37b78a5d5f9fd08e6b7b54ba6879d651aa46ec9e1d6fa24ebe30a
	// true
}
