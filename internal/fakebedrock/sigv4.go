package fakebedrock

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aiproxy-go/aiproxy/internal/sigv4"
)

// service is the signing name of the Bedrock runtime.
const service = "bedrock"

// maxSkew is how far a request's X-Amz-Date may be from the fake's clock, as AWS allows.
const maxSkew = 15 * time.Minute

// authError is a refused signature, answered in AWS's shape.
type authError struct {
	status  int
	typ     string
	message string
}

// verify checks the request's AWS Signature Version 4 as the service does: it rebuilds the
// canonical request from what arrived (the path as on the wire, encoded once more, the
// query, the signed headers' values and the SHA-256 of the body received), derives the
// signing key from its own secret and compares signatures.
func (b *Bedrock) verify(r *http.Request, path string, body []byte) *authError {
	h := r.Header.Get("Authorization")
	if h == "" {
		return &authError{http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token"}
	}
	a, ok, err := sigv4.ParseAuthorization(h)
	if !ok {
		return &authError{http.StatusBadRequest, "IncompleteSignatureException",
			"Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=" + firstWord(h)}
	}
	if missing := (*sigv4.MissingParameterError)(nil); errors.As(err, &missing) {
		return &authError{http.StatusBadRequest, "IncompleteSignatureException",
			"Authorization header requires '" + missing.Name + "' parameter. Authorization=" + sigv4.Algorithm}
	}
	if err != nil {
		return &authError{http.StatusBadRequest, "IncompleteSignatureException",
			"Credential should be scoped to a valid region."}
	}
	if a.AccessKeyID != b.opts.AccessKeyID {
		return &authError{http.StatusForbidden, "UnrecognizedClientException", "The security token included in the request is invalid."}
	}
	if b.opts.SessionToken != "" && r.Header.Get("X-Amz-Security-Token") != b.opts.SessionToken {
		return &authError{http.StatusForbidden, "UnrecognizedClientException", "The security token included in the request is invalid."}
	}
	if a.Region != b.opts.Region {
		return &authError{http.StatusForbidden, "InvalidSignatureException",
			"Credential should be scoped to a valid region. "}
	}
	if a.Service != service {
		return &authError{http.StatusForbidden, "InvalidSignatureException",
			"Credential should be scoped to correct service: '" + service + "'. "}
	}
	amzDate := r.Header.Get("X-Amz-Date")
	t, err := time.Parse(sigv4.TimeFormat, amzDate)
	if err != nil {
		return &authError{http.StatusBadRequest, "IncompleteSignatureException",
			"Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."}
	}
	if a.Date != amzDate[:8] {
		return &authError{http.StatusForbidden, "InvalidSignatureException",
			"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '" + a.Date + "' != '" + amzDate[:8] + "', from '" + amzDate + "'."}
	}
	now := b.opts.Now().UTC()
	if d := now.Sub(t); d > maxSkew || d < -maxSkew {
		return &authError{http.StatusForbidden, "InvalidSignatureException",
			"Signature expired: " + amzDate + " is now earlier than " + now.Add(-maxSkew).Format(sigv4.TimeFormat) +
				" (" + now.Format(sigv4.TimeFormat) + " - 15 min.)"}
	}
	if !slices.Contains(a.SignedHeaders, "host") {
		return &authError{http.StatusForbidden, "InvalidSignatureException",
			"'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."}
	}
	canonical, toSign, err := sigv4.Verify(r, path, a, sigv4.PayloadHash(body), b.opts.SecretAccessKey)
	if err != nil {
		return &authError{http.StatusForbidden, "InvalidSignatureException",
			"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\n" +
				"The Canonical String for this request should have been\n'" + canonical + "'\n\n" +
				"The String-to-Sign should have been\n'" + toSign + "'\n"}
	}
	return nil
}

func firstWord(s string) string {
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return s[:i]
	}
	return s
}
