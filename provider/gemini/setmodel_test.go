package gemini

import (
	"testing"

	"github.com/aiproxy-go/aiproxy/provider"
)

func TestSetModel(t *testing.T) {
	p := &Provider{}
	for _, tc := range []struct{ endpoint, model, want string }{
		{"/v1beta/models/gemini-2.5-pro:streamGenerateContent", "gemini-2.5-flash", "/v1beta/models/gemini-2.5-flash:streamGenerateContent"},
		{"/v1beta/models/gemini-2.5-pro:generateContent", "models/gemini-2.0-flash", "/v1beta/models/gemini-2.0-flash:generateContent"},
		{"/v1beta/tunedModels/my-tune:generateContent", "gemini-2.5-flash", "/v1beta/models/gemini-2.5-flash:generateContent"},
		{"/v1/models/gemini-2.5-pro:countTokens", "tunedModels/t2", "/v1/tunedModels/t2:countTokens"},
	} {
		req := &provider.Request{Endpoint: tc.endpoint}
		if err := p.SetModel(req, tc.model); err != nil {
			t.Fatalf("%s: %v", tc.endpoint, err)
		}
		if req.Endpoint != tc.want {
			t.Errorf("%s → %q, want %q", tc.endpoint, req.Endpoint, tc.want)
		}
		if m, _ := endpointParts(req.Endpoint); m != req.Model {
			t.Errorf("%s: path names %q, Model %q", tc.endpoint, m, req.Model)
		}
	}
	if err := p.SetModel(&provider.Request{Endpoint: "/v1beta/files"}, "m"); err == nil {
		t.Fatal("no error for an endpoint without a model")
	}
}
