package bedrock

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aiproxy-go/aiproxy/internal/fakebedrock"
	"github.com/aiproxy-go/aiproxy/provider"
)

func TestStripClientAuth(t *testing.T) {
	h := http.Header{
		"Authorization":        {"AWS4-HMAC-SHA256 Credential=AKIACLIENT/20240101/private/bedrock/aws4_request, SignedHeaders=host, Signature=abc"},
		"X-Amz-Date":           {"20240101T000000Z"},
		"X-Amz-Security-Token": {"client-token"},
		"X-Amz-Content-Sha256": {"UNSIGNED-PAYLOAD"},
		"Amz-Sdk-Request":      {"attempt=1; max=3"},
		"Content-Type":         {"application/json"},
		"X-Fake-Chunks":        {"3"},
	}
	stripClientAuth(h)
	for _, k := range clientAuthHeaders {
		if h.Get(k) != "" {
			t.Errorf("%s kept", k)
		}
	}
	if h.Get("Amz-Sdk-Request") == "" || h.Get("Content-Type") == "" || h.Get("X-Fake-Chunks") == "" {
		t.Errorf("other headers dropped: %v", h)
	}
}

// prepared sends a request prepared by p to the fake and returns what the fake recorded.
func prepared(t *testing.T, p *Provider, fake *fakebedrock.Bedrock, req *provider.Request) fakebedrock.Recorded {
	t.Helper()
	up, err := p.Prepare(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(up)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	reqs := fake.Requests()
	fake.Reset()
	return reqs[len(reqs)-1]
}

// The signature covers the escaped path exactly as sent, and the body as the filters left
// it: the fake checks it the way AWS does.
func TestSignedAsSent(t *testing.T) {
	fake := fakebedrock.New(fakebedrock.Options{AccessKeyID: "AKIAUP", SecretAccessKey: "up-secret", SessionToken: "up-token"})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	p, err := New(Options{Region: "us-east-1", Endpoint: srv.URL + "/", AccessKeyID: "AKIAUP", SecretAccessKey: "up-secret", SessionToken: "up-token"})
	if err != nil {
		t.Fatal(err)
	}
	body := `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`
	for _, ep := range []string{
		"/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse",
		"/model/anthropic.claude-3-5-sonnet-20240620-v1:0/converse",
		"/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-haiku-20240307-v1%3A0/converse",
	} {
		req := &provider.Request{Method: "POST", Endpoint: ep, Body: []byte(body), Header: http.Header{
			"Content-Type": {"application/json"}, "Authorization": {"AWS4-HMAC-SHA256 client"}, "X-Amz-Security-Token": {"client-token"}}}
		if err := p.Parse(req); err != nil {
			t.Fatal(err)
		}
		req.Body = []byte(strings.Replace(body, "hi", "changed by a filter", 1))
		rec := prepared(t, p, fake, req)
		if rec.SignatureError != "" {
			t.Fatalf("%s: %s", ep, rec.SignatureError)
		}
		if rec.Path != ep || string(rec.Body) != string(req.Body) || rec.Header.Get("X-Amz-Security-Token") != "up-token" {
			t.Errorf("%s: sent %s %s token %q", ep, rec.Path, rec.Body, rec.Header.Get("X-Amz-Security-Token"))
		}
	}
}

// A request signed with other credentials than the upstream's, as a proxy that forwarded
// its client's signature would send, is refused.
func TestOtherCredentialsRefused(t *testing.T) {
	fake := fakebedrock.New(fakebedrock.Options{AccessKeyID: "AKIAUP", SecretAccessKey: "up-secret"})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	for _, creds := range [][2]string{{"AKIACLIENT", "client-secret"}, {"AKIAUP", "wrong-secret"}} {
		p, err := New(Options{Region: "us-east-1", Endpoint: srv.URL, AccessKeyID: creds[0], SecretAccessKey: creds[1]})
		if err != nil {
			t.Fatal(err)
		}
		rec := prepared(t, p, fake, &provider.Request{Method: "POST", Endpoint: "/model/anthropic.claude-v2/invoke", Body: []byte(`{}`), Header: http.Header{}})
		if rec.SignatureError == "" {
			t.Fatalf("signed with %v and accepted", creds)
		}
	}
}

func TestNewOptions(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"} {
		t.Setenv(k, "")
	}

	if _, err := New(Options{}); err == nil || !strings.Contains(err.Error(), "no aws region") {
		t.Errorf("no region: %v", err)
	}
	if _, err := New(Options{Region: "us-east-1", AccessKeyID: "only-the-id"}); err == nil {
		t.Error("a key id without its secret was accepted")
	}
	if _, err := New(Options{Region: "us-east-1", Endpoint: "bedrock.local"}); err == nil {
		t.Error("an endpoint without scheme was accepted")
	}
	p, err := New(Options{Region: "eu-central-1"})
	if err != nil {
		t.Fatal(err)
	}
	if p.base != "https://bedrock-runtime.eu-central-1.amazonaws.com" || p.Name() != "bedrock" || p.Region() != "eu-central-1" {
		t.Errorf("base %q name %q region %q", p.base, p.Name(), p.Region())
	}
	if DefaultEndpoint("cn-north-1") != "https://bedrock-runtime.cn-north-1.amazonaws.com.cn" {
		t.Errorf("china endpoint %q", DefaultEndpoint("cn-north-1"))
	}
	t.Setenv("AWS_DEFAULT_REGION", "ap-northeast-1")
	if p, err := New(Options{}); err != nil || p.Region() != "ap-northeast-1" {
		t.Errorf("region from the environment: %v", err)
	}

	// No credentials anywhere: the request fails with the proxy's own error, not a panic.
	_, err = p.Prepare(context.Background(), &provider.Request{Method: "POST", Endpoint: "/model/m/invoke", Header: http.Header{}})
	var pe *provider.Error
	if !errors.As(err, &pe) || pe.Status != http.StatusInternalServerError || !strings.Contains(pe.Message, "no usable aws credentials") {
		t.Errorf("no credentials: %v", err)
	}
}

func TestMatch(t *testing.T) {
	p, err := New(Options{Region: "us-east-1", AccessKeyID: "a", SecretAccessKey: "b"})
	if err != nil {
		t.Fatal(err)
	}
	eu, err := New(Options{Name: "bedrock-eu", Region: "eu-west-1", AccessKeyID: "a", SecretAccessKey: "b"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		p      *Provider
		target string
		want   string
	}{
		{p, "/model/anthropic.claude-v2/invoke", "/model/anthropic.claude-v2/invoke"},
		{p, "/bedrock/model/anthropic.claude-v2/invoke", "/model/anthropic.claude-v2/invoke"},
		{p, "/model/a.b-v1%3A0/converse-stream", "/model/a.b-v1%3A0/converse-stream"},
		{p, "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ainference-profile%2Fx/invoke-with-response-stream", "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ainference-profile%2Fx/invoke-with-response-stream"},
		{p, "/model/arn:aws:bedrock:us-east-1:1:inference-profile/x/converse", "/model/arn:aws:bedrock:us-east-1:1:inference-profile/x/converse"},
		{p, "/model/x/count-tokens", ""},
		{p, "/model//invoke", ""},
		{p, "/model/invoke", ""},
		{p, "/v1/chat/completions", ""},
		{eu, "/bedrock-eu/model/x/converse", "/model/x/converse"},
		{eu, "/model/x/converse", ""},
		{eu, "/bedrock/model/x/converse", ""},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("POST", tc.target, nil)
		got, ok := tc.p.Match(r)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("%s %s: %q %v, want %q", tc.p.Name(), tc.target, got, ok, tc.want)
		}
	}
}

func TestParse(t *testing.T) {
	p := &Provider{name: "bedrock"}
	tests := []struct {
		endpoint, ct, body string
		model              string
		stream             bool
		format             bodyFormat
		user               string
		status             int
	}{
		{"/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke", "application/json", `{"anthropic_version":"bedrock-2023-05-31","messages":[],"metadata":{"user_id":"u1"}}`,
			"anthropic.claude-3-haiku-20240307-v1:0", false, formatMessages, "u1", 0},
		{"/model/anthropic.claude-v2/invoke-with-response-stream", "", `{"prompt":"\n\nHuman: x\n\nAssistant:","max_tokens_to_sample":9}`,
			"anthropic.claude-v2", true, formatCompletion, "", 0},
		{"/model/meta.llama3-8b-instruct-v1%3A0/invoke", "application/json", `{"prompt":"<|begin_of_text|>hi","max_gen_len":9}`,
			"meta.llama3-8b-instruct-v1:0", false, formatLlama, "", 0},
		{"/model/mistral.mistral-7b-instruct-v0%3A2/invoke", "application/json", `{"prompt":"<s>[INST] hi [/INST]"}`,
			"mistral.mistral-7b-instruct-v0:2", false, formatMistral, "", 0},
		{"/model/amazon.titan-text-express-v1/invoke", "application/json", `{"inputText":"hi"}`, "amazon.titan-text-express-v1", false, formatTitan, "", 0},
		{"/model/amazon.nova-lite-v1%3A0/invoke", "application/json", `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`,
			"amazon.nova-lite-v1:0", false, formatNova, "", 0},
		{"/model/x/invoke", "application/json", `{"metadata":"not an object","messages":5}`, "x", false, formatMessages, "", 0},
		{"/model/x/invoke", "application/octet-stream", "\x89PNG", "x", false, formatMessages, "", 0},
		{"/model/x/invoke", "application/json", `{"messages":`, "x", false, 0, "", 400},
		{"/model/x/converse-stream", "application/octet-stream", `{"messages":`, "x", true, 0, "", 400},
		{"/model/x%ZZ/converse", "", `{}`, "", false, 0, "", 404},
	}
	for _, tc := range tests {
		req := &provider.Request{Endpoint: tc.endpoint, Body: []byte(tc.body), Header: http.Header{"Content-Type": {tc.ct}}}
		err := p.Parse(req)
		var pe *provider.Error
		if tc.status != 0 {
			if !errors.As(err, &pe) || pe.Status != tc.status {
				t.Errorf("%s %s: %v, want %d", tc.endpoint, tc.body, err, tc.status)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.endpoint, err)
			continue
		}
		st := req.State.(*state)
		if req.Model != tc.model || req.Stream != tc.stream || st.format != tc.format || req.User != tc.user {
			t.Errorf("%s %s: model %q stream %v format %d user %q", tc.endpoint, tc.body, req.Model, req.Stream, st.format, req.User)
		}
	}
}

// A shared-config profile gives the region and, through the default chain, the credentials.
func TestProfile(t *testing.T) {
	dir := t.TempDir()
	cfgFile, credFile := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	write := func(path, s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(cfgFile, "[profile proxy]\nregion = eu-west-3\n")
	write(credFile, "[proxy]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = profile-secret\n")
	for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", cfgFile)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", credFile)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	fake := fakebedrock.New(fakebedrock.Options{AccessKeyID: "AKIAPROFILE", SecretAccessKey: "profile-secret", Region: "eu-west-3"})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	p, err := New(Options{Profile: "proxy", Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if p.Region() != "eu-west-3" {
		t.Fatalf("region %q", p.Region())
	}
	rec := prepared(t, p, fake, &provider.Request{Method: "POST", Endpoint: "/model/anthropic.claude-v2/invoke", Body: []byte(`{}`), Header: http.Header{}})
	if rec.SignatureError != "" {
		t.Fatal(rec.SignatureError)
	}
	if _, err := New(Options{Profile: "missing"}); err == nil {
		t.Error("a missing profile was accepted")
	}
}
