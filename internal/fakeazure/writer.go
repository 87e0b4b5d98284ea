package fakeazure

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// writer turns the OpenAI fake's replies into Azure's as they are written: stream events one
// at a time, flushed as the OpenAI fake flushes them; other bodies whole, once the OpenAI
// fake is done.
type writer struct {
	w        http.ResponseWriter
	fl       http.Flusher
	op       string // the OpenAI endpoint
	version  string // api-version, for the 429 message
	filtered bool   // the completion is to be filtered

	status  int
	stream  bool
	buf     []byte // a stream's incomplete event, or the whole body of anything else
	started bool   // the prompt filter chunk was sent
	err     error  // the client's connection failed
}

// Header shares the real header map: the OpenAI fake's headers (ids, rate limits,
// Retry-After) are Azure's too.
func (aw *writer) Header() http.Header { return aw.w.Header() }

func (aw *writer) WriteHeader(status int) {
	if aw.status != 0 {
		return
	}
	aw.status = status
	h := aw.w.Header()
	delete(h, "Openai-Version")
	delete(h, "Openai-Processing-Ms")
	h.Set("Apim-Request-Id", newUUID())
	h.Set("X-Ms-Region", "Sweden Central")
	if status == http.StatusOK && strings.HasPrefix(h.Get("Content-Type"), "text/event-stream") {
		aw.stream = true
		aw.w.WriteHeader(status)
	}
}

func (aw *writer) Write(p []byte) (int, error) {
	if aw.status == 0 {
		aw.WriteHeader(http.StatusOK)
	}
	if aw.err != nil {
		return 0, aw.err
	}
	aw.buf = append(aw.buf, p...)
	if !aw.stream {
		return len(p), nil
	}
	for {
		i := bytes.Index(aw.buf, []byte("\n\n"))
		if i < 0 {
			return len(p), nil
		}
		if _, err := aw.w.Write(aw.event(aw.buf[:i+2])); err != nil {
			aw.err = err
			return 0, err
		}
		aw.buf = aw.buf[i+2:]
	}
}

// Flush passes a stream's flushes on; other bodies are written whole by finish.
func (aw *writer) Flush() {
	if aw.stream && aw.fl != nil {
		aw.fl.Flush()
	}
}

// annotated reports whether replies of the endpoint carry content filter results.
func (aw *writer) annotated() bool {
	return aw.op == "/chat/completions" || aw.op == "/completions"
}

// event returns one stream event as Azure sends it: the first one preceded by the prompt
// filter chunk, each choice with its content filter results, no obfuscation field.
func (aw *writer) event(ev []byte) []byte {
	data, ok := bytes.CutPrefix(ev, []byte("data: "))
	if !ok || !aw.annotated() {
		return ev
	}
	data = bytes.TrimSuffix(data, []byte("\n\n"))
	if bytes.Equal(data, []byte("[DONE]")) {
		return ev
	}
	var out []byte
	if !aw.started {
		aw.started = true
		out = append(out, promptFilterChunk...)
	}
	chunk := aw.annotate(data, true)
	if chunk == nil {
		return append(out, ev...)
	}
	out = append(out, "data: "...)
	out = append(out, chunk...)
	return append(out, "\n\n"...)
}

// annotate adds Azure's content filter results to a chat completion, a completion or one
// chunk of their streams, or returns nil when data is not a JSON object.
func (aw *writer) annotate(data []byte, stream bool) []byte {
	var obj map[string]json.RawMessage
	if json.Unmarshal(data, &obj) != nil || obj == nil {
		return nil
	}
	delete(obj, "obfuscation")
	delete(obj, "service_tier")
	var choices []map[string]json.RawMessage
	if json.Unmarshal(obj["choices"], &choices) == nil {
		for _, c := range choices {
			results := safeResults
			if stream && hasKey(c["delta"], "role") {
				results = "{}" // Azure's first delta, with the role, is not judged
			}
			if fr := c["finish_reason"]; aw.filtered && len(fr) > 0 && string(fr) != "null" {
				c["finish_reason"] = json.RawMessage(`"content_filter"`)
				results = filteredResults
			}
			c["content_filter_results"] = json.RawMessage(results)
		}
		obj["choices"] = marshal(choices)
	}
	if !stream {
		obj["prompt_filter_results"] = json.RawMessage(promptResults)
	}
	return marshal(obj)
}

func hasKey(raw json.RawMessage, key string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return false
	}
	_, ok := m[key]
	return ok
}

// finish writes a body that is not a stream, in Azure's shape: content filter results on
// chat completions and completions, the gateway's own body for 401, 404 and 429.
func (aw *writer) finish() {
	if aw.status == 0 {
		return
	}
	if aw.stream {
		if len(aw.buf) > 0 && aw.err == nil {
			_, _ = aw.w.Write(aw.buf)
		}
		return
	}
	body := aw.buf
	h := aw.w.Header()
	if strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		switch aw.status {
		case http.StatusOK:
			if aw.annotated() {
				if b := aw.annotate(body, false); b != nil {
					body = b
				}
			}
		case http.StatusUnauthorized:
			body = gatewayError("401", "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.")
		case http.StatusNotFound:
			body = gatewayError("DeploymentNotFound", "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.")
		case http.StatusTooManyRequests:
			after := h.Get("Retry-After")
			if after == "" {
				after = "1"
			}
			body = gatewayError("429", "Requests to the "+operationName(aw.op)+" Operation under Azure OpenAI API version "+aw.version+
				" have exceeded call rate limit of your current OpenAI S0 pricing tier. Please retry after "+after+
				" second. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.")
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	aw.w.WriteHeader(aw.status)
	_, _ = aw.w.Write(body)
}

// abort sends what a body cut short by x-fake-cut-after holds before the connection is
// dropped; a stream's events went out as they came.
func (aw *writer) abort() {
	if aw.stream || aw.status == 0 {
		return
	}
	aw.w.WriteHeader(aw.status)
	_, _ = aw.w.Write(aw.buf)
	if aw.fl != nil {
		aw.fl.Flush()
	}
}

func gatewayError(code, message string) []byte {
	return marshal(map[string]map[string]string{"error": {"code": code, "message": message}})
}

// operationName is Azure's name of an operation, as its 429 message says it.
func operationName(op string) string {
	switch op {
	case "/chat/completions":
		return "ChatCompletions_Create"
	case "/completions":
		return "Completions_Create"
	case "/embeddings":
		return "Embeddings_Create"
	}
	return "Responses_Create"
}
