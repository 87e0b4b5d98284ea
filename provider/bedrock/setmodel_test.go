package bedrock

import (
	"testing"

	"github.com/aiproxy-go/aiproxy/provider"
)

func TestSetModel(t *testing.T) {
	p := &Provider{}
	req := &provider.Request{Endpoint: "/model/anthropic.claude-3-haiku-20240307-v1:0/converse-stream"}
	if err := p.Parse(req); err != nil {
		t.Fatal(err)
	}
	if err := p.SetModel(req, "us.anthropic.claude-3-5-haiku-20241022-v1:0"); err != nil {
		t.Fatal(err)
	}
	if req.Endpoint != "/model/us.anthropic.claude-3-5-haiku-20241022-v1:0/converse-stream" || req.Model != "us.anthropic.claude-3-5-haiku-20241022-v1:0" {
		t.Fatalf("endpoint %q model %q", req.Endpoint, req.Model)
	}
	if err := p.Parse(req); err != nil || req.Model != "us.anthropic.claude-3-5-haiku-20241022-v1:0" || !req.Stream {
		t.Fatalf("parse after set: %v model %q stream %v", err, req.Model, req.Stream)
	}
	// An ARN keeps its slashes escaped, so the path still names one model.
	if err := p.SetModel(req, "arn:aws:bedrock:us-east-1::foundation-model/x"); err != nil {
		t.Fatal(err)
	}
	if err := p.Parse(req); err != nil || req.Model != "arn:aws:bedrock:us-east-1::foundation-model/x" {
		t.Fatalf("arn: %v %q (%s)", err, req.Model, req.Endpoint)
	}
	if err := p.SetModel(&provider.Request{Endpoint: "/foo"}, "m"); err == nil {
		t.Fatal("no error for an endpoint without a model")
	}
}
