// Package sigv4 verifies AWS Signature Version 4 on requests received by a server: it parses
// the Authorization header, rebuilds the canonical request and string-to-sign from what
// arrived, derives the signing key from a secret and compares signatures.
//
// It is the one implementation behind the proxy's check of a Bedrock client's signature
// (clientkey) and the fake Bedrock's check of the proxy's (internal/fakebedrock). Policy
// stays with the callers: which access key, region and service to accept, how far
// X-Amz-Date may be from now, which headers must be signed, and the words of each refusal.
//
// Paths are encoded as AWS signs them for every service but S3: the path as it came on the
// wire, percent-encoded once more, so a model id sent as "v1%3A0" is signed as "v1%253A0".
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Algorithm is the signing algorithm named at the start of the Authorization header and of
// the string to sign.
const Algorithm = "AWS4-HMAC-SHA256"

// TimeFormat is the layout of the X-Amz-Date header, in UTC.
const TimeFormat = "20060102T150405Z"

// ErrCredentialScope reports a Credential parameter that is not
// "AKID/YYYYMMDD/region/service/aws4_request".
var ErrCredentialScope = errors.New("malformed sigv4 credential scope")

// ErrSignatureMismatch reports a signature that differs from the one the secret gives for
// the request as received.
var ErrSignatureMismatch = errors.New("sigv4 signature does not match")

// MissingParameterError reports a SigV4 Authorization header without one of its three
// parameters.
type MissingParameterError struct {
	Name string // "Credential", "SignedHeaders" or "Signature"
}

// Error implements error.
func (e *MissingParameterError) Error() string {
	return "sigv4 authorization lacks the " + e.Name + " parameter"
}

// Auth is the parsed Authorization header of a request signed with AWS Signature Version 4.
type Auth struct {
	AccessKeyID   string
	Date          string // the credential scope's day, YYYYMMDD
	Region        string
	Service       string
	SignedHeaders []string // lower case, sorted, as the client listed them
	Signature     string   // hex
}

// Scope is the credential scope, "YYYYMMDD/region/service/aws4_request".
func (a Auth) Scope() string {
	return a.Date + "/" + a.Region + "/" + a.Service + "/aws4_request"
}

// ParseAuthorization parses an Authorization header value of the form
// "AWS4-HMAC-SHA256 Credential=AKID/20261120/us-east-1/bedrock/aws4_request,
// SignedHeaders=host;x-amz-date, Signature=hex". It reports false when h is not a SigV4
// header at all. A SigV4 header that lacks a parameter gives a *MissingParameterError (the
// first missing of Credential, SignedHeaders, Signature); one whose credential scope has not
// five parts ending in aws4_request gives ErrCredentialScope. An empty access key id is
// left for the caller to refuse.
func ParseAuthorization(h string) (Auth, bool, error) {
	rest, ok := strings.CutPrefix(h, Algorithm+" ")
	if !ok {
		return Auth{}, false, nil
	}
	var cred, signed, signature string
	for part := range strings.SplitSeq(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			signed = v
		case "Signature":
			signature = v
		}
	}
	for _, p := range [...]struct{ name, value string }{
		{"Credential", cred}, {"SignedHeaders", signed}, {"Signature", signature},
	} {
		if p.value == "" {
			return Auth{}, true, &MissingParameterError{Name: p.name}
		}
	}
	scope := strings.Split(cred, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return Auth{}, true, ErrCredentialScope
	}
	return Auth{
		AccessKeyID:   scope[0],
		Date:          scope[1],
		Region:        scope[2],
		Service:       scope[3],
		SignedHeaders: strings.Split(signed, ";"),
		Signature:     signature,
	}, true, nil
}

// RequestPath is the path of a request received by a server exactly as it came on the wire
// (the path part of r.RequestURI), which is what the client signed. r.URL.EscapedPath may
// differ: it re-encodes a path whose escaping Go does not keep, and a handler mounted below
// a prefix sees the path without it. A request with no RequestURI (one built by a client)
// gives r.URL.EscapedPath.
func RequestPath(r *http.Request) string {
	if r.RequestURI == "" {
		return orRoot(r.URL.EscapedPath())
	}
	p, _, _ := strings.Cut(r.RequestURI, "?")
	if !strings.HasPrefix(p, "/") {
		// An absolute-form request target: "http://host/path".
		if u, err := url.Parse(r.RequestURI); err == nil {
			p = u.EscapedPath()
		}
	}
	return orRoot(p)
}

// orRoot is path, or "/" when it is empty.
func orRoot(path string) string {
	if path == "" {
		return "/"
	}
	return path
}

// PayloadHash is the hex SHA-256 of body, the last line of the canonical request and the
// value of X-Amz-Content-Sha256.
func PayloadHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// CanonicalRequest is the SigV4 canonical request: the method; path (as on the wire)
// percent-encoded once more; the query's names and values encoded and the pairs sorted by
// name, then value; each signed header with its canonical value (host for "host", the
// values of h otherwise, each trimmed with inner runs of spaces collapsed, joined with
// commas); the signed header names; and payloadHash.
func CanonicalRequest(method, path, rawQuery string, h http.Header, host string, signed []string, payloadHash string) string {
	var b strings.Builder
	b.WriteString(method)
	b.WriteByte('\n')
	b.WriteString(uriEncode(path, false))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(rawQuery))
	b.WriteByte('\n')
	for _, name := range signed {
		b.WriteString(name)
		b.WriteByte(':')
		if name == "host" {
			b.WriteString(canonicalValue([]string{host}))
		} else {
			b.WriteString(canonicalValue(h.Values(name)))
		}
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

// StringToSign is the SigV4 string to sign for a canonical request sent at amzDate (the
// X-Amz-Date value) under the credential scope (Auth.Scope).
func StringToSign(amzDate, scope, canonicalRequest string) string {
	sum := sha256.Sum256([]byte(canonicalRequest))
	return Algorithm + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
}

// SigningKey derives the signing key of secret for one day (YYYYMMDD), region and service.
func SigningKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, "aws4_request")
}

// Signature is the hex signature of stringToSign with the signing key of secret for date,
// region and service.
func Signature(secret, date, region, service, stringToSign string) string {
	return hex.EncodeToString(hmacSHA256(SigningKey(secret, date, region, service), stringToSign))
}

// Verify checks a's signature of r, a request received by a server whose path as on the
// wire is path (usually RequestPath(r)) and whose body hashes to payloadHash, against the
// one secret gives. It takes the method, query, X-Amz-Date and the signed headers from r,
// the host from r.Host, and a Content-Length that Go's server keeps only in
// r.ContentLength from there. The signatures are compared in constant time; a mismatch is
// ErrSignatureMismatch.
//
// Verify checks the signature only: the caller decides which access key, scope and date to
// accept, and which headers must be signed. It returns the canonical request and string to
// sign it rebuilt, which a service quotes when it refuses a signature.
func Verify(r *http.Request, path string, a Auth, payloadHash, secret string) (canonicalRequest, stringToSign string, err error) {
	h := r.Header
	if slices.Contains(a.SignedHeaders, "content-length") && len(h.Values("Content-Length")) == 0 && r.ContentLength >= 0 {
		h = h.Clone()
		h.Set("Content-Length", strconv.FormatInt(r.ContentLength, 10))
	}
	canonicalRequest = CanonicalRequest(r.Method, path, r.URL.RawQuery, h, r.Host, a.SignedHeaders, payloadHash)
	stringToSign = StringToSign(r.Header.Get("X-Amz-Date"), a.Scope(), canonicalRequest)
	want := Signature(secret, a.Date, a.Region, a.Service, stringToSign)
	if !hmac.Equal([]byte(want), []byte(a.Signature)) {
		return canonicalRequest, stringToSign, ErrSignatureMismatch
	}
	return canonicalRequest, stringToSign, nil
}

// canonicalValue is a signed header's canonical value: each value trimmed, inner runs of
// spaces collapsed, joined with commas.
func canonicalValue(vals []string) string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(out, ",")
}

// canonicalQuery encodes each query name and value and sorts the pairs by encoded name,
// then encoded value. Pairs that do not parse are left out, as the AWS SDKs leave them out
// of what they sign.
func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	q, _ := url.ParseQuery(raw)
	type pair struct{ k, v string }
	var pairs []pair
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, pair{uriEncode(k, true), uriEncode(v, true)})
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

// uriEncode percent-encodes every byte but the unreserved ones (and '/' unless
// encodeSlash), with upper-case hex digits, as SigV4 requires.
func uriEncode(s string, encodeSlash bool) string {
	const digits = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+16)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '/' && !encodeSlash:
			b = append(b, c)
		default:
			b = append(b, '%', digits[c>>4], digits[c&15])
		}
	}
	return string(b)
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}
