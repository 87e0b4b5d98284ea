package bedrock

import (
	"encoding/json"
	"strings"

	"github.com/aiproxy-go/aiproxy/provider"
)

// bodyFormat is the model-native format of an InvokeModel body, which decides the shape of
// a reply the proxy renders itself.
type bodyFormat int

const (
	formatMessages   bodyFormat = iota // Anthropic messages (anthropic_version bedrock-2023-05-31), the default
	formatCompletion                   // Claude v2 text completions: prompt with Human:/Assistant: turns
	formatNova                         // Amazon Nova messages-v1: the Converse shape
	formatTitan                        // Amazon Titan Text: inputText
	formatLlama                        // Meta Llama: prompt and max_gen_len
	formatMistral                      // Mistral: prompt
)

// requestFields are the top-level fields that tell an InvokeModel body's format.
type requestFields struct {
	AnthropicVersion  json.RawMessage `json:"anthropic_version"`
	Messages          json.RawMessage `json:"messages"`
	SchemaVersion     json.RawMessage `json:"schemaVersion"`
	InferenceConfig   json.RawMessage `json:"inferenceConfig"`
	Prompt            json.RawMessage `json:"prompt"`
	MaxTokensToSample json.RawMessage `json:"max_tokens_to_sample"`
	MaxGenLen         json.RawMessage `json:"max_gen_len"`
	InputText         json.RawMessage `json:"inputText"`
	Metadata          json.RawMessage `json:"metadata"`
}

// readFields decodes the fields of a JSON object; anything else leaves them empty.
func readFields(body []byte) requestFields {
	var f requestFields
	_ = json.Unmarshal(body, &f)
	return f
}

// user is the Anthropic body's metadata.user_id.
func (f requestFields) user() string {
	var m struct {
		UserID json.RawMessage `json:"user_id"`
	}
	if len(f.Metadata) == 0 || json.Unmarshal(f.Metadata, &m) != nil {
		return ""
	}
	return provider.JSONString(m.UserID)
}

func (f requestFields) format() bodyFormat {
	if prompt := provider.JSONString(f.Prompt); len(f.Prompt) > 0 && len(f.Messages) == 0 {
		switch {
		case len(f.MaxTokensToSample) > 0 || strings.Contains(prompt, "Human:"):
			return formatCompletion
		case len(f.MaxGenLen) > 0 || strings.Contains(prompt, "<|begin_of_text|>"):
			return formatLlama
		default:
			return formatMistral
		}
	}
	if len(f.InputText) > 0 && len(f.Messages) == 0 {
		return formatTitan
	}
	if len(f.AnthropicVersion) > 0 {
		return formatMessages
	}
	if len(f.SchemaVersion) > 0 || len(f.InferenceConfig) > 0 {
		return formatNova
	}
	// Nova's content blocks are {"text":...}; Anthropic's carry a "type".
	var msgs []struct {
		Content json.RawMessage `json:"content"`
	}
	if json.Unmarshal(f.Messages, &msgs) == nil && len(msgs) > 0 {
		var blocks []map[string]json.RawMessage
		if json.Unmarshal(msgs[0].Content, &blocks) == nil && len(blocks) > 0 {
			if _, typed := blocks[0]["type"]; !typed {
				if _, text := blocks[0]["text"]; text {
					return formatNova
				}
			}
		}
	}
	return formatMessages
}
