package fakebedrock

import (
	"io"
	"net/http"
)

// SDKTransport returns next (http.DefaultTransport when nil) made safe for a client of the
// AWS SDK for Go v2 that reads streams from a fast local server such as this fake or a proxy
// in front of it: give it to the SDK as HTTPClient: &http.Client{Transport: SDKTransport(nil)}.
//
// It works around a race between smithy-go (v1.28.9, the version in go.mod) and net/http that
// cuts streamed responses. The SDK closes the request body as soon as http.Client.Do returns,
// which happens when the response headers arrive. net/http may still be writing the request
// then: after the Content-Length bytes it makes one more read of the body, to check that
// nothing follows, and it makes that read through the body's WriteTo when the body has one.
// The SDK's closed body answers WriteTo with io.EOF, which WriteTo must not return, so net/http
// takes the request write as failed and closes the connection while the stream is still being
// read on it. The SDK then reports "use of closed network connection" after however many
// frames had arrived, and a proxy sees its client go away (499). A server that answers within
// microseconds, as on 127.0.0.1, hits the race often. This transport hides the body's WriteTo,
// so net/http makes that last read with Read, whose io.EOF is the normal end of the body.
func SDKTransport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return sdkTransport{next: next}
}

type sdkTransport struct{ next http.RoundTripper }

func (t sdkTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if _, ok := r.Body.(io.WriterTo); ok && r.Body != http.NoBody {
		// A RoundTripper must not change the request it was given: change a copy.
		c := new(http.Request)
		*c = *r
		c.Body = readCloser{r.Body}
		r = c
	}
	return t.next.RoundTrip(r)
}

// readCloser is a body with only Read and Close.
type readCloser struct{ io.ReadCloser }
