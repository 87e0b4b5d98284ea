package bedrock

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/aiproxy-go/aiproxy/provider"
)

// SigningName is the service name that Bedrock runtime requests are signed for.
const SigningName = "bedrock"

// clientAuthHeaders carry the client's own signature and credentials; none of them goes
// upstream. The SDK's amz-sdk-* headers stay: the proxy signs them anew.
var clientAuthHeaders = []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-Sha256"}

// stripClientAuth removes the client's signature and credentials from h.
func stripClientAuth(h http.Header) {
	for _, k := range clientAuthHeaders {
		h.Del(k)
	}
}

// signer signs upstream requests with SigV4 and the proxy's credentials.
type signer struct {
	region  string
	profile string
	v4      *v4.Signer
	now     func() time.Time

	mu    sync.Mutex
	creds aws.CredentialsProvider // nil until the default chain is loaded
}

func newSigner(opts Options) (*signer, error) {
	s := &signer{region: opts.Region, profile: opts.Profile, v4: v4.NewSigner(), now: time.Now}
	switch {
	case opts.Credentials != nil:
		s.creds = aws.NewCredentialsCache(opts.Credentials)
	case opts.AccessKeyID != "" || opts.SecretAccessKey != "":
		if opts.AccessKeyID == "" || opts.SecretAccessKey == "" {
			return nil, errors.New("bedrock: set both the aws access key id and the secret access key, or neither")
		}
		s.creds = credentials.NewStaticCredentialsProvider(opts.AccessKeyID, opts.SecretAccessKey, opts.SessionToken)
	}
	if s.region == "" {
		s.region = firstEnv("AWS_REGION", "AWS_DEFAULT_REGION")
	}
	if s.region == "" {
		// The shared config's region (AWS_PROFILE, ~/.aws/config); loading reads files only.
		cfg, err := s.loadConfig(context.Background())
		if err != nil && opts.Profile != "" {
			return nil, fmt.Errorf("bedrock: aws profile %q: %w", opts.Profile, err)
		}
		if err == nil {
			s.region = cfg.Region
			if s.creds == nil && cfg.Credentials != nil {
				s.creds = aws.NewCredentialsCache(cfg.Credentials)
			}
		}
	}
	if s.region == "" {
		return nil, errors.New("bedrock: no aws region: set the region option, AWS_REGION or a region in the aws profile")
	}
	return s, nil
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// loadConfig loads the AWS default configuration: environment, shared config and
// credentials files, the profile.
func (s *signer) loadConfig(ctx context.Context) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if s.region != "" {
		opts = append(opts, config.WithRegion(s.region))
	}
	if s.profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(s.profile))
	}
	return config.LoadDefaultConfig(ctx, opts...)
}

// credentials returns the proxy's credentials, loading the AWS default credential chain at
// the first call. A failed load is tried again at the next request.
func (s *signer) credentials(ctx context.Context) (aws.Credentials, error) {
	s.mu.Lock()
	if s.creds == nil {
		cfg, err := s.loadConfig(ctx)
		if err != nil {
			s.mu.Unlock()
			return aws.Credentials{}, fmt.Errorf("load the aws default config: %w", err)
		}
		if cfg.Credentials == nil {
			s.mu.Unlock()
			return aws.Credentials{}, errors.New("the aws default credential chain found no credentials")
		}
		s.creds = aws.NewCredentialsCache(cfg.Credentials)
	}
	creds := s.creds
	s.mu.Unlock()
	return creds.Retrieve(ctx)
}

// sign signs r, whose body is body, for Bedrock in the signer's region. The path is signed
// as r will send it (URL.EscapedPath), which the signer encodes once more as AWS does for
// every service but S3.
func (s *signer) sign(ctx context.Context, r *http.Request, body []byte) error {
	creds, err := s.credentials(ctx)
	if err != nil {
		return &provider.Error{Status: http.StatusInternalServerError, Type: "InternalServerException",
			Message: "the proxy has no usable aws credentials: " + err.Error(), Err: err}
	}
	sum := sha256.Sum256(body)
	if err := s.v4.SignHTTP(ctx, creds, r, hex.EncodeToString(sum[:]), SigningName, s.region, s.now()); err != nil {
		return fmt.Errorf("bedrock: sign request: %w", err)
	}
	return nil
}
