package fakeupstream

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"hash/fnv"
	"math"
	"net/http"
)

// embeddingDims is the length of the fake's embeddings unless the request
// asks for other dimensions.
const embeddingDims = 8

// embeddingRequest is what the fake reads of an embeddings request.
type embeddingRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat string          `json:"encoding_format"`
	Dimensions     int             `json:"dimensions"`
}

// embedding is one item of an embeddings reply; Embedding is a []float32 or
// a base64 string.
type embedding struct {
	Object    string `json:"object"`
	Index     int    `json:"index"`
	Embedding any    `json:"embedding"`
}

// embeddings answers POST /embeddings. The input may be a string, an array
// of strings, an array of tokens or an array of arrays of tokens; each
// input gets a deterministic unit vector derived from its content.
func (x *exchange) embeddings() {
	var req embeddingRequest
	if !x.readJSON(&req) || !x.requireModel(req.Model) {
		return
	}
	inputs, tokens, ok := readEmbeddingInput(req.Input)
	if !ok {
		x.writeError(http.StatusBadRequest, "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.", "invalid_request_error", "", "")
		return
	}
	if req.EncodingFormat != "" && req.EncodingFormat != "float" && req.EncodingFormat != "base64" {
		x.writeError(http.StatusBadRequest, "Invalid value for 'encoding_format': expected one of 'float' or 'base64'.", "invalid_request_error", "encoding_format", "")
		return
	}
	dims := embeddingDims
	if req.Dimensions > 0 {
		dims = min(req.Dimensions, 3072)
	}
	data := make([]embedding, len(inputs))
	for i, in := range inputs {
		v := vector(in, dims)
		var e any = v
		if req.EncodingFormat == "base64" {
			raw := make([]byte, 4*len(v))
			for j, f := range v {
				binary.LittleEndian.PutUint32(raw[4*j:], math.Float32bits(f))
			}
			e = base64.StdEncoding.EncodeToString(raw)
		}
		data[i] = embedding{Object: "embedding", Index: i, Embedding: e}
	}
	type embUsage struct {
		PromptTokens int `json:"prompt_tokens"`
		TotalTokens  int `json:"total_tokens"`
	}
	x.writeJSON(http.StatusOK, marshalIndent(struct {
		Object string      `json:"object"`
		Data   []embedding `json:"data"`
		Model  string      `json:"model"`
		Usage  embUsage    `json:"usage"`
	}{"list", data, req.Model, embUsage{tokens, tokens}}))
}

// readEmbeddingInput returns the inputs of an embeddings request as raw
// bytes to hash, and their token count.
func readEmbeddingInput(raw json.RawMessage) (inputs [][]byte, tokens int, ok bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, 0, false
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil || s == "" {
			return nil, 0, false
		}
		return [][]byte{[]byte(s)}, max(words(s), 1), true
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil || len(items) == 0 {
		return nil, 0, false
	}
	if items[0][0] != '"' && items[0][0] != '[' {
		// One input given as an array of tokens.
		var toks []int
		if json.Unmarshal(raw, &toks) != nil {
			return nil, 0, false
		}
		return [][]byte{raw}, len(toks), true
	}
	for _, it := range items {
		switch it[0] {
		case '"':
			var s string
			if json.Unmarshal(it, &s) != nil || s == "" {
				return nil, 0, false
			}
			inputs = append(inputs, []byte(s))
			tokens += max(words(s), 1)
		case '[':
			var toks []int
			if json.Unmarshal(it, &toks) != nil || len(toks) == 0 {
				return nil, 0, false
			}
			inputs = append(inputs, it)
			tokens += len(toks)
		default:
			return nil, 0, false
		}
	}
	return inputs, tokens, true
}

// vector returns a unit vector of dims float32 derived from in.
func vector(in []byte, dims int) []float32 {
	h := fnv.New64a()
	_, _ = h.Write(in)
	state := h.Sum64() | 1
	v := make([]float32, dims)
	var norm float64
	for i := range v {
		// xorshift64: cheap, deterministic, spread over [-1, 1).
		state ^= state << 13
		state ^= state >> 7
		state ^= state << 17
		f := float64(state>>11)/float64(1<<53)*2 - 1
		v[i] = float32(f)
		norm += f * f
	}
	norm = math.Sqrt(norm)
	for i := range v {
		v[i] = float32(float64(v[i]) / norm)
	}
	return v
}

// model is a model object.
type model struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// models is what GET /models lists.
var models = []model{
	{"gpt-4o", "model", 1715367049, "system"},
	{"gpt-4o-mini", "model", 1721172741, "system"},
	{"gpt-4.1", "model", 1744316542, "system"},
	{"gpt-4.1-mini", "model", 1744318173, "system"},
	{"gpt-5", "model", 1754425777, "system"},
	{"gpt-5-mini", "model", 1754425928, "system"},
	{"o1", "model", 1734375816, "system"},
	{"o3", "model", 1744225308, "system"},
	{"o3-mini", "model", 1737146383, "system"},
	{"o4-mini", "model", 1744225351, "system"},
	{"gpt-3.5-turbo-instruct", "model", 1692901427, "system"},
	{"text-embedding-3-small", "model", 1705948997, "system"},
	{"text-embedding-3-large", "model", 1705953180, "system"},
}

// listModels answers GET /models.
func (x *exchange) listModels() {
	x.writeJSON(http.StatusOK, marshalIndent(struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{"list", models}))
}

// getModel answers GET /models/{id}: the model when the list has it, else
// 404 as the real API.
func (x *exchange) getModel(id string) {
	for _, m := range models {
		if m.ID == id {
			x.writeJSON(http.StatusOK, marshalIndent(m))
			return
		}
	}
	x.writeError(http.StatusNotFound, "The model '"+id+"' does not exist", "invalid_request_error", "model", "model_not_found")
}
