package fakebedrock

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
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
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return &authError{http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token"}
	}
	const algo = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, algo) {
		return &authError{http.StatusBadRequest, "IncompleteSignatureException",
			"Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=" + firstWord(auth)}
	}
	fields := map[string]string{}
	for part := range strings.SplitSeq(auth[len(algo):], ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok {
			fields[k] = v
		}
	}
	for _, k := range []string{"Credential", "SignedHeaders", "Signature"} {
		if fields[k] == "" {
			return &authError{http.StatusBadRequest, "IncompleteSignatureException",
				"Authorization header requires '" + k + "' parameter. Authorization=" + auth[:len(algo)-1]}
		}
	}
	cred := strings.Split(fields["Credential"], "/")
	if len(cred) != 5 || cred[4] != "aws4_request" {
		return &authError{http.StatusBadRequest, "IncompleteSignatureException",
			"Credential should be scoped to a valid region."}
	}
	if cred[0] != b.opts.AccessKeyID {
		return &authError{http.StatusForbidden, "UnrecognizedClientException", "The security token included in the request is invalid."}
	}
	if b.opts.SessionToken != "" && r.Header.Get("X-Amz-Security-Token") != b.opts.SessionToken {
		return &authError{http.StatusForbidden, "UnrecognizedClientException", "The security token included in the request is invalid."}
	}
	if cred[2] != b.opts.Region {
		return &authError{http.StatusForbidden, "InvalidSignatureException",
			"Credential should be scoped to a valid region. "}
	}
	if cred[3] != service {
		return &authError{http.StatusForbidden, "InvalidSignatureException",
			"Credential should be scoped to correct service: '" + service + "'. "}
	}
	amzDate := r.Header.Get("X-Amz-Date")
	t, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return &authError{http.StatusBadRequest, "IncompleteSignatureException",
			"Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."}
	}
	if cred[1] != amzDate[:8] {
		return &authError{http.StatusForbidden, "InvalidSignatureException",
			"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '" + cred[1] + "' != '" + amzDate[:8] + "', from '" + amzDate + "'."}
	}
	now := b.opts.Now().UTC()
	if d := now.Sub(t); d > maxSkew || d < -maxSkew {
		return &authError{http.StatusForbidden, "InvalidSignatureException",
			"Signature expired: " + amzDate + " is now earlier than " + now.Add(-maxSkew).Format("20060102T150405Z") +
				" (" + now.Format("20060102T150405Z") + " - 15 min.)"}
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	if !contains(signed, "host") {
		return &authError{http.StatusForbidden, "InvalidSignatureException",
			"'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."}
	}

	canonical := canonicalRequest(r, path, signed, body)
	scope := strings.Join(cred[1:], "/")
	sum := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	key := hmacSHA256([]byte("AWS4"+b.opts.SecretAccessKey), cred[1])
	key = hmacSHA256(key, cred[2])
	key = hmacSHA256(key, cred[3])
	key = hmacSHA256(key, "aws4_request")
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	if !hmac.Equal([]byte(want), []byte(fields["Signature"])) {
		return &authError{http.StatusForbidden, "InvalidSignatureException",
			"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\n" +
				"The Canonical String for this request should have been\n'" + canonical + "'\n\n" +
				"The String-to-Sign should have been\n'" + toSign + "'\n"}
	}
	return nil
}

// canonicalRequest is the SigV4 canonical request of what arrived. Services other than S3
// encode the path once more, so a path that came with %3A is signed as %253A.
func canonicalRequest(r *http.Request, path string, signed []string, body []byte) string {
	var sb strings.Builder
	sb.WriteString(r.Method)
	sb.WriteByte('\n')
	sb.WriteString(uriEncode(path, false))
	sb.WriteByte('\n')
	sb.WriteString(canonicalQuery(r.URL.RawQuery))
	sb.WriteByte('\n')
	for _, name := range signed {
		sb.WriteString(name)
		sb.WriteByte(':')
		sb.WriteString(headerValue(r, name))
		sb.WriteByte('\n')
	}
	sb.WriteByte('\n')
	sb.WriteString(strings.Join(signed, ";"))
	sb.WriteByte('\n')
	sum := sha256.Sum256(body)
	sb.WriteString(hex.EncodeToString(sum[:]))
	return sb.String()
}

// headerValue is a signed header's canonical value: its values trimmed, inner runs of
// spaces collapsed, joined with commas.
func headerValue(r *http.Request, name string) string {
	var vals []string
	switch name {
	case "host":
		vals = []string{r.Host}
	case "content-length":
		if v := r.Header.Values("Content-Length"); len(v) > 0 {
			vals = v
		} else if r.ContentLength >= 0 {
			vals = []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	default:
		vals = r.Header.Values(name)
	}
	for i, v := range vals {
		vals[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(vals, ",")
}

// canonicalQuery encodes each name and value and sorts the pairs after encoding.
func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	q, _ := url.ParseQuery(raw)
	var pairs []string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, uriEncode(k, true)+"="+uriEncode(v, true))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

// uriEncode percent-encodes every byte but the unreserved ones (and '/' unless
// encodeSlash), with upper-case hex, as SigV4 requires.
func uriEncode(s string, encodeSlash bool) string {
	const hexUpper = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '/' && !encodeSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexUpper[c>>4])
			b.WriteByte(hexUpper[c&15])
		}
	}
	return b.String()
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func firstWord(s string) string {
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return s[:i]
	}
	return s
}
