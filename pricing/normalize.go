package pricing

import "strings"

// maxModelName bounds the model names looked up: longer ones are not model names.
const maxModelName = 256

// bedrockRegions are the prefixes of Bedrock's cross-region inference profiles
// (us.anthropic.claude-..., global.anthropic.claude-...).
var bedrockRegions = map[string]bool{
	"us": true, "eu": true, "apac": true, "global": true, "jp": true, "au": true, "ca": true,
	"us-gov": true, "uk": true,
}

// bedrockVendors are the model vendors of Bedrock model ids (anthropic.claude-..., amazon.nova-...).
var bedrockVendors = map[string]bool{
	"anthropic": true, "amazon": true, "meta": true, "mistral": true, "cohere": true, "ai21": true,
	"deepseek": true, "openai": true, "qwen": true, "writer": true, "google": true,
}

// candidates returns the names under which a model is looked up, most specific first: the
// name as given (lower case, path prefix removed), then with its dated and version suffixes
// stripped one by one; the same again without a Bedrock region prefix, and again without a
// Bedrock vendor prefix. For "us.anthropic.claude-sonnet-4-5-20250929-v1:0" that is the name,
// "us.anthropic.claude-sonnet-4-5-20250929", "us.anthropic.claude-sonnet-4-5",
// "anthropic.claude-sonnet-4-5-20250929-v1:0", ..., "claude-sonnet-4-5".
func candidates(model string) []string {
	s := strings.ToLower(strings.TrimSpace(model))
	if s == "" || len(s) > maxModelName {
		return nil
	}
	// openai/gpt-4o, models/gemini-2.5-pro, an inference profile ARN.
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		s = s[i+1:]
	}
	if s == "" {
		return nil
	}
	out := make([]string, 0, 8)
	forms := []string{s}
	if i := strings.IndexByte(s, '.'); i > 0 && bedrockRegions[s[:i]] {
		forms = append(forms, s[i+1:])
	}
	last := forms[len(forms)-1]
	if i := strings.IndexByte(last, '.'); i > 0 && bedrockVendors[last[:i]] {
		forms = append(forms, last[i+1:])
	}
	for _, f := range forms {
		out = append(out, f)
		for {
			next, ok := stripSuffix(f)
			if !ok || next == "" {
				break
			}
			out = append(out, next)
			f = next
		}
	}
	return out
}

// stripSuffix removes one dated or version suffix from name: a Bedrock version ("-v2:0",
// "-v1", ":0"), a Vertex date ("@20241022"), an OpenAI date ("-2024-08-06", "-0125"), an
// Anthropic date ("-20250929"), a Gemini version ("-001") or "-latest".
func stripSuffix(name string) (string, bool) {
	if i := strings.LastIndexByte(name, '@'); i > 0 {
		return name[:i], true
	}
	if strings.HasSuffix(name, "-latest") {
		return strings.TrimSuffix(name, "-latest"), true
	}
	// Bedrock: -v1:0, -v2:0, -v1, and a bare :0.
	if i := strings.LastIndexByte(name, ':'); i > 0 && allDigits(name[i+1:]) {
		name2 := name[:i]
		if j := strings.LastIndex(name2, "-v"); j > 0 && allDigits(name2[j+2:]) {
			return name2[:j], true
		}
		return name2, true
	}
	if j := strings.LastIndex(name, "-v"); j > 0 && allDigits(name[j+2:]) {
		return name[:j], true
	}
	// -2024-08-06
	if n := len(name); n > 11 && name[n-11] == '-' && name[n-6] == '-' && name[n-3] == '-' &&
		allDigits(name[n-10:n-6]) && allDigits(name[n-5:n-3]) && allDigits(name[n-2:]) {
		return name[:n-11], true
	}
	// -20250929, -0125, -001
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if d := name[i+1:]; (len(d) == 8 || len(d) == 4 || len(d) == 3) && allDigits(d) {
			return name[:i], true
		}
	}
	return name, false
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
