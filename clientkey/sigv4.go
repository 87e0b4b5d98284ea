package clientkey

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SigV4MaxSkew is how far a signed request's X-Amz-Date may be from the proxy's clock, as
// AWS allows: older requests are refused (which bounds replays), as are ones from the future.
const SigV4MaxSkew = 15 * time.Minute

const sigV4Algorithm = "AWS4-HMAC-SHA256"

// SigV4Auth is the parsed Authorization header of a request signed with AWS Signature
// Version 4.
type SigV4Auth struct {
	AccessKeyID   string
	Date          string // the credential scope's day, YYYYMMDD
	Region        string
	Service       string
	SignedHeaders []string // lower case, sorted, as the client listed them
	Signature     string   // hex
}

// ParseSigV4 parses an Authorization header value of the form
// "AWS4-HMAC-SHA256 Credential=AKID/20261120/us-east-1/bedrock/aws4_request,
// SignedHeaders=host;x-amz-date, Signature=hex". It reports false when the value is not a
// SigV4 header at all, and an error when it is a malformed one.
func ParseSigV4(authorization string) (SigV4Auth, bool, error) {
	rest, ok := strings.CutPrefix(authorization, sigV4Algorithm+" ")
	if !ok {
		return SigV4Auth{}, false, nil
	}
	var a SigV4Auth
	var cred, signed string
	for part := range strings.SplitSeq(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			signed = v
		case "Signature":
			a.Signature = v
		}
	}
	scope := strings.Split(cred, "/")
	if len(scope) != 5 || scope[0] == "" || scope[4] != "aws4_request" {
		return SigV4Auth{}, true, errors.New("malformed sigv4 credential scope")
	}
	a.AccessKeyID, a.Date, a.Region, a.Service = scope[0], scope[1], scope[2], scope[3]
	if signed == "" || a.Signature == "" {
		return SigV4Auth{}, true, errors.New("sigv4 authorization lacks signed headers or signature")
	}
	a.SignedHeaders = strings.Split(signed, ";")
	return a, true, nil
}

// VerifySigV4 checks that r, whose body is body, was signed by a holder of secret as
// described by a (parsed from r's Authorization header), at most SigV4MaxSkew from now.
//
// The canonical request is rebuilt from what arrived: the method; the path as it came on the
// wire (URL.EscapedPath) percent-encoded once more, which is what the AWS SDKs sign for every
// service but S3; the query with each name and value encoded and the pairs sorted; each
// signed header's values, trimmed, inner spaces collapsed and joined with commas (host from
// r.Host); and the SHA-256 of body, which must equal X-Amz-Content-Sha256 when the client
// sent one (UNSIGNED-PAYLOAD is refused). The signature is compared in constant time.
//
// The path is the one r.URL holds: a proxy mounted below a prefix it strips must verify
// before stripping.
func VerifySigV4(r *http.Request, a SigV4Auth, body []byte, secret string, now time.Time) error {
	amzDate := r.Header.Get("X-Amz-Date")
	signedAt, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return errors.New("sigv4 request without a valid x-amz-date")
	}
	if a.Date != amzDate[:8] {
		return errors.New("sigv4 credential scope date does not match x-amz-date")
	}
	if d := now.Sub(signedAt); d > SigV4MaxSkew || d < -SigV4MaxSkew {
		return fmt.Errorf("sigv4 signature expired: signed at %s, more than %v from now", amzDate, SigV4MaxSkew)
	}
	if !contains(a.SignedHeaders, "host") || !contains(a.SignedHeaders, "x-amz-date") {
		return errors.New("sigv4 signed headers must include host and x-amz-date")
	}
	sum := sha256.Sum256(body)
	payload := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payload {
		return errors.New("x-amz-content-sha256 does not match the body")
	}

	canonical := canonicalRequest(r, a.SignedHeaders, payload)
	scope := a.Date + "/" + a.Region + "/" + a.Service + "/aws4_request"
	csum := sha256.Sum256([]byte(canonical))
	toSign := sigV4Algorithm + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(csum[:])
	key := hmacSHA256([]byte("AWS4"+secret), a.Date)
	key = hmacSHA256(key, a.Region)
	key = hmacSHA256(key, a.Service)
	key = hmacSHA256(key, "aws4_request")
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	if !hmac.Equal([]byte(want), []byte(a.Signature)) {
		return errors.New("sigv4 signature does not match")
	}
	return nil
}

func canonicalRequest(r *http.Request, signed []string, payload string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(sigV4Escape(r.URL.EscapedPath(), false))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL.RawQuery))
	b.WriteByte('\n')
	for _, name := range signed {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(canonicalHeader(r, name))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	b.WriteString(payload)
	return b.String()
}

// canonicalHeader is the canonical value of the signed header name.
func canonicalHeader(r *http.Request, name string) string {
	var vals []string
	switch name {
	case "host":
		vals = []string{r.Host}
	case "content-length":
		// Go's server may keep the length only in r.ContentLength.
		vals = r.Header.Values("Content-Length")
		if len(vals) == 0 && r.ContentLength >= 0 {
			vals = []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	default:
		vals = r.Header.Values(name)
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(out, ",")
}

// canonicalQuery encodes each query name and value and sorts the pairs.
func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return raw
	}
	pairs := make([]string, 0, len(q))
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, sigV4Escape(k, true)+"="+sigV4Escape(v, true))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

// sigV4Escape percent-encodes every byte except the unreserved characters (and '/', unless
// slash is set), with upper-case hex digits.
func sigV4Escape(s string, slash bool) string {
	const digits = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+16)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~' || c == '/' && !slash {
			b = append(b, c)
			continue
		}
		b = append(b, '%', digits[c>>4], digits[c&15])
	}
	return string(b)
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
