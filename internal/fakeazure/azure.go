// Package fakeazure is a fake of the Azure OpenAI API for end-to-end tests. It puts Azure's
// behaviour on top of the OpenAI fake of internal/fakeupstream, which writes the replies and
// injects the faults its x-fake-* headers ask for:
//
//   - the routes POST /openai/deployments/{deployment}/chat/completions, .../completions and
//     .../embeddings, which require an api-version query parameter, and Azure's v1 API,
//     POST /openai/v1/chat/completions, /openai/v1/embeddings and /openai/v1/responses,
//     where the body's model names the deployment;
//   - the api-key header as the only credential of the deployment routes: a Bearer token
//     is refused there, as Azure refuses a key sent as one (the v1 API takes both);
//   - Azure's gateway errors ({"error":{"code","message"}}): 401, 404 DeploymentNotFound,
//     404 Resource not found, 400 API version not supported, 429 with Azure's message;
//   - the content filter: prompt_filter_results and content_filter_results in replies, a
//     first stream chunk with empty choices and an empty model that carries the prompt's
//     results, and, on request, the 400 content_filter error or a filtered completion;
//   - the 400 that api-versions before 2024-09-01 answer to stream_options.
package fakeazure

import (
	"bytes"
	cryptorand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/aiproxy-go/aiproxy/internal/fakefault"
	"github.com/aiproxy-go/aiproxy/internal/fakeupstream"
)

// HeaderContentFilter makes the content filter fire: "prompt" refuses the request with
// Azure's 400 content_filter error; "completion" ends the reply with finish_reason
// "content_filter" and the violence category filtered.
const HeaderContentFilter = "X-Fake-Content-Filter"

// Options configures an [Azure] fake.
type Options struct {
	// APIKey, when set, is the resource's only key: the deployment routes want it in the
	// api-key header, the v1 API in api-key or as a Bearer token; anything else is answered
	// 401 with Azure's error.
	APIKey string
	// Deployments maps each deployment name to the model it serves, which replies name.
	// Nil serves gpt-4o (gpt-4o-2024-11-20), gpt-4o-mini (gpt-4o-mini-2024-07-18),
	// text-embedding-3-small and gpt-35-turbo-instruct.
	Deployments map[string]string
}

// Azure is a fake Azure OpenAI resource: an [http.Handler]. It is safe for concurrent use.
// Replies are the OpenAI fake's ("Hello! You said: ..."), and every x-fake-* header of
// fakeupstream works, x-fake-status giving Azure's error bodies for 401, 404 and 429. A
// stream's prompt filter chunk comes before the events that x-fake-cut-after counts.
type Azure struct {
	// Recorder gives the fake its Requests and Hits methods: the requests
	// as they arrived (Azure path, query, headers with the api-key, body).
	fakefault.Recorder[fakeupstream.Recorded]

	key         string
	deployments map[string]string
	inner       *fakeupstream.OpenAI
}

// New returns a fake Azure OpenAI resource configured by opts.
func New(opts Options) *Azure {
	d := opts.Deployments
	if d == nil {
		d = map[string]string{
			"gpt-4o":                 "gpt-4o-2024-11-20",
			"gpt-4o-mini":            "gpt-4o-mini-2024-07-18",
			"text-embedding-3-small": "text-embedding-3-small",
			"gpt-35-turbo-instruct":  "gpt-35-turbo-instruct",
		}
	}
	return &Azure{
		key:         opts.APIKey,
		deployments: d,
		inner:       fakeupstream.NewOpenAI(fakeupstream.OpenAIOptions{DiscardRequests: true}),
	}
}

// Reset forgets the recorded requests and the hit count, and the OpenAI fake's counters
// for x-fake-fail-first.
func (a *Azure) Reset() {
	a.Recorder.Reset()
	a.inner.Reset()
}

// route is what a path asks for.
type route struct {
	op         string // the OpenAI endpoint: "/chat/completions", ...
	deployment string // from the path; "" on the v1 API
	v1         bool
}

var (
	deploymentOps = map[string]bool{"/chat/completions": true, "/completions": true, "/embeddings": true}
	v1Ops         = map[string]bool{"/chat/completions": true, "/embeddings": true, "/responses": true}
)

func parseRoute(path string) (route, bool) {
	if rest, ok := strings.CutPrefix(path, "/openai/deployments/"); ok {
		d, op, ok := strings.Cut(rest, "/")
		if !ok || d == "" || !deploymentOps["/"+op] {
			return route{}, false
		}
		return route{op: "/" + op, deployment: d}, true
	}
	if rest, ok := strings.CutPrefix(path, "/openai/v1/"); ok && v1Ops["/"+rest] {
		return route{op: "/" + rest, v1: true}, true
	}
	return route{}, false
}

// ServeHTTP answers one request; see the package documentation for what it checks, in
// this order: route, api-version, key, deployment, stream_options, prompt filter.
func (a *Azure) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.Hit()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	a.Record(fakefault.NewRecorded(r, body))

	rt, ok := parseRoute(r.URL.Path)
	if !ok || r.Method != http.MethodPost {
		writeGatewayError(w, http.StatusNotFound, "404", "Resource not found")
		return
	}
	version := r.URL.Query().Get("api-version")
	if !rt.v1 {
		if version == "" {
			// Azure answers a missing api-version as an unknown path.
			writeGatewayError(w, http.StatusNotFound, "404", "Resource not found")
			return
		}
		if !validVersion(version) {
			writeGatewayError(w, http.StatusBadRequest, "BadRequest", "API version not supported")
			return
		}
	}
	if !a.authorized(w, r, rt.v1) {
		return
	}
	var fields struct {
		Model         string          `json:"model"`
		StreamOptions json.RawMessage `json:"stream_options"`
	}
	_ = json.Unmarshal(body, &fields)
	if rt.v1 {
		rt.deployment = fields.Model
	}
	model, ok := a.deployments[rt.deployment]
	if !ok {
		writeGatewayError(w, http.StatusNotFound, "DeploymentNotFound",
			"The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.")
		return
	}
	if !rt.v1 && version < "2024-09-01" && len(fields.StreamOptions) > 0 && rt.op != "/embeddings" {
		writeJSON(w, http.StatusBadRequest, []byte(`{"error":{"message":"Unrecognized request argument supplied: stream_options","type":"invalid_request_error","param":null,"code":null}}`))
		return
	}
	filter := r.Header.Get(HeaderContentFilter)
	if filter == "prompt" && rt.op != "/embeddings" {
		writeJSON(w, http.StatusBadRequest, []byte(promptFilteredError))
		return
	}

	// The OpenAI fake answers as the deployment's model, at its own path, with no key.
	up := r.Clone(r.Context())
	up.URL.Path, up.URL.RawPath = "/v1"+rt.op, ""
	up.Header.Del("Api-Key")
	up.Header.Del("Authorization")
	body = withModel(body, model)
	up.Body = io.NopCloser(bytes.NewReader(body))
	up.ContentLength = int64(len(body))

	aw := &writer{w: w, op: rt.op, version: version, filtered: filter == "completion"}
	aw.fl, _ = w.(http.Flusher)
	if rt.v1 {
		aw.version = "v1"
	}
	defer func() {
		if v := recover(); v != nil {
			aw.abort()
			panic(v)
		}
	}()
	a.inner.ServeHTTP(aw, up)
	aw.finish()
}

// validVersion accepts the shape of Azure's api-versions: 2024-10-21, 2025-04-01-preview.
func validVersion(v string) bool {
	date, _ := strings.CutSuffix(v, "-preview")
	if len(date) != 10 || date[4] != '-' || date[7] != '-' {
		return false
	}
	for i, c := range date {
		if i != 4 && i != 7 && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// authorized checks the key and answers 401 as Azure does.
func (a *Azure) authorized(w http.ResponseWriter, r *http.Request, v1 bool) bool {
	if a.key == "" {
		return true
	}
	if k := r.Header.Get("Api-Key"); k != "" {
		if k == a.key {
			return true
		}
		writeGatewayError(w, http.StatusUnauthorized, "401", "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.")
		return false
	}
	if token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && token != "" {
		if v1 && token == a.key {
			return true
		}
		// A Bearer token must be a Microsoft Entra ID token; a key sent as one is not.
		writeGatewayError(w, http.StatusUnauthorized, "401", "Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired.")
		return false
	}
	writeGatewayError(w, http.StatusUnauthorized, "401", "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.")
	return false
}

// withModel returns body with its model replaced: Azure answers with the deployment's model
// whatever the body names.
func withModel(body []byte, model string) []byte {
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil || obj == nil {
		return body
	}
	obj["model"], _ = json.Marshal(model)
	return marshal(obj)
}

// marshal encodes compactly, without escaping <, > and &, as Azure does.
func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) != nil {
		return nil
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Apim-Request-Id", newUUID())
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeGatewayError writes an error of Azure's gateway: {"error":{"code","message"}}.
func writeGatewayError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, gatewayError(code, message))
}

func newUUID() string {
	var b [16]byte
	_, _ = cryptorand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	s := hex.EncodeToString(b[:])
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

// The content filter's verdicts, as Azure writes them.
const (
	safeResults     = `{"hate":{"filtered":false,"severity":"safe"},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}`
	filteredResults = `{"hate":{"filtered":false,"severity":"safe"},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":true,"severity":"medium"}}`
	promptResults   = `[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},"jailbreak":{"filtered":false,"detected":false},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}}]`

	// promptFilterChunk is the first event of Azure's chat and completions streams.
	promptFilterChunk = `data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":` + promptResults + "}\n\n"

	promptFilteredError = `{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{"hate":{"filtered":false,"severity":"safe"},"jailbreak":{"filtered":false,"detected":false},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":true,"severity":"medium"}}}}}`
)
