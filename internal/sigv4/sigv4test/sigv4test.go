// Package sigv4test signs requests with the AWS SDK's own SigV4 signer and hands them over
// as a server receives them, for tests of code that verifies signatures.
package sigv4test

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go/logging"

	"github.com/aiproxy-go/aiproxy/internal/sigv4"
)

// Request is what to sign. Service defaults to "bedrock", Region to "us-east-1" and Time
// to now.
type Request struct {
	Method, URL                  string
	Header                       http.Header
	Body                         []byte
	AccessKeyID, SecretAccessKey string
	Region, Service              string
	Time                         time.Time
}

// Signed is a request signed by the SDK, as a server receives it, with the canonical
// request and string to sign the SDK built for it.
type Signed struct {
	Received         *http.Request
	CanonicalRequest string
	StringToSign     string
}

// Sign signs r with the SDK's signer (the payload hash is that of r.Body), then writes the
// request out and reads it back with http.ReadRequest, so that RequestURI, Host and
// Content-Length are what a server would see. It fails t on any error.
func Sign(t testing.TB, r Request) Signed {
	t.Helper()
	req, err := http.NewRequest(r.Method, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	service, region, at := r.Service, r.Region, r.Time
	if service == "" {
		service = "bedrock"
	}
	if region == "" {
		region = "us-east-1"
	}
	if at.IsZero() {
		at = time.Now()
	}
	var s Signed
	logger := logging.LoggerFunc(func(_ logging.Classification, _ string, v ...any) {
		if len(v) >= 2 {
			s.CanonicalRequest, _ = v[0].(string)
			s.StringToSign, _ = v[1].(string)
		}
	})
	err = v4.NewSigner().SignHTTP(context.Background(),
		aws.Credentials{AccessKeyID: r.AccessKeyID, SecretAccessKey: r.SecretAccessKey},
		req, sigv4.PayloadHash(r.Body), service, region, at,
		func(o *v4.SignerOptions) { o.LogSigning, o.Logger = true, logger })
	if err != nil {
		t.Fatal(err)
	}
	var wire bytes.Buffer
	if err := req.Write(&wire); err != nil {
		t.Fatal(err)
	}
	s.Received, err = http.ReadRequest(bufio.NewReader(&wire))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
