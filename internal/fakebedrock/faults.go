package fakebedrock

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/aiproxy-go/aiproxy/internal/fakefault"
)

// The request headers that shape the fake's reply. A proxy forwards headers it does not
// know, so a test sets them on the SDK's request.
const (
	// HeaderStatus makes the fake answer this status (400 to 599) with the AWS error of
	// that status (429 ThrottlingException, 503 ServiceUnavailableException, ...).
	HeaderStatus = fakefault.HeaderStatus
	// HeaderDelay is a wait before the reply, as a Go duration or milliseconds.
	HeaderDelay = fakefault.HeaderDelay
	// HeaderChunkDelay is a wait between two frames of a stream.
	HeaderChunkDelay = fakefault.HeaderChunkDelay
	// HeaderEndDelay is a wait between the last frame of a stream, flushed, and the end of
	// the body. Without it an exception frame goes out together with the end of the body
	// (the last event frame is flushed on its own, as every event frame is).
	HeaderEndDelay = "X-Fake-End-Delay"
	// HeaderCutAfter makes the fake send N frames of a stream (N bytes of a body) and then
	// abort the connection.
	HeaderCutAfter = fakefault.HeaderCutAfter
	// HeaderChunks is the number of text deltas of a stream (5 when absent); tool inputs
	// are cut into as many fragments.
	HeaderChunks = fakefault.HeaderChunks
	// HeaderToolCalls makes the assistant call this many tools, the request's tools in
	// turn. Without it, a request with tools whose last user text contains "use tools"
	// gets one call per tool.
	HeaderToolCalls = fakefault.HeaderToolCalls
	// HeaderStreamException makes a stream end, after HeaderExceptionAfter frames, with an
	// exception frame of this type: throttlingException, modelStreamErrorException,
	// internalServerException, serviceUnavailableException, validationException or
	// modelTimeoutException. The frame and the end of the body go out together unless
	// HeaderEndDelay separates them.
	HeaderStreamException = "X-Fake-Stream-Exception"
	// HeaderExceptionAfter is how many frames come before the exception frame (2 when
	// absent: the message start and the first delta).
	HeaderExceptionAfter = "X-Fake-Exception-After"
	// HeaderCachedTokens sets the tokens read from the prompt cache.
	HeaderCachedTokens = fakefault.HeaderCachedTokens
	// HeaderReply replaces the text of the reply.
	HeaderReply = fakefault.HeaderReply
)

// faults is what the x-fake-* headers of one request ask for.
type faults struct {
	fakefault.Faults
	endDelay       time.Duration
	exception      string
	exceptionAfter int
	cachedTokens   int
}

// streamExceptions are the exception frames of the two stream operations, with the HTTP
// status that the same error has outside a stream.
var streamExceptions = map[string]int{
	"throttlingException":         http.StatusTooManyRequests,
	"modelStreamErrorException":   http.StatusFailedDependency,
	"internalServerException":     http.StatusInternalServerError,
	"serviceUnavailableException": http.StatusServiceUnavailable,
	"validationException":         http.StatusBadRequest,
	"modelTimeoutException":       http.StatusRequestTimeout,
}

// parse reads the x-fake-* headers; a value that cannot be read is an error.
func (f *faults) parse(h http.Header) error {
	*f = faults{Faults: fakefault.New(5), exceptionAfter: 2}
	p := fakefault.NewParser(h)
	f.Read(p)
	p.Int(HeaderExceptionAfter, &f.exceptionAfter, 0)
	p.Int(HeaderCachedTokens, &f.cachedTokens, 0)
	p.Duration(HeaderEndDelay, &f.endDelay)
	if err := p.Err(); err != nil {
		return err
	}
	if v, ok := p.String(HeaderStreamException); ok {
		if _, known := streamExceptions[v]; !known {
			return fmt.Errorf("bad x-fake-stream-exception header %q", v)
		}
		f.exception = v
	}
	if f.Status != 0 && (f.Status < 400 || f.Status > 599) {
		// Unlike the other fakes, this one takes no 200 for "no fault".
		return fmt.Errorf("bad x-fake-status header %d: want 400 to 599", f.Status)
	}
	return nil
}

// errorFor is the AWS error type and message that Bedrock answers with a status.
func errorFor(status int) (typ, message string) {
	switch status {
	case http.StatusBadRequest:
		return "ValidationException", "Malformed input request, please reformat your input and try again."
	case http.StatusForbidden:
		return "AccessDeniedException", "You don't have access to the model with the specified model ID."
	case http.StatusNotFound:
		return "ResourceNotFoundException", "Could not resolve the foundation model from the provided model identifier."
	case http.StatusRequestTimeout:
		return "ModelTimeoutException", "Model has timed out in processing the request. Try your request again."
	case http.StatusFailedDependency:
		return "ModelErrorException", "The model returned an error."
	case http.StatusTooManyRequests:
		return "ThrottlingException", "Too many requests, please wait before trying again."
	case http.StatusInternalServerError:
		return "InternalServerException", "The system encountered an unexpected error during processing. Try your request again."
	case http.StatusServiceUnavailable:
		return "ServiceUnavailableException", "Bedrock is unable to process your request."
	}
	if status >= 500 {
		return "InternalServerException", http.StatusText(status) + " (injected by x-fake-status)."
	}
	return "ValidationException", http.StatusText(status) + " (injected by x-fake-status)."
}

// writeStatusError answers an injected status with Bedrock's error for it.
func (x *exchange) writeStatusError(status int) {
	typ, msg := errorFor(status)
	x.writeError(status, typ, msg)
}

// writeError answers an AWS error: the type in x-amzn-errortype, with the service's
// namespace, and {"message":...} as the body (UnknownOperationException has none).
func (x *exchange) writeError(status int, typ, message string) {
	h := x.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-Requestid", newRequestID())
	h.Set("X-Amzn-Errortype", typ+":http://internal.amazon.com/coral/com.amazon.bedrock/")
	var body []byte
	if typ == "UnknownOperationException" {
		body = []byte("{}")
	} else {
		body, _ = json.Marshal(map[string]string{"message": message})
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	x.w.WriteHeader(status)
	_, _ = x.w.Write(body)
}
