package fakebedrock

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/aiproxy-go/aiproxy/internal/fakefault"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// ContentTypeEventStream is the content type of Bedrock's streamed responses.
const ContentTypeEventStream = "application/vnd.amazon.eventstream"

// errStop ends a stream early: the client went away, or the stream ended with an exception.
var errStop = errors.New("stream stopped")

// frameWriter sends the frames of an event stream one at a time, each flushed once written,
// with the delays, cut and exception that the request asks for.
type frameWriter struct {
	*fakefault.Stream
	x    *exchange
	enc  *eventstream.Encoder
	buf  bytes.Buffer
	done bool // an exception ended the stream
	cut  bool // the connection is being aborted
}

// startStream sends the headers of an event stream.
func (x *exchange) startStream(extra map[string]string) *frameWriter {
	h := x.w.Header()
	h.Set("Content-Type", ContentTypeEventStream)
	h.Set("X-Amzn-Requestid", newRequestID())
	for k, v := range extra {
		h.Set(k, v)
	}
	return &frameWriter{Stream: x.f.StartStream(x.r.Context(), x.w), x: x, enc: eventstream.NewEncoder()}
}

// event sends one event frame whose payload is v marshalled to JSON. When the request asked
// for an exception at this point it sends the exception instead and returns errStop.
func (s *frameWriter) event(eventType string, v any) error {
	if s.done {
		return errStop
	}
	if s.x.f.exception != "" && s.Sent() == s.x.f.exceptionAfter {
		return s.exception()
	}
	payload, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var msg eventstream.Message
	msg.Headers.Set(":event-type", eventstream.StringValue(eventType))
	msg.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	msg.Headers.Set(":message-type", eventstream.StringValue("event"))
	msg.Payload = payload
	return s.send(msg, true)
}

// finish ends the stream; an exception asked for after more frames than the stream has is
// sent last. With x-fake-end-delay the last frame is flushed and the end of the body waits.
func (s *frameWriter) finish() {
	if s.cut {
		return
	}
	if s.x.f.exception != "" && !s.done {
		_ = s.exception()
	}
	if s.x.f.endDelay > 0 {
		s.Flush()
		fakefault.Sleep(s.x.r.Context(), s.x.f.endDelay)
	}
}

// exception sends the exception frame that x-fake-stream-exception names.
func (s *frameWriter) exception() error {
	typ := s.x.f.exception
	body := map[string]any{"message": exceptionMessage(typ)}
	if typ == "modelStreamErrorException" {
		body["originalStatusCode"] = 400
		body["originalMessage"] = "The model stream was interrupted."
	}
	payload, _ := json.Marshal(body)
	var msg eventstream.Message
	msg.Headers.Set(":exception-type", eventstream.StringValue(typ))
	msg.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	msg.Headers.Set(":message-type", eventstream.StringValue("exception"))
	msg.Payload = payload
	// Nothing follows an exception: the frame goes out with the end of the body.
	err := s.send(msg, false)
	s.done = true
	if err != nil {
		return err
	}
	return errStop
}

func exceptionMessage(typ string) string {
	switch typ {
	case "throttlingException":
		return "Too many tokens, please wait before trying again."
	case "modelStreamErrorException":
		return "The model stream was interrupted."
	case "serviceUnavailableException":
		return "Bedrock is unable to process your request."
	case "validationException":
		return "Input is too long for requested model."
	case "modelTimeoutException":
		return "Model has timed out in processing the request. Try your request again."
	}
	return "The system encountered an unexpected error during processing. Try your request again."
}

// send encodes and writes one frame, flushed when flush is set, aborting the connection
// instead when x-fake-cut-after frames were sent.
func (s *frameWriter) send(msg eventstream.Message, flush bool) error {
	s.buf.Reset()
	if err := s.enc.Encode(&s.buf, msg); err != nil {
		return err
	}
	// finish, deferred, must not write after the abort.
	s.cut = s.Sent() == s.x.f.CutAfter
	send := s.Send
	if !flush {
		send = s.SendBuffered
	}
	if send(s.buf.Bytes()) != nil {
		return errStop
	}
	return nil
}

// writeJSON answers a complete JSON body, cut after x-fake-cut-after bytes when asked.
func (x *exchange) writeJSON(body []byte, extra map[string]string) {
	h := x.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-Requestid", newRequestID())
	for k, v := range extra {
		h.Set(k, v)
	}
	if !x.f.Cuts(len(body)) {
		// A body cut short goes without its length, chunked.
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	x.w.WriteHeader(http.StatusOK)
	x.f.WriteBody(x.w, body)
}
