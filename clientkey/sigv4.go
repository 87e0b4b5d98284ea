package clientkey

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/aiproxy-go/aiproxy/internal/sigv4"
)

// SigV4MaxSkew is how far a signed request's X-Amz-Date may be from the proxy's clock, as
// AWS allows: older requests are refused (which bounds replays), as are ones from the future.
const SigV4MaxSkew = 15 * time.Minute

// SigV4Auth is the parsed Authorization header of a request signed with AWS Signature
// Version 4: AccessKeyID, Date (the credential scope's day, YYYYMMDD), Region, Service,
// SignedHeaders (lower case, sorted, as the client listed them) and Signature (hex).
type SigV4Auth = sigv4.Auth

// ParseSigV4 parses an Authorization header value of the form
// "AWS4-HMAC-SHA256 Credential=AKID/20261120/us-east-1/bedrock/aws4_request,
// SignedHeaders=host;x-amz-date, Signature=hex". It reports false when the value is not a
// SigV4 header at all, and an error when it is a malformed one.
func ParseSigV4(authorization string) (SigV4Auth, bool, error) {
	a, ok, err := sigv4.ParseAuthorization(authorization)
	if ok && err == nil && a.AccessKeyID == "" {
		return SigV4Auth{}, true, sigv4.ErrCredentialScope
	}
	return a, ok, err
}

// VerifySigV4 checks that r, whose body is body, was signed by a holder of secret as
// described by a (parsed from r's Authorization header), at most SigV4MaxSkew from now.
//
// The canonical request is rebuilt from what arrived: the method; the path as it came on the
// wire (the path part of r.RequestURI) percent-encoded once more, which is what the AWS SDKs
// sign for every service but S3; the query with each name and value encoded and the pairs
// sorted; each signed header's values, trimmed, inner spaces collapsed and joined with
// commas (host from r.Host); and the SHA-256 of body, which must equal X-Amz-Content-Sha256
// when the client sent one (UNSIGNED-PAYLOAD is refused). Host and X-Amz-Date must be
// signed. The signature is compared in constant time.
//
// Because the path is the one on the wire, a proxy mounted below a prefix that it strips
// verifies what the client signed. A request without a RequestURI (built rather than
// received) is verified against r.URL.EscapedPath.
func VerifySigV4(r *http.Request, a SigV4Auth, body []byte, secret string, now time.Time) error {
	amzDate := r.Header.Get("X-Amz-Date")
	signedAt, err := time.Parse(sigv4.TimeFormat, amzDate)
	if err != nil {
		return errors.New("sigv4 request without a valid x-amz-date")
	}
	if a.Date != amzDate[:8] {
		return errors.New("sigv4 credential scope date does not match x-amz-date")
	}
	if d := now.Sub(signedAt); d > SigV4MaxSkew || d < -SigV4MaxSkew {
		return fmt.Errorf("sigv4 signature expired: signed at %s, more than %v from now", amzDate, SigV4MaxSkew)
	}
	if !slices.Contains(a.SignedHeaders, "host") || !slices.Contains(a.SignedHeaders, "x-amz-date") {
		return errors.New("sigv4 signed headers must include host and x-amz-date")
	}
	payload := sigv4.PayloadHash(body)
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payload {
		return errors.New("x-amz-content-sha256 does not match the body")
	}
	_, _, err = sigv4.Verify(r, sigv4.RequestPath(r), a, payload, secret)
	return err
}
