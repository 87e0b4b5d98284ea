package fakegemini

import (
	"net/http"

	"github.com/aiproxy-go/aiproxy/internal/fakefault"
)

// faults is what the x-fake-* headers of one request ask for.
type faults struct {
	fakefault.Faults
	thoughts     int
	cachedTokens int
}

// parse reads the x-fake-* headers. A header whose value cannot be read is an error, so that
// a mistake in a test does not go unnoticed.
func (f *faults) parse(h http.Header) error {
	*f = faults{Faults: fakefault.New(3)}
	p := fakefault.NewParser(h)
	f.Read(p)
	p.Int(HeaderThoughts, &f.thoughts, 0)
	p.Int(HeaderCachedTokens, &f.cachedTokens, 0)
	if err := p.Err(); err != nil {
		return err
	}
	return f.CheckStatus()
}

// errorInfo is a google.rpc.ErrorInfo detail.
func errorInfo(reason string, metadata map[string]string) map[string]any {
	return map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "googleapis.com", "metadata": metadata}
}

// googleError is the body of every error of the API.
type googleError struct {
	Error googleErrorStatus `json:"error"`
}

type googleErrorStatus struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
	Details []any  `json:"details,omitempty"`
}

// writeError sends Google's error body. For a streamGenerateContent request without
// alt=sse the body is a JSON array holding the error, as the real API sends it.
func (x *exchange) writeError(status int, message, canonical string, details []any) {
	body := indent(googleError{googleErrorStatus{Code: status, Message: message, Status: canonical, Details: details}})
	if x.arrayErrors {
		body = append(append([]byte("["), body...), "\n]"...)
	}
	x.writeBody(status, "application/json; charset=UTF-8", body)
}

// writeStatusError answers an injected status with the error the real API sends with it.
func (x *exchange) writeStatusError(status int) {
	switch status {
	case http.StatusBadRequest:
		x.writeError(status, "Request contains an invalid argument.", "INVALID_ARGUMENT", nil)
	case http.StatusUnauthorized:
		x.writeError(status, "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.", "UNAUTHENTICATED", nil)
	case http.StatusForbidden:
		x.writeError(status, "The caller does not have permission", "PERMISSION_DENIED", nil)
	case http.StatusNotFound:
		x.writeError(status, "Requested entity was not found.", "NOT_FOUND", nil)
	case http.StatusTooManyRequests:
		x.writeError(status, "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.", "RESOURCE_EXHAUSTED", []any{
			map[string]any{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []any{map[string]any{
				"quotaMetric":     "generativelanguage.googleapis.com/generate_content_free_tier_requests",
				"quotaId":         "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
				"quotaDimensions": map[string]string{"location": "global", "model": x.model},
				"quotaValue":      "10",
			}}},
			map[string]any{"@type": "type.googleapis.com/google.rpc.Help", "links": []any{map[string]string{
				"description": "Learn more about Gemini API quotas", "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}}},
			map[string]any{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"},
		})
	case http.StatusInternalServerError:
		x.writeError(status, "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting", "INTERNAL", nil)
	case http.StatusServiceUnavailable:
		x.writeError(status, "The model is overloaded. Please try again later.", "UNAVAILABLE", nil)
	case http.StatusGatewayTimeout:
		x.writeError(status, "The request timed out. Please try again.", "DEADLINE_EXCEEDED", nil)
	default:
		canonical := "FAILED_PRECONDITION"
		if status >= 500 {
			canonical = "INTERNAL"
		}
		x.writeError(status, http.StatusText(status)+" (injected by x-fake-status).", canonical, nil)
	}
}
