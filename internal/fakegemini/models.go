package fakegemini

import (
	"hash/fnv"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// model is a Model of the models list.
type model struct {
	Name                       string   `json:"name"`
	Version                    string   `json:"version"`
	DisplayName                string   `json:"displayName"`
	Description                string   `json:"description"`
	InputTokenLimit            int      `json:"inputTokenLimit"`
	OutputTokenLimit           int      `json:"outputTokenLimit"`
	SupportedGenerationMethods []string `json:"supportedGenerationMethods"`
	Temperature                *float64 `json:"temperature,omitempty"`
	TopP                       *float64 `json:"topP,omitempty"`
	TopK                       *int     `json:"topK,omitempty"`
	MaxTemperature             *float64 `json:"maxTemperature,omitempty"`
	Thinking                   bool     `json:"thinking,omitempty"`
}

func ptr[T any](v T) *T { return &v }

// models is what the fake lists, a few of the real API's models.
var models = []model{
	{Name: "models/gemini-2.5-flash", Version: "001", DisplayName: "Gemini 2.5 Flash",
		Description:     "Stable version of Gemini 2.5 Flash, our mid-size multimodal model that supports up to 1 million tokens, released in June of 2025.",
		InputTokenLimit: 1048576, OutputTokenLimit: 65536,
		SupportedGenerationMethods: []string{"generateContent", "countTokens", "createCachedContent", "batchGenerateContent"},
		Temperature:                ptr(1.0), TopP: ptr(0.95), TopK: ptr(64), MaxTemperature: ptr(2.0), Thinking: true},
	{Name: "models/gemini-2.5-pro", Version: "2.5", DisplayName: "Gemini 2.5 Pro",
		Description:     "Stable release (June 17th, 2025) of Gemini 2.5 Pro",
		InputTokenLimit: 1048576, OutputTokenLimit: 65536,
		SupportedGenerationMethods: []string{"generateContent", "countTokens", "createCachedContent", "batchGenerateContent"},
		Temperature:                ptr(1.0), TopP: ptr(0.95), TopK: ptr(64), MaxTemperature: ptr(2.0), Thinking: true},
	{Name: "models/gemini-2.5-flash-lite", Version: "001", DisplayName: "Gemini 2.5 Flash-Lite",
		Description:     "Stable version of Gemini 2.5 Flash-Lite, released in July of 2025",
		InputTokenLimit: 1048576, OutputTokenLimit: 65536,
		SupportedGenerationMethods: []string{"generateContent", "countTokens", "createCachedContent", "batchGenerateContent"},
		Temperature:                ptr(1.0), TopP: ptr(0.95), TopK: ptr(64), MaxTemperature: ptr(2.0), Thinking: true},
	{Name: "models/gemini-embedding-001", Version: "001", DisplayName: "Gemini Embedding 001",
		Description:     "Obtain a distributed representation of a text.",
		InputTokenLimit: 2048, OutputTokenLimit: 1,
		SupportedGenerationMethods: []string{"embedContent", "countTextTokens", "countTokens", "asyncBatchEmbedContent"}},
	{Name: "models/text-embedding-004", Version: "004", DisplayName: "Text Embedding 004",
		Description:     "Obtain a distributed representation of a text.",
		InputTokenLimit: 2048, OutputTokenLimit: 1,
		SupportedGenerationMethods: []string{"embedContent"}},
}

// listModels answers GET models, a page at a time (pageSize, 50 when absent; pageToken).
func (x *exchange) listModels() {
	q := x.r.URL.Query()
	size := 50
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			x.writeError(http.StatusBadRequest, "Invalid value at 'page_size' (TYPE_INT32), \""+v+"\"", "INVALID_ARGUMENT", nil)
			return
		}
		if n > 0 {
			size = min(n, 1000)
		}
	}
	start := 0
	if tok := q.Get("pageToken"); tok != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(tok, "page-"))
		if err != nil || n < 0 || n > len(models) {
			x.writeError(http.StatusBadRequest, "Invalid page token.", "INVALID_ARGUMENT", nil)
			return
		}
		start = n
	}
	end := min(start+size, len(models))
	page := struct {
		Models        []model `json:"models"`
		NextPageToken string  `json:"nextPageToken,omitempty"`
	}{Models: models[start:end]}
	if end < len(models) {
		page.NextPageToken = "page-" + strconv.Itoa(end)
	}
	x.writeJSON(http.StatusOK, page)
}

// getModel answers GET models/{model}.
func (x *exchange) getModel() {
	for _, m := range models {
		if m.Name == "models/"+x.model {
			x.writeJSON(http.StatusOK, m)
			return
		}
	}
	x.writeError(http.StatusNotFound, "models/"+x.model+" is not found for API version "+x.version+", or is not supported for get. Call ListModels to see the list of available models and their supported methods.", "NOT_FOUND", nil)
}

// countTokens answers models/{model}:countTokens, for contents or a whole
// generateContentRequest.
func (x *exchange) countTokens() {
	var req struct {
		Contents               []content        `json:"contents"`
		GenerateContentRequest *generateRequest `json:"generateContentRequest"`
	}
	if !x.decodeRequest(&req) {
		return
	}
	g := req.GenerateContentRequest
	if g == nil || len(req.Contents) > 0 {
		g = &generateRequest{Contents: req.Contents}
	}
	n := g.promptTokens()
	x.writeJSON(http.StatusOK, struct {
		TotalTokens         int             `json:"totalTokens"`
		PromptTokensDetails []modalityCount `json:"promptTokensDetails"`
	}{n, []modalityCount{{"TEXT", n}}})
}

// embedRequest is an EmbedContentRequest, alone or in a batch.
type embedRequest struct {
	Model                string   `json:"model"`
	Content              *content `json:"content"`
	TaskType             string   `json:"taskType"`
	OutputDimensionality int      `json:"outputDimensionality"`
}

type embedding struct {
	Values []float32 `json:"values"`
}

// embed returns the embedding of a request, or an error message.
func (x *exchange) embed(r *embedRequest, field string) (*embedding, string) {
	if r.Content == nil {
		return nil, "* " + field + ".content: content is not specified\n"
	}
	dims := 768
	if strings.Contains(x.model, "gemini-embedding") {
		dims = 3072
	}
	if d := r.OutputDimensionality; d != 0 {
		if d < 0 || d > dims {
			return nil, "* " + field + ".output_dimensionality: must be between 1 and " + strconv.Itoa(dims) + "\n"
		}
		dims = d
	}
	return &embedding{Values: vector(r.Content.text(), dims)}, ""
}

// vector is a deterministic unit vector for a text.
func vector(text string, dims int) []float32 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(text))
	s := h.Sum64() | 1
	v := make([]float64, dims)
	var norm float64
	for i := range v {
		s ^= s << 13
		s ^= s >> 7
		s ^= s << 17
		v[i] = float64(int64(s%2001)-1000) / 1000
		norm += v[i] * v[i]
	}
	norm = math.Sqrt(norm)
	out := make([]float32, dims)
	for i := range v {
		if norm > 0 {
			out[i] = float32(v[i] / norm)
		}
	}
	return out
}

// embedContent answers models/{model}:embedContent.
func (x *exchange) embedContent() {
	var req embedRequest
	if !x.decodeRequest(&req) {
		return
	}
	e, msg := x.embed(&req, "EmbedContentRequest")
	if msg != "" {
		x.writeError(http.StatusBadRequest, msg, "INVALID_ARGUMENT", nil)
		return
	}
	x.writeJSON(http.StatusOK, struct {
		Embedding *embedding `json:"embedding"`
	}{e})
}

// batchEmbedContents answers models/{model}:batchEmbedContents.
func (x *exchange) batchEmbedContents() {
	var req struct {
		Requests []embedRequest `json:"requests"`
	}
	if !x.decodeRequest(&req) {
		return
	}
	if len(req.Requests) == 0 {
		x.writeError(http.StatusBadRequest, "* BatchEmbedContentsRequest.requests: at least one request is required\n", "INVALID_ARGUMENT", nil)
		return
	}
	out := struct {
		Embeddings []*embedding `json:"embeddings"`
	}{}
	for i := range req.Requests {
		r := &req.Requests[i]
		if r.Model != "" && strings.TrimPrefix(r.Model, "models/") != x.model {
			x.writeError(http.StatusBadRequest, "* BatchEmbedContentsRequest.requests["+strconv.Itoa(i)+"].model: model names must match: "+r.Model+" != models/"+x.model+"\n", "INVALID_ARGUMENT", nil)
			return
		}
		e, msg := x.embed(r, "BatchEmbedContentsRequest.requests["+strconv.Itoa(i)+"]")
		if msg != "" {
			x.writeError(http.StatusBadRequest, msg, "INVALID_ARGUMENT", nil)
			return
		}
		out.Embeddings = append(out.Embeddings, e)
	}
	x.writeJSON(http.StatusOK, out)
}
