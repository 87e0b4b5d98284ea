package fakebedrock_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/aiproxy-go/aiproxy/internal/fakebedrock"
)

// raceTimeout bounds every wait of TestSDKTransport.
const raceTimeout = 5 * time.Second

// TestSDKTransport forces the interleaving that SDKTransport is for, so that it happens on
// every run: the connection holds net/http's write of the request body until the SDK has
// closed the body (Do returned on the response headers), and the first read of the stream
// after that until net/http is done with the request. Alone, the SDK loses the rest of the
// stream; through SDKTransport it gets all of it.
func TestSDKTransport(t *testing.T) {
	for _, fixed := range []bool{false, true} {
		name := "sdk alone"
		if fixed {
			name = "through SDKTransport"
		}
		t.Run(name, func(t *testing.T) {
			_, url := start(t)
			body := []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":100,"messages":[{"role":"user","content":"race"}]}`)
			rc := &raceClient{body: body, sdkClosed: make(chan struct{}), netClosed: make(chan struct{}), connClosed: make(chan struct{})}
			tr := &http.Transport{DialContext: rc.dial}
			t.Cleanup(tr.CloseIdleConnections)
			var rt http.RoundTripper = tr
			if fixed {
				rt = fakebedrock.SDKTransport(rt)
			}
			rc.client = &http.Client{Transport: rt}
			sdk := bedrockruntime.New(bedrockruntime.Options{Region: "us-east-1", BaseEndpoint: aws.String(url),
				Credentials: credentials.NewStaticCredentialsProvider(keyID, secret, ""), Retryer: aws.NopRetryer{},
				HTTPClient: rc})
			// Frames 50ms apart: the first read after the request's outcome finds at most the
			// first frame already there.
			out, err := sdk.InvokeModelWithResponseStream(context.Background(), &bedrockruntime.InvokeModelWithResponseStreamInput{
				ModelId: aws.String(model), Body: body, ContentType: aws.String("application/json")},
				withHeader("x-fake-chunk-delay", "50ms"))
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for range out.GetStream().Events() {
				n++
			}
			streamErr := out.GetStream().Err()
			if msg := rc.failure(); msg != "" {
				t.Fatal(msg)
			}
			// message_start, content_block_start, 5 deltas, content_block_stop, message_delta,
			// message_stop
			const all = 10
			if fixed {
				if streamErr != nil || n != all {
					t.Fatalf("through SDKTransport the client got %d of %d events, then %v", n, all, streamErr)
				}
				return
			}
			if streamErr == nil || !strings.Contains(streamErr.Error(), "use of closed network connection") || n == all {
				t.Fatalf("alone the SDK got %d of %d events, then %v; want it cut by its own transport "+
					"(if smithy-go no longer closes the request body before net/http is done with it, "+
					"SDKTransport can go)", n, all, streamErr)
			}
		})
	}
}

// raceClient is the SDK's HTTP client in TestSDKTransport.
type raceClient struct {
	client *http.Client
	body   []byte // the request body

	sdkClosed  chan struct{} // closed when the SDK closes the request body
	netClosed  chan struct{} // closed when net/http closes the request body, done with it
	connClosed chan struct{} // closed when net/http closes the connection

	once       sync.Once
	sdkOnce    sync.Once
	netOnce    sync.Once
	mu         sync.Mutex
	closes     int
	fail       string
	waitedRead bool
}

// Do gives the SDK's own request a body that reports its closes; the SDK closes the body of
// the request it passed to Do once Do returns.
func (c *raceClient) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		r.Body = closeReporter(r.Body, c.closed)
	}
	return c.client.Do(r)
}

// closed counts a close of the request body: the SDK's first, net/http's after.
func (c *raceClient) closed() {
	c.mu.Lock()
	c.closes++
	n := c.closes
	c.mu.Unlock()
	if n == 1 {
		c.sdkOnce.Do(func() { close(c.sdkClosed) })
	} else {
		c.netOnce.Do(func() { close(c.netClosed) })
	}
}

func (c *raceClient) failure() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fail
}

func (c *raceClient) setFailure(msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail == "" {
		c.fail = msg
	}
}

func (c *raceClient) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &raceConn{Conn: conn, c: c}, nil
}

// raceConn is the SDK's connection to the fake.
type raceConn struct {
	net.Conn
	c *raceClient
}

// Write holds the write that ends the request body until the SDK closed the body.
func (rc *raceConn) Write(p []byte) (int, error) {
	n, err := rc.Conn.Write(p)
	if err == nil && bytes.HasSuffix(p, rc.c.body) {
		select {
		case <-rc.c.sdkClosed:
		case <-time.After(raceTimeout):
			rc.c.setFailure("the SDK did not close the request body once the response came")
		}
	}
	return n, err
}

// Read holds the stream's first read after the SDK closed the request body until net/http is
// done with the request: until it closed the connection, or (through SDKTransport, which
// keeps it open) the body.
func (rc *raceConn) Read(p []byte) (int, error) {
	c := rc.c
	select {
	case <-c.sdkClosed:
		c.mu.Lock()
		first := !c.waitedRead
		c.waitedRead = true
		c.mu.Unlock()
		if first {
			select {
			case <-c.connClosed:
			case <-c.netClosed:
				// The request write is over; a failed one closes the connection next.
			case <-time.After(raceTimeout):
				c.setFailure("net/http neither closed the request body nor the connection")
			}
		}
	default:
	}
	return rc.Conn.Read(p)
}

func (rc *raceConn) Close() error {
	rc.c.once.Do(func() { close(rc.c.connClosed) })
	return rc.Conn.Close()
}

// closeReporter wraps a request body, keeping its WriteTo when it has one, and calls closed on
// every Close.
func closeReporter(body io.ReadCloser, closed func()) io.ReadCloser {
	r := &reportingBody{ReadCloser: body, closed: closed}
	if _, ok := body.(io.WriterTo); ok {
		return reportingWriterTo{r}
	}
	return r
}

type reportingBody struct {
	io.ReadCloser
	closed func()
}

func (b *reportingBody) Close() error {
	b.closed()
	return b.ReadCloser.Close()
}

type reportingWriterTo struct{ *reportingBody }

func (b reportingWriterTo) WriteTo(w io.Writer) (int64, error) {
	return b.ReadCloser.(io.WriterTo).WriteTo(w)
}
